"""Scores of translations against their true targets, when the test set is paired.

Built-in tasks (edges2fashion, fashion2negative) and ``unpaired:PATH`` data
whose testA/ and testB/ hold files of the same names pair every test image
with its counterpart. Each direction is then scored by what its target
domain is (its *profile*):

- an edge map (the dataset says so, or its images are nearly all black or
  white with the minority colour on at most a third of the pixels): MAE,
  SSIM, and precision / recall / F1 of the edge pixels with a 1-pixel
  tolerance (`edges.py`);
- any other image: MAE, SSIM and FID against the true targets and, when
  the dataset names a classifier for the domain and the test set has labels,
  that classifier's accuracy on the translations. The FID's features are the
  named classifier's (``fashion-mnist``: the one shipped with genlab.metrics;
  a ``negative`` domain is inverted before it is classified), else those of a
  domain extractor trained on the true targets and cached
  (`genlab.metrics.domain`).

Every score is also computed for the untranslated inputs (keys ending in
``_untranslated``): a translation should beat doing nothing. Keys are
``<score>_ab`` (A -> B, against B) and ``<score>_ba``. Pixels are in [0, 1].
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .edges import edge_scores
from .scores import convert_channels, mae, ssim

#: share of pixels within this distance of 0 or 1 that makes a domain edge-like
BINARY_MARGIN = 0.1
BINARY_SHARE = 0.95
MAX_EDGE_SHARE = 1 / 3


def detect_profile(images01: torch.Tensor) -> dict[str, Any]:
    """The profile of a domain without a declared one: edge-like or plain images."""
    grey = images01.float().mean(1)
    dark, light = (grey <= BINARY_MARGIN).float().mean(), (grey >= 1 - BINARY_MARGIN).float().mean()
    if dark + light >= BINARY_SHARE and min(dark, light) <= MAX_EDGE_SHARE:
        return {"edges": True, "bright": bool(light < dark)}
    return {}


def domain_profiles(info: dict[str, Any], a01: torch.Tensor, b01: torch.Tensor) -> dict[str, dict[str, Any]]:
    """{"a": profile, "b": profile}: declared by the dataset (``info["scoring"]``) or detected."""
    declared = info.get("scoring") or {}
    return {side: dict(declared[side]) if side in declared else detect_profile(x)
            for side, x in (("a", a01), ("b", b01))}


def classifier_view(profile: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Images of the domain as its classifier expects them (negatives inverted)."""
    return (lambda x: 1 - x) if profile.get("negative") else (lambda x: x)


def score_against(pred01: torch.Tensor, target01: torch.Tensor, profile: dict[str, Any],
                  labels: torch.Tensor | None = None, fid: bool = True) -> dict[str, float]:
    """MAE, SSIM and the profile's scores of `pred01` against the true `target01`."""
    out = {"mae": float(mae(pred01, target01).mean()), "ssim": float(ssim(pred01, target01).mean())}
    if profile.get("edges"):
        out.update(edge_scores(pred01, target01, tolerance=1, bright=profile.get("bright", True)))
        return out
    names = (["fid"] if fid else []) + (["accuracy"] if labels is not None and profile.get("classifier") else [])
    if names:
        from ...metrics import evaluate  # noqa: PLC0415 - feature metrics load only when asked for

        view = classifier_view(profile)
        extractor = f"{profile['classifier']}-classifier" if profile.get("classifier") else "auto"
        with torch.enable_grad():  # a domain extractor trained on first use needs gradients
            out.update(evaluate(view(pred01), ref_images=view(target01), metrics=names, extractor=extractor,
                                labels=labels if "accuracy" in names else None))
    return out


def paired_scores(translate: Callable[[torch.Tensor, str], torch.Tensor], a01: torch.Tensor, b01: torch.Tensor,
                  info: dict[str, Any], labels: torch.Tensor | None = None, fid: bool = True,
                  untranslated: bool = True) -> dict[str, float]:
    """Both directions' scores (and the untranslated inputs'), as ``<score>_ab`` / ``<score>_ba``."""
    profiles = domain_profiles(info, a01, b01)
    out: dict[str, float] = {}
    for key, source, target, direction, side in (("ab", a01, b01, "AtoB", "b"), ("ba", b01, a01, "BtoA", "a")):
        pred = translate(source, direction)
        out.update({f"{k}_{key}": v for k, v in score_against(pred, target, profiles[side], labels, fid).items()})
        if untranslated:
            plain = convert_channels(source, target.shape[1])
            out.update({f"{k}_{key}_untranslated": v
                        for k, v in score_against(plain, target, profiles[side], labels, fid).items()})
    return out
