"""The MLP GAN's default search space: shared GAN options, layer sizes, dropout."""

from ...search_space import Choice, Float
from ..adversarial_space import GAN_SPACE

SEARCH_SPACE = {**GAN_SPACE, "g_hidden": Choice("256,512", "256,512,1024"), "d_hidden": Choice("256", "512,256"),
                "g_batchnorm": Choice(False, True), "dropout": Float(0.0, 0.5)}
