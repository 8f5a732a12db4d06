"""Checkpoints: one folder each, written atomically, verified on load.

``RUN/checkpoints/step-000500/`` holds

- ``config.json``       family, hyper-parameters, data description, trainer
                         settings and the genlab version;
- ``model.safetensors`` the weights (EMA copies included);
- ``optim.json/.safetensors``   optimizer and model extra state;
- ``trainer.json/.safetensors`` step, data position and RNG states;
- ``sampler.json/.safetensors``  a VAE's fitted latent sampler (when it has one);
- ``manifest.json``     SHA-256 of every file above, checked on load.

A checkpoint is written to a hidden temporary folder and renamed into place,
so a crash or a full disk mid-write leaves the previous checkpoints intact;
the next training in the run removes such unfinished folders (it holds the
run's lock, so no other writer can be using them). Only the newest `keep`
are kept. A folder with any file not listed above (a pickle, say) is refused
without being read. A trainer's checkpoint (``step-*``) without a manifest,
with a malformed one, with one naming anything but its own files, or with
non-finite weights counts as corrupt: loading falls back to an older one.
An altered sampler file is different: the weights are sound, so loading
refuses in one line that says how to refit it (`genlab fit-sampler RUN`,
which verifies and loads everything else, then rewrites the folder with
`replace_files`) rather than silently falling back to older weights.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from ..errors import CheckpointError, GenlabError
from ..models.base import CONFIG, WEIGHTS, GenerativeModel, load_model_dir
from ..models.card import CARD, GRID
from ..models.latent_sampler import FILES as SAMPLER_FILES
from ..models.latent_sampler import REFIT, SamplerFileError
from ..serialization import load_state, save_state, sha256, write_json

MANIFEST = "manifest.json"
#: a model card and its sample grid (save_pretrained folders, RUN/best/) are never read on load
ALLOWED = {CONFIG, WEIGHTS, MANIFEST, "optim.json", "optim.safetensors", "trainer.json", "trainer.safetensors",
           CARD, GRID, *SAMPLER_FILES}
TMP_PREFIX = ".tmp-step-"
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    tmp = root / f"{TMP_PREFIX}{step:07d}-{os.getpid()}"
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


def remove_unfinished(run_dir: Path) -> int:
    """Remove the temporary folders of checkpoint writes that never finished (a kill -9
    mid-write). Call only while holding the run's lock. Returns how many were removed."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return 0
    found = [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX) and p.is_dir()]
    for p in found:
        shutil.rmtree(p, ignore_errors=True)
    return len(found)


def list_checkpoints(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-"))


def _read_manifest(path: Path) -> dict[str, str]:
    """The manifest as {file name: SHA-256}; anything else is a corrupt checkpoint."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (ValueError, OSError):
        raise CheckpointError(f"{path / MANIFEST} is corrupt; use an earlier checkpoint") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, str) and _SHA256.fullmatch(v)
                                                 for v in manifest.values()):
        raise CheckpointError(f"{path / MANIFEST} is malformed (not a map of file names to SHA-256 digests); "
                              f"use an earlier checkpoint")
    outside = sorted(k for k in manifest if k not in ALLOWED - {MANIFEST})
    if outside:  # never follow a name out of the folder (../x, /etc/passwd) or to a file genlab does not write
        raise CheckpointError(f"{path / MANIFEST} names {outside[0]!r}, which is not a checkpoint file; "
                              f"the checkpoint was altered, use an earlier one")
    return manifest


def check_finite_weights(path: Path) -> None:
    """Raise `CheckpointError` when the weights cannot be read or hold NaN or infinity."""
    weights = Path(path) / WEIGHTS
    if not weights.is_file():
        return  # reported as missing by the loader
    try:
        with safe_open(str(weights), framework="pt") as f:
            for key in f.keys():
                t = f.get_tensor(key)
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise CheckpointError(f"{weights} holds non-finite weights (NaN or infinity in {key!r}); "
                                          f"use an earlier checkpoint")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} cannot be read ({exc}); the checkpoint is corrupt, use an earlier one") \
            from None


def verify(path: Path, extras: bool = True) -> None:
    """Raise `CheckpointError` unless every file is expected, the manifest lists exactly
    the folder's files with matching digests, and the weights are finite. A folder
    written by the trainer (``step-*``) must have a manifest; a plain
    `save_pretrained` folder is checked against one when it has it. Sampler files are
    checked last and raise `SamplerFileError`; ``extras=False`` skips them (a refit)."""
    path = Path(path)
    names = {p.name for p in path.iterdir()}
    unexpected = sorted(names - ALLOWED)
    if unexpected:
        raise CheckpointError(f"{path} holds unexpected file {unexpected[0]!r}; genlab loads only safetensors "
                              f"and JSON, remove it if you trust it, otherwise discard the checkpoint")
    if MANIFEST in names:
        manifest = _read_manifest(path)
        unlisted = sorted(names - set(manifest) - {MANIFEST})
        # the weights' problems first: a sampler problem alone means "refit", not "discard"
        for name in sorted(unlisted, key=lambda name: name in SAMPLER_FILES):
            if name in SAMPLER_FILES:
                if extras:
                    raise SamplerFileError(f"{path} holds {name!r}, which its manifest does not list; {REFIT}")
                continue
            raise CheckpointError(f"{path} holds {name!r}, which its manifest does not list; "
                                  f"the checkpoint was altered, use an earlier one")
        for name, digest in sorted(manifest.items(), key=lambda item: item[0] in SAMPLER_FILES):
            p = path / name
            if name in SAMPLER_FILES:
                if extras and not p.is_file():
                    raise SamplerFileError(f"{path} is incomplete: its latent sampler file {name} is missing; {REFIT}")
                if extras and sha256(p) != digest:
                    raise SamplerFileError(f"{p} (the latent sampler) does not match its checksum (truncated or "
                                           f"altered); {REFIT}")
                continue
            if not p.is_file():
                raise CheckpointError(f"{path} is incomplete: {name} is missing; use an earlier checkpoint")
            if sha256(p) != digest:
                raise CheckpointError(f"{p} does not match its checksum (truncated or altered); "
                                      f"use an earlier checkpoint")
    elif path.name.startswith("step-"):
        raise CheckpointError(f"{path} has no {MANIFEST}; the checkpoint is incomplete or altered, "
                              f"use an earlier one")
    check_finite_weights(path)


def latest_valid(run_dir: Path, warn: bool = True, extras: bool = False) -> Path | None:
    """The newest checkpoint that verifies; corrupt ones are reported and skipped. Training
    (resume, rollback) reads no sampler files and leaves them out; with ``extras`` (loading a
    model to sample) an altered sampler file is refused, not skipped (see the module doc)."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            verify(path, extras=extras)
            return path
        except SamplerFileError:
            raise
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
        found = latest_valid(path, extras=True)
        if found is None:
            raise CheckpointError(f"{path} has no valid checkpoint; train it further or use another run")
        return found
    raise CheckpointError(f"{path} is neither a run folder nor a checkpoint (no {WEIGHTS}, no checkpoints/)")


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """Load a model ready to sample from a run or checkpoint folder. In a run folder, a
    checkpoint that verifies but still cannot be built (an altered config) is skipped
    for the one before it, with a message."""
    chosen = resolve(path)
    if (Path(path) / WEIGHTS).is_file():
        return load_model_dir(chosen, device=device)
    candidates = [p for p in reversed(list_checkpoints(path)) if p.name <= chosen.name]
    for i, candidate in enumerate(candidates):
        try:
            if i:
                verify(candidate)
            return load_model_dir(candidate, device=device)
        except SamplerFileError:
            raise
        except GenlabError as exc:
            if i == len(candidates) - 1:
                raise
            print(f"genlab: skipping checkpoint: {exc}", file=sys.stderr)
    raise CheckpointError(f"{path} has no valid checkpoint; train it further or use another run")


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


def read_training_state(path: Path) -> dict[str, Any]:
    """A checkpoint's training state (verified): model weights, optimizer and model extra
    state, step, data position, RNG states, rollback count and fp16 loss scale."""
    verify(path)
    optim = load_state(path, "optim")
    state = load_state(path, "trainer")
    state.update(model=load_file(str(path / WEIGHTS)), optim=optim["optimizers"],
                 extra=optim.get("model_extra") or {}, source=path)
    return state


def apply_training_state(model: GenerativeModel, iterator: Any, state: dict[str, Any],
                         copy_state: bool = False) -> tuple[int, int]:
    """Put `model` (weights, optimizers, extras), the batch `iterator` and the RNGs in `state`
    (from `read_training_state` or an in-memory snapshot, which `copy_state` leaves untouched);
    returns (step, rollback count). Resume and rollback both come through here."""
    where = state.get("source", "the snapshot")
    for name in state["optim"]:
        if name not in model.optimizers:
            raise CheckpointError(f"{where} has state for optimizer {name!r} that this model does not have")
    model.load_state_dict(state["model"])
    for name, opt_state in state["optim"].items():
        opt = model.optimizers[name]
        opt.load_state_dict(copy.deepcopy(opt_state) if copy_state else opt_state)
        _match_layouts(opt)
    model.load_extra_state(copy.deepcopy(state["extra"]) if copy_state else state["extra"])
    iterator.load_state_dict(state["data"])
    set_rng_state(state["rng"])
    if model.grad_scaler is not None and state.get("grad_scaler"):
        model.grad_scaler.load_state_dict(state["grad_scaler"])
    return int(state["step"]), int(state.get("rollbacks", 0))
