"""Typed configs: defaults, files, flags, and one-line errors listing what is valid."""

from __future__ import annotations

import json

import pytest

from genlab.api import split_options
from genlab.config import build, load_file, parse_flags
from genlab.errors import ConfigError
from genlab.models.dcgan import DCGANConfig
from genlab.models.vae import VAEConfig
from genlab.training import TrainConfig


def test_defaults_and_coercion():
    c = build(DCGANConfig, {"lr_g": "1e-4", "latent_dim": "64", "spectral_norm": "true"})
    assert c.lr_g == 1e-4 and c.latent_dim == 64 and c.spectral_norm is True
    assert build(VAEConfig, {"sigma": "none"}).sigma is None
    assert build(VAEConfig, {"likelihood": "gaussian"}).likelihood == "gaussian"


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        build(DCGANConfig, {"learning_rate": 1})
    msg = str(err.value)
    assert "unknown" in msg and "'learning_rate'" in msg and "lr_g" in msg and "latent_dim" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("values,needle", [
    ({"lr_g": "fast"}, "expected float"),
    ({"latent_dim": 0}, "must be in [1, inf]"),
    ({"beta1": 1.5}, "must be in [0, 1]"),
    ({"loss": "magic"}, "valid objectives are hinge, lsgan, minimax, nonsaturating, wgan-gp"),
    ({"latent_dim": 2.5}, "expected int"),
    ({"spectral_norm": "maybe"}, "expected bool"),
])
def test_bad_values(values, needle):
    with pytest.raises(ConfigError, match=None) as err:
        build(DCGANConfig, values)
    assert needle in str(err.value)


def test_literal_choices():
    with pytest.raises(ConfigError) as err:
        build(VAEConfig, {"likelihood": "poisson"})
    assert "bernoulli, gaussian" in str(err.value)


def test_trainer_validation():
    with pytest.raises(ConfigError, match="either --steps or --epochs"):
        build(TrainConfig, {"steps": 10, "epochs": 1})
    with pytest.raises(ConfigError, match="cuda:N"):
        build(TrainConfig, {"device": "tpu"})


def test_flags_parse():
    assert parse_flags(["--lr-g", "1e-4", "--spectral-norm", "--no-tensorboard", "--steps=5"]) == {
        "lr_g": "1e-4", "spectral_norm": True, "tensorboard": False, "steps": "5"}


def test_split_options_routes_and_rejects():
    model, train = split_options("dcgan", {"lr_g": 1, "steps": 3})
    assert model == {"lr_g": 1} and train == {"steps": 3}
    with pytest.raises(ConfigError) as err:
        split_options("dcgan", {"stepz": 3})
    assert "valid dcgan keys" in str(err.value) and "trainer keys" in str(err.value)


def test_config_files(tmp_path):
    (tmp_path / "c.yaml").write_text("lr-g: 0.001\nsteps: 7\n")
    assert load_file(tmp_path / "c.yaml") == {"lr_g": 0.001, "steps": 7}
    (tmp_path / "c.json").write_text(json.dumps({"beta": 4}))
    assert load_file(tmp_path / "c.json") == {"beta": 4}
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid"):
        load_file(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_file(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_file(tmp_path / "missing.yaml")


def test_print_config_prints_resolved_yaml_that_reads_back(tmp_path, capsys, monkeypatch):
    import yaml

    from genlab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "vae", "--data", "digits", "--beta", "4", "--steps", "9", "--print-config"]) == 0
    text = capsys.readouterr().out
    printed = yaml.safe_load(text)
    assert printed["family"] == "vae" and printed["config"]["beta"] == 4.0 and printed["config"]["latent_dim"] == 64
    assert printed["train"]["data"] == "digits" and printed["train"]["steps"] == 9 and printed["train"]["batch_size"] == 64
    assert not (tmp_path / "runs").exists()  # printed and exited: nothing trained, no data loaded
    (tmp_path / "printed.yaml").write_text(text)
    assert main(["train", "--config", "printed.yaml", "--print-config"]) == 0  # the family comes from the file
    assert capsys.readouterr().out == text
    assert main(["train", "--config", "printed.yaml", "--lr", "0.01", "--print-config"]) == 0  # flags override
    assert yaml.safe_load(capsys.readouterr().out)["config"]["lr"] == 0.01
    assert main(["train", "dcgan", "--config", "printed.yaml", "--print-config"]) == 2
    assert "is for family 'vae', not 'dcgan'" in capsys.readouterr().err
    assert main(["train", "--print-config"]) == 2
    assert "no family given" in capsys.readouterr().err


def test_train_config_of_a_run_reproduces_it(tmp_path, capsys):
    import torch
    from safetensors.torch import load_file as load_weights

    from genlab.cli import main

    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--steps", "3", "--batch-size", "16", "--limit", "128", "--no-progress", "--no-tensorboard",
              "--sample-every", "0", "--seed", "7"]
    assert main(["train", "vae", "--data", "digits", "--beta", "2.5", "--width", "8", "--latent-dim", "4",
                 "--out", str(first), *common]) == 0
    assert main(["train", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    capsys.readouterr()
    a, b = (json.loads((run / "config.json").read_text()) for run in (first, second))
    assert a["family"] == b["family"] == "vae"
    assert a["config"] == b["config"] and a["train"] == b["train"] and a["data"] == b["data"]
    assert b["config"]["beta"] == 2.5 and b["train"]["seed"] == 7 and b["train"]["limit"] == 128
    wa, wb = (load_weights(str(next((run / "checkpoints").iterdir()) / "model.safetensors")) for run in (first, second))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # same settings, same seed: the same weights
