"""Labelled data for conditional generation: ``seqgan prepare --labels tab`` and ``prepare-midi --labels dirs``.

A label is a name (a line's ``LABEL<TAB>`` prefix, or a MIDI file's label folder); label id k is the k-th name in
string order, so the same labels give the same ids. Splits are stratified: each label's items (lines, or tunes) are
split apart with their own seeded shuffle (the seed and the label's name), so every split keeps each label's share,
and the items of each split keep their original order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from seqgan.errors import UserError

SPLITS = ("train", "valid", "test")
TAB_HINT = "with --labels tab every non-blank line is LABEL<TAB>TEXT"
SplitOne = Callable[[int, str, str], tuple[list[int], list[int], list[int]]]


RESERVED = "all"  # `seqgan sample --label all`: an equal share of every label


def check_labels_option(labels: str | None, allowed: str, what: str) -> None:
    if labels is not None and labels != allowed:
        raise UserError(f"--labels {labels!r} is unknown: use --labels {allowed} ({what}), or leave it out")


def split_tab_lines(lines: Sequence[str], path: str | Path) -> tuple[list[str], list[str | None]]:
    """``LABEL<TAB>TEXT`` lines -> (the texts, the labels); a blank line keeps its place with label None. The line
    is split at its first tab and the label stripped of surrounding whitespace."""
    texts, names = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            texts.append("")
            names.append(None)
            continue
        if "\t" not in line:
            raise UserError(
                f"{path} line {n} has no tab: {TAB_HINT}; put the line's label and a tab before its "
                "text, or drop --labels"
            )
        label, text = line.split("\t", 1)
        if not label.strip():
            raise UserError(
                f"{path} line {n} has an empty label before its tab: {TAB_HINT}; write the label before the tab"
            )
        if label.strip() == RESERVED:
            raise UserError(
                f"{path} line {n} has the label 'all', which `seqgan sample --label all` reserves for "
                "every label at once: rename it"
            )
        check_label_name(label.strip(), f"{path} line {n}")
        texts.append(text)
        names.append(label.strip())
    return texts, names


def printable_label(name: str) -> str:
    """``name`` as it may be shown: control characters (a newline, an escape sequence) escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)


def check_label_name(name: str, where: str) -> None:
    """Refuse a label name with a control or other unprintable character: a newline in it would break the
    ``LABEL<TAB>text`` lines that `seqgan sample` writes, an escape sequence would reach the terminal."""
    if not name.isprintable():
        raise UserError(
            f"{where} has the label {printable_label(name)[:60]!r}, which holds a control character: labels are "
            "printable names (they are written as LABEL<TAB>text); rename it"
        )


def unknown_label(
    names: Sequence[str | None], known: Sequence[str], path: str | Path, lines: Sequence[int], source: str | Path
) -> None:
    """Refuse a held-out line whose label the input never uses (its ids would mean nothing to the model)."""
    for n, name in zip(lines, names, strict=True):
        if name not in known:
            raise UserError(
                f"{path} line {n} has the label {name!r}, which {source} never uses (its labels: "
                f"{', '.join(known)}): fix the label or drop the line"
            )


def label_seed(seed: int, name: str) -> str:
    """The seed of one label's shuffle: the run's seed and the label's name (``random.Random`` hashes a string seed
    with SHA-512, so the shuffle is the same in every process and does not move when other labels come or go)."""
    return f"{seed}:{name}"


def stratified_split(
    item_labels: Sequence[int], names: Sequence[str], seed: int, split_one: SplitOne
) -> tuple[list[int], list[int], list[int]]:
    """Item indices of train, valid and test: label k's items are split by ``split_one(count, seed, name)`` (which
    returns positions among them), then the splits are merged back in item order."""
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    by_label: list[list[int]] = [[] for _ in names]
    for i, label in enumerate(item_labels):
        by_label[label].append(i)
    for name, idx in zip(names, by_label, strict=True):
        for part, positions in zip(parts, split_one(len(idx), label_seed(seed, name), name), strict=True):
            part.extend(idx[j] for j in positions)
    return sorted(parts[0]), sorted(parts[1]), sorted(parts[2])


def label_counts(names: Sequence[str], split_ids: dict[str, Sequence[int]]) -> dict[str, dict[str, int]]:
    """The report's ``labels``: rows per label per split, {name: {"train": n, "valid": n, "test": n}}."""
    counts = {s: Counter(split_ids[s]) for s in SPLITS}
    return {name: {s: counts[s][k] for s in SPLITS} for k, name in enumerate(names)}


def midi_labels(files: Sequence[Path], inputs: Sequence[str | Path]) -> list[str]:
    """``--labels dirs``: each file's label is the name of the sub-folder of a given folder that holds it
    (data/music/jigs/a.mid and data/music/jigs/set2/b.mid -> jigs, for the folder data/music)."""
    if item := next((i for i in inputs if not Path(i).is_dir()), None):
        raise UserError(
            f"--labels dirs takes each file's label from its folder: give folders holding one sub-folder "
            f"per label, not the file {item}"
        )
    names = []
    for path in files:
        item = next(Path(i) for i in inputs if path.is_relative_to(i))  # found under one of them
        parts = path.relative_to(item).parts
        if len(parts) < 2:
            raise UserError(
                f"{path} lies directly in {item}: with --labels dirs each file sits in a sub-folder "
                f"named after its label ({item}/LABEL/...); move it into one, or drop --labels"
            )
        if parts[0] == RESERVED:
            raise UserError(
                f"the folder {item / parts[0]} names the label 'all', which `seqgan sample --label all` "
                "reserves for every label at once: rename the folder"
            )
        check_label_name(parts[0], f"the folder {item / printable_label(parts[0])}")
        names.append(parts[0])
    return names
