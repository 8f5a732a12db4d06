"""A small name -> factory registry used for feature extractors and metrics.

It mirrors the `.register(name)` / `.get(name)` interface of the package-wide
registry, but lives here so the metrics subpackage has no import-time dependency
on the rest of genlab.  Unknown names raise MetricsError listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import MetricsError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; `kind` is used in error messages ("metric", "extractor")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering `obj` under `name`; a name can be registered only once."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """The object registered under `name`, or MetricsError naming the valid options."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise MetricsError(
                f"unknown {self.kind} {name!r}; valid {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
