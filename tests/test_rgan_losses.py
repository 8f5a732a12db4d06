"""The recurrent GAN's added losses, each against a hand computation, and their wiring into the G step."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.data import load_dataset
from genlab.losses import (feature_matching, get_loss, gradient_penalty, increment_moment_loss, moment_loss,
                           next_step_loss)
from genlab.models.rgan import RGAN, RGANConfig
from genlab.modes import frozen

SMALL = dict(hidden=16, d_hidden=8, layers=1)


def test_feature_matching_by_hand():
    # batch of 2, 2 steps, 1 unit: real means per step (2, 0), fake means (1, 1)
    real = torch.tensor([[[1.0], [0.0]], [[3.0], [0.0]]])
    fake = torch.tensor([[[1.0], [2.0]], [[1.0], [0.0]]])
    # ((2 - 1)^2 + (0 - 1)^2) / 2 = 1
    assert feature_matching(real, fake).item() == pytest.approx(1.0)
    assert feature_matching(real, real).item() == 0.0


def test_next_step_loss_by_hand():
    h = torch.tensor([[[0.0], [1.0], [3.0]]])
    pred = torch.tensor([[[0.5], [1.0], [9.0]]])  # the last prediction has no target
    # ((0.5 - 1)^2 + (1 - 3)^2) / 2 = (0.25 + 4) / 2
    assert next_step_loss(h, pred).item() == pytest.approx(2.125)


def test_moment_loss_by_hand():
    real = torch.tensor([[[0.0]], [[2.0]]])  # mean 1, std 1
    fake = torch.tensor([[[1.0]], [[1.0]]])  # mean 1, std 0
    assert moment_loss(real, fake, eps=0.0).item() == pytest.approx(1.0)
    fake = torch.tensor([[[3.0]], [[5.0]]])  # mean 4, std 1
    assert moment_loss(real, fake, eps=0.0).item() == pytest.approx(3.0)


def test_increment_moment_loss_by_hand():
    # two sequences of 3 steps, 1 feature: real changes (1, 1) and (3, -1); fake changes (2, 0) twice
    real = torch.tensor([[[0.0], [1.0], [2.0]], [[0.0], [3.0], [2.0]]])
    fake = torch.tensor([[[5.0], [7.0], [7.0]], [[1.0], [3.0], [3.0]]])
    # step 1: real changes 1, 3 (mean 2, std 1), fake 2, 2 (mean 2, std 0) -> |0 - 1| + 0 = 1
    # step 2: real 1, -1 (mean 0, std 1), fake 0, 0 (mean 0, std 0) -> 1 + 0 = 1; the levels do not count
    assert increment_moment_loss(real, fake, eps=0.0).item() == pytest.approx(1.0)
    assert increment_moment_loss(real, real + 10.0, eps=0.0).item() == pytest.approx(0.0)
    fake = torch.tensor([[[0.0], [3.0], [3.0]], [[0.0], [3.0], [3.0]]])  # changes (3, 0): means 3 and 0, std 0
    # std terms (1 + 1) / 2 = 1, mean terms (|3 - 2| + |0 - 0|) / 2 = 0.5
    assert increment_moment_loss(real, fake, eps=0.0).item() == pytest.approx(1.5)


def test_hinge_and_wasserstein_by_hand():
    d_real, d_fake = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, 0.3])
    hinge = get_loss("hinge")
    # relu(1 - real): 0.5, 0 -> 0.25; relu(1 + fake): 0.5, 1.3 -> 0.9
    assert hinge.d_loss(d_real, d_fake).item() == pytest.approx(1.15)
    assert hinge.g_loss(d_fake).item() == pytest.approx(0.1)
    wgan = get_loss("wgan-gp")
    assert wgan.d_loss(d_real, d_fake).item() == pytest.approx(-0.1 - 1.25)
    assert wgan.g_loss(d_fake).item() == pytest.approx(0.1)
    # a linear critic w.x has gradient w everywhere: penalty (|w| - 1)^2 = (5 - 1)^2
    w = torch.tensor([3.0, 4.0])
    gp = gradient_penalty(lambda x: x @ w, torch.randn(6, 2), torch.randn(6, 2))
    assert gp.item() == pytest.approx(16.0)


def make(**options) -> tuple[RGAN, torch.Tensor]:
    torch.manual_seed(0)
    data = load_dataset("sines", n=64)
    model = RGAN(RGANConfig(**{**SMALL, **options}), data.info)
    model.setup_training()
    return model, data.tensors["x"][:16]


def test_generator_terms_are_weighted_hand_computations(one_thread):
    model, real = make(feature_matching=2.0, supervised=3.0, moment_matching=0.5, increment_matching=4.0)
    fake = model.generate(model.latent(16))
    model._real = (real, None)
    logs: dict[str, torch.Tensor] = {}
    with frozen(model.discriminator):  # as in the shared step's G phase, which scores `fake` just before
        model.discriminate(fake)
        extra = model.extra_generator_loss(None, fake, None, logs)
    with torch.no_grad():
        d = model.discriminator
        h_real, h_fake = d.rnn(real)[0], d.rnn(fake)[0]
        fm = ((h_real.mean(0) - h_fake.mean(0)) ** 2).mean()
        e = model.embedding
        emb = e.embedder(fake)
        sup = ((e.supervisor(emb)[:, :-1] - emb[:, 1:]) ** 2).mean()
        std = lambda x: (x.var(0, unbiased=False) + 1e-6).sqrt()  # noqa: E731
        mom = (std(fake) - std(real)).abs().mean() + (fake.mean(0) - real.mean(0)).abs().mean()
        dr, df = real.diff(dim=1), fake.diff(dim=1)
        inc = (std(df) - std(dr)).abs().mean() + (df.mean(0) - dr.mean(0)).abs().mean()
    assert logs["fm"].item() == pytest.approx(fm.item(), rel=1e-5)
    assert logs["g_sup"].item() == pytest.approx(sup.item(), rel=1e-5)
    assert logs["moments"].item() == pytest.approx(mom.item(), rel=1e-5)
    assert logs["increments"].item() == pytest.approx(inc.item(), rel=1e-5)
    assert extra.item() == pytest.approx(2 * fm.item() + 3 * sup.item() + 0.5 * mom.item() + 4 * inc.item(), rel=1e-5)
    # the terms train the generator only: the embedding (and the frozen D) get no gradient from them
    extra.backward()
    assert all(p.grad is None for p in model.embedding.parameters())
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    model._real = None
    off = make(feature_matching=0, supervised=0, moment_matching=0)[0]
    off._real = (real, None)
    assert off.extra_generator_loss(None, fake, None, {}) is None and off.embedding is None  # weight 0: off


def test_embedding_trains_in_the_step_and_reconstructs_better(one_thread):
    model, real = make(supervised=1.0)
    batch = {"x": real}
    first = model.train_step(batch, 0)
    for step in range(1, 30):
        last = model.train_step(batch, step)
    assert {"emb_rec", "emb_sup", "g_sup", "loss_g", "loss_d"} <= set(last)
    assert last["emb_rec"] < first["emb_rec"] and all(math.isfinite(float(v)) for v in last.values())
    assert "emb" in model.optimizers


def test_spectral_norm_reaches_the_lstm(one_thread):
    model, real = make(spectral_norm=True, spectral_norm_rnn=True, loss="hinge")
    rnn = model.discriminator.rnn
    for name in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"):
        for _ in range(20):  # power iterations run in training mode
            model.discriminate(real)
        assert torch.linalg.matrix_norm(getattr(rnn, name).detach(), 2).item() == pytest.approx(1.0, abs=0.05)
    plain, _ = make(spectral_norm=True)
    assert not hasattr(plain.discriminator.rnn, "parametrizations")
    logs = model.train_step({"x": real}, 0)
    assert math.isfinite(float(logs["loss_d"]))


def test_init_state_from_the_per_sequence_noise(one_thread):
    model, real = make(init_state=True, layers=2)
    g = model.generator
    z = model.latent(4)
    h0, c0 = g.initial_state(z)
    assert h0.shape == c0.shape == (2, 4, 16)
    # computed by hand from the per-sequence noise (the last seq_latent_dim values, the same at every step)
    hc = torch.tanh(z[:, 0, -8:] @ g.init_state.weight.T + g.init_state.bias).reshape(4, 2, 2, 16)
    torch.testing.assert_close(h0, hc[:, 0].transpose(0, 1))
    torch.testing.assert_close(c0, hc[:, 1].transpose(0, 1))
    torch.testing.assert_close(g(z), torch.sigmoid(g.out(g.rnn(z, (h0, c0))[0])))
    assert make()[0].generator.initial_state(z) is None  # off by default
    assert math.isfinite(float(model.train_step({"x": real}, 0)["loss_g"]))
