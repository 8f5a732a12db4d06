"""The sequence VAE's default search space: cell, sizes, beta and its annealing, word
dropout, learning rate and gradient clipping."""

from ...search_space import Choice, Float, Int

SEARCH_SPACE = {
    "cell": Choice("lstm", "gru"),
    "hidden": Choice(64, 128, 256),
    "layers": Int(1, 2),
    "latent_dim": Choice(8, 16, 32),
    "beta": Float(0.25, 4.0, log=True),
    "anneal_steps": Choice(500, 2000),
    "word_dropout": Float(0.0, 0.5),
    "lr": Float(1e-4, 3e-3, log=True),
    "grad_clip": Choice(1.0, 5.0),
}
