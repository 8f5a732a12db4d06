"""Differentiable augmentation for GAN discriminators (DiffAugment, Zhao et al. 2020).

The same random transformations are applied to real and generated images
before the discriminator sees them. Every operation is differentiable with
respect to its input, so the generator still receives gradients through the
augmented fakes. Policies are chosen by name and combined with commas:

- ``color``: random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5);
- ``translation``: shift by up to 1/8 of the side, zero padded;
- ``cutout``: blank a random square of half the side.

Images are expected in [-1, 1] (zero is mid grey); values are not clamped.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError


def _rand(n: int, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def brightness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return x + (_rand(x.shape[0], x, generator) - 0.5)


def saturation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_rand(x.shape[0], x, generator) * 2) + mean


def contrast(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x.shape[0], x, generator) + 0.5) + mean


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Brightness, saturation (colour images only) and contrast jitter."""
    x = brightness(x, generator)
    if x.shape[1] > 1:
        x = saturation(x, generator)
    return contrast(x, generator)


def translation(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by a random integer offset of up to `ratio` of its side, zero padded."""
    n, _, h, w = x.shape
    sy, sx = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sy, sy + 1, (n, 1), device=x.device, generator=generator)
    dx = torch.randint(-sx, sx + 1, (n, 1), device=x.device, generator=generator)
    padded = F.pad(x, (sx, sx, sy, sy))
    rows = torch.arange(h, device=x.device)[None, :] + sy - dy  # N x H indices into the padded image
    cols = torch.arange(w, device=x.device)[None, :] + sx - dx  # N x W
    batch = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # N x H x W x C
    return out.permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of side `ratio` x the image side (it may hang over the border)."""
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    # top-left corners; the square may hang over any border by up to half its side
    top = torch.randint(-(ch // 2), h - ch // 2, (n, 1, 1), device=x.device, generator=generator)
    left = torch.randint(-(cw // 2), w - cw // 2, (n, 1, 1), device=x.device, generator=generator)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    mask = (~inside).to(x.dtype)[:, None]  # N x 1 x H x W
    return x * mask


POLICIES: dict[str, Callable[..., torch.Tensor]] = {
    "color": color,
    "translation": translation,
    "cutout": cutout,
}


def parse_policy(policy: str) -> list[str]:
    """Split "color,translation,cutout" into checked names; "" means none."""
    names = [p.strip() for p in (policy or "").replace("+", ",").split(",") if p.strip()]
    for name in names:
        if name not in POLICIES:
            raise ConfigError(f"bad value {policy!r} for 'diffaugment': unknown policy {name!r}; "
                              f"valid policies: {', '.join(POLICIES)} (comma separated, e.g. color,translation,cutout)")
    return names


def diff_augment(x: torch.Tensor, policy: str | list[str], generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the named augmentations, in order, to a batch N x C x H x W."""
    names = parse_policy(policy) if isinstance(policy, str) else list(policy)
    for name in names:
        x = POLICIES[name](x, generator)
    return x


class DiffAugment(nn.Module):
    """`diff_augment` as a module; identity when the policy is empty."""

    def __init__(self, policy: str = ""):
        super().__init__()
        self.policy = parse_policy(policy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy) if self.policy else x

    def extra_repr(self) -> str:
        return ",".join(self.policy)
