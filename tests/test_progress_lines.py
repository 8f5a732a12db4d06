"""Loss lines when not on a terminal: `genlab train` run with its output piped
writes one line per --log-every steps on stderr (step, losses, images/s, ETA);
--quiet silences them; on a terminal the tqdm bar is kept."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

from genlab.training.progress import Progress, format_line, format_seconds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^step (\d+)/20 \| loss [-\d.e+]+ rec [-\d.e+]+ kl [-\d.e+]+ elbo [-\d.e+]+ "
                  r"\| \d+ img/s \| ETA \d+s$")


def train(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENLAB_OFFLINE": "1", "PYTHONPATH": os.path.join(REPO, "src")}
    cmd = [sys.executable, "-m", "genlab", "train", "vae", "--data", "digits", "--architecture", "mlp",
           "--hidden", "32", "--steps", "20", "--log-every", "5", "--batch-size", "16", "--no-tensorboard",
           "--sample-every", "0", "--out", str(tmp_path / "run"), *extra]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=300)


def test_piped_training_writes_one_loss_line_per_log_step(tmp_path):
    proc = train(tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("step ")]
    assert [int(LINE.match(line).group(1)) for line in lines] == [5, 10, 15, 20], proc.stderr
    assert "\r" not in proc.stderr  # no bar redrawn into the pipe
    assert "done:" in proc.stdout and not any(line.startswith("step ") for line in proc.stdout.splitlines())


def test_quiet_silences_the_loss_lines(tmp_path):
    proc = train(tmp_path, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("step ")]
    assert "done:" in proc.stdout


def test_line_format_and_eta():
    assert format_seconds(42) == "42s" and format_seconds(192) == "3m12s" and format_seconds(3900) == "1h05m"
    line = format_line(150, 2000, {"loss_d": 0.5123, "loss_g": 1.234, "images_per_s": 2480.4}, 192)
    assert line == "step 150/2000 | loss_d 0.5123 loss_g 1.234 | 2480 img/s | ETA 3m12s"
    out = io.StringIO()
    p = Progress(100, initial=0, lines=True, stream=out)
    p.start_time -= 10  # 10 s for the first 10 steps: 90 steps left take 90 s
    p.update(10, {"loss": 1.0})
    assert out.getvalue().strip().endswith("ETA 1m30s")
    # a wall-clock budget: the time left of it when no step total is known
    p = Progress(None, deadline=time.monotonic() + 60, lines=True, stream=out)
    assert 58 <= p.eta(5) <= 60
