"""Experiment trackers: TensorBoard, MLflow and Weights & Biases behind one interface.

`--logger tensorboard,mlflow,wandb` picks them (TensorBoard alone by default).
Each tracker receives, from the Trainer on the main process:

- the resolved run config, flattened to ``config.*``, ``train.*`` and
  ``data.*`` parameters (TensorBoard: HParams; MLflow: params; W&B: config);
- every logged scalar under one name in all trackers: a loss ``loss_d`` is
  ``train/loss_d``, names that already have a section (``eval/fid``) and
  ``images_per_s`` are kept as they are;
- every sample grid as an image, with its step;
- the final checkpoint folder as an artifact (MLflow, W&B).

MLflow writes to ``MLFLOW_TRACKING_URI`` when set, else to a SQLite store next
to the run folder (``RUNS/mlflow.db``, artifacts in ``RUNS/mlartifacts/``).
W&B runs offline (files under ``RUN/wandb/``, no account needed) unless
``WANDB_MODE`` or ``WANDB_API_KEY`` says otherwise. A tracker that fails
during training is reported on stderr and turned off; training goes on.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..errors import GenlabError
from ..extras import require
from ..serialization import write_json

#: tracker ids of a run (MLflow run id, W&B run id), kept to continue the same runs on --resume
STATE_FILE = "trackers.json"
PARAM_CHARS = 250


def metric_name(key: str) -> str:
    """The tracker name of a logged value: losses under train/, sectioned names as they are."""
    return key if "/" in key or key == "images_per_s" else f"train/{key}"


def _param(value: Any) -> str | int | float | bool:
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return "none"
    text = json.dumps(value)
    return text if len(text) <= PARAM_CHARS else text[:PARAM_CHARS - 3] + "..."


def flat_params(run_config: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """The run's config.json as flat ``section.key`` parameters of scalars (lists as JSON)."""
    params: dict[str, str | int | float | bool] = {"family": run_config["family"],
                                                   "genlab_version": run_config.get("genlab_version", "")}
    for section in ("config", "train", "data"):
        for key, value in (run_config.get(section) or {}).items():
            params[f"{section}.{key}"] = _param(value)
    return params


def _hwc_uint8(grid: torch.Tensor):
    """A C x H x W grid in [0, 1] -> H x W x C uint8 (H x W for one channel), as image libraries take it."""
    array = grid.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    array = array.permute(1, 2, 0).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


class Tracker:
    """One experiment tracker; the Trainer calls these on the main process only."""

    name = ""

    def scalars(self, values: dict[str, float], step: int) -> None:
        pass

    def image(self, name: str, grid: torch.Tensor, step: int) -> None:
        pass

    def artifact(self, path: Path) -> None:
        pass

    def close(self, failed: bool = False) -> None:
        pass

    def state(self) -> dict[str, Any]:
        """What to keep in RUN/trackers.json to continue this run on --resume."""
        return {}


class TensorBoardTracker(Tracker):
    """Scalars, images and the config as HParams under RUN/tb (tensorboard --logdir runs)."""

    name = "tensorboard"

    def __init__(self, run_dir: Path, params: dict[str, Any], previous: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415  (heavy: TensorBoard and protobuf)
        from torch.utils.tensorboard.summary import hparams  # noqa: PLC0415

        self.writer = SummaryWriter(str(run_dir / "tb"))
        # the session's hyper-parameters; TensorBoard's HParams tab infers the metrics from the scalars
        _, start, self._end = hparams(params, {})
        self.writer.file_writer.add_summary(start)

    def scalars(self, values, step):
        for key, value in values.items():
            self.writer.add_scalar(metric_name(key), value, step)

    def image(self, name, grid, step):
        self.writer.add_image(name, grid, step)

    def close(self, failed=False):
        if not failed:
            self.writer.file_writer.add_summary(self._end)
        self.writer.close()


class MLflowTracker(Tracker):
    """An MLflow run: params, metrics with steps, grids as images, the checkpoint as artifacts."""

    name = "mlflow"
    EXPERIMENT = "genlab"

    def __init__(self, run_dir: Path, params: dict[str, Any], previous: dict[str, Any]):
        require("mlflow", "--logger mlflow")
        from mlflow.entities import Param  # noqa: PLC0415
        from mlflow.tracking import MlflowClient  # noqa: PLC0415

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            store = run_dir.resolve().parent
            uri = f"sqlite:///{store / 'mlflow.db'}"
            artifacts = (store / "mlartifacts").as_uri()
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        run_id = previous.get("run_id") if previous.get("tracking_uri") == uri else None
        if run_id:
            self.client.update_run(run_id, status="RUNNING")
        else:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME", self.EXPERIMENT)
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                try:
                    experiment_id = self.client.create_experiment(name, artifact_location=artifacts)
                except Exception:  # another process created it first
                    experiment_id = self.client.get_experiment_by_name(name).experiment_id
            else:
                experiment_id = experiment.experiment_id
            tags = {"genlab.family": str(params["family"]), "genlab.run_dir": str(run_dir.resolve())}
            run_id = self.client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id
            items = [Param(k, str(v)) for k, v in params.items()]
            for i in range(0, len(items), 100):
                self.client.log_batch(run_id, params=items[i:i + 100])
        self.run_id = run_id

    def scalars(self, values, step):
        from mlflow.entities import Metric  # noqa: PLC0415

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(metric_name(k), float(v), now, step)
                                                    for k, v in values.items()])

    def image(self, name, grid, step):
        self.client.log_image(self.run_id, _hwc_uint8(grid), key=name, step=step)

    def artifact(self, path):
        self.client.log_artifacts(self.run_id, str(path), artifact_path=f"checkpoints/{path.name}")

    def close(self, failed=False):
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")

    def state(self):
        return {"run_id": self.run_id, "tracking_uri": self.uri}


class WandbTracker(Tracker):
    """A W&B run, offline by default: config, history with steps, grids as images, a model artifact."""

    name = "wandb"

    def __init__(self, run_dir: Path, params: dict[str, Any], previous: dict[str, Any]):
        (wandb,) = require("wandb", "--logger wandb")
        self.wandb = wandb
        online = bool(os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"))
        resume = previous.get("id") if previous else None
        self.run = wandb.init(dir=str(run_dir), project=os.environ.get("WANDB_PROJECT", "genlab"),
                              name=run_dir.name, config=params, mode=None if online else "offline",
                              id=resume, resume="allow" if resume else None,
                              settings=wandb.Settings(console="off"))
        self.label = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{params['family']}-{run_dir.name}")

    def scalars(self, values, step):
        self.run.log({metric_name(k): float(v) for k, v in values.items()}, step=step)

    def image(self, name, grid, step):
        self.run.log({name: self.wandb.Image(_hwc_uint8(grid), caption=f"step {step}")}, step=step)

    def artifact(self, path):
        art = self.wandb.Artifact(self.label, type="model", metadata={"checkpoint": path.name})
        art.add_dir(str(path))
        self.run.log_artifact(art, aliases=["latest", path.name])

    def close(self, failed=False):
        self.run.finish(exit_code=1 if failed else 0)

    def state(self):
        return {"id": self.run.id}


TRACKERS: dict[str, type[Tracker]] = {t.name: t for t in (TensorBoardTracker, MLflowTracker, WandbTracker)}


#: errors of the disk itself, which make tracker logs an optional write rather than a configuration error
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class Trackers:
    """The run's trackers as one; a tracker that raises is reported once and turned off."""

    def __init__(self, names: list[str], run_dir: Path, run_config: dict[str, Any], resume: bool = False):
        self.run_dir = run_dir
        params = flat_params(run_config)
        state_path = run_dir / STATE_FILE
        previous = json.loads(state_path.read_text()) if resume and state_path.is_file() else {}
        self.active: list[Tracker] = []
        for name in dict.fromkeys(names):
            try:
                self.active.append(TRACKERS[name](run_dir, params, previous.get(name) or {}))
            except GenlabError:
                raise
            except Exception as exc:  # a store that cannot be reached, a bad URI, ...
                self.close(failed=True)
                if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                    raise  # a full or read-only disk: the Trainer reports it once and training goes on
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise GenlabError(f"the {name} logger could not start ({first}); check its settings "
                                  f"(MLFLOW_TRACKING_URI, WANDB_MODE, ...) or drop it from --logger") from None
        states = {t.name: t.state() for t in self.active if t.state()}
        if states:
            write_json(state_path, {**previous, **states})

    def _each(self, method: str, *args: Any) -> None:
        for tracker in list(self.active):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker must never cost the training run
                self.active.remove(tracker)
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                print(f"genlab: the {tracker.name} logger failed ({first}); it is off for the rest of this run",
                      file=sys.stderr)

    def scalars(self, values: dict[str, Any], step: int) -> None:
        self._each("scalars", {k: v for k, v in values.items() if isinstance(v, (int, float))}, step)

    def image(self, name: str, grid: torch.Tensor, step: int) -> None:
        self._each("image", name, grid, step)

    def artifact(self, path: Path | None) -> None:
        if path is not None:
            self._each("artifact", Path(path))

    def close(self, failed: bool = False) -> None:
        self._each("close", failed)
        self.active = []
