"""Real data: text (or id lines) -> vocabulary + padded id tensors, written by ``seqgan prepare``.

A prepared directory holds ``vocab.json``, ``train.pt`` / ``valid.pt`` / ``test.pt`` (``{"tokens": LongTensor
(N, T), "lengths": LongTensor (N,)}``, for ``torch.load(weights_only=True)``) and ``manifest.json``. Text rows
are ``ids, <eos>, <pad>...`` (lengths count the EOS); the authors' id format (``--ids``) keeps ids as they are:
no specials, one length per file.
Music (``seqgan prepare-midi``, :mod:`seqgan.midi`) writes the same layout with a ``pitch`` vocabulary: id k is
MIDI pitch 21 + k (the 88 piano keys), plus a rest token with ``--rest token``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqgan.errors import UserError
from seqgan.utils import fsync_dir, write_atomic

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = {"pad": PAD, "bos": BOS, "eos": EOS, "unk": UNK}
SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]
VOCAB_FORMAT, DATA_FORMAT, VERSION = "seqgan-vocab", "seqgan-data", 1
_HINT = "create it with `seqgan prepare INPUT --out DIR`"
_TEXT_HINT = "give a UTF-8 text file, one sequence per line"


_PUNCT = re.compile(r"\w+|[^\w\s]")

# Pitch level (music): id k = MIDI pitch LOWEST_PITCH + k over the 88 piano keys A0..C8 (the paper's 88 tokens).
LOWEST_PITCH, NUM_KEYS, REST_TOKEN = 21, 88, "rest"
MAX_STEP = 16.0  # seconds; a MIDI tempo holds at most 2^24 - 1 microseconds per beat (one token = one beat)
_NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name, middle C (60) = "C4", 21 = "A0", 108 = "C8"."""
    return f"{_NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def pitch_tokens(rest: str, lowest: int = LOWEST_PITCH) -> list[str]:
    """Token strings of a pitch vocabulary: the 88 note names from ``lowest`` up, then "rest" if rest == "token"."""
    return [note_name(lowest + k) for k in range(NUM_KEYS)] + ([REST_TOKEN] if rest == "token" else [])


@dataclass(frozen=True)
class PitchInfo:
    """What a MIDI writer needs to play a pitch vocabulary back; stored in vocab.json, so a run describes itself."""

    step: float  # seconds per token (the sampling interval of `seqgan prepare-midi --step`)
    rest: str  # "hold": a rest keeps the pitch before it (no rest token); "token": id NUM_KEYS is a rest (silence)
    lowest: int = LOWEST_PITCH  # MIDI pitch of id 0

    @property
    def rest_id(self) -> int | None:
        return NUM_KEYS if self.rest == "token" else None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "rest": self.rest, "lowest": self.lowest}

    @classmethod
    def from_json(cls, obj: Any) -> PitchInfo | None:
        """The PitchInfo of a vocab.json ``pitch`` entry, or None if it is malformed."""
        if not isinstance(obj, dict) or set(obj) != {"step", "rest", "lowest"}:
            return None
        step, rest, lowest = obj["step"], obj["rest"], obj["lowest"]
        ok = isinstance(step, (int, float)) and not isinstance(step, bool) and 0 < step <= MAX_STEP
        ok &= rest in ("hold", "token") and type(lowest) is int and 0 <= lowest <= 127 - NUM_KEYS + 1
        return cls(float(step), rest, lowest) if ok else None


def tokenize(line: str, level: str, lowercase: bool = False) -> list[str]:
    """word: whitespace split; punct: words and punctuation marks apart ("wheel." -> "wheel", "."), close to
    the NLTK tokenisation of the published COCO numbers; char: every Unicode character, spaces included."""
    line = line.lower() if lowercase else line
    if level == "char":
        return list(line.rstrip("\r\n"))
    return _PUNCT.findall(line) if level == "punct" else line.split()


@dataclass
class Vocab:
    level: str  # "word", "punct", "char", "ids" or "pitch" (music)
    tokens: list[str] | None  # id -> token string, the 4 specials first (pitch: note names, no specials); None: ids
    vocab_size: int
    specials: dict[str, int] = field(default_factory=dict)
    lowercase: bool = False
    pitch: PitchInfo | None = None  # pitch level only: step, rest mode and lowest pitch, for MIDI output
    _index: dict[str, int] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        # "<pad>"/"<bos>"/"<eos>" typed in text are unknown words, never control tokens; "<unk>" is UNK.
        # A pitch vocabulary has no specials: every id is a note (or the rest).
        skip = () if self.level == "pitch" else (PAD, BOS, EOS)
        self._index = {t: i for i, t in enumerate(self.tokens or []) if i not in skip}

    def encode(self, line: str) -> list[int]:
        """Token ids of one line (no BOS/EOS); unknown tokens -> UNK. Ids level: validated integer ids; pitch
        level: note names ("C4 E4 G4", "rest"), an unknown name is a UserError (there is no UNK)."""
        if self.level == "ids":
            return [_parse_id(tok, self.vocab_size, "input") for tok in line.split()]
        if self.level == "pitch":
            if bad := next((tok for tok in line.split() if tok not in self._index), None):
                rest = ", rest" if self.vocab_size > NUM_KEYS else ""
                have = f"{self.tokens[0]}..{self.tokens[NUM_KEYS - 1]}{rest}"
                raise UserError(f"{bad[:20]!r} is not a note of this vocabulary ({have}): give names like 'C4 E4 G4'")
            return [self._index[tok] for tok in line.split()]
        return [self._index.get(tok, UNK) for tok in tokenize(line, self.level, self.lowercase)]

    def decode(self, ids: Any) -> str:
        """Text of one id sequence: stops at EOS, skips PAD/BOS, renders UNK as ``<unk>``; ids level: "4 17 2";
        pitch level: every id as its note name ("C4 C4 E4 rest")."""
        ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        if any(not 0 <= i < self.vocab_size for i in ids):
            raise ValueError(f"decode: an id is outside the vocabulary 0..{self.vocab_size - 1}")
        if self.level == "ids" or self.tokens is None:
            return " ".join(map(str, ids))
        if self.level == "pitch":
            return " ".join(self.tokens[i] for i in ids)
        ids = ids[: ids.index(EOS)] if EOS in ids else ids
        return ("" if self.level == "char" else " ").join(self.tokens[i] for i in ids if i not in (PAD, BOS))

    def to_json(self) -> dict[str, Any]:
        obj = {"format": VOCAB_FORMAT, "version": VERSION, "level": self.level, "lowercase": self.lowercase,
               "specials": dict(self.specials), "vocab_size": self.vocab_size, "tokens": self.tokens}  # fmt: skip
        if self.pitch is not None:
            obj["pitch"] = self.pitch.to_json()
        return obj

    @classmethod
    def from_json(cls, obj: Any, where: str = "vocabulary") -> Vocab:
        if not isinstance(obj, dict) or (obj.get("format"), obj.get("version")) != (VOCAB_FORMAT, VERSION):
            got = (obj.get("format"), obj.get("version")) if isinstance(obj, dict) else type(obj).__name__
            raise UserError(f"{where} is not a {VOCAB_FORMAT} file of version {VERSION} (got {got}): {_HINT}")
        level, tokens, size = obj.get("level"), obj.get("tokens"), obj.get("vocab_size")
        ok = level == "ids" and tokens is None and isinstance(size, int) and size > 0
        ok |= (level in ("word", "punct", "char") and isinstance(tokens, list) and tokens[:4] == SPECIAL_TOKENS
               and all(isinstance(t, str) for t in tokens) and size == len(tokens))  # fmt: skip
        pitch = PitchInfo.from_json(obj.get("pitch")) if level == "pitch" else None
        # The note names are a function of (rest, lowest): anything else is a damaged or foreign file.
        ok |= pitch is not None and tokens == pitch_tokens(pitch.rest, pitch.lowest) and size == len(tokens)
        if not ok or (level != "pitch" and "pitch" in obj):
            raise UserError(f"{where} is damaged (bad level, tokens, vocab_size or pitch): {_HINT}")
        specials = {} if level in ("ids", "pitch") else dict(SPECIALS)
        return cls(level, tokens, size, specials, bool(obj.get("lowercase")), pitch)

    def save(self, path: str | Path) -> None:
        write_atomic(path, (json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_json(_read_json(Path(path), "vocabulary file"), str(path))


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist: {_HINT}") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{what} {path} is damaged ({type(e).__name__}): {_HINT}") from None


def _parse_id(tok: str, vocab_size: int, where: str) -> int:
    if not (tok.isascii() and tok.lstrip("-").isdigit() and tok.count("-") <= int(tok.startswith("-"))):
        raise UserError(f"{where}: {tok[:20]!r} is not an integer id; give space-separated ids (or drop --ids)")
    if not 0 <= int(tok) < vocab_size:
        raise UserError(f"{where}: id {tok} is outside 0..{vocab_size - 1}; fix the line or raise --vocab-size")
    return int(tok)


def _read_lines(path: Path) -> tuple[list[str], bytes]:
    """The file's lines without ``\\n`` / ``\\r\\n``, and its bytes; every unreadable file is a UserError."""
    if not path.is_file():
        raise UserError(f"input {path} {'is a directory' if path.is_dir() else 'does not exist'}: {_TEXT_HINT}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read input file {path} ({e.strerror}): {_TEXT_HINT}") from None
    if not data or b"\0" in data[:8192]:
        raise UserError(f"input file {path} is {'binary (NUL bytes)' if data else 'empty'}: {_TEXT_HINT}")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # a byte-order mark is encoding, not content
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body.count(b"\n", 0, e.start) + 1
        raise UserError(f"{path} line {line} is not UTF-8 (byte 0x{body[e.start]:02x}): convert the file, e.g. "
                        f"`iconv -f <enc> -t utf-8 {path} > {path.name}.utf8`") from None  # fmt: skip
    lines = text.split("\n")  # not splitlines(): \x0c, \x1c, \u2028 ... stay inside a line
    return [ln.removesuffix("\r") for ln in (lines[:-1] if lines[-1] == "" else lines)], data


def _check_options(level: str, ids: bool, max_len: int | None, vocab_size: int | None, min_freq: int | None,
                   test_frac: float, lowercase: bool) -> None:  # fmt: skip
    problems = [
        (level not in ("word", "punct", "char"), f"--level {level!r} is unknown: use word, punct or char"),
        (ids and (vocab_size is None or vocab_size < 1), "--ids needs --vocab-size V >= 1 (ids lie in 0..V-1)"),
        (ids and (level != "word" or lowercase or min_freq is not None or max_len is not None),
         "--ids reads the ids as they are: drop --level, --lowercase, --min-freq and --max-len"),
        (not ids and vocab_size is not None and vocab_size <= 4,
         f"--vocab-size {vocab_size} leaves no room beside the 4 special tokens: give at least 5"),
        (vocab_size is not None and min_freq is not None,
         "--vocab-size and --min-freq both cap the vocabulary: give only one of them"),
        (min_freq is not None and min_freq < 1, f"--min-freq {min_freq} must be >= 1 (1 keeps every token)"),
        (max_len is not None and max_len < 1, f"--max-len {max_len} must be >= 1 (tokens per line, without EOS)"),
        (not 0 <= test_frac < 1, f"--test-frac {test_frac} must be in [0, 1), e.g. 0.1 (0: no test set)"),
    ]  # fmt: skip
    for bad, message in problems:
        if bad:
            raise UserError(message)


def held_out_count(n: int, frac: float) -> int:
    """Items held out of ``n`` for a fraction ``frac``: at least one when ``frac`` > 0, none when it is 0."""
    return max(1, math.ceil(round(frac * n, 9))) if frac > 0 else 0


def _check_out(out: Path, force: bool) -> None:
    if not out.parent.is_dir():
        raise UserError(f"the folder of --out {out} does not exist: create {out.parent} first")
    if os.path.lexists(out) and not force:
        raise UserError(f"--out {out} already exists: pass --force to replace it, or choose another --out")
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        raise UserError(f"--out {out} exists and is not a directory: remove it or choose another --out")
    try:
        is_data = _read_json(out / "manifest.json", "manifest").get("format") == DATA_FORMAT
    except (UserError, AttributeError):
        is_data = False
    if out.is_dir() and not is_data and any(out.iterdir()):
        raise UserError(f"--out {out} is not a prepared data directory: refusing to replace it even with --force")


def _pack(rows: list[list[int]], seq_len: int, eos: int) -> bytes:
    tokens = torch.full((len(rows), seq_len), PAD, dtype=torch.long)
    for r, row in enumerate(rows):
        tokens[r, : len(row) + eos] = torch.tensor(row + [EOS] * eos, dtype=torch.long)
    buf = io.BytesIO()
    torch.save({"tokens": tokens, "lengths": torch.tensor([len(r) + eos for r in rows], dtype=torch.long)}, buf)
    return buf.getvalue()


def prepare(input_path: str | Path, out_dir: str | Path, *, level: str = "word", lowercase: bool = False,
            max_len: int | None = None, vocab_size: int | None = None, min_freq: int | None = None,
            test_frac: float = 0.1, seed: int = 0, ids: bool = False, force: bool = False,
            test_file: str | Path | None = None, valid_frac: float = 0.1,
            valid_file: str | Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Text file (or id lines, ``ids=True``) -> prepared directory, complete or not at all; returns the report.

    With ``test_file`` the test split is that file (e.g. a benchmark's reference set) instead of a random
    ``test_frac`` of the input; the vocabulary then comes from the input alone, so unknown test tokens
    become ``<unk>`` (``test_unk_rate`` in the report). The validation split (model selection: best.pt, early
    stopping) is ``valid_file`` or a random ``valid_frac`` of the lines left after the test split; the test split
    is drawn first, so it does not depend on the validation options."""
    _check_options(level, ids, max_len, vocab_size, min_freq, test_frac, lowercase)
    if not 0 <= valid_frac < 1:
        raise UserError(f"--valid-frac {valid_frac} must be in [0, 1), e.g. 0.1 (0: no validation set)")
    path, out = Path(input_path), Path(os.path.abspath(out_dir))
    lines, raw = _read_lines(path)
    _check_out(out, force)

    def keep(lines: list[str], dropped: dict[str, int]) -> list[tuple[int, list[str]]]:
        kept = []
        for n, line in enumerate(lines, 1):
            toks = line.split() if ids else tokenize(line, level, lowercase)
            if not toks:
                dropped["blank"] += 1
            elif max_len is not None and len(toks) > max_len:
                dropped["too_long"] += 1
            else:
                kept.append((n, toks))
        return kept

    dropped, test_dropped = {"blank": 0, "too_long": 0}, {"blank": 0, "too_long": 0}
    kept = keep(lines, dropped)
    test_kept = keep(_read_lines(Path(test_file))[0], test_dropped) if test_file is not None else []
    if test_file is not None and not test_kept:
        raise UserError(f"test file {test_file} holds no usable lines: {_TEXT_HINT}")
    valid_dropped = {"blank": 0, "too_long": 0}
    valid_kept = keep(_read_lines(Path(valid_file))[0], valid_dropped) if valid_file is not None else []
    if valid_file is not None and not valid_kept:
        raise UserError(f"validation file {valid_file} holds no usable lines: {_TEXT_HINT}")
    if not kept and dropped["too_long"]:
        raise UserError(f"all {dropped['too_long']} non-blank lines of {path} exceed --max-len {max_len}: raise it")
    if not kept:
        raise UserError(f"input file {path} holds only blank lines: {_TEXT_HINT}")
    if ids:
        vocab, (first_n, first) = Vocab("ids", None, vocab_size), kept[0]
        if ragged := next(((n, toks) for n, toks in kept if len(toks) != len(first)), None):
            raise UserError(f"{path} line {ragged[0]} has {len(ragged[1])} ids but line {first_n} has {len(first)}: "
                            "--ids needs every line of one length")  # fmt: skip
        for other, other_kept in ((test_file, test_kept), (valid_file, valid_kept)):
            if ragged := next(((n, toks) for n, toks in other_kept if len(toks) != len(first)), None):
                raise UserError(f"{other} line {ragged[0]} has {len(ragged[1])} ids but {path} has {len(first)}: "
                                "--ids needs every line of one length")  # fmt: skip
        rows = [[_parse_id(t, vocab_size, f"{path} line {n}") for t in toks] for n, toks in kept]
        test_rows = [[_parse_id(t, vocab_size, f"{test_file} line {n}") for t in toks] for n, toks in test_kept]
        valid_rows = [[_parse_id(t, vocab_size, f"{valid_file} line {n}") for t in toks] for n, toks in valid_kept]
        seq_len, unk_rate, test_unk_rate = len(first), 0.0, 0.0
    else:
        for src, lines_kept in ((path, kept), (test_file, test_kept), (valid_file, valid_kept)):
            for n, toks in lines_kept:
                if bad := next((t for t in toks if t in SPECIAL_TOKENS[:3]), None):
                    raise UserError(f"{src} line {n} holds the reserved token {bad}: remove it (a line ends the "
                                    "sequence)")
        counts = Counter(t for _, toks in kept for t in toks if t != "<unk>")
        order = sorted(counts, key=lambda t: (-counts[t], t))
        order = [t for t in order if counts[t] >= (min_freq or 1)][: None if vocab_size is None else vocab_size - 4]
        vocab = Vocab(level, SPECIAL_TOKENS + order, len(SPECIAL_TOKENS) + len(order), dict(SPECIALS), lowercase)
        rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in kept]
        test_rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in test_kept]
        valid_rows = [[vocab._index.get(t, UNK) for t in toks] for _, toks in valid_kept]
        unk_rate = sum(r.count(UNK) for r in rows) / sum(len(r) for r in rows)
        test_unk_rate = sum(r.count(UNK) for r in test_rows) / max(sum(len(r) for r in test_rows), 1)
        seq_len = (max_len if max_len is not None else max(len(r) for r in rows + test_rows + valid_rows)) + 1
    n = len(rows)
    n_test = 0 if test_file is not None else held_out_count(n, test_frac)
    n_valid = 0 if valid_file is not None else held_out_count(n - n_test, valid_frac)
    if n - n_test - n_valid < 1:
        raise UserError(f"{path} has {n} usable line(s), too few to hold out {n_test} test and {n_valid} validation "
                        "line(s) and keep one to train on: give more lines, or lower --test-frac / --valid-frac "
                        "(0 holds out none)")  # fmt: skip
    # One shuffle: the test lines are its last n_test, the validation lines the n_valid before them, so the
    # test split is the same whatever the validation options.
    shuffled = list(range(n))
    random.Random(seed).shuffle(shuffled)
    cut_valid, cut_test = n - n_test - n_valid, n - n_test
    splits = {"train": [rows[i] for i in sorted(shuffled[:cut_valid])],
              "valid": [rows[i] for i in sorted(shuffled[cut_valid:cut_test])] if valid_file is None else valid_rows,
              "test": [rows[i] for i in sorted(shuffled[cut_test:])] if test_file is None else test_rows}  # fmt: skip
    lens = sorted(len(r) for r in rows)
    pct = {f"p{p}": lens[max(0, math.ceil(p / 100 * n) - 1)] for p in (50, 95, 99)}
    report = {"lines_read": len(lines), "lines_kept": n, "dropped": dropped, "vocab_size": vocab.vocab_size,
              "unk_rate": round(unk_rate, 6), "length": {"min": lens[0], "max": lens[-1],
              "mean": round(sum(lens) / n, 4), **pct}, "seq_len": seq_len,
              "train_size": len(splits["train"]), "valid_size": len(splits["valid"]), "test_size": len(splits["test"]),
              "out": str(out)}  # fmt: skip
    if test_file is not None:
        report.update({"test_file": str(Path(test_file).resolve()), "test_dropped": test_dropped,
                       "test_unk_rate": round(test_unk_rate, 6)})  # fmt: skip
    options = {"level": vocab.level, "lowercase": lowercase, "max_len": max_len, "vocab_size": vocab_size,
               "min_freq": min_freq, "test_frac": test_frac, "seed": seed, "ids": ids,
               "test_file": None if test_file is None else str(Path(test_file).resolve()), "valid_frac": valid_frac,
               "valid_file": None if valid_file is None else str(Path(valid_file).resolve())}  # fmt: skip
    manifest = {"format": DATA_FORMAT, "version": VERSION, "source": str(path.resolve()),
                "source_sha256": hashlib.sha256(raw).hexdigest(), "options": options, "seq_len": seq_len,
                "vocab_size": vocab.vocab_size, "start_token": 0 if ids else BOS, "eos_token": None if ids else EOS,
                "pad_token": None if ids else PAD, "report": report}  # fmt: skip
    write_prepared(out, vocab, splits, seq_len, int(not ids), manifest)
    return report


def write_prepared(out: Path, vocab: Vocab, splits: dict[str, list[list[int]]], seq_len: int, eos: int,
                   manifest: dict[str, Any]) -> None:  # fmt: skip
    """Write a prepared directory (vocab.json, NAME.pt for each split's rows, padded to ``seq_len`` after ``eos``
    EOS tokens, manifest.json) all at once or not at all: built in a temporary sibling, then swapped in; with
    --force the old directory goes only after the new one is in place."""
    tmp, old = (out.with_name(f"{out.name}.{kind}-{os.getpid()}") for kind in ("tmp", "old"))
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        vocab.save(tmp / "vocab.json")
        for name, rows in splits.items():
            write_atomic(tmp / f"{name}.pt", _pack(rows, seq_len, eos))
        write_atomic(tmp / "manifest.json", (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
        if os.path.lexists(out):  # --force: move the old directory aside, the new one in, then delete the old
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if os.path.lexists(old):
                os.replace(old, out)
            raise
        fsync_dir(out.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class PreparedData:
    vocab: Vocab
    train: torch.Tensor  # (N, T) long
    train_lengths: torch.Tensor  # (N,) real tokens including EOS (T for ids)
    test: torch.Tensor
    test_lengths: torch.Tensor
    valid: torch.Tensor  # (N_valid, T); empty for a directory prepared before validation splits existed
    valid_lengths: torch.Tensor
    manifest: dict[str, Any]

    # Read-only views of the manifest; start_token is BOS (1) for text, 0 for ids as in the authors' code.
    seq_len = property(lambda self: int(self.manifest["seq_len"]))
    vocab_size = property(lambda self: self.vocab.vocab_size)
    start_token = property(lambda self: int(self.manifest["start_token"]))
    eos_token = property(lambda self: self.manifest["eos_token"])  # None for ids
    pad_token = property(lambda self: self.manifest["pad_token"])  # None for ids


def load_prepared(data_dir: str | Path) -> PreparedData:
    """Read a directory written by :func:`prepare` (CPU tensors); a missing test.pt or valid.pt gives an empty split."""
    d = Path(data_dir)
    hint = f"create it with `seqgan prepare INPUT --out {d}`"
    missing = next((name for name in ("vocab.json", "manifest.json", "train.pt") if not (d / name).is_file()), "")
    if not d.is_dir() or missing:
        why = f"missing {missing}" if d.is_dir() else "no such directory"
        raise UserError(f"{d} is not a prepared data directory ({why}): {hint}")
    manifest = _read_json(d / "manifest.json", "manifest")
    if not isinstance(manifest, dict) or (manifest.get("format"), manifest.get("version")) != (DATA_FORMAT, VERSION):
        raise UserError(f"{d} is not a prepared data directory (manifest.json is not {DATA_FORMAT} v{VERSION}): {hint}")
    vocab, tensors = Vocab.load(d / "vocab.json"), []
    for name in ("train.pt", "test.pt", "valid.pt"):
        if name != "train.pt" and not (d / name).is_file():  # no test / validation split (or an older directory)
            tensors += [tensors[0][:0], tensors[1][:0]]
            continue
        try:
            obj = torch.load(d / name, map_location="cpu", weights_only=True)
            tokens, lengths = obj["tokens"], obj["lengths"]
            if not (tokens.dtype == lengths.dtype == torch.long and tokens.dim() == 2
                    and tokens.shape[1] == manifest.get("seq_len") and lengths.shape == tokens.shape[:1]):  # fmt: skip
                raise ValueError("unexpected tensor shapes")
        except Exception as e:  # noqa: BLE001 - any damage to the file is the same user-facing problem
            raise UserError(f"{d / name} is damaged ({type(e).__name__}): re{hint}") from None
        tensors += [tokens, lengths]
    return PreparedData(vocab, *tensors, manifest)
