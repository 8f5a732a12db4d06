"""VAE hyper-parameters (beta-VAE: beta, KL warm-up, capacity schedule; the latent sampler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from ...config import option


@dataclass
class VAEConfig:
    latent_dim: int = option(64, help="size of the latent code z", min=1)
    architecture: Literal["conv", "mlp"] = option("conv", help="convolutional or fully connected networks")
    width: int = option(32, help="channels of the first conv layer (conv)", min=1)
    hidden: int = option(512, help="hidden units per layer (mlp)", min=1)
    likelihood: Literal["bernoulli", "gaussian", "logistic"] = option(
        "logistic", help="p(x|z): Bernoulli on [0,1] pixels (exact for --binarize), Gaussian (shared std), or "
                          "logistic: a discretised logistic per pixel over the 256 grey levels, its scale "
                          "predicted by the decoder (does not blur)")
    sigma: Optional[float] = option(None, help="Gaussian std; None learns one shared std", min=1e-4)
    beta: float = option(1.0, help="weight of the KL term (beta-VAE)", min=0)
    warmup_steps: int = option(0, help="KL warm-up: beta grows linearly from 0 over these steps", min=0)
    capacity: float = option(0.0, help="final KL capacity C in nats (Burgess et al. 2018; 0 = off); when on, "
                                          "the loss is rec + gamma |KL - C| and beta/warmup are unused", min=0)
    capacity_steps: int = option(10000, help="steps over which C grows from 0 to its final value", min=1)
    capacity_gamma: float = option(100.0, help="weight gamma of |KL - C| when capacity is on", min=0)
    binarize: bool = option(False, help="dynamically binarise inputs (a Bernoulli draw per pixel) while training; "
                                        "evaluate binarises the test images once, with its seed")
    lr: float = option(1e-3, help="Adam learning rate", min=0)
    sampler: Literal["prior", "gmm"] = option(
        "gmm", help="what samples draw z from: the prior N(0, I), or gmm: a Gaussian mixture fitted on the "
                    "training images' posterior means after training (Ghosh et al. 2020; one per class for "
                    "the cvae); `genlab sample --sampler` overrides it")
    sampler_components: int = option(10, help="components of the gmm sampler (per class for the cvae)", min=1)
