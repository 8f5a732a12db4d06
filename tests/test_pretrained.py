"""Pretrained folders: model cards (front matter parsed with a YAML parser) and generator-only weights.

A real run is trained, evaluated with `genlab eval` and exported with
`genlab export --format pretrained`; the card's front matter is read back
with PyYAML and compared with the run's evaluation. Generator-only folders are
checked for every family: fewer tensors, loadable by `genlab.load` and
`from_pretrained`, and the same samples (or translations) as the full model.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.evaluation import evaluate_run
from genlab.models.sampling_state import _exercise
from genlab.registry import FAMILIES

from .conftest import require_fashion
from .family_checks import train_small
from .test_export import build_tiny, image_families, small_config


def front_matter(path):
    text = path.read_text()
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    require_fashion()
    run = tmp_path_factory.mktemp("card") / "dcgan"
    train_small("dcgan", run, steps=4, g_width=8, d_width=8, ema=0.9, log_every=2, eval_every=2, eval_n=100)
    row = evaluate_run(run, n=64, reference="fashion-mnist:test", metrics=["fid", "kid"])
    return run, row


def test_export_pretrained_writes_a_model_card_with_the_runs_evaluation(evaluated_run, tmp_path):
    run, row = evaluated_run
    out = tmp_path / "shared"
    proc = subprocess.run([sys.executable, "-m", "genlab", "export", str(run), "--format", "pretrained",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    head, body = front_matter(out / "README.md")
    assert head["library_name"] == "genlab" and head["family"] == "dcgan"
    assert head["dataset"] == "fashion-mnist" and head["datasets"] == ["fashion-mnist"]
    assert head["weights"] == "full" and head["pipeline_tag"] == "unconditional-image-generation"
    metrics = {m["name"]: m for m in head["metrics"]}
    assert metrics["fid"]["value"] == pytest.approx(row["metrics"]["fid"])
    assert metrics["kid"]["value"] == pytest.approx(row["metrics"]["kid"])
    assert metrics["fid"]["n"] == 64 and metrics["fid"]["reference"] == row["reference"]
    command = head["command"]
    assert command.startswith("genlab train dcgan --data fashion-mnist") and "--g-width 8" in command
    assert "--steps 4" in command and "--ema 0.9" in command and command in body
    assert "![samples](samples.png)" in body
    assert (out / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the folder loads and samples what the run samples
    want = genlab.load(run).sample(4, seed=5)["images"]
    assert torch.equal(genlab.load(out).sample(4, seed=5)["images"], want)
    # checkpoints stay cards-free; the best/ folder of --eval-every has a card with the periodic metric
    assert not any((p / "README.md").exists() for p in (run / "checkpoints").iterdir())
    best_head, _ = front_matter(run / "best" / "README.md")
    assert best_head["metrics"][0]["name"] == "fid" and best_head["metrics"][0]["n"] == 100


def test_generator_only_keeps_the_ema_generator_and_nothing_else(evaluated_run, tmp_path):
    run, _ = evaluated_run
    full, slim = tmp_path / "full", tmp_path / "slim"
    assert main(["export", str(run), "--format", "pretrained", "--out", str(full)]) == 0
    assert main(["export", str(run), "--format", "pretrained", "--out", str(slim), "--generator-only"]) == 0
    full_keys = set(load_file(str(full / "model.safetensors")))
    slim_keys = set(load_file(str(slim / "model.safetensors")))
    assert any(k.startswith("discriminator.") for k in full_keys) and any(k.startswith("generator.") for k in full_keys)
    assert slim_keys and all(k.startswith("generator_ema.") for k in slim_keys)
    assert slim_keys == {k for k in full_keys if k.startswith("generator_ema.")}
    assert json.loads((slim / "config.json").read_text())["weights"] == "generator-only"
    assert front_matter(slim / "README.md")[0]["weights"] == "generator-only"
    assert (slim / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    model = type(genlab.load(run)).from_pretrained(slim)
    assert torch.equal(model.sample(6, seed=1)["images"], genlab.load(full).sample(6, seed=1)["images"])
    with pytest.raises(GenlabError, match="generator-only"):  # what was left out refuses to run
        model.discriminate(model.sample(2, seed=0)["images"] * 2 - 1)


def test_a_generator_only_vae_refuses_to_encode_in_one_line(tmp_path, capsys):
    info = {"kind": "image", "shape": [1, 28, 28], "num_classes": 0, "dataset": "fashion-mnist"}
    cls = FAMILIES.get("vae")
    vae = cls(small_config(cls), info).eval()
    vae.save_pretrained(tmp_path / "slim", generator_only=True)
    keys = set(load_file(str(tmp_path / "slim" / "model.safetensors")))
    assert keys and not any("encoder" in k for k in keys)
    assert main(["explore", "reconstruct", str(tmp_path / "slim"), "--out", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "generator-only" in err[0] and not (tmp_path / "r.png").exists()


def _sequence_models():
    genlab.families()
    sines = load_dataset("sines", seq_len=8).info
    words = load_dataset("words", max_len=6).info
    return [("rgan", FAMILIES.get("rgan")(FAMILIES.get("rgan").Config(hidden=16, d_hidden=16), sines)),
            ("seqvae", FAMILIES.get("seqvae")(FAMILIES.get("seqvae").Config(hidden=16), sines)),
            ("seqvae-words", FAMILIES.get("seqvae")(FAMILIES.get("seqvae").Config(hidden=16, embed_dim=8), words))]


@pytest.mark.parametrize("family", image_families() + ["rgan", "seqvae", "seqvae-words"])
def test_every_family_saves_generator_only_and_samples_the_same(family, tmp_path):
    model = dict(_sequence_models())[family] if family in ("rgan", "seqvae", "seqvae-words") else build_tiny(family)
    model.eval()
    model.save_pretrained(tmp_path / "full")
    model.save_pretrained(tmp_path / "slim", generator_only=True)
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    slim = load_file(str(tmp_path / "slim" / "model.safetensors"))
    assert set(slim) < set(full)  # something the sampler does not need was left out
    assert all(torch.equal(slim[k], full[k]) for k in slim)
    again = genlab.load(tmp_path / "slim")
    for want, got in zip(_exercise(model), _exercise(again)):
        assert torch.equal(want, got)
    head, _ = front_matter(tmp_path / "slim" / "README.md")
    assert head["family"] == model.family and head["weights"] == "generator-only"


def test_export_pretrained_refuses_a_folder_with_files(evaluated_run, tmp_path, capsys):
    run, _ = evaluated_run
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(run), "--format", "pretrained", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an empty folder" in err[0]
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
