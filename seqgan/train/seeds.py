"""Seeds derived from the run's seed, one per purpose, so that no two streams of random numbers coincide and each is
the same in every process and every version.

Each purpose has its own number; changing one changes every run's numbers, so they are fixed here once.
"""

from __future__ import annotations

import enum


class Purpose(enum.IntEnum):
    ORACLE_DATA = 1  # the oracle task's train / valid / test sequences, drawn once when the run is created
    EVALUATION = 2  # the samples of one evaluation: (purpose, phase, epoch), so evaluating more or less often
    # never changes training
    RANK = 3  # several processes: each rank's own stream for sampling and dropout: (purpose, rank)


def derived_seed(*parts: int) -> int:
    """A seed from several integers (run seed, purpose, ...), stable across processes and versions."""
    seed = 0
    for p in parts:
        seed = (seed * 1_000_003 + p) % (2**63 - 1)
    return seed


def oracle_data_seed(seed: int) -> int:
    return derived_seed(seed, Purpose.ORACLE_DATA)


def evaluation_seed(seed: int, phase_index: int, epoch: int) -> int:
    return derived_seed(seed, Purpose.EVALUATION, phase_index, epoch)


def rank_seed(seed: int, rank: int) -> int:
    return derived_seed(seed, Purpose.RANK, rank)
