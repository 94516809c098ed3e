"""Human evaluation: the paper's Turing test (SeqGAN Table 2) as a blind sheet and its scoring.

``build`` mixes ``per_system`` samples of several systems (trained runs, a run's held-out test set, or
text files such as the real test set), shuffles them and writes, into a fresh directory:

- ``sheet.html``: the items to read, numbered, with instructions (self-contained, every sample escaped);
- ``sheet.csv``: ``id,text,judgement``, judgement left blank for the judge (1 = real/human, 0 = machine);
- ``key.csv``: ``id,system``, and ``key.json``: how the sheet was made (systems, sources, seed, ...).

Hand the judges ``sheet.html`` and ``sheet.csv`` only. The sheet carries no trace of the systems: ids are
random hex strings drawn after the shuffle (they do not encode the system or its position before the
shuffle), labels and sources appear only in the key, and relabelling the systems gives a byte-identical
sheet (tested).

``score`` reads the key and one filled sheet per judge and gives the paper's *human score* per system:
a judgement counts 1 when the item is judged real, and the score is the mean over the system's items
and all judges (paper: MLE 0.4165, SeqGAN 0.5356, real 0.6011; SeqGAN vs MLE p = 0.0034).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import os
import random
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgan.data.decode import render_rows
from seqgan.data.lines import check_regular_file, read_text
from seqgan.errors import UserError
from seqgan.extras import require
from seqgan.files import fsync_dir, write_atomic

KEY_FORMAT = "seqgan-turing-key"
KEY_VERSION = 1
SHEET_COLUMNS = ("id", "text", "judgement")
KEY_COLUMNS = ("id", "system")
# What a judge may write in the judgement column (case-insensitive, surrounding spaces ignored).
REAL_WORDS = frozenset({"1", "y", "yes", "real", "human"})
MACHINE_WORDS = frozenset({"0", "n", "no", "fake", "machine"})
_ACCEPTED = "1/0, y/n, yes/no, real/fake or human/machine"
TEST_SUFFIX = ":test"
_SPELLINGS = {"judgment": "judgement"}  # a header retyped by a judge in American spelling


@dataclass
class Item:
    system: str
    text: str


# ------------------------------------------------------------------ build
def _derive(*parts: object) -> int:
    """A 63-bit seed from ``parts``: stable across processes and Python versions (unlike ``hash``)."""
    digest = hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def read_text_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank lines of a UTF-8 file; surrounding whitespace is dropped."""
    hint = "give a run directory, RUN_DIR:test, or a text file with one sample per line"
    return [(n, line.strip()) for n, line in enumerate(read_text(path, what, hint)[0], 1) if line.strip()]


def _system_items(
    index: int, label: str, source: str, per_system: int, seed: int, checkpoint: str
) -> tuple[list[str], dict[str, Any]]:
    """The ``per_system`` texts of one system and what key.json records about how they were drawn."""
    what = f"--system {label}={source}"
    is_test = source.endswith(TEST_SUFFIX) and Path(source[: -len(TEST_SUFFIX)]).is_dir()
    path = Path(source[: -len(TEST_SUFFIX)] if is_test else source)
    if path.is_dir():
        import torch

        from seqgan.train.portable import load_run

        run = load_run(path, checkpoint)
        info: dict[str, Any] = {"checkpoint": checkpoint, "phase": run.phase, "epoch": run.epoch}
        if is_test:
            n = len(run.test)
            if n < per_system:
                raise UserError(
                    f"{what}: the run's test set holds {n} sequences, fewer than --per-system "
                    f"{per_system}: lower --per-system"
                )
            picked = sorted(random.Random(_derive(seed, "test", index)).sample(range(n), per_system))
            texts = render_rows([run.test[i].tolist() for i in picked], run.vocab)
            info.update(kind="run-test-set", test_rows=picked, test_size=n)
        else:
            rng = torch.Generator().manual_seed(_derive(seed, "generate", index))
            rows = run.generator.generate(per_system, run.config.data.seq_len, rng)
            texts = render_rows(rows, run.vocab)
            info.update(kind="run-samples", sampling_seed=_derive(seed, "generate", index), temperature=1.0)
        return texts, info
    lines = read_text_lines(path, what)
    if len(lines) < per_system:
        raise UserError(
            f"{what}: {path} holds {len(lines)} non-blank lines, fewer than --per-system {per_system}: "
            "lower --per-system or give a longer file"
        )
    picked = sorted(random.Random(_derive(seed, "lines", index)).sample(range(len(lines)), per_system))
    info = {"kind": "text-file", "lines": [lines[i][0] for i in picked], "non_blank_lines": len(lines)}
    return [lines[i][1] for i in picked], info


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        kind = "a non-empty directory" if out_dir.is_dir() else "a file"
        raise UserError(f"--out {out_dir} is {kind}: give a new (or empty) directory; nothing was written")
    if not out_dir.parent.is_dir():
        raise UserError(f"the folder of --out {out_dir} does not exist: create it first")


# A cell that starts with one of these is a formula to a spreadsheet program (CSV injection, OWASP).
_FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")


def neutralise_cell(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs: a leading ' before a formula start (OWASP). Cells that
    already start with quotes before one get one more, so :func:`restore_cell` undoes it exactly."""
    return "'" + cell if _FORMULA_START.match(cell) else cell


def restore_cell(cell: str) -> str:
    """The cell as it was before :func:`neutralise_cell`."""
    return cell[1:] if cell.startswith("'") and _FORMULA_START.match(cell[1:]) else cell


def _csv_bytes(rows: list[tuple[str, ...]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([[neutralise_cell(c) for c in row] for row in rows])
    # The byte-order mark makes spreadsheet programs open the file as UTF-8 (Chinese poems, accents).
    return buf.getvalue().encode("utf-8-sig")


_HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 50em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }
ol { padding-left: 0; list-style: none; }
li { border-top: 1px solid #ccc; padding: 0.6em 0; display: flex; gap: 1em; }
.n { min-width: 3em; color: #555; }
.id { font-family: monospace; color: #555; min-width: 6em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 1.1em; }
.empty { color: #888; font-style: italic; }
"""


def _sheet_html(ids: list[str], texts: list[str]) -> bytes:
    rows = []
    for n, (item_id, text) in enumerate(zip(ids, texts, strict=True), 1):
        shown = f'<span class="text">{html.escape(text)}</span>' if text else '<span class="empty">(empty)</span>'
        rows.append(f'<li><span class="n">{n}.</span><span class="id">{html.escape(item_id)}</span>{shown}</li>')
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Turing test: {len(ids)} items</title>
<style>{_HTML_STYLE}</style>
</head>
<body>
<h1>Real or machine?</h1>
<p>Each of the {len(ids)} items below was either written by people (real data) or generated by a machine.
Read each one and decide which you think it is. Judge every item on its own; there is no fixed share of
either kind.</p>
<p>Write your answers in <code>sheet.csv</code>: in the <code>judgement</code> column of the row with the
item's id, put <b>1</b> if you think it is real (written by people) or <b>0</b> if you think a machine
generated it ({html.escape(_ACCEPTED)} are also accepted). Do not change the ids or delete rows, and fill
every row. Save the file as CSV (UTF-8) and send it back.</p>
<ol>
{chr(10).join(rows)}
</ol>
</body>
</html>
"""
    return page.encode("utf-8")


def build(
    systems: list[tuple[str, str]], per_system: int, seed: int, out_dir: str | Path, checkpoint: str = "last"
) -> dict[str, Any]:
    """Write a blind Turing-test sheet mixing ``per_system`` samples of every system into ``out_dir``.

    Args:
        systems: (label, source) pairs. A source is a run directory written by ``seqgan train``
            (``per_system`` fresh samples of its generator at ``checkpoint``, temperature 1, decoded with the
            run's vocabulary; oracle runs give space-separated ids), ``RUN_DIR:test`` (``per_system`` rows of
            the run's held-out test set decoded the same way, so real and generated text share one
            tokenisation and casing, which a raw text file may not), or a UTF-8 text file of one sample per
            line (``per_system`` of its non-blank lines drawn at random, without replacement).
        per_system: items per system (the paper: 20).
        seed: every draw derives from it (and the system's position), so the same arguments give the same
            sheet. The shuffle and the ids also depend on the drawn texts, so knowing the seed and this
            code is not enough to recompute which position came from which system.
        out_dir: a new or empty directory (its parent must exist). Everything is drawn first, then
            written into a temporary sibling directory (each file with ``write_atomic``) that is renamed
            into place, so a failure leaves no partial sheet; into an existing empty directory the four
            files are moved one by one, ``key.json`` last.
    Returns:
        a summary: out_dir, the files, the number of items.
    """
    out_dir = Path(out_dir)
    labels = [label for label, _ in systems]
    if len(systems) < 2:
        raise UserError("a Turing test needs at least 2 systems (e.g. --system real=test.txt --system seqgan=RUN)")
    for label in labels:
        if not label or label != label.strip() or any(c in label for c in "\r\n"):
            raise UserError(
                f"system label {label!r} is empty or has surrounding spaces or line breaks: "
                "give --system LABEL=SOURCE with a plain label"
            )
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise UserError(f"system label {dupes[0]!r} is given twice: give every --system its own label")
    if per_system < 1:
        raise UserError("--per-system must be >= 1 (the paper: 20)")
    if seed < 0:
        raise UserError("--seed must be >= 0")
    if checkpoint not in ("last", "best", "prev"):
        raise UserError(f"--checkpoint {checkpoint!r}: use last, best or prev")
    _check_out_dir(out_dir)

    items: list[Item] = []
    described = []
    for index, (label, source) in enumerate(systems):
        texts, info = _system_items(index, label, source, per_system, seed, checkpoint)
        items.extend(Item(label, t) for t in texts)
        described.append({"label": label, "source": source, **info})

    # Labels are left out of both seeds: only the texts (in system order) and the seed decide the sheet.
    content = [seed, per_system, len(systems), *(item.text for item in items)]
    order = list(range(len(items)))
    random.Random(_derive("shuffle", *content)).shuffle(order)
    items = [items[i] for i in order]
    id_rng = random.Random(_derive("ids", *content))
    ids: list[str] = []
    while len(ids) < len(items):
        candidate = f"{id_rng.getrandbits(32):08x}"
        if candidate not in ids:
            ids.append(candidate)
    build_id = hashlib.sha256(json.dumps([content, ids]).encode()).hexdigest()[:16]

    from seqgan.version import __version__

    sheet_csv = _csv_bytes([SHEET_COLUMNS, *((i, item.text, "") for i, item in zip(ids, items, strict=True))])
    by_system = sorted(zip(ids, items, strict=True), key=lambda pair: (labels.index(pair[1].system), pair[0]))
    key_csv = _csv_bytes([KEY_COLUMNS, *((i, item.system) for i, item in by_system)])
    key_json = {
        "format": KEY_FORMAT,
        "version": KEY_VERSION,
        "build_id": build_id,
        "seed": seed,
        "per_system": per_system,
        "checkpoint": checkpoint,
        "items": len(items),
        "systems": described,
        "seqgan": __version__,
        "judgement": "1 = judged real (human), 0 = judged machine; human score = mean",
    }

    final = out_dir.resolve()  # "." or "x/" have no usable name or parent as given
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    key_bytes = (json.dumps(key_json, indent=2, ensure_ascii=False) + "\n").encode()
    files = {
        "sheet.html": _sheet_html(ids, [item.text for item in items]),
        "sheet.csv": sheet_csv,
        "key.csv": key_csv,
        "key.json": key_bytes,
    }
    try:
        for name, data in files.items():
            write_atomic(tmp / name, data)
        if final.exists():  # an empty folder (perhaps the working directory): keep it, move the files in
            for name in files:  # key.json last: its presence says the build is complete
                os.replace(tmp / name, final / name)
            fsync_dir(final)
        else:
            os.replace(tmp, final)
            fsync_dir(final.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "out_dir": str(out_dir),
        "items": len(items),
        "systems": labels,
        "per_system": per_system,
        "seed": seed,
        "build_id": build_id,
        "for_judges": [str(out_dir / "sheet.html"), str(out_dir / "sheet.csv")],
        "keep_secret": [str(out_dir / "key.csv"), str(out_dir / "key.json")],
    }


# ------------------------------------------------------------------ score
def _read_csv(path: Path, what: str, fix: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (lower-cased, stripped) and (line number, cells) of the non-empty rows of a CSV file.

    Accepts a UTF-8 byte-order mark and ``;`` or tab as the separator (spreadsheet programs in many
    locales save CSV that way).
    """
    check_regular_file(path, what, fix)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not UTF-8: save it as 'CSV UTF-8' in the spreadsheet program") from None
    if "\x00" in text:
        raise UserError(f"{what} {path} holds NUL bytes (binary or UTF-16): save it as 'CSV UTF-8'")
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    try:
        rows = list(_numbered(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))
    except csv.Error as e:
        raise UserError(f"{what} {path} is not valid CSV ({e}): {fix}") from None
    if not rows:
        raise UserError(f"{what} {path} is empty: {fix}")
    header = [c.strip().lower() for c in rows[0][1]]
    return [_SPELLINGS.get(c, c) for c in header], rows[1:]


def _numbered(reader: Any) -> Any:
    for cells in reader:
        if any(c.strip() for c in cells):
            yield reader.line_num, [restore_cell(c) for c in cells]


def read_key(key_file: str | Path) -> dict[str, str]:
    """id -> system of a ``key.csv`` written by :func:`build`, in the key's order (systems in build order)."""
    path = Path(key_file)
    fix = "give the key.csv that `seqgan turing-test build` wrote next to the sheet"
    header, rows = _read_csv(path, "--key", fix)
    if header[:2] != list(KEY_COLUMNS):
        hint = " (this is a sheet, not the key)" if "judgement" in header else ""
        raise UserError(f"--key {path} has columns {','.join(header)}, not id,system{hint}: {fix}")
    key: dict[str, str] = {}
    for line, cells in rows:
        if len(cells) < 2 or not cells[0].strip() or not cells[1].strip():
            raise UserError(f"--key {path} line {line}: an id or system is missing: the key is damaged; {fix}")
        item_id = cells[0].strip()
        if item_id in key:
            raise UserError(f"--key {path} line {line}: id {item_id} appears twice: the key is damaged; {fix}")
        key[item_id] = cells[1].strip()
    if not key:
        raise UserError(f"--key {path} holds no items: {fix}")
    return key


def parse_judgement(value: str) -> int | None:
    """1 (judged real), 0 (judged machine), None (blank); anything else raises ValueError."""
    word = value.strip().lower()
    if not word:
        return None
    if word in REAL_WORDS:
        return 1
    if word in MACHINE_WORDS:
        return 0
    raise ValueError(word)


def read_sheet(path: str | Path, key: dict[str, str], allow_blank: bool = False) -> tuple[dict[str, int], int]:
    """Judgements (id -> 0/1) of one filled sheet, and how many of the key's items it left unjudged.

    Unknown ids, ids given twice and invalid judgements are always errors. Blank judgements and rows
    that were deleted are errors too, unless ``allow_blank``: then they are skipped and counted (a judge
    who stopped half-way still counts for the items they judged; the count is in the report).
    """
    path = Path(path)
    fix = "give a sheet.csv filled by a judge (columns id,text,judgement)"
    header, rows = _read_csv(path, "sheet", fix)
    if "id" not in header or "judgement" not in header:
        hint = ": this is the answer key, keep it away from the judges" if header[:2] == list(KEY_COLUMNS) else ""
        raise UserError(
            f"sheet {path} has columns {','.join(header) or '(none)'}, without id and judgement{hint}; {fix}"
        )
    id_col, j_col = header.index("id"), header.index("judgement")
    ids = [(line, cells[id_col].strip() if id_col < len(cells) else "") for line, cells in rows]
    if ids and not any(i in key for _, i in ids):
        raise UserError(
            f"sheet {path}: none of its ids are in the key: it comes from another build; score it with "
            "the key.csv written next to its sheet.csv"
        )
    judged: dict[str, int] = {}
    seen: dict[str, int] = {}
    blank = 0
    for (line, cells), (_, item_id) in zip(rows, ids, strict=True):
        if item_id not in key:
            shown = repr(item_id) if item_id else "(blank)"
            raise UserError(
                f"sheet {path} line {line}: id {shown} is not in the key: restore the id from the "
                "original sheet.csv (or delete the row if it was added)"
            )
        if item_id in seen:
            raise UserError(
                f"sheet {path} line {line}: id {item_id} appears again (first on line {seen[item_id]}): "
                "keep one row per id"
            )
        seen[item_id] = line
        raw = cells[j_col] if j_col < len(cells) else ""
        try:
            value = parse_judgement(raw)
        except ValueError:
            raise UserError(
                f"sheet {path} line {line}: judgement {raw.strip()[:20]!r} of id {item_id} is not one of "
                f"{_ACCEPTED}: correct it"
            ) from None
        if value is None:
            if not allow_blank:
                raise UserError(
                    f"sheet {path} line {line}: id {item_id} has no judgement: ask the judge to fill it "
                    "(1 = real, 0 = machine), or pass --allow-blank to skip and count blanks"
                )
            blank += 1
            continue
        judged[item_id] = value
    missing = [i for i in key if i not in seen]
    if missing and not allow_blank:
        raise UserError(
            f"sheet {path} lacks {len(missing)} of the key's {len(key)} ids (first: {missing[0]}): "
            "restore those rows from the original sheet.csv and have them judged, or pass "
            "--allow-blank to skip and count them"
        )
    if not judged:
        raise UserError(f"sheet {path} holds no judgements: fill the judgement column (1 = real, 0 = machine)")
    return judged, blank + len(missing)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def summarize(values: list[int]) -> dict[str, Any]:
    """Human score (mean of the 0/1 judgements), their count, and the standard error of the mean.

    The standard error uses the sample variance (n - 1), the same estimate as Welch's t-test. Like the
    t-test it treats judgements as independent, which they are not quite (one judge rates many items,
    one item is rated by many judges): with few judges or few items read it as a lower bound.
    """
    n, k = len(values), sum(values)
    result: dict[str, Any] = {"human_score": k / n if n else None, "judgements": n, "judged_real": k, "std_error": None}
    if n >= 2:
        mean = k / n
        var = (k * (1 - mean) ** 2 + (n - k) * mean**2) / (n - 1)
        result["std_error"] = math.sqrt(var / n)
    return result


def compare(a: list[int], b: list[int]) -> dict[str, Any]:
    """Two-sided tests of equal human scores for two systems' 0/1 judgements.

    Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) is what the paper reports. On 0/1 data it
    leans on a normal approximation that is poor for few judgements or scores near 0 or 1, and it is
    undefined when neither system's judgements vary (e.g. all 1 against all 0). Fisher's exact test of
    the 2x2 table (system x judged real/machine) has neither problem, so both are given: when they
    disagree, trust Fisher. The p-values are not corrected for the number of pairs compared.
    """
    stats = require("scipy.stats", "seqgan turing-test score")
    a_sum, b_sum = summarize(a), summarize(b)
    result: dict[str, Any] = {"difference": None, "welch_t": None, "welch_df": None, "welch_p": None, "fisher_p": None}
    if not a or not b:
        return result
    result["difference"] = a_sum["human_score"] - b_sum["human_score"]
    table = [[sum(a), len(a) - sum(a)], [sum(b), len(b) - sum(b)]]
    result["fisher_p"] = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    varies = len(set(a)) > 1 or len(set(b)) > 1
    if len(a) >= 2 and len(b) >= 2 and varies:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t = stats.ttest_ind(a, b, equal_var=False)
        result.update(welch_t=_finite(t.statistic), welch_df=_finite(t.df), welch_p=_finite(t.pvalue))
    return result


def score(
    key_file: str | Path, sheet_files: list[str | Path], real: str | None = None, allow_blank: bool = False
) -> dict[str, Any]:
    """Human scores per system, pairwise significance tests and per-judge figures from filled sheets.

    Args:
        key_file: the ``key.csv`` of the build.
        sheet_files: one filled ``sheet.csv`` per judge (the same file twice is refused).
        real: the label of the real-data system; with it every judge's accuracy (real items judged 1,
            generated items judged 0) is reported, and the overall accuracy.
        allow_blank: skip blank judgements and deleted rows (counted per judge and overall) instead of
            refusing the sheet.
    """
    key = read_key(key_file)
    systems = list(dict.fromkeys(key.values()))
    if real is not None and real not in systems:
        raise UserError(f"--real {real!r} is not a system of the key: use one of {', '.join(systems)}")
    if not sheet_files:
        raise UserError("give at least one filled sheet.csv")
    resolved = [Path(s).resolve() for s in sheet_files]
    for i, p in enumerate(resolved):
        if p in resolved[:i]:
            raise UserError(f"sheet {sheet_files[i]} is given twice: give each judge's sheet once")
    values: dict[str, list[int]] = {s: [] for s in systems}
    judges = []
    total_blank = 0
    for sheet in sheet_files:
        judged, blank = read_sheet(sheet, key, allow_blank)
        total_blank += blank
        per_system: dict[str, list[int]] = {s: [] for s in systems}
        for item_id, value in judged.items():
            per_system[key[item_id]].append(value)
            values[key[item_id]].append(value)
        scores = {s: summarize(v)["human_score"] for s, v in per_system.items()}
        judge: dict[str, Any] = {
            "sheet": str(sheet),
            "judgements": len(judged),
            "unjudged": blank,
            "human_score": scores,
        }
        if real is not None:
            judge["correct"] = sum(v == (key[i] == real) for i, v in judged.items())
            judge["accuracy"] = judge["correct"] / len(judged)
        judges.append(judge)
    result: dict[str, Any] = {
        "key": str(key_file),
        "judges": len(judges),
        "items": len(key),
        "judgements": sum(map(len, values.values())),
        "unjudged": total_blank,
        "systems": {s: {"items": sum(v == s for v in key.values()), **summarize(values[s])} for s in systems},
        "tests": [
            {"a": a, "b": b, **compare(values[a], values[b])} for n, a in enumerate(systems) for b in systems[n + 1 :]
        ],
        "per_judge": judges,
        "real": real,
    }
    if real is not None:
        result["accuracy"] = sum(j["correct"] for j in judges) / result["judgements"]
    return result


def format_report(result: dict[str, Any]) -> str:
    """The score report as a few aligned lines of text (``--json`` prints the dict instead)."""

    def num(x: float | None, fmt: str = ".4f") -> str:
        return "n/a" if x is None else format(x, fmt)

    width = max(len("system"), *(len(s) for s in result["systems"]))
    lines = [
        f"{result['judges']} judge(s), {result['items']} items, {result['judgements']} judgements"
        + (f", {result['unjudged']} unjudged (skipped)" if result["unjudged"] else ""),
        f"{'system':{width}}  human score  std error  judged real / judgements",
    ]
    for name, s in result["systems"].items():
        lines.append(
            f"{name:{width}}  {num(s['human_score']):>11}  {num(s['std_error']):>9}  "
            f"{s['judged_real']} / {s['judgements']}"
        )
    for t in result["tests"]:
        welch = "Welch t-test undefined (no variation)"
        if t["welch_p"] is not None:
            welch = f"Welch t = {t['welch_t']:.3f} (df {t['welch_df']:.1f}), p = {t['welch_p']:.4g}"
        lines.append(
            f"{t['a']} vs {t['b']}: difference {num(t['difference'], '+.4f')}, {welch}; "
            f"Fisher exact p = {num(t['fisher_p'], '.4g')}"
        )
    for j in result["per_judge"]:
        extra = f", accuracy {j['accuracy']:.4f}" if "accuracy" in j else ""
        skipped = f", {j['unjudged']} unjudged" if j["unjudged"] else ""
        scores = ", ".join(f"{name} {num(x, '.3f')}" for name, x in j["human_score"].items())
        lines.append(f"judge {j['sheet']}: {j['judgements']} judgements{skipped}, human score {scores}{extra}")
    if "accuracy" in result:
        lines.append(f"accuracy of all judges (real = {result['real']}): {result['accuracy']:.4f}")
    return "\n".join(lines) + "\n"
