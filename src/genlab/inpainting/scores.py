"""How good a completion is, on the hidden region only.

- ``mae``: mean absolute error over the hidden pixels (all channels), per image;
- ``ssim``: SSIM (Wang et al. 2004; genlab's implementation, an 11 x 11
  Gaussian window, sigma 1.5, shrunk to the region for small regions) of the
  hidden region's bounding box, completion against the true image, per image.

The classifier's accuracy on completed images is the third score; it needs a
classifier of the data and lives with the benchmark (benchmarks/inpainting.py).
"""

from __future__ import annotations

import torch

from ..models.cyclegan.scores import ssim


def hidden_box(visible: torch.Tensor) -> tuple[slice, slice]:
    """Rows and columns of the smallest box holding every hidden pixel."""
    rows = torch.nonzero((~visible).any(1)).flatten()
    cols = torch.nonzero((~visible).any(0)).flatten()
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def hidden_scores(completed: torch.Tensor, truth: torch.Tensor, visible: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ``mae`` and ``ssim`` of N x C x H x W completions in [0, 1] on the hidden region."""
    hidden = (~visible).to(completed.dtype).expand_as(completed)
    mae = ((completed.float() - truth.float()).abs() * hidden).flatten(1).sum(1) / hidden.flatten(1).sum(1)
    rows, cols = hidden_box(visible)
    return {"mae": mae, "ssim": ssim(completed[..., rows, cols], truth[..., rows, cols])}
