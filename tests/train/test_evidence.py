"""The machinery behind "does the discriminator help?" (issue 14): the validation split and model selection on it
alone, MLE early stopping, the controls (shuffled reward, plain SGD), the entropy metric."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from helpers import events, kill_when, tiny_config

from seqgan import presets
from seqgan.config import apply_overrides
from seqgan.errors import UserError
from seqgan.eval.metrics import mean_entropy, mean_nll
from seqgan.models import Generator
from seqgan.train.checkpoint import load_file
from seqgan.train.rollout import shuffle_rewards
from seqgan.train.rundir import read_run_config
from seqgan.train.trainer import SeqGANTrainer


# ------------------------------------------------------------------ shuffled reward
def test_shuffle_rewards_permutes_each_column_among_running_rows() -> None:
    g = torch.Generator().manual_seed(0)
    rewards = torch.rand(64, 7, generator=g)
    mask = torch.rand(64, 7, generator=g) < 0.8
    out = shuffle_rewards(rewards, mask, torch.Generator().manual_seed(1))
    moved = 0
    for t in range(7):
        running = mask[:, t]
        assert sorted(out[running, t].tolist()) == sorted(rewards[running, t].tolist())  # the same values
        assert torch.equal(out[~running, t], rewards[~running, t])  # ended rows keep theirs
        moved += int((out[running, t] != rewards[running, t]).sum())
    assert moved > 0.9 * int(mask.sum())  # a random permutation fixes about one row per column
    again = shuffle_rewards(rewards, mask, torch.Generator().manual_seed(1))
    assert torch.equal(out, again) and not torch.equal(out, shuffle_rewards(rewards, mask, torch.Generator()))


def test_shuffled_reward_run_sees_the_same_rewards_but_learns_differently(tmp_path: Path) -> None:
    """Forks of one pre-training, with and without the shuffle: the first epoch's rewards have the same mean at
    every position (the same values, permuted), but G ends up elsewhere."""
    src = tmp_path / "src"
    SeqGANTrainer(tiny_config("adversarial.epochs=1"), src).fit()
    runs = {}
    for name, sets in {"plain": [], "shuffled": ["adversarial.reward_shuffle=true"]}.items():
        runs[name] = tmp_path / name
        SeqGANTrainer.fork(src, tiny_config("adversarial.epochs=1", *sets), runs[name]).fit()
    first = {n: next(e for e in events(r) if "g/reward_by_pos" in e) for n, r in runs.items()}
    assert first["plain"]["g/reward_by_pos"] == pytest.approx(first["shuffled"]["g/reward_by_pos"], abs=3e-6)
    weights = {n: load_file(r / "checkpoints" / "last.pt")["generator"] for n, r in runs.items()}
    assert not torch.equal(weights["plain"]["lstm.weight_hh_l0"], weights["shuffled"]["lstm.weight_hh_l0"])


# ------------------------------------------------------------------ optimiser control
def test_sgd_control_takes_plain_gradient_steps(tmp_path: Path) -> None:
    trainer = SeqGANTrainer(tiny_config("adversarial.g_optimizer=sgd", "adversarial.g_lr=0.5"), tmp_path / "run")
    opt = trainer.g_pg_opt
    assert type(opt) is torch.optim.SGD and opt.param_groups[0]["momentum"] == 0 and opt.param_groups[0]["lr"] == 0.5
    assert type(trainer.g_mle_opt) is torch.optim.Adam  # pre-training stays the authors' Adam
    trainer.close()
    with pytest.raises(UserError, match="adversarial.g_optimizer must be one of adam, sgd"):
        SeqGANTrainer(tiny_config("adversarial.g_optimizer=rmsprop"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_fork_takes_its_optimiser_and_learning_rates_from_its_own_config(tmp_path: Path) -> None:
    """A fork loads the source's pre-training, but the policy-gradient optimiser (kind and rate) and D's rate
    are this run's (a checkpoint's optimiser state used to override them)."""
    src = tmp_path / "src"
    SeqGANTrainer(tiny_config("adversarial.epochs=0"), src).fit()
    sets = ("adversarial.g_optimizer=sgd", "adversarial.g_lr=0.5", "discriminator.lr=0.003", "adversarial.epochs=1")
    fork = SeqGANTrainer.fork(src, tiny_config(*sets), tmp_path / "fork")
    assert type(fork.g_pg_opt) is torch.optim.SGD and fork.g_pg_opt.param_groups[0]["lr"] == 0.5
    assert fork.d_opt.param_groups[0]["lr"] == 0.003 and fork.d_opt.state  # D's Adam moments carried over
    fork.fit()
    assert next(e for e in events(tmp_path / "fork") if "g/pg_loss" in e)


# ------------------------------------------------------------------ entropy
def test_mean_entropy_by_hand() -> None:
    torch.manual_seed(0)
    g = Generator(7, 4, 5, eos_token=2, pad_token=0)
    tokens = torch.tensor([[3, 4, 2, 0], [5, 6, 1, 3]])
    total, count = 0.0, 0
    for row in tokens.tolist():
        state = g.initial_state(1)
        prev = g.start_token
        for tok in row:
            with torch.no_grad():
                logits, state = g.step(torch.tensor([prev]), state)
            p = torch.softmax(logits[0] / 0.5, dim=-1)
            total += float(-(p * p.log()).sum())
            count += 1
            if tok == 2:
                break
            prev = tok
    assert mean_entropy(g, tokens, temperature=0.5) == pytest.approx(total / count, rel=1e-5)


# ------------------------------------------------------------------ validation split, model selection
def test_oracle_run_holds_out_a_validation_split_and_selects_on_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    SeqGANTrainer(tiny_config(), run).fit()
    data = torch.load(run / "data.pt", weights_only=True)
    assert {k: len(v) for k, v in data.items()} == {"train": 256, "valid": 128, "test": 128}
    rows = {tuple(r) for r in data["valid"].tolist()}
    assert rows.isdisjoint(tuple(r) for r in data["test"].tolist())  # distinct draws (none repeat at V 50, T 8)
    evals = [e for e in events(run) if any(k.startswith("eval/") for k in e)]
    assert evals and all("eval/nll_valid" in e and "eval/nll_test" not in e for e in evals)
    best_value = min(e["eval/nll_valid"] for e in evals[1:])  # the untrained G (MLE epoch 0) is never kept
    best = load_file(run / "checkpoints" / "best.pt")
    assert best["state"]["best"] == pytest.approx(best_value)


def test_training_never_reads_the_test_split(tmp_path: Path) -> None:
    """Replace the stored test split by other sequences before training: every metric and weight is the same."""
    runs = {}
    for name in ("original", "swapped"):
        runs[name] = run = tmp_path / name
        trainer = SeqGANTrainer(tiny_config(), run)
        trainer.close()
        if name == "swapped":
            data = torch.load(run / "data.pt", weights_only=True)
            data["test"] = torch.randint(0, 50, data["test"].shape, generator=torch.Generator().manual_seed(9))
            buf = io.BytesIO()
            torch.save(data, buf)
            (run / "data.pt").write_bytes(buf.getvalue())
        SeqGANTrainer.resume(run).fit()
    assert events(runs["original"]) == events(runs["swapped"])
    a, b = (load_file(r / "checkpoints" / "last.pt") for r in runs.values())
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


def test_unknown_or_test_split_best_metric_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    for metric, match in (("eval/bleu9x", "unknown eval.best_metric"), ("eval/nll_test", "validation split")):
        with pytest.raises(UserError, match=match):
            SeqGANTrainer(tiny_config(f"eval.best_metric={metric}"), tmp_path / "run")
        assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ MLE early stopping
EARLY = ["pretrain.g_epochs=40", "pretrain.g_lr=0.05", "pretrain.patience=2", "eval.every=1", "adversarial.epochs=1"]


@pytest.fixture(scope="module")
def early_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("early") / "run"
    SeqGANTrainer(tiny_config(*EARLY), run).fit()
    return run


def test_mle_stops_after_patience_evaluations_without_improvement(early_run: Path) -> None:
    evs = events(early_run)
    mle = [
        e
        for e in evs
        if e.get("phase") == "mle" and "eval/nll_valid" in e and e["epoch"] > 0 and "mle/best_epoch" not in e
    ]
    values = [e["eval/nll_valid"] for e in mle]
    best = min(range(len(values)), key=values.__getitem__)
    stop = next(e for e in evs if "mle/best_epoch" in e)
    assert stop["mle/stopped_early"] == 1 and stop["epoch"] < 40
    assert stop["mle/best_epoch"] == mle[best]["epoch"] and stop["mle/best_nll_valid"] == values[best]
    assert len(values) == best + 1 + 2  # two evaluations after the best, then the stop
    assert all(v >= values[best] for v in values[best + 1 :])
    assert stop["epoch"] == mle[-1]["epoch"] and stop["eval/nll_valid"] == pytest.approx(values[best], abs=1e-6)


def test_pre_training_ends_with_the_best_validation_generator(early_run: Path) -> None:
    cfg = read_run_config(early_run)
    pretrained = load_file(early_run / "checkpoints" / "pretrained.pt")
    g = Generator(cfg.data.vocab_size, cfg.generator.emb_dim, cfg.generator.hidden_dim)
    g.load_state_dict(pretrained["generator"])
    valid = torch.load(early_run / "data.pt", weights_only=True)["valid"]
    stop = next(e for e in events(early_run) if "mle/best_epoch" in e)
    assert mean_nll(g, valid) == pytest.approx(stop["mle/best_nll_valid"], rel=1e-6)


def test_patience_needs_a_validation_split() -> None:
    with pytest.raises(UserError, match="pretrain.patience .* no validation split"):
        apply_overrides(presets.get("tiny"), ["data.num_valid=0", "pretrain.patience=3"])


@pytest.mark.parametrize("kill_after_lines", [7, 11])
def test_early_stopped_run_killed_in_mle_resumes_to_the_uninterrupted_result(
    early_run: Path, tmp_path: Path, kill_after_lines: int
) -> None:
    """SIGKILL inside MLE (after the best epoch so far is held) and resume: the best weights and the patience
    count travel in the checkpoint, so the stop and every later number are those of the uninterrupted run."""
    import subprocess
    import sys

    run = tmp_path / "run"
    sets = [x for s in ["run.progress=false", *EARLY] for x in ("--set", s)]
    cmd = [sys.executable, "-m", "seqgan", "train", "--preset", "tiny", "--out-dir", str(run), *sets]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kill_when(proc, run / "metrics.jsonl", kill_after_lines)
    assert read_run_config(run).pretrain.patience == 2
    subprocess.run([sys.executable, "-m", "seqgan", "train", "--resume", str(run)], check=True, capture_output=True)
    assert events(run) == events(early_run)
