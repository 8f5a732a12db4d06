"""VAE: real steps, falling loss, likelihoods, reconstructions, round trip."""

from __future__ import annotations

import pytest

from .family_checks import check_family, read_metrics, train_small


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_trains_samples_and_round_trips(tmp_path, fashion_dir, likelihood):
    check_family("vae", tmp_path, image_shape=(1, 28, 28), likelihood=likelihood, width=8)


def test_vae_loss_falls(tmp_path, fashion_dir):
    train_small("vae", tmp_path / "run", steps=40, width=8, log_every=10)
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_vae_mlp_and_preview_grids(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("vae", run, steps=4, architecture="mlp", hidden=64, sample_every=4)
    names = sorted(p.name for p in (run / "samples").iterdir())
    assert names == ["reconstructions-step0000004.png", "samples-step0000004.png"]
