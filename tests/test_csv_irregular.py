"""Irregular CSV time series: rows out of order, missing cells, text columns, several series of any
length, too-short series; each either read by the documented rule or refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.cli import main as cli_main
from genlab.data import load_dataset
from genlab.data.csv_table import fill_gaps, read_csv_table
from genlab.errors import DataError


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def refused(spec: str, **options) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(spec, **options)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_gaps_filled_linearly_inside_and_by_nearest_value_at_the_ends():
    x = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [8.0, 4.0], [np.nan, 5.0]])
    # column 0: observed 2 at row 1 and 8 at row 3 -> row 2 is 5; row 0 takes 2, row 4 takes 8
    # column 1: observed 1 at row 0 and 4 at row 3 -> rows 1, 2 are 2 and 3
    np.testing.assert_allclose(fill_gaps(x), [[2, 1], [2, 2], [5, 3], [8, 4], [8, 5]])


def test_out_of_order_dates_and_missing_cells(tmp_path):
    days = [f"2021-03-{d:02d}" for d in range(1, 31)]
    a = [float(i) for i in range(30)]
    b = [100.0 - 2 * i for i in range(30)]
    cells_a = [str(v) for v in a]
    cells_b = [str(v) for v in b]
    cells_a[5], cells_a[6], cells_b[0], cells_b[29], cells_a[12] = "", "NA", "nan", "null", "  N/A "
    rows = [f"{days[i]},{cells_a[i]},{cells_b[i]}" for i in range(30)]
    order = np.random.default_rng(1).permutation(30)
    path = write(tmp_path / "gaps.csv", "Date,a,b\n" + "\n".join(rows[i] for i in order) + "\n")
    table = read_csv_table(path)
    assert table.date_column == "Date" and table.filled == {"a": 3, "b": 2}
    (values,) = table.series
    # a is linear in time, so linear filling restores it exactly; b's ends take their neighbours
    np.testing.assert_allclose(values[:, 0], a)
    np.testing.assert_allclose(values[1:29, 1], b[1:29])
    assert values[0, 1] == b[1] and values[29, 1] == b[28]
    data = load_dataset(f"csv:{path}", seq_len=4)
    assert data.info["filled_cells"] == {"a": 3, "b": 2}
    orig = data.inverse_transform(data.tensors["x"])
    assert torch.allclose(orig[0, :, 0], torch.tensor([0.0, 1, 2, 3]))
    assert torch.isfinite(data.tensors["x"]).all()


def test_several_series_of_different_lengths(tmp_path):
    lines = ["id,date,v"]
    lengths = {"s1": 12, "s2": 3, "s3": 8, "s4": 10}
    for k, (name, n) in enumerate(lengths.items()):
        for t in reversed(range(n)):  # newest first: each series is sorted by its own dates
            lines.append(f"{name},2020-01-{t + 1:02d},{100 * k + t}")
    path = write(tmp_path / "multi.csv", "\n".join(lines) + "\n")
    train = load_dataset(f"csv:{path}", seq_len=5)
    test = load_dataset(f"csv:{path}", split="test", seq_len=5)
    info = train.info
    assert info["series_column"] == "id" and info["series"] == 4 and info["short_series_dropped"] == 1
    # s2 (3 rows) is too short; of s1, s3, s4 the last one is held out whole
    assert len(train) == (12 - 4) + (8 - 4) and len(test) == 10 - 4
    orig = train.inverse_transform(train.tensors["x"])[..., 0]
    steps = orig[:, 1:] - orig[:, :-1]
    assert torch.allclose(steps, torch.ones_like(steps), atol=1e-3)  # no window crosses from one series to the next
    assert orig[0].round().tolist() == [0, 1, 2, 3, 4] and orig[-1].round().tolist() == [203, 204, 205, 206, 207]
    assert test.inverse_transform(test.tensors["x"])[0, :, 0].round().tolist() == [300, 301, 302, 303, 304]
    assert "longest of 4 has 12" in refused(f"csv:{path}", seq_len=13)
    # split "all" (TimeGAN's protocol): every window of every long-enough series, in series order
    every = load_dataset(f"csv:{path}", split="all", seq_len=5)
    assert len(every) == len(train) + len(test)
    assert torch.equal(every.tensors["x"], torch.cat([train.tensors["x"], test.tensors["x"]]))


def test_split_all_of_one_series_and_of_sines(tmp_path):
    path = write(tmp_path / "one.csv", "v,w\n" + "\n".join(f"{t},{t % 3}" for t in range(60)) + "\n")
    train, test, every = (load_dataset(f"csv:{path}", split=s, seq_len=4) for s in ("train", "test", "all"))
    # 60 rows, the last 6 held out: 51 + 3 windows in the splits, 57 in all (3 cross the cut)
    assert (len(train), len(test), len(every)) == (51, 3, 57)
    assert torch.equal(every.tensors["x"][:51], train.tensors["x"])
    assert torch.equal(every.tensors["x"][-3:], test.tensors["x"])
    sin_train, sin_test, sin_all = (load_dataset("sines", split=s, n=50) for s in ("train", "test", "all"))
    assert torch.equal(sin_all.tensors["x"], torch.cat([sin_train.tensors["x"], sin_test.tensors["x"]]))
    assert "valid splits: train, test, all" in refused("sines", split="validation")


def test_text_and_bad_cells_are_refused_in_one_line(tmp_path):
    msg = refused("csv:" + write(tmp_path / "t.csv", "date,price,name\n" +
                                 "".join(f"2020-01-{d:02d},{d},n{d}\n" for d in range(1, 29))))
    assert "'name'" in msg and "holds text" in msg and "delete the column" in msg
    msg = refused("csv:" + write(tmp_path / "c.csv", "price\n" + "1\n2\nabc\n4\n" * 8))
    assert "'price'" in msg and "line 4" in msg and "'abc'" in msg
    msg = refused("csv:" + write(tmp_path / "i.csv", "price\n" + "1\n2\ninf\n" * 10))
    assert "'inf'" in msg and "finite" in msg
    sparse = "a,b\n" + "".join(f"{i},{i if i % 3 == 0 else ''}\n" for i in range(30))
    assert "'b'" in (msg := refused("csv:" + write(tmp_path / "s.csv", sparse))) and "too sparse" in msg
    empty_series = "id,a,b\n" + "".join(f"x,{i},{i}\n" for i in range(30)) + "".join(f"y,{i},\n" for i in range(5))
    assert "has no value in series 'y'" in refused("csv:" + write(tmp_path / "e.csv", empty_series))
    assert "appears twice" in refused("csv:" + write(tmp_path / "d.csv", "a,a\n1,2\n3,4\n"))
    assert "empty on line 3" in refused("csv:" + write(tmp_path / "n.csv", "id,a\nx,1\n,2\n"))


def test_bad_dates_are_refused(tmp_path):
    dup = "date,a\n" + "".join(f"2020-02-{d:02d},{d}\n" for d in range(1, 29)) + "2020-02-03,7\n"
    msg = refused("csv:" + write(tmp_path / "dup.csv", dup))
    assert "two rows dated '2020-02-03'" in msg and "lines 4 and 30" in msg
    bad = "date,a\n" + "".join(f"2020-02-{d:02d},{d}\n" for d in range(1, 29)) + "soon,7\n"
    assert "'soon' (line 30), not a date" in refused("csv:" + write(tmp_path / "bad.csv", bad))


def test_too_short_series_are_refused(tmp_path):
    path = write(tmp_path / "short.csv", "a,b\n" + "1,2\n" * 20)
    assert "too few rows (20)" in refused(f"csv:{path}", seq_len=24)
    # the train split fits 18 rows but the test split holds only 2
    assert "in the test split" in refused(f"csv:{path}", split="test", seq_len=5)


def test_cli_refuses_an_irregular_csv_with_exit_code_2(tmp_path, capsys):
    path = write(tmp_path / "t.csv", "date,price,name\n" + "".join(f"2020-01-{d:02d},{d},n{d}\n" for d in range(1, 29)))
    assert cli_main(["train", "rgan", "--data", f"csv:{path}", "--steps", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'name'" in err[0]
