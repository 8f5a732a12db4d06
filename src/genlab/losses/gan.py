"""GAN objectives as callable objects, kept out of the networks.

Each objective maps discriminator outputs (raw scores/logits) to the
discriminator's and the generator's losses:

- ``minimax``: the original saturating game of Goodfellow et al. 2014.
- ``nonsaturating``: the same D loss, G maximises log D(G(z)) (the paper's
  practical variant, and the default).
- ``lsgan``: least squares (Mao et al. 2017), targets 1 for real, 0 for fake.
- ``wgan-gp``: Wasserstein critic (Gulrajani et al. 2017); the gradient
  penalty is added by the model through `gradient_penalty` (weight 10).
- ``hinge``: the hinge loss of Lim & Ye 2017 / Miyato et al. 2018.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import LOSSES


class GANLoss:
    """Base objective: `d_loss(real, fake)` and `g_loss(fake)` on D's outputs."""

    name = "base"
    #: weight of the gradient penalty on interpolates this objective needs (0 = none)
    gp_weight = 0.0

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@LOSSES.register("nonsaturating")
class NonSaturating(GANLoss):
    name = "nonsaturating"

    def d_loss(self, d_real, d_fake):
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()

    def g_loss(self, d_fake):
        return F.softplus(-d_fake).mean()


@LOSSES.register("minimax")
class Minimax(NonSaturating):
    name = "minimax"

    def g_loss(self, d_fake):
        # minimise log(1 - D(G(z))) = -softplus(d_fake)
        return -F.softplus(d_fake).mean()


@LOSSES.register("lsgan")
class LeastSquares(GANLoss):
    name = "lsgan"

    def d_loss(self, d_real, d_fake):
        return 0.5 * ((d_real - 1).pow(2).mean() + d_fake.pow(2).mean())

    def g_loss(self, d_fake):
        return 0.5 * (d_fake - 1).pow(2).mean()


@LOSSES.register("wgan-gp")
class WassersteinGP(GANLoss):
    name = "wgan-gp"
    gp_weight = 10.0

    def d_loss(self, d_real, d_fake):
        return d_fake.mean() - d_real.mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


@LOSSES.register("hinge")
class Hinge(GANLoss):
    name = "hinge"

    def d_loss(self, d_real, d_fake):
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def g_loss(self, d_fake):
        return -d_fake.mean()


def get_loss(name: str) -> GANLoss:
    return LOSSES.get(name)()


def check_loss(name: str) -> None:
    """Refuse, as a config error naming the valid ones, an objective that is not registered."""
    if name not in LOSSES:
        raise ConfigError(f"bad value {name!r} for 'loss': valid objectives are {', '.join(LOSSES.names())}")


def input_gradient(out: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """d out.sum() / d inputs from an fp32 sum, keeping the graph (so a penalty on it can be
    trained). The Trainer refuses fp16 with a penalty: its second-order gradients overflow."""
    return torch.autograd.grad(out.float().sum(), inputs, create_graph=True)[0]


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, *args) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] on random interpolates x_hat (WGAN-GP)."""
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    grad = input_gradient(critic(x_hat, *args), x_hat)
    return (grad.flatten(1).float().norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(d_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[||grad D(x)||^2] on real data (Mescheder et al. 2018); `real` must require grad."""
    return input_gradient(d_real, real).flatten(1).float().pow(2).sum(1).mean()
