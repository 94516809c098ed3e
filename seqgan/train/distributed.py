"""Data parallelism across processes started by ``torchrun`` (torch.distributed, no DDP wrapper).

``torchrun --nproc-per-node K -m seqgan train ...`` starts K copies of the trainer; each finds its rank in
the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and joins one
process group: gloo for tensors on the CPU and, on a machine with CUDA, NCCL for tensors on the GPU (one
group, ``cpu:gloo,cuda:nccl``; Python objects always travel over gloo). The trainer splits the work
(``seqgan/train/steps.py``) and calls the few collectives below; the gradient of every step is summed over
the ranks before the clip, so all ranks take the same step and their parameters stay identical.

Without torchrun (or with ``WORLD_SIZE=1``) there is no process group and every helper here is the
identity, so a single process pays nothing for it and computes exactly what plain PyTorch would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from seqgan.config import SeqGANConfig, get_value
from seqgan.errors import Interrupted, TrainingError, UserError

T = TypeVar("T")


JOIN_TIMEOUT_S = 300.0  # ours: torchrun starts every process at once; minutes of waiting mean one never came


def _env_int(name: str, default: int, low: int, high: int | None = None) -> int:
    text = os.environ.get(name, "").strip()
    try:
        value = int(text) if text else default
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        raise UserError(
            f"{name}={text[:20]!r} in the environment is not {allowed}: start several processes with torchrun "
            f"(`torchrun --nproc-per-node K -m seqgan train ...`), or unset {name} to train in one process"
        )
    return value


def launched() -> bool:
    """True in a process that torchrun (or an equivalent launcher) started as one of several. The launcher's
    variables are checked (a UserError names a malformed or missing one)."""
    world = _env_int("WORLD_SIZE", 1, 1)
    if world == 1:
        return False
    _env_int("RANK", -1, 0, world - 1)  # required, and below WORLD_SIZE
    _env_int("LOCAL_RANK", 0, 0)
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name, "").strip()]
    if missing:
        raise UserError(
            f"WORLD_SIZE={world} is set but {missing[0]} is not: start the {world} processes with torchrun "
            f"(`torchrun --nproc-per-node {world} -m seqgan train ...`), or unset WORLD_SIZE to train in one process"
        )
    _env_int("MASTER_PORT", 0, 1, 65535)
    return True


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(timeout_s: float = 1800.0) -> None:
    """Join the process group that the launcher describes in the environment (idempotent; a no-op
    outside a launch). Called by the trainer, so library code under torchrun needs no set-up."""
    if not launched() or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise UserError(
            "WORLD_SIZE > 1 but this PyTorch build has no torch.distributed: use a build with it, or "
            "run one process (plain `seqgan train`)"
        )
    # One group for both devices: object collectives use its CPU (gloo) side, GPU tensors its NCCL side.
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    world, rank_ = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    join_s = float(os.environ.get("SEQGAN_JOIN_TIMEOUT", JOIN_TIMEOUT_S))
    where = f"{os.environ['MASTER_ADDR'].strip()}:{os.environ['MASTER_PORT'].strip()}"
    if "TORCHELASTIC_RUN_ID" not in os.environ:  # started by hand: the others may never come, so say what we wait for
        logging.getLogger("seqgan").warning(
            "rank %d of WORLD_SIZE=%d: waiting up to %.0f s at %s for the other %d process(es) to join (start "
            "them, or unset WORLD_SIZE to train in one process)",
            rank_,
            world,
            join_s,
            where,
            world - 1,
        )

    def give_up() -> None:  # the process group cannot be left while it forms: end the process with one line
        sys.stderr.write(
            f"error: [rank {rank_}] the other processes of WORLD_SIZE={world} did not join at {where} within "
            f"{join_s:.0f} s: start all {world} with torchrun (`torchrun --nproc-per-node {world} -m seqgan train "
            "...`), or unset WORLD_SIZE to train in one process\n"
        )
        sys.stderr.flush()
        os._exit(2)

    watchdog = threading.Timer(join_s, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    except (ValueError, RuntimeError) as e:  # an address that does not resolve, a port in use
        raise UserError(
            f"cannot form the process group at {where} ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__}"
            "): check MASTER_ADDR and MASTER_PORT, or start the processes with torchrun"
        ) from None
    finally:
        watchdog.cancel()


def shutdown(finished: bool = False) -> None:
    """Leave the process group (torch warns at exit otherwise). ``finished``: every rank got here after the same
    collectives, so they first wait for each other: no rank closes its sockets while a peer still reads from them
    (gloo aborts a process whose peer vanishes mid-message). After an error the ranks just leave, as a barrier
    could wait for a rank that never comes."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` for CUDA runs with several processes, else ``device``."""
    if device.type != "cuda" or not active():
        return device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        # only the ranks beyond the GPU count raise this (not mirrored): each says so
        raise UserError(
            f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} CUDA GPU(s): start at "
            "most one process per GPU (--nproc-per-node)"
        )
    torch.cuda.set_device(local)  # NCCL works on the current device
    return torch.device("cuda", local)


# ------------------------------------------------------------------ errors
E = TypeVar("E", bound=Exception)


def mirrored(err: E) -> E:
    """Mark an error that every rank raises alike (same input, same reduced numbers): the CLI prints
    it on rank 0 only, so K processes do not print K copies. Unmarked errors print on every rank that
    raises them, prefixed with the rank."""
    err.mirrored = True  # type: ignore[attr-defined]
    return err


@contextlib.contextmanager
def same_on_all_ranks() -> Iterator[None]:
    """Errors raised inside come from input that every rank sees identically (the command line, the
    config): mark them :func:`mirrored`."""
    try:
        yield
    except (UserError, TrainingError, Interrupted) as e:
        mirrored(e)
        raise


def run_on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every rank (a single process just calls it).

    For work that touches the run directory (create, lock, read, fork): the other ranks never need the
    file system, so several machines need no shared folder. An error on rank 0 is raised on every
    rank (as a mirrored UserError on the others), so no rank waits forever for a result.
    """
    if not active():
        return fn()
    box: list[Any] = [None, None]
    if rank() == 0:
        try:
            box[1] = fn()
        except Exception as e:  # noqa: BLE001 - sent on before being raised here
            box[0] = str(e) if isinstance(e, UserError) else f"rank 0 failed: {type(e).__name__}: {e}"
            dist.broadcast_object_list(box, src=0)
            raise
        dist.broadcast_object_list(box, src=0)
        return box[1]
    dist.broadcast_object_list(box, src=0)
    if box[0] is not None:
        raise mirrored(UserError(box[0]))
    return box[1]


# ------------------------------------------------------------- collectives
def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (picklable values: metrics, checkpoints)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-element list in a single process)."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum ``t`` over the ranks, in place; returns it."""
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def max_int(value: int) -> int:
    """The largest ``value`` over the ranks (e.g. a signal number, 0 when none arrived)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t)


def all_reduce_grads(params: Iterable[nn.Parameter]) -> None:
    """Sum the gradients of ``params`` over the ranks, in one flat call.

    Each rank's loss is its share of the global batch's loss, so the sum is the gradient of the global
    batch. A parameter without a gradient here (an empty shard) counts as zeros, and afterwards has the
    summed gradient like on every other rank, so the optimiser steps are the same everywhere.
    """
    if not active():
        return
    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_gather_rows(t: Tensor) -> Tensor:
    """Concatenate every rank's ``t`` (R_r, ...) along the first dimension, in rank order -> (sum R_r, ...).

    Ranks may hold different numbers of rows: each pads to the largest count, and the padding is cut off.
    """
    if not active():
        return t
    counts = torch.tensor([t.shape[0]], dtype=torch.int64, device=t.device)
    all_counts = [torch.zeros_like(counts) for _ in range(world_size())]
    dist.all_gather(all_counts, counts)
    sizes = [int(c) for c in all_counts]
    padded = torch.zeros((max(sizes), *t.shape[1:]), dtype=t.dtype, device=t.device)
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])


def broadcast_module(module: nn.Module) -> None:
    """Overwrite ``module``'s parameters and buffers with rank 0's (the same start everywhere, whatever
    the machines' initialisation does)."""
    if not active():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def split_sizes(total: int, parts: int) -> list[int]:
    """``total`` items over ``parts`` ranks as evenly as possible, the first ranks taking one more."""
    return [total // parts + (1 if r < total % parts else 0) for r in range(parts)]


def check_split(config: SeqGANConfig, world: int) -> None:
    """Refuse batch sizes that ``world`` processes cannot share equally (one line naming the key and the fix)."""
    if world <= 1:
        return
    for key in ("pretrain.batch_size", "adversarial.batch_size", "discriminator.batch_size"):
        size = get_value(config, key)
        if size % world:
            fit = max(world, size - size % world)
            raise UserError(
                f"{key} is {size}, which {world} processes cannot split equally: use a multiple of "
                f"{world} (--set {key}={fit}) or a process count that divides it"
            )


def rng_states(rng: torch.Generator, shared: torch.Generator, device: torch.device) -> dict[str, Any]:
    """Every random state a checkpoint needs: torch's global stream (dropout, initialisation), the sampler and,
    with several processes, every rank's (gathered in rank order) and the shared shuffle stream."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "sampler": rng.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    if world_size() > 1:
        state = {"world_size": world_size(), "shared": shared.get_state(), "ranks": all_gather_object(state)}
    return state


def set_rng_states(saved: dict[str, Any], rng: torch.Generator, shared: torch.Generator, device: torch.device) -> None:
    """Restore :func:`rng_states` on this rank (the process count was checked when the run was opened)."""
    if world_size() > 1:
        shared.set_state(saved["shared"])
        saved = saved["ranks"][rank()]
    torch.set_rng_state(saved["torch"])
    rng.set_state(saved["sampler"])
    if "cuda" in saved and device.type == "cuda":
        torch.cuda.set_rng_state(saved["cuda"], device)


def check_world(ckpt: dict[str, Any], source: Any) -> None:
    """A checkpoint continues only with the process count it was written with: the split of the batches and the
    random streams depend on it."""
    saved, world = ckpt["rng"].get("world_size", 1), world_size()
    if saved != world:
        how = f"torchrun --nproc-per-node {saved} -m seqgan train ..." if saved > 1 else "plain `seqgan train`"
        raise UserError(
            f"{source} was trained with {saved} process(es) but this launch has {world}: continue it "
            f"with the same number ({how})"
        )
