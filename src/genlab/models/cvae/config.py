"""CVAE hyper-parameters: those of the VAE (the label adds no options)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import option
from ..vae.config import VAEConfig


@dataclass
class CVAEConfig(VAEConfig):
    """The VAE's options; the one-hot label is concatenated to the encoder's input (as
    extra image channels for conv networks) and to z. `label_adversary` keeps the class
    out of z, so that the decoder has to take it from the label."""

    label_adversary: float = option(
        10.0, help="weight of the latent label adversary: a small classifier learns to tell the class "
                   "from z and the encoder is pushed to leave it guessing, so the decoder must obey "
                   "the label (0 = off, the plain CVAE)", min=0)
