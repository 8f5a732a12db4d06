"""Sequence outputs: plots of real vs generated series, CSV and text files.

- `render_series` / `render_text` draw a matplotlib figure into a
  3 x H x W float tensor in [0, 1], which the Trainer writes as a preview
  image like any sample grid.
- `plot_real_vs_generated(real, fake, path)` writes that figure as a PNG.
- `save_sequences_csv(samples, path, columns)` writes samples in long format:
  one row per (sample, step), one column per feature (and the label).
- `save_text(source, path)` writes one generated word per line.
- The ``series-plot`` exploration (``genlab explore series-plot RUN --out
  F``) samples a trained sequence model and writes F by its suffix: .png
  (real vs generated plot), .csv (series in original units) or .txt (words).
"""

from __future__ import annotations

import csv
import logging
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import GenlabError
from ..registry import EXPLORERS


def _figure_to_tensor(fig: Any) -> torch.Tensor:
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    import matplotlib.pyplot as plt

    plt.close(fig)
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float().div_(255.0)


def _series_figure(real: torch.Tensor | None, fake: torch.Tensor, columns: Sequence[str] | None = None,
                   n: int = 4, features: int = 3, title: str = ""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    return _figure_to_tensor(_series_figure(real, fake, columns, n, features))


def render_text(real: Sequence[str] | None, fake: Sequence[str], n: int = 16) -> torch.Tensor:
    """Two columns of words, real and generated, as a 3 x H x W image in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        return _figure_to_tensor(fig)


#: fonts with Chinese, Japanese and Korean glyphs that matplotlib falls back to where installed
#: (Debian: fonts-wqy-zenhei, fonts-noto-cjk, fonts-droid-fallback)
CJK_FONTS = ("WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans Mono CJK SC", "Droid Sans Fallback")


def text_fonts() -> list[str]:
    """A monospace font, then any installed CJK font (matplotlib falls back glyph by glyph)."""
    from matplotlib import font_manager

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = _series_figure(real, fake, columns, n, features, title)
    fig.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def save_sequences_csv(samples: dict[str, Any] | torch.Tensor, path: str | Path,
                       columns: Sequence[str] | None = None) -> Path:
    """Long-format CSV: sample, step, one column per feature (, label)."""
    seqs = samples["sequences"] if isinstance(samples, dict) else samples
    labels = samples.get("labels") if isinstance(samples, dict) else None
    seqs = torch.as_tensor(seqs).detach().cpu()
    if seqs.dim() != 3:
        raise GenlabError(f"expected N x T x D sequences to write as CSV (got shape {tuple(seqs.shape)})")
    cols = list(columns or [f"feature{i}" for i in range(seqs.shape[2])])
    if len(cols) != seqs.shape[2]:
        raise GenlabError(f"{len(cols)} column names for {seqs.shape[2]} features; give one name per feature")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample", "step", *cols] + (["label"] if labels is not None else []))
        arr = seqs.double().numpy()
        for i in range(arr.shape[0]):
            extra = [int(labels[i])] if labels is not None else []
            for t in range(arr.shape[1]):
                w.writerow([i, t, *(f"{v:.6g}" for v in arr[i, t])] + extra)
    return path


def save_text(source: Any, path: str | Path, *, n: int = 100, seed: int = 0) -> Path:
    """One word per line, from a token model (sampled), its samples dict, or a list of strings."""
    if isinstance(source, (list, tuple)):
        words = [str(s) for s in source]
    elif isinstance(source, dict):
        raise GenlabError("save_text needs the model to decode tokens: pass the model, or model.decode_text(tokens)")
    elif hasattr(source, "decode_text"):
        words = source.decode_text(source.sample(n, seed=seed)["tokens"])
    else:
        raise GenlabError(f"cannot write {type(source).__name__} as text; pass a word model or a list of strings")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(w + "\n" for w in words))
    return path


def real_data(model: Any, split: str = "test") -> Any | None:
    """The data a loaded model was trained on (re-read from its saved source), or None."""
    from ..data.sequences import reload_source

    try:
        return reload_source(model.data_info, split)
    except GenlabError:
        return None


class SeriesPlot:
    help = "sequence models: write real-vs-generated plot (.png), series (.csv) or words (.txt)"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default="series.png", help="series.png, samples.csv or words.txt")
        parser.add_argument("--n", type=int, default=None, help="samples to draw (default 4 for plots, 100 otherwise)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--class", dest="label", type=int, default=None, help="class (conditional models)")
        parser.add_argument("--pca", default=None, help="also write a PCA/t-SNE plot of real vs generated here")
        parser.add_argument("--pca-n", type=int, default=500, help="sequences of each kind in the PCA/t-SNE plot")

    def run(self, model: Any, args: Any) -> str:
        kind = model.data_info.get("kind")
        if kind not in ("sequence", "tokens"):
            raise GenlabError(f"series-plot works on sequence models; {model.family} was trained on {kind} data")
        out = Path(args.out)
        suffix = out.suffix.lower()
        if kind == "tokens":
            n = args.n or 100
            words = model.decode_text(model.sample(n, seed=args.seed)["tokens"])
            if suffix == ".txt":
                save_text(words, out)
                return f"wrote {out} ({n} words)"
            if suffix == ".png":
                data = real_data(model)
                from .grid import save_grid

                save_grid(render_text(data.words()[:n] if data is not None else None, words, n=min(n, 40)), out)
                return f"wrote {out}"
            raise GenlabError(f"unknown output type {suffix!r} for a word model; use words.txt or plot.png")
        n = args.n or (4 if suffix == ".png" else 100)
        samples = model.sample(n, seed=args.seed, labels=args.label)
        columns = model.data_info.get("columns")
        messages = []
        if suffix == ".csv":
            save_sequences_csv(samples, out, columns)
            messages.append(f"wrote {out} ({n} sequences, original units)")
        elif suffix == ".png":
            data = real_data(model)
            real = data.inverse_transform(data.tensors["x"][:n]) if data is not None else None
            plot_real_vs_generated(real, samples["sequences"], out, columns, n=n)
            messages.append(f"wrote {out}")
        else:
            raise GenlabError(f"unknown output type {suffix!r} for a sequence model; use samples.csv or plot.png")
        if args.pca:
            from ..seqmetrics import plot_pca_tsne

            data = real_data(model)
            if data is None:
                raise GenlabError("the training data of this model cannot be found; --pca needs it")
            k = min(args.pca_n, len(data))
            fake = model.sample(k, seed=args.seed, scaled=True)["sequences"]
            plot_pca_tsne(data.tensors["x"], fake, args.pca, n=k, seed=args.seed)
            messages.append(f"wrote {args.pca}")
        return "; ".join(messages)


EXPLORERS.register("series-plot")(SeriesPlot())
