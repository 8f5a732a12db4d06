"""Memorisation check: are samples closer to the training images than real held-out images are?

In an extractor's feature space every sample gets the distance to its nearest
training image (d_s), and every real test image the distance to its nearest
training image (d_t). Real test images were never trained on, so the d_t are
what "new, but from the same distribution" looks like, near-duplicates that
the data set itself holds included. With t_p the p-th percentile of the d_t,

    memorised_p = share of samples with d_s < t_p

is about p / 100 for a model whose samples are as novel as real held-out
images, and rises towards 1 as samples become copies of training images (a
copy has d_s = 0). ``nn_ratio`` = median(d_s) / median(d_t) is below 1 when
samples hug the training set, above 1 when they stray from it (blurry or
broken samples, which are far from everything). `closest` lists the sample /
training pairs with the smallest d_s, for people to look at.

The disturbance protocol (validity.py) checks that `memorisation` rises
strictly with the share of training copies among real test images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: the percentiles of the test images' nearest-neighbour distances reported by `genlab eval`
PERCENTILES = (1, 5)


def nearest(queries: np.ndarray, points: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query row to its nearest row of `points`, and that row's index."""
    p = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    q = torch.as_tensor(np.asarray(queries), dtype=torch.float64)
    p_sq = (p * p).sum(1)
    dist, index = np.empty(len(q)), np.empty(len(q), dtype=np.int64)
    for start in range(0, len(q), chunk):
        rows = q[start:start + chunk]
        d2 = (rows * rows).sum(1)[:, None] + p_sq[None, :] - 2.0 * rows @ p.T
        where = d2.argmin(1)  # then the distance itself, exact (0 for a copy), not from the expansion
        dist[start:start + len(rows)] = (rows - p[where]).norm(dim=1).numpy()
        index[start:start + len(rows)] = where.numpy()
    return dist, index


def nearest_distances(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest row of `points`."""
    return nearest(queries, points)[0]


def memorisation(samples: np.ndarray, train: np.ndarray, test: np.ndarray, *, quantile: float = 0.01) -> float:
    """Share of samples closer to their nearest training image than all but `quantile` of real test images are.

    Real held-out images give about `quantile`; copies of training images push it towards 1.
    """
    return check(samples, train, test).fraction_below(100 * quantile)


@dataclass
class MemorisationReport:
    """Nearest-training-image distances of samples (and which image) and of real test images."""

    sample_distance: np.ndarray
    sample_neighbour: np.ndarray
    test_distance: np.ndarray

    def threshold(self, percentile: float) -> float:
        return float(np.percentile(self.test_distance, percentile))

    def fraction_below(self, percentile: float) -> float:
        """Share of samples nearer to the training set than the `percentile`-th percentile of test images."""
        return float((self.sample_distance < self.threshold(percentile)).mean())

    def scores(self, percentiles: tuple[float, ...] = PERCENTILES) -> dict[str, float]:
        out = {f"memorised_p{p:g}": self.fraction_below(p) for p in percentiles}
        out["nn_ratio"] = float(np.median(self.sample_distance) / max(np.median(self.test_distance), 1e-12))
        return out

    def closest(self, k: int = 8) -> list[tuple[int, int, float]]:
        """(sample index, training index, distance) of the `k` samples nearest to a training image."""
        order = np.argsort(self.sample_distance, kind="stable")[:k]
        return [(int(i), int(self.sample_neighbour[i]), float(self.sample_distance[i])) for i in order]


def check(samples: np.ndarray, train: np.ndarray, test: np.ndarray) -> MemorisationReport:
    """The report for sample, training and test features (rows of one extractor)."""
    d_s, idx = nearest(samples, train)
    return MemorisationReport(d_s, idx, nearest(test, train)[0])
