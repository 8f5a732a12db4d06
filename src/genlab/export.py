"""Export a trained model's generator (GANs) or decoder (VAEs) to ONNX.

The exported graph maps latent codes z (and class labels, for conditional
families) to images in [0, 1] (sequence families: to sequences in the data's
units), with a dynamic batch axis. It is written by PyTorch's dynamo-based
exporter (``torch.onnx.export(..., dynamo=True)``, onnxscript), then run with
onnxruntime on a batch of a different size and compared with PyTorch; a
difference above `TOLERANCE` is an error. Needs ``pip install 'genlab[export]'``.

A family chooses what to export with a method
``export_module(n, seed) -> (nn.Module, example_inputs, input_names)`` for a
batch of `n` inputs drawn with `seed` (the module's ``output_name`` names its
output, "images" by default). Families without one get a default, found by
what they can do:

- adversarial families (``sampling_generator()`` and ``generate(z, labels, net=)``):
  the sampling generator (EMA weights when present), images mapped from
  [-1, 1] to [0, 1], or, for sequence data, sequences mapped from [0, 1] to
  the data's units;
- VAE families (``decode(z, labels)`` and ``mean_image(out)``): z -> the
  decoder's mean image;
- translation families (``translate(images01, direction)`` and
  ``shapes(direction) -> (generator, input shape, output shape)``): images
  ("source") -> images through that direction's generator (``--direction``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .capabilities import DecoderNetwork, Exportable, SamplingNetwork, translation_directions
from .data.sequences import ToUnits
from .errors import GenlabError
from .extras import require
from .io import check_writable
from .models.base import GenerativeModel
from .modes import evaluating

TOLERANCE = 1e-4
OPSET = 18
IMAGE_KINDS = ("image", "paired-image", "unpaired-image")
SEQUENCE_KINDS = ("sequence",)


class GeneratorExport(nn.Module):
    """z (, labels) -> images in [0, 1] through a GAN's sampling generator."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        net = self.model.sampling_generator()
        return ((self.model.generate(z, labels, net=net) + 1) / 2).clamp(0, 1)


class SequenceGeneratorExport(nn.Module):
    """z (, labels) -> sequences in the data's units through a sequence GAN's sampling generator
    (outputs in [0, 1], mapped back with the data's per-feature min/max)."""

    output_name = "sequences"

    def __init__(self, model: GenerativeModel):
        super().__init__()

        self.model = model
        self.to_units = ToUnits(model.data_info, model.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        net = self.model.sampling_generator()
        return self.to_units(self.model.generate(z, labels, net=net))


class DecoderExport(nn.Module):
    """z (, labels) -> the VAE decoder's mean image in [0, 1]."""

    def __init__(self, model: GenerativeModel):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.mean_image(self.model.decode(z, labels)).clamp(0, 1)


class TranslatorExport(nn.Module):
    """images in [0, 1] -> translated images in [0, 1], one direction, through the
    family's generator for that direction (``shapes(direction)[0]``, images in [-1, 1])."""

    def __init__(self, model: GenerativeModel, direction: str):
        super().__init__()
        self.model = model
        self.net = model.shapes(direction)[0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return ((self.net(images * 2 - 1) + 1) / 2).clamp(0, 1)


def _latent_inputs(model: GenerativeModel, n: int, seed: int) -> tuple[list[torch.Tensor], list[str]]:
    gen = model.make_generator(seed)
    z = model.latent(n, gen)
    inputs, names = [z], ["z"]
    if model.conditional:
        inputs.append(torch.arange(n, device=z.device) % max(1, model.num_classes))
        names.append("labels")
    return inputs, names


def export_module(model: GenerativeModel, direction: str | None = None, n: int = 2,
                  seed: int = 0) -> tuple[nn.Module, tuple[torch.Tensor, ...], list[str]]:
    """(module, example inputs, input names) to export for `model`."""
    if isinstance(model, Exportable):
        module, inputs, names = model.export_module(n, seed)
        inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
        return module, inputs, list(names)
    kind = str(model.data_info.get("kind", "image"))
    if kind in SEQUENCE_KINDS and isinstance(model, SamplingNetwork):
        inputs, names = _latent_inputs(model, n, seed)
        return SequenceGeneratorExport(model), tuple(inputs), names
    if kind not in IMAGE_KINDS:
        raise GenlabError(f"{model.family} makes {kind} data and has no ONNX export; export covers families "
                          f"that sample images or sequences (or define export_module())")
    dirs = translation_directions(model)
    if dirs:
        direction = direction or dirs[0]
        if direction not in dirs:
            raise GenlabError(f"unknown direction {direction!r}; valid directions: {', '.join(dirs)}")
        c, h, w = model.shapes(direction)[1]
        x = torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed)).to(model.device)
        return TranslatorExport(model, direction), (x,), ["source"]
    if isinstance(model, SamplingNetwork):
        inputs, names = _latent_inputs(model, n, seed)
        return GeneratorExport(model), tuple(inputs), names
    if isinstance(model, DecoderNetwork):
        inputs, names = _latent_inputs(model, n, seed)
        return DecoderExport(model), tuple(inputs), names
    raise GenlabError(f"{model.family} has no generator or decoder genlab knows how to export; "
                      f"define export_module() on the family")


def output_name(module: nn.Module) -> str:
    return str(getattr(module, "output_name", "images"))


def _export(module: nn.Module, inputs: tuple[torch.Tensor, ...], names: Sequence[str], out: Path) -> None:
    """The dynamo-based exporter: `torch.export` in strict mode (TorchDynamo traces the module, so
    recurrent layers export without non-strict tracing's attribute warnings), every input sharing
    one dynamic batch axis; then the exported program to ONNX through onnxscript."""
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in names), strict=True)
    # the axis is named once, after the first input (the others share it)
    names_axis = ({0: batch},) + tuple({0: torch.export.Dim.DYNAMIC} for _ in names[1:])
    torch.onnx.export(program, inputs, str(out), dynamo=True, input_names=list(names),
                      output_names=[output_name(module)], dynamic_shapes=names_axis, opset_version=OPSET,
                      optimize=True, verbose=False)


def check_onnx(path: str | Path, module: nn.Module, inputs: tuple[torch.Tensor, ...],
               names: Sequence[str]) -> tuple[float, list[int]]:
    """(max |onnxruntime - PyTorch| on `inputs`, output shape)."""
    _, ort, _ = require("export", "checking an ONNX export")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {name: t.detach().cpu().numpy() for name, t in zip(names, inputs)}
    got = torch.from_numpy(session.run(None, feed)[0])
    with torch.no_grad():
        want = module(*inputs).cpu()
    if got.shape != want.shape:
        raise GenlabError(f"ONNX output shape {tuple(got.shape)} differs from PyTorch's {tuple(want.shape)}")
    return float((got.double() - want.double()).abs().max()), list(got.shape)


def export_onnx(model: GenerativeModel, out: str | Path, direction: str | None = None,
                check_batch: int = 5, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Write `model`'s generator/decoder to `out` (.onnx) and check it against PyTorch.

    Returns ``{"path", "inputs", "input_shapes", "output", "output_shape", "max_abs_diff"}``; raises
    `GenlabError` if onnxruntime's outputs differ from PyTorch's by more than `tolerance`.
    """
    require("export", "ONNX export")
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise GenlabError(f"--out {out} should end in .onnx")

    check_writable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with evaluating(model):
        module, inputs, names = export_module(model, direction=direction)
        module.eval()
        _export(module, inputs, names, out)
        module.eval()  # the exporter restores train mode recursively; sampling needs eval
        # a batch of another size exercises the dynamic batch axis
        check_inputs = export_module(model, direction=direction, n=check_batch, seed=1)[1]
        diff, output_shape = check_onnx(out, module, check_inputs, names)
    if not diff <= tolerance:
        raise GenlabError(f"ONNX output differs from PyTorch by {diff:.3g} > {tolerance:g}; "
                          f"the graph did not export faithfully, report this family")
    return {"path": str(out), "inputs": list(names), "input_shapes": [list(t.shape) for t in check_inputs],
            "output": output_name(module), "output_shape": output_shape, "max_abs_diff": diff}
