"""A prepared data directory: the contract between ``seqgan prepare`` / ``prepare-midi`` and ``seqgan train``.

It holds ``vocab.json``, ``train.pt`` / ``valid.pt`` / ``test.pt`` (``{"tokens": LongTensor (N, T), "lengths":
LongTensor (N,)}``, read with ``torch.load(weights_only=True)``) and ``manifest.json`` (format, options, report).
Labelled data adds ``"labels": LongTensor (N,)`` to each split file (label ids, names in ``vocab.json``).
Text rows are ``ids, <eos>, <pad>...`` (lengths count the EOS); the authors' id format keeps ids as they are.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqgan.data.vocab import EOS, PAD, Vocab
from seqgan.errors import UserError
from seqgan.files import fsync_dir, read_json, write_atomic

DATA_FORMAT, VERSION = "seqgan-data", 1
_HINT = "create it with `seqgan prepare INPUT --out DIR`"
PREPARED_FILES = frozenset({"vocab.json", "train.pt", "valid.pt", "test.pt", "manifest.json"})


def held_out_count(n: int, frac: float) -> int:
    """Items held out of ``n`` for a fraction ``frac``: at least one when ``frac`` > 0, none when it is 0."""
    return max(1, math.ceil(round(frac * n, 9))) if frac > 0 else 0


def shuffled_split(n: int, n_test: int, n_valid: int, seed: int) -> tuple[list[int], list[int], list[int]]:
    """Indices of train, validation and test among ``n`` items: one seeded shuffle, the test items its last
    ``n_test``, the validation items the ``n_valid`` before them; each list sorted (the input order kept)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut_valid, cut_test = n - n_test - n_valid, n - n_test
    return sorted(order[:cut_valid]), sorted(order[cut_valid:cut_test]), sorted(order[cut_test:])


def check_out(out: Path, force: bool, inputs: Sequence[str | Path] = ()) -> None:
    """The --out directory of prepare / prepare-midi, checked before anything is read or written. It may not hold
    an input; an existing one is replaced only with ``force``, and only if it holds nothing but the files a
    prepare writes (a directory the user keeps other files in is never emptied)."""
    if not out.parent.is_dir():
        raise UserError(f"the folder of --out {out} does not exist: create {out.parent} first")
    resolved = out.resolve()
    for item in inputs:
        source = Path(item).resolve()
        if source == resolved or resolved in source.parents:
            raise UserError(
                f"the input {item} lies inside --out {out}, which a rerun with --force would replace: "
                "choose an --out elsewhere"
            )
    if not os.path.lexists(out):
        return
    if not force:
        raise UserError(f"--out {out} already exists: pass --force to replace it, or choose another --out")
    if out.is_symlink() or not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory: remove it or choose another --out")
    foreign = sorted(e.name for e in out.iterdir() if e.name not in PREPARED_FILES or not e.is_file())
    if foreign:
        raise UserError(
            f"--out {out} holds {foreign[0]!r}, which seqgan prepare did not write: refusing to replace "
            "the directory even with --force; move that file or choose another --out"
        )
    try:
        is_data = read_json(out / "manifest.json", "manifest", _HINT).get("format") == DATA_FORMAT
    except (UserError, AttributeError):
        is_data = False
    if any(out.iterdir()) and not is_data:
        raise UserError(f"--out {out} is not a prepared data directory: refusing to replace it even with --force")


def prepared_file_of(path: str | Path) -> Path | None:
    """The prepared data directory that ``path`` is one of the own files of, or None: commands that write files
    never write there."""
    p = Path(os.path.abspath(path))
    if p.name not in PREPARED_FILES or not (p.parent / "manifest.json").is_file():
        return None
    try:
        manifest = read_json(p.parent / "manifest.json", "manifest", _HINT)
    except UserError:
        return p.parent  # a damaged manifest still marks the directory as prepare's
    return p.parent if isinstance(manifest, dict) and manifest.get("format") == DATA_FORMAT else None


def _pack(rows: list[list[int]], seq_len: int, eos: int, labels: list[int] | None = None) -> bytes:
    tokens = torch.full((len(rows), seq_len), PAD, dtype=torch.long)
    for r, row in enumerate(rows):
        tokens[r, : len(row) + eos] = torch.tensor(row + [EOS] * eos, dtype=torch.long)
    obj = {"tokens": tokens, "lengths": torch.tensor([len(r) + eos for r in rows], dtype=torch.long)}
    if labels is not None:
        assert len(labels) == len(rows), "one label per row"
        obj["labels"] = torch.tensor(labels, dtype=torch.long)
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write_prepared(
    out: Path,
    vocab: Vocab,
    splits: dict[str, list[list[int]]],
    seq_len: int,
    eos: int,
    manifest: dict[str, Any],
    labels: dict[str, list[int]] | None = None,
) -> None:
    """Write a prepared directory (vocab.json, NAME.pt for each split's rows, padded to ``seq_len`` after ``eos``
    EOS tokens, manifest.json) all at once or not at all: built in a temporary sibling, then swapped in; with
    --force the old directory goes only after the new one is in place."""
    tmp, old = (out.with_name(f"{out.name}.{kind}-{os.getpid()}") for kind in ("tmp", "old"))
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        vocab.save(tmp / "vocab.json")
        for name, rows in splits.items():
            write_atomic(tmp / f"{name}.pt", _pack(rows, seq_len, eos, None if labels is None else labels[name]))
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
    valid: torch.Tensor  # (N_valid, T); empty with --valid-frac 0
    valid_lengths: torch.Tensor
    manifest: dict[str, Any]
    train_labels: torch.Tensor | None = None  # (N,) long label ids (names: vocab.labels); None: unlabelled data
    valid_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None

    # Read-only views of the manifest; start_token is BOS (1) for text, 0 for ids as in the authors' code.
    seq_len = property(lambda self: int(self.manifest["seq_len"]))
    vocab_size = property(lambda self: self.vocab.vocab_size)
    start_token = property(lambda self: int(self.manifest["start_token"]))
    eos_token = property(lambda self: self.manifest["eos_token"])  # None for ids
    pad_token = property(lambda self: self.manifest["pad_token"])  # None for ids
    labels = property(lambda self: self.vocab.labels)  # label names (id k -> labels[k]); None: unlabelled data


def load_prepared(data_dir: str | Path) -> PreparedData:
    """Read a directory written by :func:`prepare` (CPU tensors): every split file is there (an empty split is an
    empty file)."""
    d = Path(data_dir)
    hint = f"create it with `seqgan prepare INPUT --out {d}`"
    files = ("vocab.json", "manifest.json", "train.pt", "valid.pt", "test.pt")
    missing = next((name for name in files if not (d / name).is_file()), "")
    if not d.is_dir() or missing:
        why = f"missing {missing}" if d.is_dir() else "no such directory"
        raise UserError(f"{d} is not a prepared data directory ({why}): {hint}")
    manifest = read_json(d / "manifest.json", "manifest", hint)
    if not isinstance(manifest, dict) or (manifest.get("format"), manifest.get("version")) != (DATA_FORMAT, VERSION):
        raise UserError(f"{d} is not a prepared data directory (manifest.json is not {DATA_FORMAT} v{VERSION}): {hint}")
    vocab, tensors, labels = Vocab.load(d / "vocab.json"), [], {}
    ids = {key: manifest.get(key) for key in ("seq_len", "start_token", "eos_token", "pad_token")}
    if not all(
        (type(v) is int and 0 <= v < vocab.vocab_size) or (v is None and key in ("eos_token", "pad_token"))
        for key, v in ids.items()
        if key != "seq_len"
    ) or not (type(ids["seq_len"]) is int and ids["seq_len"] > 0):
        raise UserError(f"{d / 'manifest.json'} is damaged (seq_len or a special token id): re{hint}")
    for name in ("train.pt", "test.pt", "valid.pt"):
        split = name.removesuffix(".pt")
        try:
            obj = torch.load(d / name, map_location="cpu", weights_only=True)
            tokens, lengths = obj["tokens"], obj["lengths"]
            if not (
                tokens.dtype == lengths.dtype == torch.long
                and tokens.dim() == 2
                and tokens.shape[1] == manifest.get("seq_len")
                and lengths.shape == tokens.shape[:1]
            ):
                raise ValueError("unexpected tensor shapes")
            if tokens.numel() and not (0 <= int(tokens.min()) and int(tokens.max()) < vocab.vocab_size):
                raise ValueError("ids outside the vocabulary")
            labels[split] = _check_labels(obj.get("labels"), vocab.labels, len(tokens))
        except Exception as e:  # noqa: BLE001 - any damage to the file is the same user-facing problem
            raise UserError(f"{d / name} is damaged ({type(e).__name__}): re{hint}") from None
        tensors += [tokens, lengths]
    return PreparedData(
        vocab,
        *tensors,
        manifest,
        train_labels=labels["train"],
        valid_labels=labels["valid"],
        test_labels=labels["test"],
    )


def _check_labels(ids: Any, names: list[str] | None, rows: int) -> torch.Tensor | None:
    """The label ids of a split file, checked against vocab.json's label names: both or neither."""
    if (ids is None) != (names is None):
        raise ValueError(
            "label ids without label names in vocab.json"
            if names is None
            else "no label ids, but vocab.json names labels"
        )
    if ids is None:
        return None
    if not (isinstance(ids, torch.Tensor) and ids.dtype == torch.long and ids.shape == (rows,)):
        raise ValueError("unexpected label tensor")
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < len(names)):
        raise ValueError("label ids outside the labels")
    return ids
