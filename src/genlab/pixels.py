"""Pixel validation for sample arrays made by any tool (what `genlab eval` scores).

Scores of bad pixels are meaningless, so they are refused in one line: images
must be numeric and finite, N x H x W or N x H x W x C / N x C x H x W with 1,
3 or 4 channels (alpha is dropped), uint8 or integers in 0..255, or floats in
[0, 1]; labels one non-negative integer per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import DataError


def check_pixels(arr: np.ndarray, path: Path) -> torch.Tensor:
    """Validated images as uint8 N x C x H x W (see `read_samples`)."""
    hint = "save images as uint8 0..255 or floats in [0, 1], N x H x W [x C] with 1, 3 or 4 channels"
    if arr.dtype.kind not in "uif":
        raise DataError(f"{path}: 'images' holds {arr.dtype} values, not numbers; {hint}")
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3, 4):  # N x H x W x C, as genlab writes them
        arr = arr.transpose(0, 3, 1, 2)
    elif not (arr.ndim == 4 and arr.shape[1] in (1, 3, 4)):
        raise DataError(f"{path}: 'images' has shape {arr.shape}, which is not images with 1, 3 or 4 "
                        f"channels; {hint}")
    if arr.shape[0] == 0 or min(arr.shape[2:]) < 1:
        raise DataError(f"{path}: 'images' is empty (shape {arr.shape}); {hint}")
    if arr.shape[1] == 4:
        arr = arr[:, :3]  # RGBA: the colour channels are scored, alpha is dropped
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            raise DataError(f"{path}: 'images' holds {int((~finite).sum())} NaN or infinite values; "
                            f"fix the generator's output before scoring it")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 1:
            raise DataError(f"{path}: float images must be in [0, 1], these range over [{lo:.3g}, {hi:.3g}]; "
                            f"{'map [-1, 1] outputs with (x + 1) / 2' if lo >= -1 and hi <= 1 else hint}")
        arr = (arr.astype(np.float32) * 255).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{path}: integer images must be in 0..255, these range over {lo}..{hi}; {hint}")
        arr = arr.astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr))


def check_labels(labels: np.ndarray | None, n: int, path: Path) -> torch.Tensor | None:
    if labels is None:
        return None
    if labels.dtype.kind not in "iub" or labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{path}: 'labels' must be {n} integers, one per image (got {labels.dtype} of shape "
                        f"{labels.shape}); fix or drop them")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{path}: 'labels' holds negative classes ({int(labels.min())}); classes start at 0")
    return torch.from_numpy(labels.astype(np.int64))
