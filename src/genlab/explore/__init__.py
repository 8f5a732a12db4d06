"""Exploration: grids, interpolation, traversals, translation, plots."""

from .grid import save_grid

__all__ = ["save_grid"]
