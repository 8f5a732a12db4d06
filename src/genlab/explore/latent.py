"""Latent-space explorations: interpolation, traversals and class grids.

They work on any family whose model draws latents with ``model.latent(n)`` and
decodes given ones with ``model.sample(n, z=...)`` (the GANs and VAEs):

- ``interpolate``: each row walks from one latent to another, linearly or
  along the great circle (slerp, Shoemake 1985; White 2016 for generative
  models); the first and last columns are the samples of the endpoint latents.
- ``traverse``: rows share fixed noise, columns step one latent coordinate
  (``--dim k``) or one InfoGAN code (``--code c1``) through a range of values;
  for a categorical code the columns are its categories.
- ``classes``: rows are the classes of a conditional model, columns samples.

Conditional models get one class per row (``--class`` or random), so a row
varies only with the latent. The latent maths (lerp, slerp, traversal
values) lives in `genlab.latent`; these are the named grids over it.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from ..errors import GenlabError
from ..latent import METHODS, check_latent_model, interpolation_latents, traversal_latents
from ..registry import EXPLORERS
from ..viz import save_grid


# -- helpers -------------------------------------------------------------------------------
def row_labels(model: Any, rows: int, label: int | None, generator: torch.Generator | None) -> torch.Tensor | None:
    """One class per row for conditional models (the given one, or uniform draws)."""
    if not model.conditional:
        if label is not None:
            raise GenlabError(f"family {model.family!r} is not conditional; drop --class")
        return None
    if label is not None:
        return model.check_labels(label, rows).cpu()
    return torch.randint(0, model.num_classes, (rows,), generator=generator, device=model.device).cpu()



def decode(model: Any, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    out = model.sample(z.shape[0], z=z, labels=labels)
    if "images" not in out:
        raise GenlabError(f"family {model.family!r} does not generate images; these explorations draw image grids")
    return out["images"]



# -- grids --------------------------------------------------------------------------------
def interpolation_grid(model: Any, rows: int = 4, steps: int = 10, method: str = "linear", seed: int | None = 0,
                       label: int | None = None) -> dict[str, torch.Tensor]:
    """Images (rows*steps) whose rows interpolate between two latents; also the latents and labels."""
    check_latent_model(model)
    if rows < 1:
        raise GenlabError(f"--rows must be at least 1 (got {rows})")
    gen = model.make_generator(0 if seed is None else seed)
    z, z0, z1 = interpolation_latents(model, rows, steps, method, gen)
    labels = row_labels(model, rows, label, gen)
    per_item = labels.repeat_interleave(steps) if labels is not None else None
    out = {"images": decode(model, z, per_item), "z": z, "z0": z0, "z1": z1}
    if labels is not None:
        out["labels"] = labels
    return out



def traversal_grid(model: Any, rows: int = 4, *, code: str | None = None, dim: int | None = None, steps: int = 9,
                   span: float | None = None, seed: int | None = 0, label: int | None = None) -> dict[str, Any]:
    check_latent_model(model)
    gen = model.make_generator(0 if seed is None else seed)
    z, cols = traversal_latents(model, rows, code=code, dim=dim, steps=steps, span=span, generator=gen)
    labels = row_labels(model, rows, label, gen)
    per_item = labels.repeat_interleave(cols) if labels is not None else None
    return {"images": decode(model, z, per_item), "z": z, "cols": cols}



def class_grid(model: Any, cols: int = 10, seed: int | None = 0, classes: list[int] | None = None) -> dict[str, Any]:
    """Rows are classes (all, or those given), columns `cols` samples of each."""
    if not model.conditional:
        raise GenlabError(f"family {model.family!r} is not conditional; class grids need a conditional model "
                          f"such as cgan")
    if cols < 1:
        raise GenlabError(f"--cols must be at least 1 (got {cols})")
    rows = list(range(model.num_classes)) if classes is None else list(classes)
    labels = torch.tensor(rows, dtype=torch.long).repeat_interleave(cols)
    out = model.sample(labels.numel(), seed=seed, labels=labels)
    return {"images": out["images"], "labels": labels, "cols": cols}



# -- CLI explorers --------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, out: str) -> None:
    parser.add_argument("--out", default=out, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--class", dest="label", type=int, default=None,
                        help="class of every row (conditional families; default: random per row)")


class Interpolate:
    help = "interpolate between random latents (rows: pairs of endpoints; columns: steps)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, default=10, help="images per row, endpoints included")
        parser.add_argument("--rows", type=int, default=4, help="number of interpolations")
        parser.add_argument("--method", choices=METHODS, default="slerp", help="linear or spherical (slerp)")
        _common(parser, "interpolation.png")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        out = interpolation_grid(model, rows=args.rows, steps=args.steps, method=args.method, seed=args.seed,
                                 label=args.label)
        save_grid(out["images"], args.out, nrow=args.steps)
        return f"wrote {args.out} ({args.rows} rows x {args.steps} steps, {args.method} interpolation)"


class Traverse:
    help = "vary one latent code (--code c1, InfoGAN) or coordinate (--dim K) across columns"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--code", default=None, help="InfoGAN code name (c1, c2, ...)")
        parser.add_argument("--dim", type=int, default=None, help="latent coordinate to vary (GANs, VAEs)")
        parser.add_argument("--steps", type=int, default=9, help="values of a continuous code/coordinate")
        parser.add_argument("--span", type=float, default=None,
                            help="values run from -SPAN to SPAN (default 2 for codes, 3 for coordinates)")
        parser.add_argument("--rows", type=int, default=4, help="rows of fixed noise")
        _common(parser, "traversal.png")

    def run(self, model: Any, args: argparse.Namespace) -> str:
        out = traversal_grid(model, rows=args.rows, code=args.code, dim=args.dim, steps=args.steps, span=args.span,
                             seed=args.seed, label=args.label)
        save_grid(out["images"], args.out, nrow=out["cols"])
        what = args.code if args.code is not None else f"dimension {args.dim}"
        return f"wrote {args.out} ({args.rows} rows of fixed noise x {out['cols']} values of {what})"


class Classes:
    help = "one row per class of a conditional model"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cols", type=int, default=10, help="samples per class")
        parser.add_argument("--out", default="classes.png", help="PNG file to write")
        parser.add_argument("--seed", type=int, default=0)

    def run(self, model: Any, args: argparse.Namespace) -> str:
        out = class_grid(model, cols=args.cols, seed=args.seed)
        save_grid(out["images"], args.out, nrow=args.cols)
        names = model.data_info.get("class_names") or [str(i) for i in range(model.num_classes)]
        return f"wrote {args.out} (rows: {', '.join(names)}; {args.cols} samples each)"


EXPLORERS.register("interpolate")(Interpolate())
EXPLORERS.register("traverse")(Traverse())
EXPLORERS.register("classes")(Classes())
