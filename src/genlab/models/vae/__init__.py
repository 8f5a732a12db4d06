"""VAE (Kingma & Welling 2014) with a beta weight (Higgins et al. 2017)."""

from .model import VAE, VAEConfig

__all__ = ["VAE", "VAEConfig"]
