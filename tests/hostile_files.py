"""Hostile files the reliability tests feed to genlab: a PNG whose header claims
20000x20000 pixels, a YAML "billion laughs" bomb, and a tiny untrained
translation model saved as a folder (real weights, no training needed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def bomb_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A valid PNG signature and header claiming `width` x `height` grey pixels, with
    one tiny compressed row of data: a few hundred bytes that would decode to GBs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (width + 1), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


#: 342 bytes of nested anchors (nine-fold aliases, nine levels): 9**9 (387 million) strings once expanded
YAML_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefg", "bcdefgh")]
    + [f"lr_g: [{','.join(['*h'] * 9)}]"]
) + "\n"


def tiny_translator(folder: Path) -> Path:
    """An untrained 8-wide cyclegan (grey 28x28 domains) saved with save_pretrained."""
    import torch

    import genlab
    from genlab.registry import FAMILIES

    genlab.families()
    cls = FAMILIES.get("cyclegan")
    fields = {k: 8 for k in ("g_width", "d_width", "width") if k in cls.Config.__dataclass_fields__}
    torch.manual_seed(0)
    model = cls(cls.Config(**fields), {"kind": "unpaired-image", "shape": [1, 28, 28], "num_classes": 0,
                                       "name": "test"})
    model.save_pretrained(folder)
    return folder
