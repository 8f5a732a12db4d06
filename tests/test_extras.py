"""Lean installs: the core trains, samples and evaluates without any extra; each optional
part, run without its extra, stops with one line naming ``pip install 'genlab[EXTRA]'``.

A missing package is made missing for real in a child process (its entry in
``sys.modules`` is None, so `import` raises ImportError, as on a core install).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genlab.extras import EXTRAS

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = {"python_multipart": "python-multipart"}
ALL_OPTIONAL = [m for modules in EXTRAS.values() for m in modules]


def run_without(modules: list[str], argv: list[str]) -> subprocess.CompletedProcess:
    code = (f"import sys\nfor m in {modules!r}: sys.modules[m] = None\n"
            f"from genlab.cli import main\nsys.exit(main({argv!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def test_pyproject_declares_each_extra_and_a_lean_core():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    extras = project["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        for module in modules:
            dist = DISTRIBUTIONS.get(module, module)
            assert dist not in core, f"{dist} is in the core install"
            assert any(req.startswith(dist + ">=") for req in extras[extra]), f"{dist} missing from [{extra}]"
    assert extras["all"] == [f"genlab[{','.join(EXTRAS)}]"]
    assert "genlab[all]" in extras["test"]


def test_core_commands_run_without_any_extra_and_each_extra_is_named(tmp_path):
    run = tmp_path / "run"
    train = ["train", "vae", "--data", "digits", "--steps", "2", "--batch-size", "16", "--architecture", "mlp",
             "--hidden", "16", "--sample-every", "0", "--no-progress", "--out", str(run)]
    proc = run_without(ALL_OPTIONAL, train)
    assert proc.returncode == 0, proc.stderr
    proc = run_without(ALL_OPTIONAL, ["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")])
    assert proc.returncode == 0 and (tmp_path / "s.png").is_file(), proc.stderr
    cases = [
        (["serve", str(run), "--port", "0"], "genlab serve", "serve"),
        (["export", str(run), "--out", str(tmp_path / "m.onnx")], "genlab export --format onnx", "export"),
        (train[:-1] + [str(tmp_path / "w"), "--logger", "wandb"], "--logger wandb", "wandb"),
        (["train", "rgan", "--data", f"midi:{tmp_path / 'song.mid'}", "--out", str(tmp_path / "m")],
         "reading and writing MIDI", "music"),
    ]
    (tmp_path / "song.mid").write_bytes(b"MThd")
    for argv, feature, extra in cases:
        proc = run_without(ALL_OPTIONAL, argv)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith(f"genlab: error: {feature} needs ")
        assert lines[0].endswith(f"pip install 'genlab[{extra}]'")
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "w").exists()
    # a pretrained folder needs nothing optional
    proc = run_without(ALL_OPTIONAL, ["export", str(run), "--format", "pretrained", "--out", str(tmp_path / "p")])
    assert proc.returncode == 0 and (tmp_path / "p" / "README.md").is_file(), proc.stderr
