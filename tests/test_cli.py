"""The CLI end to end: train, sample (grid, folder, npz), info, list, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main


def test_train_sample_info_list(tmp_path, capsys, fashion_dir):
    run = tmp_path / "run"
    assert main(["train", "vae", "--data", "fashion-mnist", "--steps", "3", "--limit", "128", "--batch-size", "16",
                 "--width", "8", "--out", str(run), "--no-progress", "--no-tensorboard"]) == 0
    assert "done:" in capsys.readouterr().out
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npz")]) == 0
    data = np.load(tmp_path / "s.npz")
    assert data["images"].dtype == np.uint8 and data["images"].shape == (10, 28, 28)
    assert main(["sample", str(run), "--n", "9", "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 28 * 3
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "pngs")]) == 0
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 4
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "family:      vae" in out and "fashion-mnist" in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "dcgan" in out and "vae" in out and "folder:PATH" in out


@pytest.mark.parametrize("argv,needle", [
    (["train", "dcgan", "--data", "imagenet"], "unknown dataset 'imagenet'; valid datasets:"),
    (["train", "dcgn"], "unknown family 'dcgn'; valid families:"),
    (["train", "dcgan", "--lr-gg", "1"], "unknown option 'lr_gg' for dcgan; valid dcgan keys:"),
    (["train", "dcgan", "--batch-size", "0"], "bad value 0 for 'batch_size'"),
    (["sample", "/nonexistent/run"], "does not exist"),
    (["sample", "{tmp}", "--out", "x.gif"], "is neither a run folder"),
])
def test_cli_errors_are_one_line(argv, needle, capsys, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error:") and needle in err and "\n" not in err and "Traceback" not in err


def test_train_help_lists_options(capsys):
    assert main(["train", "dcgan", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--lr-g" in out and "--steps" in out


def test_sample_errors(tmp_path, capsys, fashion_dir):
    run = tmp_path / "run"
    main(["train", "dcgan", "--steps", "1", "--limit", "64", "--batch-size", "16", "--g-width", "8",
          "--d-width", "8", "--out", str(run), "--no-progress", "--no-tensorboard"])
    capsys.readouterr()
    assert main(["sample", str(run), "--class", "3"]) == 2
    assert "not conditional" in capsys.readouterr().err
    assert main(["sample", str(run), "--out", str(tmp_path / "x.gif")]) == 2
    assert "unknown output type" in capsys.readouterr().err
    assert main(["sample", str(run), "--n", "0"]) == 2
