"""`genlab list`: families, datasets and GAN objectives."""

from __future__ import annotations

from ..api import families
from ..data import dataset_specs
from ..registry import FAMILIES, LOSSES


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list families, datasets and objectives")
    p.set_defaults(handler=run)


def run(args) -> int:
    print("families:")
    for name in families():
        cls = FAMILIES.get(name)
        doc = (cls.__module__ and __import__(cls.__module__.rsplit(".", 1)[0], fromlist=["x"]).__doc__ or "").strip()
        print(f"  {name:<10} {doc.splitlines()[0] if doc else ''}")
    print("datasets:")

    for spec in dataset_specs():
        print(f"  {spec}")
    print("objectives:")
    print("  " + ", ".join(LOSSES.names()))
    return 0
