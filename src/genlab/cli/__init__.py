"""The `genlab` command. Each subcommand is a module in this package with
``add_parser(subparsers)`` and ``run(args) -> int``; modules are discovered,
so a new subcommand is a new file.

Errors the user can fix print one line, ``genlab: error: ...``, and exit 2.
`main` is the one exception boundary of every subcommand: besides genlab's
own errors, an OSError (a full disk, a read-only folder, a path that is a
folder) or a ValueError/OverflowError/MemoryError that escaped the checks is
turned into one line naming the problem; ``GENLAB_DEBUG=1`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys

from ..errors import GenlabError
from ..version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genlab", description="Train, sample, evaluate and explore GANs and VAEs.")
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.handler(args) or 0)
    except GenlabError as exc:
        print(f"genlab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, OverflowError, MemoryError) as exc:
        if os.environ.get("GENLAB_DEBUG"):
            raise
        print(f"genlab: error: {describe(exc)}", file=sys.stderr)
        return 2


#: what to do about an OSError, by errno
OS_HINTS = {
    errno.ENOSPC: "free space or choose another --out",
    errno.EDQUOT: "free space or choose another --out",
    errno.EFBIG: "the file is larger than this system allows; choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "no permission; choose another path",
    errno.EPERM: "no permission; choose another path",
    errno.EISDIR: "it is a folder; give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder; fix the path",
    errno.EEXIST: "it already exists; choose another path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
}


def describe(exc: BaseException) -> str:
    """One line for an error that escaped genlab's own checks."""
    if isinstance(exc, MemoryError):
        return "out of memory; use smaller sizes (--batch-size, widths, --n) or a machine with more memory"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        hint = OS_HINTS.get(exc.errno or -1, "check the path and try again")
        return f"{where}{reason}; {hint}"
    first = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
    return f"bad input: {first} (set GENLAB_DEBUG=1 to see where)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
