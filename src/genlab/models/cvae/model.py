"""Conditional VAE (Sohn et al. 2015): q(z|x, y) and p(x|z, y) with a one-hot y.

Everything else (likelihoods, beta, warm-up, capacity, evaluation) is the
VAE's; the label enters through the VAE's `condition` hook. Sampling takes
class ids (`sample(n, labels=k)`); decoding also accepts rows of class
probabilities, which lets explorations blend two classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import GenlabError
from ...nn.optim import adam
from ...registry import FAMILIES
from ..vae.model import VAE
from .config import CVAEConfig


@FAMILIES.register("cvae")
class CVAE(VAE):
    Config = CVAEConfig
    conditional = True

    def __init__(self, config: CVAEConfig, data_info):
        super().__init__(config, data_info)
        if config.label_adversary > 0:
            self.adversary = nn.Sequential(nn.Linear(config.latent_dim, 128), nn.ReLU(),
                                           nn.Linear(128, self.num_classes))

    @classmethod
    def migrate(cls, config, version: int):
        """Before version 2 the CVAE had no label adversary: old runs stay plain CVAEs."""
        config = super().migrate(config, version)
        if version < 2:
            config.setdefault("label_adversary", 0.0)
        return config

    def configure_optimizers(self):
        vae = [p for name, p in self.named_parameters() if not name.startswith("adversary.")]
        opts = {"vae": adam(vae, self.config.lr, (0.9, 0.999))}
        if self.config.label_adversary > 0:
            opts["adversary"] = adam(self.adversary.parameters(), self.config.lr, (0.5, 0.999))
        return opts

    def train_step(self, batch, step: int):
        """The CVAE's ELBO; with the label adversary, first one step of the adversary on
        the detached codes (cross-entropy against the true class), then the encoder and
        decoder minimise the ELBO plus `label_adversary` x KL(uniform || adversary(z)),
        which is zero when z tells nothing about the class."""
        loss, logs, z, labels = self.training_loss(batch, step)
        if self.config.label_adversary > 0:
            adv_loss = F.cross_entropy(self.adversary(z.detach()), labels)
            self.optimize(adv_loss, self.optimizers["adversary"])
            log_p = F.log_softmax(self.adversary(z), 1)
            leak = -log_p.mean(1).mean() - math.log(self.num_classes)
            loss = loss + self.config.label_adversary * leak
            logs = {**logs, "adversary": adv_loss.detach(), "label_leak": leak.detach()}
        self.optimize(loss, self.optimizers["vae"])
        return {"loss": loss.detach(), **logs}

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
