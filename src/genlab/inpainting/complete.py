"""Completing the hidden pixels of images with a trained model.

Inputs are N x C x H x W images in [0, 1] and an H x W visibility mask (True
= visible); the output keeps every visible pixel exactly and fills the hidden
ones.

- **VAE families** (vae, cvae): start from a mean fill and iterate
  ``x <- m * x_obs + (1 - m) * decode(E[z | x])``: encode the current image,
  decode the posterior mean, keep the visible pixels (Rezende et al. 2014
  iterate the same chain with sampled z; the posterior mean converges to a
  sharper fixed point). A cvae does not know the image's class: the chain is
  run under every class and the one whose decoding best matches the visible
  pixels wins.
- **GAN families** (gan, dcgan, cgan, infogan): optimise the generator's
  latent code so that G(z) matches the visible pixels (mean absolute error),
  plus a Gaussian prior term ``prior * |z|^2 / (2 d)`` that keeps z where the
  generator was trained (Yeh et al. 2017 use a discriminator term instead).
  `restarts` codes per image are optimised together with Adam; the one with
  the smallest visible error wins. A cgan's restarts cycle through the classes
  (at least one per class).

`mean_fill` is the baseline: hidden pixels set to a fixed image (the
per-pixel mean of the training images) or, without one, to the mean of the
image's own visible pixels.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import GenlabError
from ..models.adversarial import AdversarialModel
from ..models.vae.model import VAE

FAMILIES_HINT = "the image families vae, cvae, gan, dcgan, cgan and infogan"


def mean_fill(x01: torch.Tensor, visible: torch.Tensor, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Hidden pixels set to `fill` (a C x H x W image, e.g. the training mean) or to the
    mean of each image's visible pixels (per channel)."""
    m = visible.to(x01.dtype).expand_as(x01)
    if fill is None:
        fill = (x01 * m).sum((2, 3), keepdim=True) / m.sum((2, 3), keepdim=True).clamp(min=1)
    return m * x01 + (1 - m) * fill.to(x01.dtype).expand_as(x01)


def check_images(model: Any, x01: torch.Tensor, visible: torch.Tensor) -> None:
    shape = tuple(int(s) for s in model.image_shape)
    if x01.dim() != 4 or tuple(x01.shape[1:]) != shape:
        raise GenlabError(f"the images are {list(x01.shape[1:])} but the model makes {list(shape)}; "
                          f"give images of the model's size and channels")
    if tuple(visible.shape) != shape[1:]:
        raise GenlabError(f"the mask is {list(visible.shape)} but the images are {list(shape[1:])}")


def complete(model: Any, x01: torch.Tensor, visible: torch.Tensor, *, labels: torch.Tensor | None = None,
             iterations: int = 100, restarts: int = 8, steps: int = 300, lr: float = 0.05, prior: float = 0.01,
             seed: int = 0, batch_size: int = 256, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Completed images (CPU, [0, 1]) of `x01` with `model`; see the module docstring.

    `labels` fixes the class of a conditional model (else every class is tried);
    `iterations` is the VAE's chain length; `restarts`, `steps`, `lr` and `prior`
    drive the GAN's latent search; `fill` is the VAE chain's starting fill."""
    if model.data_info.get("kind", "image") != "image":
        raise GenlabError(f"inpainting needs an image model ({FAMILIES_HINT}); this run holds a "
                          f"{model.family} model of {model.data_info.get('kind')} data")
    check_images(model, x01, visible)
    for name, value in (("iterations", iterations), ("restarts", restarts), ("steps", steps)):
        if value < 1:
            raise GenlabError(f"--{name} must be at least 1 (got {value})")
    if labels is not None:
        labels = model.check_labels(labels, x01.shape[0]).cpu()
    parts = []
    for i in range(0, x01.shape[0], batch_size):
        x = x01[i:i + batch_size].float()
        y = labels[i:i + batch_size] if labels is not None else None
        if isinstance(model, VAE):
            parts.append(complete_vae(model, x, visible, y, iterations, fill))
        elif isinstance(model, AdversarialModel):
            parts.append(complete_gan(model, x, visible, y, restarts, steps, lr, prior, seed + i))
        else:
            raise GenlabError(f"inpainting needs a model of {FAMILIES_HINT}; this run holds a {model.family} model")
    return torch.cat(parts)


@torch.no_grad()
def complete_vae(model: Any, x01: torch.Tensor, visible: torch.Tensor, labels: torch.Tensor | None,
                 iterations: int, fill: torch.Tensor | None = None) -> torch.Tensor:
    was_training = model.training
    model.eval()
    device = model.device
    x_obs = x01.to(device)
    m = visible.to(device, x_obs.dtype).expand_as(x_obs)
    start = mean_fill(x_obs, visible.to(device), fill.to(device) if fill is not None else None)
    if not model.conditional:
        classes = [None]
    elif labels is not None:
        classes = [labels.to(device)]
    else:  # a cvae: run the chain under every class, keep the best visible match
        classes = [torch.full((x01.shape[0],), k, dtype=torch.long, device=device) for k in range(model.num_classes)]
    best, best_err = None, None
    for y in classes:
        x = start
        for _ in range(iterations):
            mu, _ = model.encode(x, y)
            decoded = model.mean_image(model.decode(mu, y)).float()
            x = m * x_obs + (1 - m) * decoded
        err = ((decoded - x_obs).abs() * m).flatten(1).sum(1)
        if best is None:
            best, best_err = x, err
        else:
            better = err < best_err
            best = torch.where(better[:, None, None, None], x, best)
            best_err = torch.minimum(err, best_err)
    model.train(was_training)
    return best.cpu()


def complete_gan(model: Any, x01: torch.Tensor, visible: torch.Tensor, labels: torch.Tensor | None,
                 restarts: int, steps: int, lr: float, prior: float, seed: int) -> torch.Tensor:
    was_training = model.training
    model.eval()
    device = model.device
    net = model.sampling_generator()
    flags = [p.requires_grad for p in net.parameters()]
    for p in net.parameters():
        p.requires_grad_(False)
    n = x01.shape[0]
    if model.conditional and labels is None:
        restarts = max(restarts, model.num_classes)  # at least one restart per class
    x_obs = x01.to(device).repeat(restarts, 1, 1, 1)  # restart r of image i at row r * n + i
    m = visible.to(device, x_obs.dtype).expand_as(x_obs)
    y = None
    if model.conditional:
        y = labels.to(device).repeat(restarts) if labels is not None else \
            torch.arange(restarts, device=device).repeat_interleave(n) % model.num_classes
    gen = torch.Generator(device=device).manual_seed(int(seed))
    z = model.latent(n * restarts, gen).detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    pixels = m.flatten(1).sum(1).clamp(min=1)
    try:
        with torch.enable_grad():
            for _ in range(steps):
                g = (model.generate(z, y, net=net).float() + 1) / 2
                err = ((g - x_obs).abs() * m).flatten(1).sum(1) / pixels
                loss = (err + prior * z.pow(2).sum(1) / (2 * z.shape[1])).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            g = ((model.generate(z, y, net=net).float() + 1) / 2).clamp(0, 1)
            err = ((g - x_obs).abs() * m).flatten(1).sum(1).view(restarts, n)
            best = err.argmin(0)
            g = g.view(restarts, n, *g.shape[1:])[best, torch.arange(n, device=device)]
            out = m[:n] * x_obs[:n] + (1 - m[:n]) * g
    finally:
        for p, flag in zip(net.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return out.detach().cpu()
