"""Training: the generic Trainer, its settings, checkpoints and callbacks."""

from ..models.callbacks import Callback
from .config import TrainConfig
from .trainer import Trainer, TrainResult

__all__ = ["Callback", "TrainConfig", "Trainer", "TrainResult"]
