"""Data parallelism (issue 7): several processes on gloo over loopback give the single-process
gradients of the global batch, identical models on every rank, one run directory written by rank 0,
resume to the uninterrupted result, and one error line for a batch the ranks cannot split."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from helpers import events, tiny_config

from seqgan.errors import Interrupted, UserError
from seqgan.train.distributed import check_split
from seqgan.train.trainer import SeqGANTrainer

ROOT = Path(__file__).resolve().parents[2]
WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_env(port: int) -> dict[str, str]:
    return {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}


def _worker(rank: int, port: int, job: str, args: tuple) -> None:
    """One rank of a spawned group: join it through the environment, as under torchrun, then run ``job``."""
    os.environ.update(_loopback_env(port))
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD)})
    torch.set_num_threads(1)
    from seqgan.train import distributed

    try:
        JOBS[job](rank, *args)
    finally:
        distributed.shutdown()


def _spawn(job: str, *args: Any) -> None:
    mp.spawn(_worker, args=(_free_port(), job, args), nprocs=WORLD, join=True)


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).double() for t in tensors])


# -------------------------------------------------------------- a full run
def _fit_job(rank: int, out: str, results: str) -> None:
    trainer = SeqGANTrainer(tiny_config(), out)
    trainer.fit()
    torch.save(
        {
            "generator": trainer.generator.state_dict(),
            "discriminator": trainer.discriminator.state_dict(),
            "adam": [
                s["exp_avg"]
                for opt in (trainer.g_mle_opt, trainer.g_pg_opt, trainer.d_opt)
                for s in opt.state_dict()["state"].values()
            ],
            "has_log": trainer.log is not None,
        },
        Path(results) / f"rank{rank}.pt",
    )


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    (root / "results").mkdir()
    t0 = time.perf_counter()
    _spawn("fit", str(root / "run"), str(root / "results"))
    print(f"2-process tiny run (spawn): {time.perf_counter() - t0:.1f} s")
    return root


@pytest.fixture(scope="module")
def one_process_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each rank runs
    try:
        out = tmp_path_factory.mktemp("single") / "run"
        SeqGANTrainer(tiny_config(), out).fit()
    finally:
        torch.set_num_threads(threads)
    return events(out)


def test_two_process_run_finishes_with_identical_models_and_one_writer(
    two_process_run: Path, one_process_events: list[dict]
) -> None:
    root = two_process_run
    assert sorted(p.name for p in root.iterdir()) == ["results", "run"]  # no second run directory
    r0, r1 = (torch.load(root / "results" / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    for part in ("generator", "discriminator"):
        for name, value in r0[part].items():
            assert torch.equal(value, r1[part][name]), (part, name)
    assert len(r0["adam"]) == len(r1["adam"]) > 0
    assert all(torch.equal(a, b) for a, b in zip(r0["adam"], r1["adam"], strict=True))
    assert r0["has_log"] and not r1["has_log"]
    evs = events(root / "run")
    # Rank 0 alone logs: the same events, in the same order and with the same keys, as one process.
    assert [(e["phase"], e["epoch"], sorted(e)) for e in evs] == [
        (e["phase"], e["epoch"], sorted(e)) for e in one_process_events
    ]
    # The MLE phase draws no random numbers (no shuffle in tiny): two processes compute the same
    # global-batch gradients, so the losses and evaluations agree with one process up to rounding.
    mle = [(a, b) for a, b in zip(evs, one_process_events, strict=True) if a["phase"] == "mle"]
    for a, b in mle:
        for key in a:
            if key.startswith(("g/", "eval/")):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), (a["epoch"], key)
    # Afterwards each rank samples its own stream: the adversarial numbers are not the one-process ones.
    adv = [(a, b) for a, b in zip(evs, one_process_events, strict=True) if a["phase"] == "adversarial"]
    assert any(a.get("g/reward_mean") != b.get("g/reward_mean") for a, b in adv)
    env = json.loads((root / "run" / "env.json").read_text())
    assert env["distributed"]["world_size"] == WORLD
    ckpt = torch.load(root / "run" / "checkpoints" / "pretrained.pt", weights_only=True)
    from seqgan.train.checkpoint import load_file

    rng = load_file(root / "run" / "checkpoints" / "last.pt")["rng"]
    assert ckpt and rng["world_size"] == WORLD and len(rng["ranks"]) == WORLD
    assert not torch.equal(rng["ranks"][0]["sampler"], rng["ranks"][1]["sampler"])  # a stream per rank


def test_one_process_refuses_to_resume_a_two_process_run(two_process_run: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"trained with 2 process\(es\) but this launch has 1"):
        SeqGANTrainer.resume(two_process_run / "run")


# ---------------------------------------------------- gradients of one step
GRAD_CFG = ("data.eos_token=2", "discriminator.dropout_keep=1.0", "adversarial.reward_baseline=mean")


def _fixed_batches() -> dict[str, torch.Tensor]:
    """Global batches with unequal real lengths in the two halves, so that a wrong weighting shows."""
    cfg = tiny_config(*GRAD_CFG)
    B, T, V = cfg.pretrain.batch_size, cfg.data.seq_len, cfg.data.vocab_size
    gen = torch.Generator().manual_seed(11)
    rows = torch.randint(3, V, (B, T), generator=gen)
    short, long = torch.randint(1, 4, (B // 2,), generator=gen), torch.randint(5, T + 1, (B // 2,), generator=gen)
    lengths = torch.cat([short, long])
    for b, n in enumerate(lengths.tolist()):
        if n < T:
            rows[b, n - 1], rows[b, n:] = 2, 0  # EOS, then padding
    Bd = cfg.discriminator.batch_size
    d_x = torch.randint(0, V, (Bd, T), generator=gen)
    d_y = (torch.arange(Bd) % 3 == 0).long()
    Bp = cfg.adversarial.batch_size
    pg_tokens = rows[torch.randperm(B, generator=gen)[:Bp]]
    pg_rewards = torch.rand(Bp, T, generator=gen, dtype=torch.float64)
    return {"mle": rows, "d_x": d_x, "d_y": d_y, "pg_tokens": pg_tokens, "pg_rewards": pg_rewards}


def _steps(trainer: SeqGANTrainer, batches: dict[str, torch.Tensor], world: int, rank: int) -> dict[str, Any]:
    """The three updates from the same start: MLE and D steps on each global batch (the trainer takes this rank's
    rows), the policy-gradient update on this rank's sequences; the gradients (reduced and clipped, as the optimiser
    saw them) and the parameters after each."""
    g, d = trainer.generator.double(), trainer.discriminator.double()  # the optimisers keep the same tensors
    start = {k: v.clone() for k, v in g.state_dict().items()}
    mine = {k: v.tensor_split(world)[rank] for k, v in batches.items()}
    out: dict[str, Any] = {}
    rows = batches["mle"]
    loss = trainer.mle_step(rows)
    out["mle_grad"], out["mle_params"] = (
        _flat([p.grad for p in g.parameters() if p.requires_grad]),
        _flat(list(g.parameters())),
    )
    out["mle_loss"] = loss
    g.load_state_dict(start)
    one = rows[:1]  # fewer rows than ranks: rank 1 holds none
    trainer.mle_step(one)
    out["mle1_grad"] = _flat([p.grad for p in g.parameters() if p.requires_grad])
    g.load_state_dict(start)
    trainer.discriminator_step(batches["d_x"], batches["d_y"])
    out["d_grad"], out["d_params"] = _flat([p.grad for p in d.parameters()]), _flat(list(d.parameters()))
    stats = trainer.policy_gradient_update(mine["pg_tokens"], mine["pg_rewards"])
    out["pg_grad"], out["pg_params"] = (
        _flat([p.grad for p in g.parameters() if p.requires_grad]),
        _flat(list(g.parameters())),
    )
    out["pg_stats"] = {k: v for k, v in stats.items() if not isinstance(v, list)}
    return out


def _grad_job(rank: int, out: str, batches_file: str, results: str) -> None:
    trainer = SeqGANTrainer(tiny_config(*GRAD_CFG), out)
    torch.save(
        _steps(trainer, torch.load(batches_file, weights_only=True), WORLD, rank), Path(results) / f"grads{rank}.pt"
    )
    # A signal that reaches one rank stops both after the epoch, with a checkpoint of both ranks' streams.
    if rank == 1:
        trainer.signals.received = signal.SIGTERM
    try:
        trainer.fit()
        stopped = False
    except Interrupted as e:
        stopped = "torchrun --nproc-per-node 2 -m seqgan train --resume" in str(e)
    (Path(results) / f"stop{rank}.json").write_text(json.dumps(stopped))


def test_one_step_gradients_equal_the_single_process_gradients(tmp_path: Path) -> None:
    batches = _fixed_batches()
    torch.save(batches, tmp_path / "batches.pt")
    (tmp_path / "results").mkdir()
    _spawn("grads", str(tmp_path / "ddp"), str(tmp_path / "batches.pt"), str(tmp_path / "results"))
    single = SeqGANTrainer(tiny_config(*GRAD_CFG), tmp_path / "single")
    want = _steps(single, batches, 1, 0)
    got = [torch.load(tmp_path / "results" / f"grads{r}.pt", weights_only=True) for r in range(WORLD)]
    for key in ("mle_grad", "mle1_grad", "d_grad", "pg_grad", "mle_params", "d_params", "pg_params"):
        assert torch.equal(got[0][key], got[1][key]), key  # the same step on every rank
        torch.testing.assert_close(got[0][key], want[key], rtol=0, atol=1e-9, msg=key)
    assert float(want["pg_grad"].abs().max()) > 1e-3 and float(want["mle_grad"].abs().max()) > 1e-3
    torch.testing.assert_close(got[0]["mle_loss"] + got[1]["mle_loss"], want["mle_loss"], rtol=0, atol=1e-12)
    for key, value in want["pg_stats"].items():  # statistics over the gathered global batch
        assert got[0]["pg_stats"][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    stops = [json.loads((tmp_path / "results" / f"stop{r}.json").read_text()) for r in range(WORLD)]
    assert stops == [True, True]
    from seqgan.train.checkpoint import load_file

    rng = load_file(tmp_path / "ddp" / "checkpoints" / "last.pt")["rng"]
    assert rng["world_size"] == WORLD and len(rng["ranks"]) == WORLD


# ------------------------------------------------------ torchrun, resume
def _torchrun(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={WORLD}",
        "-m",
        "seqgan",
        *args,
    ]


def _torchrun_env() -> dict[str, str]:
    return {**os.environ, **_loopback_env(0), "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _rank_errors(stderr: str) -> str:
    """What the ranks printed before torchrun's own report (which names only the signal)."""
    cut = stderr.rfind("Traceback (most recent call last):")
    head = stderr[:cut] if cut > 0 and "ChildFailedError" in stderr[cut:] else stderr
    return head[-6000:]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc): torchrun starts each rank in a session of its own."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_torchrun_killed_after_a_checkpoint_resumes_to_the_uninterrupted_run(
    two_process_run: Path, tmp_path: Path
) -> None:
    """SIGKILL the whole torchrun job during adversarial training, resume it with torchrun: the metrics
    equal those of the uninterrupted two-process run (the spawned one, same config)."""
    out = tmp_path / "run"
    want = events(two_process_run / "run")
    first_adv = next(i for i, e in enumerate(want) if e["phase"] == "adversarial")
    proc = subprocess.Popen(
        _torchrun("train", "--preset", "tiny", "--out-dir", str(out), "--no-progress"),
        env=_torchrun_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed, deadline = False, time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        metrics = out / "metrics.jsonl"
        if metrics.exists() and metrics.read_bytes().count(b"\n") >= first_adv + 1:
            ranks = _descendants(proc.pid)
            for pid in ranks:  # both ranks, as a crash of the machine would (the launcher does not matter)
                os.kill(pid, signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            killed = len(ranks) >= WORLD
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    assert killed, "the run finished (or hung) before the kill point"
    deadline = time.monotonic() + 30
    while not all(_gone(pid) for pid in ranks):
        assert time.monotonic() < deadline, "a rank survived SIGKILL"
        time.sleep(0.01)
    assert len(events(out)) < len(want)
    done = subprocess.run(
        _torchrun("train", "--resume", str(out), "--no-progress"),
        env=_torchrun_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 and "exitcode  : -6" in done.stderr:
        # Once in CI (not reproduced in 14 local tries) a rank of the resumed job died of SIGABRT, which gloo raises
        # when a peer's socket closes mid-message. A crashed resume is one more crash: resuming again must still
        # reach the uninterrupted run's metrics. The first failure is printed for the record.
        print("first resume aborted; resumed again:\n" + _rank_errors(done.stderr), file=sys.stderr)
        done = subprocess.run(
            _torchrun("train", "--resume", str(out), "--no-progress"),
            env=_torchrun_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, _rank_errors(done.stderr)
    assert done.stdout.count("run_dir:") == 1  # rank 0 reports
    assert events(out) == want


def test_a_batch_the_ranks_cannot_split_is_one_error_line(tmp_path: Path) -> None:
    with pytest.raises(
        UserError,
        match=r"adversarial.batch_size is 15, which 2 processes cannot split equally: use a "
        r"multiple of 2 \(--set adversarial.batch_size=14\)",
    ):
        check_split(tiny_config("adversarial.batch_size=15"), 2)
    check_split(tiny_config("adversarial.batch_size=15"), 1)  # one process splits nothing
    out = tmp_path / "run"
    proc = subprocess.run(
        _torchrun("train", "--preset", "tiny", "--set", "pretrain.batch_size=33", "--out-dir", str(out)),
        env=_torchrun_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:") or "] error:" in line]
    assert lines == [
        "error: pretrain.batch_size is 33, which 2 processes cannot split equally: use a multiple of 2 "
        "(--set pretrain.batch_size=32) or a process count that divides it"
    ], proc.stderr[-2000:]
    assert str(ROOT / "seqgan") not in proc.stderr  # no traceback from the ranks (torchrun prints its own)
    assert not out.exists()


# ------------------------------------------------------- conditional (labelled) run
COND = [
    "data.num_labels=3",
    "pretrain.g_epochs=2",
    "pretrain.d_steps=1",
    "adversarial.epochs=2",
    "eval.every=1",
    "eval.num_samples=96",
]


def _cond_job(rank: int, out: str, results: str) -> None:
    trainer = SeqGANTrainer(tiny_config(*COND), out)
    trainer.fit()
    torch.save(
        {"generator": trainer.generator.state_dict(), "discriminator": trainer.discriminator.state_dict()},
        Path(results) / f"rank{rank}.pt",
    )


def test_two_processes_train_a_conditional_model_alike(tmp_path: Path) -> None:
    """Labels travel with the ranks' shares (MLE batches, policy-gradient samples, D's positives and negatives):
    two processes end with identical label-conditioned models and rank 0 logs the per-label metrics."""
    (tmp_path / "results").mkdir()
    _spawn("cond", str(tmp_path / "run"), str(tmp_path / "results"))
    r0, r1 = (torch.load(tmp_path / "results" / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    for part in ("generator", "discriminator"):
        assert r0[part].keys() == r1[part].keys()
        for name, value in r0[part].items():
            assert torch.equal(value, r1[part][name]), (part, name)
    assert any("label" in name for name in r0["generator"])  # the label embedding was trained and kept
    evs = events(tmp_path / "run")
    last = [e for e in evs if e["phase"] == "adversarial"][-1]
    assert {"eval/label_acc", "eval/label0/nll_oracle", "eval/label2/nll_oracle"} <= set(last)
    assert 0.0 <= last["eval/label_acc"] <= 1.0


JOBS = {"fit": _fit_job, "grads": _grad_job, "cond": _cond_job}
