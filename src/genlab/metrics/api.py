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

from ..data import split_spec
from ..registry import Registry
from . import distances as D
from .domain import domain_extractor
from .errors import MetricsError
from .extractors import CLASSIFIER_DOMAINS, FeatureExtractor, get_extractor
from .reference import ReferenceStats, content_hash, load_reference_data, reference_stats

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


METRICS: Registry[Metric] = Registry("metric", error=MetricsError, ordered=True)


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


def auto_extractor(dataset: str | None, images: Any = None, labels: Any = None, *, seed: int = 0) -> str | FeatureExtractor:
    """What extractor="auto" means for a reference.

    The shipped domain classifier for Fashion-MNIST and MNIST ("fashion-mnist" ->
    "fashion-mnist-classifier"); for any other data, the domain extractor trained
    on the reference `images` (and `labels`) on first use and cached (see
    `genlab.metrics.domain`).
    """
    if dataset is not None and _normalise_dataset(dataset) in CLASSIFIER_DOMAINS:
        return f"{_normalise_dataset(dataset)}-classifier"
    if images is None:
        raise MetricsError(
            f"extractor='auto' has no shipped classifier for reference {dataset!r} (shipped: {', '.join(CLASSIFIER_DOMAINS)}) "
            "and no reference images to train a domain extractor on; pass reference=DATASET or ref_images=..., "
            "or extractor='inception', a registered name or your own module"
        )

    return domain_extractor(images, labels, seed=seed, label=dataset or "the reference images")


def _parse_reference(reference: Any) -> tuple[ReferenceStats | None, str | None, str]:
    """(loaded stats or None, dataset spec or None, split) from the `reference` argument.

    A dataset is any spec genlab.data knows, with an optional ``:split``
    ("digits", "mnist:test", "folder:/data/cats", "folder:/data/cats:test").
    """
    if reference is None or isinstance(reference, ReferenceStats):
        return reference, None, "train"
    if isinstance(reference, (str, Path)):
        text = str(reference)
        if text.endswith(".safetensors") or Path(text).is_file():
            return ReferenceStats.load(text), None, "train"

        name, split = split_spec(text)
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


def prepare_reference(
    reference: Any = None,
    *,
    extractor: Any = "auto",
    ref_images: Any = None,
    root: str | None = None,
    needs_reference: bool = True,
    batch_size: int = 256,
    device: str = "cpu",
    extractor_seed: int = 0,
) -> tuple[FeatureExtractor, ReferenceStats | None]:
    """The extractor and the reference statistics an evaluation uses (see `evaluate` for the arguments).

    Real images are read at most once: to hash them (the statistics cache is
    keyed by content), to train a domain extractor when "auto" has no shipped
    classifier, and to compute features on a cache miss. Called once before
    training by `--eval-every`, so a reference that cannot work fails before
    the first step. `extractor_seed` seeds a domain extractor's training (keep
    the default so that FIDs compare across evaluations).
    """
    stats, dataset, split = _parse_reference(reference)
    if needs_reference and stats is None and dataset is None and ref_images is None:
        raise MetricsError("these metrics need reference=<dataset name or stats file> or ref_images=...")
    real: dict[str, Any] = {}

    def real_data() -> tuple[Any, Any]:
        if not real:
            if ref_images is not None:
                real["data"] = (_as_images(ref_images), None)
            else:
                real["data"] = load_reference_data(dataset, split, root)
        return real["data"]

    if isinstance(extractor, str) and extractor == "auto":
        if stats is not None:
            if not stats.extractor:
                raise MetricsError(f"statistics file {stats.path} records no extractor; pass extractor=...")
            extractor = stats.extractor
        elif dataset is not None and _normalise_dataset(dataset) in CLASSIFIER_DOMAINS:
            extractor = auto_extractor(dataset)
        else:
            extractor = auto_extractor(dataset, *real_data(), seed=extractor_seed)
    ext: FeatureExtractor = get_extractor(extractor)
    if stats is not None and (stats.key.get("extractor"), stats.key.get("weights")) != (ext.name, ext.weights_hash):
        raise MetricsError(
            f"reference statistics were computed with extractor {stats.key.get('extractor')!r} "
            f"(weights {stats.key.get('weights')}), not {ext.name!r} (weights {ext.weights_hash})"
        )
    if needs_reference and stats is None:
        images = real_data()[0]
        stats = reference_stats(images, key={"content": content_hash(images)}, extractor=ext, batch_size=batch_size,
                                device=device, cache=dataset is not None,
                                label=f"{dataset}-{split}" if dataset is not None else None)
    return ext, stats


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
    root: str | None = None,
) -> dict[str, float]:
    """Compute `metrics` for generated `images` (uint8 0-255 or float [0, 1], N x C x H x W).

    reference: a dataset spec ("fashion-mnist", "mnist:test" for another
        split, "digits", "folder:PATH", "folder:PATH:test"), whose statistics
        are computed once and cached under a hash of the images' content; a
        path to a saved .safetensors statistics file; or a `ReferenceStats`.
    ref_images: real images (tensor or zero-argument callable).  With a dataset
        name they replace loading through genlab.data; without `reference`
        their statistics are computed in memory, uncached.
    extractor: "auto" (the shipped classifier of Fashion-MNIST/MNIST; for other
        data a small domain extractor trained on the reference images on first
        use and cached; for a statistics file the extractor it records), a
        registered name ("inception", ...), a "module:callable" string, or an
        nn.Module / callable.
    labels: requested class per image, for the "accuracy" metric.
    n: use only the first n generated images (the reference is not cut).
    options: overrides of DEFAULT_OPTIONS (KID subsets, k of PR / DC, IS splits, seed, ...).
    root: where datasets live (as --data-root).
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
    if needs_reference and reference is None and ref_images is None:
        needing = [m.name for m in chosen if m.needs_reference]
        raise MetricsError(f"metrics {needing} need reference=<dataset name or stats file> or ref_images=...")
    ext, stats = prepare_reference(reference, extractor=extractor, ref_images=ref_images, root=root,
                                   needs_reference=needs_reference, batch_size=batch_size, device=device)

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
