"""Image-to-image networks: ResNet-block and U-Net generators, PatchGAN discriminator.

- `ResnetGenerator` (Johnson et al. 2016, as used by CycleGAN): ``c7s1-w``,
  `n_down` stride-2 downsamplings (2 in the paper: to ``2w`` and ``4w``),
  `n_blocks` residual blocks, as many upsamplings back (stride-2 transposed
  convolutions as in the paper, or ``upsample="resize"``: nearest-neighbour
  doubling then a 3x3 convolution, which leaves no checkerboard pattern,
  Odena et al. 2016), ``c7s1-out`` and tanh; instance norm and reflection
  padding. Works for any side divisible by ``2**n_down``.
- `UnetGenerator` (pix2pix, Isola et al. 2017): 4x4 stride-2 convolutions
  down to the smallest exact halving of the image (at most 8 levels, so
  256 -> 1x1) and transposed convolutions back up, each level concatenated
  with its mirror (skip connections); tanh output.
- `PatchDiscriminator`: the 70x70 PatchGAN layout (C64 - C128 - C256 - C512 -
  1, 4x4 kernels, LeakyReLU 0.2, no norm on the first layer); one score per
  overlapping patch. With `n_layers=None` the number of stride-2 layers
  adapts to the image: the largest n <= 3 whose receptive field (16, 34, 70
  pixels for n = 1, 2, 3) is at most 60% of the image side, so 28x28 and
  32x32 images get 16x16 patches, 64x64 get 34x34 and 128 and up the full
  70x70 layout.

All generators map ``in_channels`` to ``out_channels`` (grey and colour may
differ) and output values in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm {kind!r}; valid norms: instance, batch, none")


class ResnetBlock(nn.Module):
    """x + conv3(relu(norm(conv3(x)))), reflection-padded, same width."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
                                   make_norm(norm, channels), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
                   make_norm(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-w, d2w, d4w, n x R4w, u2w, uw, c7s1-out, tanh (CycleGAN's generator)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_blocks: int = 9,
                 n_down: int = 2, norm: str = "instance", dropout: float = 0.0, upsample: str = "transpose"):
        super().__init__()
        if upsample not in ("transpose", "resize"):
            raise ConfigError(f"unknown upsampling {upsample!r}; valid: transpose, resize")
        self.factor = 2 ** n_down
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                                   make_norm(norm, width), nn.ReLU(inplace=True)]
        ch = width
        for _ in range(n_down):
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1, bias=bias), make_norm(norm, ch * 2), nn.ReLU(inplace=True)]
            ch *= 2
        layers += [ResnetBlock(ch, norm, dropout) for _ in range(n_blocks)]
        for _ in range(n_down):
            if upsample == "resize":  # Odena et al. 2016: no checkerboard from uneven kernel overlap
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                           nn.Conv2d(ch, ch // 2, 3, bias=bias)]
            else:
                layers.append(nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1, bias=bias))
            layers += [make_norm(norm, ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ConfigError(f"image side {tuple(x.shape[-2:])} is not divisible by {self.factor}; "
                              f"resize the data (--image-size) to a multiple of {self.factor}")
        return self.body(x)


def unet_depth(size: int, max_depth: int = 8) -> int:
    """Number of exact halvings of `size` (at most `max_depth`)."""
    depth = 0
    while depth < max_depth and size % 2 == 0 and size > 1:
        size //= 2
        depth += 1
    if depth == 0:
        raise ConfigError(f"image side {size} is odd; the U-Net generator needs an even side (set --image-size)")
    return depth


class UnetGenerator(nn.Module):
    """pix2pix U-Net: 4x4 stride-2 convs down, transposed convs up, skip connections."""

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64,
                 norm: str = "instance", dropout: float = 0.5, max_depth: int = 8):
        super().__init__()
        depth = unet_depth(size, max_depth)
        widths = [min(width * 2 ** i, width * 8) for i in range(depth)]
        bias = norm != "batch"
        self.downs = nn.ModuleList()
        for i, ch in enumerate(widths):
            if i == 0:
                self.downs.append(nn.Conv2d(in_channels, ch, 4, 2, 1))
                continue
            innermost = i == depth - 1
            self.downs.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[i - 1], ch, 4, 2, 1, bias=bias),
                                            nn.Identity() if innermost else make_norm(norm, ch)))
        self.ups = nn.ModuleList()
        for i in reversed(range(depth)):
            ch_in = widths[i] if i == depth - 1 else 2 * widths[i]
            if i == 0:
                self.ups.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(ch_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers: list[nn.Module] = [nn.ReLU(), nn.ConvTranspose2d(ch_in, widths[i - 1], 4, 2, 1, bias=bias),
                                       make_norm(norm, widths[i - 1])]
            # pix2pix: dropout in the up layers fed by the deepest (8x-wide) levels
            if dropout and widths[i] == width * 8 and i < depth - 1:
                layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)
        skips.pop()  # the innermost output feeds the first up layer directly
        for up in self.ups:
            h = up(h)
            if skips:
                h = torch.cat([h, skips.pop()], 1)
        return h


def patch_layers(size: int) -> int:
    """Stride-2 layers of a PatchGAN for `size`-pixel images (see module docstring)."""
    n = 1
    while n < 3 and patch_receptive_field(n + 1) <= 0.6 * size:
        n += 1
    return n


def patch_receptive_field(n_layers: int) -> int:
    """Receptive field of a PatchGAN with `n_layers` stride-2 convs (70 for 3)."""
    rf = 4  # last conv, stride 1
    rf += 3  # the stride-1 conv before it
    for _ in range(n_layers):
        rf = (rf - 1) * 2 + 4
    return rf


class PatchDiscriminator(nn.Module):
    """PatchGAN: N x C x H x W -> N x 1 x h x w patch scores (raw, no sigmoid)."""

    def __init__(self, in_channels: int, size: int, width: int = 64, n_layers: int | None = None,
                 norm: str = "instance", spectral_norm: bool = False):
        super().__init__()
        n = n_layers or patch_layers(size)
        self.n_layers = n
        self.receptive_field = patch_receptive_field(n)

        def conv(a: int, b: int, stride: int, bias: bool = True) -> nn.Module:
            c = nn.Conv2d(a, b, 4, stride, 1, bias=bias)
            return nn.utils.parametrizations.spectral_norm(c) if spectral_norm else c

        use_norm = not spectral_norm and norm != "none"
        layers: list[nn.Module] = [conv(in_channels, width, 2), nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for i in range(1, n + 1):
            out = width * min(2 ** i, 8)
            layers.append(conv(ch, out, 2 if i < n else 1, bias=not use_norm or norm != "batch"))
            if use_norm:
                layers.append(make_norm(norm, out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch = out
        layers.append(conv(ch, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Conv weights N(0, std), biases 0, norm scales N(1, std) (CycleGAN's init)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            parametrized = nn.utils.parametrize.is_parametrized(m, "weight")
            weight = m.parametrizations.weight.original if parametrized else m.weight
            nn.init.normal_(weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
