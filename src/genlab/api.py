"""The Python API: train, load, sample. The CLI is a thin layer over these."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from . import models  # noqa: F401  (registers the families)
from .config import build, field_names, load_file, to_dict
from .data import DATASETS, check_kind, dataset_options, load_dataset, spec_for_kinds
from .errors import ConfigError, GenlabError
from .io import check_suffix, write_samples
from .io import save_samples as _save
from .memory import available_memory
from .models.base import GenerativeModel
from .registry import FAMILIES
from .training import Trainer
from .training.checkpoint import load as load_checkpoint
from .training.config import TrainConfig, check_precision
from .training.periodic_eval import PeriodicEval
from .training.trainer import pick_device


def families() -> list[str]:
    return FAMILIES.names()


def datasets() -> list[str]:
    return DATASETS.names()


def seed_everything(seed: int, deterministic: bool = False) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def split_options(family: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split flat options into (family config, trainer config); unknown keys are errors."""
    cls = FAMILIES.get(family)
    model_keys, train_keys = set(field_names(cls.Config)), set(field_names(TrainConfig))
    model_opts, train_opts = {}, {}
    for k, v in options.items():
        k = k.replace("-", "_")
        if k in model_keys:
            model_opts[k] = v
        elif k in train_keys:
            train_opts[k] = v
        else:
            raise ConfigError(
                f"unknown option {k!r} for {family}; valid {family} keys: {', '.join(sorted(model_keys))}; "
                f"trainer keys: {', '.join(sorted(train_keys))}"
            )
    return model_opts, train_opts


def default_run_dir(family: str, data: str) -> Path:
    tag = data.replace(":", "-").replace("/", "_").strip("-_")[:40]
    return Path("runs") / f"{family}-{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


def resolve_config(family: str | None, *, config_file: str | None = None, **options: Any):
    """(family, family config, trainer config) from defaults, a config file and options, no data loaded.

    The file may be flat ``key: value`` pairs or a run's config.json (its
    family is used when `family` is None); options override the file.
    """
    families()
    merged = load_file(config_file) if config_file else {}
    file_family = merged.pop("family", None)
    if family and file_family and family != file_family:
        raise ConfigError(f"config file {config_file} is for family {file_family!r}, not {family!r}; "
                          f"drop FAMILY to use the file's, or pass a {family} config")
    family = family or file_family
    if not family:
        raise GenlabError("no family given; usage: genlab train FAMILY (see genlab list), "
                          "or --config FILE naming one (a run's config.json does)")
    if family not in FAMILIES:
        raise GenlabError(f"unknown family {family!r}; valid families: {', '.join(FAMILIES.names())}")
    merged.update({k.replace("-", "_"): v for k, v in options.items() if v is not None})
    model_opts, train_opts = split_options(family, merged)
    cls = FAMILIES.get(family)
    train_opts = {**getattr(cls, "train_defaults", {}), **train_opts}  # a family's own trainer defaults, if any
    model_config = build(cls.Config, model_opts, what=f"{family} config")
    train_config = build(TrainConfig, train_opts, what="trainer config")
    return family, model_config, train_config


def resolved_yaml(family: str, model_config: Any, train_config: Any) -> str:
    """The settings of a run as YAML, in the layout of its config.json (`--config` reads it back)."""
    body = yaml.safe_dump({"family": family, "config": to_dict(model_config), "train": to_dict(train_config)},
                          sort_keys=False, default_flow_style=False)
    return f"# genlab train --config FILE reproduces these settings ({family})\n{body}"


def prepare_run(family: str | None, *, config_file: str | None = None, **options: Any):
    """Validate options, seed, load data and build the model (no training yet)."""
    family, model_config, train_config = resolve_config(family, config_file=config_file, **options)
    cls = FAMILIES.get(family)
    seed_everything(train_config.seed, train_config.deterministic)
    data_opts = {"image_size": train_config.image_size, "seq_len": train_config.seq_len,
                 "max_len": train_config.max_len, "min_count": train_config.min_count,
                 "transpose": train_config.transpose}
    if train_config.strict_data:
        data_opts["strict"] = True
    spec = spec_for_kinds(train_config.data, cls.data_kinds)
    if train_config.num_workers is not None and "workers" in dataset_options(spec):
        data_opts["workers"] = train_config.num_workers
    data = load_dataset(spec, root=train_config.data_root, split=train_config.split, **data_opts)
    check_kind(data, family, cls.data_kinds)
    if train_config.limit is not None:
        data = data.subset(train_config.limit)
    model = build_checked(cls, model_config, data.info)
    check_precision(model, train_config, pick_device(train_config.device))  # before any training work
    return model, data, train_config


def build_checked(cls: type, config: Any, data_info: dict[str, Any]) -> GenerativeModel:
    """Build a model, after sizing it on the meta device (no memory used): sizes this
    machine cannot hold are refused in one line instead of failing deep in an allocator."""
    try:
        with torch.device("meta"):
            probe = cls(config, data_info)
        size = sum(t.numel() * t.element_size() for t in list(probe.parameters()) + list(probe.buffers()))
        count = sum(p.numel() for p in probe.parameters())
        del probe
    except Exception:  # noqa: BLE001 - a family that cannot be built on meta is simply built
        size = count = None

    free = available_memory()
    if size is not None and free is not None and 2 * size > free:
        raise ConfigError(f"{cls.family} with these sizes has {count:,} parameters ({size / 2**30:.1f} GiB of "
                          f"weights), more than this machine's {free / 2**30:.1f} GiB of free memory can build; "
                          f"lower the layer sizes")
    try:
        return cls(config, data_info)
    except MemoryError:
        raise ConfigError(f"out of memory building {cls.family} with these sizes; lower the layer sizes") from None
    except RuntimeError as exc:
        if "alloc" not in str(exc).lower():
            raise
        raise ConfigError(f"out of memory building {cls.family} with these sizes; lower the layer sizes") from None


def train(family: str | None, data: str | None = None, *, out: str | Path | None = None, resume: bool = False,
          config_file: str | None = None, callbacks: list | None = None, **options: Any):
    """Train `family` on `data`; returns a `TrainResult` (run folder, final step, logs).

    `options` are the family's hyper-parameters and the trainer's settings
    (steps, epochs, minutes, batch_size, seed, ...), by name. `config_file`
    (flat YAML/JSON, or a run's config.json, whose family is used when
    `family` is None) gives defaults that `data` and `options` override.
    With `eval_every`, the periodic evaluation is set up (and checked) before
    the first step.
    """
    model, dataset, train_config = prepare_run(family, config_file=config_file, data=data, **options)
    run_dir = Path(out) if out else default_run_dir(model.family, train_config.data)
    callbacks = list(callbacks or [])
    if train_config.eval_every:
        periodic = PeriodicEval(train_config.eval_every, train_config.eval_n, train_config.eval_metrics,
                                train_config.best_metric)
        periodic.prepare(model, root=train_config.data_root)
        callbacks.append(periodic)
    trainer = Trainer(model, dataset, train_config, run_dir, callbacks=callbacks, resume=resume)
    return trainer.fit()


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """A trained model, ready to sample, from a run folder or checkpoint folder."""
    families()
    if isinstance(device, str):
        device = pick_device(device)
    return load_checkpoint(path, device=device)


def check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= 2**63 - 1:
        raise GenlabError(f"--seed {seed} is out of range; use 0 .. 2**63-1")


def sample(model: GenerativeModel | str | Path, n: int = 64, *, seed: int | None = 0, labels: Any = None,
           out: str | Path | None = None):
    """Draw `n` samples: without `out`, returns them (a dict of tensors, all in memory);
    with `out` (.png grid, .npz, folder/, .csv, .txt), draws and writes them in chunks,
    memory flat in `n`, and returns a `genlab.io.Written` (path and array shapes)."""
    if n < 1:
        raise GenlabError(f"--n must be at least 1 (got {n})")
    check_seed(seed)
    if out is not None:
        check_suffix(Path(out))
    if not isinstance(model, GenerativeModel):
        model = load(model)
    if out is None:
        return model.sample(n, seed=seed, labels=labels)
    return write_samples(model, n, out, seed=seed, labels=labels)


def save_samples(samples: dict[str, torch.Tensor], out: str | Path, model: GenerativeModel | None = None) -> Path:
    return _save(samples, out, model=model)
