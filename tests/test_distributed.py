"""Two processes on CPU (gloo) follow the same path as one process with the
same global batch, and a two-process run resumes from its checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from genlab.training.checkpoint import list_checkpoints

COMMON = ["--architecture", "mlp", "--hidden", "64", "--limit", "512", "--log-every", "2", "--no-progress",
          "--no-tensorboard", "--sample-every", "0", "--data", "fashion-mnist"]


def run(cmd, timeout=300):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def torchrun(nproc, *args):
    return run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                "-m", "genlab", "train", "vae", *args])


def single(*args):
    return run([sys.executable, "-m", "genlab", "train", "vae", *args])


def weights(path):
    return load_file(str(path / "model.safetensors"))


def assert_close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_two_processes_match_one_and_resume(tmp_path, fashion_dir):
    one = tmp_path / "one"
    single(*COMMON, "--batch-size", "32", "--steps", "6", "--out", str(one))
    two = tmp_path / "two"
    out = torchrun(2, *COMMON, "--batch-size", "16", "--steps", "4", "--checkpoint-every", "2", "--out", str(two))
    assert out.stdout.count("done:") == 1  # only rank 0 reports
    assert [p.name for p in list_checkpoints(two)] == ["step-0000002", "step-0000004"]
    # resume the 2-process run to step 6
    torchrun(2, *COMMON, "--batch-size", "16", "--steps", "6", "--checkpoint-every", "2", "--out", str(two),
             "--resume")
    w1, w2 = weights(list_checkpoints(one)[-1]), weights(list_checkpoints(two)[-1])
    assert list_checkpoints(two)[-1].name == "step-0000006"
    assert_close(w1, w2)
    # and the weights moved: the comparison is not between two untouched models
    first = weights(list_checkpoints(two)[0])
    assert any(not torch.equal(first[k], w2[k]) for k in w2)
