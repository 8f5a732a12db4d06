"""Rewrite some files of a checkpoint folder atomically (`genlab fit-sampler`).

The folder is copied to a hidden sibling, the copy gets the new files (and
loses the removed ones), its manifest (when it has one) is updated with their
SHA-256, everything is flushed to disk, and then the copy and the folder trade
places in one ``renameat2(RENAME_EXCHANGE)`` call (Linux). A crash before the
exchange leaves the folder as it was (the copy, named like an unfinished
checkpoint, is removed by the next training); after it, the folder is whole
and new. Where the exchange is not available, two renames stand in for it,
and the old folder is moved aside under a name nothing deletes, so even a
crash between the two loses nothing.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..errors import CheckpointError
from ..serialization import sha256, write_json
from .checkpoint import MANIFEST, TMP_PREFIX
from .checkpoint import _fsync_dir as _fsync  # a file or a folder

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False when this system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def replace_files(folder: str | Path, files: dict[str, bytes], remove: Iterable[str] = ()) -> Path:
    """Write `files` ({name: contents}) into `folder` and delete `remove`, all at once (see the
    module doc); the folder's manifest, if it has one, is updated to match. Returns `folder`."""
    folder = Path(folder)
    tmp = folder.parent / f"{TMP_PREFIX}{folder.name}-rewrite-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(folder, tmp)
        for name in remove:
            (tmp / name).unlink(missing_ok=True)
        for name, blob in files.items():
            (tmp / name).write_bytes(blob)
        if (tmp / MANIFEST).is_file():
            try:
                manifest = json.loads((tmp / MANIFEST).read_text())
            except ValueError:
                raise CheckpointError(f"{folder / MANIFEST} is corrupt; use an earlier checkpoint") from None
            for name in remove:
                manifest.pop(name, None)
            manifest.update({name: sha256(tmp / name) for name in files})
            write_json(tmp / MANIFEST, dict(sorted(manifest.items())))
        for p in tmp.iterdir():
            _fsync(p)
        _fsync(tmp)
        if _exchange(tmp, folder):
            old = tmp
        else:
            old = folder.parent / f".replaced-{folder.name}-{os.getpid()}"
            os.rename(folder, old)
            try:
                os.rename(tmp, folder)
            except BaseException:
                os.rename(old, folder)
                raise
        _fsync(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return folder
