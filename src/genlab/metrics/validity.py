"""Does a metric see what a person sees?  The disturbance protocol of Heusel et al. 2017 (Fig. 1).

Real held-out images are disturbed at increasing levels and scored against the
real training images; a trustworthy extractor gives a FID that rises strictly
with the level of every disturbance.  Beside the six disturbances of the FID
paper (Gaussian noise, Gaussian blur, implanted black rectangles, swirl,
salt-and-pepper noise, contamination with another data set) the protocol
checks the set metrics: mode dropping (recall must fall), mode invention
(precision must fall) and memorisation (copies of training images must be
flagged by `memorisation`).

Everything works on features, so any extractor (`get_extractor`) can be tested::

    from genlab.metrics.validity import run_protocol
    table = run_protocol("fashion-mnist-classifier", real_train, train_labels, real_test, test_labels)

`real_*` are uint8 N x 1 x H x W tensors; the result is a list of rows
``{"test", "level", "value", <metric>: ...}`` and `spearman_table` turns it
into one correlation per test and metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import distances as D
from .extractors import get_extractor
from .memorisation import memorisation, nearest_distances  # noqa: F401  (the check lives in memorisation.py)

# ------------------------------------------------------------ disturbances
# Each takes float images in [0, 1] (N x C x H x W), a level value and a torch
# Generator, and returns disturbed float images in [0, 1].


def gaussian_noise(x: torch.Tensor, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """(1 - alpha) x + alpha N, with N Gaussian noise rescaled to [0, 1] per image (Heusel et al.)."""
    noise = torch.randn(x.shape, generator=gen)
    lo = noise.amin(dim=(1, 2, 3), keepdim=True)
    hi = noise.amax(dim=(1, 2, 3), keepdim=True)
    return (1 - alpha) * x + alpha * (noise - lo) / (hi - lo)


def gaussian_blur(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """Separable Gaussian blur with standard deviation `sigma` pixels (reflect padding)."""
    if sigma <= 0:
        return x.clone()
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    out = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def black_rectangles(x: torch.Tensor, count: float, gen: torch.Generator) -> torch.Tensor:
    """`count` black squares of a quarter of the image side, each at a random position."""
    out = x.clone()
    n, _, h, w = x.shape
    side_h, side_w = max(1, h // 4), max(1, w // 4)
    for _ in range(int(count)):
        top = torch.randint(0, h - side_h + 1, (n,), generator=gen)
        left = torch.randint(0, w - side_w + 1, (n,), generator=gen)
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + side_h).view(n, 1, 1))
                  & (cols >= left.view(n, 1, 1)) & (cols < (left + side_w).view(n, 1, 1)))
        out = out.masked_fill(inside.unsqueeze(1), 0.0)
    return out


def swirl(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Swirl about the centre: each pixel is rotated by strength * exp(-r / (side / 4)) radians."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h)
    xs = torch.linspace(-1, 1, w)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    r = torch.sqrt(gx**2 + gy**2)
    theta = torch.atan2(gy, gx) + strength * torch.exp(-r / 0.5)  # 0.5 = a quarter of the side in [-1, 1] units
    grid = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)
    grid = grid.unsqueeze(0).expand(n, h, w, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def salt_and_pepper(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """A `fraction` of the pixels set to 0 or 1 (half each), the same pixels in every channel."""
    n, _, h, w = x.shape
    u = torch.rand((n, 1, h, w), generator=gen)
    out = x.clone()
    out = torch.where(u < fraction / 2, torch.zeros_like(out), out)
    return torch.where((u >= fraction / 2) & (u < fraction), torch.ones_like(out), out)


def contaminant_digits(size: int, channels: int = 1) -> torch.Tensor:
    """scikit-learn's bundled 8x8 digits, drawn MNIST-style (20 px in a `size` x `size` frame), float [0, 1]."""
    from sklearn.datasets import load_digits  # noqa: PLC0415

    digits = torch.from_numpy(load_digits().images.astype(np.float32) / 16.0).unsqueeze(1)
    inner = max(2, round(size * 20 / 28))
    digits = F.interpolate(digits, size=(inner, inner), mode="bilinear", align_corners=False)
    pad = size - inner
    digits = F.pad(digits, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)).clamp(0, 1)
    return digits.expand(-1, channels, -1, -1).contiguous()


def contamination(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """A `fraction` of the images replaced by images of another data set (handwritten digits)."""
    other = contaminant_digits(x.shape[-1], x.shape[1])
    count = int(round(fraction * len(x)))
    out = x.clone()
    if count:
        where = torch.randperm(len(x), generator=gen)[:count]
        out[where] = other[torch.randint(0, len(other), (count,), generator=gen)]
    return out


@dataclass(frozen=True)
class Disturbance:
    name: str
    fn: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
    levels: tuple[float, ...]  # level 0 (no disturbance) first, then four increasing levels


DISTURBANCES: dict[str, Disturbance] = {
    d.name: d
    for d in (
        Disturbance("gaussian_noise", gaussian_noise, (0.0, 0.05, 0.1, 0.25, 0.5)),
        Disturbance("gaussian_blur", gaussian_blur, (0.0, 0.5, 1.0, 1.5, 2.0)),
        Disturbance("black_rectangles", black_rectangles, (0, 1, 2, 3, 4)),
        Disturbance("swirl", swirl, (0.0, 1.0, 2.0, 3.0, 4.0)),
        Disturbance("salt_and_pepper", salt_and_pepper, (0.0, 0.02, 0.05, 0.1, 0.2)),
        Disturbance("contamination", contamination, (0.0, 0.1, 0.25, 0.5, 0.75)),
    )
}
MODE_DROPPING_LEVELS = (0, 1, 2, 3, 4)  # classes removed
MODE_INVENTION_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4)  # share of samples from classes absent from the reference
MEMORISATION_LEVELS = (0.0, 0.1, 0.25, 0.5, 1.0)  # share of samples that are copies of training images

# What each test must show to pass: (metric, +1 strictly increasing / -1 strictly decreasing with the level).
# FID must see every disturbance and both mode tests; precision must fall with noise and with invented modes,
# recall with dropped modes; the memorisation check must rise with the share of copies.  Every other
# (test, metric) pair is reported as a Spearman correlation but not required.
EXPECTED: dict[str, list[tuple[str, int]]] = {
    **{name: [("fid", +1)] for name in DISTURBANCES},
    "gaussian_noise": [("fid", +1), ("precision", -1)],
    "salt_and_pepper": [("fid", +1), ("precision", -1)],
    "mode_dropping": [("fid", +1), ("recall", -1)],
    "mode_invention": [("fid", +1), ("precision", -1)],
    "memorisation": [("memorisation", +1)],
}


# ------------------------------------------------------------------ metrics


class Reference:
    """Reference features with what the k-NN metrics need precomputed once (their k-NN radii)."""

    def __init__(self, all_rows: np.ndarray, subset: np.ndarray):
        self.all, self.subset = all_rows, subset
        self.mu, self.sigma = D.feature_stats(all_rows)
        self.radii = {k: D.knn_radii(subset, k) for k in (3, 5)}


def set_metrics(fake: np.ndarray, ref: Reference, *, kid_subsets: int = 50, seed: int = 0) -> dict[str, float]:
    """FID (all reference rows), KID, precision/recall (k=3) and density/coverage (k=5) on the reference subset.

    The same definitions as `genlab.metrics.distances` (Kynkäänniemi et al. 2019, Naeem et al. 2020), with the
    reference's k-NN radii computed once for all conditions.
    """
    mu, sigma = D.feature_stats(fake)
    out = {"fid": D.frechet_distance(mu, sigma, ref.mu, ref.sigma)}
    out["kid"] = D.kid(fake, ref.subset, num_subsets=kid_subsets, subset_size=min(1000, len(fake), len(ref.subset)),
                       seed=seed)[0]
    fake_in_real = D._ball_membership(ref.subset, ref.radii[3], fake)[0]
    real_in_fake = D._ball_membership(fake, D.knn_radii(fake, 3), ref.subset)[0]
    out["precision"], out["recall"] = float((fake_in_real > 0).mean()), float((real_in_fake > 0).mean())
    counts, hit = D._ball_membership(ref.subset, ref.radii[5], fake)
    out["density"], out["coverage"] = float(counts.sum() / (5 * len(fake))), float(hit.mean())
    return out


# ----------------------------------------------------------------- protocol


def _features(extractor: Any, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    return extractor.extract(images, batch_size=batch_size).features.double().numpy()


def run_protocol(extractor: Any, train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor,
                 test_labels: torch.Tensor, *, n: int | None = None, ref_subset: int = 10_000, seed: int = 0,
                 tests: Sequence[str] | None = None, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Score every disturbance and set test at every level with `extractor`; one row per (test, level).

    train/test: uint8 N x C x H x W real images with labels.  `n` limits the
    held-out images used (default: all); the reference is the whole train set
    (FID) and a seeded subset of `ref_subset` rows (the k-NN metrics, KID).
    """
    ext = get_extractor(extractor)
    rng = np.random.default_rng(seed)
    n = len(test) if n is None else min(n, len(test))
    test, test_labels = test[:n], test_labels[:n]
    train_f = _features(ext, train)
    subset = np.sort(rng.choice(len(train_f), min(ref_subset, len(train_f)), replace=False))
    chosen = list(tests) if tests is not None else [*DISTURBANCES, "mode_dropping", "mode_invention", "memorisation"]
    real = test.float() / 255.0
    rows: list[dict] = []

    full_ref = Reference(train_f, train_f[subset])

    def record(test_name: str, level: int, value: float, fake_f: np.ndarray, ref: Reference, **extra: float) -> None:
        row = {"test": test_name, "level": level, "value": value, "n": len(fake_f)}
        row.update(set_metrics(fake_f, ref, seed=seed))
        row.update(extra)
        rows.append(row)
        if progress:
            progress(f"{ext.name} {test_name} level {level} ({value:g}): fid {row['fid']:.3f} "
                     f"P {row['precision']:.3f} R {row['recall']:.3f}")

    for name in chosen:
        gen = torch.Generator().manual_seed(seed)
        if name in DISTURBANCES:
            d = DISTURBANCES[name]
            for level, value in enumerate(d.levels):
                fake = d.fn(real, value, gen).clamp(0, 1)
                record(name, level, value, _features(ext, fake), full_ref)
        elif name == "mode_dropping":
            classes = torch.unique(test_labels)
            per_level = min(int((test_labels == c).sum()) for c in classes) * (len(classes) - max(MODE_DROPPING_LEVELS))
            for level, k in enumerate(MODE_DROPPING_LEVELS):
                keep = torch.isin(test_labels, classes[k:])
                idx = torch.nonzero(keep).squeeze(1)
                idx = idx[torch.randperm(len(idx), generator=gen)[:per_level]]
                record(name, level, k, _features(ext, test[idx]), full_ref)
        elif name == "mode_invention":
            classes = torch.unique(test_labels)
            known = classes[: len(classes) - 3]
            ref_rows = np.nonzero(np.isin(train_labels.numpy(), known.numpy()))[0]
            ref_f = train_f[ref_rows]
            ref = Reference(ref_f, ref_f[np.sort(rng.choice(len(ref_f), min(ref_subset, len(ref_f)), replace=False))])
            inside = torch.nonzero(torch.isin(test_labels, known)).squeeze(1)
            outside = torch.nonzero(~torch.isin(test_labels, known)).squeeze(1)
            total = min(len(inside), int(len(outside) / max(MODE_INVENTION_LEVELS)))
            for level, share in enumerate(MODE_INVENTION_LEVELS):
                m = int(round(share * total))
                idx = torch.cat([inside[torch.randperm(len(inside), generator=gen)[: total - m]],
                                 outside[torch.randperm(len(outside), generator=gen)[:m]]])
                record(name, level, share, _features(ext, test[idx]), ref)
        elif name == "memorisation":
            test_f = _features(ext, test)
            for level, share in enumerate(MEMORISATION_LEVELS):
                m = int(round(share * n))
                copies = torch.randperm(len(train), generator=gen)[:m]
                fake_f = test_f.copy()
                fake_f[:m] = train_f[copies.numpy()]
                record(name, level, share, fake_f, full_ref, memorisation=memorisation(fake_f, train_f, test_f))
        else:
            raise ValueError(f"unknown protocol test {name!r}")
    return rows


def spearman(levels: Sequence[float], values: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr  # noqa: PLC0415

    rho = spearmanr(levels, values).statistic
    return float(rho) if np.isfinite(rho) else 0.0


def strictly_monotone(values: Sequence[float], sign: int, floor: float | None = None) -> bool:
    """Whether `values` move strictly in direction `sign` at every step.

    A metric bounded below by `floor` (precision and recall by 0) that has reached its bound cannot fall
    further: a step from the floor to the floor counts as falling, any other tie or reversal does not.
    """
    v = np.asarray(values, dtype=float)
    steps = np.diff(v) * sign > 0
    if floor is not None and sign < 0:
        steps |= (v[:-1] <= floor) & (v[1:] <= floor)
    return bool(np.all(steps))


BOUNDED_BELOW = {"precision": 0.0, "recall": 0.0, "coverage": 0.0, "density": 0.0}


def spearman_table(rows: list[dict], metrics: Sequence[str] = ("fid", "kid", "precision", "recall", "density",
                                                                "coverage", "memorisation")) -> dict[str, dict[str, float]]:
    """{test: {metric: Spearman correlation between level and metric}}."""
    out: dict[str, dict[str, float]] = {}
    for test in dict.fromkeys(r["test"] for r in rows):
        part = sorted((r for r in rows if r["test"] == test), key=lambda r: r["level"])
        out[test] = {m: spearman([r["level"] for r in part], [r[m] for r in part]) for m in metrics if m in part[0]}
    return out


def verdicts(rows: list[dict]) -> dict[str, dict[str, bool]]:
    """{test: {metric: whether it moves strictly in the expected direction across all levels}}."""
    out: dict[str, dict[str, bool]] = {}
    for test, expected in EXPECTED.items():
        part = sorted((r for r in rows if r["test"] == test), key=lambda r: r["level"])
        if part:
            out[test] = {m: strictly_monotone([r[m] for r in part], sign, BOUNDED_BELOW.get(m)) for m, sign in expected}
    return out
