"""Trainer callbacks: small objects with hooks the Trainer calls.

Families (``model.callbacks()``, e.g. the GANs' diversity monitor) and users
(periodic evaluation, custom logging) add behaviour without the Trainer
knowing about them. The base class sits with the family contract, below the
Trainer, so a family can define one without importing the training layer;
`genlab.training.Callback` is the same class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..training.trainer import Trainer


class Callback:
    def on_train_start(self, trainer: "Trainer") -> None:
        pass

    def on_log(self, trainer: "Trainer", step: int, logs: dict[str, Any]) -> None:
        """At logging steps; `logs` may be extended with extra values, and setting
        ``trainer.should_stop = True`` ends training after this step (with a checkpoint)."""

    def on_preview(self, trainer: "Trainer", step: int, images: dict[str, Any]) -> None:
        pass

    def on_checkpoint(self, trainer: "Trainer", step: int, path: Any) -> None:
        pass

    def on_train_end(self, trainer: "Trainer") -> None:
        pass
