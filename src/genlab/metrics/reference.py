"""Reference statistics of real data: computed once per (data, extractor), cached on disk.

A `ReferenceStats` holds the mean and covariance of a real set's features (for
FID) and up to `max_features` raw feature rows (for KID, precision/recall,
density/coverage).  `reference_stats` computes it from a uint8/float image
tensor, or a zero-argument callable returning one (only called on a cache
miss), and caches it as a .safetensors file in

    $GENLAB_CACHE/refstats   (default ~/.cache/genlab/refstats)

named by a hash of the caller's `key` together with the extractor's name and
weights hash, `n` and `max_features`. For datasets the key is a hash of the
images' content (`content_hash`), not the dataset's name: a renamed folder
finds its statistics, changed files do not. The module knows nothing about
how datasets load; `load_reference_data` is the one helper that asks
genlab.data for a split.
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

from ..cache import cache_root

import numpy as np
from safetensors.numpy import load, save_file

from .distances import as_array, feature_stats
from .errors import MetricsError
from .extractors import FeatureExtractor, get_extractor, safetensors_metadata

FORMAT_VERSION = "1"
DEFAULT_MAX_FEATURES = 10_000


def cache_dir() -> Path:
    """Directory of cached reference statistics: $GENLAB_CACHE/refstats or ~/.cache/genlab/refstats."""
    return cache_root() / "refstats"


def content_hash(*tensors: Any) -> str:
    """sha256 (16 hex digits) over the shapes, dtypes and bytes of tensors/arrays (None entries count too)."""
    digest = hashlib.sha256()
    for t in tensors:
        if t is None:
            digest.update(b"none;")
            continue
        arr = np.ascontiguousarray(t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t))
        digest.update(f"{arr.dtype.str}{arr.shape};".encode())
        digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()[:16]


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


def cache_path(key: Mapping[str, str], directory: str | os.PathLike | None = None, label: str | None = None) -> Path:
    """`<label or dataset-split>-<extractor>-<hash16>.safetensors` in `directory` (default `cache_dir()`).

    Only the hash identifies the entry (`reference_stats` finds it under any
    stem); the readable stem is for people listing the folder.
    """
    digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()[:16]
    parts = [label] if label else [key.get("dataset", "data"), key.get("split", "")]
    parts.append(key.get("extractor", ""))
    stem = "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p).strip("_")[:60] for p in parts if p)
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
    label: str | None = None,
) -> ReferenceStats:
    """Statistics of `images` (the first `n` if given), read from the cache when present.

    `images`: uint8 (0-255) or float ([0, 1]) N x C x H x W tensor/array, or a
    zero-argument callable returning one (called only when the cache misses).
    `key`: identifies the data, e.g. {"content": content_hash(images)}; the
    caller promises that equal keys mean equal images. `label` names the
    cache file for people (e.g. "digits-train"); it is not part of the key.
    """
    if not key:
        raise MetricsError("reference_stats needs a non-empty key identifying the images, e.g. {'content': ...}")
    ext = get_extractor(extractor)
    k = full_key(key, ext, n, max_features)
    path = cache_path(k, directory, label)
    if cache:
        digest = path.stem.rsplit("-", 1)[-1]
        for found in sorted(path.parent.glob(f"*-{digest}.safetensors"), key=lambda p: p != path):
            stats = ReferenceStats.load(found)  # the same content under another name finds its entry
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


def load_reference_data(dataset: str, split: str = "train", root: str | None = None) -> tuple[Any, Any]:
    """(uint8 images, labels or None) of a dataset split, any spec genlab.data knows (``folder:PATH`` too)."""
    try:
        from ..data import load_images  # noqa: PLC0415
    except ImportError as exc:
        raise MetricsError(f"cannot load dataset {dataset!r} for reference statistics: {exc}") from None
    data = load_images(dataset, split=split, root=root)
    return data.images, data.labels


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
    """Cached statistics of a dataset split, keyed by a hash of its content (not its name).

    The images come from genlab.data (any spec: ``digits``, ``folder:PATH``,
    ...), or from `images` (a tensor or zero-argument callable) when given;
    either way they are read to hash them, and features are computed only
    when no statistics of the same content and extractor are cached.
    """
    data = images() if callable(images) else images
    if data is None:
        data = load_reference_data(dataset, split, root)[0]
    return reference_stats(data, key={"content": content_hash(data)}, extractor=extractor, n=n,
                           label=f"{dataset}-{split}", **kwargs)
