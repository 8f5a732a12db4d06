"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation."""

from .model import CycleGAN, CycleGANConfig, HistoryPool, ssim

__all__ = ["CycleGAN", "CycleGANConfig", "HistoryPool", "ssim"]
