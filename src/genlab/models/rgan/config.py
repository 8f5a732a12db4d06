"""RGAN hyper-parameters (defaults train on TimeGAN's sines and stock windows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import option
from ..adversarial import GANConfig


@dataclass
class RGANConfig(GANConfig):
    latent_dim: int = option(8, help="noise values fed to the generator at every time step", min=1)
    seq_latent_dim: int = option(
        8, help="noise values drawn once per sequence and fed at every step (0 = per-step noise only, as C-RNN-GAN)",
        min=0)
    init_state: bool = option(
        False, help="the per-sequence noise also sets the generator's initial LSTM state (a level from step 0)")
    hidden: int = option(64, help="LSTM units per generator layer", min=1)
    layers: int = option(2, help="generator LSTM layers", min=1, max=8)
    d_hidden: int = option(64, help="LSTM units per direction in the bidirectional discriminator", min=1)
    d_layers: int = option(1, help="discriminator LSTM layers", min=1, max=8)
    d_score: Literal["steps", "pooled"] = option(
        "steps", help="discriminator score: mean of per-step scores (C-RNN-GAN) or one score from the final states")
    feedback: bool = option(False, help="feed the previous output back into the generator (C-RNN-GAN); slower")
    label_dim: int = option(8, help="size of the class embedding concatenated to the inputs (conditional data)", min=1)
    conditional: bool = option(True, help="condition on class labels when the data has them")
    one_hot: Literal["sample", "argmax"] = option(
        "sample", help="one-hot features (music's pitch class): drawn from the generator's softmax with latent noise, "
                       "or its most likely category")
    feature_matching: float = option(
        1.0, help="weight of feature matching on the discriminator's hidden states in G's loss (Mogren 2016; "
                  "0 = off)", min=0)
    supervised: float = option(
        1.0, help="weight of TimeGAN's supervised next-step loss in a learned embedding space in G's loss (0 = off)",
        min=0)
    moment_matching: float = option(
        1.0, help="weight of TimeGAN's moment loss (batch means and standard deviations per step) in G's loss "
                  "(0 = off)", min=0)
    increment_matching: float = option(
        0.0, help="weight of the same moment loss on the step-to-step changes x[t+1] - x[t] in G's loss (how far "
                  "a series moves per step; 0 = off)", min=0)
    embed_hidden: int = option(24, help="GRU units of the embedder, recovery and supervisor (--supervised)", min=1)
    spectral_norm_rnn: bool = option(
        False, help="with --spectral-norm, also normalise the discriminator's LSTM weight matrices")
    lr_g: float = option(1e-3, help="generator learning rate", min=0)
    lr_d: float = option(1e-3, help="discriminator learning rate", min=0)
