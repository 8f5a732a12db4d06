"""The search space every GAN family shares (`genlab sweep`): learning rates, Adam betas,
objective, spectral norm, R1, EMA and discriminator steps. Families add their own
options in ``models/<family>/space.py``."""

from __future__ import annotations

from ..search_space import Choice, Float

GAN_SPACE = {
    "lr_g": Float(1e-5, 1e-3, log=True),
    "lr_d": Float(1e-5, 1e-3, log=True),
    "beta1": Float(0.0, 0.9),
    "beta2": Choice(0.9, 0.99, 0.999),
    "loss": Choice("nonsaturating", "lsgan", "hinge", "wgan-gp"),
    "spectral_norm": Choice(False, True),
    "r1_gamma": Choice(0.0, 0.1, 1.0, 10.0),
    "ema": Choice(0.0, 0.99, 0.999),
    "d_steps": Choice(1, 2),
}
