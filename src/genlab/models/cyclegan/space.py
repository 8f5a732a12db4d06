"""CycleGAN's default search space: learning rate, beta1, objective, cycle and identity
weights, generator, normalisation, spectral norm and history pool."""

from ...search_space import Choice, Float

SEARCH_SPACE = {
    "lr": Float(1e-5, 1e-3, log=True),
    "beta1": Float(0.0, 0.9),
    "loss": Choice("lsgan", "nonsaturating", "hinge"),
    "lambda_cycle": Float(1.0, 20.0, log=True),
    "lambda_identity": Choice(0.0, 0.5),
    "generator": Choice("resnet", "unet"),
    "norm": Choice("instance", "batch"),
    "spectral_norm": Choice(False, True),
    "pool_size": Choice(0, 50),
}
