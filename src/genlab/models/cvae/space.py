"""The conditional VAE's default search space: the VAE's."""

from ..vae.space import SEARCH_SPACE

__all__ = ["SEARCH_SPACE"]
