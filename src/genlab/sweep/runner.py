"""Running a sweep: `sweep()` validates everything, creates the folder and the study,
runs the workers (in this process, or K processes sharing the study) and writes
the results; `work()` is the loop each worker runs: claim a trial, train it,
tell the study, until the queue is empty. Running the same command again
continues a stopped sweep; the same command with ``--storage URL`` on other
machines adds workers to the same study.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import GenlabError
from ..io import check_writable
from ..serialization import write_json
from .results import trial_rows, write_best, write_plots
from .spec import DEFAULT_EVALS, SPEC_FILE, SweepSpec, build_spec, check_run
from .study import SweepStudy, open_storage, quiet_optuna, redact
from .trial import run_trial

STUDY_FILE = "study.json"
DEFAULT_DB = "study.db"
MAX_CRASHES = 3
SETUP_WAIT_S = 60


@dataclass
class SweepResult:
    sweep_dir: Path
    study: str
    storage: str
    counts: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    best_config: Path | None = None
    plots: dict[str, Path] = field(default_factory=dict)
    interrupted: bool = False


def default_names(family: str, data: str, study: str | None, out: str | Path | None) -> tuple[str, Path]:
    """(study name, sweep folder): ``sweeps/FAMILY-DATA`` unless named, so a rerun finds it."""
    tag = data.replace(":", "-").replace("/", "_").strip("-_")[:40]
    name = study or (Path(out).name if out else f"{family}-{tag}")
    return name, Path(out) if out else Path("sweeps") / name


def storage_url(sweep_dir: Path, url: str | None) -> str:
    return url or f"sqlite:///{(Path(sweep_dir) / DEFAULT_DB).resolve()}"


def open_sweep(sweep_dir: str | Path, storage: str | None = None) -> SweepStudy:
    """The study of an existing sweep folder (for --show, reports and workers)."""
    sweep_dir = Path(sweep_dir)
    spec = SweepSpec.load(sweep_dir)
    try:
        meta = json.loads((sweep_dir / STUDY_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise GenlabError(f"{sweep_dir} has no readable {STUDY_FILE}; pass a folder made by genlab sweep") from None
    url = storage or meta.get("storage") or storage_url(sweep_dir, None)
    if "***" in url:
        raise GenlabError(f"the storage of {sweep_dir} needs its password: pass --storage URL "
                          f"(or keep it out of the URL, in ~/.pgpass)")
    return SweepStudy(open_storage(url), meta["study"], spec, create=False)


def work(sweep_dir: Path, url: str, name: str, tag: str = "") -> int:
    """A worker: run trials of study `name` until none is waiting; returns how many it ran."""
    spec = SweepSpec.load(sweep_dir)
    study = SweepStudy(open_storage(url), name, spec, create=False)
    ran, crashes, waited = 0, 0, 0
    while True:
        trial = study.claim()
        if trial is None:
            if study.reclaim_orphans():  # a worker elsewhere died: take over its trial
                continue
            if study.target is None and waited < SETUP_WAIT_S:  # the study's creator is still queueing
                time.sleep(1)
                waited += 1
                continue
            return ran
        outcome = run_trial(study, trial, sweep_dir, tag)
        ran += 1
        crashes = crashes + 1 if outcome == "crashed" else 0
        if crashes >= MAX_CRASHES:
            error = study.storage.get_trial(study.trial_id(trial.number)).user_attrs.get("error")
            raise GenlabError(f"{crashes} trials in a row crashed (last: {error}); fix the cause and run the "
                              f"same command again to continue")
        write_best(study, sweep_dir)


def _worker_main(sweep_dir: str, url: str, name: str, tag: str, threads: int, errors) -> None:
    torch.set_num_threads(threads)

    quiet_optuna()
    try:
        work(Path(sweep_dir), url, name, tag)
    except GenlabError as exc:
        errors.put(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def run_workers(sweep_dir: Path, url: str, name: str, workers: int) -> bool:
    """Run `workers` worker processes (or this process for one); True if interrupted."""
    if workers == 1:
        try:
            work(sweep_dir, url, name)
        except KeyboardInterrupt:
            return True
        return False
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    threads = max(1, torch.get_num_threads() // workers)
    procs = [ctx.Process(target=_worker_main, name=f"genlab-sweep-worker-{i}",
                         args=(str(sweep_dir), url, name, f"[worker {i}] ", threads, errors))
             for i in range(workers)]
    stopped = []

    def forward(signum, frame):  # a scheduler's SIGTERM: each worker saves its trial and stops
        stopped.append(signum)
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        for p in procs:
            p.start()
        for p in procs:
            try:
                p.join()
            except KeyboardInterrupt:  # Ctrl-C reached the workers too: wait for them to save
                stopped.append(signal.SIGINT)
                p.join()
    finally:
        signal.signal(signal.SIGTERM, previous)
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    if messages:
        raise GenlabError(messages[0])
    return bool(stopped) or any(p.exitcode == 130 for p in procs)


def sweep(family: str, data: str = "fashion-mnist", *, trials: int = 20, budget: str | dict = "--steps 2000",
          metric: str = "fid", direction: str | None = None, space: str | Path | dict | None = None,
          default_space: bool = True, storage: str | None = None, study: str | None = None,
          out: str | Path | None = None, workers: int = 1, pruner: str = "median", evals: int = DEFAULT_EVALS,
          eval_every: int | None = None, eval_n: int = 2000, extractor: str = "auto", seed: int = 0,
          **fixed: Any) -> SweepResult:
    """Search `family`'s hyper-parameters on `data` with Optuna (TPE, pruning on the periodic
    evaluation); every trial is a run folder under ``SWEEP_DIR/trials``. `fixed` options
    apply to every trial. Returns the counts, the best trial and the files written."""
    for what, value in (("--trials", trials), ("--workers", workers)):
        if not isinstance(value, int) or value < 1:
            raise GenlabError(f"{what} must be at least 1 (got {value!r})")
    spec = build_spec(family, data, budget=budget, metric=metric, direction=direction, space=space,
                      default=default_space, evals=evals, eval_every=eval_every, eval_n=eval_n,
                      extractor=extractor, pruner=pruner, seed=seed, fixed=fixed)
    name, sweep_dir = default_names(family, data, study, out)
    old = SweepSpec.load(sweep_dir) if (sweep_dir / SPEC_FILE).is_file() else None
    if sweep_dir.exists() and old is None and any(sweep_dir.iterdir()):
        raise GenlabError(f"{sweep_dir} exists and is not a sweep folder; choose another --out")
    url = storage_url(sweep_dir, storage)
    backend = open_storage(url) if storage else None  # an unreachable server stops here, before any file
    check_run(spec, evals)
    if old is not None and old.differences(spec):
        raise GenlabError(f"{sweep_dir} holds a sweep with other settings ({'; '.join(old.differences(spec)[:3])}); "
                          f"rerun with the same settings to continue it, or choose another --out")
    check_writable(sweep_dir)
    # a shared study made for other settings is refused before the folder is created
    the_study = SweepStudy(backend, name, spec) if backend else None
    sweep_dir.mkdir(parents=True, exist_ok=True)
    the_study = the_study or SweepStudy(open_storage(url), name, spec)
    if old is None:
        spec.save(sweep_dir)

        write_json(sweep_dir / STUDY_FILE, {"study": name, "storage": redact(storage) if storage else None})
    added = the_study.top_up(trials)
    back = the_study.reclaim_orphans()
    target = the_study.target
    note = f"; the study holds {target}, more than --trials {trials}" if target and target > trials else ""
    print(f"sweep {name}: {family} on {data}, {target or trials} trials ({added} new"
          + (f", {len(back)} to continue" if back else "") + f") in {redact(url)}; "
          f"searching {', '.join(spec.space)}{note}", file=sys.stderr, flush=True)
    interrupted = run_workers(sweep_dir, url, name, workers)
    rows = trial_rows(the_study)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    best = next((r for r in rows if r["state"] == "complete"), None)
    result = SweepResult(sweep_dir, name, redact(url), counts, best, write_best(the_study, sweep_dir),
                         interrupted=interrupted)
    if not interrupted:
        result.plots = write_plots(the_study, sweep_dir)
    return result
