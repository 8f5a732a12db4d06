"""genlab's cache directory ($GENLAB_CACHE, default ~/.cache/genlab), shared by every layer that caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """genlab's cache directory: $GENLAB_CACHE, or ~/.cache/genlab."""
    root = os.environ.get("GENLAB_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "genlab"
