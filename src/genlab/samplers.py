"""Latent samplers from the outside: `genlab fit-sampler` and the ``--sampler`` choice.

`fit_sampler(RUN)` fits the Gaussian mixture of a VAE or CVAE run
(models/latent_sampler.py) on the posterior means of its training images and
writes ``sampler.json`` + ``sampler.safetensors`` (fitted on the images the run
trained on: its dataset, split and ``--limit``) into the run's newest
checkpoint and into ``RUN/best/`` when present (each fitted on its own
weights), atomically, manifests updated (training/rewrite.py). It holds the
run's lock, so it never writes beside a training. A sampler file that was
altered (which loading refuses) is simply replaced: only the other files must
verify.

`choose_sampler(model, name)` applies ``--sampler`` for `genlab sample` and
`genlab eval` and returns the one-line note to print when the configured
mixture is not fitted and the prior stands in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import models  # noqa: F401  (registers the families)
from .capabilities import LatentSamplers
from .data import heldout_data
from .errors import CheckpointError, GenlabError
from .models.base import WEIGHTS, load_model_dir
from .models.latent_sampler import DEFAULT_LIMIT
from .training.checkpoint import latest_valid, verify
from .training.rewrite import replace_files
from .training.runlock import RunLock


@dataclass
class FittedSampler:
    """Where a sampler was written and what it holds (its sampler.json)."""

    folder: Path
    info: dict[str, Any]
    configured: str  # the sampler the model's config samples from by default


def choose_sampler(model: Any, name: str | None, source: Any = "this model") -> str | None:
    """Make `model` sample from `name` (None: its configured default); returns the note to show
    when the configured gmm has no fitted mixture, else None."""
    if not isinstance(model, LatentSamplers):
        if name is not None:
            raise GenlabError(f"{model.family} samples from its prior only; --sampler is for vae and cvae, "
                              f"drop it")
        return None
    model.use_sampler(name)
    return model.sampler_note(source)


def training_data(info: dict[str, Any], limit: int | None, data_root: str | None) -> Any:
    """The images a run trained on, from its data description and ``--limit`` (the first N)."""
    data = heldout_data(info, info.get("split") or "train", data_root)
    return data.subset(int(limit)) if limit else data


def _targets(path: Path) -> tuple[list[Path], Path | None]:
    """(folders to fit, run folder to lock) for a run, a checkpoint or a pretrained folder."""
    if (path / WEIGHTS).is_file():
        if path.parent.name == "checkpoints":
            return [path], path.parent.parent
        if path.name == "best" and (path.parent / "checkpoints").is_dir():
            return [path], path.parent
        return [path], None
    if (path / "checkpoints").is_dir():
        found = latest_valid(path, extras=False)
        if found is None:
            raise CheckpointError(f"{path} has no valid checkpoint; train it further or use another run")
        best = path / "best"
        return [found] + ([best] if (best / WEIGHTS).is_file() else []), path
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; pass a run folder (runs/NAME) or a checkpoint folder")
    raise CheckpointError(f"{path} is neither a run folder nor a checkpoint (no {WEIGHTS}, no checkpoints/)")


def fit_sampler(target: str | Path, *, components: int | None = None, limit: int | None = DEFAULT_LIMIT,
                seed: int = 0, data_root: str | None = None, device: str = "cpu") -> list[FittedSampler]:
    """Fit the latent sampler of a run (its newest checkpoint and RUN/best/), a checkpoint or a
    pretrained folder on up to `limit` training images, with `components` per mixture (default:
    the config's `sampler_components`); returns what was written where."""
    if components is not None and components < 1:
        raise GenlabError(f"--components must be at least 1 (got {components})")
    folders, run_dir = _targets(Path(target))
    lock = RunLock(run_dir).acquire() if run_dir is not None else None
    try:
        datasets: dict[str, Any] = {}
        written = []
        for folder in folders:
            verify(folder, extras=False)
            model = load_model_dir(folder, device=device, extras=False)
            if not isinstance(model, LatentSamplers):
                raise GenlabError(f"{folder} holds a {model.family} model, which has no latent sampler to fit; "
                                  f"fit-sampler is for vae, cvae and seqvae runs")
            train = model.provenance.get("train") or {}
            key = json.dumps([model.data_info, train.get("limit")], sort_keys=True)
            if key not in datasets:
                datasets[key] = training_data(model.data_info, train.get("limit"), data_root or train.get("data_root"))
            fitted = model.fit_sampler(datasets[key], components=components, limit=limit, seed=seed)
            files = model.extra_files()
            replace_files(folder, files, remove=[n for n in model.extra_file_names if n not in files])
            written.append(FittedSampler(folder, fitted.info, model.configured_sampler()))
    finally:
        if lock is not None:
            lock.release()
    return written
