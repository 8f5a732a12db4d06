"""The metric a sweep optimises: a sample metric (FID, KID, precision, ...) computed by
`genlab.metrics`, or one of the family's held-out metrics (`model.evaluate`: a VAE's
``nll_iwae``, a sequence model's ``discriminative`` score, ...), and its direction."""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigError

#: result key -> the registered metric of `genlab.metrics` that computes it
SAMPLE_KEYS = {"fid": "fid", "kid": "kid", "precision": "pr", "recall": "pr", "density": "dc",
               "coverage": "dc", "is": "is", "class_coverage": "class_coverage", "class_entropy": "class_coverage",
               "accuracy": "accuracy"}
MINIMIZE = {"fid", "kid", "nll_iwae", "rec_nll", "kl", "recon_mse", "recon_bce", "bits_per_dim", "discriminative",
            "predictive", "mae", "bits_per_char", "bigram_js"}
MAXIMIZE = {"precision", "recall", "density", "coverage", "is", "class_coverage", "class_entropy", "accuracy",
            "elbo", "ssim", "novelty", "real_words", "active_units"}
#: the cheapest settings of the families' evaluate() keyword arguments, for the check before a sweep
CHEAP_EVALUATE = {"k": 2, "disc_steps": 1, "pred_steps": 1}


def direction(metric: str, given: str | None) -> str:
    if given is not None:
        if given not in ("minimize", "maximize"):
            raise ConfigError(f"bad --direction {given!r}: use minimize or maximize")
        return given
    if metric in MINIMIZE:
        return "minimize"
    if metric in MAXIMIZE:
        return "maximize"
    raise ConfigError(f"genlab does not know whether {metric!r} should go up or down; "
                      f"add --direction minimize or --direction maximize")


def is_sample_metric(metric: str) -> bool:
    return metric in SAMPLE_KEYS


def cheap_evaluate(model: Any, data: Any, n: int) -> dict[str, float]:
    """The family's held-out metrics on `n` items with the cheapest settings (which keys exist)."""
    accepted = inspect.signature(model.evaluate).parameters
    kwargs = {k: v for k, v in CHEAP_EVALUATE.items() if k in accepted}
    return model.evaluate(data.subset(n) if hasattr(data, "subset") else data, n=n, seed=0, **kwargs)


def check_metric(metric: str, model: Any, heldout: Any) -> None:
    """Fail before any trial when `model`'s family cannot produce `metric`."""
    kind = model.data_info.get("kind", "image")
    if is_sample_metric(metric):
        if kind != "image":
            raise ConfigError(f"metric {metric!r} scores image samples, but {model.family} makes {kind} data; "
                              f"use one of its held-out metrics (--metric discriminative, ...)")
        if metric == "accuracy" and not model.data_info.get("num_classes"):
            raise ConfigError("metric 'accuracy' needs a conditional family on labelled data (e.g. cgan)")
        return
    keys = sorted(cheap_evaluate(model, heldout, 16)) if heldout is not None else []
    if metric not in keys:
        samples = ", ".join(SAMPLE_KEYS) if kind == "image" else ""
        own = ", ".join(keys) or "none"
        raise ConfigError(f"unknown metric {metric!r} for {model.family}; sample metrics: {samples or 'none'}; "
                          f"{model.family}'s held-out metrics: {own}")
