"""SeqVAE: real steps on sines, stock prices and words; annealing, word dropout, text outputs."""

from __future__ import annotations

import math

import pytest
import torch

import genlab
from genlab.cli import main as cli_main
from genlab.data import load_dataset
from genlab.errors import GenlabError
from genlab.io import save_text
from genlab.models.seqvae import SeqVAE, SeqVAEConfig

from .family_checks import read_metrics, train_small
from .test_sequences_data import check_sequence_family, stocks_spec

SMALL = dict(hidden=24, latent_dim=4, embed_dim=8)


def test_seqvae_on_sines(tmp_path):
    check_sequence_family("seqvae", tmp_path, "sines", **SMALL)


def test_seqvae_gru_cell_steps():
    data = load_dataset("sines", n=64)
    model = SeqVAE(SeqVAEConfig(cell="gru", **SMALL), data.info)
    model.setup_training()
    batch = data.prepare()
    first = model.train_step(batch, 0)
    for step in range(1, 4):
        last = model.train_step(batch, step)
    assert isinstance(model.decoder, torch.nn.GRU) and last["rec"] < first["rec"]
    assert model.sample(3, seed=0)["sequences"].shape == (3, 24, 5)


def test_seqvae_on_stock_prices(tmp_path):
    model = check_sequence_family("seqvae", tmp_path, stocks_spec(), **SMALL)
    assert model.sample(3, seed=0)["sequences"][..., 5].max() > 1000  # volumes in shares


def test_seqvae_on_words(tmp_path, words):
    model = check_sequence_family("seqvae", tmp_path, "words", **SMALL)
    words = model.decode_text(model.sample(20, seed=0)["tokens"])
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    path = save_text(model, tmp_path / "w.txt", n=7, seed=0)
    assert path.read_text().splitlines() == model.decode_text(model.sample(7, seed=0)["tokens"])


def test_seqvae_loss_falls_on_words(tmp_path, words):
    train_small("seqvae", tmp_path / "run", data="words", steps=40, log_every=20, anneal="none", lr=3e-3,
                **SMALL)
    rows = read_metrics(tmp_path / "run")
    assert rows[-1]["rec"] < rows[0]["rec"] - 1.0


def test_kl_annealing_schedules():
    info = load_dataset("sines", n=20).info
    logistic = SeqVAE(SeqVAEConfig(anneal="logistic", anneal_steps=1000, beta=2.0), info)
    assert logistic.kl_weight(0) == pytest.approx(2.0 / (1 + math.exp(5)))
    assert logistic.kl_weight(500) == pytest.approx(1.0)
    assert logistic.kl_weight(1000) > 1.98
    linear = SeqVAE(SeqVAEConfig(anneal="linear", anneal_steps=100), info)
    assert [linear.kl_weight(s) for s in (0, 50, 100, 500)] == [0.0, 0.5, 1.0, 1.0]
    assert SeqVAE(SeqVAEConfig(anneal="none", beta=0.5), info).kl_weight(0) == 0.5


def test_word_dropout_only_while_training(words):
    data = load_dataset("words").subset(64)
    model = SeqVAE(SeqVAEConfig(word_dropout=0.5, **SMALL), data.info)
    x = data.tensors["x"]
    model.train()
    dropped = model.decoder_inputs(x)
    model.eval()
    kept = model.decoder_inputs(x)
    assert torch.equal(kept, model.embed(x[:, :-1]))
    changed = (dropped != kept).any(-1)
    real_chars = (x[:, :-1] != data.info["pad"]) & (x[:, :-1] != data.info["bos"])
    assert not changed[~real_chars].any()  # BOS and padding are never dropped
    share = changed[real_chars].float().mean().item()
    assert 0.35 < share < 0.65


def test_seqvae_evaluate_words(tmp_path, words):
    train_small("seqvae", tmp_path / "run", data="words", steps=3, **SMALL)
    model = genlab.load(tmp_path / "run")
    scores = model.evaluate(load_dataset("words", split="test").subset(200), n=50)
    for key in ("novel", "real_words", "bigram_js", "heldout_elbo", "heldout_bits_per_char"):
        assert math.isfinite(scores[key]), key
    assert 0 <= scores["novel"] <= 1 and 0 < scores["bigram_js"] <= 1
    assert cli_main(["explore", "series-plot", str(tmp_path / "run"), "--out", str(tmp_path / "w.txt"),
                     "--n", "5"]) == 0
    assert len((tmp_path / "w.txt").read_text().splitlines()) == 5


def test_series_model_has_no_text():
    model = SeqVAE(SeqVAEConfig(**SMALL), load_dataset("sines", n=20).info)
    with pytest.raises(GenlabError, match="not text"):
        model.decode_text(torch.zeros(1, 3, dtype=torch.long))
