"""Evaluation on data without a shipped classifier: scikit-learn's digits and a folder of colour photos.

`extractor="auto"` trains a small domain extractor on the reference on first
use (deterministic, cached by content), `--ref` takes any dataset spec,
statistics are keyed by content, family metrics survive failing feature
metrics, and `--eval-every` refuses what it cannot evaluate before training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.data import load_images, split_spec
from genlab.errors import GenlabError
from genlab.evaluation import evaluate_run
from genlab.metrics import evaluate
from genlab.metrics.domain import domain_extractor, extractor_cache_dir

from .datafiles import colour_folder
from .family_checks import read_metrics, train_small

TRAINED = "trained a"  # the one line printed when a domain extractor is trained


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.getbasetemp() / "genlab-cache"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """32x32 colour photo patches, classes china/ and flower/, in train/ (480) and test/ (240)."""
    return colour_folder(tmp_path_factory.mktemp("photos") / "photos")


def shuffled_pixels(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Each image's pixels in a random order (colours kept, every shape destroyed)."""
    g = torch.Generator().manual_seed(seed)
    flat = images.reshape(len(images), images.shape[1], -1)
    return torch.stack([x[:, torch.randperm(flat.shape[-1], generator=g)] for x in flat]).reshape(images.shape)


def test_split_spec_reads_any_dataset_with_a_split(tmp_path):
    assert split_spec("digits") == ("digits", None)
    assert split_spec("mnist:test") == ("mnist", "test")
    assert split_spec(f"folder:{tmp_path}") == (f"folder:{tmp_path}", None)
    assert split_spec(f"folder:{tmp_path}:test") == (f"folder:{tmp_path}", "test")
    (tmp_path / "a:b").mkdir()  # an existing path with a colon stays a path
    assert split_spec(f"folder:{tmp_path}/a:b") == (f"folder:{tmp_path}/a:b", None)


def test_domain_extractor_is_deterministic_and_cached(tmp_path, capsys):
    data = load_images("digits")
    images, labels = data.images[:400], data.labels[:400]
    first = domain_extractor(images, labels, directory=tmp_path / "a")
    assert capsys.readouterr().err.count(TRAINED) == 1
    again = domain_extractor(images, labels, directory=tmp_path / "a")  # from the cache: no training, same weights
    assert TRAINED not in capsys.readouterr().err and again.weights_hash == first.weights_hash
    twin = domain_extractor(images, labels, directory=tmp_path / "b")  # trained afresh with the same seed
    assert TRAINED in capsys.readouterr().err
    assert (twin.name, twin.weights_hash) == (first.name, first.weights_hash)
    out = first.extract(images[:50])
    assert out.features.shape == (50, 64) and out.logits.shape == (50, 10)
    assert float(first.meta["held_out_accuracy"]) > 0.6  # 360 training images, 40 held out
    unlabelled = domain_extractor(images, None, directory=tmp_path / "a")  # rotation only, no class logits
    assert unlabelled.name != first.name and unlabelled.extract(images[:5]).logits is None


def test_eval_of_a_digits_vae_prints_nll_and_fid(tmp_path, capsys):
    run = tmp_path / "run"
    train_small("vae", run, data="digits", steps=4, width=8)
    assert main(["eval", str(run), "--n", "300"]) == 0
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert "nll_iwae" in out and "elbo" in out and "active_units" in out
    assert "fid" in out and "precision" in out and "extractor=domain-" in out
    assert "no shipped feature extractor for digits" in err and err.count(TRAINED) <= 1
    row = [r for r in read_metrics(run) if "eval" in r][-1]["eval"]
    assert np.isfinite(row["nll_iwae"]) and row["fid"] > 0
    assert main(["eval", str(run), "--n", "300", "--json"]) == 0  # second time: cached extractor, same numbers
    captured = capsys.readouterr()
    assert TRAINED not in captured.err and json.loads(captured.out)["metrics"]["fid"] == pytest.approx(row["fid"])


def test_family_metrics_survive_failing_feature_metrics(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    train_small("vae", run, data="digits", steps=2, width=8)
    monkeypatch.setenv("GENLAB_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    assert main(["eval", str(run), "--n", "50", "--extractor", "inception"]) == 2
    captured = capsys.readouterr()
    assert "nll_iwae" in captured.out and "elbo" in captured.out
    (line,) = captured.err.strip().splitlines()
    assert "sample metrics skipped" in line and "InceptionV3 weights not found" in line


def test_colour_folder_floor_shuffled_pixels_and_a_model(tmp_path, photos, capsys):
    # real vs real: the test split scored against the train split, through --ref folder:PATH
    assert main(["eval", "--ref", f"folder:{photos}", "--metrics", "fid,pr", "--json"]) == 0
    floor = json.loads(capsys.readouterr().out)
    assert floor["n"] == 240 and floor["reference"] == f"folder:{photos}:train"
    assert floor["extractor"].startswith("domain-") and floor["metrics"]["fid"] < 1.0
    assert floor["metrics"]["precision"] > 0.8 and floor["metrics"]["recall"] > 0.8
    # the same images with their pixels shuffled: colours right, shapes gone
    test = load_images(f"folder:{photos}", split="test").images
    np.savez(tmp_path / "shuffled.npz", images=shuffled_pixels(test).numpy())
    assert main(["eval", str(tmp_path / "shuffled.npz"), "--ref", f"folder:{photos}", "--metrics", "fid,pr",
                 "--json"]) == 0
    shuffled = json.loads(capsys.readouterr().out)
    assert shuffled["extractor"] == floor["extractor"]  # the cached extractor, trained once
    assert shuffled["metrics"]["fid"] > 20 * floor["metrics"]["fid"] + 2
    # a model trained on the folder, scored against it by default (its training data)
    run = tmp_path / "run"
    train_small("dcgan", run, data=f"folder:{photos}", steps=2, g_width=8, d_width=8)
    row = evaluate_run(run, n=200)
    assert row["reference"] == f"folder:{photos}:train" and row["extractor"] == floor["extractor"]
    assert {"fid", "kid", "precision", "recall"} <= set(row["metrics"])
    assert row["metrics"]["fid"] > floor["metrics"]["fid"]


def test_a_renamed_copy_finds_the_cached_extractor_and_statistics(tmp_path, photos, capsys):
    import shutil

    images = load_images(f"folder:{photos}", split="test").images[:100]
    a = evaluate(images, reference=f"folder:{photos}", metrics="fid")
    caches = [extractor_cache_dir(), extractor_cache_dir().parent / "refstats"]
    before = [sorted(p.name for p in c.iterdir()) for c in caches]
    capsys.readouterr()
    copy = tmp_path / "renamed"
    shutil.copytree(photos / "train", copy)  # the train split's class folders, elsewhere under another name
    assert evaluate(images, reference=f"folder:{copy}", metrics="fid") == a
    assert [sorted(p.name for p in c.iterdir()) for c in caches] == before and TRAINED not in capsys.readouterr().err
    (copy / "china" / "0000.png").unlink()  # changed content: new statistics (and a new extractor)
    assert evaluate(images, reference=f"folder:{copy}", metrics="fid") != a
    assert [len(list(c.iterdir())) for c in caches] == [len(b) + 1 for b in before]


def test_eval_every_works_on_digits_and_refuses_what_it_cannot_do(tmp_path, capsys):
    run = tmp_path / "run"
    train_small("vae", run, data="digits", steps=4, width=8, log_every=2, eval_every=2, eval_n=100)
    rows = [r for r in read_metrics(run) if "eval/fid" in r]
    assert [r["step"] for r in rows] == [2, 4] and all(r["eval/fid"] > 0 for r in rows)
    assert (run / "best" / "config.json").is_file()
    plain = tmp_path / "plain"  # evaluating (and preparing to) does not change what is trained
    train_small("vae", plain, data="digits", steps=4, width=8, log_every=2)
    a, b = (genlab.load(r).state_dict() for r in (run, plain))
    assert all(torch.equal(a[k], b[k]) for k in a)
    refusals = [
        (dict(family="seqvae", data="sines", hidden=8, latent_dim=4), "trains on sequence data"),
        (dict(family="vae", data="digits", eval_metrics="pr"), "--best-metric 'fid' is not among"),
        (dict(family="vae", data="digits", eval_metrics="accuracy", best_metric="accuracy"), "conditional family"),
        (dict(family="vae", data="digits", eval_metrics="fid,nope"), "unknown metric 'nope'"),
    ]
    for i, (options, needle) in enumerate(refusals):
        out = tmp_path / f"refused{i}"
        family = options.pop("family")
        with pytest.raises(GenlabError, match=needle) as info:
            train_small(family, out, steps=2, eval_every=1, **options)
        assert "\n" not in str(info.value) and not out.exists()  # refused before the run folder exists
    assert main(["train", "rgan", "--data", "sines", "--steps", "1", "--eval-every", "1", "--out",
                 str(tmp_path / "cli")]) == 2
    assert "--eval-every scores image samples" in capsys.readouterr().err
    assert genlab.load(run).family == "vae"
