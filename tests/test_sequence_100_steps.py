"""Both sequence families train 100 real steps on sines and on a CSV (the stock prices): seqvae at its defaults,
rgan at its defaults, which switch issue 17's generator terms on."""

from __future__ import annotations

import math

import pytest

from .family_checks import read_metrics, train_small
from .test_sequences_data import stocks_spec


@pytest.mark.parametrize("family", ["rgan", "seqvae"])
@pytest.mark.parametrize("data", ["sines", "stocks"])
def test_100_steps(tmp_path, one_thread, family, data):
    spec = "sines" if data == "sines" else stocks_spec()
    result = train_small(family, tmp_path / "run", data=spec, steps=100, log_every=10, batch_size=32, limit=512)
    assert result.step == 100 and not result.interrupted
    rows = read_metrics(tmp_path / "run")
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    # what each family fits to the real windows improves over the 100 steps
    key = "emb_rec" if family == "rgan" else "rec"
    assert rows[-1][key] < rows[0][key]
