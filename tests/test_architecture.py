"""The architecture's promises, checked on real models: capabilities are
protocols (the web page decodes seqvae text through `decode_text`, converts an
upload per translation direction), a failed call leaves a model's mode as
it was (`evaluating`, `frozen`), and a checkpoint written by genlab 0.1.0
(tests/fixtures) loads after an option is renamed (config version + migrate)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import shutil
import typing
from pathlib import Path

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


# -- old checkpoints ---------------------------------------------------------------------------
FIXTURE = Path(__file__).parent / "fixtures" / "gan-0.1.0"  # written by genlab 0.1.0 (fixtures/make_fixtures.py)


def renamed_gan():
    """The gan family as a later release might ship it: option `dropout` renamed `d_dropout`
    (config version 2), with the migration that upgrades version-1 configs."""
    from genlab.models.gan.config import GANFamilyConfig
    from genlab.models.gan.model import GAN

    fields, hints = [], typing.get_type_hints(GANFamilyConfig)
    for f in dataclasses.fields(GANFamilyConfig):
        default = {"default_factory": f.default_factory} if f.default is dataclasses.MISSING else {"default": f.default}
        fields.append(("d_dropout" if f.name == "dropout" else f.name, hints[f.name],
                       dataclasses.field(metadata=f.metadata, **default)))
    config_v2 = dataclasses.make_dataclass("GANConfigV2", fields)

    class RenamedGAN(GAN):
        Config = config_v2
        config_version = 2

        def __init__(self, config, data_info):
            values = {("dropout" if k == "d_dropout" else k): v for k, v in dataclasses.asdict(config).items()}
            super().__init__(GANFamilyConfig(**values), data_info)
            self.config = config

        @classmethod
        def migrate(cls, config, version):
            if version < 2:
                config["d_dropout"] = config.pop("dropout")
            return config

    return RenamedGAN


def test_release_checkpoint_loads_after_an_option_is_renamed(monkeypatch, capsys):
    before = genlab.load(FIXTURE)
    assert "config_version" not in json.loads((FIXTURE / "config.json").read_text())  # as 0.1.0 wrote it
    expected = before.sample(6, seed=3)["images"]
    monkeypatch.setitem(FAMILIES._items, "gan", renamed_gan())
    after = genlab.load(FIXTURE)
    assert type(after).config_version == 2 and after.config.d_dropout == 0.25
    assert not hasattr(after.config, "dropout")
    assert torch.equal(after.sample(6, seed=3)["images"], expected)
    assert "warning" not in capsys.readouterr().err
    assert after.describe()["config_version"] == 2 and "d_dropout" in after.describe()["config"]


def test_unknown_and_newer_config_keys(tmp_path, capsys):
    folder = tmp_path / "old"
    shutil.copytree(FIXTURE, folder)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["removed_option"] = 7
    (folder / "config.json").write_text(json.dumps(meta))
    model = genlab.load(folder)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "removed_option" in err[0] and "ignoring" in err[0]
    assert model.config.dropout == 0.25
    meta["config_version"] = 99
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(GenlabError, match="newer than this genlab"):
        genlab.load(folder)
