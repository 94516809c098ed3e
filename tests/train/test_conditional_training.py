"""Conditional training on the conditional oracle task: labelled data, every phase with labels, resume, use."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from helpers import events, ok, tiny_config, user_error

from seqgan.train import rollout
from seqgan.train.portable import load_run
from seqgan.train.trainer import SeqGANTrainer

K = 3
SETS = [
    "data.num_labels=3",
    "pretrain.g_epochs=3",
    "pretrain.d_steps=2",
    "adversarial.epochs=2",
    "eval.every=1",
    "eval.num_samples=96",
]


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond") / "run"
    trainer = SeqGANTrainer(tiny_config(*SETS), out, command="test")
    trainer.fit()
    trainer.close()
    return out


def test_the_conditional_oracle_task_has_labelled_balanced_splits_and_conditional_models(cond_run) -> None:
    data = torch.load(cond_run / "data.pt", weights_only=True)
    for split in ("train", "valid", "test"):
        labels = data[f"{split}_labels"]
        assert labels.shape == data[split].shape[:1]
        counts = Counter(labels.tolist())
        assert set(counts) == set(range(K)) and max(counts.values()) - min(counts.values()) <= 1
    run = load_run(cond_run)
    assert run.generator.num_labels == K and run.labels == ["0", "1", "2"]
    V = run.config.data.vocab_size
    assert run.discriminator.embedding.num_embeddings == V + K  # D reads the label as a token of its own
    # the oracle's labels are real: each split's sequences are likelier under their own label than under others
    nll = {
        k: run.oracle.log_probs(data["valid"], labels=torch.full_like(data["valid_labels"], k)).sum(1) for k in range(K)
    }
    own = torch.stack([nll[k] for k in range(K)], 1).argmax(1)
    assert float((own == data["valid_labels"]).double().mean()) > 0.6


def test_every_evaluation_reports_label_accuracy_and_per_label_metrics(cond_run) -> None:
    evals = [e for e in events(cond_run) if "eval/nll_oracle" in e]
    assert evals and all("eval/label_acc" in e and "eval/label_acc_real" in e for e in evals)
    last = evals[-1]
    for k in range(K):
        assert {f"eval/label{k}/nll_oracle", f"eval/label{k}/nll_valid", f"eval/label{k}/entropy"} <= last.keys()
    # the overall NLL_oracle is the mean of the per-label ones (equal shares, fixed length)
    per_label = sum(last[f"eval/label{k}/nll_oracle"] for k in range(K)) / K
    assert last["eval/nll_oracle"] == pytest.approx(per_label, rel=1e-9)
    # the Bayes judge on real data beats chance: the labels are learnable
    assert last["eval/label_acc_real"] > 1.0 / K + 0.2
    samples = (cond_run / "samples" / "adversarial-0002.txt").read_text().splitlines()
    assert samples and all(line.split("\t")[0] in {"0", "1", "2"} for line in samples)


def test_discriminator_reads_labels_and_negatives_share_the_positives_labels(tmp_path, monkeypatch) -> None:
    trainer = SeqGANTrainer(tiny_config(*SETS), tmp_path / "run", command="test")
    seen = []
    real_step = trainer.discriminator_step
    monkeypatch.setattr(trainer, "discriminator_step", lambda x, y: (seen.append((x, y)), real_step(x, y))[1])
    trainer.train_discriminator(1, 1)
    x, y = torch.cat([s[0] for s in seen]), torch.cat([s[1] for s in seen])
    V, T = trainer.cfg.data.vocab_size, trainer.cfg.data.seq_len
    assert x.shape[1] == T + 1 and bool((x[:, 0] >= V).all()) and bool((x[:, 1:] < V).all())
    real, fake = Counter((x[y == 1, 0] - V).tolist()), Counter((x[y == 0, 0] - V).tolist())
    assert real == fake == Counter(trainer.train_labels.tolist())
    trainer.close()


def test_policy_gradient_rollouts_keep_the_label_each_sequence_was_asked_for(tmp_path, monkeypatch) -> None:
    trainer = SeqGANTrainer(tiny_config(*SETS), tmp_path / "run", command="test")
    asked, rewarded = [], []
    sample = trainer.generator.sample
    monkeypatch.setattr(
        trainer.generator, "sample", lambda *a, **kw: (asked.append(kw.get("labels")), sample(*a, **kw))[1]
    )
    real_rewards = rollout.rollout_rewards
    monkeypatch.setattr(
        rollout, "rollout_rewards", lambda *a, **kw: (rewarded.append(kw.get("labels")), real_rewards(*a, **kw))[1]
    )
    trainer.g_step()
    assert asked[0] is not None and rewarded[0] is asked[0]
    assert set(asked[0].tolist()) <= set(range(K)) and len(set(asked[0].tolist())) > 1
    trainer.close()


def test_resume_of_a_conditional_run_equals_the_uninterrupted_run(tmp_path, cond_run) -> None:
    out = tmp_path / "run"
    trainer = SeqGANTrainer(tiny_config(*SETS), out, command="test")
    trainer.pretrain_generator()
    trainer.pretrain_discriminator()
    trainer.close()
    resumed = SeqGANTrainer.resume(out)
    resumed.fit()
    resumed.close()
    assert events(out) == events(cond_run)


def test_sampling_asks_for_labels_and_refuses_unknown_ones(cond_run, tmp_path, capsys, tiny_run) -> None:
    lines = ok(capsys, ["sample", str(cond_run), "--num-samples", "6", "--label", "2", "--label", "0"]).splitlines()
    assert [line.split("\t")[0] for line in lines] == ["2", "0", "2", "0", "2", "0"]
    every = ok(capsys, ["sample", str(cond_run), "--num-samples", "6"]).splitlines()  # default: all, in turn
    assert [line.split("\t")[0] for line in every] == ["0", "1", "2", "0", "1", "2"]
    run = load_run(cond_run)
    assert run.sample_ids(4, label="1", seed=3).shape == (4, run.config.data.seq_len)
    # the label is an input: the same seed asked for another label gives other sequences
    assert not torch.equal(run.sample_ids(32, label="1", seed=3), run.sample_ids(32, label="2", seed=3))
    err = user_error(capsys, ["sample", str(cond_run), "--label", "7", "--out", str(tmp_path / "s.txt")])
    assert "label '7' is not one of this run's labels (0, 1, 2)" in err
    assert not (tmp_path / "s.txt").exists()
    err = user_error(capsys, ["sample", str(tiny_run), "--label", "0"])
    assert "trained without labels" in err


def test_labelled_runs_refuse_what_does_not_take_labels(tmp_path, capsys) -> None:
    err = user_error(
        capsys,
        [
            "train",
            "--preset",
            "tiny",
            "--out-dir",
            str(tmp_path / "r"),
            "--no-progress",
            "--set",
            "data.num_labels=2",
            "--set",
            "adversarial.reward=bleu",
        ],
    )
    assert "adversarial.reward bleu" in err
    err = user_error(
        capsys,
        [
            "train",
            "--preset",
            "tiny",
            "--out-dir",
            str(tmp_path / "r2"),
            "--no-progress",
            "--set",
            "data.num_labels=-1",
        ],
    )
    assert "data.num_labels must be >= 0" in err
