"""Edge maps of grey images, computed in genlab (edges2fashion's domain A).

Canny-like: Gaussian smoothing, Sobel gradient, thinning by non-maximum
suppression across the edge, then a threshold at a fraction of each image's
strongest edge. Thin white lines (255) on black (0); each image's map depends
on that image only.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError

EDGE_SIGMA = 1.0
EDGE_THRESHOLD = 0.15


def _shift_sum(x: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Zero-padded 1-D correlation of N x H x W `x` with odd-length `weights` along `axis`
    (elementwise sums in a fixed order: identical per image whatever the batch)."""
    r = len(weights) // 2
    pad = [(0, 0)] * 3
    pad[axis] = (r, r)
    p = np.pad(x, pad)
    n = x.shape[axis]
    out = np.zeros_like(x)
    for i, w in enumerate(weights):
        if w:
            window = p[:, i:i + n] if axis == 1 else p[:, :, i:i + n]
            out += x.dtype.type(w) * window
    return out


def edge_maps(images: torch.Tensor, sigma: float = EDGE_SIGMA, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """uint8 N x 1 x H x W items -> uint8 edge maps (255 on edges, 0 elsewhere).

    Canny-like: Gaussian smoothing (`sigma` pixels, radius 4 sigma), Sobel
    gradient, thinning by non-maximum suppression across the edge (gradient
    direction in 4 bins), then a threshold at `threshold` times each image's
    largest magnitude. Each image's map depends on that image only.
    """
    if images.dim() != 4 or images.shape[1] != 1:
        raise DataError("edge_maps expects grey images shaped N x 1 x H x W")
    x = images[:, 0].numpy().astype(np.float32) / np.float32(255.0)
    radius = max(1, int(4 * sigma + 0.5))
    gauss = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    gauss /= gauss.sum()
    smooth_1d, diff_1d = np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    tan22, h, w = np.float32(np.tan(np.pi / 8)), x.shape[1], x.shape[2]
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, len(x), 4096):
        s = _shift_sum(_shift_sum(x[start:start + 4096], gauss, 1), gauss, 2)
        gx = _shift_sum(_shift_sum(s, diff_1d, 2), smooth_1d, 1)
        gy = _shift_sum(_shift_sum(s, diff_1d, 1), smooth_1d, 2)
        mag = np.sqrt(gx * gx + gy * gy)
        ax, ay = np.abs(gx), np.abs(gy)
        bins = {  # gradient direction -> the two neighbours across the edge, as (dy, dx)
            ((0, 1), (0, -1)): ay <= tan22 * ax,
            ((1, 0), (-1, 0)): ax < tan22 * ay,
        }
        diagonal = ~(bins[((0, 1), (0, -1))] | bins[((1, 0), (-1, 0))])
        bins[((1, 1), (-1, -1))] = diagonal & (gx * gy > 0)
        bins[((1, -1), (-1, 1))] = diagonal & (gx * gy <= 0)
        padded = np.pad(mag, ((0, 0), (1, 1), (1, 1)))
        keep = np.zeros(mag.shape, dtype=bool)
        for ((y1, x1), (y2, x2)), where in bins.items():
            n1 = padded[:, 1 + y1:1 + y1 + h, 1 + x1:1 + x1 + w]
            n2 = padded[:, 1 + y2:1 + y2 + h, 1 + x2:1 + x2 + w]
            keep |= where & (mag >= n1) & (mag >= n2)
        peak = mag.reshape(len(mag), -1).max(axis=1).reshape(-1, 1, 1)
        edges = keep & (mag >= np.float32(threshold) * peak) & (peak > 0)
        out[start:start + 4096] = np.where(edges, 255, 0).astype(np.uint8)
    return torch.from_numpy(out).unsqueeze(1)
