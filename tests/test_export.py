"""ONNX export: onnxruntime must reproduce PyTorch to 1e-4 for every image family.

Families are found in the registry when the tests are collected, so a new
image family is covered without editing this file. Each is built from its
default config on a small data description, with narrow networks where the
config has width/hidden options.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

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
    info = export_onnx(model, tmp_path / f"{family}.onnx")
    assert info["max_abs_diff"] <= TOLERANCE
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


def test_export_refuses_sequence_models_and_bad_paths(tmp_path):
    genlab.families()
    seq = [n for n in FAMILIES.names() if "sequence" in FAMILIES.get(n).data_kinds
           and not hasattr(FAMILIES.get(n), "export_module")]
    model = build_tiny("dcgan")
    with pytest.raises(GenlabError, match="should end in .onnx"):
        export_onnx(model, tmp_path / "model.pt")
    if not seq:
        pytest.skip("no sequence family registered")
    from genlab.data import load_dataset

    cls = FAMILIES.get(seq[0])
    seq_model = cls(small_config(cls), load_dataset("sines").info)
    with pytest.raises(GenlabError, match="ONNX export covers image families"):
        export_onnx(seq_model, tmp_path / "seq.onnx")
