"""`genlab inpaint RUN IMAGE... --mask box:x,y,w,h|MASK.png --out DIR`: complete hidden pixels.

Each IMAGE (a file, or a folder of images read in sorted order) is converted
to the model's channels and, when its size differs, resized to the model's
side (with a note); the mask's hidden pixels are then filled by the model
(see genlab.inpainting) and the rest kept exactly. Writes ``DIR/<name>.png``
per image and ``DIR/overview.png``: rows of masked inputs (hidden pixels
grey), each followed by the row of their completions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from ..api import load
from ..errors import GenlabError
from ..inpainting import complete, parse_mask
from ..io import check_writable, to_uint8
from ..models.vae.model import pair_rows
from ..viz import save_grid
from .translate import collect_inputs, read_image, unique_names


def add_parser(sub) -> None:
    p = sub.add_parser("inpaint", help="complete the hidden part of images with a vae, cvae or GAN model",
                       description="Fill the hidden pixels of images: VAEs iterate encode-decode keeping the "
                                   "visible pixels, GANs optimise their latent code to match them.")
    p.add_argument("run", help="run folder or checkpoint folder of an image model")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--mask", required=True,
                   help="box:x,y,w,h (hidden rectangle: x columns from the left, y rows from the top, in the "
                        "model's pixels) or a mask PNG of the model's size whose white pixels are hidden")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--class", dest="label", type=int, default=None,
                   help="class of the images (conditional models; default: every class is tried)")
    p.add_argument("--iterations", type=int, default=50, help="VAEs: encode-decode iterations")
    p.add_argument("--restarts", type=int, default=8, help="GANs: latent codes optimised per image")
    p.add_argument("--steps", type=int, default=300, help="GANs: optimisation steps")
    p.add_argument("--prior", type=float, default=0.01, help="GANs: weight of the Gaussian prior on z")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler=run)


def load_inputs(files: list[Path], shape: tuple[int, int, int]):
    """The files as one N x C x H x W tensor in [0, 1] of the model's shape; resized files are named on stderr."""
    c, h, w = shape
    images, resized = [], []
    for f in files:
        x = read_image(f)
        if x.shape[1] != c:
            x = x.mean(1, keepdim=True) if c == 1 else x.expand(-1, c, -1, -1)
        if tuple(x.shape[-2:]) != (h, w):
            resized.append(f.name)
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        images.append(x)
    if resized:
        shown = ", ".join(resized[:3]) + (f" and {len(resized) - 3} more" if len(resized) > 3 else "")
        print(f"genlab: resized {shown} to the model's {w}x{h}", file=sys.stderr)
    return torch.cat(images)


def run(args) -> int:
    files = collect_inputs(args.inputs)
    model = load(args.run, device=args.device)
    if model.data_info.get("kind", "image") != "image" or len(model.data_info.get("shape", ())) != 3:
        raise GenlabError(f"{args.run} holds a {model.family} model of {model.data_info.get('kind')} data; "
                          f"inpaint needs an image model (vae, cvae, gan, dcgan, cgan, infogan)")
    shape = model.image_shape
    visible = parse_mask(args.mask, shape[1], shape[2])
    out = Path(args.out)
    check_writable(out, folder=True)
    x01 = load_inputs(files, shape)  # every file is read before anything is written
    done = complete(model, x01, visible, labels=args.label, iterations=args.iterations, restarts=args.restarts,
                    steps=args.steps, prior=args.prior, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    for img, name in zip(to_uint8(done), unique_names(files)):
        Image.fromarray(img).save(out / name)
    masked = x01 * visible + 0.5 * ~visible
    ncol = min(8, x01.shape[0])
    save_grid(pair_rows(masked, done, ncol), out / "overview.png", nrow=ncol)
    hidden = int((~visible).sum())
    print(f"wrote {len(files)} completed image(s) and overview.png to {out} ({hidden} hidden pixels each, "
          f"{model.family})")
    return 0
