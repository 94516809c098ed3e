"""Vocabularies: token strings <-> ids for text (word, punct, char and subword levels), the authors' ids, and music
(pitch).

Text vocabularies start with the four specials ``<pad> <bos> <eos> <unk>`` (ids 0-3), then tokens by frequency
(subword levels: the pieces of the tokenizer, whose JSON the vocabulary holds; :mod:`seqgan.data.subword`);
a pitch vocabulary maps id k to MIDI pitch 21 + k (the 88 piano keys), plus a rest token with ``--rest token``.
Labelled data (``prepare --labels``) adds ``labels``: label id k is the k-th name, the names sorted by string.
Saved as ``vocab.json`` beside prepared data and in every run trained on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqgan.data.detok import detokenize
from seqgan.data.subword import SUBWORD_LEVELS, Subword
from seqgan.errors import UserError
from seqgan.files import read_json, write_atomic

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
    level: str  # "word", "punct", "char", "bpe", "unigram", "subword" (a user's tokenizer), "ids" or "pitch"
    tokens: list[str] | None  # id -> token string, the 4 specials first (pitch: note names, no specials); None: ids
    vocab_size: int
    specials: dict[str, int] = field(default_factory=dict)
    lowercase: bool = False
    pitch: PitchInfo | None = None  # pitch level only: step, rest mode and lowest pitch, for MIDI output
    labels: list[str] | None = None  # labelled data (`prepare --labels`): label id k -> name, sorted by string
    tokenizer: dict[str, Any] | None = None  # subword levels: the tokenizer's JSON (Hugging Face tokenizers)
    _subword: Subword | None = field(init=False, repr=False, compare=False, default=None)
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
            return [parse_id(tok, self.vocab_size, "input") for tok in line.split()]
        if self.level == "pitch":
            if bad := next((tok for tok in line.split() if tok not in self._index), None):
                rest = ", rest" if self.vocab_size > NUM_KEYS else ""
                have = f"{self.tokens[0]}..{self.tokens[NUM_KEYS - 1]}{rest}"
                raise UserError(f"{bad[:20]!r} is not a note of this vocabulary ({have}): give names like 'C4 E4 G4'")
            return [self._index[tok] for tok in line.split()]
        return [self._index.get(tok, UNK) for tok in self.pieces(line)]

    def pieces(self, line: str) -> list[str]:
        """The token strings of one line of text: :func:`tokenize`, or the tokenizer's pieces (subword levels)."""
        if self.level not in SUBWORD_LEVELS:
            return tokenize(line, self.level, self.lowercase)
        if self._subword is None:
            self._subword = Subword(self.tokenizer or {})
        return self._subword.pieces(line.lower() if self.lowercase else line)

    def text(self, ids: Any) -> str:
        """What a person reads for one id sequence: :meth:`decode`, with punct tokens spaced as written text
        (:mod:`seqgan.data.detok`) and subword pieces joined by the tokenizer's decoder."""
        if self.level not in (*SUBWORD_LEVELS, "punct"):
            return self.decode(ids)
        tokens = self._tokens_of(ids)
        if self.level == "punct":
            return detokenize(tokens)
        if self._subword is None:
            self._subword = Subword(self.tokenizer or {})
        return self._subword.text(tokens) if tokens else ""

    def words(self, ids: Any) -> list[str]:
        """The tokens BLEU counts for one id sequence: the ids themselves, except on subword levels, where they
        are the ``punct`` tokens of the decoded text (words and marks, as a punct-level vocabulary has them)."""
        ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        return tokenize(self.text(ids), "punct") if self.level in SUBWORD_LEVELS else ids

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
        return ("" if self.level == "char" else " ").join(self._tokens_of(ids))

    def _tokens_of(self, ids: Any) -> list[str]:
        """The token strings of a text id sequence: up to EOS, PAD and BOS left out."""
        ids = [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        if any(not 0 <= i < self.vocab_size for i in ids):
            raise ValueError(f"decode: an id is outside the vocabulary 0..{self.vocab_size - 1}")
        ids = ids[: ids.index(EOS)] if EOS in ids else ids
        return [self.tokens[i] for i in ids if i not in (PAD, BOS)]

    def to_json(self) -> dict[str, Any]:
        obj = {
            "format": VOCAB_FORMAT,
            "version": VERSION,
            "level": self.level,
            "lowercase": self.lowercase,
            "specials": dict(self.specials),
            "vocab_size": self.vocab_size,
            "tokens": self.tokens,
        }
        if self.pitch is not None:
            obj["pitch"] = self.pitch.to_json()
        if self.labels is not None:
            obj["labels"] = list(self.labels)
        if self.tokenizer is not None:
            obj["tokenizer"] = self.tokenizer
        return obj

    def label_id(self, name: str) -> int:
        """The id of the label ``name`` (its place in ``labels``); a UserError if the data has no labels or not it."""
        if self.labels is None:
            raise UserError(
                f"label {name!r} was asked for, but this run's data has no labels: drop --label, or "
                "train on labelled data (`seqgan prepare FILE --labels tab`)"
            )
        if name not in self.labels:
            raise UserError(
                f"label {name!r} is not one of this run's labels ({', '.join(self.labels)}): pass one of "
                "them, or --label all"
            )
        return self.labels.index(name)

    @classmethod
    def from_json(cls, obj: Any, where: str = "vocabulary") -> Vocab:
        if not isinstance(obj, dict) or (obj.get("format"), obj.get("version")) != (VOCAB_FORMAT, VERSION):
            got = (obj.get("format"), obj.get("version")) if isinstance(obj, dict) else type(obj).__name__
            raise UserError(f"{where} is not a {VOCAB_FORMAT} file of version {VERSION} (got {got}): {_HINT}")
        level, tokens, size = obj.get("level"), obj.get("tokens"), obj.get("vocab_size")
        ok = level == "ids" and tokens is None and isinstance(size, int) and size > 0
        ok |= (
            level in ("word", "punct", "char", *SUBWORD_LEVELS)
            and isinstance(tokens, list)
            and tokens[:4] == SPECIAL_TOKENS
            and all(isinstance(t, str) for t in tokens)
            and size == len(tokens)
        )
        pitch = PitchInfo.from_json(obj.get("pitch")) if level == "pitch" else None
        # The note names are a function of (rest, lowest): anything else is a damaged or foreign file.
        ok |= pitch is not None and tokens == pitch_tokens(pitch.rest, pitch.lowest) and size == len(tokens)
        ok &= (level in SUBWORD_LEVELS) == isinstance(obj.get("tokenizer"), dict)
        if not ok or (level != "pitch" and "pitch" in obj):
            raise UserError(f"{where} is damaged (bad level, tokens, vocab_size or pitch): {_HINT}")
        if tokens is not None and len(set(tokens)) != len(tokens):  # two ids for one token: encoding is ambiguous
            seen: set[str] = set()
            twice = next(t for t in tokens if t in seen or seen.add(t))
            raise UserError(f"{where} is damaged: the token {twice[:20]!r} appears twice: {_HINT}")
        labels = obj.get("labels")
        names_ok = (
            isinstance(labels, list) and labels and all(isinstance(t, str) and t and t.isprintable() for t in labels)
        )
        if "labels" in obj and not (names_ok and len(set(labels)) == len(labels)):
            raise UserError(
                f"{where} is damaged (labels must be a non-empty list of distinct printable names): {_HINT}"
            )
        specials = {} if level in ("ids", "pitch") else dict(SPECIALS)
        return cls(level, tokens, size, specials, bool(obj.get("lowercase")), pitch, labels, obj.get("tokenizer"))

    def save(self, path: str | Path) -> None:
        write_atomic(path, (json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_json(read_json(Path(path), "vocabulary file", _HINT), str(path))


def parse_id(tok: str, vocab_size: int, where: str) -> int:
    """One integer id of the authors' format, in 0..vocab_size-1; anything else is a UserError naming ``where``."""
    if not (tok.isascii() and tok.lstrip("-").isdigit() and tok.count("-") <= int(tok.startswith("-"))):
        raise UserError(f"{where}: {tok[:20]!r} is not an integer id; give space-separated ids (or drop --ids)")
    if not 0 <= int(tok) < vocab_size:
        raise UserError(f"{where}: id {tok} is outside 0..{vocab_size - 1}; fix the line or raise --vocab-size")
    return int(tok)


def data_kind(vocab: Vocab | None) -> str:
    """What a run or an exported model generates, from its vocabulary: "oracle" (none: the synthetic task),
    "music" (a pitch vocabulary) or "text"."""
    if vocab is None:
        return "oracle"
    return "music" if vocab.pitch is not None else "text"
