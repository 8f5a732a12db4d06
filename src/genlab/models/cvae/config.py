"""CVAE hyper-parameters: those of the VAE (the label adds no options)."""

from __future__ import annotations

from dataclasses import dataclass

from ..vae.config import VAEConfig


@dataclass
class CVAEConfig(VAEConfig):
    """Same options and defaults as `VAEConfig`; the one-hot label is concatenated
    to the encoder's input (as extra image channels for conv networks) and to z."""
