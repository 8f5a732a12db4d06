"""CycleGAN's learning-rate schedule (Zhu et al. 2017): held, then linearly down to 0.

Explicit: constant until `decay_start`, then linear to 0 over `decay_steps`.
Automatic (`auto_decay`, the default, when `decay_steps` is 0): the paper's
shape over the run's own length, held for the first half and decayed over the
second, whenever the length is known when training starts (``--steps``, or
``--epochs`` over the data); a run limited only by ``--minutes`` keeps a
constant rate. The `RunLength` callback tells the model that length; it is
worked out again from the same settings when a run resumes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..callbacks import Callback

if TYPE_CHECKING:
    from ...training.trainer import Trainer


def lr_factor(step: int, decay_start: int, decay_steps: int, run_steps: int | None = None) -> float:
    """The learning rate's multiplier at `step`."""
    if decay_steps <= 0:
        if not run_steps:
            return 1.0
        decay_start, decay_steps = run_steps // 2, run_steps - run_steps // 2
    if step < decay_start:
        return 1.0
    return max(0.0, 1.0 - (step - decay_start) / decay_steps)


def run_length(trainer: Any) -> int | None:
    """Steps the run will take, if its settings say (--steps, or --epochs over the data)."""
    c = trainer.config
    if getattr(c, "steps", None):
        return int(c.steps)
    if getattr(c, "epochs", None):
        per_epoch = len(trainer.data) // (c.batch_size * getattr(trainer, "world_size", 1))
        return max(1, math.ceil(c.epochs * max(1, per_epoch)))
    return None


class RunLength(Callback):
    """Sets ``model.run_steps`` from the trainer's settings when training starts."""

    def on_train_start(self, trainer: "Trainer") -> None:
        trainer.model.run_steps = run_length(trainer)
