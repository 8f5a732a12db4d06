"""The seqvae's latent sampler: a Gaussian mixture fitted on its training windows' codes by default for
continuous series, saved with the checkpoint; the prior for text and the VRNN, and for older runs."""

from __future__ import annotations

import pytest
import torch

import genlab
from genlab.errors import ConfigError
from genlab.models.base import build_model
from genlab.models.seqvae import SeqVAE
from genlab.samplers import fit_sampler

SMALL = dict(steps=30, batch_size=32, hidden=16, latent_dim=4, limit=256, sample_every=0, progress=False,
             tensorboard=False)


def test_mixture_is_fitted_at_the_end_of_training_and_round_trips(tmp_path, one_thread):
    genlab.train("seqvae", data="sines", out=tmp_path / "run", **SMALL)
    model = genlab.load(tmp_path / "run")
    assert model.config.sampler == "auto" and model.sampler_in_use() == "gmm"
    info = model.latent_sampler.info
    assert info["fitted_on"] == {"dataset": "sines", "windows": 256} and info["latent_dim"] == 4
    # the mixture's draws are what sample decodes: the same z through `z=` gives the same windows
    z = model.latent_sampler.sample(6, torch.Generator().manual_seed(3))
    assert torch.equal(model.sample(6, z=z)["sequences"], model.sample(6, z=z.clone())["sequences"])
    a = model.sample(6, seed=1)["sequences"]
    assert not torch.equal(a, model.sample(6, seed=1, sampler="prior")["sequences"])
    # saved and loaded exactly; `genlab fit-sampler` refits the same mixture (same codes, same seed)
    again = genlab.load(tmp_path / "run")
    assert torch.equal(again.sample(6, seed=1)["sequences"], a)
    fit_sampler(tmp_path / "run")
    assert torch.equal(genlab.load(tmp_path / "run").sample(6, seed=1)["sequences"], a)


def test_prior_for_vrnn_and_old_runs_and_gmm_refused_where_it_cannot_fit(tmp_path, one_thread):
    info = {"kind": "sequence", "seq_len": 8, "dim": 2, "dataset": "sines"}
    assert SeqVAE(SeqVAE.Config(structure="vrnn", hidden=8, latent_dim=2), info).configured_sampler() == "prior"
    assert SeqVAE(SeqVAE.Config(hidden=8, latent_dim=2), info).configured_sampler() == "gmm"
    with pytest.raises(ConfigError) as err:
        SeqVAE(SeqVAE.Config(structure="vrnn", sampler="gmm", hidden=8, latent_dim=2), info)
    assert "\n" not in str(err.value) and "--sampler prior" in str(err.value)
    # a run written before the sampler existed (config_version 1) keeps sampling from the prior
    meta = {"family": "seqvae", "config_version": 1, "config": {"hidden": 8, "latent_dim": 2}, "data": info}
    assert build_model(meta).configured_sampler() == "prior"
