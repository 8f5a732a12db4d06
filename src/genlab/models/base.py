"""The base class every family derives from: config, step, sample, save/load.

Contract (see README, "Design"):

- ``Model(config, data_info)`` builds the networks from a config dataclass
  and the JSON description of the data (shape, classes, ...).
- ``configure_optimizers()`` returns ``{name: optimizer}``; the Trainer saves
  and restores them but never looks inside.
- ``train_step(batch, step)`` runs one optimisation step (GANs run their D
  and G phases inside) and returns ``{name: 0-dim tensor}``; the Trainer reads
  the values back only at logging steps, so the hot loop never syncs. Each
  update goes through ``self.optimize(loss, optimizer)``, which applies the
  Trainer's settings (gradient averaging across processes, fp16 loss scaling).
- ``sample(n, seed=..., labels=...)`` returns ``{"images": N x C x H x W floats
  in [0, 1], "labels": ...}`` (sequence families return ``"sequences"``).
- ``preview(n, batch)`` returns named image batches for the sample grids
  written during training (samples, reconstructions, ...).
- ``save_pretrained(dir)`` / ``from_pretrained(dir)`` write and read a folder of
  ``config.json``, ``model.safetensors`` and a ``README.md`` model card (see
  card.py); ``generator_only=True`` keeps only the weights sampling needs
  (sampling_state.py), and loading accepts both; nothing is unpickled.
- ``extra_files()`` / ``load_extra_files(files)``: files a family keeps beside
  its weights (names in ``extra_file_names``; a VAE's fitted latent sampler),
  written by `save_pretrained` (generator-only folders too) and read on load.
  ``finish_training(data)`` runs after the last training step, before the final
  checkpoint (a VAE fits its sampler there); other families ignore it.
- Old checkpoints keep loading: ``config.json`` records the family's
  ``config_version``; a family that renames or reshapes an option bumps it
  and upgrades older configs in ``migrate(config, version)``. Keys a config
  no longer has are dropped with a one-line warning (`upgrade_config`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import build, to_dict
from ..errors import CheckpointError, GenlabError
from ..modes import evaluating
from ..registry import FAMILIES
from ..serialization import write_json
from ..version import __version__
from .card import write_card
from .sampling_state import load_sampling_state, sampling_state_dict

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
#: config.json's "weights" value of a folder that holds only what sampling needs
GENERATOR_ONLY = "generator-only"


class GenerativeModel(nn.Module):
    """Base of all families. Subclasses set `family`, `Config` and build networks."""

    family: ClassVar[str] = ""
    Config: ClassVar[type]
    #: kinds of data the family trains on ("image", "sequence", "tokens", "paired-image")
    data_kinds: ClassVar[tuple[str, ...]] = ("image",)
    #: True when sampling takes class labels
    conditional: ClassVar[bool] = False
    #: version of the family's config layout; bump it when an option is renamed and handle it in `migrate`
    config_version: ClassVar[int] = 1
    #: files beside the weights that the family writes and reads itself (a VAE's fitted latent sampler)
    extra_file_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, data_info: dict[str, Any]):
        super().__init__()
        self.config = config
        self.data_info = dict(data_info)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        #: (rank, world size) while training on several processes (set by the Trainer)
        self.dist_rank, self.dist_world = 0, 1
        #: set by the Trainer: averages an optimizer's gradients over processes (several processes)
        self.grad_sync: Callable[[torch.optim.Optimizer], None] | None = None
        #: set by the Trainer for fp16 mixed precision: scales losses so fp16 gradients do not underflow
        self.grad_scaler: torch.amp.GradScaler | None = None
        #: how a loaded model was trained ("train" settings, "command"), carried into save_pretrained
        self.provenance: dict[str, Any] = {}
        if data_info.get("kind", "image") not in self.data_kinds:
            raise GenlabError(
                f"family {self.family!r} trains on {' or '.join(self.data_kinds)} data, "
                f"but the dataset holds {data_info.get('kind')} data; pick a matching dataset"
            )
        if self.conditional and not data_info.get("num_classes"):
            raise GenlabError(
                f"family {self.family!r} is conditional and needs labelled data; "
                f"use a dataset with labels (fashion-mnist, mnist, digits, folder:PATH with class subfolders)"
            )

    # -- properties -----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.data_info["shape"]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return int(self.data_info.get("num_classes") or 0)

    # -- training -------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def setup_training(self) -> None:
        """Create optimizers (called by the Trainer after moving to the device)."""
        self.optimizers = self.configure_optimizers()

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def optimize(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip_norm: float = 0.0) -> None:
        """One optimizer update from `loss`: zero the gradients, backward, average them
        over processes (several processes), clip their norm (clip_norm > 0) and step.
        Under fp16 mixed precision the loss is scaled and the step is skipped when the
        gradients overflowed (torch.amp.GradScaler). Families call this rather than
        `loss.backward(); optimizer.step()` so every Trainer setting applies to them."""
        scaler = self.grad_scaler
        optimizer.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if self.grad_sync is not None:
            self.grad_sync(optimizer)  # before unscaling: every rank then sees the same overflow
        if scaler is not None:
            scaler.unscale_(optimizer)  # true gradients for clipping and the Trainer's checks
        if clip_norm > 0:
            params = [p for group in optimizer.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, clip_norm)
        if scaler is not None:
            scaler.step(optimizer)
        else:
            optimizer.step()

    @property
    def uses_gradient_penalty(self) -> bool:
        """True when training differentiates through an input gradient (R1, WGAN-GP)."""
        return False

    def extra_state(self) -> dict[str, Any]:
        """Training state beyond weights and optimizers (schedulers, counters)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def callbacks(self) -> list[Any]:
        """Trainer callbacks this family wants (e.g. a diversity monitor)."""
        return []

    def finish_training(self, data: Any) -> bool:
        """Called by the Trainer after the last step (not on Ctrl-C), before the final checkpoint,
        with the training data; returns True when it changed what a checkpoint holds (a VAE
        fits its latent sampler here). The default does nothing."""
        return False

    # -- sampling -------------------------------------------------------------------
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw `n` latent vectors from the prior (for interpolation and traversals)."""
        raise NotImplementedError(f"{self.family} has no latent space")

    def make_generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def randn(self, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Gaussian noise. While training on several processes, every rank draws the
        noise of the whole global batch (same seed) and keeps its own slice, so N
        processes follow the same path as one process with an N times larger batch."""
        if self.dist_world > 1 and generator is None and self.training and shape:
            n = shape[0]
            full = torch.randn(n * self.dist_world, *shape[1:], device=self.device)
            return full[self.dist_rank * n:(self.dist_rank + 1) * n]
        return torch.randn(*shape, generator=generator, device=self.device)

    def randint(self, high: int, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform integers in [0, high), sliced per rank like `randn`."""
        if self.dist_world > 1 and generator is None and self.training:
            full = torch.randint(0, high, (n * self.dist_world,), device=self.device)
            return full[self.dist_rank * n:(self.dist_rank + 1) * n]
        return torch.randint(0, high, (n,), generator=generator, device=self.device)

    def check_labels(self, labels: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Validate requested class labels; draw uniform ones for conditional models."""
        if labels is None:
            if not self.conditional:
                return None
            return self.randint(self.num_classes, n, generator)
        if not self.conditional:
            raise GenlabError(f"family {self.family!r} is not conditional; drop --class")
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.numel() == 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise GenlabError(f"got {labels.numel()} labels for {n} samples; give one label or one per sample")
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.numel():
            names = self.data_info.get("class_names") or []
            listing = ", ".join(f"{i}={c}" for i, c in enumerate(names)) if names else f"0..{self.num_classes - 1}"
            raise GenlabError(f"class {int(bad[0])} is out of range; this model's classes are {listing}")
        return labels.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None,
               batch_size: int = 500) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def decode_batches(self, n: int, decode: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], *,
                       seed: int | None = None, labels: Any = None, z: torch.Tensor | None = None,
                       batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """In eval mode: check (or draw) the labels, draw `n` latents unless `z` is given, and run
        ``decode(z_batch, labels_batch)`` over batches; returns the outputs (float, on the CPU)
        and the labels used (on the CPU, or None)."""
        with evaluating(self):
            gen = self.make_generator(seed)
            labels = self.check_labels(labels, n, gen)
            if z is None:
                z = self.latent(n, gen)
            z = z.to(self.device)
            chunks = []
            for i in range(0, n, batch_size):
                y = labels[i:i + batch_size] if labels is not None else None
                chunks.append(decode(z[i:i + batch_size], y).float().cpu())
        return torch.cat(chunks), (labels.cpu() if labels is not None else None)

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Named image batches for the grids written during training."""
        return {"samples": self.sample(n, seed=0)["images"]}

    # -- evaluation -------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data: Any, n: int | None = None, seed: int = 0) -> dict[str, float]:
        """Family-specific metrics on held-out real data (`TensorData`), e.g. a VAE's
        ELBO and importance-weighted NLL or a sequence model's scores. Sample-based
        metrics (FID, precision/recall, ...) live in `genlab.metrics`, not here."""
        return {}

    # -- persistence ----------------------------------------------------------------
    def extra_files(self) -> dict[str, bytes]:
        """{name: contents} of the files saved beside the weights (names from `extra_file_names`)."""
        return {}

    def load_extra_files(self, files: dict[str, bytes], source: Any = "this folder") -> None:
        """Take back what `extra_files` wrote: those of `extra_file_names` present in the folder."""

    def describe(self) -> dict[str, Any]:
        return {"family": self.family, "genlab_version": __version__, "config_version": self.config_version,
                "config": to_dict(self.config), "data": self.data_info}

    @classmethod
    def migrate(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Upgrade a config written at `version` (< `config_version`) to the current layout,
        e.g. ``config["new_name"] = config.pop("old_name")``. The default changes nothing."""
        return config

    def save_pretrained(self, directory: str | Path, extra: dict[str, Any] | None = None, *,
                        generator_only: bool = False, card: bool = True,
                        metrics: list[dict[str, Any]] | None = None) -> Path:
        """Write `config.json`, `model.safetensors` and (unless ``card=False``) a README.md model card
        with a sample grid and `metrics` (``[{"name", "value", "step", "n", "reference"}]``).
        ``generator_only=True`` keeps only the weights sampling needs (checked to sample identically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = self.describe()
        meta.update(self.provenance)
        meta.update(extra or {})
        if generator_only:
            state, meta["weights"] = sampling_state_dict(self), GENERATOR_ONLY
        else:
            state = self.state_dict()
        write_json(directory / CONFIG, meta)
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()},
                  str(directory / WEIGHTS), metadata={"family": self.family, "weights": meta.get("weights", "full")})
        files = self.extra_files()
        for name in self.extra_file_names:  # written, or removed when stale
            if name in files:
                (directory / name).write_bytes(files[name])
            else:
                (directory / name).unlink(missing_ok=True)
        if card:
            write_card(directory, self, meta, metrics, generator_only)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "GenerativeModel":
        return load_model_dir(Path(directory), device=device, expected=cls)


def read_config(directory: Path) -> dict[str, Any]:
    path = directory / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{directory} has no {CONFIG}; pass a run folder or a checkpoint folder made by genlab")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}); "
                              f"the checkpoint is corrupt, use an earlier one") from None
    if not isinstance(meta, dict) or "family" not in meta or "config" not in meta:
        raise CheckpointError(f"{path} is not a genlab config (no family/config keys)")
    for key, kind in (("family", str), ("config", dict), ("data", dict)):
        if not isinstance(meta.get(key), kind):
            what = "missing" if key not in meta else f"not a {kind.__name__}"
            raise CheckpointError(f"{path} is malformed: {key!r} is {what}; the checkpoint is corrupt, "
                                  f"use an earlier one")
    return meta


def upgrade_config(cls: type[GenerativeModel], meta: dict[str, Any], source: Any = "a checkpoint") -> dict[str, Any]:
    """The family config of `meta` (a config.json) in the current layout: migrated from its
    ``config_version`` by the family's `migrate`, keys the config no longer has dropped
    with a one-line warning on stderr."""
    config = dict(meta["config"])
    version = meta.get("config_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{source}: config_version {version!r} is not a positive integer; "
                              f"the checkpoint is corrupt, use an earlier one")
    if version > cls.config_version:
        raise CheckpointError(f"{source} holds a {cls.family} config of version {version}, newer than this "
                              f"genlab's ({cls.config_version}); upgrade genlab to load it")
    if version < cls.config_version:
        config = cls.migrate(config, version)
    known = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(k for k in config if k not in known)
    if unknown:
        print(f"genlab: warning: {source}: ignoring {cls.family} option(s) this genlab does not have: "
              f"{', '.join(unknown)} (written by genlab {meta.get('genlab_version', '?')})", file=sys.stderr)
        config = {k: v for k, v in config.items() if k in known}
    return config


def build_model(meta: dict[str, Any], source: Any = "a checkpoint") -> GenerativeModel:
    cls = FAMILIES.get(meta["family"])
    config = build(cls.Config, upgrade_config(cls, meta, source), what=f"{meta['family']} config")
    return cls(config, meta["data"])


def load_model_dir(directory: Path, device: str | torch.device = "cpu",
                   expected: type | None = None, extras: bool = True) -> GenerativeModel:
    """Build a model from `config.json` and fill it from `model.safetensors` (and, unless
    ``extras=False``, the family's extra files, e.g. a fitted latent sampler)."""
    meta = read_config(directory)
    try:
        model = build_model(meta, directory / CONFIG)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(f"{directory / CONFIG} does not describe a {meta['family']} model "
                              f"({type(exc).__name__}: {str(exc)[:120]}); the checkpoint is corrupt, "
                              f"use an earlier one") from None
    if expected is not None and expected is not GenerativeModel and not isinstance(model, expected):
        raise CheckpointError(f"{directory} holds a {meta['family']} model, not {expected.__name__}")
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{directory} has no {WEIGHTS}; the checkpoint is incomplete, use an earlier one")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights} cannot be read ({exc}); the checkpoint is corrupt, use an earlier one") from None
    try:
        if meta.get("weights") == GENERATOR_ONLY:
            load_sampling_state(model, state, source=directory)
        else:
            model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{weights} does not fit the {meta['family']} config ({first})") from None
    found = [name for name in model.extra_file_names if (directory / name).is_file()] if extras else []
    if found:
        model.load_extra_files({name: (directory / name).read_bytes() for name in found}, source=directory)
    model.provenance = {k: meta[k] for k in ("train", "command") if k in meta}
    model.to(device)
    model.eval()
    return model
