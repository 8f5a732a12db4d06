"""One trial: draw its hyper-parameters, train an ordinary run folder, report the
periodic evaluation to Optuna's pruner, and tell the study how it ended.

The run folder is ``SWEEP_DIR/trials/NNNN`` (config.json, metrics.jsonl,
checkpoints), so `genlab sample/eval/serve/report` work on any trial. A trial
that was interrupted or whose worker died continues from its last checkpoint.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..api import train
from ..data import heldout_data
from ..errors import GenlabError
from ..training.periodic_eval import PeriodicEval
from ..training.rundir import RunDir
from ..training.runlock import RunLocked
from . import metric as metrics
from .space import suggest_all
from .spec import SweepSpec, extractor_name
from .study import HEARTBEAT_EVERY_S, SweepStudy

TRIALS_DIR = "trials"


def trial_dir(sweep_dir: Path, number: int) -> Path:
    return Path(sweep_dir) / TRIALS_DIR / f"{number:04d}"


class TrialEval(PeriodicEval):
    """`PeriodicEval` that reports the sweep's metric to the trial, stops pruned trials,
    keeps the trial's heartbeat, and scores family metrics (a VAE's NLL, ...) too.
    It keeps no best weights: a trial's result is its final model."""

    def __init__(self, spec: SweepSpec, trial: Any, study: SweepStudy):
        super().__init__(spec.eval_every, spec.eval_n, metrics.SAMPLE_KEYS.get(spec.metric, ""), spec.metric)
        self.spec, self.trial, self.study = spec, trial, study
        self.lower_is_better = spec.direction == "minimize"
        self.reported = set(study.storage.get_trial(study.trial_id(trial.number)).intermediate_values)
        self.last: tuple[int, float] | None = None
        self.pruned = False
        self.beat = time.monotonic()
        self.heldout = None
        self.trainer = None

    def on_train_start(self, trainer) -> None:
        self.trainer = trainer
        dataset = trainer.model.data_info.get("dataset")
        self.extractor = extractor_name(self.spec, dataset) if self.metrics else "auto"
        if not metrics.is_sample_metric(self.spec.metric):
            self.heldout = heldout_data(trainer.model.data_info, "test", trainer.config.data_root)

    def on_log(self, trainer, step, logs) -> None:
        if time.monotonic() - self.beat > HEARTBEAT_EVERY_S:
            self.study.heartbeat(self.trial)
            self.beat = time.monotonic()
        super().on_log(trainer, step, logs)

    def measure(self, trainer) -> dict[str, float]:
        if self.metrics:
            return super().measure(trainer)
        n = min(self.n, len(self.heldout))
        return {k: float(v) for k, v in trainer.model.evaluate(self.heldout, n=n, seed=0).items()}

    def keep_best(self, trainer, step: int, values: dict[str, float]) -> None:
        value = float(values[self.spec.metric])
        self.last = (step, value)
        if step not in self.reported:
            self.trial.report(value, step)
            self.reported.add(step)
        if self.trial.should_prune():
            self.pruned = True
            trainer.should_stop = True

    def final(self, step: int) -> float:
        """The metric of the model at `step` (evaluated now unless the last evaluation was there)."""
        if self.last is None or self.last[0] != step:
            values = self.measure(self.trainer)
            self.last = (step, float(values[self.spec.metric]))
            RunDir(self.trainer.run_dir).append({"step": step, "time": time.time(), "eval": values, "n": self.n})
        return self.last[1]


def _short(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def run_trial(study: SweepStudy, trial: Any, sweep_dir: Path, tag: str = "") -> str:
    """Train trial `trial`; returns "complete", "pruned", "failed" (a one-line error, e.g.
    divergence) or "crashed" (an unexpected exception). Raises KeyboardInterrupt
    (after putting the trial back in the queue) when training was interrupted."""
    from optuna.trial import TrialState  # noqa: PLC0415

    spec = study.spec
    params = suggest_all(trial, spec.space)
    options = spec.trial_options(params)
    run_dir = trial_dir(sweep_dir, trial.number)
    trial.set_user_attr("run_dir", str(run_dir.resolve()))
    trial.set_user_attr("options", options)
    resume = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("step-*"))
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)  # an attempt killed before its first checkpoint: nothing to keep
    callback = TrialEval(spec, trial, study)
    head = f"{tag}trial {trial.number}"
    print(f"{head}: {'continuing' if resume else 'starting'} ({_short(params)})", file=sys.stderr, flush=True)
    try:
        result = train_when_free(spec.family, run_dir, resume, callback, options)
        if result.interrupted:
            raise KeyboardInterrupt
        value = callback.final(result.step)
    except KeyboardInterrupt:
        study.release(trial)
        raise
    except GenlabError as exc:  # e.g. training diverged: a real outcome of these settings
        return _fail(study, trial, head, str(exc))
    except Exception as exc:  # noqa: BLE001  (a crash of one setting must not end the sweep)
        _fail(study, trial, head, f"{type(exc).__name__}: {exc}")
        return "crashed"
    trial.set_user_attr("step", result.step)
    if callback.pruned:
        study.study.tell(trial, state=TrialState.PRUNED)
        print(f"{head}: pruned at step {result.step} ({spec.metric} {value:.4g})", file=sys.stderr, flush=True)
        return "pruned"
    if not math.isfinite(value):
        return _fail(study, trial, head, f"{spec.metric} is {value}")
    study.study.tell(trial, value)
    print(f"{head}: {spec.metric} {value:.4g} at step {result.step}", file=sys.stderr, flush=True)
    return "complete"


#: how long a trial waits for its folder's lock: a worker killed a moment ago may still be exiting
LOCK_WAIT_SECONDS = 60.0


def train_when_free(family: str, run_dir: Path, resume: bool, callback: Any, options: dict[str, Any]):
    """`train` into a trial's folder, waiting up to `LOCK_WAIT_SECONDS` while another process still
    holds the folder's lock (the killed worker that ran this trial before may still be exiting)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return train(family, out=run_dir, resume=resume, callbacks=[callback], **options)
        except RunLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)
            resume = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("step-*"))


def _fail(study: SweepStudy, trial: Any, head: str, reason: str) -> str:
    from optuna.trial import TrialState  # noqa: PLC0415

    line = reason.strip().splitlines()[0] if reason.strip() else "unknown error"
    trial.set_user_attr("error", line)
    study.study.tell(trial, state=TrialState.FAIL)
    print(f"{head}: failed: {line}", file=sys.stderr, flush=True)
    return "failed"
