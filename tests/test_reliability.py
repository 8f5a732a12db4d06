"""Reliability: kill -9 then resume is bit-exact, corrupt checkpoints fall back,
divergence rolls back, failed writes keep the previous checkpoint, pickles are
never loaded."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import load_file

import genlab
from genlab.errors import CheckpointError
from genlab.training import Callback
from genlab.training.checkpoint import list_checkpoints
from genlab.training.guard import TrainingDiverged

from .family_checks import read_metrics, train_small

TINY = dict(g_width=8, d_width=8)
CLI_TINY = ["--limit", "256", "--batch-size", "16", "--g-width", "8", "--d-width", "8", "--no-tensorboard",
            "--no-progress", "--sample-every", "0", "--log-every", "1"]


def final_weights(run):
    return load_file(str(list_checkpoints(run)[-1] / "model.safetensors"))


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def genlab_cmd(*args):
    return [sys.executable, "-m", "genlab", *args]


def test_kill_9_then_resume_equals_uninterrupted(tmp_path, fashion_dir):
    steps = 24
    ref = tmp_path / "ref"
    train_small("dcgan", ref, steps=steps, checkpoint_every=4, deterministic=True, **TINY)

    run = tmp_path / "killed"
    proc = subprocess.Popen(genlab_cmd("train", "dcgan", "--steps", "100000", "--checkpoint-every", "4",
                                       "--deterministic", "--out", str(run), *CLI_TINY),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    deadline = time.time() + 180
    while time.time() < deadline and not (run / "checkpoints" / "step-0000004").exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    last = int(list_checkpoints(run)[-1].name.split("-")[1])
    assert 4 <= last < steps, "the run was killed too late to test anything"
    # resume to the reference's step count (budget keys may change on resume)
    resumed = train_small("dcgan", run, steps=steps, checkpoint_every=4, deterministic=True, resume=True, **TINY)
    assert resumed.step == steps
    assert_same_weights(final_weights(ref), final_weights(run))
    logged = [r["step"] for r in read_metrics(run) if "event" not in r]
    assert logged == list(range(1, steps + 1))  # rows past the checkpoint were dropped, then redone


def test_truncated_checkpoint_falls_back_to_previous(tmp_path, fashion_dir, capsys):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=6, checkpoint_every=3, **TINY)
    newest = list_checkpoints(run)[-1]
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = train_small("dcgan", run, steps=8, checkpoint_every=3, resume=True, **TINY)
    err = capsys.readouterr().err
    assert "does not match its checksum" in err and "resuming" in err and "from step 3" in err
    assert result.step == 8
    # loading for sampling skips the corrupt one too, with a message
    assert genlab.load(run).sample(2, seed=0)["images"].shape == (2, 1, 28, 28)


class Poison(Callback):
    """Sets a generator weight to NaN at the given logging steps (a blow-up);
    each step fires once, as a real blow-up need not recur after a rollback."""

    def __init__(self, at_steps, once=True):
        self.at_steps = set(at_steps)
        self.once = once

    def on_log(self, trainer, step, logs):
        if step in self.at_steps:
            if self.once:
                self.at_steps.discard(step)
            with torch.no_grad():
                next(trainer.model.generator.parameters()).fill_(float("nan"))


def test_nan_triggers_rollback_and_training_continues(tmp_path, fashion_dir):
    run = tmp_path / "run"
    result = train_small("dcgan", run, steps=8, checkpoint_every=2, callbacks=[Poison({3})], **TINY)
    assert result.step == 8 and result.rollbacks == 1
    events = [r for r in read_metrics(run) if r.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["to"] == "checkpoint step-0000002" and "non-finite" in events[0]["reason"]
    assert events[0]["step"] == 4  # detected at the next check after the blow-up at step 3
    weights = final_weights(run)
    assert all(torch.isfinite(v.float()).all() for v in weights.values())
    optim = json.loads((list_checkpoints(run)[-1] / "optim.json").read_text())
    assert "0.0001" in json.dumps(optim)  # lr 2e-4 halved after the rollback


def test_repeated_divergence_stops_with_a_clear_message(tmp_path, fashion_dir):
    with pytest.raises(TrainingDiverged) as err:
        train_small("dcgan", tmp_path / "run", steps=30, checkpoint_every=0, max_rollbacks=2,
                    callbacks=[Poison(range(1, 31), once=False)], **TINY)
    assert "after 2 rollback(s)" in str(err.value) and "lower the learning rates" in str(err.value)


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, fashion_dir):
    """A real write failure: the file-size limit (RLIMIT_FSIZE) is lowered after the
    first checkpoint, so every later write of the weights fails with EFBIG."""
    run = tmp_path / "run"
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import genlab
        from genlab.training import Callback
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        class Shrink(Callback):
            def on_checkpoint(self, trainer, step, path):
                resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))
        try:
            genlab.train("dcgan", data="fashion-mnist", out={str(run)!r}, steps=6, checkpoint_every=2, limit=256,
                         batch_size=16, g_width=8, d_width=8, tensorboard=False, progress=False,
                         sample_every=0, log_every=1, callbacks=[Shrink()])
        except genlab.GenlabError as exc:
            print("ERROR:", exc)
            sys.exit(2)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "could not write the checkpoint at step 6" in proc.stdout and "step-0000002 is intact" in proc.stdout
    assert "checkpoint_failed at step 4" in proc.stderr
    assert [p.name for p in list_checkpoints(run)] == ["step-0000002"]
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".tmp")]
    assert genlab.load(run).sample(2, seed=0)["images"].shape == (2, 1, 28, 28)


def test_crafted_pickle_is_never_unpickled(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("dcgan", run, steps=2, **TINY)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "pretrained"
    genlab.load(run).save_pretrained(folder)
    (folder / "model.safetensors").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="cannot be read"):
        genlab.load(folder)
    (folder / "optimizer.pt").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError, match="unexpected file 'optimizer.pt'"):
        genlab.load(folder)
    assert not marker.exists()
