"""`evaluate`: images in, metric values out; ties extractors, reference statistics and distances together.

Metrics are chosen by name from `METRICS`:

==============  ==============================  ============================
name            keys in the result              needs
==============  ==============================  ============================
fid             fid                             reference
kid             kid, kid_std                    reference
pr              precision, recall               reference
dc              density, coverage               reference
is              is, is_std                      extractor logits
class_coverage  class_coverage, class_entropy   extractor logits
accuracy        accuracy                        extractor logits, labels
==============  ==============================  ============================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import distances as D
from .errors import MetricsError
from .extractors import CLASSIFIER_DOMAINS, FeatureExtractor, get_extractor
from .reference import ReferenceStats, dataset_reference, reference_stats
from .registry import Registry

# Options of the metrics, overridable through evaluate(..., options={...}).
DEFAULT_OPTIONS: dict[str, Any] = {
    "kid_subsets": 100,
    "kid_subset_size": 1000,
    "pr_k": 3,
    "dc_k": 5,
    "is_splits": 10,
    "class_min_fraction": None,  # None: 0.1 / number of classes
    "seed": 0,
}


@dataclass
class EvalContext:
    """What a metric function sees: generated features/logits, reference, labels, options."""

    features: np.ndarray
    logits: np.ndarray | None
    reference: ReferenceStats | None
    labels: np.ndarray | None
    options: dict[str, Any]
    extractor: str

    def ref_features(self, metric: str) -> np.ndarray:
        if self.reference is None or self.reference.features is None:
            raise MetricsError(f"metric {metric!r} needs reference statistics that include raw features")
        return self.reference.features

    def need_logits(self, metric: str) -> np.ndarray:
        if self.logits is None:
            raise MetricsError(
                f"metric {metric!r} needs class logits, which extractor {self.extractor!r} does not give; "
                "use a classifier extractor such as 'fashion-mnist-classifier'"
            )
        return self.logits


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[EvalContext], dict[str, float]]
    needs_reference: bool


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, *, needs_reference: bool) -> Callable:
    """Decorator: register `fn(ctx) -> {key: value}` as metric `name`."""

    def decorator(fn: Callable[[EvalContext], dict[str, float]]) -> Callable:
        METRICS.register(name)(Metric(name, fn, needs_reference))
        return fn

    return decorator


@register_metric("fid", needs_reference=True)
def _fid(ctx: EvalContext) -> dict[str, float]:
    assert ctx.reference is not None
    mu, sigma = D.feature_stats(ctx.features)
    return {"fid": D.frechet_distance(mu, sigma, ctx.reference.mu, ctx.reference.sigma)}


@register_metric("kid", needs_reference=True)
def _kid(ctx: EvalContext) -> dict[str, float]:
    o = ctx.options
    mean, std = D.kid(
        ctx.features, ctx.ref_features("kid"), num_subsets=o["kid_subsets"], subset_size=o["kid_subset_size"], seed=o["seed"]
    )
    return {"kid": mean, "kid_std": std}


@register_metric("pr", needs_reference=True)
def _pr(ctx: EvalContext) -> dict[str, float]:
    precision, recall = D.precision_recall(ctx.ref_features("pr"), ctx.features, k=ctx.options["pr_k"])
    return {"precision": precision, "recall": recall}


@register_metric("dc", needs_reference=True)
def _dc(ctx: EvalContext) -> dict[str, float]:
    density, coverage = D.density_coverage(ctx.ref_features("dc"), ctx.features, k=ctx.options["dc_k"])
    return {"density": density, "coverage": coverage}


@register_metric("is", needs_reference=False)
def _is(ctx: EvalContext) -> dict[str, float]:
    logits = ctx.need_logits("is")
    mean, std = D.inception_score(logits, splits=min(ctx.options["is_splits"], len(logits)))
    return {"is": mean, "is_std": std}


@register_metric("class_coverage", needs_reference=False)
def _class_coverage(ctx: EvalContext) -> dict[str, float]:
    coverage, entropy = D.class_coverage(ctx.need_logits("class_coverage"), min_fraction=ctx.options["class_min_fraction"])
    return {"class_coverage": coverage, "class_entropy": entropy}


@register_metric("accuracy", needs_reference=False)
def _accuracy(ctx: EvalContext) -> dict[str, float]:
    if ctx.labels is None:
        raise MetricsError("metric 'accuracy' needs labels=... (the classes the images were generated for)")
    return {"accuracy": D.classifier_accuracy(ctx.need_logits("accuracy"), ctx.labels)}


def metric_names() -> list[str]:
    return METRICS.names()


# ------------------------------------------------------------------ evaluate


def _normalise_dataset(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def auto_extractor(dataset: str | None) -> str:
    """The domain classifier for a dataset name ("fashion-mnist" -> "fashion-mnist-classifier")."""
    if dataset is not None and _normalise_dataset(dataset) in CLASSIFIER_DOMAINS:
        return f"{_normalise_dataset(dataset)}-classifier"
    raise MetricsError(
        f"extractor='auto' has no classifier for reference {dataset!r} (known: {', '.join(CLASSIFIER_DOMAINS)}); "
        "pass extractor='inception', a registered name or your own module"
    )


def _parse_reference(reference: Any) -> tuple[ReferenceStats | None, str | None, str]:
    """(loaded stats or None, dataset name or None, split) from the `reference` argument."""
    if reference is None or isinstance(reference, ReferenceStats):
        return reference, None, "train"
    if isinstance(reference, (str, Path)):
        text = str(reference)
        if text.endswith(".safetensors") or Path(text).is_file():
            return ReferenceStats.load(text), None, "train"
        name, _, split = text.partition(":")
        return None, name, split or "train"
    raise MetricsError(
        f"reference must be a dataset name ('fashion-mnist' or 'name:split'), a .safetensors path or ReferenceStats, "
        f"got {type(reference).__name__}"
    )


def _as_images(images: Any) -> Any:
    if callable(images) and not hasattr(images, "shape"):
        images = images()
    if not hasattr(images, "shape"):
        raise MetricsError(f"images must be an N x C x H x W tensor or array, got {type(images).__name__}")
    return images


def evaluate(
    images: Any,
    *,
    reference: Any = None,
    ref_images: Any = None,
    metrics: Sequence[str] | str = ("fid", "kid", "pr"),
    extractor: Any = "auto",
    labels: Any = None,
    n: int | None = None,
    batch_size: int = 256,
    device: str = "cpu",
    options: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Compute `metrics` for generated `images` (uint8 0-255 or float [0, 1], N x C x H x W).

    reference: a dataset name ("fashion-mnist", or "mnist:test" for another
        split), whose statistics are computed once and cached; a path to a
        saved .safetensors statistics file; or a `ReferenceStats`.
    ref_images: real images (tensor or zero-argument callable).  With a dataset
        name they replace loading through genlab.data but keep its cache key;
        without `reference` their statistics are computed in memory, uncached.
    extractor: "auto" (the domain classifier of the reference dataset, or the
        extractor recorded in a statistics file), a registered name, a
        "module:callable" string, or an nn.Module / callable.
    labels: requested class per image, for the "accuracy" metric.
    n: use only the first n generated images (the reference is not cut).
    options: overrides of DEFAULT_OPTIONS (KID subsets, k of PR / DC, IS splits, ...).
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise MetricsError(f"no metrics requested; valid metrics: {', '.join(metric_names())}")
    chosen = [METRICS.get(name) for name in names]
    unknown = set(options or {}) - set(DEFAULT_OPTIONS)
    if unknown:
        raise MetricsError(f"unknown metric option(s) {sorted(unknown)}; valid options: {', '.join(DEFAULT_OPTIONS)}")
    opts = {**DEFAULT_OPTIONS, **(options or {})}
    needs_reference = any(m.needs_reference for m in chosen)

    stats, dataset, split = _parse_reference(reference)
    if needs_reference and stats is None and dataset is None and ref_images is None:
        needing = [m.name for m in chosen if m.needs_reference]
        raise MetricsError(f"metrics {needing} need reference=<dataset name or stats file> or ref_images=...")

    if isinstance(extractor, str) and extractor == "auto":
        if stats is not None:
            extractor = stats.extractor or auto_extractor(None)
        else:
            extractor = auto_extractor(dataset)
    ext: FeatureExtractor = get_extractor(extractor)
    if stats is not None and (stats.key.get("extractor"), stats.key.get("weights")) != (ext.name, ext.weights_hash):
        raise MetricsError(
            f"reference statistics were computed with extractor {stats.key.get('extractor')!r} "
            f"(weights {stats.key.get('weights')}), not {ext.name!r} (weights {ext.weights_hash})"
        )

    if needs_reference and stats is None:
        common = dict(extractor=ext, batch_size=batch_size, device=device)
        if dataset is not None:
            stats = dataset_reference(dataset, split, images=ref_images, **common)
        else:
            stats = reference_stats(_as_images(ref_images), key={"dataset": "in-memory"}, cache=False, **common)

    gen = _as_images(images)
    if n is not None:
        gen = gen[:n]
    label_arr = None
    if labels is not None:
        label_arr = D.as_array(labels, ndim=1, name="labels")
        if n is not None:
            label_arr = label_arr[:n]
        if len(label_arr) != len(gen):
            raise MetricsError(f"got {len(gen)} images but {len(label_arr)} labels")
    out = ext.extract(gen, batch_size=batch_size, device=device)
    ctx = EvalContext(
        features=out.features.double().numpy(),
        logits=None if out.logits is None else out.logits.double().numpy(),
        reference=stats,
        labels=label_arr,
        options=opts,
        extractor=ext.name,
    )
    result: dict[str, float] = {}
    for metric in chosen:
        result.update(metric.fn(ctx))
    return result
