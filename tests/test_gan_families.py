"""GAN families (gan, cgan, infogan): real steps on Fashion-MNIST, round trips,
conditional sampling, InfoGAN's mutual information, stabilisers, DiffAugment
and the mode-collapse monitor."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

import genlab
from genlab.api import prepare_run
from genlab.errors import ConfigError, GenlabError
from genlab.nn.augment import cutout, diff_augment, parse_policy, translation
from genlab.training import Trainer
from genlab.models.diversity import DiversityMonitor

from .family_checks import check_family, read_metrics, train_small

TINY = {
    "gan": dict(g_hidden=[32, 64], d_hidden=[64, 32]),
    "cgan": dict(g_width=8, d_width=8, embed_dim=8),
    "infogan": dict(g_width=8, d_width=8, q_hidden=16),
}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("family", ["gan", "cgan", "infogan"])
def test_family_trains_samples_and_round_trips(tmp_path, fashion_dir, family):
    model = check_family(family, tmp_path, image_shape=(1, 28, 28), **TINY[family])
    assert model.family == family


def test_gan_is_an_mlp_on_flattened_images(fashion_small):
    from genlab.models.gan import GAN, GANFamilyConfig

    data, _ = fashion_small
    model = GAN(GANFamilyConfig(g_hidden=[32], d_hidden=[16], g_activation="relu", g_batchnorm=False), data.info)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert isinstance(model.generator[-2], torch.nn.Tanh)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.discriminator)
    assert model.sample(3, seed=0)["images"].shape == (3, 1, 28, 28)


def test_cgan_samples_requested_classes_and_rejects_bad_ones(tmp_path, fashion_dir):
    run = tmp_path / "cgan"
    train_small("cgan", run, steps=3, **TINY["cgan"])
    model = genlab.load(run)
    out = model.sample(6, seed=0, labels=3)
    assert out["labels"].tolist() == [3] * 6
    out = model.sample(3, seed=0, labels=[0, 9, 4])
    assert out["labels"].tolist() == [0, 9, 4]
    # the label matters: same noise, different class -> different images
    assert not torch.equal(model.sample(4, seed=1, labels=0)["images"], model.sample(4, seed=1, labels=7)["images"])
    with pytest.raises(GenlabError, match=r"class 10 is out of range; this model's classes are 0=T-shirt/top"):
        model.sample(2, labels=10)
    with pytest.raises(GenlabError, match="out of range"):
        model.sample(2, labels=-1)
    # what `genlab sample RUN --class 3 --out x.npz` calls
    genlab.sample(model, 5, labels=3, out=tmp_path / "s.npz")
    saved = np.load(tmp_path / "s.npz")
    assert saved["images"].shape == (5, 28, 28) and saved["labels"].tolist() == [3] * 5


def test_cgan_preview_has_one_row_per_class(fashion_small):
    from genlab.models.cgan import CGAN, CGANConfig

    data, _ = fashion_small
    model = CGAN(CGANConfig(g_width=8, d_width=8, embed_dim=8), data.info)
    grid = model.preview(64)["samples"]
    assert grid.shape == (100, 1, 28, 28)  # 10 rows (classes) x 10 columns: save_grid lays it out 10 per row
    labels = model.class_grid_labels(10)
    again = model.sample(100, seed=0, labels=labels)["images"]
    assert torch.equal(grid, again) and labels[:10].tolist() == [0] * 10 and labels[-1] == 9


def test_unconditional_families_refuse_labels(fashion_small):
    from genlab.models.gan import GAN, GANFamilyConfig

    model = GAN(GANFamilyConfig(g_hidden=[16], d_hidden=[16]), fashion_small[0].info)
    with pytest.raises(GenlabError, match="not conditional"):
        model.sample(2, labels=1)


def test_infogan_mutual_information_loss_falls(tmp_path, fashion_dir):
    run = tmp_path / "info"
    train_small("infogan", run, steps=40, log_every=10, g_width=8, d_width=8, q_hidden=128, lr_g=1e-3)
    mi = [r["mi"] for r in read_metrics(run)]
    assert all(math.isfinite(v) for v in mi)
    # categorical CE starts near log(10) = 2.3, Gaussian NLL of U(-1, 1) codes near 2 x 0.9
    assert mi[0] > 3.5
    assert mi[-1] < mi[0] - 0.4, mi


def test_infogan_codes_and_q_head(fashion_small):
    from genlab.models.infogan import InfoGAN, InfoGANConfig

    data, prepared = fashion_small
    model = InfoGAN(InfoGANConfig(categorical=[10, 3], continuous=2, latent_dim=8, g_width=8, d_width=8,
                                  q_hidden=16, continuous_loss="mse"), data.info)
    codes = model.latent_codes()
    assert [(c["name"], c["kind"], c["start"], c["size"]) for c in codes] == [
        ("c1", "categorical", 8, 10), ("c2", "categorical", 18, 3), ("c3", "continuous", 21, 1),
        ("c4", "continuous", 22, 1)]
    z = model.latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 23)
    assert torch.equal(z[:, 8:18].sum(1), torch.ones(5)) and torch.equal(z[:, 18:21].sum(1), torch.ones(5))
    assert (z[:, 21:].abs() <= 1).all()
    assert model.predict_codes(prepared["x"][:4]).shape == (4, 10 + 3 + 2)
    # Q is trained with G's optimizer, not D's (D is frozen during G's phase)
    model.setup_training()
    g_params = {id(p) for group in model.optimizers["g"].param_groups for p in group["params"]}
    assert all(id(p) in g_params for p in model.q_head.parameters())
    # L_I also reaches D's shared trunk in the discriminator phase (not only Q and G)
    z = model.latent(8)
    fake = model.generate(z).detach()
    model.extra_discriminator_loss(z, fake, None, {}).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.discriminator.features.parameters())
    assert all(p.grad is None for p in model.discriminator.head.parameters())
    previews = model.preview(16)
    assert previews["c1"].shape == (100, 1, 28, 28)
    with pytest.raises(ConfigError, match="at least one code"):
        genlab.config.build(InfoGANConfig, {"categorical": [], "continuous": 0})


@pytest.mark.parametrize("family", ["gan", "cgan", "infogan", "dcgan"])
def test_stabilisers_on_every_family(fashion_small, family):
    """Spectral norm, R1, EMA, two time-scale rates, n D steps and DiffAugment, all at once."""
    from genlab.registry import FAMILIES

    data, prepared = fashion_small
    tiny = TINY.get(family, dict(g_width=8, d_width=8))
    cls = FAMILIES.get(family)
    config = genlab.config.build(cls.Config, dict(tiny, spectral_norm=True, r1_gamma=1.0, ema=0.9, lr_g=1e-4,
                                                   lr_d=4e-4, d_steps=2, diffaugment="color,translation,cutout"))
    torch.manual_seed(0)
    model = cls(config, data.info)
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in model.discriminator.modules())
    model.setup_training()
    assert model.optimizers["g"].param_groups[0]["lr"] == 1e-4 and model.optimizers["d"].param_groups[0]["lr"] == 4e-4
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    ema_before = [p.detach().clone() for p in model.generator_ema.parameters()]
    for step in range(3):
        batch = {k: v[step * 16:(step + 1) * 16] for k, v in prepared.items()}
        logs = model.train_step(batch, step)
        assert {"loss_d", "loss_g", "r1"} <= set(logs)
        assert all(torch.isfinite(v) for v in logs.values()), logs
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    # the EMA moved towards the generator, and sampling uses it
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, model.generator_ema.parameters()))
    assert model.sampling_generator() is model.generator_ema


def test_bad_diffaugment_policy_is_a_config_error():
    from genlab.models.gan import GANFamilyConfig

    with pytest.raises(ConfigError, match="unknown policy 'zoom'; valid policies: color, translation, cutout"):
        genlab.config.build(GANFamilyConfig, {"diffaugment": "color,zoom"})
    assert parse_policy("color, translation") == ["color", "translation"]


def test_diffaugment_keeps_shapes_and_is_differentiable(fashion_small):
    x = fashion_small[1]["x"][:8].clone().requires_grad_(True)
    for policy in ["color", "translation", "cutout", "color,translation,cutout"]:
        y = diff_augment(x, policy)
        assert y.shape == x.shape
        (grad,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, policy
    rgb = torch.rand(4, 3, 32, 32, requires_grad=True)
    assert diff_augment(rgb, "color,translation,cutout").shape == (4, 3, 32, 32)
    # translation moves pixels by whole offsets and pads with zeros: a shifted copy of the input
    img = torch.arange(1, 65, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1)
    moved = translation(img, torch.Generator().manual_seed(0))
    assert moved.shape == img.shape
    assert set(moved.unique().tolist()) <= set(range(0, 65))
    assert any(not torch.equal(moved[i], img[i]) for i in range(16))
    # cutout blanks a square of up to half the side
    cut = cutout(torch.ones(32, 1, 16, 16), torch.Generator().manual_seed(0))
    blank = (cut == 0).flatten(1).sum(1)
    assert blank.max() == 64 and blank.min() >= 16


def test_collapse_monitor_warns_on_collapsed_generator_not_on_real_data(fashion_small, capsys):
    _, prepared = fashion_small
    real = (prepared["x"] + 1) / 2
    monitor = DiversityMonitor(threshold=0.3, warmup_steps=0)
    monitor.set_reference(real[:64])
    healthy = monitor.check(real[64:128], step=100)
    assert 0.8 < healthy["diversity"] < 1.25
    assert capsys.readouterr().err == ""
    collapsed = monitor.check(real[:1].repeat(64, 1, 1, 1), step=200)
    assert collapsed["diversity"] < 1e-5
    err = capsys.readouterr().err
    assert "possible mode collapse at step 200" in err and err.count("\n") == 1
    # during warm-up only a sharp drop from the best value seen warns
    early = DiversityMonitor(threshold=0.3, drop=0.5, warmup_steps=10**9)
    early.set_reference(real[:64])
    early.check(real[64:128], step=1)
    near = real[:1].repeat(64, 1, 1, 1) + 0.05 * torch.randn(64, 1, 28, 28)
    assert early.check(near, step=2)["diversity"] < 0.5
    assert "down from" in capsys.readouterr().err
    assert early.check(real[:1].repeat(64, 1, 1, 1), step=3)["diversity"] < 1e-5  # warns again
    assert len(early.warnings) == 2


def test_collapse_monitor_class_spread_with_a_classifier(fashion_small):
    _, prepared = fashion_small
    real, labels = (prepared["x"] + 1) / 2, prepared["y"]
    means = torch.stack([real[labels == k].mean(0) for k in range(10)]).flatten(1)

    def nearest_mean(x):  # a real (if weak) Fashion-MNIST classifier: nearest class-mean image
        return -torch.cdist(x.flatten(1), means)

    assert (nearest_mean(real).argmax(1) == labels).float().mean() > 0.5
    monitor = DiversityMonitor(warmup_steps=0, classifier=nearest_mean, stream=io.StringIO())
    monitor.set_reference(real[:64])
    assert monitor.check(real[64:192], step=1)["class_spread"] > 0.85
    assert monitor.check(real[:1].repeat(64, 1, 1, 1), step=2)["class_spread"] == 0.0
    assert "possible mode collapse at step 2" in monitor.stream.getvalue()


def test_collapse_monitor_uses_the_shipped_classifier(fashion_small):
    from genlab.models.diversity import shipped_classifier

    data, prepared = fashion_small
    assert shipped_classifier({**data.info, "shape": [1, 32, 32]}) is None  # only for the data it was trained on
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    classify = shipped_classifier(data.info)
    assert torch.equal(torch.rand(3), expected)  # loading it leaves the run's RNG alone (exact resume)
    if classify is None:
        pytest.skip("genlab.metrics fashion-mnist-classifier weights not installed")
    real = (prepared["x"] + 1) / 2
    with torch.no_grad():
        assert (classify(real).argmax(1) == prepared["y"]).float().mean() > 0.85
    monitor = DiversityMonitor(warmup_steps=0, classifier=classify, stream=io.StringIO())
    monitor.set_reference(real[:64])
    assert monitor.check(real[64:192], step=1)["class_spread"] > 0.85


def test_collapse_monitor_in_training(tmp_path, fashion_dir, capsys):
    """A generator whose output ignores z (zeroed last layer, frozen) triggers the warning in a real run."""
    model, data, config = prepare_run("gan", data="fashion-mnist", limit=256, batch_size=16, steps=8, log_every=2,
                                      sample_every=0, checkpoint_every=0, tensorboard=False, progress=False,
                                      lr_g=0.0, collapse_warning=0, **TINY["gan"])
    last = model.generator[-3]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.uniform_(last.bias, -1, 1)
    monitor = DiversityMonitor(every=2, warmup_steps=0)
    assert model.callbacks() == []  # collapse_warning=0 switches the family's own monitor off
    Trainer(model, data, config, tmp_path / "run", callbacks=[monitor]).fit()
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows if "diversity" in r] == [4, 8]
    assert all(r["diversity"] < 1e-6 for r in rows if "diversity" in r)
    assert "possible mode collapse" in capsys.readouterr().err
    # every GAN family adds a monitor by default
    assert isinstance(genlab.registry.FAMILIES.get("gan")(genlab.models.gan.GANFamilyConfig(), data.info)
                      .callbacks()[0], DiversityMonitor)
