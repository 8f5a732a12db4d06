"""`genlab sweep`: a real 2-worker sweep on digits that is killed and resumed, pruning,
search spaces, results, the sweep report and bad input (one line, exit 2, nothing created)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from genlab.cli import main
from genlab.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
# 20 steps of a small DCGAN on scikit-learn's digits; FID with the shipped MNIST classifier's features
SWEEP = ["sweep", "dcgan", "--data", "digits", "--trials", "4", "--budget", "--steps 20", "--workers", "2",
         "--eval-n", "200", "--extractor", "mnist-classifier", "--g-width", "8", "--d-width", "8",
         "--batch-size", "32"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "GENLAB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def genlab(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genlab", *args], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=timeout)


def load_trials(db: Path, name: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}", engine_kwargs={"connect_args": {"timeout": 60}})
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Start the sweep, SIGKILL its whole process group once a trial has finished and both
    workers hold trials, then run the same command again."""
    root = tmp_path_factory.mktemp("sweep")
    sweep_dir = root / "sw"
    args = SWEEP + ["--out", str(sweep_dir)]
    proc = subprocess.Popen([sys.executable, "-m", "genlab", *args], cwd=root, env=env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    db = sweep_dir / "study.db"
    deadline = time.monotonic() + 480
    at_kill = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not db.is_file():
                continue
            try:
                trials = load_trials(db, "sw")
            except Exception:  # noqa: BLE001  (the study may not be written yet)
                continue
            done = [t for t in trials if t.state.name == "COMPLETE"]
            owners = {t.user_attrs.get("worker") for t in trials if t.user_attrs.get("worker")}
            if done and len(owners) >= 2:
                at_kill = trials
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        first_output = proc.communicate()[0]
    assert at_kill is not None, f"no trial finished with two workers running:\n{first_output}"
    at_kill = load_trials(db, "sw")  # the study as the kill left it (a trial may have moved since the look above)
    finished = {t.number: (t.value, t.datetime_complete, (sweep_dir / "trials" / f"{t.number:04d}" /
                                                          "metrics.jsonl").read_bytes())
                for t in at_kill if t.state.name == "COMPLETE"}
    running = [t.number for t in at_kill if t.state.name == "RUNNING"]
    checkpointed = [n for n in running
                    if list((sweep_dir / "trials" / f"{n:04d}" / "checkpoints").glob("step-*"))]
    second = genlab(*args, cwd=root)
    return {"root": root, "dir": sweep_dir, "at_kill": at_kill, "finished": finished, "running": running,
            "checkpointed": checkpointed, "first": first_output, "second": second}


def test_two_workers_killed_and_resumed_store_four_trials_once(killed_and_resumed):
    r = killed_and_resumed
    second = r["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    # two worker processes shared the study before the kill
    owners = {t.user_attrs["worker"] for t in r["at_kill"] if t.user_attrs.get("worker")}
    assert len({o.split(":")[1] for o in owners}) == 2
    trials = load_trials(r["dir"] / "study.db", "sw")
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" and t.value is not None for t in trials), (
        f"states {[(t.number, t.state.name, t.value) for t in trials]}; the rerun said:\n{second.stderr[-3000:]}")
    # finished trials were not run again: same value, same completion time, same log
    by_number = {t.number: t for t in trials}
    for number, (value, completed, log) in r["finished"].items():
        assert by_number[number].value == value
        assert by_number[number].datetime_complete == completed
        assert (r["dir"] / "trials" / f"{number:04d}" / "metrics.jsonl").read_bytes() == log
        assert f"trial {number}:" not in second.stderr
    # trials the kill interrupted went back to the queue; with a checkpoint they continued from it
    assert r["running"], "the kill should have interrupted at least one trial"
    assert f"{len(r['running'])} to continue" in second.stderr
    for number in r["checkpointed"]:
        assert f"trial {number}: continuing" in second.stderr
        steps = [json.loads(line)["step"] for line in
                 (r["dir"] / "trials" / f"{number:04d}" / "metrics.jsonl").read_text().splitlines()
                 if "eval" not in json.loads(line)]
        assert steps == sorted(set(steps)), "a resumed trial's log has no repeated steps"
    # every trial is an ordinary run folder at the budget's last step
    for number in range(4):
        run = r["dir"] / "trials" / f"{number:04d}"
        meta = json.loads((run / "config.json").read_text())
        assert meta["family"] == "dcgan" and meta["train"]["steps"] == 20
        assert (run / "checkpoints" / "step-0000020" / "model.safetensors").is_file()
        assert meta["config"]["g_width"] == 8
    # the table shows the four trials, best first
    assert "4 trials (4 complete)" in second.stdout
    values = sorted(t.value for t in trials)
    show = genlab("sweep", "--show", str(r["dir"]), cwd=r["root"])
    assert show.returncode == 0
    first_row = show.stdout.splitlines()[2].split()
    assert first_row[2] == "complete" and float(first_row[3]) == pytest.approx(values[0], rel=1e-3)


def test_best_config_trains_unchanged(killed_and_resumed):
    r = killed_and_resumed
    best_file = r["dir"] / "best.yaml"
    best = yaml.safe_load(best_file.read_text())
    trials = load_trials(r["dir"] / "study.db", "sw")
    winner = min(trials, key=lambda t: t.value)
    assert best == {"data": "digits", "steps": 20, "g_width": 8, "d_width": 8, "batch_size": 32, **winner.params}
    done = genlab("train", "dcgan", "--config", str(best_file), "--out", str(r["root"] / "best-run"),
                  "--no-progress", cwd=r["root"])
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((r["root"] / "best-run" / "config.json").read_text())
    for key, value in winner.params.items():
        assert meta["config"][key] == value
    assert (r["root"] / "best-run" / "checkpoints" / "step-0000020").is_dir()


def test_sweep_report_and_plots(killed_and_resumed, tmp_path):
    import base64
    import io
    import re

    from PIL import Image

    r = killed_and_resumed
    for name in ("history", "importances", "slices"):
        assert Image.open(r["dir"] / "plots" / f"{name}.png").width > 300
    importances = json.loads((r["dir"] / "importances.json").read_text())
    assert set(importances) <= {"beta1", "beta2", "d_steps", "ema", "loss", "lr_d", "lr_g", "r1_gamma",
                                "spectral_norm"}
    assert importances and sum(importances.values()) == pytest.approx(1.0, abs=1e-6)
    out = tmp_path / "sweep.html"
    done = genlab("report", str(r["dir"]), "--out", str(out), cwd=r["root"])
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    for title in ("Sweep", "Best configuration", "Top trials", "Which options matter", "Optimisation history",
                  "Slice plots"):
        assert f">{title}</h2>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', page)
    assert [alt for _, alt in images] == ["parameter importances", "optimisation history", "slice plots"]
    for data, _ in images:
        assert Image.open(io.BytesIO(base64.b64decode(data))).height > 200
    assert "lr_g" in page and "genlab train dcgan --config best.yaml" in page


def test_pruner_stops_a_weak_trial_from_the_periodic_evaluation(tmp_path):
    """Five finished trials with a low FID at step 5 make the median pruner stop a real
    new trial at its first evaluation."""
    import optuna

    from genlab.sweep.runner import storage_url
    from genlab.sweep.spec import build_spec, check_run
    from genlab.sweep.study import SweepStudy, open_storage
    from genlab.sweep.trial import run_trial

    spec = build_spec("dcgan", "digits", budget="--steps 20", eval_n=100, extractor="mnist-classifier",
                      fixed={"g_width": 8, "d_width": 8, "batch_size": 32})
    check_run(spec)
    study = SweepStudy(open_storage(storage_url(tmp_path, None)), "p", spec)
    dist = optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)
    for i in range(5):
        study.study.add_trial(optuna.trial.create_trial(
            params={"lr_g": 1e-4}, distributions={"lr_g": dist}, value=1.0 + i,
            intermediate_values={5: 1.0 + i, 10: 1.0 + i, 15: 1.0 + i, 20: 1.0 + i}))
    study.top_up(6)
    trial = study.claim()
    assert trial.number == 5
    assert run_trial(study, trial, tmp_path) == "pruned"
    frozen = study.study.get_trials()[5]
    assert frozen.state.name == "PRUNED" and list(frozen.intermediate_values) == [5]
    assert frozen.intermediate_values[5] > 5.0  # an untrained DCGAN is far from the FIDs above
    assert (tmp_path / "trials" / "0005" / "checkpoints" / "step-0000005").is_dir()  # stopped early
    assert study.claim() is None


def test_default_space_of_every_family_is_valid():
    from genlab.api import families
    from genlab.sweep import build_spec

    for family in families():
        spec = build_spec(family, "digits", budget="--steps 40",
                          metric="discriminative" if family in ("rgan", "seqvae") else "fid")
        assert len(spec.space) >= 6, family
        assert spec.eval_every == 10 and spec.settings["log_every"] == 10


def test_space_file_overrides_fixes_and_drops(tmp_path):
    from genlab.search_space import Choice, Float, Int
    from genlab.sweep import build_spec

    space = tmp_path / "space.yaml"
    space.write_text("lr-g: {low: 1e-4, high: 2e-3, log: true}\nloss: [hinge, lsgan]\ng_width: {choices: [8, 16]}\n"
                     "d_steps: {low: 1, high: 3}\nema: 0.999\nr1_gamma: null\nbatch_size: [16, 32]\n")
    spec = build_spec("dcgan", "digits", budget="--steps 20", space=space, fixed={"beta1": "0.0"})
    assert spec.space["lr_g"] == Float(1e-4, 2e-3, True)
    assert spec.space["loss"] == Choice("hinge", "lsgan") and spec.space["g_width"] == Choice(8, 16)
    assert spec.space["d_steps"] == Int(1, 3) and spec.space["batch_size"] == Choice(16, 32)
    assert "r1_gamma" not in spec.space and "ema" not in spec.space and "beta1" not in spec.space
    assert spec.fixed == {"ema": 0.999, "beta1": 0.0}
    only = build_spec("gan", "digits", budget="--steps 20", space={"g_hidden": [[64], [128, 256]]},
                      default=False)
    assert only.space == {"g_hidden": Choice("64", "128,256")}


@pytest.mark.parametrize("content, message", [
    ("lr: {low: 1e-4, high: 1e-3}\n", "unknown option 'lr' in"),
    ("lr_g: {low: 1e-3, high: 1e-4}\n", "empty range"),
    ("lr_g: {low: 0, high: 1e-3, log: true}\n", "log range needs low > 0"),
    ("g_width: {low: 8.5, high: 32}\n", "bad value 8.5 for 'g_width'"),
    ("loss: {low: 1, high: 2}\n", "a range needs a numeric option"),
    ("loss: [hinge, squared]\n", "valid objectives are"),
    ("beta1: {low: 0.5, high: 1.5}\n", "must be in [0, 1]"),
    ("steps: [10, 20]\n", "cannot be searched"),
    ("spectral_norm: []\n", "empty list of choices"),
    ("lr_g: {low: 1e-4}\n", "needs both low and high"),
    ("- lr_g\n", "must hold a mapping"),
])
def test_bad_space_files(tmp_path, content, message):
    from genlab.sweep import build_spec

    space = tmp_path / "space.yaml"
    space.write_text(content)
    with pytest.raises(ConfigError, match=None) as info:
        build_spec("dcgan", "digits", budget="--steps 20", space=space)
    assert message in str(info.value) and "\n" not in str(info.value)


BAD = [
    (["sweep", "dcgun", "--data", "digits", "--trials", "2", "--budget", "--steps 5"], "unknown family 'dcgun'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--stepz 5"], "bad --budget '--stepz 5': unknown option"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "400"], "bad --budget '400'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 0"], "bad --budget '--steps 0'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--lr-g 1e-3"], "is a dcgan hyper-parameter"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--batch-size 8"], "must set --steps, --epochs or --minutes"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--lr-gg", "1e-3"], "unknown option 'lr_gg'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--space", "{space}"], "unknown option 'width'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--extractor", "mnist-classifier",
      "--storage", "postgresql://nobody@127.0.0.1:9/none"], "cannot reach storage postgresql://nobody@127.0.0.1:9/none"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--extractor", "mnist-classifier",
      "--storage", "sqlite:////nonexistent-dir/x/study.db"], "cannot reach storage sqlite:////nonexistent-dir"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--extractor", "mnist-classifier", "--storage",
      "nosuchdb://x"],
     "cannot reach storage nosuchdb://x"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5"], "no feature extractor for 'digits'"),
    (["sweep", "dcgan", "--data", "nowhere", "--budget", "--steps 5"], "unknown dataset 'nowhere'"),
    (["sweep", "dcgan", "--data", "digits", "--budget", "--steps 5", "--metric", "sharpness"],
     "does not know whether 'sharpness'"),
    (["sweep", "vae", "--data", "digits", "--budget", "--steps 5", "--metric", "sharpness",
      "--direction", "minimize"], "unknown metric 'sharpness' for vae"),
    (["sweep", "dcgan", "--data", "digits", "--trials", "0", "--budget", "--steps 5"], "--trials must be at least 1"),
    (["sweep", "dcgan", "--data", "digits"], "no --budget given"),
    (["sweep", "--show", "{tmp}/missing"], "is not a sweep folder"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, monkeypatch, capsys, argv, message):
    space = tmp_path / "space.yaml"
    space.write_text("width: [8, 16]\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sw"
    argv = [a.replace("{space}", str(space)).replace("{tmp}", str(tmp_path)) for a in argv]
    if "--show" not in argv:
        argv += ["--out", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("genlab: error: ") and "\n" not in err, err
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no sweep folder, no sweeps/


def test_rerun_with_other_settings_is_refused(killed_and_resumed, capsys):
    r = killed_and_resumed
    argv = [a if a != "--steps 20" else "--steps 30" for a in SWEEP] + ["--out", str(r["dir"])]
    before = (r["dir"] / "sweep.json").read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds a sweep with other settings (budget: {'steps': 20} -> {'steps': 30}" in err
    assert (r["dir"] / "sweep.json").read_bytes() == before


@pytest.mark.slow
def test_postgresql_study_shared_by_two_machines(tmp_path):
    """A throwaway PostgreSQL server from Debian's package; two sweep commands with their own
    folders (two "machines") share one study through it."""
    pytest.importorskip("psycopg")
    from .pg_server import postgres_server

    with postgres_server() as url:
        common = ["sweep", "vae", "--data", "digits", "--trials", "6", "--budget", "--steps 10", "--eval-n", "100",
                  "--extractor", "mnist-classifier", "--width", "8", "--batch-size", "32", "--storage", url,
                  "--study", "shared", "--pruner", "none"]
        procs = [subprocess.Popen([sys.executable, "-m", "genlab", *common, "--out", str(tmp_path / name)],
                                  cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in ("machine-a", "machine-b")]
        outs = [p.communicate(timeout=600) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
        import optuna

        trials = optuna.load_study(study_name="shared", storage=url).get_trials()
        assert sorted(t.number for t in trials) == [0, 1, 2, 3, 4, 5]
        assert all(t.state.name == "COMPLETE" for t in trials)
        folders = {Path(t.user_attrs["run_dir"]).parent.parent.name for t in trials}
        assert folders == {"machine-a", "machine-b"}  # both took trials from the one study
        show = genlab("sweep", "--show", str(tmp_path / "machine-a"), "--storage", url, cwd=tmp_path)
        assert "6 trials (6 complete)" in show.stdout


def test_minutes_budget_with_hyperband_evaluates_the_final_model(tmp_path):
    """A wall-clock budget ends between evaluations: the trial's value is a fresh
    evaluation of its final model, written to its metrics.jsonl."""
    from genlab.sweep import sweep

    result = sweep("vae", "digits", trials=1, budget="--minutes 0.1", eval_every=7, eval_n=100,
                   extractor="mnist-classifier", pruner="hyperband", out=tmp_path / "sw", width=8, batch_size=32,
                   space={"lr": {"low": 1e-3, "high": 2e-3}}, default_space=False)
    assert result.counts == {"complete": 1} and not result.interrupted
    run = tmp_path / "sw" / "trials" / "0000"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    step = result.best["step"]
    assert (run / "checkpoints" / f"step-{step:07d}").is_dir()
    evals = [r for r in rows if "eval/fid" in r or "eval" in r]
    last = evals[-1]
    assert last["step"] == step and step > 0
    value = last["eval"]["fid"] if "eval" in last else last["eval/fid"]
    assert result.best["value"] == pytest.approx(value)
    assert yaml.safe_load((tmp_path / "sw" / "best.yaml").read_text())["minutes"] == 0.1
