"""CycleGAN: real steps on edges2fashion, falling cycle loss, translate CLI,
save/load round trip, shapes (grey/colour, 28..256, U-Net), pool and schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.errors import ConfigError, GenlabError
from genlab.models.cyclegan import CycleGAN, CycleGANConfig, HistoryPool, ssim

from .family_checks import check_family, read_metrics, train_small

TINY = dict(g_width=8, d_width=8, n_blocks=1, data="edges2fashion", limit=128)
LOSSES = ("gan_ab", "gan_ba", "cycle_a", "cycle_b", "idt_a", "idt_b", "loss_d_a", "loss_d_b")


def info(ca=1, cb=1, size=28):
    return {"kind": "unpaired-image", "shape": [cb, size, size], "shape_a": [ca, size, size],
            "shape_b": [cb, size, size]}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These networks are tiny: a second thread only adds synchronisation, which
    costs up to 10x on a busy machine. Restored for the other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    """One short real run shared by the CLI and round-trip tests."""
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("cyclegan") / "run"
    train_small("cyclegan", run, steps=3, **TINY)
    return run


def test_cyclegan_trains_samples_and_round_trips(tmp_path, fashion_dir):
    model = check_family("cyclegan", tmp_path, steps=4, loss_keys=LOSSES, image_shape=(1, 28, 28), **TINY)
    rows = read_metrics(tmp_path / "cyclegan")
    assert all(math.isfinite(r[k]) for r in rows for k in LOSSES + ("loss_g",))
    out = model.sample(20, seed=0)  # more than the 16 stored examples: cycles through them
    assert out["images"].shape == out["inputs"].shape == (20, 1, 28, 28)
    with pytest.raises(GenlabError, match="not conditional"):
        model.sample(4, seed=0, labels=1)


def test_cycle_loss_falls(tmp_path, fashion_dir):
    train_small("cyclegan", tmp_path / "run", steps=40, log_every=8, batch_size=8, **TINY)
    rows = read_metrics(tmp_path / "run")
    first = rows[0]["cycle_a"] + rows[0]["cycle_b"]
    last = rows[-1]["cycle_a"] + rows[-1]["cycle_b"]
    assert last < 0.8 * first, (first, last)


def test_translate_cli_writes_one_output_per_input(trained, tmp_path):
    inputs = tmp_path / "in"
    folder = inputs / "folder"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (30, 40), dtype=np.uint8)).save(inputs / "grey.png")
    Image.fromarray(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(folder / "colour.png")
    Image.fromarray(rng.integers(0, 256, (64, 50, 3), dtype=np.uint8)).save(folder / "photo.jpg")
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / "grey.png")  # same stem
    out = tmp_path / "out"
    rc = main(["translate", str(trained), "--direction", "AtoB", str(inputs / "grey.png"), str(folder),
               "--out", str(out)])
    assert rc == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["colour.png", "grey.png", "grey_1.png", "photo.png"]
    sizes = {"grey.png": (40, 30), "colour.png": (28, 28), "photo.png": (50, 64), "grey_1.png": (28, 28)}
    for name, size in sizes.items():
        with Image.open(out / name) as im:
            assert im.size == size and im.mode == "L"
    rc = main(["translate", str(trained), "--direction", "BtoA", str(folder / "colour.png"), "--out", str(out / "b")])
    assert rc == 0 and len(list((out / "b").iterdir())) == 1


def test_translate_cli_errors(trained, tmp_path, capsys):
    good = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(good)
    assert main(["translate", str(trained), "--direction", "sideways", str(good), "--out", str(tmp_path / "o")]) == 2
    assert "bad direction 'sideways'" in capsys.readouterr().err
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["translate", str(trained), str(good), str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "notes.png" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # nothing half-written
    assert main(["translate", str(trained), str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["translate", str(trained), str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no image files" in capsys.readouterr().err


def test_save_load_translations_identical(trained, tmp_path, fashion_dir):
    model = genlab.load(trained)
    edges = load_dataset("edges2fashion", split="test").subset(8).a.float() / 255
    y = model.translate(edges, "AtoB")
    assert y.shape == (8, 1, 28, 28) and 0 <= y.min() and y.max() <= 1
    model.save_pretrained(tmp_path / "saved")
    again = CycleGAN.from_pretrained(tmp_path / "saved")
    assert torch.equal(again.translate(edges, "AtoB"), y)
    assert torch.equal(again.translate(edges, "BtoA"), model.translate(edges, "BtoA"))
    # sizes and channels are converted for the network and back
    odd = torch.rand(2, 3, 40, 36)
    assert model.translate(odd, "AtoB").shape == (2, 1, 40, 36)
    with pytest.raises(GenlabError, match="bad direction"):
        model.translate(edges, "up")


def test_evaluate_and_preview_grid(trained, fashion_dir):
    model = genlab.load(trained)
    scores = model.evaluate(load_dataset("edges2fashion", split="test"), n=64)
    assert set(scores) >= {"cycle_a_l1", "cycle_b_l1", "mae_ab", "ssim_ab"}
    assert all(math.isfinite(v) for v in scores.values())
    grid = model.preview(8)["translations"]  # from the stored examples: 6 rows of 8
    assert grid.shape == (3, 6 * 30 + 2, 8 * 30 + 2)
    assert (trained / "samples" / "translations-step0000003.png").is_file()


def test_grey_to_colour_folder_trains(tmp_path, fashion_dir):
    """unpaired:PATH with grey A (edge maps) and colour B (tinted items), different channels."""
    test = load_dataset("edges2fashion", split="test").subset(24)
    root = tmp_path / "e2c"
    for side in ("trainA", "trainB", "testA", "testB"):
        (root / side).mkdir(parents=True)
    for i in range(12):
        Image.fromarray(test.a[i, 0].numpy()).save(root / "trainA" / f"{i}.png")
        item = test.b[12 + i, 0].numpy()
        tinted = np.stack([item, (item * 0.6).astype(np.uint8), (item * 0.3).astype(np.uint8)], -1)
        Image.fromarray(tinted).save(root / "trainB" / f"{i}.png")
    result = train_small("cyclegan", tmp_path / "run", data=f"unpaired:{root}", steps=2, batch_size=4,
                         g_width=4, d_width=4, n_blocks=1, limit=None)
    model = genlab.load(result.run_dir)
    assert model.shape_a == (1, 28, 28) and model.shape_b == (3, 28, 28)
    assert model.sample(3, seed=0)["images"].shape == (3, 3, 28, 28)
    assert model.sample(3, seed=0, direction="BtoA")["images"].shape == (3, 1, 28, 28)
    rows = read_metrics(tmp_path / "run")
    assert all(math.isfinite(r[k]) for r in rows for k in LOSSES)


@pytest.mark.parametrize("size,ca,cb,generator", [(28, 1, 3, "resnet"), (32, 3, 3, "unet"), (64, 3, 1, "resnet"),
                                                  (28, 1, 1, "unet")])
def test_shapes(size, ca, cb, generator):
    model = CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1, generator=generator), info(ca, cb, size))
    a = torch.rand(2, ca, size, size) * 2 - 1
    b = torch.rand(2, cb, size, size) * 2 - 1
    assert model.g_ab(a).shape == b.shape and model.g_ba(b).shape == a.shape
    assert model.d_a(a).dim() == 4 and model.d_b(b).shape[1] == 1
    model.setup_training()
    logs = model.train_step({"a": a, "b": b}, 0)
    assert all(torch.isfinite(v) for v in logs.values())


def test_patch_discriminator_adapts_to_size():
    small = CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1), info(size=28))
    assert small.d_a.n_layers == 1 and small.d_a.receptive_field == 16
    big = CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1), info(3, 3, 256))
    assert big.d_a.n_layers == 3 and big.d_a.receptive_field == 70  # the paper's 70x70 PatchGAN
    assert big.d_b(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    with pytest.raises(ConfigError, match="divisible by 4"):
        CycleGAN(CycleGANConfig(preset="paper"), info(size=30))
    assert CycleGAN(CycleGANConfig(), info(size=30)).g_ab(torch.zeros(1, 1, 30, 30)).shape == (1, 1, 30, 30)
    with pytest.raises(ConfigError, match="loss"):
        genlab.config.build(CycleGANConfig, {"loss": "nope"})


def test_history_pool():
    torch.manual_seed(0)
    pool = HistoryPool(4)
    first = torch.arange(3.0).view(3, 1)
    assert torch.equal(pool.query(first), first) and pool.count == 3  # filling: passed through
    out = pool.query(torch.tensor([[10.0], [11.0], [12.0], [13.0], [14.0], [15.0], [16.0], [17.0]]))
    assert pool.count == 4
    swapped = out[1:].flatten().tolist()  # item 0 filled the last slot
    assert any(v < 10 for v in swapped) and any(v >= 10 for v in swapped)  # some old, some new
    state = pool.state_dict()
    other = HistoryPool(4)
    other.load_state_dict(state)
    assert torch.equal(other.images, pool.images)
    assert torch.equal(HistoryPool(0).query(first), first)


def test_presets_follow_image_size():
    small = CycleGAN(CycleGANConfig(), info(size=28)).settings
    assert (small.preset, small.g_width, small.n_down, small.upsample, small.lambda_cycle, small.lr) == \
        ("small", 16, 1, "resize", 0.5, 4e-4)
    paper = CycleGAN(CycleGANConfig(g_width=8, n_blocks=1), info(3, 3, 64)).settings
    assert (paper.preset, paper.g_width, paper.n_down, paper.upsample, paper.d_width, paper.lambda_cycle,
            paper.lr) == ("paper", 8, 2, "transpose", 64, 10.0, 2e-4)  # set options override the preset
    forced = CycleGAN(CycleGANConfig(preset="paper", g_width=4, d_width=4, n_blocks=1), info(size=28))
    assert forced.settings.lambda_cycle == 10.0 and forced.settings.n_down == 2
    kinds = {type(m) for m in forced.g_ab.modules()}
    assert torch.nn.ConvTranspose2d in kinds and torch.nn.Upsample not in kinds  # the paper's upsampling
    assert torch.nn.Upsample in {type(m) for m in CycleGAN(CycleGANConfig(), info(size=28)).g_ab.modules()}


def test_automatic_decay_follows_the_run(tmp_path, fashion_dir):
    result = train_small("cyclegan", tmp_path / "run", steps=4, **TINY)
    model = genlab.load(result.run_dir)
    model.run_steps = 4  # what RunLength set while training (--steps 4): held for 2 steps, then down to 0
    assert [model.lr_factor(s) for s in range(5)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    model.run_steps = None  # a run limited by --minutes only
    assert model.lr_factor(10**6) == 1.0


def test_learning_rate_schedule():
    model = CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1, decay_start=10, decay_steps=20, lr=2e-4),
                     info())
    assert [model.lr_factor(s) for s in (0, 9, 10, 20, 30, 40)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    model.setup_training()
    batch = {"a": torch.rand(2, 1, 28, 28) * 2 - 1, "b": torch.rand(2, 1, 28, 28) * 2 - 1}
    model.train_step(batch, 20)
    assert all(g["lr"] == pytest.approx(1e-4) for o in model.optimizers.values() for g in o.param_groups)
    constant = CycleGAN(CycleGANConfig(g_width=4, d_width=4, n_blocks=1), info())
    assert constant.lr_factor(10**6) == 1.0


def test_resume_restores_pool(tmp_path, fashion_dir):
    run = tmp_path / "run"
    train_small("cyclegan", run, steps=2, checkpoint_every=2, **TINY)
    train_small("cyclegan", run, steps=3, resume=True, **TINY)
    from genlab.serialization import load_state
    from genlab.training.checkpoint import list_checkpoints

    first, last = list_checkpoints(run)
    extra = load_state(first, "optim")["model_extra"]
    assert extra["pool_a"]["count"] == 32 and extra["pool_a"]["images"].shape == (32, 1, 28, 28)
    # the resumed run continued filling the restored pool (16 more), not an empty one
    assert load_state(last, "optim")["model_extra"]["pool_b"]["count"] == 48


def test_ssim_matches_definition():
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(ssim(x, x), torch.ones(3))
    noisy = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    assert (ssim(x, noisy) < 0.9).all() and (ssim(x, 1 - x) < 0).all()
    # constant images: SSIM reduces to the luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    expected = (2 * 0.2 * 0.6 + 1e-4) / (0.04 + 0.36 + 1e-4)
    assert ssim(a, b).item() == pytest.approx(expected, rel=1e-5)


def test_family_batch_default():
    from genlab.api import resolve_config

    assert resolve_config("cyclegan", data="edges2fashion")[2].batch_size == 8
    assert resolve_config("cyclegan", data="edges2fashion", batch_size=2)[2].batch_size == 2
    assert resolve_config("dcgan")[2].batch_size == 64  # other families keep the trainer's default


def test_runs_from_before_the_presets_still_load():
    """A version-1 config (the paper's layout at every size, n_blocks 0 = automatic) builds the
    same networks as before, so its weights load."""
    from genlab.models.base import build_model

    old = {"generator": "resnet", "g_width": 8, "n_blocks": 0, "d_width": 8, "d_layers": 0, "norm": "instance",
           "lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50, "lr": 2e-4, "decay_start": 0,
           "decay_steps": 0}
    model = build_model({"family": "cyclegan", "config_version": 1, "config": old, "data": info()})
    s = model.settings
    assert (s.preset, s.n_blocks, s.n_down, s.upsample, s.g_width) == ("paper", 6, 2, "transpose", 8)
