"""CycleGAN's two sets of defaults: the paper's, and one for small images.

``preset="auto"`` (the default) takes ``small`` for images under 64 pixels a
side and ``paper`` otherwise; any option set explicitly overrides its preset
value. Measured on the 28 px built-in tasks (docs/results/cyclegan.md):

- ``paper`` (Zhu et al. 2017): 64 generator channels, 2 stride-2
  downsamplings, 6 residual blocks (9 from 256 px), transposed-convolution
  upsampling, 64 discriminator channels, cycle weight 10, learning rate 2e-4.
- ``small``: 16 channels, 1 downsampling (a 14 x 14 grid at 28 px rather
  than 7 x 7, so thin lines keep their place), 3 residual blocks,
  resize-convolution upsampling (no checkerboard pattern), 16 discriminator
  channels, cycle weight 0.5 and learning rate 4e-4. At weight 10 the two
  generators settle on a private code instead of faithful translations (the
  edge generator marks dots that tell how bright the item was; fed real edge
  maps, which carry no such dots, the item generator draws dark items); a
  weight of 0.5 leaves the discriminators strong enough to forbid it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: image side from which ``auto`` takes the paper's settings
PAPER_FROM = 64


@dataclass(frozen=True)
class Settings:
    """The effective sizes, cycle weight and learning rate of a model."""

    preset: str
    g_width: int
    n_blocks: int
    n_down: int
    upsample: str
    d_width: int
    lambda_cycle: float
    lr: float


def preset_values(name: str, side: int) -> dict:
    if name == "paper":
        return dict(g_width=64, n_blocks=9 if side >= 256 else 6, n_down=2, upsample="transpose", d_width=64,
                    lambda_cycle=10.0, lr=2e-4)
    return dict(g_width=16, n_blocks=3, n_down=1, upsample="resize", d_width=16, lambda_cycle=0.5, lr=4e-4)


def resolve(config, side: int) -> Settings:
    """The preset for `side`-pixel images, overridden by the options `config` sets."""
    name = config.preset if config.preset != "auto" else ("paper" if side >= PAPER_FROM else "small")
    values = preset_values(name, side)
    for key in values:
        if getattr(config, key) is not None:
            values[key] = getattr(config, key)
    return Settings(preset=name, **values)
