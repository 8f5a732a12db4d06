"""The generator's exponential moving average and its warm-up (issue 14)."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
from genlab.models.adversarial import ema_decay
from genlab.models.dcgan import DCGAN, DCGANConfig

INFO = {"kind": "image", "shape": [1, 28, 28], "num_classes": 10}


def test_ema_decay_warms_up_then_holds():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 8) == pytest.approx(0.5)
    assert ema_decay(0.999, 80) == pytest.approx(0.9)
    assert ema_decay(0.999, 10**6) == 0.999
    assert ema_decay(0.999, None) == 0.999
    decays = [ema_decay(0.999, t) for t in range(20_000)]
    assert all(a <= b for a, b in zip(decays, decays[1:]))
    assert decays.index(0.999) == 8990


def _model(ema: float) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(genlab.config.build(DCGANConfig, {"g_width": 8, "d_width": 8, "ema": ema}), INFO)


def test_the_average_forgets_the_random_initial_weights():
    """With the generator held at new weights, the warmed-up average keeps almost none of the
    initial ones after 100 updates (9! 100! / 109! ~ 2e-13 of them), where a plain 0.999 average
    keeps 0.999**100 = 90%."""
    for warm in (True, False):
        model = _model(0.999)
        start = [p.detach().clone() for p in model.generator_ema.parameters()]
        with torch.no_grad():
            for p in model.generator.parameters():
                p.add_(1.0)
        for t in range(100):
            model.update_ema(t if warm else None)
        kept = [(e - (s + 1.0)).abs().max().item() for e, s in zip(model.generator_ema.parameters(), start)]
        expected = math.prod((1 + t) / (10 + t) for t in range(100)) if warm else 0.999**100
        assert max(kept) == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert expected > 0.9  # the unwarmed one


def test_train_step_uses_the_warm_up(fashion_small):
    """At step 0 the decay is 0.1: the average becomes 0.1 old + 0.9 the updated generator."""
    data, prepared = fashion_small
    model = _model(0.999)
    model.setup_training()
    before = [p.detach().clone() for p in model.generator_ema.parameters()]
    model.train_step({k: v[:16] for k, v in prepared.items()}, 0)
    for b, e, g in zip(before, model.generator_ema.parameters(), model.generator.parameters()):
        torch.testing.assert_close(e, 0.1 * b + 0.9 * g, rtol=1e-5, atol=1e-6)
