"""Text lines in any script: text:PATH parsing and cleaning, the vocabulary's cut-off and
unknown token, fortunes and fortunes-zh, bad input, and seqvae trained 20 real steps on lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

import genlab
from genlab.cli import main
from genlab.data import load_dataset
from genlab.data.sequences import decode_tokens
from genlab.data.textlines import FORTUNE_DIR, clean_line
from genlab.seqmetrics import ngram_distribution, text_metrics

from .conftest import need_system
from .family_checks import train_small

LINES = ["Hello, world!", "Grüße aus Köln – 3 € bitte.", "兰叶春葳蕤，桂华秋皎洁。", "欣欣此生意，自尔为佳节。",
         "¿Qué tal?", "x" * 30, "$5 ^_^ 100%", "Hello, world!", "", "   ", "Привет, мир", "naïve café"]


def write_lines(path: Path, lines=LINES) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_clean_line():
    assert clean_line("\x1b[32m《感遇・其一》\x1b[m") == "《感遇・其一》"
    assert clean_line("_\bB_\bo_\bl_\bd  and\ttabs ") == "Bold and tabs"
    assert clean_line("cafe\u0301") == "café"  # NFC: one code point
    assert clean_line("\x00\x07") == ""


def test_text_dataset_parsing(tmp_path):
    path = write_lines(tmp_path / "lines.txt")
    train = load_dataset(f"text:{path}", max_len=28)
    test = load_dataset(f"text:{path}", max_len=28, split="test")
    info = train.info
    assert info["kind"] == "tokens" and info["unit"] == "line" and info["max_len"] == 28
    # 8 distinct non-empty lines of at most 28 characters ("x" * 30 is too long, one duplicate)
    assert info["counts"] == {"lines": 10, "too_long": 1, "files_skipped": 0, "distinct": 8}
    assert len(train) + len(test) == 8 and len(test) == 1
    assert train.tensors["x"].shape == (len(train), 30) and test.info["vocab"] == info["vocab"]
    every = set(train.words()) | set(test.words())
    kept = [line for line in LINES if line.strip() and len(line) <= 28]
    # characters seen once in training are <unk> ("?"): the rest comes back exactly
    vocab = set(info["vocab"][4:])
    assert {"".join(c if c in vocab else "?" for c in line) for line in kept} == every
    full = load_dataset(f"text:{path}", max_len=28, min_count=1)
    counts = Counter("".join(full.words()))  # min_count=1: every training character is in the vocabulary
    assert vocab == {c for c, k in counts.items() if k >= 2} and "l" in vocab and "€" not in vocab
    assert set(full.words()) < set(kept) and len(full) == 7  # training lines come back exactly
    x = train.tensors["x"]
    assert (x[:, 0] == info["bos"]).all() and decode_tokens(x, info) == train.words()
    assert train.tensors["length"].tolist() == [len(w) + 2 for w in train.words()]


def test_text_folder_skips_binary_files(tmp_path, capsys):
    write_lines(tmp_path / "a.txt", ["one line", "another line"])
    write_lines(tmp_path / "b", ["第三行"])
    (tmp_path / "c.dat").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "d.latin1").write_bytes("caf\xe9".encode("latin-1"))
    data = load_dataset(f"text:{tmp_path}")
    assert data.info["counts"]["distinct"] == 3 and data.info["counts"]["files_skipped"] == 2
    assert "skipped 2 file(s) that are not UTF-8 text" in capsys.readouterr().err


@pytest.mark.parametrize("name, content, needle", [
    ("empty.txt", b"", "empty.txt holds no usable lines"),
    ("blank.txt", b"\n  \n\t\n", "blank.txt holds no usable lines"),
    ("long.txt", b"a" * 100 + b"\n", "(1 lines are longer than --max-len 80)"),
    ("one.txt", b"only one\n", "holds only 1 distinct line"),
    ("latin.txt", b"caf\xe9\n", "latin.txt is not UTF-8 text"),
    (None, None, "text path '/no/such/file.txt' not found"),
])
def test_bad_text_input_is_one_line(tmp_path, capsys, name, content, needle):
    if name:
        (tmp_path / name).write_bytes(content)
    spec = f"text:{tmp_path / name}" if name else "text:/no/such/file.txt"
    code = main(["train", "seqvae", "--data", spec, "--steps", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "run").exists()


def test_ngram_metrics_work_for_any_script():
    assert ngram_distribution(["ab"], 3) == {"\x02ab": 1, "ab\x03": 1}
    zh = ["兰叶春葳蕤", "桂华秋皎洁"]
    m = text_metrics(["兰叶春葳蕤", "桂华秋风"], zh, zh, zh)
    assert m["novel"] == 0.5 and m["real_words"] == 0.5
    assert 0 < m["bigram_js"] < 1 and m["trigram_js"] > m["bigram_js"]
    same = text_metrics(zh, zh, zh, zh)
    assert same["bigram_js"] == pytest.approx(0) and same["trigram_js"] == pytest.approx(0)


@pytest.mark.parametrize("spec, package, script", [("fortunes", "fortunes", "ascii"), ("fortunes-zh", "fortunes-zh", "han")])
def test_fortunes(spec, package, script):
    need_system((FORTUNE_DIR / ("fortunes" if spec == "fortunes" else "tang300")).is_file(), package)
    data = load_dataset(spec)
    lines = data.words()
    assert len(data) > 10000 and all(1 <= len(w) <= 80 for w in lines[:1000]) and "%" not in lines
    assert not any("\x1b" in w for w in lines)
    if script == "han":
        assert sum(any("\u4e00" <= c <= "\u9fff" for c in w) for w in lines) > 0.8 * len(lines)
        assert len(data.info["vocab"]) > 2000
    else:
        assert sum(w.isascii() for w in lines) > 0.95 * len(lines)


def test_seqvae_trains_on_lines_and_samples_lines(tmp_path):
    path = write_lines(tmp_path / "poems.txt", [
        "兰叶春葳蕤，桂华秋皎洁。", "欣欣此生意，自尔为佳节。", "谁知林栖者，闻风坐相悦。", "草木有本心，何求美人折？",
        "浮云终日行，游子久不至。", "三夜频梦君，情亲见君意。", "告归常局促，苦道来不易。", "江湖多风波，舟楫恐失坠。",
        "Some English, too: 42!", "And one more line.", "出门搔白首，若负平生志。", "冠盖满京华，斯人独憔悴。"] * 1)
    run = tmp_path / "run"
    result = train_small("seqvae", run, data=f"text:{path}", steps=20, batch_size=8, hidden=32, latent_dim=8,
                         embed_dim=16, max_len=24)
    assert result.step == 20
    model = genlab.load(run)
    assert model.data_info["unit"] == "line"
    out = tmp_path / "lines.txt"
    assert main(["sample", str(run), "--n", "12", "--seed", "3", "--out", str(out)]) == 0
    written = out.read_text(encoding="utf-8").splitlines()
    expected = model.decode_text(model.sample(12, seed=3)["tokens"])
    assert written == expected and len(written) == 12 and all(1 <= len(w) <= 24 for w in written)
    assert set("".join(written)) <= set(model.data_info["vocab"])
    test = load_dataset(f"text:{path}", max_len=24, split="test")
    scores = model.evaluate(test, n=50)
    for key in ("heldout_bits_per_char", "novel", "bigram_js", "trigram_js"):
        assert torch.isfinite(torch.tensor(scores[key])), key
    assert 0 <= scores["novel"] <= 1 and scores["heldout_bits_per_char"] > 0


def test_min_count_flag_sets_the_vocabulary_cut_off(tmp_path, capsys):
    path = write_lines(tmp_path / "lines.txt")
    for flags, kept in (([], False), (["--min-count", "1"], True)):
        run = tmp_path / f"run{len(flags)}"
        code = main(["train", "seqvae", "--data", f"text:{path}", "--max-len", "28", *flags, "--steps", "1",
                     "--batch-size", "4", "--hidden", "8", "--latent-dim", "2", "--embed-dim", "4", "--out", str(run)])
        assert code == 0
        vocab = genlab.load(run).data_info["vocab"]
        assert ("€" in vocab) == kept and "l" in vocab  # "€" is seen once, "l" often
        assert genlab.load(run).data_info["source"]["min_count"] == (1 if kept else 2)
    capsys.readouterr()
    code = main(["train", "vae", "--data", "digits", "--min-count", "3", "--steps", "1", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "has no option 'min_count'" in err
    code = main(["train", "seqvae", "--data", f"text:{path}", "--min-count", "0", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "min-count" in err.replace("_", "-")
