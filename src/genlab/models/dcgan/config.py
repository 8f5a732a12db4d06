"""DCGAN hyper-parameters (defaults from the paper: Adam 2e-4, beta1 0.5)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import option
from ..adversarial import GANConfig


@dataclass
class DCGANConfig(GANConfig):
    g_width: int = option(64, help="generator channels at the last upsampling layer", min=1)
    d_width: int = option(64, help="discriminator channels at the first layer", min=1)
    extra_layers: int = option(0, help="3x3 convolutions added at each resolution of G and D "
                                       "(0 = the DCGAN paper's layout)", min=0, max=4)
    minibatch_std: bool = option(False, help="a minibatch standard-deviation channel before D's last layer "
                                              "(Karras et al. 2018), against mode collapse")
