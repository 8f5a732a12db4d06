"""Class-conditional GAN (Mirza & Osindero 2014) with a projection discriminator (Miyato & Koyama 2018)."""

from .model import CGAN, CGANConfig

__all__ = ["CGAN", "CGANConfig"]
