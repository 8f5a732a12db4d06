"""Distances between sets of features: pure functions, no models, no datasets.

Every function accepts NumPy arrays or torch tensors (N x D features, or N x K
logits) and computes in float64 NumPy.  Conventions:

* FID: Fréchet distance between Gaussians fitted to the two sets
  (unbiased covariance, ddof=1).
* KID: unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3,
  averaged over random subsets (Bińkowski et al. 2018).
* Precision / recall: Kynkäänniemi et al. 2019, k-NN balls (k=3 by default);
  a point is inside a ball when its distance is <= the ball's radius.
* Density / coverage: Naeem et al. 2020 (k=5 by default), same ball convention.
* Inception-style score: exp(E_x KL(p(y|x) || p(y))), mean and std over splits.
* Class coverage: share of classes that receive at least `min_fraction` of the
  predictions, plus the normalised entropy of the predicted-class histogram.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg
import scipy.special

from .errors import MetricsError

# Rows of the pairwise-distance matrix computed at a time (bounds memory to
# CHUNK x N float64 values).
_CHUNK = 1024


def as_array(x: Any, *, ndim: int | None = None, name: str = "features") -> np.ndarray:
    """`x` (array, tensor, list) as a float64 NumPy array, checking its rank and finiteness."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch here
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise MetricsError(f"{name} must have {ndim} dimensions, got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise MetricsError(f"{name} contain NaN or infinite values")
    return arr


def _two_sets(a: Any, b: Any, min_rows: int) -> tuple[np.ndarray, np.ndarray]:
    x = as_array(a, ndim=2, name="first feature set")
    y = as_array(b, ndim=2, name="second feature set")
    if x.shape[1] != y.shape[1]:
        raise MetricsError(f"feature sets differ in dimension: {x.shape[1]} vs {y.shape[1]}")
    if len(x) < min_rows or len(y) < min_rows:
        raise MetricsError(f"need at least {min_rows} samples per set, got {len(x)} and {len(y)}")
    return x, y


# --------------------------------------------------------------------------- FID


def feature_stats(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of N x D features (N >= 2)."""
    x = as_array(features, ndim=2)
    if len(x) < 2:
        raise MetricsError(f"need at least 2 samples for a covariance, got {len(x)}")
    return x.mean(axis=0), np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1])


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr sqrt(S1 S2) through the symmetric form sqrt(S1) S2 sqrt(S1); always well defined."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr sqrt(S1 S2) for covariance matrices S1, S2.

    Uses scipy.linalg.sqrtm on the product.  Round-off can leave a tiny
    imaginary part (dropped when below 1e-6 of the real part's scale).  When
    sqrtm fails or warns (a singular product, e.g. from rank-deficient
    covariances), returns non-finite values, or leaves a large imaginary part,
    falls back to the eigenvalues of the symmetric PSD matrix
    sqrt(S1) S2 sqrt(S1), whose square roots sum to the same trace.
    """
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            root = scipy.linalg.sqrtm(sigma1 @ sigma2)
        except (ValueError, np.linalg.LinAlgError):
            root = None
    singular = any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)
    if root is None or singular or not np.all(np.isfinite(root)):
        return _trace_sqrt_product_eigh(sigma1, sigma2)
    if np.iscomplexobj(root):
        scale = max(float(np.abs(root.real).max()), np.finfo(np.float64).tiny)
        if float(np.abs(root.imag).max()) > 1e-6 * scale:
            return _trace_sqrt_product_eigh(sigma1, sigma2)
        root = root.real
    return float(np.trace(root))


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)), clipped at 0 against round-off."""
    m1, m2 = as_array(mu1, ndim=1, name="mu1"), as_array(mu2, ndim=1, name="mu2")
    s1, s2 = as_array(sigma1, ndim=2, name="sigma1"), as_array(sigma2, ndim=2, name="sigma2")
    if not (m1.shape == m2.shape and s1.shape == s2.shape == (m1.size, m1.size)):
        raise MetricsError(
            f"incompatible statistics shapes: mu {m1.shape}/{m2.shape}, sigma {s1.shape}/{s2.shape}"
        )
    diff = m1 - m2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    return float(max(value, 0.0))


def fid(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two N x D feature sets."""
    x, y = _two_sets(features_a, features_b, min_rows=2)
    return frechet_distance(*feature_stats(x), *feature_stats(y))


# --------------------------------------------------------------------------- KID


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (x.y / D + coef0)^degree for all row pairs."""
    k = x @ y.T
    k /= x.shape[1]
    k += coef0
    return k * k * k if degree == 3 else k**degree  # repeated products are much faster than pow


def mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD^2 estimate between two sets with the cubic polynomial kernel."""
    a, b = _two_sets(x, y, min_rows=2)
    m, n = len(a), len(b)
    kxx, kyy, kxy = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    term_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(term_x + term_y - 2.0 * kxy.mean())


def kid_subsets(n_a: int, n_b: int, num_subsets: int, subset_size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (rows of a, rows of b) index pairs `kid` averages over, drawn without replacement.

    Exposed so the subset draw is documented and reproducible:
    ``rng = np.random.default_rng(seed)``, then per subset
    ``rng.choice(n_a, m, replace=False)`` and ``rng.choice(n_b, m, replace=False)``
    with ``m = min(subset_size, n_a, n_b)``.
    """
    m = min(subset_size, n_a, n_b)
    rng = np.random.default_rng(seed)
    return [(rng.choice(n_a, m, replace=False), rng.choice(n_b, m, replace=False)) for _ in range(num_subsets)]


def kid(
    features_a: Any, features_b: Any, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of unbiased MMD^2 over random subsets."""
    x, y = _two_sets(features_a, features_b, min_rows=2)
    if num_subsets < 1 or subset_size < 2:
        raise MetricsError(f"KID needs num_subsets >= 1 and subset_size >= 2, got {num_subsets}, {subset_size}")
    values = np.array([mmd2_unbiased(x[ia], y[ib]) for ia, ib in kid_subsets(len(x), len(y), num_subsets, subset_size, seed)])
    return float(values.mean()), float(values.std())


# ------------------------------------------------------- k-NN based set metrics


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = (a * a).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _row_chunks(x: np.ndarray):
    for start in range(0, len(x), _CHUNK):
        yield start, x[start : start + _CHUNK]


def knn_radii(features: Any, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row of the same set."""
    x = as_array(features, ndim=2)
    if not 1 <= k < len(x):
        raise MetricsError(f"k-NN radius needs 1 <= k < number of samples, got k={k}, n={len(x)}")
    x_sq = (x * x).sum(axis=1)
    radii = np.empty(len(x))
    for start, rows in _row_chunks(x):
        d = _squared_distances(rows, x, x_sq)
        # Index k of the sorted row: index 0 is the point itself (distance 0).
        radii[start : start + len(rows)] = np.partition(d, k, axis=1)[:, k]
    return radii


def _ball_membership(centres: np.ndarray, radii: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For balls B(centre_i, radius_i): (#balls containing each point, whether each ball holds a point)."""
    p_sq = (points * points).sum(axis=1)
    count_per_point = np.zeros(len(points), dtype=np.int64)
    ball_hit = np.zeros(len(centres), dtype=bool)
    for start, rows in _row_chunks(centres):
        inside = _squared_distances(rows, points, p_sq) <= radii[start : start + len(rows), None]
        count_per_point += inside.sum(axis=0)
        ball_hit[start : start + len(rows)] = inside.any(axis=1)
    return count_per_point, ball_hit


def precision_recall(real: Any, fake: Any, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    precision: share of fake samples inside at least one real k-NN ball;
    recall: share of real samples inside at least one fake k-NN ball.
    """
    r, f = _two_sets(real, fake, min_rows=k + 1)
    real_in_fake_balls = _ball_membership(f, knn_radii(f, k), r)[0]
    fake_in_real_balls = _ball_membership(r, knn_radii(r, k), f)[0]
    return float((fake_in_real_balls > 0).mean()), float((real_in_fake_balls > 0).mean())


def density_coverage(real: Any, fake: Any, *, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), with k-NN balls around real samples.

    density: mean over fake samples of (#real balls containing it) / k;
    coverage: share of real balls that contain at least one fake sample.
    """
    r, f = _two_sets(real, fake, min_rows=k + 1)
    counts, hit = _ball_membership(r, knn_radii(r, k), f)
    return float(counts.sum() / (k * len(f))), float(hit.mean())


# ------------------------------------------------------------ classifier based


def _log_probs(logits: Any) -> np.ndarray:
    z = as_array(logits, ndim=2, name="logits")
    if z.shape[1] < 2:
        raise MetricsError(f"logits need at least 2 classes, got shape {z.shape}")
    return z - scipy.special.logsumexp(z, axis=1, keepdims=True)


def inception_score(logits: Any, *, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) on each of `splits` consecutive chunks: (mean, std)."""
    logp = _log_probs(logits)
    if not 1 <= splits <= len(logp):
        raise MetricsError(f"inception score needs 1 <= splits <= number of samples, got {splits}, {len(logp)}")
    scores = []
    for part in np.array_split(logp, splits):
        p = np.exp(part)
        log_py = np.log(p.mean(axis=0))
        scores.append(np.exp((p * (part - log_py)).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def predicted_classes(logits_or_labels: Any) -> tuple[np.ndarray, int | None]:
    """Class ids from N x K logits (argmax, returning K) or from N integer labels (K unknown)."""
    arr = as_array(logits_or_labels, name="logits")
    if arr.ndim == 2:
        return arr.argmax(axis=1), arr.shape[1]
    if arr.ndim == 1:
        return arr.astype(np.int64), None
    raise MetricsError(f"expected N x K logits or N labels, got shape {arr.shape}")


def class_coverage(
    logits_or_labels: Any, *, num_classes: int | None = None, min_fraction: float | None = None
) -> tuple[float, float]:
    """(coverage, normalised entropy) of the predicted-class histogram.

    coverage: share of the K classes predicted for at least `min_fraction` of the
    samples (default 0.1 / K, a tenth of the uniform share);
    entropy: histogram entropy divided by log K (1 = uniform, 0 = one class).
    """
    pred, k_from_logits = predicted_classes(logits_or_labels)
    k = num_classes or k_from_logits
    if k is None or k < 2:
        raise MetricsError("class coverage needs logits or num_classes >= 2")
    if len(pred) == 0:
        raise MetricsError("class coverage needs at least one sample")
    hist = np.bincount(pred, minlength=k)[:k] / len(pred)
    threshold = 0.1 / k if min_fraction is None else min_fraction
    nz = hist[hist > 0]
    entropy = float(-(nz * np.log(nz)).sum() / np.log(k))
    return float((hist >= threshold).mean()), entropy


def classifier_accuracy(logits: Any, labels: Any) -> float:
    """Share of samples whose argmax class equals the requested label."""
    pred, _ = predicted_classes(logits)
    target = as_array(labels, ndim=1, name="labels").astype(np.int64)
    if len(pred) != len(target):
        raise MetricsError(f"got {len(pred)} predictions but {len(target)} labels")
    return float((pred == target).mean())
