"""Every GAN objective with every GAN family: real steps on Fashion-MNIST batches."""

from __future__ import annotations

import pytest
import torch

from genlab.config import build
from genlab.losses import get_loss
from genlab.registry import FAMILIES, LOSSES

FAMILY_OPTIONS = {
    "gan": dict(g_hidden=[32, 64], d_hidden=[64, 32]),
    "dcgan": dict(g_width=8, d_width=8),
    "cgan": dict(g_width=8, d_width=8, embed_dim=8),
    "infogan": dict(g_width=8, d_width=8, q_hidden=16),
}
OBJECTIVES = ["minimax", "nonsaturating", "lsgan", "wgan-gp", "hinge"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fashion(fashion_small):
    data, prepared = fashion_small
    return data.info, prepared


def test_all_objectives_are_registered():
    import genlab.models  # noqa: F401

    assert set(OBJECTIVES) <= set(LOSSES.names())
    assert {"gan", "dcgan", "cgan", "infogan"} <= set(FAMILIES.names())


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("family", list(FAMILY_OPTIONS))
def test_objective_trains_family(fashion, family, objective):
    info, prepared = fashion
    cls = FAMILIES.get(family)
    torch.manual_seed(0)
    model = cls(build(cls.Config, dict(FAMILY_OPTIONS[family], loss=objective)), info)
    assert model.objective.name == objective
    model.setup_training()
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    d0 = [p.detach().clone() for p in model.discriminator.parameters()]
    seen = []
    for step in range(3):
        batch = {k: v[16 * step:16 * (step + 1)] for k, v in prepared.items()}
        logs = model.train_step(batch, step)
        assert all(v.dim() == 0 and not v.requires_grad for v in logs.values())
        assert all(torch.isfinite(v) for v in logs.values()), logs
        seen.append(logs)
    assert ("gp" in seen[0]) == (objective == "wgan-gp")
    if family == "infogan":
        assert "mi" in seen[0]
    # both players moved
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.discriminator.parameters()))
    samples = model.sample(4, seed=0)["images"]
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_objective_signs(objective):
    """A discriminator that scores reals high and fakes low has the lower D loss; G wants fakes scored high."""
    loss = get_loss(objective)
    good_real, good_fake = torch.full((8,), 2.0), torch.full((8,), -2.0)
    assert loss.d_loss(good_real, good_fake) < loss.d_loss(good_fake, good_real)
    assert loss.g_loss(torch.full((8,), 2.0)) < loss.g_loss(torch.full((8,), -2.0))
