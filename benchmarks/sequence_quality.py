"""rgan and seqvae at their defaults on sines and stocks for a fixed wall budget, scored as TimeGAN does.

For each (family, data, seed): ``genlab.train(FAMILY, data=DATA, minutes=MINUTES, seed=SEED)`` with
nothing else set (``--set key=value`` changes an option for screening rows, under ``--label``), in
``--threads`` threads; then ``--n`` generated windows (default: as many as the training windows,
as in the paper) are scored against the training windows with genlab's TimeGAN scores
(`genlab.seqmetrics.sequence_scores`: discriminative |accuracy - 0.5| of a 2-layer GRU classifier,
predictive MAE on real windows of a GRU trained on generated ones) and the predictive score of the
same GRU trained on the real windows (the floor a perfect generator reaches).

Data: ``sines`` (built in) and the TimeGAN stock prices read through ``csv:PATH`` from
``../shared/data/stocks/stock_data.csv`` (``--stocks``); the product never needs that file.

Protocol (``--protocol timegan``, the default): the data preparation of Yoon et al.'s code, so that
the published figures compare. The stock rows are flipped (their loader reverses the file, which
lists the oldest day first) into a copy under ``--runs``, each feature is min-max scaled over the
whole series, and the model trains on every 24-step window (``--split all``) and is scored against
those same windows; sines are all 10,000 sequences. With this preparation genlab's real-data
predictive floor on stocks is 0.035, the paper's 0.036 ("original data" row). ``--protocol heldout``
trains on the train split in file order and scores against it (floor 0.040 on stocks: the last 10%
of days are left out, and predicting forward in time is harder than backward).

Results merge into benchmarks/results/sequence_quality.json, one entry per (family, data, label,
seed); the markdown table (mean ± sd over seeds, TimeGAN's published row beside) goes to
benchmarks/results/sequence_quality.md. With ``--plots`` the first seed's run writes
docs/seq/{family}-{data}-series.png (real windows beside samples) and -pca-tsne.png.

    python benchmarks/sequence_quality.py --seeds 0,1,2                       # everything, 10 min each
    python benchmarks/sequence_quality.py --only rgan/stocks --seeds 0 --plots
    python benchmarks/sequence_quality.py --only seqvae/sines --minutes 2 --set structure=vrnn --label vrnn
    python benchmarks/sequence_quality.py --table --readme                    # only rewrite the tables
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # set_options.py beside this script (also when loaded by path)
from set_options import set_options  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "sequence_quality.json"
#: ../shared/data next to the repository (for a git worktree, next to one of its parent folders)
STOCKS = next((p / "shared" / "data" / "stocks" / "stock_data.csv" for p in REPO.parents
               if (p / "shared" / "data" / "stocks" / "stock_data.csv").is_file()),
              REPO.parent / "shared" / "data" / "stocks" / "stock_data.csv")
FAMILIES = ("rgan", "seqvae")
DATA = ("sines", "stocks")
#: Yoon et al. 2019, Table 2 (discriminative, predictive), as reprinted by later papers
TIMEGAN = {"sines": (0.011, 0.093), "stocks": (0.102, 0.038)}
#: the same paper's predictive score of the original data (Table 2, "Original")
REAL_FLOOR = {"sines": 0.094, "stocks": 0.036}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated FAMILY/DATA pairs, e.g. rgan/sines (default: all four)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one run each")
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget of each run")
    p.add_argument("--steps", type=int, default=None, help="a step budget instead of --minutes (screens, smoke tests)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an option changed from its default (screening rows); repeatable")
    p.add_argument("--label", default="defaults", help="name of this configuration in the results")
    p.add_argument("--threads", type=int, default=1, help="torch threads for training and scoring")
    p.add_argument("--n", type=int, default=0, help="windows scored (0 = all training windows)")
    p.add_argument("--disc-steps", type=int, default=2000, help="steps of the discriminative classifier")
    p.add_argument("--pred-steps", type=int, default=5000, help="steps of the predictive GRU (the paper's 5,000)")
    p.add_argument("--stocks", default=str(STOCKS), help="the TimeGAN stock prices CSV")
    p.add_argument("--protocol", choices=("timegan", "heldout"), default="timegan",
                   help="data preparation: TimeGAN's (flipped rows, every window) or genlab's train split")
    p.add_argument("--runs", default="runs/sequence-quality", help="folder for the run folders")
    p.add_argument("--plots", action="store_true", help="write docs plots from the first seed's run")
    p.add_argument("--docs", default=str(REPO / "docs" / "seq"))
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--table", action="store_true", help="only rewrite the markdown table from --results")
    p.add_argument("--rescore", action="store_true",
                   help="score the existing runs of these rows again (no training) with today's sampling defaults, "
                        "e.g. a latent sampler added after they trained")
    p.add_argument("--readme", action="store_true",
                   help="also write the README's sequence table (TimeGAN protocol, label 'defaults') from --results")
    return p.parse_args(argv)


def data_spec(name: str, args) -> str:
    """The dataset spec of `name` under ``args.protocol`` (TimeGAN's: a copy of the stock file, rows flipped)."""
    if name == "sines":
        return "sines"
    if args.protocol == "heldout":
        return f"csv:{args.stocks}"
    lines = Path(args.stocks).read_text().splitlines()
    flipped = Path(args.runs) / "stock_data_flipped.csv"
    flipped.parent.mkdir(parents=True, exist_ok=True)
    flipped.write_text("\n".join([lines[0], *reversed([x for x in lines[1:] if x.strip()])]) + "\n")
    return f"csv:{flipped}"


def run_one(family: str, data: str, seed: int, args, options: dict, old: dict | None = None) -> dict:
    """Train (or, with `old` and ``--rescore``, reload that row's run) and score; returns the result row."""
    import genlab  # noqa: PLC0415
    from genlab.capabilities import LatentSamplers  # noqa: PLC0415
    from genlab.data import load_dataset  # noqa: PLC0415
    from genlab.seqmetrics import plot_pca_tsne, sequence_scores  # noqa: PLC0415
    from genlab.viz import plot_real_vs_generated  # noqa: PLC0415

    spec = data_spec(data, args)
    split = "all" if args.protocol == "timegan" else "train"
    train = load_dataset(spec, split=split)  # outside the clock; the Trainer loads it again (cached files, fast)
    run = Path(args.runs) / f"{family}-{data}-{args.label.replace(' ', '_')}-{args.protocol}-seed{seed}"
    if old is None:
        budget = {"steps": args.steps} if args.steps else {"minutes": args.minutes}
        shutil.rmtree(run, ignore_errors=True)  # a fresh run each time
        t0, c0 = time.time(), time.process_time()
        result = genlab.train(family, data=spec, split=split, out=run, seed=seed, log_every=200, sample_every=0,
                              checkpoint_every=0, tensorboard=False, progress=False,
                              **budget, **options)
        trained = {"budget": budget, "steps": result.step, "train_wall_s": round(time.time() - t0, 1),
                   "train_cpu_s": round(time.process_time() - c0, 1)}
        model = genlab.load(run)
    else:  # the same weights, scored with today's sampling defaults (a sampler is fitted after training)
        trained = {k: old[k] for k in ("budget", "steps", "train_wall_s", "train_cpu_s")}
        trained["rescored"] = time.strftime("%Y-%m-%d %H:%M:%S")
        model = genlab.load(run)
        if isinstance(model, LatentSamplers) and "sampler" not in options:
            model.config.sampler = type(model.config)().sampler
            model.finish_training(train)  # what the end of training does today: fit the mixture if configured
    real = train.tensors["x"]
    n = min(args.n or len(real), len(real))
    gen = torch.Generator().manual_seed(seed)
    real = real[torch.randperm(len(real), generator=gen)[:n]]
    fake = model.sample(n, seed=seed, scaled=True)["sequences"]
    t1 = time.time()
    scores = sequence_scores(real, fake, seed=seed, disc_steps=args.disc_steps, pred_steps=args.pred_steps,
                             baseline=True)
    if isinstance(model, LatentSamplers):
        scores["sampler"] = model.sampler_in_use()
        if scores["sampler"] != "prior":  # the same weights sampled from the prior, for the sampler table
            prior = model.sample(n, seed=seed, scaled=True, sampler="prior")["sequences"]
            scores.update({f"prior_{k}": v for k, v in sequence_scores(
                real, prior, seed=seed, disc_steps=args.disc_steps, pred_steps=args.pred_steps).items()})
    row = {"family": family, "data": data, "label": args.label, "protocol": args.protocol, "seed": seed,
           "options": options, **trained,
           "score_s": round(time.time() - t1, 1), "n": n, "threads": args.threads,
           "disc_steps": args.disc_steps, "pred_steps": args.pred_steps, **scores,
           "load_avg_1min_after": os.getloadavg()[0], "machine": f"{platform.machine()} {os.cpu_count()} cores",
           "torch": torch.__version__, "when": (old or {}).get("when", time.strftime("%Y-%m-%d %H:%M:%S"))}
    if args.plots and seed == int(args.seeds.split(",")[0]):
        docs = Path(args.docs)
        tag = f"{family}-{data}"
        plot_real_vs_generated(train.inverse_transform(real[:4]), model.sample(4, seed=seed)["sequences"],
                               docs / f"{tag}-series.png", train.columns, n=4, title=f"{tag}: real (top) vs {family}")
        plot_pca_tsne(real, fake, docs / f"{tag}-pca-tsne.png", n=min(n, 1000), seed=seed, title=tag)
    return row


def key(row: dict) -> str:
    return f"{row['family']}/{row['data']}/{row['label']}/{row.get('protocol', 'heldout')}/seed{row['seed']}"


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table(rows: dict) -> str:
    """Markdown: one line per (data, family, label), mean ± sd over seeds, TimeGAN's row per data set."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows.values():
        groups.setdefault((row["data"], row.get("protocol", "heldout"), row["family"], row["label"]), []).append(row)
    lines = ["| data | protocol | model | configuration | budget | seeds | steps | discriminative | predictive "
             "| predictive, real data (floor) |", "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for data in DATA:
        for (d, protocol, family, label), group in sorted(groups.items(), key=lambda kv: (kv[0][1] != "timegan", kv[0])):
            if d != data:
                continue
            b = group[0]["budget"]
            budget = f"{b['minutes']:g} min" if "minutes" in b else f"{b['steps']} steps"
            steps = round(statistics.mean(r["steps"] for r in group))
            sampler = group[0].get("sampler")
            config = f"{label}, {sampler} sampler" if sampler else label
            lines.append(f"| {data} | {protocol} | {family} | {config} | {budget} | {len(group)} | {steps:,} "
                         f"| {mean_sd([r['discriminative'] for r in group])} "
                         f"| {mean_sd([r['predictive'] for r in group])} "
                         f"| {mean_sd([r['predictive_real'] for r in group])} |")
            if all("prior_discriminative" in r for r in group):  # the same weights, sampled from the prior
                lines.append(f"| {data} | {protocol} | {family} | {label}, prior sampler | {budget} | {len(group)} "
                             f"| {steps:,} | {mean_sd([r['prior_discriminative'] for r in group])} "
                             f"| {mean_sd([r['prior_predictive'] for r in group])} | - |")
        disc, pred = TIMEGAN[data]
        floor = REAL_FLOOR[data]
        lines.append(f"| {data} | timegan | TimeGAN (Yoon et al. 2019, Table 2) | - | - | - | - | {disc:.3f} "
                     f"| {pred:.3f} | {floor:.3f} |")
    return "\n".join(lines) + "\n"


def readme_table(rows: dict) -> str:
    """The README's block: each family at its defaults under TimeGAN's protocol, beside the paper's rows."""
    picked = {k: r for k, r in rows.items() if r.get("protocol") == "timegan" and r["label"] == "defaults"
              and r["budget"].get("minutes")}
    lines = ["| data | model | seeds | steps | discriminative | predictive |", "|---|---|---:|---:|---:|---:|"]
    for data in DATA:
        floors = [r["predictive_real"] for r in picked.values() if r["data"] == data]
        for family in FAMILIES:
            group = [r for r in picked.values() if r["data"] == data and r["family"] == family]
            if group:
                steps = round(statistics.mean(r["steps"] for r in group))
                sampler = f", {group[0]['sampler']} sampler" if group[0].get("sampler") else ""
                lines.append(f"| {data} | {family}{sampler}, {group[0]['budget']['minutes']:g} min | {len(group)} "
                             f"| {steps:,} "
                             f"| {mean_sd([r['discriminative'] for r in group])} "
                             f"| {mean_sd([r['predictive'] for r in group])} |")
        if floors:
            lines.append(f"| {data} | real windows (predictive floor) | {len(floors)} | - | - | {mean_sd(floors)} |")
        disc, pred = TIMEGAN[data]
        lines.append(f"| {data} | TimeGAN (paper, Table 2; floor {REAL_FLOOR[data]:.3f}) | - | - | {disc:.3f} | {pred:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    results_path = Path(args.results)
    rows = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if not args.table:
        torch.set_num_threads(args.threads)
        options = set_options(args.set)
        pairs = [p.split("/") for p in args.only.split(",") if p] or [[f, d] for d in DATA for f in FAMILIES]
        for family, data in pairs:
            if family not in FAMILIES or data not in DATA:
                raise SystemExit(f"unknown pair {family}/{data}; families {FAMILIES}, data {DATA}")
            for seed in (int(s) for s in args.seeds.split(",")):
                old = None
                if args.rescore:
                    old = rows.get(f"{family}/{data}/{args.label}/{args.protocol}/seed{seed}")
                    if old is None:
                        raise SystemExit(f"no result row {family}/{data}/{args.label}/{args.protocol}/seed{seed} "
                                         f"to rescore; run it without --rescore")
                row = run_one(family, data, seed, args, options, old)
                rows[key(row)] = row
                results_path.parent.mkdir(parents=True, exist_ok=True)
                results_path.write_text(json.dumps(rows, indent=1) + "\n")
                print(json.dumps({k: row[k] for k in ("family", "data", "label", "seed", "steps", "discriminative",
                                                      "predictive", "predictive_real")}), flush=True)
    md = table(rows)
    results_path.with_suffix(".md").write_text(md)
    print(md)
    if args.readme:
        from readme_block import replace_block  # noqa: PLC0415

        replace_block(REPO / "README.md", "<!-- sequence-table: written by benchmarks/sequence_quality.py --readme -->",
                      "<!-- /sequence-table -->", readme_table(rows))


if __name__ == "__main__":
    main()
