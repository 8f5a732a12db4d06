"""Capabilities only some families have, declared once as runtime-checkable
protocols (PEP 544) instead of probed with ``hasattr``/``getattr`` where used.

A family has a capability by defining the methods: ``isinstance(model,
Translator)`` is true for any model with ``translate``, ``shapes`` and
``directions``. The web page, ONNX export, sample writing and the
explorations ask these questions and nothing else.

- `LatentModel`: draws latents from its prior and decodes given ones
  (``sample(n, z=...)``): the GANs and VAEs.
- `LatentSamplers`: samples from a choice of latent densities, some fitted
  after training (the VAEs' prior or Gaussian mixture; `genlab fit-sampler`).
- `CodedLatents`: names slices of its latent (InfoGAN's codes).
- `LatentControls`: chooses the web page's sliders itself and applies them.
- `Translator`: translates images between domains, in named directions.
- `TextDecoder`: turns the token ids it samples into strings.
- `Exportable`: builds its own module for ONNX export.
- `SamplingNetwork` / `DecoderNetwork`: a generator (or decoder) network that
  ONNX export wraps when the family does not build its own module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class LatentModel(Protocol):
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def make_generator(self, seed: int | None) -> torch.Generator | None: ...

    def sample(self, n: int, **kwargs: Any) -> dict[str, Any]: ...


@runtime_checkable
class LatentSamplers(Protocol):
    samplers: Sequence[str]

    def use_sampler(self, name: str | None) -> None: ...

    def sampler_in_use(self, name: str | None = None) -> str: ...

    def sampler_note(self, source: Any = ...) -> str | None: ...

    def fit_sampler(self, data: Any, components: int | None = None, limit: int | None = ...,
                    seed: int = 0) -> Any: ...


@runtime_checkable
class CodedLatents(Protocol):
    def latent_codes(self) -> list[dict[str, Any]]:
        """Named slices of the latent: ``{"name", "kind", "start", "size"}`` each."""


@runtime_checkable
class LatentControls(Protocol):
    def latent_controls(self) -> list[dict[str, Any]]: ...

    def apply_controls(self, z: torch.Tensor, values: dict[str, float]) -> torch.Tensor: ...


@runtime_checkable
class Translator(Protocol):
    @property
    def directions(self) -> Sequence[str]: ...

    def shapes(self, direction: str) -> tuple[torch.nn.Module, tuple[int, ...], tuple[int, ...]]:
        """(network, input shape C x H x W, output shape) of one direction."""

    def translate(self, images01: Any, direction: str = "AtoB") -> torch.Tensor: ...


@runtime_checkable
class TextDecoder(Protocol):
    def decode_text(self, tokens: torch.Tensor) -> list[str]: ...


@runtime_checkable
class Exportable(Protocol):
    def export_module(self, n: int = 2, seed: int = 0) -> tuple[torch.nn.Module, Any, list[str]]: ...


@runtime_checkable
class SamplingNetwork(Protocol):
    def sampling_generator(self) -> torch.nn.Module: ...

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class DecoderNetwork(Protocol):
    def decode(self, z: torch.Tensor, *args: Any) -> Any: ...

    def mean_image(self, *args: Any) -> torch.Tensor: ...


def translation_directions(model: Any) -> list[str] | None:
    """The directions of a translation model, else None."""
    return [str(d) for d in model.directions] if isinstance(model, Translator) else None
