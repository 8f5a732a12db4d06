"""InfoGAN's default search space: shared GAN options, widths, the mutual-information weight."""

from ...search_space import Choice, Float
from ..adversarial_space import GAN_SPACE

SEARCH_SPACE = {**GAN_SPACE, "g_width": Choice(16, 32, 64), "d_width": Choice(16, 32, 64),
                "info_weight": Float(0.1, 2.0, log=True), "continuous_loss": Choice("gaussian", "mse")}
