"""genlab: deep generative models (GANs and VAEs) in PyTorch.

The public API, which the CLI is a thin layer over::

    import genlab
    run = genlab.train("dcgan", data="fashion-mnist", steps=2000, out="runs/dcgan")
    model = genlab.load("runs/dcgan")
    images = model.sample(64, seed=0)["images"]     # N x C x H x W in [0, 1]
    genlab.save_samples(model.sample(100), "grid.png")
"""

from .api import families, load, sample, save_samples, train
from .errors import GenlabError
from .version import __version__

__all__ = ["__version__", "GenlabError", "families", "load", "sample", "save_samples", "train"]
