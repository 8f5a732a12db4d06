"""DCGAN networks: strided (transposed) convolutions, BatchNorm, ReLU/LeakyReLU.

Works for square images whose side is 4 or 7 times a power of two (28, 32,
64, ...), grey or colour.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ...nn.conv import ConvDiscriminator, UpStack, init_dcgan
from ...registry import FAMILIES
from ..adversarial import AdversarialModel
from .config import DCGANConfig


@FAMILIES.register("dcgan")
class DCGAN(AdversarialModel):
    Config = DCGANConfig

    def __init__(self, config: DCGANConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        c, h, w = self.image_shape
        self.generator = nn.Sequential(UpStack(config.latent_dim, c, h, config.g_width, norm="batch",
                                               extra_layers=config.extra_layers), nn.Tanh())
        self.discriminator = ConvDiscriminator(c, h, config.d_width, config.spectral_norm, config.extra_layers,
                                               config.minibatch_std)
        init_dcgan(self)
        self.init_ema()
