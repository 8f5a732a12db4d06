"""The original GAN (Goodfellow et al. 2014): fully connected G and D on flattened images."""

from .model import GAN, GANFamilyConfig

__all__ = ["GAN", "GANFamilyConfig"]
