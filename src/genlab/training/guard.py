"""What keeps a run healthy: the gradient monitor, the health check, the
initial snapshot and the rollback.

At logging and checkpoint steps the Trainer asks `Guard.health` whether the
losses summed since the last check are finite and the gradient norms bounded
(and, before a checkpoint, every weight finite). If not, `Guard.rollback`
restores the last valid checkpoint through the same path as ``--resume``
(`checkpoint.read_training_state` + `checkpoint.apply_training_state`), or
the snapshot taken before the first step when there is none, and scales the
learning rates down; after ``max_rollbacks`` it gives up with
`TrainingDiverged`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from ..data.base import BatchIterator
from ..errors import GenlabError
from ..models.base import GenerativeModel
from . import checkpoint as ckpt
from . import distributed as dist
from .config import TrainConfig


class TrainingDiverged(GenlabError):
    """Losses or gradients kept blowing up after the allowed rollbacks."""


class GradientMonitor:
    """Largest gradient norm seen since the last check, kept on the device."""

    def __init__(self) -> None:
        self.max_norm: torch.Tensor | None = None

    def hook(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        found_inf = getattr(optimizer, "found_inf", None)  # set by torch.amp on fused optimizers only
        if found_inf is not None:
            # fp16 loss scaling with a fused optimizer: the step runs and skips itself when the
            # gradients overflowed; an overflow is then expected (the scale drops), not divergence
            norm = torch.where(found_inf.to(norm.device).sum() > 0, torch.zeros_like(norm), norm)
        self.max_norm = norm if self.max_norm is None else torch.maximum(self.max_norm, norm)

    def take(self) -> torch.Tensor | None:
        value, self.max_norm = self.max_norm, None
        return value


def snapshot(model: GenerativeModel, iterator: BatchIterator, step: int) -> dict[str, Any]:
    """The training state in memory, in the layout `checkpoint.read_training_state` returns."""
    return {"model": copy.deepcopy(model.state_dict()),
            "optim": {k: copy.deepcopy(o.state_dict()) for k, o in model.optimizers.items()},
            "extra": copy.deepcopy(model.extra_state()), "data": iterator.state_dict(),
            "rng": ckpt.rng_state(), "step": step,
            "grad_scaler": model.grad_scaler.state_dict() if model.grad_scaler is not None else None}


class Guard:
    """Health checks and rollbacks of one training run."""

    def __init__(self, config: TrainConfig, world_size: int = 1):
        self.config = config
        self.world_size = world_size
        self.monitor = GradientMonitor()
        self.initial: dict[str, Any] | None = None
        self.rollbacks = 0

    def watch(self, optimizer: torch.optim.Optimizer) -> None:
        """Track the optimizer's gradient norms (when ``max_grad_norm`` is on)."""
        if self.config.max_grad_norm > 0:
            optimizer.register_step_pre_hook(self.monitor.hook)

    def health(self, model: GenerativeModel, sums: dict[str, torch.Tensor], params: bool = False) -> str | None:
        """None if losses are finite and gradients bounded since the last check (and,
        with `params`, every weight finite: checked before a checkpoint), else why not."""
        parts = {k: v.detach().float().reshape(-1) for k, v in sums.items()}
        grad = self.monitor.take()
        if grad is not None:
            parts["gradients"] = grad.detach().float().reshape(-1)
        if params:
            weights = [p.detach() for p in model.parameters()]
            if weights:
                parts["weights"] = torch.stack(torch._foreach_norm(weights)).float()
        if not parts:
            return None
        values = torch.cat(list(parts.values()))
        limit = self.config.max_grad_norm
        ok = torch.isfinite(values).all()
        if grad is not None and limit > 0:
            ok = ok & (grad <= limit).all()
        bad = not bool(ok)  # the one host sync of a logging step
        if self.world_size > 1:
            bad = dist.any_flag(bad)
        if not bad:
            return None
        names = [k for k, v in parts.items() if not torch.isfinite(v).all()]
        if names:
            return f"non-finite {', '.join(names)}"
        if grad is not None and limit > 0 and bool((grad > limit).any()):
            return f"gradient norm {float(grad.max()):.3g} > {limit:g}"
        return "divergence on another process"

    def restore(self, model: GenerativeModel, iterator: BatchIterator, path: Path) -> int:
        """Resume from checkpoint `path`; returns its step (the rollback count comes back too)."""
        step, self.rollbacks = ckpt.apply_training_state(model, iterator, ckpt.read_training_state(path))
        return step

    def rollback(self, model: GenerativeModel, iterator: BatchIterator, run_dir: Path, reason: str,
                 is_main: bool) -> tuple[int, dict[str, Any]]:
        """Restore the last good state; returns (its step, what the rollback event records)."""
        c = self.config
        self.rollbacks += 1
        lrs = {k: [g["lr"] for g in o.param_groups] for k, o in model.optimizers.items()}
        last = ckpt.latest_valid(run_dir, warn=False) if is_main or self.world_size == 1 else None
        if self.world_size > 1:  # every rank restores the same state: the initial snapshot or rank 0's file
            dist.barrier()
            last = ckpt.latest_valid(run_dir, warn=False)
        if self.rollbacks > c.max_rollbacks:
            raise TrainingDiverged(
                f"training diverged ({reason}) after {c.max_rollbacks} rollback(s); last good checkpoint: "
                f"{last or 'none'}; lower the learning rates or add a stabiliser (e.g. --spectral-norm, --r1-gamma)")
        rollbacks = self.rollbacks
        if last is not None:
            step = self.restore(model, iterator, last)
            to = f"checkpoint {last.name}"
        else:
            step, _ = ckpt.apply_training_state(model, iterator, self.initial, copy_state=True)
            to = "the initial state"
        self.rollbacks = rollbacks
        for k, o in model.optimizers.items():
            for g, lr in zip(o.param_groups, lrs[k]):
                g["lr"] = lr * c.rollback_lr_factor
        return step, {"reason": reason, "to": to, "lr_factor": c.rollback_lr_factor, "count": self.rollbacks}
