"""`genlab export RUN --format onnx|pretrained [--out PATH] [--generator-only]`.

``onnx``: the generator/decoder as an ONNX graph (needs ``genlab[export]``).
``pretrained``: a folder of config.json, model.safetensors and a README.md
model card, optionally with only the weights sampling needs.
"""

from __future__ import annotations

from ..api import load
from ..errors import GenlabError
from ..export import TOLERANCE, export_onnx
from ..extras import require
from ..pretrained import export_pretrained


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a model: ONNX graph or a shareable pretrained folder",
                       description="onnx: the generator (GANs) or decoder (VAEs), z (and labels for conditional "
                                   "families) -> images in [0, 1] (sequence families: -> sequences), with a "
                                   "dynamic batch axis, checked against PyTorch with onnxruntime "
                                   "(pip install 'genlab[export]'). pretrained: config.json, model.safetensors "
                                   "and a README.md model card with a sample grid and the run's evaluations.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--format", default="onnx", choices=["onnx", "pretrained"], help="export format (default onnx)")
    p.add_argument("--out", default=None, help="output: .onnx file (default model.onnx) or a new folder "
                                               "(default pretrained)")
    p.add_argument("--generator-only", action="store_true",
                   help="pretrained: keep only the weights sampling needs (no discriminator, encoder, raw "
                        "generator when an EMA copy exists)")
    p.add_argument("--direction", default=None, help="translation families: which direction to export")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.format == "pretrained":
        return _pretrained(args)
    if args.generator_only:
        raise GenlabError("--generator-only applies to --format pretrained; ONNX holds only the generator anyway")

    require("export", "genlab export --format onnx")

    model = load(args.run, device=args.device)
    info = export_onnx(model, args.out or "model.onnx", direction=args.direction)
    shapes = ", ".join(f"{n} {tuple(s)}" for n, s in zip(info["inputs"], info["input_shapes"]))
    print(f"wrote {info['path']} ({model.family}: {shapes} -> {info['output']} {tuple(info['output_shape'])}, "
          f"batch axis dynamic)")
    print(f"onnxruntime vs PyTorch: max abs diff {info['max_abs_diff']:.3g} (limit {TOLERANCE:g})")
    return 0


def _pretrained(args) -> int:
    model, out = export_pretrained(args.run, args.out or "pretrained", generator_only=args.generator_only,
                                   device=args.device)
    files = ", ".join(sorted(p.name for p in out.iterdir()))
    kind = "only the weights sampling needs" if args.generator_only else "all weights"
    print(f"wrote {out} ({model.family}, {kind}): {files}")
    return 0
