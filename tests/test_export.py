"""ONNX export: onnxruntime must reproduce PyTorch to 1e-4 for every family that samples
images or sequences, with PyTorch's dynamo-based exporter and without a warning.

Families are found in the registry when the tests are collected, so a new
image family is covered without editing this file. Each is built from its
default config on a small data description, with narrow networks where the
config has width/hidden options.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import genlab
from genlab.errors import GenlabError
from genlab.export import TOLERANCE, export_module, export_onnx
from genlab.registry import FAMILIES

from .family_checks import train_small

IMAGE_KINDS = ("image", "paired-image", "unpaired-image")


def image_families() -> list[str]:
    genlab.families()
    return [name for name in FAMILIES.names() if any(k in IMAGE_KINDS for k in FAMILIES.get(name).data_kinds)]


def small_config(cls):
    """The family's default config with narrow networks."""
    changes = {}
    for f in dataclasses.fields(cls.Config):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        name = f.name.lower()
        if isinstance(default, bool) or default is None:
            continue
        if "width" in name and isinstance(default, int):
            changes[f.name] = 8
        elif "hidden" in name and isinstance(default, int):
            changes[f.name] = 32
        elif "hidden" in name and isinstance(default, list) and all(isinstance(v, int) for v in default):
            changes[f.name] = [32] * len(default)
    return cls.Config(**changes)


def build_tiny(name: str):
    cls = FAMILIES.get(name)
    kind = next(k for k in cls.data_kinds if k in IMAGE_KINDS)
    info = {"kind": kind, "shape": [1, 28, 28], "num_classes": 10, "name": "tiny",
            "class_names": [f"c{i}" for i in range(10)]}
    torch.manual_seed(0)
    model = cls(small_config(cls), info)
    # move BatchNorm statistics off their initial values so eval mode is really exercised
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("family", image_families())
def test_onnx_matches_pytorch(family, tmp_path):
    import onnxruntime as ort

    try:
        model = build_tiny(family)
    except GenlabError as exc:
        pytest.skip(f"{family} cannot be built on a tiny 28x28 image description: {exc}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = export_onnx(model, tmp_path / f"{family}.onnx")
    assert [str(w.message) for w in caught] == []  # nothing to silence, nothing silenced
    assert info["max_abs_diff"] <= TOLERANCE
    assert_dynamo_export(tmp_path / f"{family}.onnx", info["inputs"])
    assert info["output_shape"][0] == 5 and info["output_shape"][1:] == [1, 28, 28]
    # independent check on yet another batch size, images in [0, 1]
    module, inputs, names = export_module(model, n=3, seed=7)
    session = ort.InferenceSession(str(tmp_path / f"{family}.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]
    with torch.no_grad():
        want = module.eval()(*inputs).numpy()
    assert got.shape == want.shape == (3, 1, 28, 28)
    assert np.abs(got - want).max() <= TOLERANCE
    assert got.min() >= 0 and got.max() <= 1 and got.std() > 0
    if model.conditional and "labels" in names:
        # the labels input is live: other classes give other images
        other = session.run(None, {n: ((t + 1) % 10).numpy() if n == "labels" else t.numpy()
                                   for n, t in zip(names, inputs)})[0]
        assert np.abs(other - got).max() > 1e-4


def assert_dynamo_export(path, inputs):
    """Written by the dynamo-based exporter (its node metadata), every input with the named batch axis."""
    import onnx

    graph = onnx.load(str(path)).graph
    assert any(p.key == "pkg.torch.onnx.class_hierarchy" for node in graph.node for p in node.metadata_props)
    assert [i.name for i in graph.input] == inputs
    assert all(i.type.tensor_type.shape.dim[0].dim_param == "batch" for i in list(graph.input) + list(graph.output))


SEQUENCE_CASES = [("rgan", "sines", {"hidden": 16, "d_hidden": 16}), ("seqvae", "sines", {"hidden": 16}),
                  ("seqvae", "words", {"hidden": 16, "embed_dim": 8, "latent_dim": 4}),
                  ("rgan", "chorales", {"hidden": 16, "d_hidden": 16}), ("seqvae", "chorales", {"hidden": 16})]


@pytest.mark.parametrize("family,data,options", SEQUENCE_CASES, ids=[f"{f}-{d}" for f, d, _ in SEQUENCE_CASES])
def test_onnx_sequence_families_match_pytorch(family, data, options, tmp_path):
    import onnxruntime as ort

    from genlab.data import load_dataset

    if data == "chorales":
        pytest.importorskip("music21")
    info = load_dataset(data, **({"seq_len": 8} if data in ("sines", "chorales") else {"max_len": 6})).info
    cls = FAMILIES.get(family)
    torch.manual_seed(0)
    model = cls(cls.Config(**options), info).eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = export_onnx(model, tmp_path / "seq.onnx")
    assert [str(w.message) for w in caught] == []
    assert result["max_abs_diff"] <= TOLERANCE
    assert_dynamo_export(tmp_path / "seq.onnx", result["inputs"])
    session = ort.InferenceSession(str(tmp_path / "seq.onnx"), providers=["CPUExecutionProvider"])
    module, inputs, names = export_module(model, n=4, seed=3)
    got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})[0]
    if data == "sines":  # the graph samples what model.sample gives, in the data's units
        assert result["output"] == "sequences" and names == ["z"]
        want = model.sample(4, z=inputs[0])["sequences"].numpy()
        assert got.shape == want.shape == (4, 8, 5) and np.abs(got - want).max() <= TOLERANCE
    elif data == "chorales":  # pitch classes as one-hots (seqvae: drawn with noise u, as sample draws them)
        assert names == (["z"] if family == "rgan" else ["z", "u"])
        with torch.no_grad():
            want = module(*inputs).numpy()
        assert got.shape == want.shape == (4, 8, 16) and np.abs(got - want).max() <= TOLERANCE
        np.testing.assert_array_equal(got[..., 4:].sum(-1), 1.0)
        if family == "rgan":
            assert np.abs(got - model.sample(4, z=inputs[0])["sequences"].numpy()).max() <= TOLERANCE
    else:  # characters from z and uniform noise u, the same in PyTorch and onnxruntime
        assert result["output"] == "tokens" and names == ["z", "u"]
        with torch.no_grad():
            want = module(*inputs).numpy()
        assert got.dtype == np.int64 and np.array_equal(got, want)
        words = model.decode_text(torch.from_numpy(got))
        assert len(words) == 4 and all(w and w.isalpha() for w in words)


def test_export_cli_on_a_trained_run(tmp_path, fashion_dir):
    run = tmp_path / "dcgan"
    train_small("dcgan", run, steps=2, g_width=8, d_width=8)
    out = tmp_path / "gen.onnx"
    proc = subprocess.run([sys.executable, "-m", "genlab", "export", str(run), "--format", "onnx",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 1000
    assert "max abs diff" in proc.stdout and "z (5, 100)" in proc.stdout
    # the exported graph samples what genlab.load(...).sample gives for the same z
    import onnxruntime as ort

    model = genlab.load(run)
    z = model.latent(4, model.make_generator(11))
    want = model.sample(4, z=z)["images"].numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"z": z.numpy()})[0]
    assert np.abs(got - want).max() <= TOLERANCE


def test_export_refuses_bad_paths(tmp_path):
    model = build_tiny("dcgan")
    with pytest.raises(GenlabError, match="should end in .onnx"):
        export_onnx(model, tmp_path / "model.pt")


def test_export_without_its_extra_is_one_line(tmp_path, fashion_dir):
    run = tmp_path / "dcgan"
    train_small("dcgan", run, steps=1, g_width=8, d_width=8)
    code = ("import sys; sys.modules['onnxscript'] = None; from genlab.cli import main; "
            f"sys.exit(main(['export', {str(run)!r}, '--out', {str(tmp_path / 'g.onnx')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and not (tmp_path / "g.onnx").exists()
    assert proc.stderr.strip().splitlines() == [
        "genlab: error: genlab export --format onnx needs onnxscript, which the core install leaves out; "
        "pip install 'genlab[export]'"]
