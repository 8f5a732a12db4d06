"""CycleGAN's default search space: learning rate, beta1, objective, cycle and identity
weights (the cycle weight from the small preset's 0.5 to the paper's 10 and beyond),
generator, normalisation, spectral norm and history pool."""

from ...search_space import Choice, Float

SEARCH_SPACE = {
    "lr": Float(1e-5, 1e-3, log=True),
    "beta1": Float(0.0, 0.9),
    "loss": Choice("lsgan", "nonsaturating", "hinge"),
    "lambda_cycle": Float(0.25, 20.0, log=True),
    "lambda_identity": Choice(0.0, 0.5),
    "generator": Choice("resnet", "unet"),
    "norm": Choice("instance", "batch"),
    "spectral_norm": Choice(False, True),
    "pool_size": Choice(0, 50),
}
