"""Auxiliary generator losses for sequence GANs, as plain functions of tensors.

- `feature_matching` (Salimans et al. 2016; used for C-RNN-GAN by Mogren
  2016): the squared distance between the batch means of the
  discriminator's hidden states on real and on generated sequences, per time
  step and unit, averaged: ``mean_{t,k} (E_real h[t,k] - E_fake h[t,k])^2``.
- `next_step_loss` (TimeGAN's supervised loss, Yoon et al. 2019): the mean
  squared error between a supervisor's prediction made at step t and the
  embedding at step t + 1: ``mean (pred[:, :-1] - h[:, 1:])^2``.
- `moment_loss` (TimeGAN's moment terms): the mean absolute difference of the
  per-(step, feature) batch standard deviations plus that of the batch means.
- `increment_moment_loss`: `moment_loss` of the step-to-step changes
  ``x[:, t+1] - x[:, t]``: the moments of the data say where a series is, those
  of its changes say how much it moves from one step to the next (a stock's
  daily moves), which the level moments leave free.
"""

from __future__ import annotations

import torch


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Squared distance of batch-mean features (B x ... tensors), averaged over the other axes."""
    return (real_features.float().mean(0) - fake_features.float().mean(0)).pow(2).mean()


def next_step_loss(h: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """MSE between predictions made at steps 0..T-2 and the states at steps 1..T-1 (B x T x H)."""
    return (pred[:, :-1].float() - h[:, 1:].float()).pow(2).mean()


def moment_loss(real: torch.Tensor, fake: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean |std_fake - std_real| + mean |mean_fake - mean_real|, moments over the batch axis."""
    real, fake = real.float(), fake.float()
    std_r = (real.var(0, unbiased=False) + eps).sqrt()
    std_f = (fake.var(0, unbiased=False) + eps).sqrt()
    return (std_f - std_r).abs().mean() + (fake.mean(0) - real.mean(0)).abs().mean()


def increment_moment_loss(real: torch.Tensor, fake: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """`moment_loss` of the first differences along the time axis (B x T x D, T >= 2)."""
    return moment_loss(real[:, 1:] - real[:, :-1], fake[:, 1:] - fake[:, :-1], eps)
