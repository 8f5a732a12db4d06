"""The conditional GAN's default search space: shared GAN options, widths, label embedding."""

from ...search_space import Choice
from ..adversarial_space import GAN_SPACE

SEARCH_SPACE = {**GAN_SPACE, "g_width": Choice(16, 32, 64), "d_width": Choice(16, 32, 64),
                "embed_dim": Choice(10, 50)}
