"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a cluster in a
temporary folder, trust authentication on 127.0.0.1 and a free port; removed afterwards."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of database ``genlab`` on a fresh server."""
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="genlab-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run(prefix + [str(a) for a in args], check=True, capture_output=True, timeout=120)

    try:
        run(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
        run(bin_dir / "pg_ctl", "-D", data, "-l", root / "log", "-w", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
        run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "genlab")
        yield f"postgresql://postgres@127.0.0.1:{port}/genlab"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(prefix + [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
