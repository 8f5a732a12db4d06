"""SeqVAE hyper-parameters (defaults train on sines, stock windows and English words)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import option


@dataclass
class SeqVAEConfig:
    structure: Literal["global", "vrnn"] = option(
        "global", help="one latent code per sequence (Bowman et al.) or one per time step (VRNN, series only)")
    cell: Literal["lstm", "gru"] = option("lstm", help="recurrent cell of encoder and decoder")
    hidden: int = option(128, help="units per recurrent layer", min=1)
    layers: int = option(1, help="recurrent layers in encoder and decoder", min=1, max=8)
    embed_dim: int = option(32, help="character embedding size (token data)", min=1)
    latent_dim: int = option(16, help="size of the latent code z", min=1)
    global_latent: int = option(
        0, help="with --structure vrnn: size of a code per sequence beside the per-step codes (what holds for the "
                "whole window: level, frequency); 0 = none", min=0)
    beta: float = option(1.0, help="final weight of the KL term", min=0)
    anneal: Literal["logistic", "linear", "none"] = option(
        "logistic", help="KL annealing schedule: the KL weight grows from 0 to beta")
    anneal_steps: int = option(2000, help="steps until the KL weight reaches beta (logistic: ~99%)", min=1)
    word_dropout: float = option(
        0.25, help="share of decoder inputs replaced by <unk> (tokens) or zeros (series) while training", min=0, max=1)
    temperature: float = option(1.0, help="softmax temperature when sampling characters (or categories, e.g. pitch classes)", min=1e-3)
    sampler: Literal["auto", "prior", "gmm"] = option(
        "auto", help="what samples draw z from: the prior N(0, I), or gmm: a Gaussian mixture fitted on the training "
                     "windows' posterior means after training (continuous series, --structure global); auto: gmm "
                     "for continuous series without one-hot features, else the prior; `genlab sample --sampler` "
                     "overrides it")
    sampler_components: int = option(10, help="components of the gmm sampler", min=1)
    grad_clip: float = option(5.0, help="clip the gradient norm to this value (0 = off)", min=0)
    lr: float = option(1e-3, help="Adam learning rate", min=0)
