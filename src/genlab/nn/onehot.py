"""Sequence outputs with one-hot groups: sigmoid features next to categorical ones.

Sequence data may declare groups of columns that hold one-hot categories
(``info["one_hot"]``: ``[[start, size], ...]``; music's pitch class is one,
see `genlab.data.music_features`). A continuous output is a sigmoid in
[0, 1]; a group is a categorical distribution over its columns:

- `activate`: what a generator emits. Groups are exact one-hots in the
  forward pass (a category drawn from the softmax by inverse CDF of uniform
  noise ``u``, or the largest logit without noise) with the softmax's
  gradient in the backward pass (the straight-through estimator), so a
  discriminator sees one-hots from both real and generated data and cannot
  tell them apart by their softness.
- `log_likelihood`: a decoder's log p(x) per item: Gaussian for continuous
  columns (given their log standard deviations), categorical for groups.
- `draw`: a decoder's next input when it runs on its own output: the
  sigmoid mean for continuous columns, for groups a category drawn from the
  softmax by inverse CDF of uniform noise ``u`` (or the most likely one when
  ``u`` is None).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def one_hot_groups(info: dict[str, Any]) -> list[tuple[int, int]]:
    """The (start, size) of each one-hot group of sequence data (none for plain series)."""
    return [(int(a), int(b)) for a, b in info.get("one_hot") or []]


def continuous_mask(dim: int, groups: list[tuple[int, int]], device: torch.device | str | None = None) -> torch.Tensor:
    mask = torch.ones(dim, dtype=torch.bool, device=device)
    for start, size in groups:
        mask[start:start + size] = False
    return mask


def choose(probs: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
    """One-hots of ... x K probabilities: drawn by inverse CDF of uniform `u` (shape ...), else the likeliest."""
    if u is None:
        index = probs.argmax(-1)
    else:
        index = (torch.cumsum(probs, -1) < u[..., None]).sum(-1).clamp(max=probs.shape[-1] - 1)
    return F.one_hot(index, probs.shape[-1]).to(probs.dtype)


def activate(logits: torch.Tensor, groups: list[tuple[int, int]], u: torch.Tensor | None = None) -> torch.Tensor:
    """Sigmoid outputs, with each group a straight-through one-hot of its softmax (drawn with `u`: ... x groups)."""
    out = torch.sigmoid(logits)
    if not groups:
        return out
    parts, last = [], 0
    for i, (start, size) in enumerate(groups):
        probs = torch.softmax(logits[..., start:start + size], -1)
        hard = choose(probs, None if u is None else u[..., i])
        parts += [out[..., last:start], probs + (hard - probs).detach()]
        last = start + size
    parts.append(out[..., last:])
    return torch.cat(parts, -1)


def log_likelihood(logits: torch.Tensor, x: torch.Tensor, log_sigma: torch.Tensor,
                   groups: list[tuple[int, int]]) -> torch.Tensor:
    """log p(x) per item (nats), summed over steps and features: B x T x D logits and targets."""
    mean = torch.sigmoid(logits)
    gauss = -0.5 * (((x - mean) / log_sigma.exp()) ** 2 + 2 * log_sigma + LOG_2PI)
    if not groups:
        return gauss.sum((1, 2))
    total = (gauss * continuous_mask(x.shape[-1], groups, x.device)).sum((1, 2))
    for start, size in groups:
        target = x[..., start:start + size].argmax(-1)
        logp = torch.log_softmax(logits[..., start:start + size], -1)
        total = total + logp.gather(-1, target[..., None])[..., 0].sum(1)
    return total


def draw(logits: torch.Tensor, groups: list[tuple[int, int]], u: torch.Tensor | None = None,
         temperature: float = 1.0) -> torch.Tensor:
    """B x 1 x D next inputs: sigmoid means, and per group a one-hot drawn with noise `u` (B x groups)."""
    out = torch.sigmoid(logits)
    for i, (start, size) in enumerate(groups):
        probs = torch.softmax(logits[..., start:start + size] / temperature, -1)
        hard = choose(probs, None if u is None else u[:, None, i])
        out = torch.cat([out[..., :start], hard, out[..., start + size:]], -1)
    return out
