"""The VAE's default search space: learning rate, beta, latent size, width, KL warm-up and
likelihood (the conditional VAE uses the same one)."""

from ...search_space import Choice, Float

SEARCH_SPACE = {
    "lr": Float(1e-4, 3e-3, log=True),
    "beta": Float(0.25, 4.0, log=True),
    "latent_dim": Choice(8, 16, 32, 64),
    "width": Choice(16, 32, 64),
    "warmup_steps": Choice(0, 200, 1000),
    "likelihood": Choice("bernoulli", "gaussian"),
}
