"""Model families. Each subpackage registers one family in `FAMILIES`.

Subpackages are imported on first use of this package, so adding a family is
adding a folder: nothing else needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import GenerativeModel

for _mod in pkgutil.iter_modules(__path__):
    if _mod.ispkg:
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["GenerativeModel"]
