"""Conditional GAN networks.

G: [z, embed(y)] -> transposed-convolution stack (`UpStack`) -> tanh.
D: convolution stack (`DownStack`) -> features h (C x base x base);
score = head(h) + <embed(y), sum-pooled h>, the projection discriminator of
Miyato & Koyama 2018 (the unconditional head keeps DCGAN's full-map kernel).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...nn.conv import DownStack, UpStack, init_dcgan
from ...registry import FAMILIES
from ..adversarial import AdversarialModel, apply_spectral_norm
from .config import CGANConfig


class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim: int, num_classes: int, embed_dim: int, channels: int, size: int, width: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = nn.Sequential(UpStack(latent_dim + embed_dim, channels, size, width, norm="batch"), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(labels)], 1))


class ProjectionDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int, num_classes: int, spectral_norm: bool):
        super().__init__()
        self.features = DownStack(channels, size, width, norm="batch", spectral_norm=spectral_norm)
        ch = self.features.out_channels
        self.head = nn.Conv2d(ch, 1, self.features.base, 1, 0)
        self.embed = nn.Embedding(num_classes, ch)
        if spectral_norm:  # the normalisation bounds the projection's scale
            apply_spectral_norm(self.head)
            apply_spectral_norm(self.embed)
        else:
            # zero start: D begins unconditional and learns the class projection (a random start gives
            # sum-pooled scores in the tens and early class-only gradients that make G ignore z)
            nn.init.zeros_(self.embed.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = h.sum(dim=(2, 3))
        return self.head(h).reshape(-1) + (self.embed(labels) * pooled).sum(1)


@FAMILIES.register("cgan")
class CGAN(AdversarialModel):
    Config = CGANConfig
    conditional = True

    def __init__(self, config: CGANConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        c, h, _ = self.image_shape
        k = self.num_classes
        self.generator = ConditionalGenerator(config.latent_dim, k, config.embed_dim, c, h, config.g_width)
        self.discriminator = ProjectionDiscriminator(c, h, config.d_width, k, config.spectral_norm)
        init_dcgan(self.generator.net)
        init_dcgan(self.discriminator.features)
        nn.init.normal_(self.discriminator.head.parametrizations.weight.original
                        if config.spectral_norm else self.discriminator.head.weight, 0.0, 0.02)
        self.init_ema()

    def class_grid_labels(self, cols: int, max_classes: int = 16) -> torch.Tensor:
        """Labels for a grid with one row per class (the first `max_classes` classes)."""
        rows = min(self.num_classes, max_classes)
        return torch.arange(rows).repeat_interleave(cols)

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """A square grid, one row per class (k classes x k samples; at most 16 classes)."""
        k = min(self.num_classes, 16)
        return {"samples": self.sample(k * k, seed=0, labels=self.class_grid_labels(k))["images"]}
