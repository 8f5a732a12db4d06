"""The Trainer: one loop for every family.

It never branches on the family. It moves the model to its device, asks it
for optimizers, draws batches, calls `train_step`, and around that writes the
progress bar, `metrics.jsonl`, TensorBoard scalars and images, sample grids,
checkpoints (periodic, at the end and on Ctrl-C) and resumes from them.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import to_dict
from ..data.base import BatchIterator, TensorData
from ..errors import CheckpointError
from ..models.base import GenerativeModel
from . import checkpoint as ckpt
from .callbacks import Callback
from .config import RESUMABLE_KEYS, TrainConfig

DEFAULT_STEPS = 2000


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        from ..errors import GenlabError

        raise GenlabError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    return torch.device(name)


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    interrupted: bool = False
    last_logs: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None


class Trainer:
    def __init__(self, model: GenerativeModel, data: TensorData, config: TrainConfig, run_dir: str | Path,
                 callbacks: list[Callback] | None = None, resume: bool = False):
        self.model = model
        self.data = data
        self.config = config
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks or []) + list(model.callbacks())
        self.resume = resume
        self.device = pick_device(config.device)
        self.step = 0
        self.rank, self.world_size = 0, 1
        self.writer = None
        self.history: list[dict[str, Any]] = []

    # -- helpers ---------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def run_config(self) -> dict[str, Any]:
        meta = self.model.describe()
        meta["train"] = to_dict(self.config)
        return meta

    def total_steps(self, iterator: BatchIterator) -> int:
        c = self.config
        if c.steps is not None:
            return c.steps
        if c.epochs is not None:
            return max(1, math.ceil(c.epochs * iterator.batches_per_epoch))
        if c.minutes is not None:
            return sys.maxsize
        return DEFAULT_STEPS

    def _check_resumable(self, saved: dict[str, Any]) -> None:
        now = self.run_config()
        diffs = []
        if saved.get("family") != now["family"]:
            diffs.append(f"family: {saved.get('family')} -> {now['family']}")
        for section in ("config", "train"):
            a, b = saved.get(section, {}), now[section]
            for k in sorted(set(a) | set(b)):
                if section == "train" and k in RESUMABLE_KEYS:
                    continue
                if a.get(k) != b.get(k):
                    diffs.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
        if diffs:
            raise CheckpointError(
                f"cannot resume {self.run_dir}: hyper-parameters changed ({'; '.join(diffs[:4])}); "
                f"resume with the same settings or train into a new --out folder"
            )

    def _write_preview(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from ..explore.grid import save_grid

        images = self.model.preview(self.config.grid_size, batch)
        for name, imgs in images.items():
            save_grid(imgs, self.run_dir / "samples" / f"{name}-step{step:07d}.png")
            if self.writer is not None:
                from torchvision.utils import make_grid

                grid = imgs if imgs.dim() == 3 else make_grid(imgs, nrow=max(1, int(math.sqrt(imgs.shape[0]))))
                self.writer.add_image(name, grid, step)
        for cb in self.callbacks:
            cb.on_preview(self, step, images)
        return images

    def save(self, iterator: BatchIterator) -> Path | None:
        if not self.is_main:
            return None
        path = ckpt.save_checkpoint(self.run_dir, self.model, self.step, {"data": iterator.state_dict()},
                                    {"train": to_dict(self.config)}, keep=self.config.keep_checkpoints)
        for cb in self.callbacks:
            cb.on_checkpoint(self, self.step, path)
        return path

    # -- the loop --------------------------------------------------------------------
    def fit(self) -> TrainResult:
        c = self.config
        model = self.model.to(self.device)
        model.train()
        model.setup_training()
        prepared = self.data.prepare(self.device)
        iterator = BatchIterator(prepared, c.batch_size, seed=c.seed, rank=self.rank, world_size=self.world_size)
        self.run_dir.mkdir(parents=True, exist_ok=True)

        if self.resume:
            last = ckpt.latest_valid(self.run_dir)
            if last is None:
                raise CheckpointError(f"nothing to resume in {self.run_dir}: no valid checkpoint; drop --resume")
            from ..models.base import read_config

            self._check_resumable(read_config(last))
            state = ckpt.load_training_state(last, model)
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(last / "model.safetensors")))
            self.step = int(state["step"])
            iterator.load_state_dict(state["data"])
            ckpt.set_rng_state(state["rng"])
            if self.is_main:
                print(f"genlab: resuming {self.run_dir} from step {self.step}", file=sys.stderr)
        elif self.is_main:
            if ckpt.list_checkpoints(self.run_dir):
                raise CheckpointError(f"{self.run_dir} already holds a run; add --resume to continue it, "
                                      f"or choose a new --out folder")
        if self.is_main:
            from ..serialization import write_json

            write_json(self.run_dir / "config.json", self.run_config())
            if c.tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self.writer = SummaryWriter(str(self.run_dir / "tb"))
                except ImportError:
                    print("genlab: tensorboard not installed; skipping TensorBoard logs", file=sys.stderr)

        total = self.total_steps(iterator)
        deadline = time.monotonic() + 60 * c.minutes if c.minutes is not None else math.inf
        preview_batch = {k: v[: c.grid_size] for k, v in prepared.items()}
        for cb in self.callbacks:
            cb.on_train_start(self)

        bar = None
        if self.is_main and c.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=None if total == sys.maxsize else total, initial=self.step, unit="step",
                       dynamic_ncols=True, disable=None)
        sums: dict[str, torch.Tensor] = {}
        n_since, t_since = 0, time.perf_counter()
        result = TrainResult(self.run_dir, self.step)
        try:
            while self.step < total and time.monotonic() < deadline:
                batch = next(iterator)
                logs = model.train_step(batch, self.step)
                self.step += 1
                n_since += 1
                for k, v in logs.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                if self.step % c.log_every == 0 or self.step == total:
                    result.last_logs = self._log(sums, n_since, time.perf_counter() - t_since, bar, total)
                    sums, n_since, t_since = {}, 0, time.perf_counter()
                if self.is_main and c.sample_every and self.step % c.sample_every == 0:
                    self._write_preview(self.step, preview_batch)
                if c.checkpoint_every and self.step % c.checkpoint_every == 0:
                    result.checkpoint = self.save(iterator)
        except KeyboardInterrupt:
            result.interrupted = True
            if self.is_main:
                print(f"\ngenlab: interrupted at step {self.step}; saving a checkpoint", file=sys.stderr)
        finally:
            if bar is not None:
                bar.close()
        if n_since and not result.interrupted:
            result.last_logs = self._log(sums, n_since, time.perf_counter() - t_since, None, total)
        if self.is_main:
            if not result.interrupted:
                self._write_preview(self.step, preview_batch)
            last = ckpt.list_checkpoints(self.run_dir)
            if not last or last[-1].name != f"step-{self.step:07d}":
                result.checkpoint = self.save(iterator)
            else:
                result.checkpoint = last[-1]
            if result.interrupted:
                print(f"genlab: checkpoint saved to {result.checkpoint}; continue with the same command "
                      f"and --resume", file=sys.stderr)
        for cb in self.callbacks:
            cb.on_train_end(self)
        if self.writer is not None:
            self.writer.close()
        result.step = self.step
        model.eval()
        return result

    def _log(self, sums: dict[str, torch.Tensor], n: int, seconds: float, bar: Any, total: int) -> dict[str, float]:
        logs: dict[str, Any] = {k: float(v) / n for k, v in sums.items()}  # one host sync per log step
        ips = n * self.config.batch_size * self.world_size / max(seconds, 1e-9)
        logs["images_per_s"] = ips
        for cb in self.callbacks:
            cb.on_log(self, self.step, logs)
        if not self.is_main:
            return logs
        row = {"step": self.step, "time": time.time(), **logs}
        self.history.append(row)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for k, v in logs.items():
                if isinstance(v, (int, float)):
                    self.writer.add_scalar(k if k == "images_per_s" else f"train/{k}", v, self.step)
        if bar is not None:
            bar.update(self.step - bar.n)
            shown = {k: f"{v:.3g}" for k, v in logs.items() if isinstance(v, float) and k != "images_per_s"}
            shown["img/s"] = f"{ips:.0f}"
            bar.set_postfix(shown, refresh=False)
        return logs
