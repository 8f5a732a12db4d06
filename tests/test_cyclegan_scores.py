"""CycleGAN's paired scores: edge precision/recall/F1 against a hand count, the scores
of a perfect and an untranslated translation on the built-in tasks, paired
unpaired:PATH test sets, and `genlab eval` printing them for real runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.models.cyclegan import edge_scores
from genlab.models.cyclegan.paired import detect_profile, paired_scores

from .family_checks import train_small


def hand_example() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 5 x 5 images (1 = edge). Image 0, true: a bar (1,1) (1,2) (1,3) and a dot (4,4);
    predicted: the bar one row lower (2,1) (2,2) (2,3), a pixel above it (0,2) and a stray (4,0).
    Image 1: one true pixel (2,2), nothing predicted."""
    true = torch.zeros(2, 1, 5, 5)
    pred = torch.zeros(2, 1, 5, 5)
    for y, x in ((1, 1), (1, 2), (1, 3), (4, 4)):
        true[0, 0, y, x] = 1
    for y, x in ((2, 1), (2, 2), (2, 3), (0, 2), (4, 0)):
        pred[0, 0, y, x] = 1
    true[1, 0, 2, 2] = 1
    return pred, true


def test_edge_f1_equals_a_hand_count():
    pred, true = hand_example()
    # By hand: the three bar pixels each have a predicted pixel within 1 px, and (0,2) competes
    # with (2,2) for them: one-to-one, 3 matches. (4,0) and (4,4) are 4 px apart: unmatched.
    # Predicted 5 + 0 = 5, true 4 + 1 = 5, matched 3: precision 3/5, recall 3/5, F1 3/5.
    scores = edge_scores(pred, true)
    assert scores["edge_precision"] == pytest.approx(3 / 5)
    assert scores["edge_recall"] == pytest.approx(3 / 5)
    assert scores["edge_f1"] == pytest.approx(3 / 5)
    # image 0 alone: precision 3/5, recall 3/4, F1 = 2 * 0.6 * 0.75 / 1.35 = 2/3
    assert edge_scores(pred[:1], true[:1])["edge_f1"] == pytest.approx(2 / 3)
    # dark lines on a light ground score the same with bright=False; zero tolerance leaves no match
    assert edge_scores(1 - pred, 1 - true, bright=False) == edge_scores(pred, true)
    assert edge_scores(pred, true, tolerance=0)["edge_f1"] == 0.0
    # nothing predicted: 0, not a division error; a perfect prediction: 1
    assert edge_scores(torch.zeros_like(true), true)["edge_f1"] == 0.0
    assert edge_scores(true, true)["edge_f1"] == 1.0


def test_profiles_detect_edge_maps(fashion_dir):
    test = load_dataset("edges2fashion", split="test").subset(64)
    assert detect_profile(test.a.float() / 255) == {"edges": True, "bright": True}
    assert detect_profile(1 - test.a.float() / 255) == {"edges": True, "bright": False}
    assert detect_profile(test.b.float() / 255) == {}  # grey items


@pytest.mark.parametrize("task", ["edges2fashion", "fashion2negative"])
def test_perfect_translation_beats_untranslated_inputs(task, fashion_dir):
    """A translator that looks the true counterpart up scores perfectly; the inputs left
    untranslated score worse on every measure (what a real translation must beat)."""
    test = load_dataset(task, split="test").subset(200)
    a01, b01, y = test.a.float() / 255, test.b.float() / 255, test.tensors["y"]

    def oracle(x, direction):
        source, target = (a01, b01) if direction == "AtoB" else (b01, a01)
        index = {x_.numpy().tobytes(): i for i, x_ in enumerate(source)}
        return target[[index[x_.numpy().tobytes()] for x_ in x]]

    s = paired_scores(oracle, a01, b01, test.info, y)
    assert s["mae_ab"] == s["mae_ba"] == 0 and s["ssim_ab"] == pytest.approx(1) == s["ssim_ba"]
    assert s["accuracy_ab"] > 0.85 and s["fid_ab"] < 1e-6
    if task == "edges2fashion":
        assert s["edge_f1_ba"] == 1.0 and "accuracy_ba" not in s
        assert s["edge_f1_ba_untranslated"] < 0.6 and s["accuracy_ab_untranslated"] < 0.4
    else:
        assert s["accuracy_ba"] > 0.85 and s["accuracy_ab_untranslated"] < 0.5 and s["fid_ba_untranslated"] > 10
    for key in [k for k in s if not k.endswith("_untranslated")]:
        worse = s[f"{key}_untranslated"]
        assert (worse > s[key]) if key.startswith(("mae", "fid")) else (worse < s[key]), key


def write_pairs(root, a, b, names):
    for side, images in (("A", a), ("B", b)):
        folder = root / f"test{side}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, x in zip(names, images):
            Image.fromarray(x[0].numpy()).save(folder / f"{name}.png")


def folder_task(root, test, shuffle_b=False):
    for i, split in enumerate(("trainA", "trainB")):
        (root / split).mkdir(parents=True)
        for j in range(12):
            x = (test.a if i == 0 else test.b)[100 + 12 * i + j]
            Image.fromarray(x[0].numpy()).save(root / split / f"{j}.png")
    names = [f"item_{i:02d}" for i in range(40)]
    write_pairs(root, test.a[:40], test.b[:40], names)
    if shuffle_b:  # B's names no longer match A's: not paired
        (root / "testB" / "item_00.png").rename(root / "testB" / "other.png")


def test_unpaired_folder_with_matching_names_is_paired(tmp_path, fashion_dir):
    test = load_dataset("edges2fashion", split="test")
    folder_task(tmp_path / "p", test)
    paired = load_dataset(f"unpaired:{tmp_path / 'p'}", split="test")
    assert paired.info["paired"] and torch.equal(paired.a, test.a[:40]) and torch.equal(paired.b, test.b[:40])
    assert not load_dataset(f"unpaired:{tmp_path / 'p'}").info["paired"]  # the train split never is
    folder_task(tmp_path / "q", test, shuffle_b=True)
    assert not load_dataset(f"unpaired:{tmp_path / 'q'}", split="test").info["paired"]


def run_eval(run, capsys, n):
    assert main(["eval", str(run), "--n", str(n)]) == 0
    return capsys.readouterr().out


def test_genlab_eval_prints_both_directions(tmp_path, fashion_dir, capsys, one_thread):
    """A real (short) cyclegan run on edges2fashion, then on a paired unpaired:PATH folder."""
    run = tmp_path / "e2f"
    train_small("cyclegan", run, data="edges2fashion", steps=2, batch_size=4, limit=64, g_width=4, d_width=4,
                n_blocks=1)
    out = run_eval(run, capsys, 300)
    for key in ("mae_ab", "ssim_ab", "accuracy_ab", "fid_ab", "mae_ba", "edge_precision_ba", "edge_recall_ba",
                "edge_f1_ba", "accuracy_ab_untranslated", "edge_f1_ba_untranslated"):
        assert f"\n{key} " in out, (key, out)
    folder_task(tmp_path / "data", load_dataset("edges2fashion", split="test"))
    run = tmp_path / "folder"
    train_small("cyclegan", run, data=f"unpaired:{tmp_path / 'data'}", steps=2, batch_size=4, limit=None,
                g_width=4, d_width=4, n_blocks=1)
    out = run_eval(run, capsys, 40)
    for key in ("mae_ab", "ssim_ab", "fid_ab", "edge_f1_ba", "mae_ab_untranslated"):
        assert f"\n{key} " in out, (key, out)
    assert "accuracy_ab" not in out  # no labels, no classifier for a folder
    row = genlab.load(run).evaluate(load_dataset(f"unpaired:{tmp_path / 'data'}", split="test"), fid=False)
    assert np.isfinite(row["edge_f1_ba"]) and "fid_ab" not in row
