"""Conditional VAE (Sohn et al. 2015): q(z|x, y) and p(x|z, y) with a one-hot y.

Everything else (likelihoods, beta, warm-up, capacity, evaluation) is the
VAE's; the label enters through the VAE's `condition` hook. Sampling takes
class ids (`sample(n, labels=k)`); decoding also accepts rows of class
probabilities, which lets explorations blend two classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...errors import GenlabError
from ...registry import FAMILIES
from ..vae.model import VAE
from .config import CVAEConfig


@FAMILIES.register("cvae")
class CVAE(VAE):
    Config = CVAEConfig
    conditional = True

    def condition_size(self) -> int:
        return self.num_classes

    def condition(self, labels: torch.Tensor | None) -> torch.Tensor:
        """One-hot rows for class ids; float N x K rows are taken as they are."""
        if labels is None:
            raise GenlabError("the cvae needs class labels to encode or decode; pass labels (e.g. --class K)")
        labels = labels.to(self.device)
        if labels.is_floating_point():
            if labels.dim() != 2 or labels.shape[1] != self.num_classes:
                raise GenlabError(f"soft labels must be N x {self.num_classes} class probabilities, "
                                  f"got shape {list(labels.shape)}")
            return labels.float()
        return F.one_hot(labels.long().reshape(-1), self.num_classes).float()
