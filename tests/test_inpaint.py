"""Image completion: masks, the VAE and GAN completions, `genlab inpaint` and its bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.errors import GenlabError
from genlab.inpainting import complete, hidden_scores, mean_fill, parse_mask

from .family_checks import train_small

BOX = "box:7,7,14,14"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A small MLP vae trained enough to beat mean fill, and a tiny dcgan (3 steps)."""
    from .conftest import require_fashion

    require_fashion()
    root = tmp_path_factory.mktemp("inpaint")
    train_small("vae", root / "vae", steps=40, batch_size=32, limit=1024, architecture="mlp", hidden=64,
                latent_dim=8)
    train_small("dcgan", root / "dcgan", steps=3, g_width=8, d_width=8)
    return root


@pytest.fixture(scope="module")
def test_images():
    from genlab.data import load_dataset

    x = load_dataset("fashion-mnist", split="test").subset(16).prepare("cpu")["x"]
    return x.float() / 255 if not x.is_floating_point() else (x + 1) / 2


def test_masks_box_and_png(tmp_path):
    visible = parse_mask("box:2,3,4,5", 28, 28)
    assert visible.shape == (28, 28) and int((~visible).sum()) == 20
    assert not visible[3, 2] and not visible[7, 5] and visible[8, 2] and visible[3, 6]
    png = np.zeros((28, 28), np.uint8)
    png[10:12, 0:3] = 255  # white = hidden
    Image.fromarray(png).save(tmp_path / "m.png")
    m = parse_mask(str(tmp_path / "m.png"), 28, 28)
    assert int((~m).sum()) == 6 and not m[10, 0] and m[12, 0]


@pytest.mark.parametrize("spec,needle", [
    ("box:20,20,10,10", "lies outside the 28x28 image"),
    ("box:-1,0,5,5", "lies outside the 28x28 image"),
    ("box:1,2,3", "four whole numbers"),
    ("box:0,0,28,28", "hides every pixel"),
    ("box:0,0,0,4", "at least 1 pixel"),
    ("nowhere.png", "neither box:x,y,w,h nor an existing file"),
])
def test_bad_masks_are_one_line(spec, needle):
    with pytest.raises(GenlabError) as info:
        parse_mask(spec, 28, 28)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_vae_completion_keeps_visible_pixels_and_beats_mean_fill(runs, test_images):
    model = genlab.load(runs / "vae")
    visible = parse_mask(BOX, 28, 28)
    done = complete(model, test_images, visible, iterations=20)
    assert done.shape == test_images.shape and torch.equal(done * visible, test_images * visible)
    ours = hidden_scores(done, test_images, visible)["mae"].mean()
    baseline = hidden_scores(mean_fill(test_images, visible), test_images, visible)["mae"].mean()
    assert ours < baseline, (float(ours), float(baseline))


def test_gan_completion_fits_the_latent_to_the_visible_pixels(runs, test_images):
    model = genlab.load(runs / "dcgan")
    visible = parse_mask(BOX, 28, 28)
    x = test_images[:4]
    start = mean_fill(x, visible)
    done = complete(model, x, visible, restarts=2, steps=5)
    assert done.shape == x.shape and torch.equal(done * visible, x * visible)
    assert not torch.equal(done, start)  # the hidden box holds the generator's output
    assert all(p.requires_grad for p in model.generator.parameters())  # left as it was found


def test_cli_writes_completions_and_refuses_bad_input(runs, test_images, tmp_path, capsys):
    files = []
    for i in range(3):
        files.append(tmp_path / f"item{i}.png")
        Image.fromarray((test_images[i, 0] * 255).round().byte().numpy()).save(files[-1])
    out = tmp_path / "out"
    assert main(["inpaint", str(runs / "vae"), *map(str, files), "--mask", BOX, "--out", str(out),
                 "--iterations", "5"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["item0.png", "item1.png", "item2.png", "overview.png"]
    done = np.asarray(Image.open(out / "item1.png"))
    original = np.asarray(Image.open(files[1]))
    visible = parse_mask(BOX, 28, 28).numpy()
    assert done.shape == (28, 28) and np.array_equal(done[visible], original[visible])
    capsys.readouterr()

    bad_mask = tmp_path / "bad.png"
    bad_mask.write_bytes(b"not a png at all")
    cases = [
        (["--mask", "box:25,25,8,8"], "lies outside the 28x28 image"),
        (["--mask", str(bad_mask)], "cannot read mask"),
        (["--mask", BOX, "--iterations", "0"], "--iterations must be at least 1"),
    ]
    for extra, needle in cases:
        assert main(["inpaint", str(runs / "vae"), str(files[0]), "--out", str(tmp_path / "no"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("genlab: error:") and needle in err and "\n" not in err, err
    assert not (tmp_path / "no").exists()
    assert main(["inpaint", str(runs / "vae"), str(tmp_path / "missing.png"), "--mask", BOX, "--out",
                 str(tmp_path / "no")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("family", ["cvae", "cgan", "infogan", "gan"])
def test_every_image_family_completes_keeping_visible_pixels(family):
    """Untrained small models of the other image families: the conditional ones try every class."""
    from genlab.registry import FAMILIES

    genlab.families()
    cls = FAMILIES.get(family)
    sizes = {k: 8 for k in ("width", "g_width", "d_width") if k in cls.Config.__dataclass_fields__}
    if "g_hidden" in cls.Config.__dataclass_fields__:
        sizes.update(g_hidden=[16], d_hidden=[16])
    torch.manual_seed(0)
    model = cls(cls.Config(**sizes), {"kind": "image", "shape": [1, 28, 28], "num_classes": 10}).eval()
    x = torch.rand(3, 1, 28, 28)
    visible = parse_mask("box:0,0,10,28", 28, 28)
    done = complete(model, x, visible, iterations=2, restarts=2, steps=2)
    assert done.shape == x.shape and torch.equal(done * visible, x * visible)
    assert torch.isfinite(done).all() and 0 <= float(done.min()) and float(done.max()) <= 1


def test_sequence_models_are_refused(tmp_path):
    from genlab.registry import FAMILIES

    genlab.families()
    cls = FAMILIES.get("rgan")
    model = cls(cls.Config(), {"kind": "sequence", "seq_len": 8, "dim": 2})
    with pytest.raises(GenlabError, match="needs an image model"):
        complete(model, torch.rand(1, 1, 28, 28), parse_mask(BOX, 28, 28))
