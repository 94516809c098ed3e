"""The metrics log of a run: ``metrics.jsonl``, one JSON object per event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per event, flushed at once.

    The byte size after the last event is stored in every checkpoint; on resume the file is
    cut back to it, so events of work that is repeated after a crash are not logged twice.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.touch(exist_ok=True)

    def truncate(self, size: int) -> None:
        with open(self.path, "r+b") as f:
            f.truncate(size)

    def size(self) -> int:
        return self.path.stat().st_size

    def log(self, event: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, sort_keys=False) + "\n")
            f.flush()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Events of a metrics.jsonl; a torn last line (a crash mid-write) is ignored."""
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events
