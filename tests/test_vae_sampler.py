"""The VAEs' latent samplers: the Gaussian mixture fitted at the end of training, its files in
the checkpoint (exact round trip, tampering refused in one line, contents validated),
`genlab fit-sampler`, `--sampler prior|gmm` for sample and eval, old checkpoints, and the
cvae's per-class mixtures."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.evaluation import format_table, model_input
from genlab.io import to_uint8
from genlab.models.latent_sampler import FILES, GaussianMixtureSampler, SamplerFileError, fit_gmm
from genlab.serialization import sha256
from genlab.training.checkpoint import list_checkpoints, verify

from .family_checks import train_small


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("sampler") / "vae"
    train_small("vae", run, steps=12, width=8, latent_dim=16, limit=256, log_every=4)
    return run


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory):
    from .conftest import require_fashion

    require_fashion()
    run = tmp_path_factory.mktemp("sampler") / "cvae"
    train_small("cvae", run, steps=12, width=8, latent_dim=16, limit=400, log_every=4, sampler_components=3)
    return run


def copy_run(run, tmp_path):
    shutil.copytree(run, tmp_path / run.name)
    return tmp_path / run.name


def assert_same_fit(a, b):
    """Two fits on the same images: equal up to the float32 rounding of the encoder's output
    (training encodes with channels-last weights, a loaded model with contiguous ones)."""
    for name in ("weights", "means", "scale_tril"):
        assert torch.allclose(getattr(a, name), getattr(b, name), rtol=1e-3, atol=1e-4), name


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


# -- fitted at the end of training, stored, round-tripped -------------------------------------

def test_training_fits_the_mixture_into_the_final_checkpoint(vae_run):
    ckpt = list_checkpoints(vae_run)[-1]
    manifest = json.loads((ckpt / "manifest.json").read_text())
    for name in FILES:
        assert manifest[name] == sha256(ckpt / name)
    info = json.loads((ckpt / "sampler.json").read_text())
    assert info["kind"] == "gmm" and info["latent_dim"] == 16 and info["classes"] is None
    assert info["components"] == [10] and info["codes"] == [256]
    assert info["fitted_on"] == {"dataset": "fashion-mnist", "images": 256, "binarized": False}
    model = genlab.load(vae_run)
    assert model.sampler_in_use() == "gmm" and model.sampler_note() is None


def test_the_sampler_round_trips_exactly(vae_run, tmp_path):
    model = genlab.load(vae_run)
    fitted = model.latent_sampler
    # the stored parameters are those a fit on the same images gives
    codes = model.posterior_mean(*model.eval_tensors(load_dataset("fashion-mnist").subset(256), 60000))
    assert_same_fit(fitted, fit_gmm(codes, components=10))
    expected = model.sample(12, seed=5)["images"]
    assert torch.equal(genlab.load(vae_run).sample(12, seed=5)["images"], expected)
    assert not torch.equal(model.sample(12, seed=5, sampler="prior")["images"], expected)
    for kind, options in (("full", {}), ("slim", {"generator_only": True})):
        folder = model.save_pretrained(tmp_path / kind, card=False, **options)
        assert {p.name for p in folder.iterdir()} >= set(FILES)
        loaded = type(model).from_pretrained(folder)
        for name in ("weights", "means", "scale_tril"):
            assert torch.equal(getattr(loaded.latent_sampler, name), getattr(fitted, name))
        assert loaded.latent_sampler.info == fitted.info
        assert torch.equal(loaded.sample(12, seed=5)["images"], expected), kind
    # saving a model without a mixture into the same folder removes the stale files
    model.latent_sampler = None
    model.save_pretrained(tmp_path / "full", card=False)
    assert not any((tmp_path / "full" / name).exists() for name in FILES)


def test_gmm_draws_follow_the_stored_mixture(vae_run):
    sampler = genlab.load(vae_run).latent_sampler
    gen = torch.Generator().manual_seed(0)
    z = sampler.sample(20000, gen).double()
    w, mu, tril = sampler.weights[0].double(), sampler.means[0].double(), sampler.scale_tril[0].double()
    mean = (w[:, None] * mu).sum(0)
    cov = (w[:, None, None] * (tril @ tril.transpose(1, 2) + mu[:, :, None] * mu[:, None, :])).sum(0)
    cov -= mean[:, None] * mean[None, :]
    scale = cov.diagonal().sqrt()
    assert ((z.mean(0) - mean).abs() / scale).max() < 0.05
    assert ((torch.cov(z.T) - cov).abs() / (scale[:, None] * scale[None, :])).max() < 0.05
    assert torch.equal(sampler.sample(5, torch.Generator().manual_seed(1)),
                       sampler.sample(5, torch.Generator().manual_seed(1)))


# -- refusing altered or invalid sampler files -------------------------------------------------

@pytest.mark.parametrize("name", FILES)
def test_a_tampered_sampler_file_is_refused_in_one_line_and_refit_repairs_it(vae_run, tmp_path, capsys, name):
    run = copy_run(vae_run, tmp_path)
    path = list_checkpoints(run)[-1] / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for target in (run, path.parent):  # the run (no fallback to older weights) and the checkpoint
        code, out, err = run_cli(capsys, "sample", target, "--n", 4, "--out", tmp_path / "x.png")
        assert code == 2 and len(err) == 1 and not (tmp_path / "x.png").exists()
        assert name in err[0] and "does not match its checksum" in err[0] and "genlab fit-sampler RUN" in err[0]
    code, out, err = run_cli(capsys, "fit-sampler", run, "--limit", 256)
    assert code == 0 and "10-component Gaussian mixture on 256 training codes" in out
    verify(path.parent)
    assert_same_fit(genlab.load(run).latent_sampler, genlab.load(vae_run).latent_sampler)


def bad_sampler_files(model, change):
    files = model.latent_sampler.to_files()
    info = json.loads(files["sampler.json"])
    from safetensors.torch import load, save

    tensors = load(files["sampler.safetensors"])
    change(info, tensors)
    return {"sampler.json": json.dumps(info).encode(), "sampler.safetensors": save(tensors)}


def _set(mapping, key, value):
    mapping[key] = value


@pytest.mark.parametrize("change, message", [
    (lambda i, t: _set(i, "latent_dim", 8), "8-dimensional latent, but the model's is 16"),
    (lambda i, t: _set(i, "classes", 10), "has 10 classes, but the model has 0"),
    (lambda i, t: _set(t, "means", t["means"][:, :, :8].contiguous()), "means of shape"),
    (lambda i, t: t["weights"].mul_(2), "do not sum to 1"),
    (lambda i, t: t["weights"].neg_(), "not positive"),
    (lambda i, t: t["scale_tril"][0, 0].fill_(float("nan")), "non-finite"),
    (lambda i, t: t["scale_tril"][0, 0].neg_(), "non-positive diagonals"),
    (lambda i, t: t["scale_tril"][0, 0].fill_(1.0), "not lower-triangular"),
])
def test_sampler_contents_are_validated_in_one_line(vae_run, tmp_path, capsys, change, message):
    model = genlab.load(vae_run)
    with pytest.raises(SamplerFileError, match=message) as caught:
        GaussianMixtureSampler.from_files(bad_sampler_files(model, change), 16, 0, "here")
    assert "\n" not in str(caught.value) and "genlab fit-sampler RUN" in str(caught.value)
    # a pretrained folder (no manifest) holding such a file is refused by the CLI in one line
    folder = model.save_pretrained(tmp_path / "pre", card=False)
    for name, blob in bad_sampler_files(model, change).items():
        (folder / name).write_bytes(blob)
    code, out, err = run_cli(capsys, "sample", folder, "--n", 2, "--out", tmp_path / "x.png")
    assert code == 2 and len(err) == 1 and message in err[0]


def test_a_sampler_file_without_its_partner_is_refused(vae_run, tmp_path):
    folder = genlab.load(vae_run).save_pretrained(tmp_path / "pre", card=False)
    (folder / "sampler.safetensors").unlink()
    with pytest.raises(SamplerFileError, match="has sampler.json but no sampler.safetensors"):
        genlab.load(folder)


# -- choosing the sampler: CLI, Python, eval, old checkpoints ----------------------------------

def test_fit_sampler_and_sample_with_either_sampler_from_the_cli(vae_run, tmp_path, capsys):
    run = copy_run(vae_run, tmp_path)
    best = genlab.load(run).save_pretrained(run / "best", card=False)  # as --eval-every keeps it: no mixture
    for name in FILES:
        (best / name).unlink()
    code, out, err = run_cli(capsys, "fit-sampler", run, "--components", 3, "--limit", 200)
    assert code == 0 and out.count("3-component Gaussian mixture on 200 training codes") == 2
    assert f"wrote {best}/sampler.safetensors" in out
    assert genlab.load(best).latent_sampler.info["components"] == [3]
    ckpt = list_checkpoints(run)[-1]
    verify(ckpt)  # the manifest was updated with the new files
    assert not [p for p in ckpt.parent.iterdir() if p.name != ckpt.name]  # no temporary folder left,
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # nor the run's lock
    model = genlab.load(run)
    assert model.latent_sampler.info["components"] == [3] and model.latent_sampler.info["codes"] == [200]
    for sampler in ("prior", "gmm"):
        code, out, err = run_cli(capsys, "sample", run, "--n", 6, "--seed", 2, "--sampler", sampler,
                                 "--out", tmp_path / f"{sampler}.npz")
        assert code == 0 and err == []
        images = np.load(tmp_path / f"{sampler}.npz")["images"]
        expected = to_uint8(model.sample(6, seed=2, sampler=sampler)["images"])
        assert np.array_equal(images, expected), sampler
    assert not np.array_equal(np.load(tmp_path / "prior.npz")["images"], np.load(tmp_path / "gmm.npz")["images"])
    code, out, err = run_cli(capsys, "sample", run, "--sampler", "vamp", "--out", tmp_path / "x.png")
    assert code == 2 and err == ["genlab: error: unknown sampler 'vamp'; valid samplers: prior, gmm"]
    code, out, err = run_cli(capsys, "info", run)
    assert "sampler:     gmm, 3 components, fitted on 200 training codes" in out


def test_an_old_checkpoint_samples_from_the_prior_until_refitted(vae_run, tmp_path, capsys):
    run = copy_run(vae_run, tmp_path)
    ckpt = list_checkpoints(run)[-1]
    meta = json.loads((ckpt / "config.json").read_text())  # as genlab wrote it before samplers existed
    del meta["config_version"], meta["config"]["sampler"], meta["config"]["sampler_components"]
    (ckpt / "config.json").write_text(json.dumps(meta))
    for name in FILES:
        (ckpt / name).unlink()
    manifest = {p.name: sha256(p) for p in ckpt.iterdir() if p.name != "manifest.json"}
    (ckpt / "manifest.json").write_text(json.dumps(manifest))

    model = genlab.load(run)
    assert model.config.sampler == "gmm" and model.latent_sampler is None and model.sampler_in_use() == "prior"
    prior = model.sample(6, seed=1, sampler="prior")["images"]
    assert torch.equal(model.sample(6, seed=1)["images"], prior)
    code, out, err = run_cli(capsys, "sample", run, "--n", 6, "--seed", 1, "--out", tmp_path / "old.npz")
    assert code == 0 and len(err) == 1 and err[0].startswith("genlab: note: ")
    assert "sampling from the prior N(0, I)" in err[0] and "genlab fit-sampler RUN" in err[0]
    assert np.array_equal(np.load(tmp_path / "old.npz")["images"], to_uint8(prior))
    code, out, err = run_cli(capsys, "sample", run, "--sampler", "gmm", "--out", tmp_path / "x.png")
    assert code == 2 and len(err) == 1 and "no Gaussian mixture is fitted" in err[0]
    with pytest.raises(GenlabError, match="no Gaussian mixture is fitted"):
        model.sample(2, sampler="gmm")

    assert run_cli(capsys, "fit-sampler", run, "--limit", 256)[0] == 0
    refit = genlab.load(run)
    assert refit.sampler_in_use() == "gmm"
    assert_same_fit(refit.latent_sampler, genlab.load(vae_run).latent_sampler)


def test_eval_records_the_sampler_it_used(vae_run, capsys):
    for sampler in ("prior", "gmm"):
        found = model_input(vae_run, None, "test", None, 8, 0, False, "cpu", sampler)
        assert found.info["sampler"] == sampler
        assert torch.equal(found.images, genlab.load(vae_run).sample(8, seed=0, sampler=sampler)["images"])
    row = {"what": "vae samples", "n": 8, "reference": "fashion-mnist:train", "sampler": "gmm", "metrics": {}}
    assert "sampler=gmm" in format_table(row).splitlines()[0]
    code, out, err = run_cli(capsys, "eval", "--ref", "fashion-mnist", "--sampler", "prior")
    assert code == 2 and len(err) == 1 and "--sampler chooses how a model samples" in err[0]


def test_training_with_the_prior_fits_nothing_and_sampler_refuses_gan_families(tmp_path, fashion_dir, capsys):
    run = tmp_path / "prior"
    train_small("vae", run, steps=2, width=8, latent_dim=16, limit=64, sampler="prior")
    assert not any((list_checkpoints(run)[-1] / name).exists() for name in FILES)
    assert genlab.load(run).sampler_note() is None  # the prior was asked for: nothing to note
    code, out, err = run_cli(capsys, "fit-sampler", run, "--limit", 64, "--components", 2)
    assert code == 0 and "samples from its prior by default; use genlab sample --sampler gmm" in out
    gan = tmp_path / "gan"
    train_small("gan", gan, steps=1, limit=64, g_hidden=[16], d_hidden=[16])
    code, out, err = run_cli(capsys, "sample", gan, "--sampler", "gmm", "--out", tmp_path / "x.png")
    assert code == 2 and len(err) == 1 and "--sampler is for vae and cvae" in err[0]
    code, out, err = run_cli(capsys, "fit-sampler", gan)
    assert code == 2 and len(err) == 1 and "no latent sampler to fit" in err[0]


# -- the cvae: one mixture per class ------------------------------------------------------------

def test_cvae_class_samples_come_from_that_class_mixture(cvae_run, tmp_path, capsys):
    model = genlab.load(cvae_run)
    sampler = model.latent_sampler
    assert sampler.classes == 10 and sampler.info["components"] == [3] * 10
    assert sum(sampler.info["codes"]) == 400
    k = 3
    only_k = GaussianMixtureSampler(sampler.weights[k:k + 1], sampler.means[k:k + 1], sampler.scale_tril[k:k + 1],
                                    {**sampler.info, "classes": None, "components": [3]})
    z = only_k.sample(16, torch.Generator().manual_seed(7))
    expected = model.decode_images(z, torch.full((16,), k))
    out = model.sample(16, seed=7, labels=k)
    assert out["labels"].tolist() == [k] * 16
    assert torch.allclose(out["images"], expected, atol=1e-6)
    code, _, err = run_cli(capsys, "sample", cvae_run, "--class", k, "--n", 16, "--seed", 7,
                           "--out", tmp_path / "k.npz")
    assert code == 0 and err == []
    assert np.array_equal(np.load(tmp_path / "k.npz")["images"], to_uint8(out["images"]))
    # rows of class probabilities: a one-hot row is its class; a blend draws from both classes
    gen = torch.Generator().manual_seed(0)
    assert sampler.groups(3, torch.eye(10)[[2, 5, 9]], gen, torch.device("cpu")).tolist() == [2, 5, 9]
    blend = torch.zeros(400, 10)
    blend[:, [1, 8]] = 0.5
    assert set(sampler.groups(400, blend, gen, torch.device("cpu")).tolist()) == {1, 8}


def test_fit_gmm_per_class_with_few_or_no_codes():
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(7, 4, generator=gen)
    labels = torch.tensor([0, 0, 0, 0, 0, 1, 1])
    fitted = fit_gmm(codes, labels, classes=3, components=3)
    assert fitted.info["components"] == [3, 2, 1] and fitted.info["codes"] == [5, 2, 0]
    assert fitted.info["prior_groups"] == [2]
    assert torch.equal(fitted.means[2, 0], torch.zeros(4)) and torch.equal(fitted.scale_tril[2, 0], torch.eye(4))
    assert fitted.weights[1, 2] == 0 and abs(float(fitted.weights[1].sum()) - 1) < 1e-6
    again = GaussianMixtureSampler.from_files(fitted.to_files(), 4, 3)
    assert torch.equal(again.sample(9, torch.Generator().manual_seed(1), torch.tensor([2, 1, 0] * 3)),
                       fitted.sample(9, torch.Generator().manual_seed(1), torch.tensor([2, 1, 0] * 3)))
