"""The rgan's generator terms: on by default (weight 1), off in runs saved before they were."""

from __future__ import annotations

import json

import genlab
from genlab.models.base import build_model
from genlab.models.rgan import RGAN, RGANConfig


def test_terms_are_on_by_default_and_old_configs_keep_them_off(tmp_path, one_thread):
    c = RGANConfig()
    assert (c.feature_matching, c.supervised, c.moment_matching) == (1.0, 1.0, 1.0)
    assert RGAN.migrate({"hidden": 8}, 1) == {"hidden": 8, "feature_matching": 0.0, "supervised": 0.0,
                                             "moment_matching": 0.0}
    assert RGAN.migrate({"supervised": 0.5}, 1)["supervised"] == 0.5  # a value the run named stays
    # a config.json written at config_version 1 without the terms builds a model with them off, and
    # without the embedding networks its weights would lack (the path every checkpoint load takes)
    run = tmp_path / "run"
    genlab.train("rgan", data="sines", steps=2, batch_size=8, hidden=8, d_hidden=8, feature_matching=0,
                 supervised=0, moment_matching=0, out=run, sample_every=0, progress=False, tensorboard=False)
    meta = json.loads((run / "config.json").read_text())
    assert meta["config_version"] == 2
    for key in ("feature_matching", "supervised", "moment_matching"):
        del meta["config"][key]
    model = build_model({**meta, "config_version": 1})
    assert (model.config.feature_matching, model.config.supervised, model.config.moment_matching) == (0, 0, 0)
    assert model.embedding is None
    assert build_model(meta).embedding is not None  # the same keys at version 2 mean today's defaults
