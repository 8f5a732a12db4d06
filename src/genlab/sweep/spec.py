"""What a sweep is: family, data, budget, fixed options, search space, metric and
evaluation, validated in full before anything is created, and saved as
``SWEEP_DIR/sweep.json`` (and in the study, so machines joining it agree).

`build_spec` checks names and values only; `check_run` then loads the data,
builds the model and prepares the metric's reference statistics, so that a
bad dataset or metric also stops the sweep before its first trial.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..api import families, prepare_run, split_options
from ..config import build, field_names, load_file, parse_flags, to_dict
from ..data import heldout_data
from ..errors import ConfigError, GenlabError
from ..metrics.api import METRICS, auto_extractor
from ..metrics.errors import MetricsError
from ..metrics.extractors import get_extractor
from ..metrics.reference import dataset_reference
from ..registry import FAMILIES
from ..search_space import Dist, check_space, from_json, parse_space, to_json
from ..serialization import write_json
from ..training.config import TrainConfig
from ..version import __version__
from . import metric as metrics
from .space import default_space

BUDGET_KEYS = ("steps", "epochs", "minutes")
#: trainer options a space may search (the others fix data, budget, evaluation or output)
SEARCHABLE_TRAINER_KEYS = {"batch_size"}
SPEC_FILE = "sweep.json"
DEFAULT_EVALS = 4
MINUTES_EVAL_EVERY = 500


@dataclass
class SweepSpec:
    family: str
    data: str
    budget: dict[str, Any]
    fixed: dict[str, Any]
    space: dict[str, Dist]
    metric: str
    direction: str
    eval_every: int
    eval_n: int
    extractor: str
    pruner: str
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    def trial_options(self, params: dict[str, Any]) -> dict[str, Any]:
        """Everything a trial passes to `genlab.train`."""
        return {"data": self.data, **self.settings, **self.budget, **self.fixed, **params}

    def best_options(self, params: dict[str, Any]) -> dict[str, Any]:
        """What `genlab train --config` needs to train a trial again (without the sweep's
        own logging and checkpoint settings)."""
        return {"data": self.data, **self.budget, **self.fixed, **params}

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["space"] = {k: to_json(v) for k, v in self.space.items()}
        out["genlab_version"] = __version__
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SweepSpec":
        data = {k: v for k, v in data.items() if k != "genlab_version"}
        data["space"] = {k: from_json(v) for k, v in data["space"].items()}
        return cls(**data)

    def differences(self, other: "SweepSpec") -> list[str]:
        a, b = json.loads(json.dumps(self.to_json())), json.loads(json.dumps(other.to_json()))
        return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b))
                if k != "genlab_version" and a.get(k) != b.get(k)]

    def save(self, folder: Path) -> None:
        write_json(folder / SPEC_FILE, self.to_json())

    @classmethod
    def load(cls, folder: Path) -> "SweepSpec":
        path = Path(folder) / SPEC_FILE
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise GenlabError(f"{folder} is not a sweep folder (no {SPEC_FILE}); pass a folder made by "
                              f"genlab sweep") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise GenlabError(f"{path} is damaged ({type(exc).__name__}: {exc}); "
                              f"start the sweep in a new --out folder") from None


def parse_budget(budget: str | dict[str, Any], family: str) -> dict[str, Any]:
    """``"--steps 400"`` -> {"steps": 400}: trainer flags only, one of steps/epochs/minutes."""
    if isinstance(budget, str):
        try:
            flags = parse_flags(shlex.split(budget))
        except (ConfigError, ValueError) as exc:
            raise ConfigError(f"bad --budget {budget!r}: {exc}; e.g. --budget \"--steps 400\"") from None
    else:
        flags = dict(budget)
    try:
        model_opts, train_opts = split_options(family, flags)
    except ConfigError as exc:
        raise ConfigError(f"bad --budget {budget!r}: {exc}") from None
    if model_opts:
        raise ConfigError(f"bad --budget {budget!r}: {sorted(model_opts)[0]!r} is a {family} hyper-parameter; "
                          f"the budget takes --steps, --epochs or --minutes (fix options with flags of their own)")
    if "data" in train_opts:
        raise ConfigError(f"bad --budget {budget!r}: the dataset is the sweep's --data")
    if not any(k in train_opts for k in BUDGET_KEYS):
        raise ConfigError(f"bad --budget {budget!r}: it must set --steps, --epochs or --minutes, "
                          f"e.g. --budget \"--steps 400\"")
    try:
        cfg = build(TrainConfig, train_opts, what="trainer config")
    except ConfigError as exc:
        raise ConfigError(f"bad --budget {budget!r}: {exc}") from None
    return {k: getattr(cfg, k) for k in train_opts}


def _log_every(eval_every: int) -> int:
    """The largest divisor of `eval_every` up to 50, so evaluations fall on logging steps."""
    return max(d for d in range(1, min(50, eval_every) + 1) if eval_every % d == 0)


def build_spec(family: str, data: str, *, budget: str | dict[str, Any], metric: str = "fid",
               direction: str | None = None, space: str | Path | dict | None = None, default: bool = True,
               evals: int = DEFAULT_EVALS, eval_every: int | None = None, eval_n: int = 2000,
               extractor: str = "auto", pruner: str = "median", seed: int = 0,
               fixed: dict[str, Any] | None = None) -> SweepSpec:
    """Validate a sweep's settings (names, types, ranges) without touching data or files."""
    families()
    if family not in FAMILIES:
        raise GenlabError(f"unknown family {family!r}; valid families: {', '.join(FAMILIES.names())}")
    cls = FAMILIES.get(family).Config
    if pruner not in PRUNERS:
        raise ConfigError(f"bad --pruner {pruner!r}: valid pruners are {', '.join(PRUNERS)}")
    for name, value, low in (("--evals", evals, 1), ("--eval-n", eval_n, 10), ("--sampler-seed", seed, 0)):
        if not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer of at least {low} (got {value!r})")
    if eval_every is not None and eval_every < 1:
        raise ConfigError(f"--eval-every must be at least 1 (got {eval_every})")
    budget = parse_budget(budget, family)
    fixed = {k.replace("-", "_"): v for k, v in (fixed or {}).items() if v is not None}
    for key in ("data", *BUDGET_KEYS):
        if key in fixed:
            raise ConfigError(f"--{key.replace('_', '-')} is set by the sweep (--data, --budget); "
                              f"remove it from the extra flags")
    split_options(family, fixed)  # unknown keys: one line listing the valid ones

    blocked = {k: "it is a trainer setting the sweep keeps fixed (data, budget, evaluation, output); "
                  "give it as a flag" for k in field_names(TrainConfig) if k not in SEARCHABLE_TRAINER_KEYS}
    searched = dict(default_space(family)) if default else {}
    if space is not None:
        source = str(space) if not isinstance(space, dict) else "the search space"
        mapping = space if isinstance(space, dict) else load_file(space)
        file_space, file_fixed, dropped = parse_space(mapping, {family: cls, "trainer": TrainConfig}, source,
                                                      blocked)
        searched.update(file_space)
        for key in dropped | set(file_fixed):
            searched.pop(key, None)
        fixed = {**file_fixed, **fixed}
    for key in fixed:  # a fixed flag wins over the space
        searched.pop(key, None)
    if not searched:
        raise ConfigError(f"nothing to search: the space of {family} is empty after the fixed options; "
                          f"give ranges in --space FILE")
    model_fixed, train_fixed = split_options(family, fixed)
    typed = {**to_dict(build(cls, model_fixed, what=f"{family} config")),
             **to_dict(build(TrainConfig, {**train_fixed, **budget}, what="trainer config"))}
    fixed = {k: typed[k] for k in fixed}  # "8" from a flag is stored as 8
    model_fixed, train_fixed = split_options(family, fixed)
    check_space(searched, cls, model_fixed, f"{family} config")
    check_space(searched, TrainConfig, {**train_fixed, **budget}, "trainer config")

    direction = metrics.direction(metric, direction)
    if eval_every is None:
        if "steps" in budget:
            eval_every = max(1, math.ceil(budget["steps"] / evals))
        elif "minutes" in budget:
            eval_every = MINUTES_EVAL_EVERY
        else:
            eval_every = 0  # epochs: set by check_run from the data's size
    spec = SweepSpec(family, data, budget, fixed, dict(sorted(searched.items())), metric, direction,
                     eval_every, eval_n, extractor, pruner, seed)
    spec.settings = _settings(spec)
    return spec


def _settings(spec: SweepSpec) -> dict[str, Any]:
    """Trainer settings of every trial unless fixed by the user: quiet, one checkpoint per evaluation."""
    every = spec.eval_every or 1
    return {"progress": False, "tensorboard": False, "sample_every": 0, "keep_checkpoints": 1,
            "checkpoint_every": every, "log_every": _log_every(every)}


def check_run(spec: SweepSpec, evals: int = DEFAULT_EVALS) -> None:
    """Load the data, build the model, check the metric and cache its reference statistics."""
    model, data, train_config = prepare_run(spec.family, data=spec.data, **spec.budget, **spec.fixed)
    if not spec.eval_every:  # an epochs budget: evaluations spread over the steps it gives
        total = max(1, math.ceil(train_config.epochs * max(1, len(data) // train_config.batch_size)))
        spec.eval_every = max(1, math.ceil(total / evals))
        spec.settings = _settings(spec)
    heldout = None
    if not metrics.is_sample_metric(spec.metric):
        try:
            heldout = heldout_data(model.data_info, "test", train_config.data_root)
        except GenlabError as exc:
            raise ConfigError(f"metric {spec.metric!r} needs held-out data, but: {exc}") from None
    metrics.check_metric(spec.metric, model, heldout)
    if metrics.is_sample_metric(spec.metric):
        prepare_reference(spec, model.data_info.get("dataset"), train_config.data_root)


def extractor_name(spec: SweepSpec, dataset: str | None) -> str:
    if spec.extractor != "auto":
        return spec.extractor
    try:
        return auto_extractor(dataset)
    except MetricsError:
        raise ConfigError(f"genlab ships no feature extractor for {dataset!r}; pass --extractor "
                          f"mnist-classifier, fashion-mnist-classifier or inception") from None


def prepare_reference(spec: SweepSpec, dataset: str | None, root: str | None) -> None:
    """Compute (or find cached) the reference statistics every trial's evaluation uses."""
    extractor = get_extractor(extractor_name(spec, dataset))
    if METRICS.get(metrics.SAMPLE_KEYS[spec.metric]).needs_reference:
        dataset_reference(dataset, "train", extractor=extractor, root=root)


PRUNERS = ("median", "hyperband", "none")
