"""Evaluation metrics for generated images: honest, reproducible, offline.

Three independent parts plus one entry point:

* `extractors`: image batch -> features (+ logits); registered by name
  ("fashion-mnist-classifier", "mnist-classifier", "inception") or user-supplied;
  `domain`: for other data, a small CNN trained on the reference images on
  first use and cached under $GENLAB_CACHE/extractors.
* `reference`: real-data feature statistics, computed once and cached as
  .safetensors under $GENLAB_CACHE/refstats (default ~/.cache/genlab/refstats),
  keyed by a hash of the images' content.
* `distances`: pure functions on feature arrays (FID, KID, precision/recall,
  density/coverage, Inception-style score, class coverage, accuracy).
* `evaluate(images, reference="fashion-mnist", metrics=("fid", "kid", "pr"))`
  ties them together; metrics are chosen by name from `METRICS`.

Example::

    from genlab.metrics import evaluate
    scores = evaluate(samples, reference="fashion-mnist", metrics=("fid", "pr", "is"))
"""

from .api import (
    DEFAULT_OPTIONS,
    METRICS,
    EvalContext,
    Metric,
    auto_extractor,
    evaluate,
    metric_names,
    prepare_reference,
    register_metric,
)
from .distances import (
    class_coverage,
    classifier_accuracy,
    density_coverage,
    feature_stats,
    fid,
    frechet_distance,
    inception_score,
    kid,
    mmd2_unbiased,
    precision_recall,
)
from .errors import MetricsError
from .extractors import (
    EXTRACTORS,
    CallableExtractor,
    ClassifierCNN,
    FeatureExtractor,
    Features,
    extractor_names,
    get_extractor,
    load_classifier,
)
from .reference import ReferenceStats, cache_dir, content_hash, dataset_reference, reference_stats

__all__ = [
    "DEFAULT_OPTIONS",
    "EXTRACTORS",
    "METRICS",
    "CallableExtractor",
    "ClassifierCNN",
    "EvalContext",
    "FeatureExtractor",
    "Features",
    "Metric",
    "MetricsError",
    "ReferenceStats",
    "auto_extractor",
    "cache_dir",
    "class_coverage",
    "classifier_accuracy",
    "content_hash",
    "dataset_reference",
    "density_coverage",
    "evaluate",
    "extractor_names",
    "feature_stats",
    "fid",
    "frechet_distance",
    "get_extractor",
    "inception_score",
    "kid",
    "load_classifier",
    "metric_names",
    "mmd2_unbiased",
    "precision_recall",
    "prepare_reference",
    "reference_stats",
    "register_metric",
]
