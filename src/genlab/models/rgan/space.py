"""The recurrent GAN's default search space: shared GAN options (rates around its 1e-3
defaults; no gradient penalties, whose double backward LSTMs do not support on GPUs),
LSTM sizes, the discriminator's score and the generator's auxiliary terms on or off."""

from ...search_space import Choice, Float, Int
from ..adversarial_space import GAN_SPACE

SEARCH_SPACE = {**{k: v for k, v in GAN_SPACE.items() if k != "r1_gamma"},
                "lr_g": Float(1e-4, 3e-3, log=True), "lr_d": Float(1e-4, 3e-3, log=True),
                "loss": Choice("nonsaturating", "lsgan", "hinge"),
                "hidden": Choice(32, 64, 128), "layers": Int(1, 2), "d_hidden": Choice(32, 64, 128),
                "d_score": Choice("steps", "pooled"), "feature_matching": Choice(0.0, 1.0),
                "supervised": Choice(0.0, 1.0), "moment_matching": Choice(0.0, 1.0)}
