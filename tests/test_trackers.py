"""Experiment trackers, read back with each library's own reader.

One short DCGAN run logs to TensorBoard, MLflow (its local SQLite store) and
W&B (offline) at once; the tests then read the TensorBoard event file, the
MLflow store through `MlflowClient`, and the W&B offline run file through
W&B's protobuf records: the config as parameters, the scalars with their
steps (eval values not prefixed twice), the sample grids as images and the
final checkpoint as an artifact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import genlab
from genlab.training import Callback

from .conftest import require_fashion
from .wandb_records import records

STEPS = 4


class EvalValue(Callback):
    """Adds an ``eval/score`` value at logging steps, the way `--eval-every` adds ``eval/fid``."""

    def on_log(self, trainer, step, logs):
        logs["eval/score"] = float(step) / 10


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    require_fashion()
    pytest.importorskip("mlflow")
    pytest.importorskip("wandb")
    root = tmp_path_factory.mktemp("tracked")
    env = {"WANDB_DATA_DIR": root / "wandb-data", "WANDB_CACHE_DIR": root / "wandb-cache",
           "WANDB_CONFIG_DIR": root / "wandb-config"}
    with pytest.MonkeyPatch.context() as mp:
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "WANDB_MODE", "WANDB_API_KEY"):
            mp.delenv(key, raising=False)
        for key, value in env.items():
            mp.setenv(key, str(value))
        mp.setenv("WANDB_SILENT", "true")
        result = genlab.train("dcgan", data="fashion-mnist", out=root / "runs" / "dcgan", steps=STEPS,
                              batch_size=16, limit=256, g_width=8, d_width=8, log_every=2, sample_every=2,
                              checkpoint_every=0, grid_size=4, progress=False,
                              logger="tensorboard,mlflow,wandb", callbacks=[EvalValue()])
    return result


def test_tensorboard_names_scalars_once_and_logs_hparams(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(tracked_run.run_dir / "tb"))
    acc.Reload()
    tags = acc.Tags()
    assert {"train/loss_d", "train/loss_g", "eval/score", "images_per_s"} <= set(tags["scalars"])
    assert not any(t.startswith("train/eval/") for t in tags["scalars"])  # the old double prefix
    assert [e.step for e in acc.Scalars("eval/score")] == [2, 4]
    assert "samples" in tags["images"]
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["family"].string_value == "dcgan"
    assert hp["config.g_width"].number_value == 8 and hp["train.batch_size"].number_value == 16
    assert hp["data.dataset"].string_value == "fashion-mnist"
    assert "_hparams_/session_end_info" in content


def test_mlflow_sqlite_store_holds_params_metrics_images_and_the_checkpoint(tracked_run):
    from mlflow.tracking import MlflowClient

    runs_dir = tracked_run.run_dir.parent
    assert (runs_dir / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{runs_dir / 'mlflow.db'}")
    state = json.loads((tracked_run.run_dir / "trackers.json").read_text())
    run = client.get_run(state["mlflow"]["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "dcgan"
    params = run.data.params
    assert params["family"] == "dcgan" and params["config.g_width"] == "8" and params["train.steps"] == str(STEPS)
    history = client.get_metric_history(run.info.run_id, "train/loss_d")
    assert [m.step for m in history] == [2, 4] and all(isinstance(m.value, float) for m in history)
    assert [m.value for m in client.get_metric_history(run.info.run_id, "eval/score")] == [0.2, 0.4]
    assert "train/eval/score" not in run.data.metrics
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    assert any(p.split("/")[-1].startswith("samples+step+2") and p.endswith(".png") for p in images), images
    files = [a.path for a in client.list_artifacts(run.info.run_id, f"checkpoints/{tracked_run.checkpoint.name}")]
    assert f"checkpoints/{tracked_run.checkpoint.name}/model.safetensors" in files
    local = Path(client.download_artifacts(run.info.run_id, f"checkpoints/{tracked_run.checkpoint.name}/config.json",
                                           str(runs_dir / "downloaded")))
    assert json.loads(local.read_text())["family"] == "dcgan"


def test_wandb_offline_run_folder_holds_config_history_images_and_the_artifact(tracked_run):
    folders = list((tracked_run.run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 1
    run_file = next(folders[0].glob("run-*.wandb"))
    found: dict[str, list] = {}
    for kind, message in records(run_file):
        found.setdefault(kind, []).append(message)
    config = {u.key: json.loads(u.value_json) for u in found["run"][0].config.update}
    assert config["family"] == "dcgan" and config["config.g_width"] == 8 and config["train.batch_size"] == 16
    rows = [{".".join(i.nested_key) or i.key: json.loads(i.value_json) for i in h.item} for h in found["history"]]
    losses = [(r["_step"], r["train/loss_d"]) for r in rows if "train/loss_d" in r]
    assert [s for s, _ in losses] == [2, 4] and all(isinstance(v, float) for _, v in losses)
    assert [r["eval/score"] for r in rows if "eval/score" in r] == [0.2, 0.4]
    images = [r["samples.path"] for r in rows if "samples.path" in r]
    assert images and all((folders[0] / "files" / p).is_file() for p in images)
    (artifact,) = found["artifact"]
    assert artifact.type == "model" and artifact.name.startswith("dcgan-")
    assert {c.path for c in artifact.manifest.contents} >= {"model.safetensors", "config.json"}


def test_a_missing_tracker_extra_is_one_line(tmp_path):
    code = ("import sys; sys.modules['mlflow'] = None; from genlab.cli import main; "
            f"sys.exit(main(['train', 'dcgan', '--data', 'digits', '--steps', '1', '--logger', 'mlflow', "
            f"'--out', {str(tmp_path / 'run')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["genlab: error: --logger mlflow needs mlflow, which the core install leaves out; "
                     "pip install 'genlab[mlflow]'"]
    assert not (tmp_path / "run").exists()


def test_a_tracker_that_cannot_start_is_one_line(tmp_path):
    pytest.importorskip("mlflow")
    (tmp_path / "a-file").write_text("not a folder")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/a-file/mlflow.db"}
    proc = subprocess.run([sys.executable, "-m", "genlab", "train", "vae", "--data", "digits", "--steps", "1",
                           "--architecture", "mlp", "--hidden", "16", "--batch-size", "16", "--no-progress",
                           "--logger", "mlflow", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("genlab: error: the mlflow logger could not start (") and "--logger" in last
    assert not (tmp_path / "run" / "checkpoints").exists()
