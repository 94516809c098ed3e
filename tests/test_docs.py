"""The docs cannot drift from the tree: every repository path that README.md and docs/ name exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("seqgan", "benchmarks", "tests", "docs", ".ci")
SUBPACKAGES = ("models", "data", "eval", "train", "tools", "cli")
# A path from the repository root (seqgan/train/trainer.py, benchmarks/oracle/, docs/LOG.md), or a module named
# relative to the package as README's tree does (train/trainer.py).
_TOP = "|".join(re.escape(t) for t in TOP)
ROOTED = re.compile(rf"(?<![\w./-])((?:{_TOP})/[\w./*-]*[\w/*])")  # globs are read whole, then left out
RELATIVE = re.compile(rf"(?<![\w./-])((?:{'|'.join(SUBPACKAGES)})/\w+\.py)\b")


def named_paths(text: str) -> set[str]:
    paths = {m.group(1).rstrip(".") for m in ROOTED.finditer(text)}
    paths |= {"seqgan/" + m.group(1) for m in RELATIVE.finditer(text)}
    return {p for p in paths if "*" not in p}


def missing_paths(doc: Path) -> list[str]:
    return sorted(p for p in named_paths(doc.read_text(encoding="utf-8")) if not (ROOT / p).exists())


def test_every_path_the_docs_name_exists() -> None:
    missing = {str(doc.relative_to(ROOT)): missing_paths(doc) for doc in DOCS}
    missing = {doc: paths for doc, paths in missing.items() if paths}
    assert not missing, missing


def test_the_checker_finds_paths_and_misses() -> None:
    text = "see `seqgan/train/trainer.py`, [x](benchmarks/oracle/results.md), train/rundir.py and seqgan/oracle_io.py."
    assert named_paths(text) == {
        "seqgan/train/trainer.py",
        "benchmarks/oracle/results.md",
        "seqgan/train/rundir.py",
        "seqgan/oracle_io.py",
    }
    assert not (ROOT / "seqgan/oracle_io.py").exists()
    assert named_paths("runs/demo/metrics.jsonl and data/poems and RUN/lm/ and tests/cli/test_x*.py") == set()
