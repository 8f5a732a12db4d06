"""Keep freed CPU memory in the process between training steps (Linux, glibc).

Every training step allocates and frees the same activation and gradient buffers.
glibc's malloc serves blocks above its mmap threshold (128 KiB at first, rising
with use) with fresh `mmap` pages and returns freed memory at the top of the heap
to the system once more than the trim threshold (256 KiB at first) is free. The
next step then touches fresh pages again: on a small convolutional model on CPU
that is over a thousand page faults a step and about a fifth of the step time.

glibc's adaptive scheme does raise the thresholds as it sees large blocks freed,
up to 32 MiB (mmap) and 64 MiB (trim), but only after such a block comes by: in a
plain training loop that may be never (a periodic evaluation's large buffers
happen to trigger it). `keep_freed_memory` sets those ceilings from the start with
`mallopt`, so blocks up to 32 MiB come from the heap and up to 64 MiB of freed
memory stay mapped for reuse; the effect jemalloc or tcmalloc give when preloaded.
(Larger values, 256/512 MiB, measured no faster, and slower in a run with
periodic evaluations.) It is process-wide and not undone
(glibc has no way back to its adaptive thresholds), so it is a Trainer setting,
`--no-keep-freed-memory` turns it off. Elsewhere (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TRIM_THRESHOLD = 64 << 20  # twice that, as glibc's own adaptation sets it

_applied = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True when they are (or already were) set."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
