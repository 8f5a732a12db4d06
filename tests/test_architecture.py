"""The architecture's promises, checked on real models: capabilities are
protocols (the web page decodes seqvae text through `decode_text`, converts an
upload per translation direction), and a failed call leaves a model's mode as
it was (`evaluating`, `frozen`)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.capabilities import CodedLatents, LatentModel, TextDecoder, Translator
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.modes import evaluating, frozen
from genlab.registry import FAMILIES
from genlab.serve import ModelSession


def decode_png(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def tiny(family: str, info: dict) -> torch.nn.Module:
    genlab.families()
    cls = FAMILIES.get(family)
    fields = {k: 8 for k in ("width", "g_width", "d_width") if k in cls.Config.__dataclass_fields__}
    torch.manual_seed(0)
    return cls(cls.Config(**fields), info)


IMAGE = {"kind": "image", "shape": [1, 28, 28], "num_classes": 10, "name": "test"}


# -- capabilities ------------------------------------------------------------------------------
def test_capabilities_are_protocols_the_families_meet():
    infogan, vae = tiny("infogan", {**IMAGE, "num_classes": 0}), tiny("vae", {**IMAGE, "num_classes": 0})
    assert isinstance(infogan, CodedLatents) and not isinstance(vae, CodedLatents)
    assert isinstance(vae, LatentModel) and not isinstance(vae, Translator) and not isinstance(vae, TextDecoder)
    cyc = tiny("cyclegan", {"kind": "unpaired-image", "shape": [1, 28, 28]})
    assert isinstance(cyc, Translator) and list(cyc.directions) == ["AtoB", "BtoA"]


def test_serve_decodes_seqvae_text_through_decode_text(words):
    data = load_dataset("words")
    model = tiny("seqvae", data.info).eval()
    assert isinstance(model, TextDecoder)
    session = ModelSession(model, "test")
    out = session.generate(seed=0, n=5)
    z = model.latent(5, model.make_generator(0))
    expected = model.decode_text(model.sample(5, seed=0, z=z)["tokens"])
    assert out["text"] == expected and len(expected) == 5


def test_serve_converts_uploads_per_direction():
    """A colour-A / grey-B CycleGAN: an AtoB upload keeps its colour, a BtoA upload is grey."""
    info = {"kind": "unpaired-image", "shape": [1, 28, 28], "shape_a": [3, 28, 28], "shape_b": [1, 28, 28]}
    session = ModelSession(tiny("cyclegan", info).eval(), "test")
    buf = io.BytesIO()
    rgb = np.zeros((40, 50, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red: its grey version has no red
    Image.fromarray(rgb).save(buf, "PNG")
    a_to_b = session.translate(buf.getvalue(), "AtoB")
    shown = decode_png(a_to_b["input"])
    assert shown.shape == (28, 28, 3) and shown[..., 0].min() == 255 and shown[..., 1].max() == 0
    assert decode_png(a_to_b["image"]).shape == (28, 28)  # domain B is grey
    b_to_a = session.translate(buf.getvalue(), "BtoA")
    assert decode_png(b_to_a["input"]).shape == (28, 28)
    assert decode_png(b_to_a["image"]).shape == (28, 28, 3)


# -- modes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["cvae", "cgan"])
def test_bad_class_label_leaves_the_model_in_its_previous_mode(family):
    model = tiny(family, IMAGE)
    for mode in (True, False):
        model.train(mode)
        with pytest.raises(GenlabError, match="out of range"):
            model.sample(4, seed=0, labels=99)
        assert model.training is mode
        assert all(m.training is mode for m in model.modules())


def test_evaluating_and_frozen_restore_on_error():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    net[0].bias.requires_grad_(False)
    with pytest.raises(RuntimeError), evaluating(net):
        assert not net.training and not net[1].training
        raise RuntimeError("boom")
    assert net.training and net[1].training
    with pytest.raises(RuntimeError), frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        raise RuntimeError("boom")
    assert net[0].weight.requires_grad and not net[0].bias.requires_grad
