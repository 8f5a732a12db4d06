"""An exclusive lock on a run folder, so two trainings never write one run.

``RUN/.genlab.lock`` is held with ``flock`` (the kernel releases it when the
holder dies, even on ``kill -9``) and names its holder: PID, host and start
time, so a refused run can say who holds the folder. A lock file left by a
dead process is free to take; the taker says so in one line. The lock is
released and its file removed when training ends.

Only the process that holds the lock writes checkpoints, logs and grids, and
only it may remove the unfinished checkpoint folders a crash left behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import GenlabError

LOCK_NAME = ".genlab.lock"


class RunLocked(GenlabError):
    """Another process is training into the same run folder."""


def _holder(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``with RunLock(run_dir):`` holds the run folder exclusively or raises `RunLocked`.

    A folder created only to hold the lock is removed again if nothing else
    was written into it, so a refused or failed start leaves nothing behind."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.fd: int | None = None
        self.created_dir = False

    def acquire(self) -> "RunLock":
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise GenlabError(f"--out {self.run_dir} is a file, not a folder; choose another --out")
        try:
            try:
                self.run_dir.mkdir(parents=True)
                self.created_dir = True
            except FileExistsError:
                pass
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
                    os.close(fd)
                    self._cleanup_dir()
                    who = (f"genlab pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
                           f"{holder.get('started', '?')}") if holder else "another process"
                    raise RunLocked(f"{self.run_dir} is in use by {who}; wait for that run to finish, "
                                    f"or train into another --out folder") from None
                # the file may have been removed by its last holder between our open and our lock
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            self.fd = fd
            previous = _holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            me = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        except OSError as exc:
            self.release()
            raise GenlabError(f"cannot lock {self.run_dir} ({exc.strerror}); choose a writable --out folder") \
                from None
        if previous.get("pid") is not None:
            alive = previous.get("host") == me["host"] and isinstance(previous["pid"], int) and _alive(previous["pid"])
            gone = "its lock was released" if alive else "no longer running"
            print(f"genlab: took over the stale lock on {self.run_dir} from pid {previous['pid']} on "
                  f"{previous.get('host', '?')} ({gone})", file=sys.stderr)
        return self

    def release(self) -> None:
        if self.fd is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            os.close(self.fd)  # closing drops the flock
            self.fd = None
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        if self.created_dir:
            try:
                self.run_dir.rmdir()  # only if empty: a run that wrote something keeps its folder
            except OSError:
                pass

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
