"""DCGAN hyper-parameters (defaults from the paper: Adam 2e-4, beta1 0.5)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import option
from ..adversarial import GANConfig


@dataclass
class DCGANConfig(GANConfig):
    g_width: int = option(64, help="generator channels at the last upsampling layer", min=1)
    d_width: int = option(64, help="discriminator channels at the first layer", min=1)
