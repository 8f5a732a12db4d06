"""CycleGAN: two generators, two PatchGAN discriminators, cycle consistency.

G_AB translates domain A to B, G_BA back; D_A and D_B tell real images of
their domain from translations. One training step (Zhu et al. 2017):

1. generators: adversarial losses ``gan_ab`` (G_AB fooling D_B) and
   ``gan_ba``, cycle losses ``cycle_a = |G_BA(G_AB(a)) - a|_1`` and
   ``cycle_b`` weighted by the cycle weight, identity losses
   ``idt_b = |G_AB(b) - b|_1`` and ``idt_a`` weighted by
   ``cycle weight * lambda_identity``; one Adam step on both generators.
   When A and B differ in channels (grey <-> colour), the identity input is
   converted to the generator's input channels first.
2. discriminators: real images against translations drawn from a history
   pool of `pool_size` earlier translations (Shrivastava et al. 2017); one
   Adam step on both discriminators.

The logged cycle and identity values are the unweighted mean L1 distances
(pixels in [-1, 1]). Sizes, cycle weight and learning rate come from the
options or, where unset, a preset (`presets.py`: the paper's from 64 px, a
measured one below); `self.settings` holds the values in use. The learning
rate follows `schedule.py`: held, then linear to 0; the history pools are
saved with the optimizer state (`extra_state`), so a resumed run
continues as if uninterrupted.

A trained model stores `keep_examples` training images of each domain with
its weights, so `sample(n, seed)` can show translations without the data;
`translate(images, direction)` translates any images in [0, 1].
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError, GenlabError
from ...losses import get_loss, gradient_penalty
from ...modes import evaluating, frozen
from ...nn.optim import adam
from ...nn.resnet import PatchDiscriminator, ResnetGenerator, UnetGenerator, init_normal
from ...registry import FAMILIES
from ...viz import make_grid
from ..base import GenerativeModel
from .config import CycleGANConfig
from .monitor import TranslationMonitor
from .paired import paired_scores
from .presets import resolve
from .schedule import RunLength, lr_factor
from .scores import convert_channels, mae

DIRECTIONS = {"atob": "AtoB", "btoa": "BtoA"}


def parse_direction(direction: str) -> str:
    key = str(direction).lower().replace("2", "to").replace("-", "").replace("_", "")
    if key not in DIRECTIONS:
        raise GenlabError(f"bad direction {direction!r}; use AtoB (domain A -> B) or BtoA (B -> A)")
    return DIRECTIONS[key]


class HistoryPool:
    """The last `size` generated images; D sees a mix of new and old fakes.

    Until the pool is full every image is stored and passed through; then
    each image, with probability 1/2, is swapped for a random stored one
    (which it replaces). Decisions use the global CPU RNG, saved by the
    Trainer's checkpoints.
    """

    def __init__(self, size: int):
        self.size = int(size)
        self.images: torch.Tensor | None = None
        self.count = 0

    def query(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach()  # D's loss must not reach back into G's graph
        if self.size == 0:
            return images
        if self.images is None or self.images.shape[1:] != images.shape[1:] or self.images.device != images.device:
            stored = self.images[: self.count] if self.images is not None else None
            self.images = torch.empty((self.size,) + tuple(images.shape[1:]), dtype=images.dtype, device=images.device)
            if stored is not None and stored.shape[1:] == images.shape[1:]:
                self.images[: len(stored)] = stored.to(images.device)
            else:
                self.count = 0
        n = images.shape[0]
        coins = torch.rand(n).tolist()
        picks = torch.randint(self.size, (n,)).tolist()
        out = images.clone()
        for i in range(n):
            if self.count < self.size:
                self.images[self.count] = images[i]
                self.count += 1
            elif coins[i] < 0.5:
                j = picks[i]
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out

    def state_dict(self) -> dict[str, Any]:
        if self.images is None or self.count == 0:
            return {"count": 0}
        return {"count": self.count, "images": self.images[: self.count].cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state.get("count", 0))
        if self.count:
            stored = state["images"]
            self.images = torch.empty((self.size,) + tuple(stored.shape[1:]), dtype=stored.dtype)
            self.images[: self.count] = stored
        else:
            self.images = None


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8."""
    return x.detach().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)


@FAMILIES.register("cyclegan")
class CycleGAN(GenerativeModel):
    Config = CycleGANConfig
    data_kinds = ("unpaired-image",)
    #: 2: sizes, cycle weight and learning rate may be None (from a preset); see `migrate`
    config_version = 2
    #: trainer settings this family changes (a user's own settings win): CPU-sized batches, as measured
    train_defaults = {"batch_size": 8}

    def __init__(self, config: CycleGANConfig, data_info: dict[str, Any]):
        super().__init__(config, data_info)
        self.shape_a = tuple(int(v) for v in (data_info.get("shape_a") or data_info["shape"]))
        self.shape_b = tuple(int(v) for v in (data_info.get("shape_b") or data_info["shape"]))
        if self.shape_a[1:] != self.shape_b[1:]:
            raise ConfigError(f"domains A and B have different image sizes {self.shape_a[1:]} and {self.shape_b[1:]}; "
                              f"set --image-size to resize both")
        ca, cb = self.shape_a[0], self.shape_b[0]
        h, w = self.shape_a[1:]
        if h != w:
            raise ConfigError(f"cyclegan needs square images, got {h}x{w}; set --image-size")
        self.settings = resolve(config, h)
        factor = 2 ** self.settings.n_down
        if config.generator == "resnet" and h % factor:
            raise ConfigError(f"image side {h} is not divisible by {factor}, which the ResNet generator with "
                              f"{self.settings.n_down} downsamplings needs; set --image-size (e.g. 28, 32, 64, 128, "
                              f"256), a smaller --n-down, or use --generator unet")
        self.g_ab = self._make_generator(ca, cb, h)
        self.g_ba = self._make_generator(cb, ca, h)
        d_width = self.settings.d_width
        self.d_a = PatchDiscriminator(ca, h, d_width, config.d_layers or None, config.norm, config.spectral_norm)
        self.d_b = PatchDiscriminator(cb, h, d_width, config.d_layers or None, config.norm, config.spectral_norm)
        init_normal(self)
        self.objective = get_loss(config.loss)
        self.pool_a = HistoryPool(config.pool_size)
        self.pool_b = HistoryPool(config.pool_size)
        k = config.keep_examples
        self.register_buffer("examples_a", torch.zeros((k,) + self.shape_a, dtype=torch.uint8))
        self.register_buffer("examples_b", torch.zeros((k,) + self.shape_b, dtype=torch.uint8))
        self.register_buffer("examples_count", torch.zeros((), dtype=torch.long))
        self._examples_stored = False
        self.run_steps: int | None = None  # set by schedule.RunLength when training starts

    @classmethod
    def migrate(cls, config: dict[str, Any], version: int) -> dict[str, Any]:
        """Version 1 (before presets) meant the paper's layout at every size, with 0 for
        "automatic" block counts: keep that meaning."""
        config = dict(config)
        if version < 2:
            config.setdefault("preset", "paper")
            for key in ("n_blocks", "n_down"):
                if config.get(key) == 0:
                    config[key] = None
        return config

    @property
    def uses_gradient_penalty(self) -> bool:
        return bool(self.objective.gp_weight)

    def _make_generator(self, c_in: int, c_out: int, size: int) -> nn.Module:
        c, s = self.config, self.settings
        if c.generator == "unet":
            return UnetGenerator(c_in, c_out, size, s.g_width, c.norm, c.dropout)
        return ResnetGenerator(c_in, c_out, s.g_width, s.n_blocks, s.n_down, c.norm, c.dropout, s.upsample)

    def callbacks(self) -> list[Any]:
        """The run-length hook of the automatic schedule (`schedule.py`) and the
        collapse monitor (`monitor.py`) unless `collapse_warning` is 0."""
        schedule = [RunLength()] if self.config.auto_decay and not self.config.decay_steps else []
        if not self.config.collapse_warning:
            return schedule
        return schedule + [TranslationMonitor(threshold=self.config.collapse_warning)]

    # -- training -----------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        lr = self.settings.lr
        return {"g": adam(itertools.chain(self.g_ab.parameters(), self.g_ba.parameters()), lr, betas),
                "d": adam(itertools.chain(self.d_a.parameters(), self.d_b.parameters()), lr, betas)}

    def lr_factor(self, step: int) -> float:
        """The learning rate's multiplier at `step` (`schedule.py`)."""
        c = self.config
        return lr_factor(step, c.decay_start, c.decay_steps, self.run_steps if c.auto_decay else None)

    def extra_state(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "pool_a" in state:
            self.pool_a.load_state_dict(state["pool_a"])
            self.pool_b.load_state_dict(state["pool_b"])

    @torch.no_grad()
    def store_examples(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Keep the first training images of each domain for `sample()` (once)."""
        k = min(self.config.keep_examples, a.shape[0], b.shape[0])
        self.examples_a[:k] = to_uint8(a[:k])
        self.examples_b[:k] = to_uint8(b[:k])
        self.examples_count.fill_(k)
        self._examples_stored = True

    def _discriminator_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                            logs: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        loss = self.objective.d_loss(d(real), d(fake))
        if self.objective.gp_weight:
            gp = gradient_penalty(d, real, fake)
            logs[f"gp_{name}"] = gp.detach()
            loss = loss + self.objective.gp_weight * gp
        return loss

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        c = self.config
        a, b = batch["a"], batch["b"]
        if not self._examples_stored:
            if int(self.examples_count) == 0:  # one host sync, on the first step only
                self.store_examples(a, b)
            self._examples_stored = True
        factor = self.lr_factor(step)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = self.settings.lr * factor
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        ca, cb = self.shape_a[0], self.shape_b[0]
        logs: dict[str, torch.Tensor] = {}

        # generators; the discriminators need no weight gradients here
        with frozen(self.d_a, self.d_b):
            fake_b = self.g_ab(a)
            rec_a = self.g_ba(fake_b)
            fake_a = self.g_ba(b)
            rec_b = self.g_ab(fake_a)
            gan_ab = self.objective.g_loss(self.d_b(fake_b))
            gan_ba = self.objective.g_loss(self.d_a(fake_a))
            cycle_a = F.l1_loss(rec_a, a)
            cycle_b = F.l1_loss(rec_b, b)
            lambda_cycle = self.settings.lambda_cycle
            lambda_idt = lambda_cycle * c.lambda_identity
            with torch.set_grad_enabled(lambda_idt > 0):
                idt_b = F.l1_loss(self.g_ab(convert_channels(b, ca)), b)
                idt_a = F.l1_loss(self.g_ba(convert_channels(a, cb)), a)
            loss_g = gan_ab + gan_ba + lambda_cycle * (cycle_a + cycle_b)
            if lambda_idt > 0:
                loss_g = loss_g + lambda_idt * (idt_a + idt_b)
            self.optimize(loss_g, opt_g)

        # discriminators: real images against pooled translations
        loss_d_b = self._discriminator_loss(self.d_b, b, self.pool_b.query(fake_b), logs, "b")
        loss_d_a = self._discriminator_loss(self.d_a, a, self.pool_a.query(fake_a), logs, "a")
        self.optimize(loss_d_a + loss_d_b, opt_d)

        logs.update(loss_g=loss_g.detach(), gan_ab=gan_ab.detach(), gan_ba=gan_ba.detach(),
                    cycle_a=cycle_a.detach(), cycle_b=cycle_b.detach(), idt_a=idt_a.detach(),
                    idt_b=idt_b.detach(), loss_d_a=loss_d_a.detach(), loss_d_b=loss_d_b.detach())
        return logs

    # -- translation --------------------------------------------------------------------
    @property
    def directions(self) -> tuple[str, ...]:
        """The directions `translate` takes (`genlab.capabilities.Translator`)."""
        return tuple(self.data_info.get("directions") or ("AtoB", "BtoA"))

    def shapes(self, direction: str) -> tuple[nn.Module, tuple[int, ...], tuple[int, ...]]:
        direction = parse_direction(direction)
        if direction == "AtoB":
            return self.g_ab, self.shape_a, self.shape_b
        return self.g_ba, self.shape_b, self.shape_a

    @torch.no_grad()
    def translate(self, images01: Any, direction: str = "AtoB", batch_size: int = 64) -> torch.Tensor:
        """Translate images (N x C x H x W or C x H x W, floats in [0, 1] or uint8)
        with G_AB ("AtoB") or G_BA ("BtoA"). Channels are converted to the
        generator's input, sizes resized to the model's and back: the output
        has the input's height and width and the target domain's channels."""
        net, shape_in, _ = self.shapes(direction)
        x = torch.as_tensor(images01)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4:
            raise GenlabError(f"translate expects images shaped N x C x H x W, got {tuple(x.shape)}")
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        size = tuple(x.shape[-2:])
        x = convert_channels(x, shape_in[0])
        if size != tuple(shape_in[1:]):
            x = F.interpolate(x, size=shape_in[1:], mode="bilinear", antialias=True, align_corners=False)
        with evaluating(self):
            out = []
            for chunk in x.split(batch_size):
                y = net(chunk.to(self.device).mul(2).sub(1)).float()
                out.append(y.add(1).div(2).clamp(0, 1).cpu())
        y = torch.cat(out)
        if size != tuple(shape_in[1:]):
            y = F.interpolate(y, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        return y

    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None, labels: Any = None, batch_size: int = 500,
               direction: str = "AtoB") -> dict[str, torch.Tensor]:
        """Translations of `n` stored training images (picked by `seed`) of the
        source domain; ``images`` are the translations, ``inputs`` the sources."""
        self.check_labels(labels, n)
        direction = parse_direction(direction)
        count = int(self.examples_count)
        if count == 0:
            raise GenlabError("this cyclegan model holds no example images (it was never trained); "
                              "translate your own images with `genlab translate RUN INPUT... --out DIR`")
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        idx = torch.cat([torch.randperm(count, generator=gen) for _ in range(math.ceil(n / count))])[:n]
        source = (self.examples_a if direction == "AtoB" else self.examples_b)[:count].cpu()
        inputs = source[idx].float().div(255)
        return {"images": self.translate(inputs, direction, batch_size), "inputs": inputs}

    @torch.no_grad()
    def translation_grid(self, a01: torch.Tensor, b01: torch.Tensor, padding: int = 2) -> torch.Tensor:
        """One C x H x W image: rows a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b))."""
        fake_b = self.translate(a01, "AtoB")
        fake_a = self.translate(b01, "BtoA")
        rows = [a01, fake_b, self.translate(fake_b, "BtoA"), b01, fake_a, self.translate(fake_a, "AtoB")]
        channels = max(r.shape[1] for r in rows)
        k = min(len(a01), len(b01))
        images = torch.cat([convert_channels(r[:k].float().cpu(), channels) for r in rows])
        return make_grid(images, nrow=k, padding=padding, pad_value=1.0)

    @torch.no_grad()
    def preview(self, n: int, batch: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Rows: input / translation / reconstruction for A -> B, then B -> A."""
        k = max(1, min(n, 8))
        if batch is not None and "a" in batch and "b" in batch:
            a01, b01 = batch["a"][:k].add(1).div(2), batch["b"][:k].add(1).div(2)
        else:
            count = int(self.examples_count)
            if count == 0:
                return {}
            a01 = self.examples_a[: min(k, count)].float().div(255)
            b01 = self.examples_b[: min(k, count)].float().div(255)
        return {"translations": self.translation_grid(a01, b01)}

    # -- evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, data: Any, n: int | None = None, seed: int = 0, fid: bool = True) -> dict[str, float]:
        """Cycle L1 on held-out images of both domains and, when the test set is
        paired (the built-in tasks, or testA/testB files of the same names), each
        direction scored against the true targets and the untranslated inputs
        scored the same way (`paired.py`: MAE, SSIM, edge F1, accuracy, FID)."""
        tensors = getattr(data, "tensors", data)
        if "a" not in tensors or "b" not in tensors:
            raise GenlabError("cyclegan evaluates on unpaired-image data (tensors 'a' and 'b'), "
                              "e.g. load_dataset('edges2fashion', split='test')")
        a, b = tensors["a"], tensors["b"]
        labels = tensors.get("y")
        if n is not None:
            a, b = a[:n], b[:n]
            labels = labels[:n] if labels is not None else None

        def unit(x: torch.Tensor) -> torch.Tensor:
            return x.float().div(255) if x.dtype == torch.uint8 else x.float().add(1).div(2)

        a, b = unit(a), unit(b)
        out = {"cycle_a_l1": float(mae(self.translate(self.translate(a, "AtoB"), "BtoA"), a).mean()),
               "cycle_b_l1": float(mae(self.translate(self.translate(b, "BtoA"), "AtoB"), b).mean())}
        info = getattr(data, "info", {})
        if info.get("paired"):
            out.update(paired_scores(self.translate, a, b, info, labels, fid=fid))
        return out
