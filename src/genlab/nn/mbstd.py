"""Minibatch standard deviation (Karras et al. 2018): a discriminator feature that sees variety.

The layer splits the batch into groups of `group_size` items, takes the
standard deviation of every feature across each group, averages it into one
number per group and appends it to each item of the group as an extra
feature (an extra channel for feature maps). A generator that has collapsed
onto a few outputs gives groups with a small deviation, which the
discriminator can then tell from real batches: collapse is penalised.
"""

from __future__ import annotations

import torch
from torch import nn


class MinibatchStd(nn.Module):
    """N x F -> N x (F + 1), or N x C x H x W -> N x (C + 1) x H x W."""

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.group_size, n)
        while n % g:  # the largest group size <= group_size that divides the batch
            g -= 1
        y = x.float().reshape(g, n // g, *x.shape[1:])  # item i of every group side by side
        std = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # (n / g) x features
        stat = std.reshape(n // g, -1).mean(dim=1)  # one number per group
        stat = stat.repeat(g).to(x.dtype)  # back to N, in the order of the groups' items
        shape = (n, 1, *x.shape[2:]) if x.dim() > 2 else (n, 1)
        return torch.cat([x, stat.reshape(n, *([1] * (x.dim() - 1))).expand(shape)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
