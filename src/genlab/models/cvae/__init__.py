"""Conditional VAE (Sohn et al. 2015): encoder and decoder see the class label."""

from .model import CVAE, CVAEConfig

__all__ = ["CVAE", "CVAEConfig"]
