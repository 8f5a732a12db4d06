"""Name -> object registries, filled by decorators.

Families, datasets, losses, explorations, metrics and feature extractors are
chosen by name through these registries, never by ``if name == ...`` chains.
An unknown name raises a `GenlabError` (or the registry's own subclass, e.g.
`MetricsError`) that lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import GenlabError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to objects with a decorator to fill it.

    `kind` names the objects in error messages ("family", "metric"); `error` is
    the exception an unknown name raises; `ordered` lists names in registration
    order instead of sorted; `name_attribute`, when given, is set on each
    registered object to its name (a family states its name once).
    """

    def __init__(self, kind: str, *, error: type[GenlabError] = GenlabError, ordered: bool = False,
                 name_attribute: str | None = None):
        self.kind = kind
        self.error = error
        self.ordered = ordered
        self.name_attribute = name_attribute
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if self.name_attribute is not None:
                setattr(obj, self.name_attribute, name)
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise self.error(f"unknown {self.kind} {name!r}; valid {self.kind}s: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._items) if self.ordered else sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


FAMILIES: Registry[Any] = Registry("family", name_attribute="family")
DATASETS: Registry[Any] = Registry("dataset")
LOSSES: Registry[Any] = Registry("GAN objective")
EXPLORERS: Registry[Any] = Registry("exploration")
