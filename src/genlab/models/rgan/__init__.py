"""RGAN: a recurrent GAN for multivariate time series (C-RNN-GAN style, Mogren 2016)."""

from .model import RGAN, RGANConfig

__all__ = ["RGAN", "RGANConfig"]
