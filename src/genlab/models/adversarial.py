"""Shared machinery of the GAN families: the D and G phases of a step.

A GAN family subclasses `AdversarialModel`, builds `self.generator` and
`self.discriminator`, and implements `generate(z, labels)` (images in
[-1, 1]) and `discriminate(x, labels)` (one score per item). The objective is
chosen by name (`loss`, see `genlab.losses`); the step takes care of the
discriminator steps per generator step, the gradient penalty the objective
asks for, the R1 penalty, differentiable augmentation of D's inputs
(DiffAugment) and the generator's exponential moving average. Every GAN
family gets a mode-collapse monitor (`genlab.models.diversity`) as a
Trainer callback.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.nn.utils.parametrize import is_parametrized

from ..config import option
from ..errors import ConfigError
from ..losses import check_loss, get_loss, gradient_penalty, r1_penalty
from ..modes import frozen
from ..nn.augment import diff_augment, parse_policy
from ..nn.optim import adam
from .base import GenerativeModel
from .diversity import DiversityMonitor


@dataclass
class GANConfig:
    """Options common to every GAN family."""

    latent_dim: int = option(100, help="size of the noise vector z", min=1)
    loss: str = option("nonsaturating", help="GAN objective (minimax, nonsaturating, lsgan, wgan-gp, hinge)")
    lr_g: float = option(2e-4, help="generator learning rate", min=0)
    lr_d: float = option(2e-4, help="discriminator learning rate (two time-scale: set it apart from lr_g)", min=0)
    beta1: float = option(0.5, help="Adam beta1", min=0, max=1)
    beta2: float = option(0.999, help="Adam beta2", min=0, max=1)
    d_steps: int = option(1, help="discriminator steps per generator step", min=1)
    spectral_norm: bool = option(False, help="spectral normalisation in the discriminator")
    r1_gamma: float = option(0.0, help="R1 penalty weight on real data (0 = off)", min=0)
    ema: float = option(0.0, help="generator EMA decay, e.g. 0.999 (0 = off); sampling uses the EMA weights", min=0, max=1)
    diffaugment: str = option("", help="DiffAugment policies for D's inputs, e.g. color,translation,cutout (empty = off)")
    collapse_warning: float = option(0.3, help="warn of mode collapse when sample diversity falls below this "
                                               "fraction of the data's (0 = no monitor)", min=0, max=1)

    def validate(self) -> None:
        check_loss(self.loss)
        parse_policy(self.diffaugment)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectrally normalise every linear, convolution and embedding layer of `module` in place."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)) and not is_parametrized(m, "weight"):
            spectral_norm(m)
    return module


def ema_decay(decay: float, step: int | None) -> float:
    """The EMA decay used after optimizer step `step` (0-based): ``min(decay, (1 + t) / (10 + t))``.

    Without a warm-up the average keeps ``decay ** t`` of the random initial
    weights after t steps (13% after 2,000 steps at 0.999); with it the early
    average follows the generator closely (decay 0.1 at step 0, 0.5 at step 8,
    0.9 at step 80) and reaches `decay` after ``(10 * decay - 1) / (1 - decay)``
    steps (8,990 at 0.999). `step` None means no warm-up.
    """
    if step is None:
        return decay
    return min(decay, (1.0 + step) / (10.0 + step))


class AdversarialModel(GenerativeModel):
    """A generator/discriminator pair trained by a GAN objective."""

    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, config: Any, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        self.objective = get_loss(config.loss)
        self.augment_policy = parse_policy(getattr(config, "diffaugment", ""))
        if self.augment_policy and data_info.get("kind", "image") != "image":
            raise ConfigError(f"--diffaugment augments images, but {self.family!r} trains on "
                              f"{data_info.get('kind')} data here; drop --diffaugment")

    @property
    def uses_gradient_penalty(self) -> bool:
        return self.config.r1_gamma > 0 or bool(self.objective.gp_weight)

    def init_ema(self) -> None:
        """Call at the end of a subclass' __init__ once the generator exists."""
        if self.config.ema > 0:
            self.generator_ema = copy.deepcopy(self.generator)
            self.generator_ema.requires_grad_(False)

    # -- hooks for subclasses -----------------------------------------------------------
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 net: nn.Module | None = None) -> torch.Tensor:
        """Images (or sequences) from latents; conditional networks also get the labels."""
        net = net or self.generator
        return net(z) if labels is None else net(z, labels)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One score per item; conditional networks also get the labels."""
        out = self.discriminator(x) if labels is None else self.discriminator(x, labels)
        return out.reshape(-1)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.randn(n, self.config.latent_dim, generator=generator)

    def extra_generator_loss(self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                             logs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Terms added to the generator's loss (InfoGAN's mutual information)."""
        return None

    def extra_discriminator_loss(self, z: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                                 logs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Terms added to the discriminator's loss on (detached) fakes made from `z` (InfoGAN's
        mutual information, which also shapes the trunk D shares with Q)."""
        return None

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable augmentation (DiffAugment) applied to D's real and fake inputs."""
        return diff_augment(x, self.augment_policy) if self.augment_policy else x

    def callbacks(self) -> list[Any]:
        """A mode-collapse monitor (see `genlab.models.diversity`) unless switched off."""
        threshold = getattr(self.config, "collapse_warning", 0.0)
        if not threshold:
            return []
        hints = ["--minibatch-std"] if hasattr(self.config, "minibatch_std") and not self.config.minibatch_std else []
        hints += ["a lower --lr-g", "--r1-gamma 1" if not self.config.r1_gamma else "a larger --r1-gamma"]
        if not self.config.diffaugment:
            hints.append("--diffaugment color,translation")
        return [DiversityMonitor(threshold=threshold, hint=", ".join(hints[:-1]) + " or " + hints[-1])]

    # -- training -----------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            "g": adam(self.generator_parameters(), c.lr_g, (c.beta1, c.beta2)),
            "d": adam(self.discriminator_parameters(), c.lr_d, (c.beta1, c.beta2)),
        }

    def generator_parameters(self):
        return self.generator.parameters()

    def discriminator_parameters(self):
        return self.discriminator.parameters()

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        real = batch["x"]
        labels = batch.get("y") if self.conditional else None
        n = real.shape[0]
        logs: dict[str, torch.Tensor] = {}

        # discriminator phase
        z = self.latent(n)
        fake_labels = self.check_labels(None, n) if self.conditional else None
        fake = self.generate(z, fake_labels)
        for i in range(c.d_steps):
            if i > 0:  # further critic steps see fresh fakes
                z_d = self.latent(n)
                with torch.no_grad():
                    fake_d = self.generate(z_d, fake_labels)
            else:
                z_d, fake_d = z, fake.detach()
            real_in = self.augment(real)
            if c.r1_gamma > 0:
                real_in = real_in.detach().requires_grad_(True)
            d_real = self.discriminate(real_in, labels)
            d_fake = self.discriminate(self.augment(fake_d), fake_labels)
            loss_d = self.objective.d_loss(d_real, d_fake)
            extra_d = self.extra_discriminator_loss(z_d, fake_d, fake_labels, logs)
            if extra_d is not None:
                loss_d = loss_d + extra_d
            if self.objective.gp_weight:
                gp = gradient_penalty(lambda x, y=fake_labels: self.discriminate(x, y), real, fake_d) \
                    if not self.conditional else self._conditional_gp(real, fake_d, labels)
                loss_d = loss_d + self.objective.gp_weight * gp
                logs["gp"] = gp.detach()
            if c.r1_gamma > 0:
                r1 = r1_penalty(d_real, real_in)
                loss_d = loss_d + 0.5 * c.r1_gamma * r1
                logs["r1"] = r1.detach()
            self.optimize(loss_d, opt_d)

        # generator phase: D's weights need no gradients here
        with frozen(self.discriminator):
            d_fake_g = self.discriminate(self.augment(fake), fake_labels)
            loss_g = self.objective.g_loss(d_fake_g)
            extra = self.extra_generator_loss(z, fake, fake_labels, logs)
            if extra is not None:
                loss_g = loss_g + extra
            self.optimize(loss_g, opt_g)
        if c.ema > 0:
            self.update_ema(step)

        logs.update(loss_d=loss_d.detach(), loss_g=loss_g.detach(),
                    d_real=d_real.detach().mean(), d_fake=d_fake.detach().mean())
        return logs

    def _conditional_gp(self, real, fake, labels):
        # interpolates between a real and a fake image are scored with the real label
        return gradient_penalty(lambda x: self.discriminate(x, labels), real, fake)

    @torch.no_grad()
    def update_ema(self, step: int | None = None) -> None:
        """Move the EMA generator towards the generator by the decay of `step` (see `ema_decay`)."""
        decay = ema_decay(self.config.ema, step)
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    # -- sampling -----------------------------------------------------------------------
    def sampling_generator(self) -> nn.Module:
        ema = getattr(self, "generator_ema", None)
        return ema if ema is not None else self.generator

    @torch.no_grad()
    def generate_all(self, n: int, *, seed: int | None = None, labels: Any = None, batch_size: int = 500,
                     z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the sampling generator (EMA weights when on) over `n` latents in batches,
        in eval mode; returns its raw outputs on the CPU and the labels used."""
        net = self.sampling_generator()
        return self.decode_batches(n, lambda zb, yb: self.generate(zb, yb, net=net), seed=seed, labels=labels, z=z,
                                   batch_size=batch_size)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None,
               batch_size: int = 500, z: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        x, labels = self.generate_all(n, seed=seed, labels=labels, batch_size=batch_size, z=z)
        out = {"images": x.add_(1).div_(2).clamp_(0, 1)}
        if labels is not None:
            out["labels"] = labels
        return out
