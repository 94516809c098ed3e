"""Checkpoints are complete and a killed run resumes to exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import events, kill_when, tiny_config

from seqgan.errors import TrainingError, UserError
from seqgan.train.checkpoint import load_file
from seqgan.train.logbook import CollapseMonitor
from seqgan.train.trainer import SeqGANTrainer

# Longer than the plain tiny preset so that kills land inside each phase.
LONGER = ["pretrain.g_epochs=12", "pretrain.d_steps=6", "adversarial.epochs=10", "eval.every=1", "run.progress=false"]


def _config(extra: list[str] = ()):
    return tiny_config(*LONGER, *extra)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqgan", *args]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("full") / "run"
    subprocess.run(
        _cli("train", "--preset", "tiny", "--out-dir", str(out), *sum((["--set", s] for s in LONGER), [])),
        check=True,
        capture_output=True,
    )
    return events(out)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    """Kill the same run three times (in MLE, D pre-training and adversarial training), resume
    after each kill; the final metrics equal those of a run that was never interrupted."""
    out = tmp_path / "run"
    sets = sum((["--set", s] for s in LONGER), [])
    n = len(uninterrupted)
    first_d = next(i for i, e in enumerate(uninterrupted) if e["phase"] == "d_pretrain")
    first_adv = next(i for i, e in enumerate(uninterrupted) if e["phase"] == "adversarial")
    kill_points = [5, first_d + 3, first_adv + 4]
    assert kill_points[-1] < n
    proc = subprocess.Popen(
        _cli("train", "--preset", "tiny", "--out-dir", str(out), *sets),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    killed = [kill_when(proc, out / "metrics.jsonl", kill_points[0])]
    for point in kill_points[1:]:
        proc = subprocess.Popen(
            _cli("train", "--resume", str(out)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        killed.append(kill_when(proc, out / "metrics.jsonl", point))
    assert any(killed), "no kill landed: the test did not test resuming"
    subprocess.run(_cli("train", "--resume", str(out)), check=True, capture_output=True)
    assert events(out) == uninterrupted


def test_resume_in_process_matches_and_restores_everything(tmp_path, uninterrupted):
    """Stop after the MLE phase in-process, reopen with resume: models, optimisers and random
    states are restored bit for bit, and finishing gives the uninterrupted metrics."""
    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(), out, command="test")
    trainer.pretrain_generator()
    assert trainer.phase == "d_pretrain"
    trainer.close()  # release the run's lock, as the end of a process would
    trainer_global_rng = torch.get_rng_state()
    reopened = SeqGANTrainer.resume(out)
    reopened_global_rng = torch.get_rng_state()
    assert torch.equal(trainer_global_rng, reopened_global_rng)
    assert (reopened.phase, reopened.epoch) == (trainer.phase, trainer.epoch)
    for a, b in [(trainer.generator, reopened.generator), (trainer.discriminator, reopened.discriminator)]:
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    sa, sb = trainer.g_mle_opt.state_dict()["state"], reopened.g_mle_opt.state_dict()["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    assert torch.equal(trainer.rng.get_state(), reopened.rng.get_state())
    reopened.fit()
    assert events(out) == uninterrupted


def test_delayed_rollout_policy_is_checkpointed(tmp_path):
    """With the delayed roll-out policy, its own weights are part of the checkpoint."""
    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(["adversarial.rollout_policy=delayed", "adversarial.epochs=2"]), out)
    trainer.fit()
    trainer.close()
    reopened = SeqGANTrainer.resume(out)
    w1, w2 = trainer.rollout_policy.lstm.weight_ih_l0, reopened.rollout_policy.lstm.weight_ih_l0
    assert torch.equal(w1, w2)
    # beta lags theta: after adversarial epochs it is neither the generator nor its start.
    assert not torch.equal(w1, trainer.generator.lstm.weight_ih_l0)


def test_damaged_last_checkpoint_falls_back_to_previous(tmp_path):
    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(), out)
    trainer.pretrain_generator()
    trainer.close()
    last = out / "checkpoints" / "last.pt"
    assert (out / "checkpoints" / "prev.pt").exists()
    last.write_bytes(last.read_bytes()[: os.path.getsize(last) // 2])
    reopened = SeqGANTrainer.resume(out)
    assert reopened.phase == "mle"  # prev.pt was written one epoch before the phase ended


def test_second_process_is_refused_while_the_run_is_locked(tmp_path):
    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(), out)
    proc = subprocess.run(_cli("train", "--resume", str(out)), capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "in use by another seqgan process" in proc.stderr
    trainer.close()
    SeqGANTrainer.resume(out).close()  # free again once the first one is done


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_the_epoch_saves_and_resumes_to_the_same_result(sig, tmp_path, uninterrupted):
    out = tmp_path / "run"
    sets = sum((["--set", s] for s in LONGER), [])
    proc = subprocess.Popen(
        _cli("train", "--preset", "tiny", "--out-dir", str(out), *sets),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / "metrics.jsonl").exists() or (out / "metrics.jsonl").read_bytes().count(b"\n") < 4:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.002)
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert sig.name in err and f"seqgan train --resume {out}" in err and "Traceback" not in err
    assert (out / "checkpoints" / "last.pt").exists()
    subprocess.run(_cli("train", "--resume", str(out)), check=True, capture_output=True)
    assert events(out) == uninterrupted


def test_nan_loss_stops_with_phase_and_epoch_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    import seqgan.train.steps as trainer_module

    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(), out)
    real_loss = trainer_module.mle_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 3 * 8 else loss  # 8 batches per epoch: NaN in epoch 4

    monkeypatch.setattr(trainer_module, "mle_loss", poisoned)
    with pytest.raises(TrainingError, match=r"g/mle_loss is nan in phase mle, epoch 4"):
        trainer.fit()
    ckpt = load_file(out / "checkpoints" / "last.pt")
    assert (ckpt["state"]["phase"], ckpt["state"]["epoch"]) == ("mle", 3)
    assert all(torch.isfinite(v).all() for v in ckpt["generator"].values())
    assert "nan" not in (out / "metrics.jsonl").read_text().lower()
    trainer.close()


def test_flipped_byte_is_caught_by_the_checksum(tmp_path, caplog):
    """Damage inside the tensor data (the file still unpickles) is detected and prev.pt is used."""
    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(), out)
    trainer.pretrain_generator()
    trainer.close()
    last = out / "checkpoints" / "last.pt"
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored state, far from the zip headers
    last.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged"):
        load_file(last)
    with caplog.at_level("WARNING", logger="seqgan"):
        reopened = SeqGANTrainer.resume(out)
    assert "using the previous checkpoint" in caplog.text and reopened.phase == "mle"
    reopened.close()


@pytest.mark.filterwarnings("ignore:Error detected in")  # anomaly mode's own report of the forward trace
@pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled")
def test_anomaly_detection_names_the_operation(tmp_path, monkeypatch):
    import seqgan.train.steps as trainer_module

    out = tmp_path / "run"
    trainer = SeqGANTrainer(_config(["run.detect_anomaly=true"]), out)
    real_loss = trainer_module.mle_loss
    # inf * 0 makes NaN logits inside the graph; anomaly mode names the operation in backward
    monkeypatch.setattr(trainer_module, "mle_loss", lambda lg, *rest: real_loss(lg / 0.0 * 0.0, *rest))
    with pytest.raises(TrainingError, match=r"anomaly in phase mle, epoch 1: .*nan"):
        trainer.fit()
    trainer.close()


def test_adversarial_diagnostics_are_logged(uninterrupted):
    """Entropy of the policy per real token lies in (0, log V]; distinct bigrams in (0, 1]."""
    import math

    adv = [e for e in uninterrupted if e["phase"] == "adversarial" and "g/entropy" in e]
    assert len(adv) == 10
    assert all(0 < e["g/entropy"] <= math.log(50) + 1e-6 and 0 < e["g/distinct2"] <= 1 for e in adv)
    assert all({"d/acc_real", "d/acc_fake", "g/reward_mean", "g/reward_std"} <= e.keys() for e in adv)


def test_mle_baseline_mode_spends_the_adversarial_epochs_on_mle(tmp_path):
    """adversarial.mode=mle: no discriminator phase, and MLE goes on for the adversarial epochs,
    continuing exactly where pre-training stopped (the same loss trajectory as a longer MLE run)."""
    base = SeqGANTrainer(_config(["adversarial.mode=mle"]), tmp_path / "mle")
    base.fit()
    base.close()
    evs = events(tmp_path / "mle")
    assert not any(e["phase"] == "d_pretrain" or "d/loss" in e for e in evs)
    losses = [e["g/mle_loss"] for e in evs if "g/mle_loss" in e]
    assert len(losses) == 12 + 10
    longer = SeqGANTrainer(
        _config(["pretrain.g_epochs=22", "pretrain.d_steps=0", "adversarial.epochs=0"]), tmp_path / "longer"
    )
    longer.fit()
    longer.close()
    assert losses == [e["g/mle_loss"] for e in events(tmp_path / "longer") if "g/mle_loss" in e]


def test_mode_collapse_warning(tmp_path, caplog):
    """A policy whose entropy halves after the first adversarial epoch is flagged in metrics.jsonl."""
    monitor = CollapseMonitor()
    first = {"phase": "adversarial", "epoch": 1, "g/entropy": 3.0, "g/distinct2": 0.9}
    later = {"phase": "adversarial", "epoch": 2, "g/entropy": 1.4, "g/distinct2": 0.8}
    steady = {"phase": "adversarial", "epoch": 3, "g/entropy": 2.9, "g/distinct2": 0.85}
    with caplog.at_level("WARNING", logger="seqgan"):
        for event in (first, later, steady):
            monitor.check(event)
    assert "warn/mode_collapse" not in first and later["warn/mode_collapse"] == 1.0
    assert "warn/mode_collapse" not in steady and monitor.reference == {"g/entropy": 3.0, "g/distinct2": 0.9}
    assert "possible mode collapse at adversarial epoch 2: g/entropy" in caplog.text
