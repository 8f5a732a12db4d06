"""MLP GAN hyper-parameters (Adam 2e-4, beta1 0.5; BatchNorm in G for quick, stable training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import option
from ...errors import ConfigError
from ..adversarial import GANConfig


@dataclass
class GANFamilyConfig(GANConfig):
    g_hidden: list[int] = option([256, 512, 1024], help="generator hidden layer sizes", min=1)
    d_hidden: list[int] = option([512, 256], help="discriminator hidden layer sizes", min=1)
    g_activation: Literal["relu", "leaky_relu"] = option("leaky_relu", help="generator hidden activation")
    g_batchnorm: bool = option(True, help="BatchNorm after each generator hidden layer")
    minibatch_std: bool = option(False, help="a minibatch standard-deviation feature before D's last layer "
                                              "(Karras et al. 2018), against mode collapse")
    dropout: float = option(0.3, help="dropout after each discriminator hidden layer", min=0, max=0.95)

    def validate(self) -> None:
        super().validate()

        if not self.g_hidden or not self.d_hidden:
            raise ConfigError("g_hidden and d_hidden need at least one layer size each, e.g. --g-hidden 256,512")
