"""``seqgan prepare``: text (or the authors' id lines) -> a prepared data directory.

One sequence per line, tokenised at the word, punct or char level; the vocabulary comes from the training lines
(specials first, then tokens by frequency, ties in string order). The test split is drawn first (``test_frac`` or
``test_file``), the validation split from the lines left (``valid_frac`` or ``valid_file``), so the test split does
not depend on the validation options. With ``labels="tab"`` every line is ``LABEL<TAB>TEXT`` and each label's
lines are split apart (stratified; :mod:`seqgan.data.labels`).

Prose: ``unit="sentence"`` splits every line into sentences (:mod:`seqgan.data.sentences`) and draws the splits by
line, so no held-out sentence shares a line (a paragraph) with a training sentence. Subword levels (``bpe``,
``unigram``, or a user's ``tokenizer``) train their tokenizer on the training split alone, after the split, and
store it in the vocabulary (:mod:`seqgan.data.subword`).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from seqgan.config import LIMITS
from seqgan.data.labels import check_labels_option, label_counts, split_tab_lines, stratified_split, unknown_label
from seqgan.data.lines import TEXT_HINT, lone_cr_count, read_text
from seqgan.data.prepared import DATA_FORMAT, VERSION, check_out, held_out_count, shuffled_split, write_prepared
from seqgan.data.sentences import splitter
from seqgan.data.subword import SUBWORD_LEVELS, TRAINED, Subword, read_tokenizer, train_tokenizer
from seqgan.data.vocab import BOS, EOS, PAD, SPECIAL_TOKENS, SPECIALS, UNK, Vocab, parse_id, tokenize
from seqgan.errors import UserError


def _check_options(
    level: str,
    ids: bool,
    max_len: int | None,
    vocab_size: int | None,
    min_freq: int | None,
    test_frac: float,
    lowercase: bool,
    unit: str = "line",
    tokenizer: object = None,
) -> None:
    problems = [
        (
            level not in ("word", "punct", "char", *SUBWORD_LEVELS),
            f"--level {level!r} is unknown: use word, punct, char, bpe or unigram",
        ),
        (unit not in ("line", "sentence"), f"--unit {unit!r} is unknown: use line or sentence"),
        (
            tokenizer is not None and level != "subword",
            "--tokenizer brings its own pieces: drop --level (or drop --tokenizer to train one with --level bpe)",
        ),
        (level == "subword" and tokenizer is None, "--level subword needs --tokenizer FILE"),
        (
            level in TRAINED and vocab_size is None,
            f"--level {level} trains a tokenizer of V tokens: give --vocab-size V (e.g. 8000)",
        ),
        (
            level in TRAINED and min_freq is not None,
            f"--level {level} sizes its pieces by --vocab-size: drop --min-freq",
        ),
        (ids and (vocab_size is None or vocab_size < 1), "--ids needs --vocab-size V >= 1 (ids lie in 0..V-1)"),
        (
            ids and (level != "word" or lowercase or min_freq is not None or max_len is not None or unit != "line"),
            "--ids reads the ids as they are: drop --level, --lowercase, --min-freq, --max-len and --unit",
        ),
        (
            not ids and vocab_size is not None and vocab_size <= 4,
            f"--vocab-size {vocab_size} leaves no room beside the 4 special tokens: give at least 5",
        ),
        (
            vocab_size is not None and min_freq is not None,
            "--vocab-size and --min-freq both cap the vocabulary: give only one of them",
        ),
        (min_freq is not None and min_freq < 1, f"--min-freq {min_freq} must be >= 1 (1 keeps every token)"),
        (max_len is not None and max_len < 1, f"--max-len {max_len} must be >= 1 (tokens per line, without EOS)"),
        (not 0 <= test_frac < 1, f"--test-frac {test_frac} must be in [0, 1), e.g. 0.1 (0: no test set)"),
    ]
    for bad, message in problems:
        if bad:
            raise UserError(message)


def prepare(
    input_path: str | Path,
    out_dir: str | Path,
    *,
    level: str = "word",
    lowercase: bool = False,
    max_len: int | None = None,
    vocab_size: int | None = None,
    min_freq: int | None = None,
    test_frac: float = 0.1,
    seed: int = 0,
    ids: bool = False,
    force: bool = False,
    test_file: str | Path | None = None,
    valid_frac: float = 0.1,
    valid_file: str | Path | None = None,
    labels: str | None = None,
    unit: str = "line",
    language: str = "en",
    tokenizer: str | Path | None = None,
) -> dict[str, Any]:
    """Text file (or id lines, ``ids=True``) -> prepared directory, complete or not at all; returns the report.

    With ``test_file`` the test split is that file (e.g. a benchmark's reference set) instead of a random
    ``test_frac`` of the input; the vocabulary then comes from the input alone, so unknown test tokens
    become ``<unk>`` (``test_unk_rate`` in the report). The validation split (model selection: best.pt, early
    stopping) is ``valid_file`` or a random ``valid_frac`` of the lines left after the test split; the test split
    is drawn first, so it does not depend on the validation options.

    With ``labels="tab"`` every non-blank line (held-out files too) is ``LABEL<TAB>TEXT``: the vocabulary gets the
    label names (sorted: id k = k-th name), each split file the label ids, and each label's lines are split apart
    with the same rule, so every split keeps each label's share.

    ``unit="sentence"``: every line is split into sentences in ``language`` (a pysbd code), each sentence one
    sequence; the splits are drawn by line. ``level="bpe"`` / ``"unigram"``: a tokenizer of ``vocab_size`` tokens
    trained on the training split; ``tokenizer``: a user's tokenizer.json (pieces by frequency in the training
    split, capped by ``vocab_size`` / ``min_freq`` as words are)."""
    level = "subword" if tokenizer is not None and level == "word" else level
    _check_options(level, ids, max_len, vocab_size, min_freq, test_frac, lowercase, unit, tokenizer)
    subword = level in SUBWORD_LEVELS
    check_labels_option(labels, "tab", "every line LABEL<TAB>TEXT")
    if not 0 <= valid_frac < 1:
        raise UserError(f"--valid-frac {valid_frac} must be in [0, 1), e.g. 0.1 (0: no validation set)")
    path, out = Path(input_path), Path(os.path.abspath(out_dir))
    lines, raw = read_text(path)
    if not raw:
        raise UserError(f"input file {path} is empty: {TEXT_HINT}")
    check_out(out, force, [path] + [f for f in (test_file, valid_file) if f is not None])
    user_tokenizer = read_tokenizer(tokenizer) if tokenizer is not None else None
    segment = splitter(language) if unit == "sentence" else None
    sentences = {"found": 0}

    def units(lines: list[str], src: str | Path | None) -> list[tuple[int, str]]:
        """(line number, text) of every sequence: the lines, or their sentences (a blank line: one blank unit)."""
        if segment is None:
            return list(enumerate(lines, 1))
        out: list[tuple[int, str]] = []
        for n, line in enumerate(lines, 1):
            found = segment(line, f"{src} line {n}")
            sentences["found"] += len(found)
            out += [(n, s) for s in found] or [(n, "")]
        return out

    def keep(lines: list[str], dropped: dict[str, int], src: str | Path | None) -> list[tuple[int, Any]]:
        """The non-blank units as (line number, tokens); subword levels keep the text (stripped), tokenised once
        the tokenizer is trained."""
        kept = []
        for n, line in units(lines, src):
            toks = line.split() if ids or subword else tokenize(line, level, lowercase)
            if not toks:
                dropped["blank"] += 1
            elif subword:
                kept.append((n, line.strip()))
            elif max_len is not None and len(toks) > max_len:
                dropped["too_long"] += 1
            else:
                kept.append((n, toks))
        return kept

    def labelled(
        lines: list[str], src: str | Path | None, dropped: dict[str, int]
    ) -> tuple[list[tuple[int, list[str]]], list[str | None]]:
        """The kept lines of a file and, with --labels, their labels (the text after the tab is the line)."""
        texts, names = (lines, []) if labels is None else split_tab_lines(lines, src)
        got = keep(texts, dropped, src)
        return got, [names[n - 1] for n, _ in got] if labels is not None else []

    def held_out(
        src: str | Path | None, what: str, dropped: dict[str, int]
    ) -> tuple[list[tuple[int, list[str]]], list[str | None]]:
        return labelled(read_text(src, what)[0], src, dropped) if src is not None else ([], [])

    dropped, test_dropped = {"blank": 0, "too_long": 0}, {"blank": 0, "too_long": 0}
    kept, kept_names = labelled(lines, path, dropped)
    test_kept, test_names = held_out(test_file, "test file", test_dropped)
    if test_file is not None and not test_kept:
        raise UserError(f"test file {test_file} holds no usable lines: {TEXT_HINT}")
    valid_dropped = {"blank": 0, "too_long": 0}
    valid_kept, valid_names = held_out(valid_file, "validation file", valid_dropped)
    if valid_file is not None and not valid_kept:
        raise UserError(f"validation file {valid_file} holds no usable lines: {TEXT_HINT}")
    if not kept and dropped["too_long"]:
        raise UserError(f"all {dropped['too_long']} non-blank lines of {path} exceed --max-len {max_len}: raise it")
    if not kept:
        raise UserError(f"input file {path} holds only blank lines: {TEXT_HINT}")
    label_names = None if labels is None else sorted(set(kept_names))
    label_index = {name: k for k, name in enumerate(label_names or [])}
    if label_names is not None:
        for src, other_kept, other_names in ((test_file, test_kept, test_names), (valid_file, valid_kept, valid_names)):
            unknown_label(other_names, label_names, src, [n for n, _ in other_kept], path)

    def split() -> tuple[list[int], list[int], list[int]]:  # after every line was checked
        # Drawn over source lines: a line's sentences stay together (with --unit line each line is one unit).
        first = {}
        for i, (n, _) in enumerate(kept):
            first.setdefault(n, i)
        group = {n: g for g, n in enumerate(first)}
        if label_names is None:
            parts = _split(len(first), test_frac, valid_frac, seed, test_file, valid_file, path)
        else:
            parts = stratified_split(
                [label_index[kept_names[i]] for i in first.values()],
                label_names,
                seed,
                lambda n, label_seed, name: _split(
                    n, test_frac, valid_frac, label_seed, test_file, valid_file, path, name
                ),
            )
        where = [set(part) for part in parts]
        return tuple([i for i, (n, _) in enumerate(kept) if group[n] in w] for w in where)  # type: ignore[return-value]

    if ids:
        vocab, (first_n, first) = Vocab("ids", None, vocab_size, labels=label_names), kept[0]
        if ragged := next(((n, toks) for n, toks in kept if len(toks) != len(first)), None):
            raise UserError(
                f"{path} line {ragged[0]} has {len(ragged[1])} ids but line {first_n} has {len(first)}: "
                "--ids needs every line of one length"
            )
        for other, other_kept in ((test_file, test_kept), (valid_file, valid_kept)):
            if ragged := next(((n, toks) for n, toks in other_kept if len(toks) != len(first)), None):
                raise UserError(
                    f"{other} line {ragged[0]} has {len(ragged[1])} ids but {path} has {len(first)}: "
                    "--ids needs every line of one length"
                )
        rows = [[parse_id(t, vocab_size, f"{path} line {n}") for t in toks] for n, toks in kept]
        test_rows = [[parse_id(t, vocab_size, f"{test_file} line {n}") for t in toks] for n, toks in test_kept]
        valid_rows = [[parse_id(t, vocab_size, f"{valid_file} line {n}") for t in toks] for n, toks in valid_kept]
        train_lines, valid_lines, test_lines = split()
        seq_len, unk_rate = len(first), 0.0
    else:
        for src, lines_kept in ((path, kept), (test_file, test_kept), (valid_file, valid_kept)):
            for n, toks in [] if subword else lines_kept:
                if bad := next((t for t in toks if t in SPECIAL_TOKENS[:3]), None):
                    raise UserError(
                        f"{src} line {n} holds the reserved token {bad}: remove it (a line ends the sequence)"
                    )
        train_lines, valid_lines, test_lines = split()
        trained = None
        if subword:  # the tokenizer learns from the training split alone, then every split is tokenised
            texts = [kept[i][1].lower() if lowercase else kept[i][1] for i in train_lines]
            trained = user_tokenizer or train_tokenizer(texts, level, vocab_size)
            cut = Subword(trained)

            def pieces(items: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
                return [(n, cut.pieces(text.lower() if lowercase else text)) for n, text in items]

            kept, test_kept, valid_kept = pieces(kept), pieces(test_kept), pieces(valid_kept)
            if max_len is not None:
                (kept, kept_names, train_lines, valid_lines, test_lines), test_kept, valid_kept = (
                    _drop_long(kept, kept_names, (train_lines, valid_lines, test_lines), max_len, dropped),
                    _drop_long(test_kept, [], (), max_len, test_dropped)[0],
                    _drop_long(valid_kept, [], (), max_len, valid_dropped)[0],
                )
                if not train_lines:
                    raise UserError(
                        f"every training sequence of {path} is longer than --max-len {max_len} pieces: raise it"
                    )
        # The vocabulary comes from the training lines alone: held-out lines are read only to be encoded.
        counts = Counter(t for i in train_lines for t in kept[i][1] if t not in SPECIAL_TOKENS)
        order = sorted(counts, key=lambda t: (-counts[t], t))
        order = [t for t in order if counts[t] >= (min_freq or 1)][: None if vocab_size is None else vocab_size - 4]
        if level in TRAINED:  # every piece the tokenizer learnt, in its own order
            model = trained["model"]["vocab"]
            learnt = model if isinstance(model, dict) else {p: k for k, (p, _) in enumerate(model)}
            order = [p for p in sorted(learnt, key=learnt.get) if p not in SPECIAL_TOKENS]
        vocab = Vocab(
            level,
            SPECIAL_TOKENS + order,
            len(SPECIAL_TOKENS) + len(order),
            dict(SPECIALS),
            lowercase,
            labels=label_names,
            tokenizer=trained,
        )
        rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in kept]
        test_rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in test_kept]
        valid_rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in valid_kept]
        unk_rate = sum(rows[i].count(UNK) for i in train_lines) / sum(len(rows[i]) for i in train_lines)
        seq_len = (max_len if max_len is not None else max(len(r) for r in rows + test_rows + valid_rows)) + 1
    n = len(rows)
    splits = {
        "train": [rows[i] for i in train_lines],
        "valid": [rows[i] for i in valid_lines] if valid_file is None else valid_rows,
        "test": [rows[i] for i in test_lines] if test_file is None else test_rows,
    }
    lens = sorted(len(r) for r in rows)
    pct = {f"p{p}": lens[max(0, math.ceil(p / 100 * n) - 1)] for p in (50, 95, 99)}
    if seq_len > (limit := LIMITS["data.seq_len"]):  # `seqgan train` would refuse the data: say so now
        given = f"--max-len {max_len}" if max_len is not None else f"the longest line has {lens[-1]:,} tokens and"
        hint = f"{pct['p99']} (99% of the lines are that short)" if pct["p99"] < limit else f"{limit - 1:,} or less"
        raise UserError(
            f"{given} makes sequences of {seq_len:,} tokens, more than the {limit:,} a run trains on: give "
            f"--max-len {hint} to drop longer lines"
        )
    report = {
        "lines_read": len(lines),
        "lone_cr_line_ends": lone_cr_count(raw),  # classic Mac OS line ends, read as line ends
        "lines_kept": n if unit == "line" else len({line for line, _ in kept}),
        "dropped": dropped,
        "vocab_size": vocab.vocab_size,
        "unk_rate": round(unk_rate, 6),
        "length": {"min": lens[0], "max": lens[-1], "mean": round(sum(lens) / n, 4), **pct},
        "seq_len": seq_len,
        "train_size": len(splits["train"]),
        "valid_size": len(splits["valid"]),
        "test_size": len(splits["test"]),
        "out": str(out),
    }
    if unit == "sentence":  # sequences are sentences: lines_kept counts the lines that gave one
        report.update(sentences=sentences["found"], sentences_kept=n)
    for name in ("valid", "test"):  # tokens the training lines never showed, as <unk>
        held = splits[name]
        report[f"{name}_unk_rate"] = round(sum(r.count(UNK) for r in held) / max(sum(map(len, held)), 1), 6)
    if test_file is not None:
        report.update({"test_file": str(Path(test_file).resolve()), "test_dropped": test_dropped})
    split_labels = None
    if label_names is not None:  # label ids per row of each split, and rows per label per split
        kept_ids = [label_index[x] for x in kept_names]
        split_labels = {
            "train": [kept_ids[i] for i in train_lines],
            "valid": [kept_ids[i] for i in valid_lines]
            if valid_file is None
            else [label_index[x] for x in valid_names],
            "test": [kept_ids[i] for i in test_lines] if test_file is None else [label_index[x] for x in test_names],
        }
        report["labels"] = label_counts(label_names, split_labels)
    options = {
        "level": vocab.level,
        "lowercase": lowercase,
        "max_len": max_len,
        "vocab_size": vocab_size,
        "min_freq": min_freq,
        "test_frac": test_frac,
        "seed": seed,
        "ids": ids,
        "test_file": None if test_file is None else str(Path(test_file).resolve()),
        "valid_frac": valid_frac,
        "valid_file": None if valid_file is None else str(Path(valid_file).resolve()),
    }
    if labels is not None:
        options["labels"] = labels
    if unit != "line":
        options.update(unit=unit, language=language)
    if tokenizer is not None:
        options["tokenizer"] = str(Path(tokenizer).resolve())
    manifest = {
        "format": DATA_FORMAT,
        "version": VERSION,
        "source": str(path.resolve()),
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "options": options,
        "seq_len": seq_len,
        "vocab_size": vocab.vocab_size,
        "start_token": 0 if ids else BOS,
        "eos_token": None if ids else EOS,
        "pad_token": None if ids else PAD,
        "report": report,
    }
    write_prepared(out, vocab, splits, seq_len, int(not ids), manifest, split_labels)
    return report


def _split(
    n: int,
    test_frac: float,
    valid_frac: float,
    seed: int | str,
    test_file: object,
    valid_file: object,
    path: Path,
    label: str | None = None,
) -> tuple[list[int], list[int], list[int]]:
    """Line indices of train, validation and test: one seeded shuffle; the test lines are its last n_test, the
    validation lines the n_valid before them, so the test split is the same whatever the validation options.
    Labelled data: called once per label, on that label's lines (``seed`` then names the label too)."""
    n_test = 0 if test_file is not None else held_out_count(n, test_frac)
    n_valid = 0 if valid_file is not None else held_out_count(n - n_test, valid_frac)
    if n - n_test - n_valid < 1 and label is not None:
        raise UserError(
            f"the label {label!r} of {path} has {n} usable line(s): holding out {n_test} test and "
            f"{n_valid} validation line(s) leaves none to train on; lower --test-frac / --valid-frac "
            "(0 holds out none), or add lines with that label"
        )
    if n - n_test - n_valid < 1:
        fix = (
            "lower --test-frac / --valid-frac (0 holds out none)"
            if n >= 3
            else "give more lines, or --test-frac 0 --valid-frac 0"
        )
        raise UserError(
            f"{path} has {n} usable line(s): holding out {n_test} test and {n_valid} validation line(s) "
            f"leaves none to train on; {fix}"
        )
    return shuffled_split(n, n_test, n_valid, seed)


def _drop_long(
    kept: list[tuple[int, list[str]]],
    names: list[str | None],
    parts: tuple[list[int], ...],
    max_len: int,
    dropped: dict[str, int],
) -> tuple[Any, ...]:
    """``kept`` without its sequences longer than ``max_len`` (counted in ``dropped``), and ``names`` and the index
    lists ``parts`` renumbered to match: (kept, names, *parts)."""
    new = {}
    for i, (_, toks) in enumerate(kept):
        if len(toks) > max_len:
            dropped["too_long"] += 1
        else:
            new[i] = len(new)
    return (
        [kept[i] for i in new],
        [names[i] for i in new] if names else names,
        *([new[i] for i in part if i in new] for part in parts),
    )
