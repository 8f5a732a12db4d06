"""Checkpoints: resume continues where it stopped, refuses changed settings,
Ctrl-C saves, and only safetensors/JSON are ever read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import genlab
from genlab.errors import CheckpointError
from genlab.training.checkpoint import list_checkpoints, verify

from .family_checks import read_metrics, train_small

SMALL = dict(g_width=8, d_width=8)


def weights(path):
    return load_file(str(path / "model.safetensors"))


def test_resume_continues_from_saved_step_and_matches_uninterrupted(tmp_path, fashion_dir):
    full = tmp_path / "full"
    train_small("dcgan", full, steps=8, checkpoint_every=4, **SMALL)
    part = tmp_path / "part"
    train_small("dcgan", part, steps=4, **SMALL)
    assert [p.name for p in list_checkpoints(part)] == ["step-0000004"]
    result = train_small("dcgan", part, steps=8, resume=True, **SMALL)
    assert result.step == 8
    assert [r["step"] for r in read_metrics(part)] == list(range(1, 9))
    a, b = weights(list_checkpoints(full)[-1]), weights(list_checkpoints(part)[-1])
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_refuses_changed_hyperparameters(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, **SMALL)
    with pytest.raises(CheckpointError) as err:
        train_small("dcgan", run, steps=4, resume=True, g_width=8, d_width=8, lr_g=1e-3)
    assert "hyper-parameters changed" in str(err.value) and "lr_g" in str(err.value)
    # budget settings may change
    assert train_small("dcgan", run, steps=3, resume=True, log_every=2, **SMALL).step == 3


def test_existing_run_is_not_overwritten(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, **SMALL)
    with pytest.raises(CheckpointError, match="--resume"):
        train_small("dcgan", run, steps=2, **SMALL)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train_small("dcgan", tmp_path / "fresh", steps=2, resume=True, **SMALL)


def test_checkpoint_contents_are_safe_and_verified(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, **SMALL)
    ckpt = list_checkpoints(run)[-1]
    assert sorted(p.name for p in ckpt.iterdir()) == sorted([
        "config.json", "manifest.json", "model.safetensors", "optim.json", "optim.safetensors",
        "trainer.json", "trainer.safetensors"])
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["family"] == "dcgan" and meta["genlab_version"] == genlab.__version__
    assert meta["data"]["dataset"] == "fashion-mnist" and meta["train"]["steps"] == 2
    # a pickle dropped into the folder is refused before anything is read
    (ckpt / "extra.pt").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(CheckpointError, match="unexpected file 'extra.pt'"):
        verify(ckpt)
    with pytest.raises(CheckpointError, match="no valid checkpoint"):
        genlab.load(run)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_saves_a_checkpoint(tmp_path, fashion_dir, sig):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "genlab", "train", "dcgan", "--steps", "100000", "--limit", "256",
           "--batch-size", "16", "--g-width", "8", "--d-width", "8", "--log-every", "1", "--out", str(run),
           "--no-tensorboard", "--no-progress", "--checkpoint-every", "0", "--sample-every", "0"]
    # a shell that started us in the background may have set SIGINT to "ignore"; give the child
    # the default disposition, as a terminal would
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "GENLAB_OFFLINE": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "metrics.jsonl").exists():
            time.sleep(0.2)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "--resume" in err
    ckpts = list_checkpoints(run)
    assert len(ckpts) == 1
    step = int(ckpts[0].name.split("-")[1])
    assert step >= 1
    assert genlab.load(run).sample(2, seed=0)["images"].shape == (2, 1, 28, 28)


def test_a_callback_can_stop_training_early(tmp_path, fashion_dir):
    from genlab.training import Callback

    class StopAt(Callback):
        def on_log(self, trainer, step, logs):
            if step == 4:
                trainer.should_stop = True

    run = tmp_path / "run"
    result = train_small("dcgan", run, steps=50, callbacks=[StopAt()], **SMALL)
    assert result.step == 4 and not result.interrupted
    assert [p.name for p in list_checkpoints(run)] == ["step-0000004"]
