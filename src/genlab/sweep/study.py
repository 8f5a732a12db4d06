"""The Optuna study behind a sweep: storage, the trial queue and its owners.

Storage is SQLite in the sweep folder by default, or any SQLAlchemy URL Optuna
supports (PostgreSQL, MySQL) so several machines share one study. The study
holds exactly ``--trials`` trials: they are created up front as waiting
trials, and each worker claims one at a time (Optuna's atomic WAITING ->
RUNNING), so two workers never run the same trial and a rerun never repeats a
finished one. A claimed trial records its owner (host, process id and start
time) and a heartbeat; a running trial whose owner is gone (a dead process on
this host, or no heartbeat for `STALE_AFTER_S` from another) is put back in
the queue and continues from its run folder's last checkpoint.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from datetime import datetime
from typing import Any

from ..errors import GenlabError
from .spec import SweepSpec

SPEC_ATTR = "genlab_sweep"
TARGET_ATTR = "genlab_trials"
STALE_AFTER_S = 600
HEARTBEAT_EVERY_S = 60
SCHEMA_ATTEMPTS = 4


def quiet_optuna() -> None:
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def redact(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (an unparsable URL is shown as given)
        return url


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 120}}
    if url.startswith(("postgresql", "mysql")):
        return {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    return {}


def open_storage(url: str):
    """An Optuna RDB storage for `url`, or one line saying why it cannot be reached."""
    import optuna  # noqa: PLC0415
    import sqlalchemy.exc  # noqa: PLC0415

    quiet_optuna()
    shown = redact(url)
    try:
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # machines starting at once on an empty database race to create Optuna's tables
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise
                time.sleep(1 + attempt)
    except ImportError as exc:  # Optuna wraps the driver's ModuleNotFoundError
        missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "its driver"
        raise GenlabError(f"storage {shown} needs the database driver {missing!r}: pip install "
                          f"'{DRIVERS.get(missing, missing)}'") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        raise GenlabError(f"cannot reach storage {shown}: {reason}; check the URL and that the database "
                          f"server runs and accepts this user") from None


DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "pymysql",
           "MySQLdb": "mysqlclient"}


def make_pruner(spec: SweepSpec):
    import optuna  # noqa: PLC0415

    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if spec.pruner == "hyperband":
        max_resource = spec.budget.get("steps", "auto")
        return optuna.pruners.HyperbandPruner(min_resource=spec.eval_every, max_resource=max_resource)
    return optuna.pruners.NopPruner()


def make_sampler(spec: SweepSpec, number: int):
    """TPE, seeded per trial: a rerun draws the same values for the same history."""
    import optuna  # noqa: PLC0415

    return optuna.samplers.TPESampler(seed=spec.seed * 1_000_003 + number, constant_liar=True)


class SweepStudy:
    """Study `name` in `storage` for `spec` (created or loaded; one made for other settings
    is refused), with the queue operations the workers use."""

    def __init__(self, storage, name: str, spec: SweepSpec, create: bool = True):
        import optuna  # noqa: PLC0415

        self.storage, self.name, self.spec = storage, name, spec
        self.created = False
        if create:
            try:
                self.study = optuna.create_study(study_name=name, storage=storage, direction=spec.direction,
                                                 pruner=make_pruner(spec))
                self.created = True
            except optuna.exceptions.DuplicatedStudyError:
                pass
        if not self.created:
            try:
                self.study = optuna.load_study(study_name=name, storage=storage, pruner=make_pruner(spec))
            except KeyError:
                raise GenlabError(f"no study {name!r} in storage {redact(str(storage.url))}; run genlab sweep "
                                  f"FAMILY ... --study {name} to create it") from None
        self.study_id = storage.get_study_id_from_name(name)
        saved = self.study.user_attrs.get(SPEC_ATTR)
        if saved is None:
            if self.study.get_trials(deepcopy=False):
                raise GenlabError(f"study {name!r} was not made by genlab sweep; choose another --study")
            self.study.set_user_attr(SPEC_ATTR, spec.to_json())
            return
        diffs = SweepSpec.from_json(saved).differences(spec)
        if diffs:
            raise GenlabError(f"study {name!r} holds a sweep with other settings ({'; '.join(diffs[:3])}); "
                              f"rerun with the same settings to continue it, or choose another --study")

    def trial_id(self, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def trials(self, *states):
        return self.study.get_trials(deepcopy=False, states=states or None)

    @property
    def target(self) -> int | None:
        """The number of trials the study is to hold (None while its creator sets it up)."""
        return self.study.user_attrs.get(TARGET_ATTR)

    def top_up(self, trials: int) -> int:
        """Queue waiting trials until the study holds `trials`; returns how many were added.

        Only the process that created the study, or one raising its target, adds trials:
        machines that join at the same moment never add them twice."""
        target = self.target
        if not (self.created or (target is not None and trials > target)):
            return 0
        self.study.set_user_attr(TARGET_ATTR, trials)
        missing = max(0, trials - len(self.trials()))
        for _ in range(missing):
            self.study.enqueue_trial({})
        return missing

    def _set_state(self, number: int, state) -> bool:
        from optuna.exceptions import UpdateFinishedTrialError  # noqa: PLC0415

        try:
            return bool(self.storage.set_trial_state_values(self.trial_id(number), state=state))
        except UpdateFinishedTrialError:
            return False

    def reclaim_orphans(self) -> list[int]:
        """Put running trials whose worker is gone back in the queue; their numbers."""
        from optuna.trial import TrialState  # noqa: PLC0415

        return [t.number for t in self.trials(TrialState.RUNNING)
                if is_orphan(t) and self._set_state(t.number, TrialState.WAITING)]

    def claim(self):
        """The next waiting trial, now running and owned by this process; None when none is left."""
        import optuna  # noqa: PLC0415
        from optuna.trial import TrialState  # noqa: PLC0415

        for t in self.trials(TrialState.WAITING):
            if not self._set_state(t.number, TrialState.RUNNING):
                continue
            tid = self.trial_id(t.number)
            self.storage.set_trial_user_attr(tid, "worker", worker_id())
            self.storage.set_trial_user_attr(tid, "heartbeat", time.time())
            self.study.sampler = make_sampler(self.spec, t.number)
            return optuna.trial.Trial(self.study, tid)
        return None

    def release(self, trial) -> None:
        """Back to the queue (an interrupted trial): the next worker continues it."""
        from optuna.trial import TrialState  # noqa: PLC0415

        self._set_state(trial.number, TrialState.WAITING)

    def heartbeat(self, trial) -> None:
        self.storage.set_trial_user_attr(self.trial_id(trial.number), "heartbeat", time.time())


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        stat = open(f"/proc/{pid}/stat").read()
        fields = stat[stat.rindex(")") + 2:].split()
        return "Z" if fields[0] in "ZX" else fields[19]
    except (OSError, ValueError, IndexError):
        return "?"


def owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None for another host (ask the heartbeat)."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _start_time(pid)
    return now != "Z" and (started == "?" or now == "?" or now == started)


def _started(trial) -> float:
    start = trial.datetime_start
    return start.timestamp() if isinstance(start, datetime) else 0.0


def is_orphan(trial, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    owner = trial.user_attrs.get("worker")
    if owner:
        alive = owner_alive(owner)
        if alive is not None:
            return not alive
    beat = trial.user_attrs.get("heartbeat") or _started(trial)
    return now - float(beat) > STALE_AFTER_S


