"""InfoGAN (Chen et al. 2016): interpretable codes learned by maximising mutual information."""

from .model import InfoGAN, InfoGANConfig

__all__ = ["InfoGAN", "InfoGANConfig"]
