"""`genlab export RUN --format onnx [--out model.onnx]`: the generator/decoder as an ONNX graph."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a model's generator or decoder (ONNX)",
                       description="Export the generator (GANs) or decoder (VAEs): z (and labels for conditional "
                                   "families) -> images in [0, 1], with a dynamic batch axis; the file is "
                                   "checked against PyTorch with onnxruntime.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="export format (onnx)")
    p.add_argument("--out", default="model.onnx", help="output file (default model.onnx)")
    p.add_argument("--direction", default=None, help="translation families: which direction to export")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..api import load
    from ..export import TOLERANCE, export_onnx

    model = load(args.run, device=args.device)
    info = export_onnx(model, args.out, direction=args.direction)
    shapes = ", ".join(f"{n} {tuple(s)}" for n, s in zip(info["inputs"], info["input_shapes"]))
    print(f"wrote {info['path']} ({model.family}: {shapes} -> images {tuple(info['output_shape'])}, "
          f"batch axis dynamic)")
    print(f"onnxruntime vs PyTorch: max abs diff {info['max_abs_diff']:.3g} (limit {TOLERANCE:g})")
    return 0
