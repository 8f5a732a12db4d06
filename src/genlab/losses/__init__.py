"""GAN objectives and regularisers, chosen by name through `LOSSES`; auxiliary sequence-GAN losses."""

from .gan import GANLoss, check_loss, get_loss, gradient_penalty, r1_penalty
from .sequence import feature_matching, increment_moment_loss, moment_loss, next_step_loss

__all__ = ["GANLoss", "check_loss", "feature_matching", "get_loss", "gradient_penalty", "increment_moment_loss",
           "moment_loss", "next_step_loss", "r1_penalty"]
