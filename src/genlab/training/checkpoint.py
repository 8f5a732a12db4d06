"""Checkpoints: one folder each, written atomically, verified on load.

``RUN/checkpoints/step-000500/`` holds

- ``config.json``       family, hyper-parameters, data description, trainer
                         settings and the genlab version;
- ``model.safetensors`` the weights (EMA copies included);
- ``optim.json/.safetensors``   optimizer and model extra state;
- ``trainer.json/.safetensors`` step, data position and RNG states;
- ``manifest.json``     SHA-256 of every file above, checked on load.

A checkpoint is written to a hidden temporary folder and renamed into place,
so a crash or a full disk mid-write leaves the previous checkpoints intact.
Only the newest `keep` are kept. A folder with any file not listed above
(a pickle, say) is refused without being read.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..models.base import CONFIG, WEIGHTS, GenerativeModel, load_model_dir
from ..models.card import CARD, GRID
from ..serialization import load_state, save_state, sha256, write_json

MANIFEST = "manifest.json"
#: a model card and its sample grid (save_pretrained folders, RUN/best/) are never read on load
ALLOWED = {CONFIG, WEIGHTS, MANIFEST, "optim.json", "optim.safetensors", "trainer.json", "trainer.safetensors",
           CARD, GRID}


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(run_dir: Path, model: GenerativeModel, step: int, trainer_state: dict[str, Any],
                    extra_config: dict[str, Any], keep: int = 3) -> Path:
    """Write ``checkpoints/step-NNNNNN`` atomically; prune to the newest `keep`."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".tmp-step-{step:07d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        model.save_pretrained(tmp, extra=extra_config, card=False)
        save_state({"optimizers": {k: o.state_dict() for k, o in model.optimizers.items()},
                    "model_extra": model.extra_state()}, tmp, "optim")
        save_state({"step": step, **trainer_state, "rng": rng_state()}, tmp, "trainer")
        write_json(tmp / MANIFEST, {p.name: sha256(p) for p in sorted(tmp.iterdir())})
        for p in tmp.iterdir():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-"))


def verify(path: Path) -> None:
    """Raise `CheckpointError` unless every file is expected and matches the manifest."""
    import json

    path = Path(path)
    names = {p.name for p in path.iterdir()}
    unexpected = sorted(names - ALLOWED)
    if unexpected:
        raise CheckpointError(f"{path} holds unexpected file {unexpected[0]!r}; genlab loads only safetensors "
                              f"and JSON, remove it if you trust it, otherwise discard the checkpoint")
    if MANIFEST not in names:
        return  # a plain save_pretrained() folder: no manifest to check
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path / MANIFEST} is corrupt; use an earlier checkpoint") from None
    for name, digest in manifest.items():
        p = path / name
        if not p.is_file():
            raise CheckpointError(f"{path} is incomplete: {name} is missing; use an earlier checkpoint")
        if sha256(p) != digest:
            raise CheckpointError(f"{p} does not match its checksum (truncated or altered); use an earlier checkpoint")


def latest_valid(run_dir: Path, warn: bool = True) -> Path | None:
    """The newest checkpoint that verifies; corrupt ones are reported and skipped."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            verify(path)
            return path
        except CheckpointError as exc:
            if warn:
                print(f"genlab: skipping checkpoint: {exc}", file=sys.stderr)
    return None


def resolve(path: str | Path) -> Path:
    """A run folder (-> its newest good checkpoint) or a checkpoint folder."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist; pass a run folder (runs/NAME) or a checkpoint folder")
    if (path / WEIGHTS).is_file():
        verify(path)
        return path
    if (path / "checkpoints").is_dir():
        found = latest_valid(path)
        if found is None:
            raise CheckpointError(f"{path} has no valid checkpoint; train it further or use another run")
        return found
    raise CheckpointError(f"{path} is neither a run folder nor a checkpoint (no {WEIGHTS}, no checkpoints/)")


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """Load a model ready to sample from a run or checkpoint folder."""
    return load_model_dir(resolve(path), device=device)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give optimizer state tensors the memory layout of their parameters.

    Saved state is contiguous; parameters may be channels-last. Fused and
    foreach optimizer kernels then pair elements by storage order, so a state
    tensor whose layout differs from its parameter would update the wrong
    elements after a resume."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                    state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def load_training_state(path: Path, model: GenerativeModel) -> dict[str, Any]:
    """Restore optimizers and model extras into `model`; return the trainer state."""
    verify(path)
    optim = load_state(path, "optim")
    for name, state in optim["optimizers"].items():
        if name not in model.optimizers:
            raise CheckpointError(f"{path} has state for optimizer {name!r} that this model does not have")
        opt = model.optimizers[name]
        opt.load_state_dict(state)
        _match_layouts(opt)
    model.load_extra_state(optim.get("model_extra") or {})
    return load_state(path, "trainer")
