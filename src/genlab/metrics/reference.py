"""Reference statistics of real data: computed once per (data, extractor), cached on disk.

A `ReferenceStats` holds the mean and covariance of a real set's features (for
FID) and up to `max_features` raw feature rows (for KID, precision/recall,
density/coverage).  `reference_stats` computes it from a uint8/float image
tensor, or a zero-argument callable returning one (only called on a cache
miss), and caches it as a .safetensors file in

    $GENLAB_CACHE/refstats   (default ~/.cache/genlab/refstats)

named by a hash of the caller's `key` (e.g. dataset and split) together with
the extractor's name and weights hash, `n` and `max_features`.  The module
knows nothing about how datasets load; `dataset_reference` is the one helper
that asks genlab.data for a named split.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .distances import as_array, feature_stats
from .errors import MetricsError
from .extractors import FeatureExtractor, get_extractor, safetensors_metadata

FORMAT_VERSION = "1"
DEFAULT_MAX_FEATURES = 10_000


def cache_dir() -> Path:
    """Directory of cached reference statistics: $GENLAB_CACHE/refstats or ~/.cache/genlab/refstats."""
    root = os.environ.get("GENLAB_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "genlab") / "refstats"


@dataclass
class ReferenceStats:
    """Feature statistics of a real image set.

    mu (D,), sigma (D, D) float64 over all `count` images; `features`
    (<= max_features rows, float32) a seeded random subset for sample-based
    metrics; `key` the string mapping that identifies the data and extractor.
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray | None
    count: int
    key: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_features(
        cls, features: Any, key: Mapping[str, str] | None = None, *, max_features: int = DEFAULT_MAX_FEATURES, seed: int = 0
    ) -> ReferenceStats:
        x = as_array(features, ndim=2)
        mu, sigma = feature_stats(x)
        count = len(x)
        if len(x) > max_features:
            rows = np.sort(np.random.default_rng(seed).choice(len(x), max_features, replace=False))
            x = x[rows]
        return cls(mu, sigma, x.astype(np.float32), count, dict(key or {}))

    @property
    def extractor(self) -> str | None:
        return self.key.get("extractor")

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file + rename) as .safetensors with the key in its metadata."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"mu": self.mu.astype(np.float64), "sigma": self.sigma.astype(np.float64)}
        if self.features is not None:
            tensors["features"] = np.ascontiguousarray(self.features, dtype=np.float32)
        meta = {"genlab_refstats": FORMAT_VERSION, "count": str(self.count), "key": json.dumps(self.key, sort_keys=True)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=meta)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ReferenceStats:
        from safetensors.numpy import load

        path = Path(path)
        try:
            data = path.read_bytes()
            meta = safetensors_metadata(data)
            tensors = load(data)
            if meta.get("genlab_refstats") != FORMAT_VERSION:
                raise ValueError("not a genlab reference-statistics file of this version")
            return cls(
                tensors["mu"], tensors["sigma"], tensors.get("features"), int(meta["count"]), json.loads(meta["key"]), path
            )
        except FileNotFoundError:
            raise MetricsError(f"reference statistics file {path} does not exist") from None
        except (ValueError, KeyError, OSError) as exc:
            raise MetricsError(f"cannot read reference statistics {path}: {exc}") from None


def full_key(key: Mapping[str, Any], extractor: FeatureExtractor, n: int | None, max_features: int) -> dict[str, str]:
    """The caller's key plus everything else that changes the statistics, all as strings."""
    out = {str(k): str(v) for k, v in key.items()}
    out.update(
        extractor=extractor.name,
        weights=extractor.weights_hash,
        n="all" if n is None else str(int(n)),
        max_features=str(int(max_features)),
        version=FORMAT_VERSION,
    )
    return out


def cache_path(key: Mapping[str, str], directory: str | os.PathLike | None = None) -> Path:
    """`<dataset>-<split>-<extractor>-<hash16>.safetensors` in `directory` (default `cache_dir()`)."""
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    parts = [key.get("dataset", "data"), key.get("split", ""), key.get("extractor", "")]
    stem = "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p) for p in parts if p)
    return Path(directory if directory is not None else cache_dir()) / f"{stem}-{digest}.safetensors"


def reference_stats(
    images: Any,
    *,
    key: Mapping[str, Any],
    extractor: Any,
    n: int | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    batch_size: int = 256,
    device: str = "cpu",
    cache: bool = True,
    directory: str | os.PathLike | None = None,
    seed: int = 0,
) -> ReferenceStats:
    """Statistics of `images` (the first `n` if given), read from the cache when present.

    `images`: uint8 (0-255) or float ([0, 1]) N x C x H x W tensor/array, or a
    zero-argument callable returning one (called only when the cache misses).
    `key`: identifies the data, e.g. {"dataset": "fashion-mnist", "split": "train"};
    the caller promises that equal keys mean equal images.
    """
    if not key:
        raise MetricsError("reference_stats needs a non-empty key identifying the images, e.g. {'dataset': ..., 'split': ...}")
    ext = get_extractor(extractor)
    k = full_key(key, ext, n, max_features)
    path = cache_path(k, directory)
    if cache and path.is_file():
        stats = ReferenceStats.load(path)
        if stats.key == k:
            return stats
    data = images() if callable(images) else images
    if n is not None:
        if len(data) < n:
            raise MetricsError(f"reference has {len(data)} images, fewer than n={n}")
        data = data[:n]
    feats = ext.extract(data, batch_size=batch_size, device=device).features
    stats = ReferenceStats.from_features(feats.numpy(), k, max_features=max_features, seed=seed)
    if cache:
        stats.save(path)
    return stats


def dataset_reference(
    dataset: str,
    split: str = "train",
    *,
    extractor: Any,
    n: int | None = None,
    root: str | None = None,
    images: Any = None,
    **kwargs: Any,
) -> ReferenceStats:
    """Cached statistics of a named dataset split, loaded through genlab.data on a cache miss.

    `images` overrides the loader (same semantics as in `reference_stats`) while
    keeping the dataset/split cache key.
    """

    def load() -> Any:
        try:
            from ..data import load_images
        except ImportError as exc:
            raise MetricsError(f"cannot load dataset {dataset!r} for reference statistics: {exc}") from None
        return load_images(dataset, split=split, root=root).images

    return reference_stats(
        images if images is not None else load, key={"dataset": dataset, "split": split}, extractor=extractor, n=n, **kwargs
    )
