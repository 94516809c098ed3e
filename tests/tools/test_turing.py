"""Tests for the Turing-test kit (`seqgan turing-test build | score`, seqgan/turing.py).

Build: item counts, opaque and unique ids, no trace of the systems in the sheet, determinism, HTML
escaping, all-or-nothing writes. Score: human scores, standard errors, Welch and Fisher p-values
against hand computations, judge accuracy, and one-line errors (exit 2) for every bad input.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from pathlib import Path

import pytest
from helpers import ok as _ok
from helpers import user_error as _user_error

from seqgan import cli
from seqgan.tools import turing

ID_RE = re.compile(r"^[0-9a-f]{8}$")
REAL_LINES = ["the cat sat on the mat", "a dog runs in the park", "two birds sing at dawn", "rain falls on the roof"]
GEN_LINES = ["cat the the mat on", "dog dog park a runs", "birds birds birds", "roof rain on on"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def _fill(sheet: Path, out: Path, judge: dict[str, str], delimiter: str = ",") -> Path:
    """A judge's filled copy of ``sheet``: judgement = ``judge[text]``."""
    rows = _read_csv(sheet)
    assert rows[0] == ["id", "text", "judgement"]
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(rows[0])
        w.writerows([item_id, text, judge[text]] for item_id, text, _ in rows[1:])
    return out


@pytest.fixture
def texts(tmp_path: Path) -> tuple[Path, Path]:
    real, gen = tmp_path / "real.txt", tmp_path / "gen.txt"
    real.write_text("\n".join(REAL_LINES) + "\n\n", encoding="utf-8")  # a trailing blank line is skipped
    gen.write_text("\n".join(GEN_LINES) + "\n", encoding="utf-8")
    return real, gen


def _build(
    capsys: pytest.CaptureFixture[str], out: Path, systems: list[str], per_system: int = 4, seed: int = 0
) -> dict:
    argv = [
        "turing-test",
        "build",
        *(a for s in systems for a in ("--system", s)),
        "--per-system",
        str(per_system),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--json",
    ]
    return json.loads(_ok(capsys, argv).splitlines()[-1])


# ------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [["turing-test"], ["turing-test", "build"], ["turing-test", "score"]], ids=" ".join)
def test_help_has_usage_and_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: seqgan " + " ".join(command))
    assert "\nexample:\n  seqgan turing-test " in out


# ------------------------------------------------------------------ build
def test_build_mixes_runs_test_sets_and_text(
    tiny_run: Path, texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqgan.train.portable import load_run

    real, _ = texts
    out = tmp_path / "sheet"
    result = _build(capsys, out, [f"seqgan={tiny_run}", f"oracle={tiny_run}:test", f"real={real}"], per_system=3)
    assert result["items"] == 9 and sorted(p.name for p in out.iterdir()) == [
        "key.csv",
        "key.json",
        "sheet.csv",
        "sheet.html",
    ]
    sheet, key = _read_csv(out / "sheet.csv"), _read_csv(out / "key.csv")
    assert sheet[0] == ["id", "text", "judgement"] and key[0] == ["id", "system"]
    ids = [r[0] for r in sheet[1:]]
    assert len(ids) == 9 == len(set(ids)) and all(ID_RE.match(i) for i in ids)
    assert all(r[2] == "" for r in sheet[1:])  # left blank for the judge
    system_of = dict(key[1:])
    assert sorted(system_of) == sorted(ids)
    assert sorted(system_of.values()) == ["oracle"] * 3 + ["real"] * 3 + ["seqgan"] * 3
    text_of = {r[0]: r[1] for r in sheet[1:]}
    run = load_run(tiny_run)
    T, V = run.config.data.seq_len, run.config.data.vocab_size
    test_rows = {" ".join(map(str, r)) for r in run.test.tolist()}
    for item_id, system in system_of.items():
        text = text_of[item_id]
        if system == "real":
            assert text in REAL_LINES
        else:  # oracle task: space-separated ids of full length
            tokens = [int(t) for t in text.split()]
            assert len(tokens) == T and all(0 <= t < V for t in tokens)
            if system == "oracle":
                assert text in test_rows
    meta = json.loads((out / "key.json").read_text())
    assert meta["seed"] == 0 and meta["per_system"] == 3 and meta["items"] == 9
    assert [(s["label"], s["source"], s["kind"]) for s in meta["systems"]] == [
        ("seqgan", str(tiny_run), "run-samples"),
        ("oracle", f"{tiny_run}:test", "run-test-set"),
        ("real", str(real), "text-file"),
    ]
    assert len(meta["systems"][2]["lines"]) == 3 and set(meta["systems"][2]["lines"]) <= {1, 2, 3, 4}


def test_same_seed_same_sheet(
    tiny_run: Path, texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, _ = texts
    systems = [f"seqgan={tiny_run}", f"real={real}"]
    _build(capsys, tmp_path / "a", systems, per_system=3, seed=5)
    _build(capsys, tmp_path / "b", systems, per_system=3, seed=5)
    _build(capsys, tmp_path / "c", systems, per_system=3, seed=6)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    assert (tmp_path / "a" / "sheet.csv").read_bytes() != (tmp_path / "c" / "sheet.csv").read_bytes()


def test_sheet_carries_no_trace_of_the_systems(
    texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Swapping the labels of the two sources gives byte-identical sheets: ids and order carry no label."""
    real, gen = texts
    _build(capsys, tmp_path / "a", [f"HUMANLABEL={real}", f"MACHINELABEL={gen}"])
    _build(capsys, tmp_path / "b", [f"MACHINELABEL={real}", f"HUMANLABEL={gen}"])
    for name in ("sheet.csv", "sheet.html"):
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes()
        for secret in (b"HUMANLABEL", b"MACHINELABEL", b"real.txt", b"gen.txt", b"key"):
            assert secret not in data.replace(b"keep", b""), (name, secret)
    key_a, key_b = dict(_read_csv(tmp_path / "a" / "key.csv")[1:]), dict(_read_csv(tmp_path / "b" / "key.csv")[1:])
    assert key_a.keys() == key_b.keys() and all(key_a[i] != key_b[i] for i in key_a)
    # The shuffle mixes the systems: the sheet is not one system after the other.
    order = [key_a[r[0]] for r in _read_csv(tmp_path / "a" / "sheet.csv")[1:]]
    assert order != sorted(order) and order != sorted(order, reverse=True)


def test_html_escapes_every_sample(
    tmp_path: Path, texts: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    evil = ["<script>alert('x')</script> & \"quoted\"", "<img src=x onerror=alert(1)>", "plain"]
    src = tmp_path / "evil.txt"
    src.write_text("\n".join(evil) + "\n", encoding="utf-8")
    _build(capsys, tmp_path / "s", [f"evil={src}", f"gen={texts[1]}"], per_system=3)
    page = (tmp_path / "s" / "sheet.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert page.count("<li>") == 6 and '<meta charset="utf-8">' in page
    # The CSV keeps the text as it is (quoted by the csv module).
    assert sorted(r[1] for r in _read_csv(tmp_path / "s" / "sheet.csv")[1:] if r[1] in evil) == sorted(evil)
    assert html.unescape(page).count("<script>alert('x')</script>") == 1


def test_build_into_an_empty_directory(
    texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    _build(capsys, out, [f"a={texts[0]}", f"b={texts[1]}"], per_system=2)
    assert len(_read_csv(out / "sheet.csv")) == 5


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_build_is_all_or_nothing(
    existing: bool,
    texts: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = []
    real_write = turing.write_atomic

    def failing(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(turing, "write_atomic", failing)
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    err = _user_error(
        capsys,
        [
            "turing-test",
            "build",
            "--system",
            f"a={texts[0]}",
            "--system",
            f"b={texts[1]}",
            "--per-system",
            "2",
            "--out",
            str(out),
        ],
    )
    assert "No space left on device" in err and len(calls) == 3
    assert (out.is_dir() and not any(out.iterdir())) if existing else not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.txt", *(["out"] if existing else []), "real.txt"]


@pytest.mark.parametrize(
    "case",
    [
        "no-equals",
        "one-system",
        "same-label",
        "missing-source",
        "too-few-lines",
        "per-system-0",
        "not-a-run",
        "binary-source",
        "out-parent-missing",
        "bad-checkpoint",
    ],
)
def test_build_user_errors(
    case: str, texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, gen = texts
    out = tmp_path / "out"
    systems, extra = [f"real={real}", f"gen={gen}"], ["--per-system", "2"]
    if case == "no-equals":
        systems[1] = str(gen)
    elif case == "one-system":
        systems = systems[:1]
    elif case == "same-label":
        systems[1] = f"real={gen}"
    elif case == "missing-source":
        systems[1] = f"gen={tmp_path / 'nope.txt'}"
    elif case == "too-few-lines":
        extra = ["--per-system", "5"]
    elif case == "per-system-0":
        extra = ["--per-system", "0"]
    elif case == "not-a-run":
        (tmp_path / "folder").mkdir()
        systems[1] = f"gen={tmp_path / 'folder'}"
    elif case == "binary-source":
        (tmp_path / "bin.txt").write_bytes(b"\xff\xfeh\x00i\x00\n\x00")
        systems[1] = f"gen={tmp_path / 'bin.txt'}"
    elif case == "out-parent-missing":
        out = tmp_path / "no" / "out"
    elif case == "bad-checkpoint":
        extra += ["--checkpoint", "newest"]
    err = _user_error(
        capsys, ["turing-test", "build", *(a for s in systems for a in ("--system", s)), *extra, "--out", str(out)]
    )
    expected = {
        "no-equals": "LABEL=SOURCE",
        "one-system": "at least 2",
        "same-label": "twice",
        "missing-source": "does not exist",
        "too-few-lines": "fewer than --per-system 5",
        "per-system-0": ">= 1",
        "not-a-run": "no config.json",
        "binary-source": "UTF-8",
        "out-parent-missing": "create it first",
        "bad-checkpoint": "--checkpoint",
    }[case]
    assert expected in err
    assert not out.exists()


def test_build_refuses_a_non_empty_directory(
    texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "old"
    _build(capsys, out, [f"a={texts[0]}", f"b={texts[1]}"], per_system=2)
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}, _snapshot(out)
    err = _user_error(
        capsys,
        [
            "turing-test",
            "build",
            "--system",
            f"a={texts[0]}",
            "--system",
            f"b={texts[1]}",
            "--seed",
            "9",
            "--per-system",
            "2",
            "--out",
            str(out),
        ],
    )
    assert "non-empty directory" in err
    assert ({p: p.stat().st_mtime_ns for p in out.iterdir()}, _snapshot(out)) == before


# ------------------------------------------------------------------ score
# Two judges, 4 real and 4 generated items each (every line of both files is on the sheet).
JUDGE_A = dict(zip(REAL_LINES, ["1", "1", "1", "0"], strict=True)) | dict(
    zip(GEN_LINES, ["1", "0", "0", "0"], strict=True)
)
JUDGE_B = dict(zip(REAL_LINES, ["Real", "n", "HUMAN", "y"], strict=True)) | dict(
    zip(GEN_LINES, ["fake", "Yes", "1", "machine"], strict=True)
)
REAL_VALUES = [1, 1, 1, 0] + [1, 0, 1, 1]  # 6 / 8 judged real
GEN_VALUES = [1, 0, 0, 0] + [0, 1, 1, 0]  # 3 / 8 judged real


@pytest.fixture
def filled(texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, Path]:
    real, gen = texts
    out = tmp_path / "t"
    _build(capsys, out, [f"real={real}", f"gen={gen}"], per_system=4, seed=3)
    a = _fill(out / "sheet.csv", tmp_path / "judge_a.csv", JUDGE_A)
    b = _fill(out / "sheet.csv", tmp_path / "judge_b.csv", JUDGE_B, delimiter=";")  # a European spreadsheet
    b.write_bytes(b.read_bytes().replace(b"id;text;judgement", b"ID;Text;Judgment", 1))  # retyped header
    return out / "key.csv", a, b


def _hand_se(values: list[int]) -> float:
    n, p = len(values), sum(values) / len(values)
    return math.sqrt(sum((v - p) ** 2 for v in values) / (n - 1) / n)


def _hand_fisher(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p: the hypergeometric probability of every table no more likely than the observed."""
    m, n = k1 + k2, n1 + n2
    prob = {k: math.comb(n1, k) * math.comb(n2, m - k) / math.comb(n, m) for k in range(max(0, m - n2), min(m, n1) + 1)}
    return sum(p for p in prob.values() if p <= prob[k1] * (1 + 1e-9))


def test_score_matches_hand_computation(filled: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from scipy import stats

    key, a, b = filled
    r = json.loads(
        _ok(
            capsys, ["turing-test", "score", "--key", str(key), str(a), str(b), "--real", "real", "--json"]
        ).splitlines()[-1]
    )
    assert (r["judges"], r["items"], r["judgements"], r["unjudged"]) == (2, 8, 16, 0)
    real, gen = r["systems"]["real"], r["systems"]["gen"]
    assert (real["items"], real["judgements"], real["judged_real"], real["human_score"]) == (4, 8, 6, 0.75)
    assert (gen["items"], gen["judgements"], gen["judged_real"], gen["human_score"]) == (4, 8, 3, 0.375)
    # s^2 = n/(n-1) p(1-p): real 8/7 * 0.75 * 0.25, gen 8/7 * 0.375 * 0.625; SE = sqrt(s^2 / n)
    assert real["std_error"] == pytest.approx(math.sqrt(8 / 7 * 0.75 * 0.25 / 8), rel=1e-12)
    assert real["std_error"] == pytest.approx(0.163663, abs=1e-6)
    assert gen["std_error"] == pytest.approx(math.sqrt(8 / 7 * 0.375 * 0.625 / 8), rel=1e-12)
    assert real["std_error"] == pytest.approx(_hand_se(REAL_VALUES)) and gen["std_error"] == pytest.approx(
        _hand_se(GEN_VALUES)
    )
    # Welch by hand: t = (m1 - m2) / sqrt(v1/n1 + v2/n2), Welch-Satterthwaite df, two-sided p from Student's t.
    v1, v2 = 8 / 7 * 0.75 * 0.25 / 8, 8 / 7 * 0.375 * 0.625 / 8
    t_hand = (0.75 - 0.375) / math.sqrt(v1 + v2)
    df_hand = (v1 + v2) ** 2 / (v1**2 / 7 + v2**2 / 7)
    p_hand = 2 * stats.t.sf(abs(t_hand), df_hand)
    (test,) = r["tests"]
    assert (test["a"], test["b"]) == ("real", "gen")
    assert test["difference"] == pytest.approx(0.375)
    assert test["welch_t"] == pytest.approx(t_hand, rel=1e-12)
    assert test["welch_t"] == pytest.approx(1.5275, abs=1e-4)
    assert test["welch_df"] == pytest.approx(df_hand, rel=1e-12)
    assert test["welch_p"] == pytest.approx(p_hand, rel=1e-10)
    assert test["welch_p"] == pytest.approx(stats.ttest_ind(REAL_VALUES, GEN_VALUES, equal_var=False).pvalue)
    assert test["fisher_p"] == pytest.approx(_hand_fisher(6, 8, 3, 8), rel=1e-12)
    assert test["fisher_p"] == pytest.approx(2 * (8 + 224 + 1568) / 11440)  # tables with k <= 3 or k >= 6
    # Accuracy: A gets 3 real + 3 generated right, B 3 + 2 (of 8 each).
    judges = {Path(j["sheet"]).name: j for j in r["per_judge"]}
    assert judges["judge_a.csv"]["accuracy"] == 6 / 8 and judges["judge_b.csv"]["accuracy"] == 5 / 8
    assert judges["judge_a.csv"]["human_score"] == {"real": 0.75, "gen": 0.25}
    assert judges["judge_b.csv"]["human_score"] == {"real": 0.75, "gen": 0.5}
    assert r["accuracy"] == 11 / 16 and r["real"] == "real"


def test_score_text_report(filled: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    key, a, b = filled
    out = _ok(capsys, ["turing-test", "score", "--key", str(key), str(a), str(b)])
    assert "real" in out and "0.7500" in out and "0.3750" in out and "6 / 8" in out and "3 / 8" in out
    assert "real vs gen: difference +0.3750" in out and "Fisher exact p = 0.3147" in out
    assert "accuracy" not in out  # only with --real


def test_welch_undefined_without_variation(
    texts: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t"
    _build(capsys, out, [f"real={texts[0]}", f"gen={texts[1]}"], per_system=4)
    sheet = _fill(out / "sheet.csv", tmp_path / "j.csv", dict.fromkeys(REAL_LINES, "1") | dict.fromkeys(GEN_LINES, "0"))
    text = _ok(capsys, ["turing-test", "score", "--key", str(out / "key.csv"), str(sheet), "--json"])
    r = json.loads(text.splitlines()[-1])  # strict JSON: no NaN
    (test,) = r["tests"]
    assert test["welch_t"] is None and test["welch_p"] is None
    assert test["fisher_p"] == pytest.approx(_hand_fisher(4, 4, 0, 4))
    assert test["fisher_p"] == pytest.approx(2 / 70)  # the two extreme tables, 1/70 each
    assert r["systems"]["real"]["std_error"] == 0.0
    assert "undefined" in _ok(capsys, ["turing-test", "score", "--key", str(out / "key.csv"), str(sheet)])


def test_blank_judgements(filled: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key, a, _ = filled
    rows = _read_csv(a)
    rows[2][2] = " "  # one blank judgement
    del rows[5]  # one deleted row
    partial = tmp_path / "partial.csv"
    with open(partial, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    err = _user_error(capsys, ["turing-test", "score", "--key", str(key), str(partial)])
    assert "partial.csv line 3" in err and "no judgement" in err and "--allow-blank" in err
    rows[2][2] = "1"
    with open(partial, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    err = _user_error(capsys, ["turing-test", "score", "--key", str(key), str(partial)])
    assert "lacks 1 of the key's 8 ids" in err
    rows[2][2] = ""
    with open(partial, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    r = json.loads(
        _ok(capsys, ["turing-test", "score", "--key", str(key), str(partial), "--allow-blank", "--json"]).splitlines()[
            -1
        ]
    )
    assert r["judgements"] == 6 and r["unjudged"] == 2 and r["per_judge"][0]["unjudged"] == 2
    assert sum(s["judgements"] for s in r["systems"].values()) == 6


@pytest.mark.parametrize(
    "case",
    [
        "unknown-id",
        "duplicate-id",
        "invalid-judgement",
        "missing-key",
        "key-is-sheet",
        "sheet-is-key",
        "other-build",
        "unknown-real",
        "same-sheet-twice",
        "not-utf8",
        "damaged-key",
        "empty-sheet",
    ],
)
def test_score_user_errors(
    case: str,
    filled: tuple[Path, Path, Path],
    texts: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, a, b = filled
    rows = _read_csv(a)
    bad = tmp_path / "bad.csv"
    sheets, extra = [str(bad)], []

    def write(rs: list[list[str]]) -> None:
        with open(bad, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rs)

    if case == "unknown-id":
        rows[4][0] = "deadbeef"
        write(rows)
    elif case == "duplicate-id":
        rows.append(rows[1])
        write(rows)
    elif case == "invalid-judgement":
        rows[3][2] = "maybe"
        write(rows)
    elif case == "missing-key":
        key = tmp_path / "nokey.csv"
        sheets = [str(a)]
    elif case == "key-is-sheet":
        key, sheets = a, [str(b)]
    elif case == "sheet-is-key":
        sheets = [str(key)]
    elif case == "other-build":
        _build(capsys, tmp_path / "other", [f"real={texts[0]}", f"gen={texts[1]}"], per_system=4, seed=99)
        _fill(tmp_path / "other" / "sheet.csv", bad, JUDGE_A)
    elif case == "unknown-real":
        sheets, extra = [str(a)], ["--real", "human"]
    elif case == "same-sheet-twice":
        sheets = [str(a), str(b), str(a)]
    elif case == "not-utf8":
        bad.write_bytes(a.read_bytes().replace(b"the cat", "thé cat".encode("latin-1")))
    elif case == "damaged-key":
        key = tmp_path / "key.csv"
        key.write_text("id,system\nabc\n")
        sheets = [str(a)]
    elif case == "empty-sheet":
        bad.write_bytes(b"")
    before = _snapshot(tmp_path)
    err = _user_error(capsys, ["turing-test", "score", "--key", str(key), *sheets, *extra])
    expected = {
        "unknown-id": "bad.csv line 5: id 'deadbeef' is not in the key",
        "duplicate-id": "bad.csv line 10: id",
        "invalid-judgement": "bad.csv line 4: judgement 'maybe'",
        "missing-key": "nokey.csv does not exist",
        "key-is-sheet": "this is a sheet, not the key",
        "sheet-is-key": "this is the answer key",
        "other-build": "comes from another build",
        "unknown-real": "--real 'human' is not a system of the key: use one of real, gen",
        "same-sheet-twice": "given twice",
        "not-utf8": "not UTF-8",
        "damaged-key": "key.csv line 2",
        "empty-sheet": "bad.csv is empty",
    }[case]
    assert expected in err
    assert _snapshot(tmp_path) == before  # scoring writes nothing


def test_parse_judgement_spellings() -> None:
    for word in ("1", "y", "Y", "yes", "REAL", "Human", " 1 "):
        assert turing.parse_judgement(word) == 1
    for word in ("0", "n", "No", "fake", "MACHINE"):
        assert turing.parse_judgement(word) == 0
    assert turing.parse_judgement("  ") is None
    for word in ("2", "maybe", "true", "0.5"):
        with pytest.raises(ValueError):
            turing.parse_judgement(word)
