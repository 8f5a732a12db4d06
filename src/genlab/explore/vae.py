"""Explorations of the VAE families (vae, cvae): reconstructions, latent
traversals, interpolations and, for 2-D latents, the latent scatter and manifold.

Each is registered in `EXPLORERS` and run as ``genlab explore KIND RUN ...``.
Real images come from the dataset the model was trained on (its ``test``
split by default); ``--data``, ``--data-root`` and ``--split`` choose others.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..data import load_dataset
from ..errors import GenlabError
from ..io import check_writable
from ..latent import interpolate
from ..models.vae.model import VAE, pair_rows
from ..registry import EXPLORERS
from ..viz import save_grid


# -- shared helpers -----------------------------------------------------------------------
def require_vae(model: Any, kind: str):
    if not isinstance(model, VAE):
        raise GenlabError(f"`explore {kind}` needs a model of the VAE families (vae, cvae); "
                          f"this run holds a {model.family} model")
    return model


def add_out(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--out", default=default, help=f"PNG file to write (default {default})")


def add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=None, help="dataset of the real images (default: the training dataset)")
    p.add_argument("--data-root", default=None, help="where that dataset lives (default: the run's --data-root)")
    p.add_argument("--split", default="test", help="split of the real images (default test)")
    p.add_argument("--items", default=None, metavar="START:END",
                   help="use only items START..END-1 of the split (e.g. a part held out from training)")
    p.add_argument("--seed", type=int, default=0, help="seed that picks the real images")


def add_class(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--class", dest="label", type=int, default=None, help=f"class to {what} (cvae)")


def train_settings(run: str) -> dict[str, Any]:
    """The trainer settings saved with a run or checkpoint folder (data, data_root)."""
    path = Path(run)
    for cfg in (path / "config.json", path.parent.parent / "config.json"):
        try:
            meta = json.loads(cfg.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("train"), dict):
            return meta["train"]
    return {}


def real_images(model: Any, args: argparse.Namespace, n: int | None):
    """`n` real [0, 1] images (grey, not binarised) and their labels (or None)."""
    saved = train_settings(args.run)
    name = args.data or saved.get("data") or model.data_info.get("dataset")
    if not name:
        raise GenlabError("cannot tell which dataset this model was trained on; pass --data NAME")
    data = load_dataset(name, root=args.data_root or saved.get("data_root"), split=args.split,
                        image_size=model.image_shape[-1])
    tensors = data.prepare("cpu")
    if args.items:
        start, end = parse_items(args.items, int(tensors["x"].shape[0]))
        tensors = {k: v[start:end] for k, v in tensors.items()}
    count = int(tensors["x"].shape[0])
    if count == 0:
        raise GenlabError(f"the {args.split} split of {name} holds no images; pick another --split or --items")
    if n is not None and n < count:
        idx = torch.randperm(count, generator=torch.Generator().manual_seed(int(args.seed)))[:n]
        tensors = {k: v[idx] for k, v in tensors.items()}
    x01, labels = model.eval_tensors(tensors, None, args.seed, binarize=False)
    real_labels = tensors.get("y")
    return x01, labels, (labels if labels is not None else real_labels), data.info


def parse_items(text: str, count: int) -> tuple[int, int]:
    """'START:END' (either may be empty) -> a valid slice of `count` items."""
    start, colon, end = text.partition(":")
    try:
        a = int(start) if start.strip() else 0
        b = int(end) if colon and end.strip() else count
    except ValueError:
        a = b = -1
    if not colon or not 0 <= a < b or a >= count:
        raise GenlabError(f"--items {text!r} is not a range START:END of the split's {count} items; "
                          f"e.g. --items 8000:{count}")
    return a, min(b, count)


def class_labels(model: Any, label: int | None, n: int, fallback: torch.Tensor | None = None):
    """Labels for decoding n codes: --class, else `fallback`, else class 0 (cvae only)."""
    if label is not None:
        return model.check_labels(label, n)
    if not model.conditional:
        return None
    if fallback is not None:
        return fallback.reshape(-1)[:1].expand(n).to(model.device)
    return model.check_labels(0, n)


def need_2d(model: Any, kind: str) -> None:
    if model.config.latent_dim != 2:
        raise GenlabError(f"`explore {kind}` needs a 2-D latent space, this model has latent_dim="
                          f"{model.config.latent_dim}; train one with --latent-dim 2 (or use vae-traverse)")


def written(path: Path, what: str) -> str:
    return f"wrote {path} ({what})"


def check_out(path: str) -> Path:
    out = Path(path)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise GenlabError(f"--out {path!r} must be a .png (or .jpg) file")
    check_writable(out)
    return out


def positive(name: str, value: int) -> None:
    if value < 1:
        raise GenlabError(f"--{name} must be at least 1 (got {value})")


# -- reconstruct ------------------------------------------------------------------------
class Reconstruct:
    help = "real test images (odd rows) above their reconstructions (even rows)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_out(p, "reconstruct.png")
        add_data(p)
        p.add_argument("--n", type=int, default=32, help="number of real images")
        p.add_argument("--ncol", type=int, default=8, help="images per row")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        model = require_vae(model, "reconstruct")
        positive("n", args.n)
        positive("ncol", args.ncol)
        out = check_out(args.out)
        x01, labels, _, _ = real_images(model, args, args.n)
        rec = model.reconstruct(x01, labels)
        mse = float((rec - x01).pow(2).mean())
        save_grid(pair_rows(x01, rec, args.ncol), out, nrow=args.ncol)
        return written(out, f"{x01.shape[0]} {args.split} images and their reconstructions, "
                            f"pixel MSE {mse:.4f}")


# -- traversal --------------------------------------------------------------------------
class Traverse:
    help = "one row per latent dimension (the top ones by KL), z_i swept from -R to R"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_out(p, "vae-traverse.png")
        add_data(p)
        add_class(p, "decode")
        p.add_argument("--dims", type=int, default=10, help="number of dimensions (rows), the top ones by KL")
        p.add_argument("--steps", type=int, default=11, help="values per dimension (columns)")
        p.add_argument("--range", dest="limit", type=float, default=3.0, help="sweep z_i over [-R, R]")
        p.add_argument("--index", type=int, default=0, help="the real image whose posterior mean is the base code")
        p.add_argument("--base", choices=("image", "zero"), default="image",
                       help="sweep around a real image's posterior mean or around z = 0")
        p.add_argument("--n-rank", type=int, default=1000, help="real images that rank dimensions by KL")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        model = require_vae(model, "vae-traverse")
        for name in ("dims", "steps", "n_rank"):
            positive(name.replace("_", "-"), getattr(args, name))
        out = check_out(args.out)
        x01, labels, _, _ = real_images(model, args, args.n_rank)
        if not 0 <= args.index < x01.shape[0]:
            raise GenlabError(f"--index {args.index} is out of range; pick 0..{x01.shape[0] - 1}")
        kl = model.kl_per_dim(x01, labels)
        dims = torch.argsort(kl, descending=True)[:min(args.dims, kl.numel())]
        item = slice(args.index, args.index + 1)
        y_item = labels[item] if labels is not None else None
        if args.base == "image":
            base = model.posterior_mean(x01[item], y_item)[0]
        else:
            base = torch.zeros(model.config.latent_dim)
        values = torch.linspace(-args.limit, args.limit, args.steps)
        z = base.repeat(len(dims) * args.steps, 1)
        for row, d in enumerate(dims.tolist()):
            z[row * args.steps:(row + 1) * args.steps, d] = values
        y = class_labels(model, args.label, z.shape[0], y_item)
        save_grid(model.decode_images(z, y), out, nrow=args.steps)
        rows = ", ".join(f"z{d} ({kl[d]:.2f})" for d in dims.tolist())
        return written(out, f"rows: {rows} nats of KL; columns: z from {-args.limit:g} to {args.limit:g}")


# -- interpolation ----------------------------------------------------------------------
class Interpolate:
    help = "rows from one real image to another through the latent space (posterior means)"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_out(p, "vae-interpolate.png")
        add_data(p)
        p.add_argument("--pairs", type=int, default=6, help="number of image pairs (rows)")
        p.add_argument("--steps", type=int, default=10, help="decoded codes between (and including) the two ends")
        p.add_argument("--mode", choices=("linear", "slerp"), default="linear", help="linear or spherical path")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        model = require_vae(model, "vae-interpolate")
        positive("pairs", args.pairs)
        if args.steps < 2:
            raise GenlabError(f"--steps must be at least 2 (got {args.steps})")
        out = check_out(args.out)
        x01, labels, _, _ = real_images(model, args, 2 * args.pairs)
        if x01.shape[0] < 2:
            raise GenlabError("interpolation needs at least 2 real images; use a larger --split")
        pairs = x01.shape[0] // 2
        mu = model.posterior_mean(x01, labels)
        t = torch.linspace(0, 1, args.steps)[:, None]
        rows = []
        for p in range(pairs):
            a, b = mu[2 * p], mu[2 * p + 1]
            z = interpolate(a, b, args.steps, args.mode)
            y = None
            if labels is not None:  # blend the one-hot labels along the path
                ya, yb = (F.one_hot(labels[i], model.num_classes).float() for i in (2 * p, 2 * p + 1))
                y = (1 - t) * ya + t * yb
            rows += [x01[2 * p:2 * p + 1], model.decode_images(z, y), x01[2 * p + 1:2 * p + 2]]
        save_grid(torch.cat(rows), out, nrow=args.steps + 2)
        return written(out, f"{pairs} pairs of {args.split} images, {args.steps} {args.mode} steps; "
                            f"real images at both ends")


# -- 2-D latents ------------------------------------------------------------------------
def _figure(size: float = 5.0):
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(figsize=(size, size), dpi=100)


class Scatter:
    help = "2-D latents: posterior means of real test images, coloured by class"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_out(p, "scatter.png")
        add_data(p)
        p.add_argument("--n", type=int, default=5000, help="number of real images")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        model = require_vae(model, "scatter")
        need_2d(model, "scatter")
        positive("n", args.n)
        out = check_out(args.out)
        x01, labels, colour, info = real_images(model, args, args.n)
        mu = model.posterior_mean(x01, labels).numpy()
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        if colour is not None:
            names = info.get("class_names") or [str(i) for i in range(int(colour.max()) + 1)]
            c = colour.numpy()
            for k in range(len(names)):
                sel = c == k
                if sel.any():
                    ax.scatter(mu[sel, 0], mu[sel, 1], s=3, alpha=0.6, label=names[k], color=_colour(k))
            ax.legend(markerscale=4, fontsize=7, loc="best")
        else:
            ax.scatter(mu[:, 0], mu[:, 1], s=3, alpha=0.6)
        ax.set_xlabel("E[z1 | x]")
        ax.set_ylabel("E[z2 | x]")
        cond = " (given the true class)" if model.conditional else ""
        ax.set_title(f"{model.family}: posterior means of {mu.shape[0]} {args.split} images{cond}", fontsize=9)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
        return written(out, f"{mu.shape[0]} posterior means")


def _colour(k: int):
    from matplotlib import colormaps  # noqa: PLC0415

    return colormaps["tab10"](k % 10)


class Manifold:
    help = "2-D latents: images decoded over a grid of the latent plane at Gaussian quantiles"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_out(p, "manifold.png")
        add_class(p, "decode (default 0)")
        p.add_argument("--side", type=int, default=20, help="grid side (side x side images)")
        p.add_argument("--quantile", type=float, default=0.05,
                       help="the grid spans the N(0,1) quantiles from q to 1-q")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        model = require_vae(model, "manifold")
        need_2d(model, "manifold")
        positive("side", args.side)
        if not 0 < args.quantile < 0.5:
            raise GenlabError(f"--quantile must be in (0, 0.5) (got {args.quantile})")
        out = check_out(args.out)
        q = torch.special.ndtri(torch.linspace(args.quantile, 1 - args.quantile, args.side, dtype=torch.float64)).float()
        z2, z1 = torch.meshgrid(q.flip(0), q, indexing="ij")  # rows: z2 high to low; columns: z1 low to high
        z = torch.stack([z1.reshape(-1), z2.reshape(-1)], 1)
        y = class_labels(model, args.label, z.shape[0])
        save_grid(model.decode_images(z, y), out, nrow=args.side)
        what = f"{args.side}x{args.side} codes, z in [{float(q[0]):.2f}, {float(q[-1]):.2f}]"
        if y is not None:
            what += f", class {int(y[0])}"
        return written(out, what)


for _name, _explorer in (("reconstruct", Reconstruct()), ("vae-traverse", Traverse()),
                         ("vae-interpolate", Interpolate()), ("scatter", Scatter()), ("manifold", Manifold())):
    EXPLORERS.register(_name)(_explorer)
