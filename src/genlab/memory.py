"""How much memory this machine can still give, to refuse sizes it cannot hold in
one line before an allocator fails deep inside (or the kernel kills the process)."""

from __future__ import annotations

import os


def available_memory() -> int | None:
    """Bytes of memory available (Linux MemAvailable, else free pages), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
