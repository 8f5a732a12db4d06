"""`--eval-every N`: sample metrics during training, and the best weights kept in ``RUN/best/``."""

from __future__ import annotations

import shutil
from typing import Any

import torch

from .. import metrics as M
from ..errors import GenlabError
from ..models.callbacks import Callback


class PeriodicEval(Callback):
    """`--eval-every N`: evaluate samples during training; keep the best weights.

    `prepare(model)` runs before training (genlab.train calls it): it refuses,
    in one line, data or metrics it cannot evaluate, builds the extractor
    (training a domain extractor on first use when the data has no shipped
    classifier) and the reference statistics of the training dataset's train
    split, and scores a few samples of the untrained model to prove every
    requested metric and `best_metric` come out. Then, at the first logging
    step at or after each multiple of N, it draws `n` samples, adds
    ``eval/<metric>`` to that step's log row, and when `best_metric` improves
    (lower is better for fid/kid, higher for the others) writes the weights to
    ``RUN/best/`` with the value in its config.json.
    """

    LOWER_IS_BETTER = {"fid", "kid", "kid_std"}
    #: samples of the untrained model scored by `prepare` (enough for k-NN metrics and a covariance)
    CHECK_N = 32

    def __init__(self, every: int, n: int = 2000, metrics: str = "fid", best_metric: str = "fid",
                 extractor: str = "auto"):
        self.every, self.n, self.extractor = every, n, extractor
        self.metrics = [m for m in metrics.split(",") if m]
        self.best_metric = best_metric
        self.lower_is_better = best_metric in self.LOWER_IS_BETTER
        self.best: float | None = None
        self.last_bucket = 0
        self.prepared: tuple[Any, Any] | None = None

    def prepare(self, model, root: str | None = None, device: str = "cpu") -> None:
        """Check that this evaluation can run on the model's data; build extractor and reference.

        Leaves the global RNG as it found it, so a run with --eval-every trains as one without.
        """
        with torch.random.fork_rng(devices=[]):
            self._prepare(model, root, device)

    def _prepare(self, model, root: str | None, device: str) -> None:
        kind = model.data_info.get("kind", "image")
        if kind != "image":
            raise GenlabError(f"--eval-every scores image samples, but {model.family} trains on {kind} data; "
                              "drop --eval-every (genlab eval RUN gives this family's own metrics)")
        if not self.metrics:
            raise GenlabError(f"--eval-metrics is empty; valid metrics: {', '.join(M.metric_names())}")
        chosen = [M.METRICS.get(m) for m in self.metrics]
        if "accuracy" in self.metrics and not model.conditional:
            raise GenlabError(f"--eval-metrics accuracy needs a conditional family; {model.family} is not")
        dataset = model.data_info.get("dataset")
        if not dataset:
            raise GenlabError("--eval-every needs the training dataset's name in the model's data description")
        ext, stats = M.prepare_reference(f"{dataset}:train", extractor=self.extractor, root=root, device=device,
                                         needs_reference=any(m.needs_reference for m in chosen))
        out = model.sample(self.CHECK_N, seed=0)
        values = M.evaluate(out["images"], reference=stats, extractor=ext, metrics=self.metrics,
                            labels=out.get("labels"), device=device)
        if self.best_metric not in values:
            raise GenlabError(f"--best-metric {self.best_metric!r} is not among what --eval-metrics "
                              f"{','.join(self.metrics)} gives ({', '.join(values)}); pick one of those")
        self.prepared = (ext, stats)

    def on_log(self, trainer, step, logs):
        bucket = step // self.every
        if bucket == self.last_bucket or trainer.rank != 0:
            return
        self.last_bucket = bucket
        values = self.measure(trainer)
        for k, v in values.items():
            logs[f"eval/{k}"] = float(v)
        self.keep_best(trainer, step, values)

    def measure(self, trainer) -> dict[str, float]:
        """The metrics of `n` samples (seed 0) of the model as it is now."""
        model = trainer.model
        if self.prepared is None:
            self.prepare(model, root=trainer.config.data_root, device=str(trainer.device))
        ext, stats = self.prepared
        out = model.sample(self.n, seed=0)
        return M.evaluate(out["images"], reference=stats, metrics=self.metrics, extractor=ext,
                          labels=out.get("labels"), device=str(trainer.device))

    def keep_best(self, trainer, step: int, values: dict[str, float]) -> None:
        value = values.get(self.best_metric)
        if value is None:
            return
        if self.best is None or (value < self.best if self.lower_is_better else value > self.best):
            self.best = value
            best_dir = trainer.run_dir / "best"
            tmp = trainer.run_dir / ".best-tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            model = trainer.model
            dataset = model.data_info.get("dataset")
            run = {k: v for k, v in trainer.run_config().items() if k in ("train", "command")}
            card_metrics = [{"name": k, "value": float(v), "step": step, "n": self.n, "reference": f"{dataset}:train"}
                            for k, v in values.items()]
            best = {"metric": self.best_metric, "value": value, "step": step}
            model.save_pretrained(tmp, extra={**run, "best": best}, metrics=card_metrics)
            shutil.rmtree(best_dir, ignore_errors=True)
            tmp.rename(best_dir)
