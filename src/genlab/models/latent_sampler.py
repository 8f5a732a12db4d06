"""Ex-post latent samplers: a Gaussian mixture fitted on a VAE's training codes.

A VAE's aggregate posterior q(z) = E_x q(z|x) rarely fills its N(0, I) prior;
decoding prior draws that fall in the holes between the codes gives blurry,
off-manifold images. Ghosh et al. (2020, "From variational to deterministic
autoencoders") fit a density to the posterior means E_q[z|x] of the training
images after training and sample from that instead; pythae's
GaussianMixtureSampler does the same. Here:

- `fit_gmm` fits scikit-learn's `GaussianMixture` (full covariances,
  `reg_covar` 1e-4 added to every diagonal, k-means initialisation, seeded)
  on the codes: one mixture, or one per class for a conditional model. A
  group (class) with fewer codes than components gets one component per code;
  a class with no codes at all gets the prior N(0, I) as its single component
  (recorded in ``info["prior_groups"]``).
- `GaussianMixtureSampler.sample` draws in torch from the stored weights,
  means and Cholesky factors with the caller's `torch.Generator`, so the same
  seed gives the same draws and scikit-learn is needed only to fit. Class ids
  pick their class's mixture; rows of class probabilities (explorations that
  blend classes) first draw a class from the row, then from its mixture, i.e.
  they sample the mixture sum_k p_k q(z | k).
- On disk a sampler is two files beside the weights: ``sampler.safetensors``
  (``weights`` G x K, ``means`` G x K x D, ``scale_tril`` G x K x D x D;
  groups with fewer than K components are padded with weight 0, mean 0 and
  the identity) and ``sampler.json`` (kind, format, components per group,
  latent_dim, classes, what it was fitted on). Reading validates everything
  (shapes against the model's latent size and classes, finite values,
  weights positive and summing to 1 per group, lower-triangular factors with
  positive diagonals) and refuses a bad file in one line.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..errors import CheckpointError, GenlabError
from ..version import __version__

#: the samplers a VAE offers: its prior N(0, I), or a Gaussian mixture fitted on its training codes
SAMPLERS = ("prior", "gmm")
TENSORS_FILE = "sampler.safetensors"
META_FILE = "sampler.json"
#: the files a fitted sampler adds to a checkpoint or pretrained folder
FILES = (META_FILE, TENSORS_FILE)
FORMAT = 1
#: added to each covariance's diagonal (scikit-learn's reg_covar; its default 1e-6 lets a
#: component collapse onto a handful of codes)
REG_COVAR = 1e-4
#: training images encoded for a fit, at most (Fashion-MNIST's whole train split)
DEFAULT_LIMIT = 60000
REFIT = "refit it with `genlab fit-sampler RUN`"


class SamplerFileError(CheckpointError):
    """A sampler file that was altered, is missing its partner, or holds invalid values."""


@dataclass
class GaussianMixtureSampler:
    """One Gaussian mixture per group (a single group, or one per class)."""

    weights: torch.Tensor  # G x K, zero-padded
    means: torch.Tensor  # G x K x D
    scale_tril: torch.Tensor  # G x K x D x D
    info: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, tuple[torch.Tensor, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[-1])

    @property
    def classes(self) -> int:
        """Number of classes (0: one mixture for all codes)."""
        return int(self.info.get("classes") or 0)

    def _on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        key = str(device)
        if key not in self._cache:
            self._cache[key] = tuple(t.to(device) for t in (self.weights, self.means, self.scale_tril))
        return self._cache[key]

    def groups(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None,
               device: torch.device) -> torch.Tensor:
        """The mixture each of `n` draws comes from: 0, the class id, or a class drawn from a row
        of class probabilities."""
        if not self.classes:
            return torch.zeros(n, dtype=torch.long, device=device)
        if labels is None:
            raise GenlabError("this sampler has one mixture per class; pass labels (e.g. --class K)")
        labels = labels.to(device)
        if labels.is_floating_point():
            if labels.dim() != 2 or labels.shape != (n, self.classes):
                raise GenlabError(f"soft labels must be {n} x {self.classes} class probabilities, "
                                  f"got shape {list(labels.shape)}")
            if bool((labels < 0).any()) or not bool((labels.sum(1) > 0).all()):
                raise GenlabError("soft labels must be non-negative rows with a positive sum")
            return torch.multinomial(labels.float(), 1, generator=generator).squeeze(1)
        return labels.long().reshape(-1).expand(n) if labels.numel() == 1 else labels.long().reshape(-1)

    def sample(self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """`n` latent codes, N x D: a component by its weight, then mean + L eps."""
        device = torch.device(device)
        weights, means, tril = self._on(device)
        group = self.groups(n, labels, generator, device)
        comp = torch.multinomial(weights[group], 1, replacement=True, generator=generator).squeeze(1)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return means[group, comp] + (tril[group, comp] @ eps.unsqueeze(-1)).squeeze(-1)

    # -- files ------------------------------------------------------------------------
    def to_files(self) -> dict[str, bytes]:
        tensors = {"weights": self.weights, "means": self.means, "scale_tril": self.scale_tril}
        blob = save_tensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                            metadata={"kind": "gmm", "format": str(FORMAT)})
        return {META_FILE: (json.dumps(self.info, indent=2) + "\n").encode(), TENSORS_FILE: blob}

    @classmethod
    def from_files(cls, files: dict[str, bytes], latent_dim: int, classes: int,
                   source: Any = "this folder") -> "GaussianMixtureSampler":
        """Read and validate a sampler for a model with `latent_dim` and `classes` (0: unconditional)."""
        missing = [name for name in FILES if name not in files]
        if missing:
            raise SamplerFileError(f"{source} has {FILES[1 - FILES.index(missing[0])]} but no {missing[0]}; "
                                   f"{REFIT}")
        meta_path, tensors_path = f"{source}/{META_FILE}", f"{source}/{TENSORS_FILE}"
        info = _read_meta(files[META_FILE], meta_path, latent_dim, classes)
        try:
            tensors = load_tensors(files[TENSORS_FILE])
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise SamplerFileError(f"{tensors_path} cannot be read ({str(exc).splitlines()[0][:120]}); "
                                   f"{REFIT}") from None
        _check_tensors(tensors, info, tensors_path, latent_dim)
        return cls(tensors["weights"], tensors["means"], tensors["scale_tril"], info)


def _read_meta(blob: bytes, where: str, latent_dim: int, classes: int) -> dict[str, Any]:
    def bad(problem: str) -> SamplerFileError:
        return SamplerFileError(f"{where} {problem}; {REFIT}")

    try:
        info = json.loads(blob.decode())
    except (ValueError, UnicodeDecodeError):
        raise bad("is not valid JSON") from None
    if not isinstance(info, dict) or info.get("kind") != "gmm":
        raise bad("is not a genlab sampler description (kind must be 'gmm')")
    if info.get("format") != FORMAT:
        raise bad(f"has format {info.get('format')!r}, which this genlab does not read (it reads {FORMAT})")
    if info.get("latent_dim") != latent_dim:
        raise bad(f"is for a {info.get('latent_dim')!r}-dimensional latent, but the model's is {latent_dim}")
    if (info.get("classes") or 0) != classes:
        raise bad(f"has {info.get('classes') or 0!r} classes, but the model has {classes}")
    comps, groups = info.get("components"), max(1, classes)
    if (not isinstance(comps, list) or len(comps) != groups
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in comps)):
        raise bad(f"must list {groups} positive component count(s) under 'components'")
    return info


def _check_tensors(tensors: dict[str, torch.Tensor], info: dict[str, Any], where: str, latent_dim: int) -> None:
    def bad(problem: str) -> SamplerFileError:
        return SamplerFileError(f"{where} {problem}; {REFIT}")

    if set(tensors) != {"weights", "means", "scale_tril"}:
        raise bad(f"holds {sorted(tensors)}, not exactly weights, means and scale_tril")
    comps = info["components"]
    g, k, d = len(comps), max(comps), latent_dim
    want = {"weights": (g, k), "means": (g, k, d), "scale_tril": (g, k, d, d)}
    for name, shape in want.items():
        t = tensors[name]
        if tuple(t.shape) != shape:
            raise bad(f"has {name} of shape {list(t.shape)}, expected {list(shape)}")
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise bad(f"has non-finite or non-float values in {name}")
    w, tril = tensors["weights"].double(), tensors["scale_tril"]
    used = torch.arange(k)[None, :] < torch.tensor(comps)[:, None]
    if not bool((w[used] > 0).all()) or not bool((w[~used] == 0).all()):
        raise bad("has weights that are not positive (or padding that is not 0)")
    if not bool(((w.sum(1) - 1).abs() < 1e-4).all()):
        raise bad("has weights that do not sum to 1")
    if not bool((torch.diagonal(tril, dim1=-2, dim2=-1) > 0).all()):
        raise bad("has Cholesky factors with non-positive diagonals")
    if bool((torch.triu(tril, diagonal=1) != 0).any()):
        raise bad("has Cholesky factors that are not lower-triangular")


def fit_gmm(codes: torch.Tensor, labels: torch.Tensor | None = None, classes: int = 0, components: int = 10,
            seed: int = 0, fitted_on: dict[str, Any] | None = None,
            reg_covar: float = REG_COVAR) -> GaussianMixtureSampler:
    """Fit a mixture on N x D `codes` (one per class of `labels` when `classes` > 0)."""
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415 - only fitting needs scikit-learn
    from sklearn.mixture import GaussianMixture  # noqa: PLC0415

    if components < 1:
        raise GenlabError(f"a Gaussian mixture needs at least 1 component (got {components})")
    x = codes.detach().double().cpu().numpy()
    if x.ndim != 2 or x.shape[0] == 0:
        raise GenlabError("no latent codes to fit the sampler on; give it training images")
    if not np.isfinite(x).all():
        raise GenlabError("the encoder gave non-finite latent codes; the model diverged, use an earlier checkpoint")
    d = x.shape[1]
    if classes:
        y = labels.detach().long().cpu().numpy() if labels is not None else None
        if y is None or y.shape[0] != x.shape[0]:
            raise GenlabError("a per-class sampler needs one label per code")
        parts = [x[y == c] for c in range(classes)]
    else:
        parts = [x]
    fits = []
    for part in parts:
        if part.shape[0] == 0:
            fits.append((np.ones(1), np.zeros((1, d)), np.eye(d)[None], True, 0))
            continue
        k = min(components, part.shape[0])
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=reg_covar, random_state=seed, max_iter=200)
        with warnings.catch_warnings():  # tiny fits warn; whether EM converged is kept in info["converged"]
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(part)
        fits.append((gmm.weights_, gmm.means_, np.linalg.cholesky(gmm.covariances_), bool(gmm.converged_),
                     int(part.shape[0])))
    k_max = max(f[0].shape[0] for f in fits)
    weights = torch.zeros(len(fits), k_max, dtype=torch.float64)
    means = torch.zeros(len(fits), k_max, d, dtype=torch.float64)
    tril = torch.eye(d, dtype=torch.float64).repeat(len(fits), k_max, 1, 1)
    for i, (w, m, chol, _, _) in enumerate(fits):
        weights[i, :len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float64))
        means[i, :len(w)] = torch.from_numpy(m)
        tril[i, :len(w)] = torch.tril(torch.from_numpy(chol))
    weights = weights / weights.sum(1, keepdim=True)
    info = {"kind": "gmm", "format": FORMAT, "latent_dim": d, "classes": classes or None,
            "components": [int(f[0].shape[0]) for f in fits], "requested_components": int(components),
            "covariance": "full", "reg_covar": reg_covar, "seed": int(seed),
            "codes": [f[4] for f in fits], "converged": [f[3] for f in fits],
            "prior_groups": [i for i, f in enumerate(fits) if f[4] == 0],
            "fitted_on": dict(fitted_on or {}), "genlab_version": __version__}
    return GaussianMixtureSampler(weights.float(), means.float(), tril.float(), info)


def log_density(sampler: GaussianMixtureSampler, z: torch.Tensor, group: int = 0) -> torch.Tensor:
    """log q(z) of N x D codes under one group's mixture (for checks and diagnostics)."""
    k = sampler.info["components"][group]
    dist = torch.distributions.MultivariateNormal(sampler.means[group, :k].double(),
                                                  scale_tril=sampler.scale_tril[group, :k].double())
    return torch.logsumexp(dist.log_prob(z.double()[:, None, :]) + sampler.weights[group, :k].double().log(), 1)
