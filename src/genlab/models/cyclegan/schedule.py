"""CycleGAN's learning-rate schedule (Zhu et al. 2017): held, then linearly down to 0.

Explicit: constant until `decay_start`, then linear to 0 over `decay_steps`.
Automatic (`auto_decay`, the default, when `decay_steps` is 0): the paper's
shape over the run's own length, held for the first half and decayed over the
second, whenever the length is known when training starts (``--steps``, or
``--epochs`` over the data); a run limited only by ``--minutes`` keeps a
constant rate. The `RunLength` callback passes the trainer's own count of
the run's steps (`Trainer.planned_steps`, the one its progress line shows)
to the model; a resumed run counts again from the same settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


class RunLength(Callback):
    """Sets ``model.run_steps`` to the trainer's planned steps when training starts, if --steps or --epochs set
    them (a run given neither trains the trainer's default number of steps at a constant rate)."""

    def on_train_start(self, trainer: "Trainer") -> None:
        c = trainer.config
        trainer.model.run_steps = trainer.planned_steps if (c.steps or c.epochs) else None
