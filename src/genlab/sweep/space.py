"""Search spaces in a sweep: each family's default (``models/<family>/space.py``) and the
Optuna calls that draw a trial's values from a space."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigError
from ..registry import FAMILIES
from ..search_space import Choice, Dist, Float, Int


def default_space(family: str) -> dict[str, Dist]:
    """``SEARCH_SPACE`` declared in the family's folder beside its config."""
    package = FAMILIES.get(family).__module__.rpartition(".")[0]
    try:
        module = importlib.import_module(f"{package}.space")
    except ModuleNotFoundError:
        raise ConfigError(f"{family} declares no default search space; give one with --space FILE "
                          f"(and --no-default-space)") from None
    return dict(module.SEARCH_SPACE)


def suggest(trial: Any, name: str, dist: Dist) -> Any:
    """A value for option `name` from `dist` (a value already drawn for this trial is kept)."""
    if isinstance(dist, Float):
        return trial.suggest_float(name, float(dist.low), float(dist.high), log=dist.log)
    if isinstance(dist, Int):
        return trial.suggest_int(name, int(dist.low), int(dist.high), log=dist.log)
    if isinstance(dist, Choice):
        return trial.suggest_categorical(name, list(dist.choices))
    raise TypeError(f"not a search-space entry: {dist!r}")


def suggest_all(trial: Any, space: dict[str, Dist]) -> dict[str, Any]:
    return {name: suggest(trial, name, dist) for name, dist in space.items()}
