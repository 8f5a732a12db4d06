"""Shared network blocks used by several families."""

from .conv import DownStack, UpStack, conv_plan, supported_sizes
from .mlp import MLP
from .optim import adam

__all__ = ["DownStack", "UpStack", "conv_plan", "supported_sizes", "MLP", "adam"]
