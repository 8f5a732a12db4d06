"""InfoGAN hyper-parameters (the paper's MNIST setting: 62 noise dims, one 10-way code, two continuous codes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import option
from ...errors import ConfigError
from ..adversarial import GANConfig


@dataclass
class InfoGANConfig(GANConfig):
    latent_dim: int = option(62, help="size of the incompressible noise z (the codes come on top)", min=1)
    categorical: list[int] = option([10], help="sizes of the categorical codes c1, c2, ... (empty list = none)", min=2)
    continuous: int = option(2, help="number of continuous codes, uniform in [-1, 1], named after the categorical ones",
                             min=0)
    info_weight: float = option(1.0, help="lambda: weight of the mutual-information loss for G and Q", min=0)
    continuous_loss: Literal["gaussian", "mse"] = option("gaussian", help="Q's loss on continuous codes: "
                                                         "Gaussian NLL with learned variance, or squared error")
    g_width: int = option(64, help="generator channels at the last upsampling layer", min=1)
    d_width: int = option(64, help="discriminator channels at the first layer", min=1)
    q_hidden: int = option(128, help="hidden units of the Q head on D's convolutional trunk", min=1)

    def validate(self) -> None:
        super().validate()
        if not self.categorical and not self.continuous:
            raise ConfigError("InfoGAN needs at least one code: set --categorical 10 and/or --continuous 2")
