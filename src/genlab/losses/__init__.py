"""GAN objectives and regularisers, chosen by name through `LOSSES`."""

from .gan import GANLoss, get_loss, gradient_penalty, r1_penalty

__all__ = ["GANLoss", "get_loss", "gradient_penalty", "r1_penalty"]
