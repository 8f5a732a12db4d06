"""The Trainer: one loop for every family.

It never branches on the family. It moves the model to its device, asks it
for optimizers, draws batches, calls `train_step`, and around that writes the
progress bar, `metrics.jsonl`, the experiment trackers (TensorBoard, MLflow,
W&B; trackers.py), sample grids, checkpoints (periodic, at the end and on
Ctrl-C), resumes from them, rolls back on divergence (guard.py), and joins a
torch.distributed process group when launched by torchrun. ``metrics.jsonl``
is written through `RunDir` (rundir.py).

The hot loop does no host synchronisation: losses stay on the device and are
summed there; they are read back (one sync) only at logging and checkpoint
steps, where their health (finite losses, bounded gradient norms) is checked.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from ..config import to_dict
from ..data.base import BatchIterator, TensorData
from ..errors import CheckpointError, GenlabError
from ..models.base import GenerativeModel, read_config, upgrade_config
from ..models.callbacks import Callback
from ..serialization import write_json
from ..viz import make_grid
from . import checkpoint as ckpt
from . import distributed as dist
from .allocator import keep_freed_memory
from .config import RESUMABLE_KEYS, TrainConfig, check_precision, train_command
from .guard import Guard, snapshot
from .optional_writes import OptionalWrites, save_grid
from .progress import Progress
from .rundir import RunDir
from .runlock import RunLock
from .trackers import Trackers

DEFAULT_STEPS = 2000


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GenlabError(f"unknown device {name!r}; use cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GenlabError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise GenlabError(f"device {name!r} asked for but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s); use cuda:0..cuda:{torch.cuda.device_count() - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GenlabError(f"device {name!r} asked for but MPS (Apple GPUs) is not available here; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise GenlabError(f"unsupported device {name!r}; use cpu, cuda, cuda:N or mps")
    return device


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    interrupted: bool = False
    last_logs: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    rollbacks: int = 0


class Trainer:
    def __init__(self, model: GenerativeModel, data: TensorData, config: TrainConfig, run_dir: str | Path,
                 callbacks: list[Callback] | None = None, resume: bool = False):
        self.model = model
        self.data = data
        self.config = config
        self.run_dir = Path(run_dir)
        self.callbacks = list(callbacks or []) + list(model.callbacks())
        self.resume = resume
        self.device = dist.local_device(pick_device(config.device))
        check_precision(model, config, self.device)  # before any work
        self.rundir = RunDir(self.run_dir)
        self.step = 0
        self.planned_steps: int | None = None  # set when training starts (_fit)
        self.rank, self.world_size = 0, 1
        self.trackers: Trackers | None = None
        self.history: list[dict[str, Any]] = []
        self.guard = Guard(config)
        self._lock: RunLock | None = None
        #: log rows, grids and TensorBoard: a failed write (a full disk) is reported once, training goes on
        self.optional_writes = OptionalWrites()
        #: set by a callback (e.g. early stopping) to end training at the next logging step
        self.should_stop = False

    # -- helpers ---------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def rollbacks(self) -> int:
        return self.guard.rollbacks

    def run_config(self) -> dict[str, Any]:
        meta = self.model.describe()
        meta["train"] = to_dict(self.config)
        meta["command"] = train_command(self.model.family, self.model.config, self.config)
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

    def event(self, kind: str, step: int | None = None, **info: Any) -> None:
        """Record a training event (rollback, failed save, ...) in metrics.jsonl and on stderr."""
        if not self.is_main:
            return
        step = self.step if step is None else step
        row = {"step": step, "time": time.time(), "event": kind, **info}
        self.history.append(row)
        details = ", ".join(f"{k} {v}" for k, v in info.items())
        print(f"genlab: {kind} at step {step}: {details}", file=sys.stderr)
        self.optional_writes("metrics.jsonl", self.rundir.append, row)

    def _write_preview(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        images = self.model.preview(self.config.grid_size, batch)
        for name, imgs in images.items():
            path = self.run_dir / "samples" / f"{name}-step{step:07d}.png"
            self.optional_writes("sample grids", save_grid, imgs, path)
            if self.trackers is not None:
                grid = imgs if imgs.dim() == 3 else make_grid(imgs, nrow=max(1, int(math.sqrt(imgs.shape[0]))))
                self.optional_writes("tracker logs", self.trackers.image, name, grid, step)
        for cb in self.callbacks:
            cb.on_preview(self, step, images)
        return images

    def save(self, iterator: BatchIterator, final: bool = False) -> Path | None:
        """Write a checkpoint (rank 0). A failed write leaves earlier ones intact;
        during training it is reported and training goes on."""
        if not self.is_main:
            return None
        try:
            path = ckpt.save_checkpoint(self.run_dir, self.model, self.step,
                                        self._trainer_state(iterator),
                                        {k: v for k, v in self.run_config().items() if k in ("train", "command")},
                                        keep=self.config.keep_checkpoints)
        except (OSError, SafetensorError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            previous = ckpt.latest_valid(self.run_dir, warn=False)
            kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
            if final:
                raise GenlabError(f"could not write the checkpoint at step {self.step} ({reason}); "
                                  f"{kept}; free space or choose another --out") from None
            self.event("checkpoint_failed", error=reason, kept=str(previous))
            return None
        for cb in self.callbacks:
            cb.on_checkpoint(self, self.step, path)
        return path

    # -- state: resume and rollback (guard.py) --------------------------------------
    def _trainer_state(self, iterator: BatchIterator) -> dict[str, Any]:
        state = {"data": iterator.state_dict(), "rollbacks": self.rollbacks}
        if self.model.grad_scaler is not None:
            state["grad_scaler"] = self.model.grad_scaler.state_dict()
        return state

    def _rollback(self, iterator: BatchIterator, reason: str) -> None:
        detected = self.step
        self.step, info = self.guard.rollback(self.model, iterator, self.run_dir, reason, self.is_main)
        self.event("rollback", step=detected, **info)

    # -- setup -------------------------------------------------------------------------
    def _setup(self) -> tuple[BatchIterator, dict[str, torch.Tensor]]:
        """Model on its device with optimizers, then resume (or refuse a used folder), then the run folder."""
        self.rank, self.world_size = dist.init(self.device)
        self.guard.world_size = self.world_size
        if self.is_main:  # one writer per run folder; released in fit()
            self._lock = RunLock(self.run_dir).acquire()
            removed = ckpt.remove_unfinished(self.run_dir)
            if removed:
                print(f"genlab: removed {removed} unfinished checkpoint folder(s) left by an interrupted run",
                      file=sys.stderr)
        self._setup_model()
        stored = self.data.on_device(self.device)  # uint8 images stay uint8; batches are converted one by one
        iterator = BatchIterator(stored, self.config.batch_size, seed=self.config.seed, rank=self.rank,
                                 world_size=self.world_size)
        self._resume_or_refuse(iterator)
        self.guard.initial = snapshot(self.model, iterator, self.step)
        self._setup_run_folder()
        return iterator, stored

    def _setup_model(self) -> None:
        """Device, memory format, process group, optimizers, loss scaling and gradient hooks."""
        c, model = self.config, self.model
        model.dist_rank, model.dist_world = self.rank, self.world_size
        if c.sync_bn and self.world_size > 1 and self.device.type == "cuda":
            for name, child in list(model.named_children()):
                setattr(model, name, torch.nn.SyncBatchNorm.convert_sync_batchnorm(child))
        elif c.sync_bn and self.is_main:
            where = "a single process" if self.world_size == 1 else "the CPU (SyncBatchNorm is CUDA-only)"
            print(f"genlab: --sync-bn has no effect on {where}; BatchNorm statistics stay per process",
                  file=sys.stderr)
        model.to(self.device)
        if c.keep_freed_memory and self.device.type == "cpu":
            keep_freed_memory()
        if c.channels_last:
            model.to(memory_format=torch.channels_last)
        model.train()
        if self.world_size > 1:
            dist.broadcast_parameters(model)
        model.setup_training()
        if self.world_size > 1:
            model.grad_sync = dist.average_gradients(self.world_size)
        model.grad_scaler = torch.amp.GradScaler(self.device.type) if c.amp == "fp16" else None
        for opt in model.optimizers.values():
            if self.world_size > 1:
                opt.register_step_pre_hook(dist.average_gradients_hook(self.world_size))
            self.guard.watch(opt)
        if c.compile:
            for child in model.children():
                if any(True for _ in child.parameters()):
                    child.compile()

    def _resume_or_refuse(self, iterator: BatchIterator) -> None:
        """With --resume, continue from the last valid checkpoint; without, refuse a folder holding a run."""
        if self.resume:
            last = ckpt.latest_valid(self.run_dir)
            if last is None:
                raise CheckpointError(f"nothing to resume in {self.run_dir}: no valid checkpoint; drop --resume")
            saved = read_config(last)
            self._check_resumable({**saved, "config": upgrade_config(type(self.model), saved, last)})
            self.step = self.guard.restore(self.model, iterator, last)
            if self.is_main:
                self.rundir.trim(self.step)  # rows a killed run wrote after this checkpoint
                print(f"genlab: resuming {self.run_dir} from step {self.step} ({last.name})", file=sys.stderr)
        elif self.is_main and ckpt.list_checkpoints(self.run_dir):
            raise CheckpointError(f"{self.run_dir} already holds a run; add --resume to continue it, "
                                  f"or choose a new --out folder")

    def _setup_run_folder(self) -> None:
        """The folder, its config.json and the experiment trackers (rank 0)."""
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.is_main:
            return
        try:
            write_json(self.run_dir / "config.json", self.run_config())
        except OSError as exc:
            raise GenlabError(f"cannot write {self.run_dir / 'config.json'} ({exc.strerror}); free space or "
                              f"choose another --out") from None
        names = [n for n in c.logger if c.tensorboard or n != "tensorboard"]
        self.trackers = None
        if names:
            try:
                self.trackers = Trackers(names, self.run_dir, self.run_config(), resume=self.resume)
            except OSError as exc:
                self.optional_writes.report("tracker logs", exc)

    def _autocast(self):
        if self.config.amp in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
            return torch.autocast(self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    # -- the loop --------------------------------------------------------------------
    @contextlib.contextmanager
    def _stop_signals(self):
        """SIGTERM (a scheduler or `kill`) stops training like Ctrl-C: a checkpoint is saved."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def fit(self) -> TrainResult:
        try:
            with self._stop_signals(), self.optional_writes.thread_errors():
                try:
                    return self._fit()
                except BaseException:
                    if self.trackers is not None:
                        self.trackers.close(failed=True)
                    raise
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _fit(self) -> TrainResult:
        c = self.config
        iterator, stored = self._setup()
        model = self.model
        total = self.total_steps(iterator)
        #: the steps this run will take when its settings fix them (--steps, --epochs); None for --minutes
        self.planned_steps = None if total == sys.maxsize else total
        deadline = time.monotonic() + 60 * c.minutes if c.minutes is not None else math.inf
        preview_batch = self.data.to_model({k: v[: c.grid_size] for k, v in stored.items()})
        for cb in self.callbacks:
            cb.on_train_start(self)

        bar = None
        if self.is_main and c.progress:  # a bar on a terminal, loss lines on stderr elsewhere (progress.py)
            bar = Progress(None if total == sys.maxsize else total, initial=self.step,
                           deadline=deadline if c.minutes is not None else None)
        sums: dict[str, torch.Tensor] = {}
        n_since, busy, t_since = 0, 0.0, time.perf_counter()
        result = TrainResult(self.run_dir, self.step)
        try:
            while self.step < total:
                batch = self.data.to_model(next(iterator))
                if c.channels_last:
                    for k, v in batch.items():
                        if v.dim() == 4 and v.is_floating_point():
                            batch[k] = v.contiguous(memory_format=torch.channels_last)
                with self._autocast():
                    logs = model.train_step(batch, self.step)
                if model.grad_scaler is not None:
                    model.grad_scaler.update()
                self.step += 1
                n_since += 1
                for k, v in logs.items():
                    sums[k] = sums[k] + v if k in sums else v.detach().clone()
                at_log = self.step % c.log_every == 0 or self.step == total
                at_ckpt = bool(c.checkpoint_every) and self.step % c.checkpoint_every == 0
                if at_log or at_ckpt:
                    problem = self.guard.health(self.model, sums, params=at_ckpt)
                    if problem is not None:
                        self._rollback(iterator, problem)
                        sums, n_since, busy, t_since = {}, 0, 0.0, time.perf_counter()
                        continue
                if at_log:
                    result.last_logs = self._log(sums, n_since, time.perf_counter() - t_since - busy, bar)
                    sums, n_since, busy, t_since = {}, 0, 0.0, time.perf_counter()
                t0 = time.perf_counter()
                if self.is_main and c.sample_every and self.step % c.sample_every == 0:
                    self._write_preview(self.step, preview_batch)
                if at_ckpt:
                    result.checkpoint = self.save(iterator) or result.checkpoint
                busy += time.perf_counter() - t0
                if at_log and (c.minutes is not None or self.should_stop):
                    stop = self.should_stop or time.monotonic() >= deadline
                    if (dist.any_flag(stop) if self.world_size > 1 else stop):
                        break
        except KeyboardInterrupt:
            result.interrupted = True
            if self.is_main:
                print(f"\ngenlab: interrupted at step {self.step}; saving a checkpoint", file=sys.stderr)
        finally:
            if bar is not None:
                bar.close()
        if n_since and not result.interrupted:
            if self.guard.health(self.model, sums) is None:
                result.last_logs = self._log(sums, n_since, time.perf_counter() - t_since - busy, None)
            else:
                self._rollback(iterator, "non-finite values in the last steps")
        self._finish(iterator, preview_batch, result)
        result.step, result.rollbacks = self.step, self.rollbacks
        return result

    def _finish(self, iterator: BatchIterator, preview_batch: dict[str, torch.Tensor], result: TrainResult) -> None:
        if self.is_main:
            # a family's end-of-training work (a VAE's latent sampler) goes into the final checkpoint
            changed = not result.interrupted and self.model.finish_training(self.data)
            last = ckpt.list_checkpoints(self.run_dir)  # the checkpoint first: a full disk must not cost it
            if changed or not last or last[-1].name != f"step-{self.step:07d}":
                result.checkpoint = self.save(iterator, final=True)
            else:
                result.checkpoint = last[-1]
            if not result.interrupted:
                self._write_preview(self.step, preview_batch)
            if result.interrupted:
                print(f"genlab: checkpoint saved to {result.checkpoint}; continue with the same command "
                      f"and --resume", file=sys.stderr)
        for cb in self.callbacks:
            cb.on_train_end(self)
        if self.trackers is not None:
            self.optional_writes("tracker logs", self.trackers.artifact, result.checkpoint)
            self.optional_writes("tracker logs", self.trackers.close)
        dist.barrier()
        self.model.eval()

    def _log(self, sums: dict[str, torch.Tensor], n: int, seconds: float, bar: Any) -> dict[str, float]:
        logs: dict[str, Any] = {k: float(v) / n for k, v in sums.items()}  # one host sync per log step
        if self.world_size > 1:
            logs = dist.all_mean(logs)
        ips = n * self.config.batch_size * self.world_size / max(seconds, 1e-9)
        logs["images_per_s"] = ips
        for cb in self.callbacks:
            cb.on_log(self, self.step, logs)
        if not self.is_main:
            return logs
        row = {"step": self.step, "time": time.time(), **logs}
        self.history.append(row)
        self.optional_writes("metrics.jsonl", self.rundir.append, row)
        if self.trackers is not None:
            self.optional_writes("tracker logs", self.trackers.scalars, logs, self.step)
        if bar is not None:
            bar.update(self.step, logs)
        return logs
