"""CycleGAN with its default settings on the built-in tasks: both directions scored.

For each task and seed: ``genlab.train("cyclegan", data=TASK, steps=STEPS,
seed=SEED)`` with nothing else set (``--set key=value`` changes one option
for the diagnosis rows), in one thread; then the whole test split is scored
with `CycleGAN.evaluate` (genlab.models.cyclegan.paired: each direction
against the true targets, and the untranslated inputs scored alike), and
the collapse monitor (genlab.models.cyclegan.monitor) checks the final
generators on 512 test images of each domain. Timing is wall and CPU time
of the training alone (the data are built before the clock starts).

Results are merged into benchmarks/results/cyclegan_quality.json, one entry
per (task, label, seed); ``--doc`` regenerates docs/results/cyclegan.md and the
README's CycleGAN table from that file (and trains nothing).

    python benchmarks/cyclegan_quality.py --task edges2fashion --seeds 0,1,2
    python benchmarks/cyclegan_quality.py --task fashion2negative --seeds 0
    python benchmarks/cyclegan_quality.py --task edges2fashion --seeds 0 --set n_down=2 --label "n_down 2"
    python benchmarks/cyclegan_quality.py --doc
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import platform
import resource
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "cyclegan_quality.json"
DOC = REPO / "docs" / "results" / "cyclegan.md"
DEFAULT_STEPS = 3000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="edges2fashion", choices=("edges2fashion", "fashion2negative"))
    p.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="training steps of each run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a model option changed from its default (diagnosis rows); repeatable")
    p.add_argument("--label", default="defaults", help="name of this configuration in the results")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-test", type=int, default=10000, help="test pairs scored")
    p.add_argument("--runs", default="runs/cyclegan-quality", help="folder for the run folders")
    p.add_argument("--grid", action="store_true", help="write GRID_DIR/TASK.png from the first seed's run")
    p.add_argument("--grid-dir", default=str(REPO / "docs" / "cyclegan"))
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--doc", action="store_true", help="only regenerate docs/results/cyclegan.md from --results")
    return p.parse_args(argv)


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text())["runs"] if path.is_file() else []


def save_results(path: Path, runs: list[dict]) -> None:
    runs = sorted(runs, key=lambda r: (r["task"], r["label"] != "defaults", r["label"], r["seed"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": runs}, indent=1) + "\n")


def one_run(task: str, seed: int, args, options: dict) -> dict:
    import genlab
    from genlab.data import load_dataset
    from genlab.models.cyclegan.monitor import TranslationMonitor

    load_dataset(task)  # built (edge maps) and cached before the clock starts
    run = Path(args.runs) / f"{task}-{args.label.replace(' ', '_')}-seed{seed}"
    t0, c0 = time.time(), cpu_seconds()
    result = genlab.train("cyclegan", data=task, out=run, steps=args.steps, seed=seed, log_every=50,
                          sample_every=0, checkpoint_every=0, tensorboard=False, progress=False, **options)
    timing = {"wall_s": round(time.time() - t0, 1), "cpu_s": round(cpu_seconds() - c0, 1)}
    print(f"{task} seed {seed}: {result.step} steps, {timing}", flush=True)
    model = genlab.load(run)
    test = load_dataset(task, split="test").subset(args.n_test)
    scores = model.evaluate(test)
    reference = classifier_on_targets(test)
    monitor = TranslationMonitor(warmup_steps=0, stream=io.StringIO())
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(test), generator=g)[:512]
    monitor.set_data(test.a[idx].float() / 255, test.b[idx].float() / 255)
    checks = monitor.check(model, result.step)
    real = {"intensity_a": monitor.references["a"].mean, "intensity_b": monitor.references["b"].mean}
    if args.grid and seed == int(args.seeds.split(",")[0]):
        grid_png(model, test, Path(args.grid_dir) / f"{task}.png")
    return {"task": task, "label": args.label, "options": options, "seed": seed, "steps": result.step,
            "timing": timing, "threads": args.threads, "n_test": len(test), "scores": scores,
            "reference": reference, "batch_size": model_batch(run),
            "monitor": {**checks, **real, "warnings": monitor.warnings},
            "settings": dataclasses.asdict(model.settings), "config": dataclasses.asdict(model.config),
            "run": str(run), "date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine()}


def classifier_on_targets(test) -> dict:
    """The task classifier's accuracy on the true targets of each direction (the ceiling)."""
    from genlab.models.cyclegan.paired import domain_profiles, score_against

    a01, b01, labels = test.a.float() / 255, test.b.float() / 255, test.tensors.get("y")
    profiles = domain_profiles(test.info, a01, b01)
    out = {}
    for key, side, x in (("ab", "b", b01), ("ba", "a", a01)):
        if labels is not None and profiles[side].get("classifier"):
            out[f"accuracy_{key}"] = score_against(x, x, profiles[side], labels, fid=False)["accuracy"]
    return out


def model_batch(run: Path) -> int:
    return int(json.loads((run / "config.json").read_text())["train"]["batch_size"])


def grid_png(model, test, path: Path) -> None:
    """Rows: 12 test A images, their translations, the true B; then B, translations, true A."""
    from genlab.viz import save_grid

    a, b = test.a[:12].float() / 255, test.b[:12].float() / 255
    rows = [a, model.translate(a, "AtoB"), b, b, model.translate(b, "BtoA"), a]
    save_grid(torch.cat(rows), path, nrow=12)
    print(f"wrote {path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    path = Path(args.results)
    if not args.doc:
        torch.set_num_threads(args.threads)
        from set_options import set_options  # noqa: PLC0415 - beside this script

        options = set_options(args.set)
        runs = load_results(path)
        for seed in (int(s) for s in args.seeds.split(",")):
            entry = one_run(args.task, seed, args, options)
            runs = [r for r in runs if (r["task"], r["label"], r["seed"]) != (args.task, args.label, seed)] + [entry]
            save_results(path, runs)  # after every run: a later failure loses nothing
            print(json.dumps({k: round(v, 4) for k, v in entry["scores"].items()}), flush=True)
        return 0
    from cyclegan_doc import README_END, README_START, readme_table, write_doc  # noqa: PLC0415 - beside this script
    from readme_block import replace_block  # noqa: PLC0415

    runs = load_results(path)
    write_doc(runs, DOC)
    replace_block(REPO / "README.md", README_START, README_END, readme_table(runs))
    print(f"wrote {DOC} and the README's CycleGAN table")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
