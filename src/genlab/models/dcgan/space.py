"""DCGAN's default search space for `genlab sweep`: the shared GAN options and the widths."""

from ...search_space import Choice
from ..adversarial_space import GAN_SPACE

SEARCH_SPACE = {**GAN_SPACE, "g_width": Choice(16, 32, 64), "d_width": Choice(16, 32, 64)}
