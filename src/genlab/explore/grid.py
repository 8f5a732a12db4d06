"""Image grids as PNG files."""

from __future__ import annotations

import math
from pathlib import Path

import torch


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    """Write N x C x H x W images in [0, 1] (or one C x H x W image) as a PNG grid."""
    from torchvision.utils import save_image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = images.detach().float().cpu()
    if images.dim() == 3:
        save_image(images, str(path))
        return path
    nrow = nrow or max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    save_image(images, str(path), nrow=nrow, padding=padding, pad_value=1.0)
    return path
