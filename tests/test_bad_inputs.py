"""Bad input everywhere: one clear line, exit code 2, nothing damaged.

Each case runs the real CLI against a real trained run and real files. For
every case we assert the message, that no traceback was printed, that the
command's output path was not created, and that every file of the fixture's
folder (the runs, their checkpoints, the bad files themselves) is
byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main
from genlab.serialization import sha256
from genlab.training.runlock import RunLock

from .conftest import require_fashion
from .hostile_files import YAML_BOMB, bomb_png, tiny_translator

TINY = ["--limit", "64", "--batch-size", "16", "--no-progress", "--no-tensorboard", "--sample-every", "0"]


def digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def altered_checkpoint(source, folder, change=None, weights=None, manifest=None):
    """A copy of checkpoint `source` with config.json changed by `change`, weights
    replaced, and a manifest recomputed to match (a careful tamperer) or given."""
    shutil.copytree(source, folder)
    if change is not None:
        meta = json.loads((folder / "config.json").read_text())
        change(meta)
        (folder / "config.json").write_text(json.dumps(meta))
    if weights is not None:
        from safetensors.torch import load_file, save_file

        save_file(weights(load_file(str(folder / "model.safetensors"))), str(folder / "model.safetensors"))
    listed = {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.name != "manifest.json"}
    (folder / "manifest.json").write_text(json.dumps(listed if manifest is None else manifest))
    return folder


def nan_first(state):
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].clone().fill_(float("nan"))
    return state


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # noqa: PLR0915 (one long list of bad files)
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
    # round two: hostile configs, checkpoints, sample files, images and hosts
    newest = sorted((root / "run" / "checkpoints").iterdir())[-1]
    (root / "latin1.yaml").write_bytes("lr_g: 0.0002  # d\xe9j\xe0 vu\n".encode("latin-1"))
    (root / "bomb.yaml").write_text(YAML_BOMB)
    (root / "huge.yaml").write_text("# padding\n" * 120_000)
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (root / "list.yaml").write_text("- lr_g\n- 0.1\n")
    (root / "longlist.yaml").write_text("lr_g: [" + ", ".join(map(str, range(100_000))) + "]\n")
    (root / "folder.yaml").mkdir()
    (root / "dir.png").mkdir()
    (root / "dir.html").mkdir()
    (root / "dir.npz").mkdir()
    (root / "bomb").mkdir()
    bomb_png(root / "bomb" / "bomb.png")
    (root / "huge").mkdir()
    for i in range(2):
        Image.fromarray(np.full((2000, 2000), 255 * i, np.uint8)).save(root / "huge" / f"{i}.png")
    (root / "wide.csv").write_text("date,x\n" + "".join(f"2020-01-{d:02d},{(-1) ** d * 1.7e308}\n"
                                                          for d in range(1, 29)))
    altered_checkpoint(newest, root / "manifestlist", manifest=[1, 2, 3])
    altered_checkpoint(newest, root / "nodata", change=lambda m: m.pop("data"))
    altered_checkpoint(newest, root / "configlist", change=lambda m: m.update(config=[1]))
    altered_checkpoint(newest, root / "familyint", change=lambda m: m.update(family=5))
    altered_checkpoint(newest, root / "outside", manifest={"model.safetensors": sha256(newest / "model.safetensors"),
                                                           "/etc/passwd": "0" * 64})
    altered_checkpoint(newest, root / "nanweights", weights=nan_first)
    (root / "copies").mkdir()
    shutil.copytree(newest, root / "copies" / "step-0000002")
    (root / "copies" / "step-0000002" / "manifest.json").unlink()
    tiny_translator(root / "cyc")
    rng = np.random.default_rng(0)
    good = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    np.savez(root / "objects.npz", images=np.array([good[0], "x"], dtype=object))
    (root / "garbage.npz").write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
    (root / "zero.npz").write_bytes(b"")
    np.savez(root / "strings.npz", images=np.array(["a", "b", "c"]))
    np.savez(root / "nan.npz", images=np.full((8, 28, 28), np.nan, np.float32))
    np.savez(root / "inf.npz", images=np.where(good > 128, np.inf, 0.5))
    np.savez(root / "twoch.npz", images=good.reshape(8, 28, 14, 2))
    np.savez(root / "fived.npz", images=good.reshape(2, 4, 1, 28, 28))
    np.savez(root / "intrange.npz", images=good.astype(np.int64) * 2 - 5)
    np.savez(root / "minus1.npz", images=good / 127.5 - 1)
    np.savez(root / "badlabels.npz", images=good, labels=np.arange(3))
    np.savez(root / "noimages.npz", x=good)
    lock = RunLock(root / "locked").acquire()  # another "training" holds this run folder
    yield root
    lock.release()


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
    # round two (issue 23): configs
    (["train", "dcgan", "--config", "{r}/latin1.yaml"], "is not UTF-8 text"),
    (["train", "dcgan", "--config", "{r}/bomb.yaml"], "aliases (*a) are not allowed"),
    (["train", "dcgan", "--config", "{r}/huge.yaml"], "a config is a few key: value lines (at most 1 MiB)"),
    (["train", "dcgan", "--config", "{r}/deep.json"], "is not valid json"),
    (["train", "dcgan", "--config", "{r}/list.yaml"], "must hold a mapping"),
    (["train", "dcgan", "--config", "{r}/longlist.yaml"], "bad value [0, 1, 2, 3, 4, 5, ...] for 'lr_g'"),
    (["train", "dcgan", "--config", "{r}/folder.yaml"], "not found"),
    # values and sizes
    (["train", "dcgan", "--seed", "99999999999999999999"], "bad value 99999999999999999999 for 'seed': must be in"),
    (["train", "dcgan", "--device", "mps", *TINY], "MPS (Apple GPUs) is not available"),
    (["train", "gan", "--g-hidden", "2000000000", *TINY], "parameters"),
    (["train", "dcgan", "--image-size", "2048"], "bad value 2048 for 'image_size': must be in [4, 1024]"),
    (["train", "dcgan", "--steps", "-1"], "bad value -1 for 'steps'"),
    (["train", "dcgan", "--keep-checkpoints", "0"], "bad value 0 for 'keep_checkpoints'"),
    (["train", "dcgan", "--amp", "fp32"], "bad value 'fp32' for 'amp'"),
    (["train", "vae", "--beta", "-1"], "bad value -1.0 for 'beta'"),
    # run folders
    (["train", "dcgan", "--steps", "2", "--out", "{r}/afile", *TINY], "is a file, not a folder"),
    (["train", "dcgan", "--steps", "2", "--out", "{r}/locked", *TINY], "is in use by genlab pid"),
    # data
    (["train", "dcgan", "--data", "folder:{r}/bomb"], "claims 400 MP, over the 89 MP limit"),
    (["train", "dcgan", "--data", "folder:{r}/huge"], "larger than the 1024 px genlab picks on its own"),
    (["train", "rgan", "--data", "csv:{r}/wide.csv"], "too wide to scale in floating point"),
    # checkpoints
    (["sample", "{r}/manifestlist", "--out", "{out}.png"], "manifest.json is malformed"),
    (["sample", "{r}/outside", "--out", "{out}.png"], "names '/etc/passwd', which is not a checkpoint file"),
    (["sample", "{r}/copies/step-0000002", "--out", "{out}.png"], "has no manifest.json"),
    (["sample", "{r}/nanweights", "--out", "{out}.png"], "holds non-finite weights"),
    (["sample", "{r}/nodata", "--out", "{out}.png"], "'data' is missing"),
    (["sample", "{r}/configlist", "--out", "{out}.png"], "'config' is not a dict"),
    (["info", "{r}/familyint"], "'family' is not a str"),
    (["info", "{r}/pickled"], "unexpected file 'evil.pkl'"),
    # sample outputs
    (["sample", "{r}/run", "--out", "{r}/afile"], "it is a file, not a folder"),
    (["sample", "{r}/run", "--out", "{r}/dir.png"], "it is a folder; give a file name"),
    (["sample", "{r}/run", "--n", "5000", "--out", "{out}.png"], "a grid of 5000 images is too large"),
    (["sample", "{r}/run", "--n", "-5", "--out", "{out}.png"], "--n must be at least 1"),
    (["sample", "{r}/run", "--seed", "99999999999999999999", "--out", "{out}.png"], "is out of range"),
    (["sample", "{r}/run", "--device", "mps", "--out", "{out}.png"], "MPS (Apple GPUs) is not available"),
    (["sample", "{r}/run", "--device", "gpu9", "--out", "{out}.png"], "unknown device 'gpu9'"),
    (["report", "{r}/run", "--out", "{r}/dir.html"], "it is a folder; give a file name"),
    (["report", "{r}/run", "--out", "{r}/afile/r.html"], "is not a writable folder"),
    (["report", "{r}/run", "--max-grids", "0"], "--max-grids must be at least 1"),
    # translation
    (["translate", "{r}/cyc", "{r}/bomb/bomb.png", "--out", "{out}"], "claims 400 MP, over the 89 MP limit"),
    (["translate", "{r}/cyc", "{r}/junk/a.png", "--out", "{out}"], "cannot read"),
    (["translate", "{r}/cyc", "{r}/nothere.png", "--out", "{out}"], "does not exist"),
    (["translate", "{r}/cyc", "{r}/flat", "--direction", "sideways", "--out", "{out}"], "bad direction 'sideways'"),
    (["translate", "{r}/run", "{r}/flat", "--out", "{out}"], "does not translate images"),
    # eval on sample files from other tools
    (["eval", "{r}/objects.npz", "--ref", "fashion-mnist"], "no pickled objects"),
    (["eval", "{r}/garbage.npz", "--ref", "fashion-mnist"], "cannot read"),
    (["eval", "{r}/zero.npz", "--ref", "fashion-mnist"], "cannot read"),
    (["eval", "{r}/strings.npz", "--ref", "fashion-mnist"], "holds <U1 values, not numbers"),
    (["eval", "{r}/nan.npz", "--ref", "fashion-mnist"], "holds 6272 NaN or infinite values"),
    (["eval", "{r}/inf.npz", "--ref", "fashion-mnist"], "NaN or infinite values"),
    (["eval", "{r}/twoch.npz", "--ref", "fashion-mnist"], "is not images with 1, 3 or 4 channels"),
    (["eval", "{r}/fived.npz", "--ref", "fashion-mnist"], "is not images with 1, 3 or 4 channels"),
    (["eval", "{r}/intrange.npz", "--ref", "fashion-mnist"], "integer images must be in 0..255"),
    (["eval", "{r}/minus1.npz", "--ref", "fashion-mnist"], "map [-1, 1] outputs with (x + 1) / 2"),
    (["eval", "{r}/badlabels.npz", "--ref", "fashion-mnist"], "'labels' must be 8 integers"),
    (["eval", "{r}/noimages.npz", "--ref", "fashion-mnist"], "has no 'images' array"),
    (["eval", "{r}/dir.npz", "--ref", "fashion-mnist"], "is not a file"),
    (["eval", "{r}/run", "--n", "0"], "--n must be at least 1"),
]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(c[0][:3]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_input(world, tmp_path, capsys, argv, needle):
    before = digest(world)
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
    assert digest(world) == before


def test_there_are_at_least_70_cases():
    assert len(CASES) >= 70
