"""Name -> object registries, filled by decorators.

Families, datasets, losses and metrics are chosen by name through these
registries, never by ``if name == ...`` chains. An unknown name raises a
`GenlabError` that lists the valid ones.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from .errors import GenlabError


class Registry:
    """A mapping from names to objects with a decorator to fill it."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Any:
        if name not in self._items:
            raise GenlabError(
                f"unknown {self.kind} {name!r}; valid {self.kind}s: {', '.join(self.names())}"
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


FAMILIES = Registry("family")
DATASETS = Registry("dataset")
LOSSES = Registry("GAN objective")
EXPLORERS = Registry("exploration")
