"""Inpainting masks: which pixels of an image are hidden.

A mask is an H x W bool tensor, True where a pixel is *visible*. It is given as

- ``box:x,y,w,h``: a hidden rectangle, ``x`` columns from the left and ``y``
  rows from the top, ``w`` wide and ``h`` high, in the model's pixels; it must
  lie inside the image;
- a PNG (or any image) file of the model's image size: pixels brighter than
  half (white) are hidden, dark ones are kept.

Every problem (a box outside the image, an unreadable or wrongly sized file, a
mask that hides nothing or everything) is one line naming the fix.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import GenlabError
from ..io import open_image, to_8bit

HINT = "give --mask box:x,y,w,h (a hidden rectangle in pixels) or a mask PNG whose white pixels are hidden"


def parse_mask(spec: str, height: int, width: int) -> torch.Tensor:
    """The H x W visibility mask (True = visible) that `spec` describes for an image of this size."""
    spec = str(spec).strip()
    if spec.startswith("box:"):
        visible = box_mask(spec, height, width)
    elif spec:
        visible = file_mask(Path(spec).expanduser(), height, width)
    else:
        raise GenlabError(f"empty --mask; {HINT}")
    hidden = int((~visible).sum())
    if hidden == 0:
        raise GenlabError(f"mask {spec!r} hides no pixel of the {width}x{height} image; nothing to complete, {HINT}")
    if hidden == visible.numel():
        raise GenlabError(f"mask {spec!r} hides every pixel of the {width}x{height} image; leave some visible "
                          f"for the completion to match")
    return visible


def box_mask(spec: str, height: int, width: int) -> torch.Tensor:
    parts = spec[len("box:"):].split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise GenlabError(f"bad mask {spec!r}: a box is box:x,y,w,h with four whole numbers, "
                          f"e.g. box:7,7,14,14") from None
    if w < 1 or h < 1:
        raise GenlabError(f"bad mask {spec!r}: width and height must be at least 1 pixel")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise GenlabError(f"mask {spec!r} lies outside the {width}x{height} image (columns {x}..{x + w - 1}, "
                          f"rows {y}..{y + h - 1}); keep 0 <= x, x+w <= {width}, 0 <= y, y+h <= {height}")
    visible = torch.ones(height, width, dtype=torch.bool)
    visible[y:y + h, x:x + w] = False
    return visible


def file_mask(path: Path, height: int, width: int) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    if not path.is_file():
        raise GenlabError(f"mask {str(path)!r} is neither box:x,y,w,h nor an existing file; {HINT}")
    try:
        with open_image(path, str(path)) as im:
            im.load()
            grey = to_8bit(im).convert("L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise GenlabError(f"cannot read mask {str(path)!r} as an image; {HINT}") from None
    if grey.size != (width, height):
        raise GenlabError(f"mask {str(path)!r} is {grey.size[0]}x{grey.size[1]} but the model's images are "
                          f"{width}x{height}; draw the mask at {width}x{height}")
    return torch.frombuffer(bytearray(grey.tobytes()), dtype=torch.uint8).view(height, width) < 128
