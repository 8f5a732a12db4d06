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
varies only with the latent.
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import GenlabError
from ..registry import EXPLORERS
from .grid import save_grid

METHODS = ("linear", "slerp")


# -- interpolation maths -------------------------------------------------------------------
def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation; `t` has shape (steps,), result (steps, *z0.shape)."""
    t = t.reshape(-1, *([1] * z0.dim())).to(z0.device, torch.float64)
    return ((1 - t) * z0.double() + t * z1.double()).to(z0.dtype)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the great circle through z0 and z1 (per row of a batch).

    The norm is interpolated linearly as well, so both endpoints are reproduced
    exactly; nearly parallel vectors fall back to linear interpolation.
    """
    a, b = z0.double(), z1.double()
    t = t.to(a.device, torch.float64).reshape(-1, *([1] * a.dim()))
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    omega = torch.arccos((ua * ub).sum(-1, keepdim=True).clamp(-1, 1))
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    wa = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / safe)
    wb = torch.where(parallel, t, torch.sin(t * omega) / safe)
    direction = wa * ua + wb * ub  # unit-norm path on the sphere
    norm = (1 - t) * na + t * nb
    out = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps) * norm
    # pin the endpoints bit for bit
    out = torch.where(t == 0, a.expand_as(out), out)
    out = torch.where(t == 1, b.expand_as(out), out)
    return out.to(z0.dtype)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "linear") -> torch.Tensor:
    """Path of `steps` latents from z0 to z1 (both ends included): steps x D, or steps x N x D for batches."""
    if method not in METHODS:
        raise GenlabError(f"unknown interpolation method {method!r}; use one of {', '.join(METHODS)}")
    if steps < 2:
        raise GenlabError(f"--steps must be at least 2 to interpolate (got {steps})")
    t = torch.linspace(0, 1, steps)
    return (lerp if method == "linear" else slerp)(z0, z1, t)


# -- helpers ------------------------------------------------------------------------------
def check_latent_model(model: Any) -> None:
    """Raise a one-line GenlabError unless `model` has latent() and sample(z=...)."""
    try:
        latent_size(model)
    except NotImplementedError:
        raise GenlabError(f"family {model.family!r} has no latent space to explore; use a GAN or VAE run") from None
    if "z" not in inspect.signature(model.sample).parameters:
        raise GenlabError(f"family {model.family!r} cannot decode given latents (no sample(z=...)); "
                          f"use a GAN or VAE run")


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


def latent_size(model: Any) -> int:
    """Length of the model's latent vectors (drawn with a throwaway generator: the global RNG is untouched)."""
    return int(model.latent(1, model.make_generator(0)).shape[1])


# -- grids --------------------------------------------------------------------------------
def interpolation_latents(model: Any, rows: int, steps: int, method: str = "linear",
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows*steps x D latents in row-major order, start latents, end latents)."""
    ends = model.latent(2 * rows, generator or model.make_generator(0)).cpu()
    z0, z1 = ends[:rows], ends[rows:]
    path = interpolate(z0, z1, steps, method)  # steps x rows x D
    return path.transpose(0, 1).reshape(rows * steps, -1), z0, z1


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


def traversal_values(model: Any, *, code: str | None = None, dim: int | None = None, steps: int = 9,
                     span: float | None = None) -> tuple[dict[str, Any], torch.Tensor]:
    """The latent slice to change and the values (one row per column) it takes."""
    size = latent_size(model)
    if (code is None) == (dim is None):
        raise GenlabError("give exactly one of --code NAME (InfoGAN codes) or --dim K (a latent coordinate)")
    if code is not None:
        codes = model.latent_codes() if hasattr(model, "latent_codes") else []
        if not codes:
            raise GenlabError(f"family {model.family!r} has no named latent codes; traverse a coordinate with --dim K "
                              f"(0..{size - 1})")
        found = next((c for c in codes if c["name"] == code), None)
        if found is None:
            raise GenlabError(f"unknown code {code!r}; this model's codes are "
                              + ", ".join(f"{c['name']} ({c['kind']}{', %d values' % c['size'] if c['kind'] == 'categorical' else ''})"
                                          for c in codes))
    else:
        if not 0 <= dim < size:
            raise GenlabError(f"--dim {dim} is out of range; this model's latent has {size} dimensions (0..{size - 1})")
        found = {"name": f"z{dim}", "kind": "continuous", "start": dim, "size": 1}
    if found["kind"] == "categorical":
        values = F.one_hot(torch.arange(found["size"]), found["size"]).float()
    else:
        if steps < 2:
            raise GenlabError(f"--steps must be at least 2 for a traversal (got {steps})")
        if span is None:  # InfoGAN's uniform codes: extrapolate to +-2 as in the paper; Gaussian latents: +-3 sd
            span = 2.0 if code is not None else 3.0
        values = torch.linspace(-span, span, steps)[:, None]
    return found, values


def traversal_latents(model: Any, rows: int = 4, *, code: str | None = None, dim: int | None = None, steps: int = 9,
                      span: float | None = None, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, int]:
    """(rows*cols x D latents: row r shares base latent r, column j sets the slice to value j; cols)."""
    target, values = traversal_values(model, code=code, dim=dim, steps=steps, span=span)
    base = model.latent(rows, generator or model.make_generator(0)).cpu()
    cols = values.shape[0]
    z = base[:, None, :].repeat(1, cols, 1)
    s, k = target["start"], target["size"]
    z[:, :, s:s + k] = values.to(z.dtype)[None]
    return z.reshape(rows * cols, -1), cols


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
