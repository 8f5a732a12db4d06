"""GAN objectives and regularisers, chosen by name through `LOSSES`."""

from .gan import GANLoss, check_loss, get_loss, gradient_penalty, r1_penalty

__all__ = ["GANLoss", "check_loss", "get_loss", "gradient_penalty", "r1_penalty"]
