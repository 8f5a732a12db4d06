"""`genlab explore KIND RUN ...`: interpolation, traversals, class grids, ...

Each kind of exploration is registered in `EXPLORERS` by a module of
`genlab.explore` as an object with ``help``, ``add_arguments(parser)`` and
``run(model, args) -> str`` (a line describing what was written). This file
never changes when a new exploration is added.
"""

from __future__ import annotations

import importlib
import pkgutil

import genlab.explore as explore_pkg

from ..api import load
from ..errors import GenlabError
from ..registry import EXPLORERS


def add_parser(sub) -> None:
    for mod in pkgutil.iter_modules(explore_pkg.__path__):
        importlib.import_module(f"genlab.explore.{mod.name}")
    p = sub.add_parser("explore", help="explore a trained model's latent space")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    for name in EXPLORERS.names():
        explorer = EXPLORERS.get(name)
        q = kinds.add_parser(name, help=explorer.help)
        q.add_argument("run", help="run folder or checkpoint folder")
        q.add_argument("--device", default="cpu")
        explorer.add_arguments(q)
        q.set_defaults(handler=run, explorer=name)
    p.set_defaults(handler=run)


def run(args) -> int:
    if not getattr(args, "explorer", None):
        raise GenlabError(f"no exploration given; valid kinds: {', '.join(EXPLORERS.names())}")
    model = load(args.run, device=args.device)
    print(EXPLORERS.get(args.explorer).run(model, args))
    return 0
