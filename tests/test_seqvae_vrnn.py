"""SeqVAE with a latent per time step (VRNN): the per-step KL by hand, causality of the per-step
latents, real training steps on sines, the save/load round trip, refusals."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.models.seqvae import SeqVAE, SeqVAEConfig
from genlab.models.seqvae.vrnn import gaussian_kl

from .test_sequences_data import check_sequence_family

SMALL = dict(hidden=24, latent_dim=4, structure="vrnn")


def test_gaussian_kl_by_hand():
    mu_q, logvar_q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    mu_p, logvar_p = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(4.0), 0.0]])
    # first axis: 0.5 (ln 4 - 0 + (1 + 1) / 4 - 1); second: identical Gaussians, 0
    expected = 0.5 * (math.log(4.0) + 0.5 - 1)
    assert gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).item() == pytest.approx(expected)
    assert gaussian_kl(mu_p, logvar_p, mu_p, logvar_p).item() == pytest.approx(0.0, abs=1e-7)


def trained_vrnn(steps: int, **options) -> tuple[SeqVAE, dict, torch.Tensor]:
    """A small VRNN trained `steps` real steps on one batch of sines; checks that the loss fell."""
    torch.manual_seed(0)
    data = load_dataset("sines", n=200)
    model = SeqVAE(SeqVAEConfig(**SMALL, anneal="none", **options), data.info)
    model.setup_training()
    batch = {"x": data.tensors["x"][:64]}
    first = model.train_step(batch, 0)
    for step in range(1, steps):
        last = model.train_step(batch, step)
    assert last["loss"] < first["loss"] and math.isfinite(float(last["kl"]))
    return model, batch, data.info


def test_vrnn_trains_and_its_latents_act_per_step(one_thread):
    model, batch, _ = trained_vrnn(40)
    ll, kl = model.forward_elbo(batch)
    assert ll.shape == kl.shape == (64,) and (kl >= 0).all()
    # the noise of step 10 moves steps 10.. and leaves steps 0..9 alone
    z = model.latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 24, 4)
    a = model.sample(5, z=z, scaled=True)["sequences"]
    z[:, 10] += 1.0
    b = model.sample(5, z=z, scaled=True)["sequences"]
    assert torch.equal(a[:, :10], b[:, :10]) and not torch.allclose(a[:, 10:], b[:, 10:])
    mu, logvar = model.encode(batch["x"][:3])
    assert mu.shape == logvar.shape == (3, 24 * 4)
    assert model.reconstruct(batch).shape == (64, 24, 5)


def test_vrnn_family_check_on_sines(tmp_path, one_thread):
    model = check_sequence_family("seqvae", tmp_path, "sines", **SMALL)
    assert model.vrnn is not None


def test_vrnn_refuses_text_and_onnx():
    info = load_dataset("sines", n=20).info
    with pytest.raises(GenlabError, match="--structure global"):
        SeqVAE(SeqVAEConfig(**SMALL), info | {"kind": "tokens", "vocab": ["a"], "pad": 0, "bos": 0, "eos": 0,
                                              "unk": 0, "max_len": 4})
    with pytest.raises(GenlabError, match="VRNN"):
        SeqVAE(SeqVAEConfig(**SMALL), info).export_module()


def test_global_code_carries_the_window_and_adds_its_kl(one_thread):
    model, batch, info = trained_vrnn(30, global_latent=3)
    # the KL is the per-step KLs plus KL(q(s|x) || N(0, I)), computed by hand from the same pass
    vrnn, x = model.vrnn, batch["x"][:8]
    out = vrnn(x, sample=False)
    with torch.no_grad():
        h = torch.tanh(vrnn.from_global(out["global_mu"]))
        fx, kl_steps = vrnn.phi_x(x), torch.zeros(8)
        for t in range(x.shape[1]):
            mu_p, logvar_p = vrnn._split(vrnn.prior(h))
            kl_steps += gaussian_kl(out["mu"][:, t], out["logvar"][:, t], mu_p, logvar_p)
            h = vrnn.cell(torch.cat([fx[:, t], vrnn.phi_z(out["mu"][:, t]), out["global_mu"]], -1), h)
        mu_s, logvar_s = out["global_mu"], out["global_logvar"]
        kl_s = 0.5 * (mu_s.pow(2) + logvar_s.exp() - 1 - logvar_s).sum(-1)
    torch.testing.assert_close(out["kl"].detach(), kl_steps + kl_s, rtol=1e-5, atol=1e-5)
    # the latent holds the per-step noise, then the sequence's code (the same at every step); the code
    # changes every step of the sample, the per-step noise of step 10 only steps 10..
    z = model.latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 24, 4 + 3) and torch.equal(z[:, 0, 4:], z[:, 23, 4:])
    a = model.sample(5, z=z, scaled=True)["sequences"]
    s = z.clone()
    s[:, :, 4:] += 1.0
    assert not torch.allclose(model.sample(5, z=s, scaled=True)["sequences"][:, 0], a[:, 0])
    mu, _ = model.encode(x)
    assert mu.shape == (8, 24 * 4 + 3)
    with pytest.raises(GenlabError, match="--structure vrnn"):
        SeqVAE(SeqVAEConfig(hidden=24, latent_dim=4, global_latent=3), info)


def test_global_code_family_check_on_sines(tmp_path, one_thread):
    model = check_sequence_family("seqvae", tmp_path, "sines", **SMALL, global_latent=3)
    assert model.vrnn.global_latent == 3
