"""MLP GAN networks.

G: z -> Linear -> [BatchNorm] -> ReLU/LeakyReLU ... -> Linear -> tanh -> image.
D: flattened image -> Linear -> LeakyReLU(0.2) -> Dropout ... -> Linear -> score.
With ``spectral_norm`` every linear layer of D is spectrally normalised.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from ...nn.mbstd import MinibatchStd
from ...registry import FAMILIES
from ..adversarial import AdversarialModel, apply_spectral_norm
from .config import GANFamilyConfig


def mlp_generator(latent_dim: int, hidden: list[int], out_shape: tuple[int, int, int], activation: str,
                  batchnorm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = latent_dim
    for h in hidden:
        layers.append(nn.Linear(size, h, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.LeakyReLU(0.2, inplace=True) if activation == "leaky_relu" else nn.ReLU(inplace=True))
        size = h
    layers += [nn.Linear(size, math.prod(out_shape)), nn.Tanh(), nn.Unflatten(1, tuple(out_shape))]
    return nn.Sequential(*layers)


def mlp_discriminator(in_shape: tuple[int, int, int], hidden: list[int], dropout: float,
                      minibatch_std: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    size = math.prod(in_shape)
    for h in hidden:
        layers += [nn.Linear(size, h), nn.LeakyReLU(0.2, inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        size = h
    if minibatch_std:
        layers.append(MinibatchStd())
        size += 1
    layers.append(nn.Linear(size, 1))
    return nn.Sequential(*layers)


@FAMILIES.register("gan")
class GAN(AdversarialModel):
    Config = GANFamilyConfig

    def __init__(self, config: GANFamilyConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        shape = self.image_shape
        self.generator = mlp_generator(config.latent_dim, list(config.g_hidden), shape, config.g_activation,
                                       config.g_batchnorm)
        self.discriminator = mlp_discriminator(shape, list(config.d_hidden), config.dropout, config.minibatch_std)
        if config.spectral_norm:
            apply_spectral_norm(self.discriminator)
        self.init_ema()
