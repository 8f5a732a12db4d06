"""DCGAN (Radford et al. 2016): convolutional generator and discriminator."""

from .model import DCGAN, DCGANConfig

__all__ = ["DCGAN", "DCGANConfig"]
