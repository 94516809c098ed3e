"""Tests for seqgan.eval.bleu (BLEU / Self-BLEU equal to NLTK's, to 1e-9) and the `bleu` / `self-bleu` commands."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import pytest

from seqgan import cli
from seqgan.cli import tools as cli_tools
from seqgan.cli.common import Parser
from seqgan.errors import UserError
from seqgan.eval.bleu import bleu, self_bleu, sentence_bleus, sentence_self_bleus

ORDERS = (1, 2, 3, 4, 5, 6)


def _corpus(rng: random.Random, size: int, vocab: list, max_len: int = 12) -> list[list]:
    return [[rng.choice(vocab) for _ in range(rng.randint(0, max_len))] for _ in range(size)]


def _random_case(seed: int) -> tuple[list[list], list[list]]:
    """Small vocabularies (n-grams repeat), lengths 0..12 (many shorter than n, many length ties),
    str tokens for even seeds and int tokens for odd ones, duplicated hypotheses."""
    rng = random.Random(seed)
    size = rng.randint(5, 8)
    vocab: list = list(range(size)) if seed % 2 else [f"w{i}" for i in range(size)]
    hyps = _corpus(rng, rng.randint(2, 30), vocab)
    refs = _corpus(rng, rng.randint(1, 30), vocab)
    hyps += [list(h) for h in rng.sample(hyps, min(3, len(hyps)))]  # duplicates among hypotheses
    if seed % 3 == 0:  # a reference set with gaps in lengths, so closest-length ties are frequent
        refs = [r for r in refs if len(r) % 2 == 0] or [[vocab[0]] * 4]
    return hyps, refs


# ------------------------------------------------------------------ NLTK oracle
@pytest.mark.parametrize("seed", range(12))
def test_bleu_equals_nltk(seed: int) -> None:
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    smooth = nltk_bleu.SmoothingFunction().method1
    hyps, refs = _random_case(seed)
    ours = sentence_bleus(hyps, refs, ORDERS)
    means = bleu(hyps, refs, ORDERS)
    for n in ORDERS:
        want = [nltk_bleu.sentence_bleu(refs, h, weights=(1 / n,) * n, smoothing_function=smooth) for h in hyps]
        assert max(abs(a - b) for a, b in zip(ours[n], want, strict=True)) <= 1e-9
        assert abs(means[n] - sum(want) / len(want)) <= 1e-9
        assert all(0.0 <= s <= 1.0 for s in ours[n])


@pytest.mark.parametrize("seed", range(12))
def test_self_bleu_equals_nltk(seed: int) -> None:
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    smooth = nltk_bleu.SmoothingFunction().method1
    hyps, _ = _random_case(seed)
    ours = sentence_self_bleus(hyps, ORDERS)
    means = self_bleu(hyps, ORDERS)
    for n in ORDERS:
        want = [
            nltk_bleu.sentence_bleu(hyps[:i] + hyps[i + 1 :], h, weights=(1 / n,) * n, smoothing_function=smooth)
            for i, h in enumerate(hyps)
        ]
        assert max(abs(a - b) for a, b in zip(ours[n], want, strict=True)) <= 1e-9
        assert abs(means[n] - sum(want) / len(want)) <= 1e-9
        assert all(0.0 <= s <= 1.0 for s in ours[n])


def test_self_bleu_length_held_by_one_hypothesis_equals_nltk() -> None:
    """Lengths held by exactly one hypothesis: the closest *other* length (ties to the shorter) is used."""
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    smooth = nltk_bleu.SmoothingFunction().method1
    hyps = [list("ab"), list("abc"), list("abcd"), list("abcdx"), list("bcdxa"), list("aaaaaaaa"), list("b")]
    ours = sentence_self_bleus(hyps, (2, 4))
    for n in (2, 4):
        want = [
            nltk_bleu.sentence_bleu(hyps[:i] + hyps[i + 1 :], h, weights=(1 / n,) * n, smoothing_function=smooth)
            for i, h in enumerate(hyps)
        ]
        assert ours[n] == pytest.approx(want, abs=1e-12)


# ------------------------------------------------------------------ hand-computed cases
def test_identical_hypothesis_and_reference_is_one() -> None:
    s = "the cat sat on the mat today".split()
    assert bleu([s], [s]) == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}


def test_disjoint_vocabularies_give_zero() -> None:
    # No common unigram: NLTK returns 0 before any smoothing (method1 does not apply to p_1 = 0 / 3).
    assert bleu([["a", "b", "c"]], [["x", "y", "z"]], (1, 2, 4)) == {1: 0.0, 2: 0.0, 4: 0.0}
    assert bleu([[]], [["x"]], (1, 2)) == {1: 0.0, 2: 0.0}  # empty hypothesis


def test_method1_smoothing_by_hand() -> None:
    # Unigrams: a, c match -> p1 = 2/4. Bigrams ab, bc, cd never match -> method1: p2 = (0 + 0.1) / 3.
    # Same length -> BP = exp(1 - 4/4) = 1. BLEU-2 = sqrt(1/2 * 0.1/3) = sqrt(1/60).
    got = bleu([["a", "b", "c", "d"]], [["a", "x", "c", "y"]], (2,))[2]
    assert got == pytest.approx(math.sqrt(1 / 60), abs=1e-15)


def test_hypothesis_shorter_than_n_by_hand() -> None:
    # p1 = 1/1; no bigram in a 1-token hypothesis -> p2 = (0 + 0.1) / max(1, 0) = 0.1; BP = 1.
    assert bleu([["a"]], [["a"]], (2,))[2] == pytest.approx(math.sqrt(0.1), abs=1e-15)


def test_brevity_penalty_by_hand() -> None:
    # p1 = p2 = 1; closest reference length 4 > 2 -> BP = exp(1 - 4/2) = exp(-1).
    assert bleu([["a", "b"]], [["a", "b", "c", "d"]], (2,))[2] == pytest.approx(math.exp(-1), abs=1e-15)


def test_closest_length_tie_takes_shorter_reference() -> None:
    # Hyp length 3, reference lengths 2 and 4 tie: NLTK takes 2, so BP = 1 (with 4 it would be exp(-1/3)).
    assert bleu([["a", "b", "c"]], [["a", "b"], ["a", "b", "c", "x"]], (2,))[2] == 1.0


def test_clipping_by_hand() -> None:
    # "the the the the": 'the' appears at most 2 times in one reference -> p1 = 2/4; bigram 'the the' at most 1
    # time -> p2 = 1/3; closest length 4 -> BP = 1. BLEU-2 = sqrt(2/4 * 1/3).
    refs = [["the", "the", "cat", "x"], ["the", "cat", "the", "y"]]
    assert bleu([["the"] * 4], refs, (2,))[2] == pytest.approx(math.sqrt(1 / 6), abs=1e-15)


def test_corpus_against_itself_is_one() -> None:
    rng = random.Random(3)
    hyps = [[rng.choice("abcdef") for _ in range(rng.randint(5, 12))] for _ in range(50)]
    refs = hyps + _corpus(rng, 30, list("abcdefgh"))
    assert bleu(hyps, refs) == {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0}


def test_self_bleu_excludes_the_hypothesis_but_keeps_duplicates() -> None:
    hyps = [["a", "b"], ["a", "b"], ["c", "d"]]
    assert sentence_self_bleus(hyps, (2,))[2] == [1.0, 1.0, 0.0]
    assert self_bleu(hyps, (2,))[2] == pytest.approx(2 / 3)
    assert self_bleu([["a", "b"], ["c", "d"]], (2,)) == {2: 0.0}


def test_integer_and_string_tokens_agree() -> None:
    hyps, refs = _random_case(4)
    vocab = sorted({t for s in hyps + refs for t in s})
    ids = {w: i for i, w in enumerate(vocab)}
    as_ids = [[ids[t] for t in s] for s in hyps], [[ids[t] for t in s] for s in refs]
    assert bleu(*as_ids) == bleu(hyps, refs)
    assert self_bleu(as_ids[0]) == self_bleu(hyps)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bleu([], [["a"]]), "hypothesis list is empty"),
        (lambda: bleu([["a"]], []), "reference list is empty"),
        (lambda: self_bleu([["a", "b"]]), "at least 2 hypotheses"),
        (lambda: self_bleu([]), "hypothesis list is empty"),
        (lambda: bleu([["a"]], [["a"]], (0, 2)), "order 0"),
        (lambda: bleu([["a"]], [["a"]], (-1,)), "order -1"),
        (lambda: bleu([["a"]], [["a"]], (2.0,)), "order 2.0"),
        (lambda: bleu([["a"]], [["a"]], ()), "at least one BLEU order"),
    ],
)
def test_errors(call, message: str) -> None:
    with pytest.raises(UserError, match=message):
        call()


# ------------------------------------------------------------------ command line
def _own_main(argv: list[str]) -> int:
    parser = Parser(prog="seqgan")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    cli_tools.register(sub)
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except UserError as e:
        print(f"error: {e}", file=__import__("sys").stderr)
        return 2
    return 0


def _registered() -> bool:
    actions = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return any("bleu" in a.choices for a in actions)


@pytest.fixture(params=["own-parser", "seqgan.cli.main"])
def run(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]):
    if request.param == "seqgan.cli.main" and not _registered():
        pytest.skip("`bleu` is not wired into seqgan.cli yet")
    main = _own_main if request.param == "own-parser" else cli.main

    def _run(argv: list[str]) -> tuple[int, str, str]:
        rc = main(argv)
        out = capsys.readouterr()
        return rc, out.out, out.err

    return _run


def _write(folder: Path, name: str, data: bytes | str) -> str:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def test_cli_bleu_and_self_bleu(run, tmp_path: Path) -> None:
    hyps = _write(tmp_path, "h.txt", "a b c d\n\n  \na b x\r\na b c d\n")
    refs = _write(tmp_path, "r.txt", "\ufeffa b c d e\na x c\n")
    rc, out, err = run(["bleu", "--hyps", hyps, "--refs", refs, "--n", "3", "2", "--json"])
    assert rc == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    want = bleu([["a", "b", "c", "d"], ["a", "b", "x"], ["a", "b", "c", "d"]], [list("abcde"), list("axc")], (2, 3))
    assert got == {
        "bleu2": want[2],
        "bleu3": want[3],
        "num_hypotheses": 3,
        "num_references": 2,
        "protocol": "full",
        "blank_lines_skipped_hyps": 2,
        "blank_lines_skipped_refs": 0,
    }
    rc, out, err = run(["self-bleu", "--hyps", hyps, "--protocol", "full", "--json"])
    assert rc == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    assert got["self_bleu2"] == self_bleu([["a", "b", "c", "d"], ["a", "b", "x"], ["a", "b", "c", "d"]])[2]
    assert set(got) >= {"self_bleu3", "self_bleu4", "self_bleu5", "num_hypotheses", "protocol"}
    rc, out, _ = run(["bleu", "--hyps", hyps, "--refs", refs])
    assert rc == 0 and "bleu2: " in out and "protocol: full" in out


@pytest.mark.parametrize("command", ["bleu", "self-bleu"])
def test_cli_help_has_example(run, capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  seqgan " + command in out and "--protocol {full}" in out


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({}, [], "does not exist"),
        ({"h.txt": b""}, [], "holds no sentences"),
        ({"h.txt": b"\n  \n\n"}, [], "holds no sentences"),
        ({"h.txt": b"ok line\ncaf\xe9 au lait\n"}, [], "line 2 is not UTF-8"),
        ({"h.txt": b"ok\n\x00\x01\x02\n"}, [], "line 2 holds a NUL byte"),
        ({"h.txt": b"a b\n"}, ["--n", "0"], "--n 0 is invalid"),
        ({"h.txt": b"a b\n"}, ["--protocol", "fast"], "invalid choice"),
    ],
)
def test_cli_user_errors(run, tmp_path: Path, files: dict, extra: list[str], message: str) -> None:
    for name, data in files.items():
        _write(tmp_path, name, data)
    refs = _write(tmp_path, "r.txt", "a b c\n")
    for argv in (
        ["bleu", "--hyps", str(tmp_path / "h.txt"), "--refs", refs],
        ["self-bleu", "--hyps", str(tmp_path / "h.txt")],
    ):
        rc, out, err = run(argv + extra)
        assert rc == 2 and err.startswith("error:") and err.count("\n") == 1, err
        assert message in err and "Traceback" not in err


def test_cli_self_bleu_needs_two_lines(run, tmp_path: Path) -> None:
    rc, _, err = run(["self-bleu", "--hyps", _write(tmp_path, "h.txt", "just one line\n\n")])
    assert rc == 2 and "at least 2" in err
