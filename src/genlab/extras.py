"""Optional parts of genlab and the pip extra that installs each.

The core install (`pip install genlab`) trains, samples and evaluates. The
web page, ONNX export and the MLflow and W&B trackers each need packages that
only they import, declared as extras in pyproject.toml; `genlab[all]` takes
them all. `require(extra, feature)` imports an extra's modules and, when one
is missing, raises a one-line `GenlabError` naming the pip command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import GenlabError

#: extra -> the modules it provides (import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "uvicorn", "python_multipart"),
    "export": ("onnx", "onnxruntime", "onnxscript"),
    "mlflow": ("mlflow",),
    "wandb": ("wandb",),
    "music": ("pretty_midi",),
}


class MissingExtraError(GenlabError):
    """A feature whose optional packages are not installed."""


def require(extra: str, feature: str) -> list[ModuleType]:
    """Import the modules of `extra` (in order) or say in one line how to install them."""
    modules = []
    for name in EXTRAS[extra]:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            missing = (getattr(exc, "name", None) or name).split(".")[0]
            raise MissingExtraError(f"{feature} needs {missing}, which the core install leaves out; "
                                    f"pip install 'genlab[{extra}]'") from None
    return modules
