"""The ``series-plot`` exploration of sequence models.

``genlab explore series-plot RUN --out F`` samples a trained sequence model
and writes F by its suffix: .png (real vs generated plot), .csv (series in
original units) or .txt (words). The drawing lives in `genlab.viz`, the CSV
and text writers in `genlab.io`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.sequences import reload_source
from ..errors import GenlabError
from ..io import save_sequences_csv, save_text
from ..registry import EXPLORERS
from ..seqmetrics import plot_pca_tsne
from ..viz import plot_real_vs_generated, render_text, save_grid


def real_data(model: Any, split: str = "test") -> Any | None:
    """The data a loaded model was trained on (re-read from its saved source), or None."""
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
            data = real_data(model)
            if data is None:
                raise GenlabError("the training data of this model cannot be found; --pca needs it")
            k = min(args.pca_n, len(data))
            fake = model.sample(k, seed=args.seed, scaled=True)["sequences"]
            plot_pca_tsne(data.tensors["x"], fake, args.pca, n=k, seed=args.seed)
            messages.append(f"wrote {args.pca}")
        return "; ".join(messages)


EXPLORERS.register("series-plot")(SeriesPlot())
