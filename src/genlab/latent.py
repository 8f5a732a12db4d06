"""Latent-space maths for any family that draws latents with ``model.latent(n)``
and decodes given ones with ``model.sample(n, z=...)`` (the GANs and VAEs).

- ``lerp`` / ``slerp`` / ``interpolate``: paths between latents, linear or
  along the great circle (slerp, Shoemake 1985; White 2016 for generative
  models), endpoints reproduced exactly.
- ``interpolation_latents``: rows of paths between random latents.
- ``traversal_values`` / ``traversal_latents``: rows share fixed noise,
  columns step one latent coordinate or one named code (InfoGAN) through a
  range of values; a categorical code's columns are its categories.

It sits below the model families (an InfoGAN draws its preview traversal
with it) and above nothing but errors; the named explorations that draw grids
from these latents live in ``genlab.explore``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F

from .capabilities import CodedLatents, LatentModel
from .errors import GenlabError

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


# -- latents of a model -------------------------------------------------------------------
def check_latent_model(model: Any) -> None:
    """Raise a one-line GenlabError unless `model` has latent() and sample(z=...)."""
    if not isinstance(model, LatentModel):
        raise GenlabError(f"{type(model).__name__} has no latent space to explore; use a GAN or VAE run")
    try:
        latent_size(model)
    except NotImplementedError:
        raise GenlabError(f"family {model.family!r} has no latent space to explore; use a GAN or VAE run") from None
    if "z" not in inspect.signature(model.sample).parameters:
        raise GenlabError(f"family {model.family!r} cannot decode given latents (no sample(z=...)); "
                          f"use a GAN or VAE run")



def latent_size(model: Any) -> int:
    """Length of the model's latent vectors (drawn with a throwaway generator: the global RNG is untouched)."""
    return int(model.latent(1, model.make_generator(0)).shape[1])



def interpolation_latents(model: Any, rows: int, steps: int, method: str = "linear",
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rows*steps x D latents in row-major order, start latents, end latents)."""
    ends = model.latent(2 * rows, generator or model.make_generator(0)).cpu()
    z0, z1 = ends[:rows], ends[rows:]
    path = interpolate(z0, z1, steps, method)  # steps x rows x D
    return path.transpose(0, 1).reshape(rows * steps, -1), z0, z1



def traversal_values(model: Any, *, code: str | None = None, dim: int | None = None, steps: int = 9,
                     span: float | None = None) -> tuple[dict[str, Any], torch.Tensor]:
    """The latent slice to change and the values (one row per column) it takes."""
    size = latent_size(model)
    if (code is None) == (dim is None):
        raise GenlabError("give exactly one of --code NAME (InfoGAN codes) or --dim K (a latent coordinate)")
    if code is not None:
        codes = model.latent_codes() if isinstance(model, CodedLatents) else []
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
