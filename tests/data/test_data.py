"""Tests for `seqgan prepare` and seqgan.data: tokenising, the vocabulary, tensor layout, splits, the
authors' id format, atomic output, and one-line user errors for every kind of bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seqgan.data.text as data
from seqgan.cli.common import Parser
from seqgan.cli.prepare import register
from seqgan.data.prepared import load_prepared
from seqgan.data.text import prepare
from seqgan.data.vocab import BOS, EOS, PAD, UNK, Vocab, tokenize
from seqgan.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "b a c\na b\nd a\n"  # counts: a 3, b 2, c 1, d 1 -> a=4, b=5, c=6, d=7 (c before d: tie, string order)


def _file(tmp_path: Path, content: str | bytes, name: str = "in.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _prep(tmp_path: Path, content: str | bytes, out: str = "out", **kw) -> tuple[dict, data.PreparedData]:
    kw.setdefault("test_frac", 0.0)
    kw.setdefault("valid_frac", 0.0)  # every line in train unless a test asks for held-out splits
    report = prepare(_file(tmp_path, content), tmp_path / out, **kw)
    return report, load_prepared(tmp_path / out)


def _distinct_lines(n: int) -> list[str]:
    """n different lines made of the same few words ("one zero one x", ...): whatever lines are held out, their
    words were seen in training, so they decode back exactly (held-out-only words would become <unk>)."""
    return [
        " ".join("one" if i >> b & 1 else "zero" for b in range(max(1, (n - 1).bit_length()))) + " x" for i in range(n)
    ]


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


# --------------------------------------------------------------- tokenising
def test_tokenize_levels() -> None:
    assert tokenize("  The cat\tsat \r\n", "word") == ["The", "cat", "sat"]
    assert tokenize("The Cat", "word", lowercase=True) == ["the", "cat"]
    assert tokenize("床前明月光", "char") == ["床", "前", "明", "月", "光"]
    assert tokenize(" a b\r\n", "char") == [" ", "a", " ", "b"]
    assert tokenize("AbC", "char", lowercase=True) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("level", "text", "line", "expected"),
    [
        ("word", "the cat sat\nthe dog\n", "the  dog sat ", "the dog sat"),
        ("char", "床前明月光\n疑是地上霜\n", "床前明月光", "床前明月光"),
        ("char", "床前 明月光 ab c\n举头望明月\n", " 床前 明月光 ab c", " 床前 明月光 ab c"),
        ("word", "The Cat\nthe DOG\n", "THE cat dog", "the cat dog"),
    ],
)
def test_encode_decode_round_trip(tmp_path: Path, level: str, text: str, line: str, expected: str) -> None:
    _, d = _prep(tmp_path, text, level=level, lowercase=level == "word" and "The" in text)
    ids = d.vocab.encode(line)
    assert UNK not in ids
    assert d.vocab.decode(ids) == expected
    assert d.vocab.decode(ids + [EOS, 4, PAD]) == expected  # stops at EOS
    assert d.vocab.decode(torch.tensor([BOS, *ids, EOS, PAD, PAD])) == expected


def test_decode_unknown_and_specials(tmp_path: Path) -> None:
    _, d = _prep(tmp_path, CORPUS)
    assert d.vocab.encode("a zebra <eos> <unk> b") == [4, UNK, UNK, UNK, 5]
    assert d.vocab.decode([4, UNK, PAD, 5, EOS, 6]) == "a <unk> b"
    with pytest.raises(ValueError):
        d.vocab.decode([99])
    char = Vocab("char", ["<pad>", "<bos>", "<eos>", "<unk>", "x", " "], 6, dict(data.SPECIALS))
    assert char.decode([4, 5, UNK, 4]) == "x <unk>x"


# --------------------------------------------------------------- vocabulary
def test_vocab_ids_hand_computed(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS)
    assert d.vocab.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "c", "d"]
    assert d.vocab_size == report["vocab_size"] == 8
    assert d.vocab.encode("d c b a") == [7, 6, 5, 4]
    assert report["unk_rate"] == 0.0


def test_vocab_ties_use_python_string_order(tmp_path: Path) -> None:
    _, d = _prep(tmp_path, "b B a é _\nb\n")
    assert d.vocab.tokens[4:] == ["b", "B", "_", "a", "é"]


def test_vocab_is_deterministic_across_processes(tmp_path: Path) -> None:
    src = _file(tmp_path, "".join(f"w{i % 37} x{i % 11} y{i % 5} z\n" for i in range(200)))
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        code = f"from seqgan.data.text import prepare; prepare({str(src)!r}, {str(out)!r})"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
        outs.append(out)
    assert (outs[0] / "vocab.json").read_bytes() == (outs[1] / "vocab.json").read_bytes()
    a, b = load_prepared(outs[0]), load_prepared(outs[1])
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)


def test_vocab_size_cap_and_unk_rate(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS, vocab_size=6)
    assert d.vocab.tokens[4:] == ["a", "b"] and d.vocab_size == 6
    assert report["unk_rate"] == pytest.approx(2 / 7, abs=1e-6)  # c and d among 7 tokens
    assert d.train[0].tolist() == [5, 4, UNK, EOS]
    assert d.vocab.decode(d.train[2]) == "<unk> a"


def test_min_freq(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS, min_freq=3)
    assert d.vocab.tokens[4:] == ["a"]
    assert report["unk_rate"] == pytest.approx(4 / 7, abs=1e-6)
    report, d = _prep(tmp_path, CORPUS, out="o2", min_freq=1)
    assert d.vocab_size == 8 and report["unk_rate"] == 0.0


def test_literal_unk_maps_to_unk_and_reserved_tokens_are_refused(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, "a <unk> b\nb\n")
    assert "<unk>" not in d.vocab.tokens[4:] and d.train[0].tolist()[:3] == [5, UNK, 4]
    assert report["unk_rate"] == pytest.approx(1 / 4, abs=1e-6)
    with pytest.raises(UserError, match=r"line 2 holds the reserved token <eos>"):
        prepare(_file(tmp_path, "a b\nc <eos>\n"), tmp_path / "o2")


# ------------------------------------------------------------ tensor layout
def test_tensor_layout_eos_pad(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS)
    assert d.train.dtype == torch.long and d.train.shape == (3, 4) and d.seq_len == report["seq_len"] == 4
    assert d.train.tolist() == [[5, 4, 6, EOS], [4, 5, EOS, PAD], [7, 4, EOS, PAD]]
    assert d.train_lengths.tolist() == [4, 3, 3]
    assert d.test.shape == (0, 4) and d.test_lengths.shape == (0,)
    assert (d.start_token, d.eos_token, d.pad_token) == (BOS, EOS, PAD)
    assert report["length"] == {
        "min": 2,
        "max": 3,
        "mean": pytest.approx(2.3333, abs=1e-4),
        "p50": 2,
        "p95": 3,
        "p99": 3,
    }


def test_max_len_drops_and_counts(tmp_path: Path) -> None:
    text = "a\na b\na b c\na b c d\n\n"
    report, d = _prep(tmp_path, text, max_len=2)
    assert report["dropped"] == {"blank": 1, "too_long": 2}
    assert (report["lines_read"], report["lines_kept"], report["seq_len"]) == (5, 2, 3)
    assert d.train.shape == (2, 3) and d.train_lengths.tolist() == [2, 3]
    report, d = _prep(tmp_path, text, out="o2", max_len=10)
    assert report["seq_len"] == 11 and report["dropped"]["too_long"] == 0


def test_blank_lines_and_line_endings(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, "a b\r\n\r\n   \n\t\nb\n")
    assert report["dropped"]["blank"] == 3 and report["lines_read"] == 5 and report["lines_kept"] == 2
    assert d.vocab.tokens[4:] == ["b", "a"]
    # char level: a line of spaces is data (spaces are tokens); only an empty line is blank; \r is never a token
    report, d = _prep(tmp_path, "\ufeffab\r\n\r\n  \ncd", out="c", level="char")
    assert report["dropped"]["blank"] == 1 and report["lines_kept"] == 3
    assert "\r" not in d.vocab.tokens and "\ufeff" not in d.vocab.tokens and " " in d.vocab.tokens
    assert [d.vocab.decode(row) for row in d.train] == ["ab", "  ", "cd"]


def test_char_level_chinese_file(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, "床前明月光\n疑是地上霜\n举头望明月\n低头思故乡\n", level="char")
    assert report["seq_len"] == 6 and report["unk_rate"] == 0.0
    assert d.vocab.tokens[4:7] == ["头", "明", "月"]  # each seen twice; ties in code point order
    assert [d.vocab.decode(r) for r in d.train] == ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡"]
    vocab_text = (tmp_path / "out" / "vocab.json").read_text(encoding="utf-8")
    assert "床" in vocab_text  # human-readable: not \\u escapes


# ------------------------------------------------------------------- splits
def test_split_sizes_and_determinism(tmp_path: Path) -> None:
    lines = _distinct_lines(10)
    text = "".join(line + "\n" for line in lines)
    r, d = _prep(tmp_path, text, test_frac=0.25, seed=3)
    assert (r["train_size"], r["test_size"]) == (7, 3)  # ceil(2.5)
    r2, d2 = _prep(tmp_path, text, out="again", test_frac=0.25, seed=3)
    assert torch.equal(d.train, d2.train) and torch.equal(d.test, d2.test)
    rows = sorted(d.vocab.decode(x) for x in torch.cat([d.train, d.test]))
    assert rows == sorted(lines)  # a partition of the lines
    seen = {
        tuple(sorted(d.vocab.decode(x) for x in load_prepared(d_).test))
        for d_ in [tmp_path / "out"]
        + [
            tmp_path / f"s{s}"
            for s in range(5)
            if prepare(_file(tmp_path, text), tmp_path / f"s{s}", seed=s, test_frac=0.25)
        ]
    }
    assert len(seen) > 1  # other seeds, other test sets
    assert _prep(tmp_path, text, out="f07", test_frac=0.7)[0]["test_size"] == 7  # no float round-up to 8
    assert _prep(tmp_path, text, out="f01", test_frac=0.01)[0]["test_size"] == 1  # at least one


def test_split_follows_seeded_shuffle(tmp_path: Path) -> None:
    import random

    lines = _distinct_lines(8)
    _, d = _prep(tmp_path, "".join(line + "\n" for line in lines), test_frac=0.25, seed=5)
    order = list(range(8))
    random.Random(5).shuffle(order)
    assert [d.vocab.decode(r) for r in d.test] == [lines[i] for i in sorted(order[-2:])]
    assert [d.vocab.decode(r) for r in d.train] == [lines[i] for i in sorted(order[:-2])]


def test_vocabulary_comes_from_the_training_lines_only(tmp_path: Path) -> None:
    """Held-out lines are only encoded: a word seen only there is <unk>, and their share of <unk> is reported."""
    text = "a b\na c\nb c\nq r\n"  # q and r occur in one line only
    for seed in range(20):
        report, d = _prep(tmp_path, text, out=f"s{seed}", test_frac=0.25, seed=seed)
        held_out = d.vocab.decode(d.test[0])
        if held_out == "<unk> <unk>":  # the line with q and r went to the test split
            assert "q" not in d.vocab.tokens and report["test_unk_rate"] == 1.0 and report["unk_rate"] == 0.0
            return
    raise AssertionError("no seed put the q r line in the test split")


def test_test_frac_zero_and_too_few_lines(tmp_path: Path) -> None:
    assert _prep(tmp_path, "a b\n", test_frac=0.0)[0]["test_size"] == 0
    with pytest.raises(UserError, match=r"holding out 1 test and 0 validation line\(s\) leaves none"):
        prepare(_file(tmp_path, "a b\n\n"), tmp_path / "o2", test_frac=0.1, valid_frac=0.0)
    with pytest.raises(UserError, match=r"holding out 0 test and 1 validation line\(s\) leaves none"):
        prepare(_file(tmp_path, "a b\n\n"), tmp_path / "o3", test_frac=0.0)


# ---------------------------------------------------------------- id format
def test_ids_format(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, "0 5 9\n3 3 3\n\n9 0 1\n", ids=True, vocab_size=10)
    assert d.train.tolist() == [[0, 5, 9], [3, 3, 3], [9, 0, 1]] and d.train_lengths.tolist() == [3, 3, 3]
    assert (d.start_token, d.eos_token, d.pad_token, d.seq_len, d.vocab_size) == (0, None, None, 3, 10)
    assert report["dropped"]["blank"] == 1 and report["unk_rate"] == 0.0
    vocab = json.loads((tmp_path / "out" / "vocab.json").read_text())
    assert vocab["tokens"] is None and vocab["vocab_size"] == 10 and vocab["specials"] == {} and vocab["level"] == "ids"
    assert d.vocab.decode([4, 0, 2]) == "4 0 2" and d.vocab.encode("1 2") == [1, 2]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("0 1 2\n1 10 2\n", r"line 2: id 10 is outside 0\.\.9"),
        ("0 1 2\n\n1 -1 2\n", r"line 3: id -1 is outside"),
        ("0 1 2\nthe cat sat\n", r"line 2: 'the' is not an integer id"),
        ("0 1 2\n1 2.5 3\n", r"line 2: '2\.5' is not an integer id"),
        ("0 1 2\n1 2 3\n1 2\n", r"line 3 has 2 ids but line 1 has 3"),
    ],
)
def test_ids_bad_lines_name_the_line(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(UserError, match=pattern):
        prepare(_file(tmp_path, text), tmp_path / "out", ids=True, vocab_size=10)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------- atomic output
def test_failed_force_leaves_old_dir_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _prep(tmp_path, CORPUS)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    def boom(*args, **kwargs):
        assert any(".tmp-" in p.name for p in tmp_path.iterdir())  # the temp dir exists at this point
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare(_file(tmp_path, "x y z\nz y\n"), tmp_path / "out", force=True, test_frac=0.0)
    with pytest.raises(RuntimeError):
        prepare(_file(tmp_path, "x y z\nz y\n"), tmp_path / "fresh", test_frac=0.0)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert not (tmp_path / "fresh").exists() and _leftovers(tmp_path) == []


def test_force_replaces_and_refuses_foreign_dirs(tmp_path: Path) -> None:
    _prep(tmp_path, CORPUS)
    with pytest.raises(UserError, match="already exists: pass --force"):
        prepare(_file(tmp_path, "x y\n"), tmp_path / "out", test_frac=0.0, valid_frac=0.0)
    prepare(_file(tmp_path, "x y\n"), tmp_path / "out", test_frac=0.0, valid_frac=0.0, force=True)
    assert load_prepared(tmp_path / "out").vocab.tokens[4:] == ["x", "y"] and _leftovers(tmp_path) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds 'notes.txt', which seqgan prepare did not write"):
        prepare(_file(tmp_path, "x y\n"), tmp_path / "mine", test_frac=0.0, valid_frac=0.0, force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    prepare(_file(tmp_path, "x y\n"), tmp_path / "empty", test_frac=0.0, valid_frac=0.0, force=True)
    assert (tmp_path / "empty" / "train.pt").exists()


def test_manifest(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS, lowercase=True, seed=4)
    m = d.manifest
    assert (m["format"], m["version"], m["seq_len"], m["vocab_size"]) == ("seqgan-data", 1, 4, 8)
    assert m["source"] == str((tmp_path / "in.txt").resolve())
    assert m["source_sha256"] == hashlib.sha256(CORPUS.encode()).hexdigest()
    assert m["options"] == {
        "level": "word",
        "lowercase": True,
        "max_len": None,
        "vocab_size": None,
        "min_freq": None,
        "test_frac": 0.0,
        "seed": 4,
        "ids": False,
        "test_file": None,
        "valid_frac": 0.0,
        "valid_file": None,
    }
    assert m["report"] == report and report["out"] == str(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "test.pt",
        "train.pt",
        "valid.pt",
        "vocab.json",
    ]
    saved = torch.load(tmp_path / "out" / "train.pt", weights_only=True)
    assert set(saved) == {"tokens", "lengths"} and saved["lengths"].dtype == torch.long


# --------------------------------------------------------------- bad input
BAD_CASES = {
    "missing file": (None, {}, "does not exist"),
    "directory": ("DIR", {}, "is a directory"),
    "empty file": (b"", {}, "is empty"),
    "only blank lines": ("\n  \n\n", {}, "only blank lines"),
    "binary": (b"a b\n\x00\x01\x02", {}, "binary"),
    "not utf-8": (b"a b\ncaf\xe9 noir\n", {}, r"line 2 is not UTF-8 .*iconv -f <enc> -t utf-8"),
    "ids without vocab-size": ("0 1\n", {"ids": True}, "--ids needs --vocab-size"),
    "ids with min-freq": ("0 1\n", {"ids": True, "vocab_size": 5, "min_freq": 2}, "--ids reads the ids as they are"),
    "vocab-size too small": (CORPUS, {"vocab_size": 4}, "--vocab-size 4 leaves no room"),
    "vocab-size and min-freq": (CORPUS, {"vocab_size": 10, "min_freq": 2}, "give only one of them"),
    "min-freq 0": (CORPUS, {"min_freq": 0}, "--min-freq 0 must be >= 1"),
    "max-len 0": (CORPUS, {"max_len": 0}, "--max-len 0 must be >= 1"),
    "test-frac 1": (CORPUS, {"test_frac": 1.0}, r"--test-frac 1.0 must be in \[0, 1\)"),
    "test-frac negative": (CORPUS, {"test_frac": -0.1}, "--test-frac -0.1 must be"),
    "level": (CORPUS, {"level": "wordpiece"}, "--level 'wordpiece' is unknown"),
    "all too long": (CORPUS, {"max_len": 1}, "all 3 non-blank lines .* exceed --max-len 1"),
    "too few lines": ("a b\n", {"test_frac": 0.5}, "1 usable line"),
    "out parent missing": (CORPUS, {"out": "no/such/dir"}, "the folder of --out .* does not exist"),
    "out is a file": (CORPUS, {"out": "other.txt", "force": True}, "exists and is not a directory"),
    "out is the input": (CORPUS, {"out": "in.txt", "force": True}, "the input .* lies inside --out"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_a_user_error(tmp_path: Path, case: str) -> None:
    content, kw, pattern = BAD_CASES[case]
    src = tmp_path / "in.txt"
    if content == "DIR":
        src.mkdir()
    elif content is not None:
        _file(tmp_path, content)
    out = tmp_path / kw.pop("out", "out")
    if out.name == "other.txt":
        out.write_text("keep")
    with pytest.raises(UserError, match=pattern) as exc:
        prepare(src, out, **kw)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def _parser_run(argv: list[str]) -> None:
    p = Parser(prog="seqgan")
    sub = p.add_subparsers(parser_class=Parser)
    register(sub)
    args = p.parse_args(argv)
    args.func(args)


def test_parser_runs_prepare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _file(tmp_path, CORPUS)
    _parser_run(["prepare", str(src), "--out", str(tmp_path / "o"), "--test-frac", "0", "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["vocab_size"] == 8 and report["dropped"] == {"blank": 0, "too_long": 0}
    _parser_run(
        [
            "prepare",
            str(src),
            "--out",
            str(tmp_path / "o"),
            "--force",
            "--level",
            "char",
            "--test-frac",
            "0",
            "--valid-frac",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert "dropped: blank=0 too_long=0" in out and "vocab_size: 9" in out  # a b c d and the space


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["prepare", "{d}/nope.txt", "--out", "{d}/o"], "does not exist"),
        (["prepare", "{d}/in.txt", "--out", "{d}/o", "--test-frac", "abc"], "invalid float value"),
        (["prepare", "{d}/in.txt", "--out", "{d}/o", "--vocab-size", "3"], "--vocab-size 3 leaves no room"),
        (["prepare", "{d}/in.txt", "--out", "{d}/o", "--ids"], "--ids needs --vocab-size"),
        (["prepare", "{d}/in.txt"], "--out"),
    ],
)
def test_parser_user_errors(tmp_path: Path, argv: list[str], pattern: str) -> None:
    _file(tmp_path, CORPUS)
    with pytest.raises(UserError, match=pattern):
        _parser_run([a.format(d=tmp_path) for a in argv])
    assert not (tmp_path / "o").exists()


def test_main_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqgan import cli

    if "prepare" not in cli.build_parser().format_help():
        pytest.skip("`prepare` is not wired into seqgan.cli yet")
    src = _file(tmp_path, b"caf\xe9\n")
    assert cli.main(["prepare", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "line 1 is not UTF-8" in err
    assert cli.main(["prepare", str(_file(tmp_path, CORPUS)), "--out", str(tmp_path / "o"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["lines_kept"] == 3


# ------------------------------------------------------------ loading back
def test_load_prepared_round_trip(tmp_path: Path) -> None:
    report, d = _prep(tmp_path, CORPUS * 4, test_frac=0.25)
    assert d.train.shape == (9, 4) and d.test.shape == (3, 4) and d.test_lengths.shape == (3,)
    assert d.vocab == Vocab.load(tmp_path / "out" / "vocab.json")
    assert d.manifest["report"] == report
    d.vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == d.vocab


def test_load_prepared_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"is not a prepared data directory \(no such directory\).*seqgan prepare"):
        load_prepared(tmp_path / "nope")
    _prep(tmp_path, CORPUS)
    out = tmp_path / "out"
    (out / "train.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="train.pt is damaged"):
        load_prepared(out)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "version": 2}))
    with pytest.raises(UserError, match="manifest.json is not seqgan-data v1"):
        load_prepared(out)
    (out / "vocab.json").unlink()
    with pytest.raises(UserError, match=r"\(missing vocab.json\): create it with `seqgan prepare INPUT --out"):
        load_prepared(out)


def test_vocab_load_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        Vocab.load(tmp_path / "v.json")
    (tmp_path / "v.json").write_text("{not json")
    with pytest.raises(UserError, match="is damaged"):
        Vocab.load(tmp_path / "v.json")
    (tmp_path / "v.json").write_text(json.dumps({"format": "seqgan-vocab", "version": 9}))
    with pytest.raises(UserError, match="version 1"):
        Vocab.load(tmp_path / "v.json")
    (tmp_path / "v.json").write_text(
        json.dumps({"format": "seqgan-vocab", "version": 1, "level": "word", "tokens": ["a"], "vocab_size": 1})
    )
    with pytest.raises(UserError, match="is damaged"):
        Vocab.load(tmp_path / "v.json")


def test_test_file_is_the_test_split_with_train_vocabulary(tmp_path):
    """--test-file: the test split is that file, unknown test words become <unk>, T covers both files."""
    from seqgan.data.prepared import load_prepared
    from seqgan.data.text import prepare

    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("a b c\na b\n", encoding="utf-8")
    test.write_text("a z b c d\n\nb\n", encoding="utf-8")
    report = prepare(train, tmp_path / "out", test_file=test, valid_frac=0.0)
    data = load_prepared(tmp_path / "out")
    assert report["train_size"] == 2 and report["test_size"] == 2 and report["test_dropped"]["blank"] == 1
    assert data.seq_len == 6  # the longest test line (5 tokens) + EOS
    assert data.vocab.tokens[4:] == ["a", "b", "c"]  # frequency order, from the training file only
    assert data.test[0].tolist() == [4, 3, 5, 6, 3, 2] and data.test_lengths.tolist() == [6, 2]
    assert report["test_unk_rate"] == pytest.approx(2 / 6)


# -------------------------------------------------------------- validation split
def test_valid_split_comes_from_the_lines_left_after_the_test_split(tmp_path: Path) -> None:
    """The test split does not depend on the validation options; validation takes the n_valid shuffled lines
    before the test lines, train the rest; the three are disjoint and cover every line."""
    import random

    lines = _distinct_lines(20)
    text = "".join(line + "\n" for line in lines)
    r0, d0 = _prep(tmp_path, text, out="none", test_frac=0.2, seed=7)
    r1, d1 = _prep(tmp_path, text, out="some", test_frac=0.2, valid_frac=0.25, seed=7)
    assert torch.equal(d0.test, d1.test) and (r1["train_size"], r1["valid_size"], r1["test_size"]) == (12, 4, 4)
    order = list(range(20))
    random.Random(7).shuffle(order)
    decode = lambda rows: [d1.vocab.decode(r) for r in rows]  # noqa: E731
    assert decode(d1.valid) == [lines[i] for i in sorted(order[12:16])]
    assert decode(d1.train) == [lines[i] for i in sorted(order[:12])]
    assert sorted(decode(d1.train) + decode(d1.valid) + decode(d1.test)) == sorted(lines)
    assert d1.manifest["options"]["valid_frac"] == 0.25 and d0.valid.shape == (0, d0.seq_len)


def test_valid_file_and_valid_frac_errors(tmp_path: Path) -> None:
    valid = _file(tmp_path, "a q\n\n", name="valid.txt")
    report, d = _prep(tmp_path, CORPUS, valid_file=valid)
    assert report["valid_size"] == 1 and report["train_size"] == 3
    assert d.valid[0].tolist() == [4, UNK, EOS, PAD]  # "q" is not in the training vocabulary
    for bad in (-0.1, 1.0):
        with pytest.raises(UserError, match="--valid-frac"):
            prepare(_file(tmp_path, CORPUS), tmp_path / f"bad{bad}", valid_frac=bad)
    with pytest.raises(UserError, match="validation file .* holds no usable lines"):
        prepare(_file(tmp_path, CORPUS), tmp_path / "blank", valid_file=_file(tmp_path, "\n \n", name="b.txt"))


def test_directory_without_a_split_file_is_refused(tmp_path: Path) -> None:
    _prep(tmp_path, CORPUS * 3, test_frac=0.25, valid_frac=0)
    assert load_prepared(tmp_path / "out").valid.shape[0] == 0  # an empty split is an empty file
    (tmp_path / "out" / "valid.pt").unlink()
    with pytest.raises(UserError, match="not a prepared data directory \\(missing valid.pt\\)"):
        load_prepared(tmp_path / "out")
