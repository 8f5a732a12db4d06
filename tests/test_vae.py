"""VAE: real steps, falling loss, likelihoods, beta/warm-up/capacity, reconstructions, round trip."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from genlab.data import load_dataset
from genlab.models.vae import VAE, VAEConfig

from .family_checks import check_family, read_metrics, train_small


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "logistic"])
def test_vae_trains_samples_and_round_trips(tmp_path, fashion_dir, likelihood):
    # latent 16: after 6 steps a 64-d Gaussian decoder still puts every mean below 0 (all-black samples)
    check_family("vae", tmp_path, image_shape=(1, 28, 28), likelihood=likelihood, width=8, latent_dim=16)


def test_vae_loss_falls(tmp_path, fashion_dir):
    train_small("vae", tmp_path / "run", steps=40, width=8, log_every=10)
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_vae_mlp_and_preview_grids(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("vae", run, steps=4, architecture="mlp", hidden=64, sample_every=4)
    names = sorted(p.name for p in (run / "samples").iterdir())
    assert names == ["reconstructions-step0000004.png", "samples-step0000004.png"]


# -- the objective, term by term -----------------------------------------------------------

def small_vae(**options) -> VAE:
    info = {"kind": "image", "shape": [1, 28, 28], "num_classes": 10}
    options.setdefault("width", 8)
    return VAE(VAEConfig(**options), info)


def fashion_batch(n: int = 16) -> dict[str, torch.Tensor]:
    return {k: v[:n] for k, v in load_dataset("fashion-mnist", split="test").subset(n).prepare().items()}


def test_likelihoods_and_kl_match_torch_distributions():
    torch.manual_seed(0)
    out = torch.randn(4, 1, 28, 28)
    x_bin = torch.bernoulli(torch.full((4, 1, 28, 28), 0.3))
    bern = small_vae(likelihood="bernoulli")
    expected = D.Bernoulli(logits=out).log_prob(x_bin).flatten(1).sum(1)
    assert torch.allclose(bern.log_likelihood(out, x_bin), expected, atol=1e-3)

    x = torch.rand(4, 1, 28, 28)
    fixed = small_vae(likelihood="gaussian", sigma=0.2)
    expected = D.Normal(out, 0.2).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(fixed.log_likelihood(out, x), expected, rtol=1e-5)
    learned = small_vae(likelihood="gaussian")
    with torch.no_grad():
        learned.log_sigma.fill_(math.log(0.5))
    expected = D.Normal(out, 0.5).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(learned.log_likelihood(out, x), expected, rtol=1e-5)
    with torch.no_grad():  # the learned std is bounded below (no collapse to 0)
        learned.log_sigma.fill_(-50.0)
    assert torch.isfinite(learned.log_likelihood(out, x)).all()

    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = D.Normal(mu, (0.5 * logvar).exp())
    expected = D.kl_divergence(q, D.Normal(torch.zeros(3), torch.ones(3))).sum(1)
    assert torch.allclose(VAE.kl(mu, logvar), expected, atol=1e-5)


def test_beta_warmup_schedule_enters_the_loss(fashion_dir):
    model = small_vae(beta=4.0, warmup_steps=100)
    assert [model.beta_at(s) for s in (0, 50, 100, 1000)] == [0.0, 2.0, 4.0, 4.0]
    model.setup_training()
    logs = model.train_step(fashion_batch(), step=25)
    assert math.isclose(float(logs["loss"]), float(logs["rec"] + 1.0 * logs["kl"]), rel_tol=1e-5)
    assert math.isclose(float(logs["elbo"]), -float(logs["rec"] + logs["kl"]), rel_tol=1e-5)


def test_capacity_objective(fashion_dir):
    # Burgess et al. 2018: rec + gamma |KL - C|, C growing linearly to `capacity`
    model = small_vae(capacity=20.0, capacity_steps=200, capacity_gamma=10.0, beta=4.0)
    model.setup_training()
    logs = model.train_step(fashion_batch(), step=50)  # C = 5 nats
    expected = logs["rec"] + 10.0 * (logs["kl"] - 5.0).abs()
    assert math.isclose(float(logs["loss"]), float(expected), rel_tol=1e-5)
    logs = model.train_step(fashion_batch(), step=10_000)  # C capped at 20 nats
    expected = logs["rec"] + 10.0 * (logs["kl"] - 20.0).abs()
    assert math.isclose(float(logs["loss"]), float(expected), rel_tol=1e-5)


def test_dynamic_binarisation_draws_bernoulli_pixels():
    torch.manual_seed(0)
    p = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(20000, 1)
    x = small_vae(binarize=True).binarize_pixels(p)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(x.mean(0), p[0], atol=0.01)


def test_preview_rows_pair_originals_with_reconstructions(fashion_dir):
    model = small_vae()
    batch = fashion_batch(16)
    grids = model.preview(16, batch)
    rec = grids["reconstructions"]
    assert rec.shape == (16, 1, 28, 28)  # a 4 x 4 grid: originals, reconstructions, ...
    x01 = (batch["x"] + 1) / 2
    assert torch.allclose(rec[0:4], x01[0:4]) and torch.allclose(rec[8:12], x01[4:8])
    assert torch.allclose(rec[4:8], model.reconstruct(x01[0:4]))


def test_gaussian_vae_trains_with_binarised_mlp(tmp_path, fashion_dir):
    train_small("vae", tmp_path / "run", steps=30, architecture="mlp", hidden=64, likelihood="gaussian",
                log_every=10)
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["loss"] < rows[0]["loss"]
    train_small("vae", tmp_path / "bin", steps=30, architecture="mlp", hidden=64, binarize=True, log_every=10)
    rows = read_metrics(tmp_path / "bin")
    assert rows[-1]["loss"] < rows[0]["loss"]
