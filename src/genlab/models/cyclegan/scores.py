"""Scores of a translation against its true target: MAE and SSIM.

SSIM is written here (Wang et al. 2004): an 11 x 11 Gaussian window with
sigma 1.5 (shrunk to the image side for images under 11 pixels), constants
K1 = 0.01 and K2 = 0.03 for a data range of 1, computed on 'valid' window
positions (no padding), averaged over positions and channels. Inputs are
floats in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-coords.pow(2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-image SSIM of N x C x H x W images in [0, 1] (returns N values)."""
    if x.shape != y.shape:
        raise ValueError(f"ssim needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.double(), y.double()
    c = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    if size % 2 == 0:
        size -= 1
    w = _window(size, sigma, c, x.device, x.dtype)
    c1, c2 = 0.01**2, 0.03**2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1).float()


def mae(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute error of images in [0, 1] (returns N values)."""
    return (x.float() - y.float()).abs().flatten(1).mean(1)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey <-> colour: repeat a grey channel, or take the luminance of RGB."""
    c = x.shape[1]
    if c == channels:
        return x
    if c >= 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x[:, :3] * weights).sum(1, keepdim=True)
    grey = x if c == 1 else x.mean(1, keepdim=True)
    return grey.expand(-1, channels, -1, -1)
