"""Mixed precision: fp16 autocast with a gradient scaler, through `GenerativeModel.optimize`.

CPU autocast runs fp16 here, so the scaler's real code paths are exercised without a GPU.
"""

from __future__ import annotations

import math

import pytest
import torch

import genlab
from genlab.errors import ConfigError
from genlab.serialization import load_state

from .family_checks import read_metrics, train_small

TINY = {"dcgan": {"g_width": 8, "d_width": 8}, "cvae": {"width": 8}, "seqvae": {"hidden": 16}}


@pytest.mark.parametrize("family,data", [("dcgan", "fashion-mnist"), ("cvae", "fashion-mnist")])
def test_fp16_trains_and_checkpoints_the_scaler(tmp_path, family, data):
    run = tmp_path / family
    train_small(family, run, data=data, steps=8, amp="fp16", checkpoint_every=4, **TINY[family])
    rows = read_metrics(run)
    losses = [v for r in rows for k, v in r.items() if k.startswith(("loss", "rec"))]
    assert losses and all(math.isfinite(v) for v in losses)
    assert len({round(v, 6) for v in losses}) > 1
    scaler = load_state(run / "checkpoints" / "step-0000008", "trainer")["grad_scaler"]
    # starts at 2**16 and halves on each overflowing step
    assert 0 < scaler["scale"] <= 2.0 ** 16 and math.log2(scaler["scale"]).is_integer()
    # resume restores the scale and goes on
    result = genlab.train(family, data=data, out=run, resume=True, steps=10, batch_size=16, limit=256, log_every=1,
                          sample_every=0, checkpoint_every=0, tensorboard=False, progress=False, grid_size=16,
                          seed=0, amp="fp16", **TINY[family])
    assert result.step == 10


def test_optimize_skips_an_overflowing_step_and_lowers_the_scale():
    from genlab.api import prepare_run

    model, data, _ = prepare_run("vae", data="fashion-mnist", seed=0, batch_size=8, limit=64, architecture="mlp",
                                 hidden=32)
    model.setup_training()
    opt = model.optimizers["vae"]
    model.grad_scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10)
    before = [p.detach().clone() for p in model.parameters()]
    x01 = model.to_unit(data.prepare("cpu")["x"][:8])
    ll, kl, _ = model.forward_elbo(x01)
    loss = -(ll.mean()) + kl.mean()
    model.optimize(loss * torch.tensor(float("inf")), opt)  # every gradient overflows
    model.grad_scaler.update()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert model.grad_scaler.get_scale() == 2.0 ** 9
    ll, kl, _ = model.forward_elbo(x01)
    model.optimize(-(ll.mean()) + kl.mean(), opt)  # a finite step goes through
    model.grad_scaler.update()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_optimize_clips_the_unscaled_gradient():
    from genlab.api import prepare_run

    model, data, _ = prepare_run("vae", data="fashion-mnist", seed=0, batch_size=8, limit=64, architecture="mlp",
                                 hidden=32)
    model.setup_training()
    model.grad_scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 12)
    x01 = model.to_unit(data.prepare("cpu")["x"][:8])
    ll, kl, _ = model.forward_elbo(x01)
    model.optimize(-(ll.mean()) + kl.mean(), model.optimizers["vae"], clip_norm=0.5)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]))
    assert norm == pytest.approx(0.5, rel=1e-3)  # clipped after unscaling, not 2**12 times that


def test_fp16_refuses_gradient_penalties(tmp_path):
    with pytest.raises(ConfigError, match="--amp fp16 cannot train a gradient penalty.*--amp bf16"):
        train_small("dcgan", tmp_path / "r1", steps=2, amp="fp16", r1_gamma=1.0, **TINY["dcgan"])
    with pytest.raises(ConfigError, match="fp16 cannot run recurrent layers on the CPU.*--amp bf16"):
        train_small("seqvae", tmp_path / "lstm", data="sines", steps=2, amp="fp16", **TINY["seqvae"])
    with pytest.raises(ConfigError, match="expected one of off, bf16, fp16"):
        train_small("dcgan", tmp_path / "bad", steps=2, amp="fp8", **TINY["dcgan"])
