"""Plotting primitives every layer may use: image grids, figure-to-PNG,
series and text rendering, real-vs-generated plots.

They sit at the bottom of the package (next to io.py), so a family that draws
its own preview (a series plot, an InfoGAN traversal) or the Trainer writing a
grid never reaches up into the exploration layer. matplotlib is imported
where a figure is drawn and torchvision where a grid is made: they are heavy
(about half a second, and seconds), and most commands never draw one.
"""

from __future__ import annotations

import io
import logging
import math
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib  # noqa: PLC0415  (heavy; only when drawing)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    pyplot().close(fig)
    return buf.getvalue()


def figure_to_tensor(fig: Any) -> torch.Tensor:
    """A matplotlib figure as a 3 x H x W float tensor in [0, 1]; the figure is closed."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    pyplot().close(fig)
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float().div_(255.0)


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure to `path` (folders created); the figure is closed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    pyplot().close(fig)
    return path


def make_grid(images: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """torchvision's `make_grid` (torchvision is imported on first use: it costs seconds)."""
    from torchvision.utils import make_grid as grid  # noqa: PLC0415  (heavy: pulls in torch._dynamo)

    return grid(images, **kwargs)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    """Write N x C x H x W images in [0, 1] (or one C x H x W image) as a PNG grid."""
    from torchvision.utils import save_image  # noqa: PLC0415  (heavy: pulls in torch._dynamo)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = images.detach().float().cpu()
    if images.dim() == 3:
        save_image(images, str(path))
        return path
    nrow = nrow or max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    save_image(images, str(path), nrow=nrow, padding=padding, pad_value=1.0)
    return path


def series_figure(real: torch.Tensor | None, fake: torch.Tensor, columns: Sequence[str] | None = None,
                  n: int = 4, features: int = 3, title: str = "") -> Any:
    """A figure of `n` real (top row) and generated (bottom row) series, one panel per shown feature."""
    plt = pyplot()
    fake = torch.as_tensor(fake).detach().cpu().float()
    d = fake.shape[2]
    shown = list(range(min(features, d)))
    cols = list(columns or [f"feature{i}" for i in range(d)])
    rows = [("generated", fake[:n], "tab:blue")]
    if real is not None:
        rows.insert(0, ("real", torch.as_tensor(real).detach().cpu().float()[:n], "tab:red"))
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(3.2 * len(shown), 2.4 * len(rows)), dpi=80,
                             squeeze=False, sharex=True)
    for r, (name, x, colour) in enumerate(rows):
        for c, j in enumerate(shown):
            ax = axes[r][c]
            for i in range(x.shape[0]):
                ax.plot(x[i, :, j].numpy(), color=colour, alpha=0.75, lw=1.2)
            ax.set_title(f"{name}: {cols[j]}", fontsize=9)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def render_series(real: torch.Tensor | None, fake: torch.Tensor, columns: Sequence[str] | None = None,
                  n: int = 4, features: int = 3) -> torch.Tensor:
    """A figure of `n` real (top) and generated (bottom) series as a 3 x H x W image in [0, 1]."""
    return figure_to_tensor(series_figure(real, fake, columns, n, features))


def render_text(real: Sequence[str] | None, fake: Sequence[str], n: int = 16) -> torch.Tensor:
    """Two columns of lines, real and generated, as a 3 x H x W image in [0, 1] (any script: wide
    East Asian characters count double, and an installed CJK font is used where one is found)."""
    plt = pyplot()
    columns = [("generated", list(fake)[:n])]
    if real is not None:
        columns.insert(0, ("real", list(real)[:n]))
    widest = max([text_width(w) for _, words in columns for w in words] + [0])
    family = text_fonts()
    fig, ax = plt.subplots(figsize=(max(2.4, 0.115 * widest + 0.4) * len(columns), 0.22 * n + 0.8), dpi=80)
    ax.axis("off")
    for k, (name, words) in enumerate(columns):
        x = k / len(columns) + 0.02
        ax.text(x, 1.0, name, fontsize=11, weight="bold", va="top", family=family, transform=ax.transAxes)
        for i, w in enumerate(words):
            ax.text(x, 1.0 - (i + 1.5) / (n + 2), w or "(empty)", fontsize=10, va="top", family=family,
                    transform=ax.transAxes)
    with warnings.catch_warnings():  # characters no installed font has are drawn as boxes
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        return figure_to_tensor(fig)


#: fonts with Chinese, Japanese and Korean glyphs that matplotlib falls back to where installed
#: (Debian: fonts-wqy-zenhei, fonts-noto-cjk, fonts-droid-fallback)
CJK_FONTS = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans Mono CJK SC", "Droid Sans Fallback")


def text_fonts() -> list[str]:
    """A monospace font, then any installed CJK font (matplotlib falls back glyph by glyph)."""
    from matplotlib import font_manager  # noqa: PLC0415

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in CJK_FONTS if f in names]
    if found:  # they come in one weight: matplotlib's note that it uses it for bold is noise here
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return ["DejaVu Sans Mono"] + found


def text_width(text: str) -> int:
    """Columns `text` takes in a monospace font (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def plot_real_vs_generated(real: torch.Tensor | None, fake: torch.Tensor, path: str | Path,
                           columns: Sequence[str] | None = None, n: int = 4, features: int = 3,
                           title: str = "") -> Path:
    """Write a PNG of `n` real and generated series (first `features` features)."""
    return save_figure(series_figure(real, fake, columns, n, features, title), path)
