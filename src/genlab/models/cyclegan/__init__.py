"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation."""

from .edges import edge_scores
from .model import CycleGAN, CycleGANConfig, HistoryPool
from .scores import ssim

__all__ = ["CycleGAN", "CycleGANConfig", "HistoryPool", "edge_scores", "ssim"]
