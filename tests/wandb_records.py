"""Read the records of a W&B offline run file (``RUN/wandb/offline-run-*/run-*.wandb``).

The file is W&B's transaction log: a 7-byte header (``:W&B``, magic 0xBEE1,
version), then LevelDB-style log records in 32 KiB blocks (CRC-32, length,
type: full, first, middle or last piece), each a serialised
``wandb_internal_pb2.Record``. The tests read it back with W&B's own protobuf
classes, so they check what `wandb sync` would upload.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def raw_records(path: Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the block's tail is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if length == 0 and kind == 0:
            pos += left
            continue
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
            pending = b""


def records(path: Path):
    """(record type, message) pairs, e.g. ("history", HistoryRecord)."""
    from wandb.proto import wandb_internal_pb2 as pb

    for data in raw_records(path):
        rec = pb.Record()
        rec.ParseFromString(data)
        kind = rec.WhichOneof("record_type")
        yield kind, getattr(rec, kind)
