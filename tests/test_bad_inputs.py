"""Bad input everywhere: one clear line, exit code 2, nothing damaged.

Each case runs the real CLI against a real trained run and real files. For
every case we assert the message, that no traceback was printed, that the
command's output path was not created, and that the existing run's
checkpoints are byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main

from .conftest import require_fashion

TINY = ["--limit", "64", "--batch-size", "16", "--no-progress", "--no-tensorboard", "--sample-every", "0"]


def digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A trained DCGAN run, a trained CGAN run and some bad files to feed the CLI."""
    require_fashion()
    root = tmp_path_factory.mktemp("bad")
    assert main(["train", "dcgan", "--steps", "2", "--g-width", "8", "--d-width", "8", "--out", str(root / "run"),
                 *TINY]) == 0
    assert main(["train", "cgan", "--steps", "2", "--out", str(root / "crun"), *TINY]) == 0
    (root / "empty").mkdir()
    (root / "junk").mkdir()
    (root / "junk" / "a.png").write_bytes(b"not a png at all")
    (root / "junk" / "b.txt").write_text("hello")
    (root / "mixed").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "mixed" / "ok.png")
    (root / "mixed" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "flat").mkdir()
    for i in range(4):
        Image.fromarray(np.full((16, 16), i * 40, np.uint8)).save(root / "flat" / f"{i}.png")
    (root / "bad.yaml").write_text("lr_g: [1, 2\n")
    (root / "unknown.yaml").write_text("learning_rate: 0.1\n")
    (root / "text.csv").write_text("date,price,name\n2020-01-01,1.0,abc\n2020-01-02,2.0,def\n")
    (root / "notacheckpoint").mkdir()
    (root / "notacheckpoint" / "readme.txt").write_text("hi")
    (root / "afile").write_text("a file, not a folder")
    pickled = root / "pickled"
    shutil.copytree(sorted((root / "run" / "checkpoints").iterdir())[-1], pickled)
    (pickled / "evil.pkl").write_bytes(b"\x80\x04K\x01.")
    badjson = root / "badjson"
    shutil.copytree(sorted((root / "run" / "checkpoints").iterdir())[-1], badjson)
    (badjson / "config.json").write_text("{not json")
    (badjson / "manifest.json").unlink()
    return root


# (argv, expected message part); {r} is the fixture's folder, {out} a path that must not be created
CASES = [
    (["train", "dcgn"], "unknown family 'dcgn'; valid families:"),
    (["train"], "no family given"),
    (["train", "dcgan", "--data", "imagenet"], "unknown dataset 'imagenet'; valid datasets:"),
    (["train", "dcgan", "--data", "mnist", "--data-root", "{r}/empty"], "mnist (train split) not found"),
    (["train", "dcgan", "--learning-rate", "1"], "unknown option 'learning_rate' for dcgan; valid dcgan keys:"),
    (["train", "dcgan", "--lr-g", "fast"], "bad value 'fast' for 'lr_g': expected float"),
    (["train", "dcgan", "--batch-size", "0"], "bad value 0 for 'batch_size': must be in [1, inf]"),
    (["train", "dcgan", "--beta1", "2"], "bad value 2.0 for 'beta1': must be in [0, 1]"),
    (["train", "dcgan", "--loss", "magic"], "valid objectives are hinge, lsgan, minimax, nonsaturating, wgan-gp"),
    (["train", "vae", "--likelihood", "poisson"], "expected one of bernoulli, gaussian"),
    (["train", "dcgan", "--steps", "5", "--epochs", "1"], "give either --steps or --epochs"),
    (["train", "dcgan", "--device", "tpu"], "valid values are auto, cpu, cuda"),
    (["train", "dcgan", "--config", "{r}/missing.yaml"], "config file"),
    (["train", "dcgan", "--config", "{r}/bad.yaml"], "is not valid yaml"),
    (["train", "dcgan", "--config", "{r}/unknown.yaml"], "unknown option 'learning_rate'"),
    (["train", "dcgan", "--data", "folder:{r}/nothere"], "does not exist; pass folder:PATH"),
    (["train", "dcgan", "--data", "folder:{r}/empty"], "holds no files"),
    (["train", "dcgan", "--data", "folder:{r}/junk"], "holds no readable images"),
    (["train", "dcgan", "--data", "folder:{r}/mixed", "--strict-data"], "not readable images (first: broken.png)"),
    (["train", "cgan", "--data", "folder:{r}/flat"], "is conditional and needs labelled data"),
    (["train", "dcgan", "--image-size", "30"], "image size 30 is not supported"),
    (["train", "dcgan", "--data", "digits:{r}"], "takes no path"),
    (["train", "dcgan", "--limit", "8", "--batch-size", "16"], "fewer than one batch of 16"),
    (["train", "rgan", "--data", "csv:{r}/text.csv"], "is not numeric"),
    (["train", "rgan", "--data", "csv:{r}/nothere.csv"], "nothere.csv"),
    (["train", "dcgan", "--steps", "2", "--out", "{r}/run", "--g-width", "8", "--d-width", "8", *TINY],
     "already holds a run; add --resume"),
    (["train", "dcgan", "--steps", "4", "--out", "{r}/run", "--resume", "--g-width", "16", "--d-width", "8", *TINY],
     "hyper-parameters changed (g_width: 8 -> 16)"),
    (["train", "dcgan", "--steps", "4", "--out", "{out}", "--resume", *TINY], "nothing to resume"),
    (["sample", "{r}/nothere"], "does not exist"),
    (["sample", "{r}/notacheckpoint"], "is neither a run folder nor a checkpoint"),
    (["sample", "{r}/pickled"], "unexpected file 'evil.pkl'"),
    (["sample", "{r}/badjson"], "is not valid JSON"),
    (["sample", "{r}/run", "--class", "3", "--out", "{out}.png"], "is not conditional; drop --class"),
    (["sample", "{r}/crun", "--class", "12", "--out", "{out}.png"], "class 12 is out of range; this model's classes are 0=T-shirt/top"),
    (["sample", "{r}/run", "--n", "0", "--out", "{out}.png"], "--n must be at least 1"),
    (["sample", "{r}/run", "--out", "{out}.gif"], "unknown output type '.gif'"),
    (["sample", "{r}/run", "--out", "{r}/afile/x.png"], "is not a writable folder"),
    (["info", "{r}/empty"], "is neither a run folder nor a checkpoint"),
    (["explore"], "no exploration given; valid kinds:"),
    (["eval", "{r}/flat"], "holds samples but no dataset; pass --ref"),
]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(c[0][:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_input(world, tmp_path, capsys, argv, needle):
    before = digest(world / "run" / "checkpoints"), digest(world / "crun" / "checkpoints")
    out = tmp_path / "out"
    argv = [a.replace("{r}", str(world)).replace("{out}", str(out)) for a in argv]
    if argv[0] == "train" and "--out" not in argv:
        argv += ["--out", str(out)]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("genlab: error:") and needle in last, last
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert (digest(world / "run" / "checkpoints"), digest(world / "crun" / "checkpoints")) == before


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25
