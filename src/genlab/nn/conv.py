"""Strided convolution stacks in the DCGAN layout (Radford et al. 2016).

An image of side ``size = base * 2**n`` (base 4 or 7: 28, 32, 64, 128, ...)
is reached from a ``base x base`` map by n stride-2 transposed convolutions
(`UpStack`) and brought back to it by n stride-2 convolutions (`DownStack`).
Channel widths double at each step down: ``width, 2 width, 4 width, ...``.
`extra_layers` adds that many 3x3 stride-1 convolutions at each resolution
(the layout of the "standard CNN" of Miyato et al. 2018), which deepens the
two-stage 28-pixel networks at a small cost.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .mbstd import MinibatchStd


def conv_plan(size: int) -> tuple[int, int]:
    """(base, n) with size == base * 2**n, base in (4, 7), n >= 1."""
    for base in (4, 7):
        n, s = 0, size
        while s > base and s % 2 == 0:
            s //= 2
            n += 1
        if s == base and n >= 1:
            return base, n
    raise ConfigError(
        f"image size {size} is not supported by the convolutional networks; use one of "
        f"{', '.join(map(str, supported_sizes()))} (set --image-size to resize the data)"
    )


def supported_sizes() -> list[int]:
    return sorted({b * 2 ** n for b in (4, 7) for n in range(1, 7) if b * 2 ** n <= 256})


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown norm {kind!r}; valid norms: batch, instance, none")


def _sn(module: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(module) if on else module


class UpStack(nn.Module):
    """z (N x in_features) -> image logits (N x out_channels x size x size)."""

    def __init__(self, in_features: int, out_channels: int, size: int, width: int = 64,
                 norm: str = "batch", project: str = "conv", extra_layers: int = 0):
        super().__init__()
        base, n = conv_plan(size)
        ch = width * 2 ** (n - 1)
        self.base, self.ch0 = base, ch
        if project == "conv":  # DCGAN: a transposed conv from a 1x1 map
            self.project = nn.Sequential(nn.Unflatten(1, (in_features, 1, 1)),
                                         nn.ConvTranspose2d(in_features, ch, base, 1, 0, bias=norm == "none"))
        else:  # a linear layer then reshape (VAE decoders)
            self.project = nn.Sequential(nn.Linear(in_features, ch * base * base), nn.Unflatten(1, (ch, base, base)))
        layers: list[nn.Module] = [_norm(norm, ch), nn.ReLU(inplace=True)]
        for i in range(n):
            last = i == n - 1
            if last and extra_layers:  # upsample keeping `width` channels, then 3x3 layers, the last to the image
                out = ch
                layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=norm == "none"), _norm(norm, out), nn.ReLU(inplace=True)]
                for j in range(extra_layers):
                    if j == extra_layers - 1:
                        layers.append(nn.Conv2d(out, out_channels, 3, 1, 1))
                    else:
                        layers += [nn.Conv2d(out, out, 3, 1, 1, bias=norm == "none"), _norm(norm, out),
                                   nn.ReLU(inplace=True)]
                break
            out = out_channels if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=last or norm == "none"))
            if not last:
                layers += [_norm(norm, out), nn.ReLU(inplace=True)]
                for _ in range(extra_layers):
                    layers += [nn.Conv2d(out, out, 3, 1, 1, bias=norm == "none"), _norm(norm, out), nn.ReLU(inplace=True)]
            ch = out
        self.body = nn.Sequential(*layers)
        self._first_conv = next(i for i, m in enumerate(layers) if isinstance(m, nn.ConvTranspose2d))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z)
        if h.shape[-1] > 1 and self.body[self._first_conv].weight.is_contiguous(memory_format=torch.channels_last):
            # the reshaped linear projection comes out NCHW; in a channels-last model the
            # gradients coming back from the first convolution are NHWC, and elementwise
            # backward ops (ReLU, BatchNorm) over mixed layouts take a slow strided path
            h = h.contiguous(memory_format=torch.channels_last)
        return self.body(h)


class _FlattenKeepingLayout(torch.autograd.Function):
    """Flatten N x C x H x W to N x CHW (in NCHW order, whatever the memory layout);
    the gradient goes back in the input's layout, not as an NCHW view."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        ctx.channels_last = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        return x.reshape(x.shape[0], -1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.reshape(ctx.shape)
        return grad.contiguous(memory_format=torch.channels_last) if ctx.channels_last else grad


class Flatten(nn.Module):
    """`nn.Flatten()` for conv features that keeps channels-last gradients channels-last.

    With `nn.Flatten` the gradient of a channels-last feature map arrives as an NCHW
    view, and the activation's backward then mixes layouts (several times slower on CPU).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.shape[-1] > 1 and x.requires_grad and torch.is_grad_enabled():
            return _FlattenKeepingLayout.apply(x)
        return x.flatten(1)


class DownStack(nn.Module):
    """image (N x in_channels x size x size) -> features (N x C x base x base)."""

    def __init__(self, in_channels: int, size: int, width: int = 64, norm: str = "batch",
                 spectral_norm: bool = False, slope: float = 0.2, extra_layers: int = 0):
        super().__init__()
        base, n = conv_plan(size)
        layers: list[nn.Module] = []
        ch_in, ch = in_channels, width
        for i in range(n):
            for j in range(extra_layers):  # 3x3 layers before each stride-2 one (the first widens to ch)
                use_norm = (i > 0 or j > 0) and not spectral_norm
                layers.append(_sn(nn.Conv2d(ch_in, ch, 3, 1, 1, bias=not use_norm or norm == "none"), spectral_norm))
                if use_norm:
                    layers.append(_norm(norm, ch))
                layers.append(nn.LeakyReLU(slope, inplace=True))
                ch_in = ch
            use_norm = (i > 0 or extra_layers > 0) and not spectral_norm
            layers.append(_sn(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=not use_norm or norm == "none"), spectral_norm))
            if use_norm:
                layers.append(_norm(norm, ch))
            layers.append(nn.LeakyReLU(slope, inplace=True))
            ch_in, ch = ch, ch * 2
        self.body = nn.Sequential(*layers)
        self.out_channels, self.base = ch_in, base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ConvDiscriminator(nn.Module):
    """DCGAN's discriminator: a `DownStack` and a convolution to one score per image."""

    def __init__(self, channels: int, size: int, width: int, spectral_norm: bool = False, extra_layers: int = 0,
                 minibatch_std: bool = False):
        super().__init__()
        self.features = DownStack(channels, size, width, norm="batch", spectral_norm=spectral_norm,
                                  extra_layers=extra_layers)
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()
        head = nn.Conv2d(self.features.out_channels + minibatch_std, 1, self.features.base, 1, 0)
        self.head = _sn(head, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x)))


def init_dcgan(module: nn.Module) -> None:
    """Weights N(0, 0.02), BatchNorm scale N(1, 0.02), as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            parametrized = nn.utils.parametrize.is_parametrized(m, "weight")
            weight = m.parametrizations.weight.original if parametrized else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
