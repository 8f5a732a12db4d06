"""`genlab translate RUN [--direction AtoB|BtoA] INPUT... --out DIR`: image-to-image translation.

Each INPUT is an image file or a folder of images (read in sorted order, not
recursively). Every image is converted to the model's input channels,
resized to the model's size for the network and resized back, and written
as ``DIR/<name>.png`` with the input's size and the target domain's channels
(grey or colour). Unreadable files and a bad direction are one-line errors.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..api import load
from ..capabilities import Translator
from ..data.images import IMAGE_SUFFIXES
from ..errors import GenlabError
from ..io import check_writable, read_image, to_uint8
from ..models.cyclegan.model import parse_direction


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="translate images with an image-to-image model (cyclegan)",
                       description="Translate image files or folders of images with a trained cyclegan; "
                                   "writes one PNG per input, of the input's size, into --out.")
    p.add_argument("run", help="run folder or checkpoint folder")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument("--direction", default="AtoB", help="AtoB (domain A -> B, default) or BtoA")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def collect_inputs(inputs: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise GenlabError(f"folder {item!r} holds no image files (.png, .jpg, ...); "
                                  f"pass image files or folders of them")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise GenlabError(f"input {item!r} does not exist; pass image files or folders of images")
    return files


def unique_names(files: list[Path]) -> list[str]:
    """Output file names: the input's stem + .png, numbered when stems repeat."""
    seen: dict[str, int] = {}
    names = []
    for f in files:
        stem = f.stem
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        names.append(f"{stem}.png" if count == 0 else f"{stem}_{count}.png")
    return names


def translate_files(model, files: list[Path], out: Path, direction: str = "AtoB") -> list[Path]:
    """Translate each file with `model` and write DIR/<name>.png; returns the written paths."""
    check_writable(out, folder=True)
    images = [read_image(f) for f in files]  # read all first: a bad file fails before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for img, name in zip(images, unique_names(files)):
        y = model.translate(img, direction)
        path = out / name
        Image.fromarray(to_uint8(y)[0]).save(path)
        written.append(path)
    return written


def run(args) -> int:
    direction = parse_direction(args.direction)
    files = collect_inputs(args.inputs)
    model = load(args.run, device=args.device)
    if not isinstance(model, Translator):
        raise GenlabError(f"{args.run} holds a {model.family} model, which does not translate images; "
                          f"pass a cyclegan run")
    written = translate_files(model, files, Path(args.out), direction)
    print(f"wrote {len(written)} image(s) to {args.out} ({direction})")
    return 0
