"""Typed configuration: the single source of every default.

Each field's comment says where its default comes from: the paper (Yu et al., AAAI 2017,
arXiv 1609.05473) or the authors' code (LantaoYu/SeqGAN at e2b52fb). ``seqgan presets --keys`` prints each key's
value with its comment (:func:`field_notes`), and ``--set key=value`` only changes fields named here. Reward, baseline
and optimiser names are checked against their tables (:mod:`seqgan.train.rewards`, :mod:`seqgan.train.setup`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqgan.errors import UserError

# The paper's discriminator windows and filter counts (Table 5 of the appendix).
# For T = 20: windows 1..10, 15, 20; for T = 32 the last two become 16, 24, 32.
PAPER_FILTERS_T20: tuple[tuple[int, int], ...] = (
    (1, 100),
    (2, 200),
    (3, 200),
    (4, 200),
    (5, 200),
    (6, 100),
    (7, 100),
    (8, 100),
    (9, 100),
    (10, 100),
    (15, 160),
    (20, 160),
)
PAPER_FILTERS_T32: tuple[tuple[int, int], ...] = PAPER_FILTERS_T20[:10] + ((16, 160), (24, 160), (32, 160))


def paper_filters(seq_len: int) -> tuple[tuple[int, int], ...]:
    """(window, filters) pairs of the paper for sequences of length ``seq_len``.

    T = 20 and T = 32 are the paper's two tables. Other lengths keep the T = 20 windows that
    fit (a window longer than the sequence has no valid position) and, when T > 20, add a
    window of length T with 160 filters, so that some filter always sees the whole sequence.
    """
    if seq_len == 32:
        return PAPER_FILTERS_T32
    fitting = tuple((w, n) for w, n in PAPER_FILTERS_T20 if w <= seq_len)
    if seq_len > 20:
        fitting += ((seq_len, 160),)
    return fitting


@dataclass
class DataConfig:
    path: str | None = None  # prepared data directory (`seqgan prepare`); None: the synthetic oracle task
    vocab_size: int = 5000  # authors' code (the paper does not state it); taken from the data when path is set
    seq_len: int = 20  # paper §Synthetic Data Experiments: T = 20; taken from the data when path is set
    start_token: int = 0  # authors' code: START_TOKEN = 0; <bos> (1) for prepared text
    eos_token: int | None = None  # None: fixed-length sequences (oracle task); <eos> (2) for prepared text
    pad_token: int = 0  # filler after EOS; <pad> (0) for prepared text
    num_train: int = 9984  # authors' code: int(10000 / 64) * 64 oracle samples
    num_test: int = 9984  # held-out oracle samples for eval/nll_test, read only to report (not in the authors' code)
    num_valid: int = 2048  # oracle samples for model selection (best.pt, MLE early stopping; not in the authors' code)
    oracle_params: str | None = None  # oracle file (.npz or the authors' .pkl); None: a fresh N(0,1) oracle
    oracle_seed: int = 0  # seed of the fresh N(0,1) oracle when oracle_params is None
    oracle_emb_dim: int = 32  # authors' code (target_lstm.py)
    oracle_hidden_dim: int = 32  # authors' code (target_lstm.py)
    num_labels: int = 0  # ours: conditional generation (0: none, the paper). Taken from the data's label set when
    # path is set (`seqgan prepare --labels`); on the oracle task, a conditional oracle with this many labels


@dataclass
class GeneratorConfig:
    kind: str = "lstm"  # "lstm" (paper, authors' code) or "transformer" (ours: decoder-only, KV-cached roll-outs)
    emb_dim: int = 32  # authors' code (EMB_DIM); the Transformer's width
    hidden_dim: int = 32  # authors' code (HIDDEN_DIM); LSTM only
    init_std: float = 0.1  # authors' code: every parameter N(0, 0.1^2) (the Transformer: GPT-2's 0.02 is better)
    layers: int = 2  # Transformer only (ours): blocks of attention and feed-forward
    heads: int = 2  # Transformer only (ours): attention heads; emb_dim must be a multiple
    ff_dim: int = 64  # Transformer only (ours): feed-forward width (2 x emb_dim keeps the LSTM's parameter budget)
    dropout: float = 0.0  # Transformer only (ours): in teacher-forced passes (sampling and roll-outs use none)
    positions: str = "learned"  # Transformer only (ours): "learned" or "sinusoidal" position embeddings


@dataclass
class DiscriminatorConfig:
    kind: str = "cnn"  # "cnn": the paper's CNN with highway (authors' code); "lstm": a recurrent D that scores every
    # prefix in one pass (ScratchGAN, de Masson d'Autume et al. 2019), needed by adversarial.reward dense
    emb_dim: int = 64  # authors' code (dis_embedding_dim)
    hidden_dim: int = 64  # kind lstm only (ours, for the CPU; ScratchGAN's is larger): the LSTM's width
    filter_sizes: tuple[int, ...] | None = None  # None: the paper's windows for seq_len (appendix Table 5)
    num_filters: tuple[int, ...] | None = None  # None: the paper's filter counts for seq_len
    dropout_keep: float = 0.75  # authors' code: keep probability 0.75 in training, 1.0 for rewards
    l2_reg: float = 0.2  # authors' code: 0.2 x L2 of the output layer only
    lr: float = 1e-4  # authors' code: Adam 1e-4
    batch_size: int = 64  # authors' code
    label_smoothing: float = 0.0  # against a saturated D (ours, off = the paper): cross-entropy targets eps/2 and
    # 1 - eps/2 instead of 0 and 1 (Szegedy et al. 2016; Salimans et al. 2016 smooth the real side only)
    weight_decay: float = 0.0  # against a saturated D (ours, off = the paper): Adam's L2 on every weight of D
    # (ScratchGAN, de Masson d'Autume et al. 2019: 1e-6; the authors' 0.2 x L2 of the output layer stays as l2_reg)
    train_bf16: bool | None = None  # ours (paper: fp32): D's training steps under bf16 autocast, filter banks as
    # matrix products, fused Adam; None (auto): on where the device computes bf16 natively (CPU with AVX512-BF16 or
    # AMX, CUDA), resolved when a run starts and saved; about 2x D's training speed on such a CPU, D's accuracy curve
    # within 0.03 of fp32 on tiny and demo (tests, docs/LOG.md; benchmarks/perf/results.md)

    def filters(self, seq_len: int) -> tuple[tuple[int, int], ...]:
        """(window, filters) pairs; windows longer than ``seq_len`` are left out (no valid position)."""
        if self.filter_sizes is None and self.num_filters is None:
            return paper_filters(seq_len)
        sizes = self.filter_sizes or tuple(w for w, _ in paper_filters(seq_len))
        counts = self.num_filters or tuple(n for _, n in paper_filters(seq_len))
        if len(sizes) != len(counts):
            raise UserError(
                f"discriminator.filter_sizes has {len(sizes)} entries but discriminator.num_filters has "
                f"{len(counts)}: give one filter count per window size"
            )
        return tuple((w, n) for w, n in zip(sizes, counts, strict=True) if w <= seq_len)


@dataclass
class PretrainConfig:
    g_epochs: int = 120  # authors' code: PRE_EPOCH_NUM = 120 MLE epochs
    g_lr: float = 0.01  # authors' code: Adam 0.01 (generator.py)
    batch_size: int = 64  # authors' code: BATCH_SIZE = 64
    grad_clip: float = 5.0  # authors' code: global gradient-norm clip 5.0
    shuffle: bool = False  # authors' code feeds batches in the same order every epoch
    d_steps: int = 50  # authors' code: 50 rounds of fresh negatives ...
    k_epochs: int = 3  # ... times 3 epochs each
    patience: int = 0  # MLE early stopping: evaluations without a better eval/nll_valid before MLE stops and G
    # goes back to its best-validation weights (0: off, the authors' fixed 120 epochs; Caccia et al. 2020 stop early)


@dataclass
class AdversarialConfig:
    mode: str = "seqgan"  # "seqgan" (policy gradient); baselines of paper Table 1 spend these epochs on "mle"
    # (maximum likelihood) or "ss" (scheduled sampling, Bengio et al. 2015); neither uses D
    reward: str = "discriminator"  # Q of the roll-outs: "discriminator" (paper), "bleu" (PG-BLEU baseline of
    # Table 1: BLEU of the completion against the training data), "constant" (Q = 1; ablation, LantaoYu#21),
    # "centred" (2 Q - 1 minus a moving baseline; ScratchGAN, de Masson d'Autume et al. 2019), "maligan" (normalised
    # importance weights D / (1 - D) minus their mean; Che et al. 2017) or "dense" (a recurrent D's score of every
    # prefix, discounted returns, no roll-outs; ScratchGAN); the table is seqgan/train/rewards.py
    bleu_order: int = 4  # PG-BLEU: BLEU-n of the reward (uniform weights, method1); the paper does not give n
    reward_shuffle: bool = False  # control (Caccia et al. 2020): permute Q across the batch at each position,
    # the same values without their link to the sequences; if SeqGAN does not beat it, D's information does not help
    reward_dropout: bool = False  # score roll-outs with D's dropout on (what TextGAN/ZiJianZhao do; ablation)
    reward_bf16: bool | None = None  # ours (paper: fp32): D's filter banks and highway product in bf16 for the
    # rewards; None (auto) as discriminator.train_bf16; about 2.9x faster D scoring on a CPU with bf16 units, rewards
    # within 0.01 of fp32 (benchmarks/perf/results.md)
    ss_decay: float = 0.002  # scheduled sampling: P(feed the true token) = 1 - ss_decay * epoch (paper: 0.002)
    epochs: int = 200  # authors' code: TOTAL_BATCH = 200
    g_steps: int = 1  # paper Fig. 3(d) / authors' code: 1 policy-gradient batch per epoch
    d_steps: int = 5  # paper Fig. 3(d) / authors' code: 5 rounds of fresh negatives ...
    k_epochs: int = 3  # ... times k = 3 epochs each
    batch_size: int = 64  # authors' code: one batch of 64 sampled sequences per g-step
    rollout_num: int = 16  # authors' code: N = 16 Monte Carlo roll-outs (the paper does not give N)
    rollout_policy: str = "current"  # "current": G_beta = G_theta (paper; what the authors' code does)
    rollout_update_rate: float = 0.8  # "delayed" policy: beta <- r*beta + (1-r)*theta (authors' 0.8)
    reward_baseline: str = "none"  # "none" (paper, authors) or "mean": subtract the batch mean reward
    baseline_rate: float = 0.08  # "centred" and "dense": a new batch's weight in the baseline (ScratchGAN's 0.08)
    discount: float = 0.23  # reward "dense": R_t = r_t + discount * R_t+1 (ScratchGAN's discount 0.23)
    g_lr: float = 0.01  # authors' code: a second Adam at 0.01 for the policy gradient
    g_optimizer: str = "adam"  # authors' code: Adam; "sgd" (plain, no momentum) is a control without Adam's
    # per-parameter normalisation, which turns all-positive rewards into a push toward the sampled tokens
    grad_clip: float = 5.0  # authors' code: global gradient-norm clip 5.0
    d_score_batch: int = 4096  # rows per discriminator call when scoring roll-outs (memory bound only)
    kernels: str = "auto"  # ours: D's filter banks as compiled table look-ups for the rewards on a CPU ("auto": numba
    # if installed, extra [kernels], and the table fits kernel_table_mb; "numba": required; "eager": the reference)
    kernel_table_mb: int = 2048  # ours (paper D's table: V x 12,500 fp32, 238 MiB at V 5,000)
    d_skip_above: float | None = None  # against a saturated D (ours; None: never skip, the paper): before an
    # epoch's d-steps, D's accuracy on a fresh batch (batch_size real and batch_size generated sequences); above
    # this the d-steps are skipped (logged as d/skipped and d/acc_check), so D trains only while G can catch up


@dataclass
class EvalConfig:
    every: int = 5  # authors' code: NLL_oracle every 5 epochs (and at the last epoch)
    num_samples: int = 9984  # authors' code: 9,984 generated samples (the paper used 100,000)
    batch_size: int = 1024  # rows per sampling / scoring call (speed only)
    num_saved_samples: int = 20  # sequences written to samples/ at each evaluation, for humans
    bleu_orders: tuple[int, ...] = (2, 3, 4, 5)  # text data: BLEU / Self-BLEU orders (Texygen, RelGAN)
    best_metric: str | None = None  # checkpoint kept as best.pt, a validation metric; None: eval/nll_valid


@dataclass
class RunConfig:
    seed: int = 88  # authors' code: random.seed(88), np.random.seed(88)
    device: str = "cpu"  # cpu, cuda or auto
    checkpoint_every: int = 1  # epochs (or D rounds) between checkpoints; phase ends always save
    progress: bool = True  # tqdm bars on stderr (hidden automatically when stderr is not a terminal)
    detect_anomaly: bool = False  # torch.autograd anomaly detection: names the op that made a NaN (slow)


@dataclass
class SeqGANConfig:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeqGANConfig:
        cfg = cls()
        for section, values in d.items():
            for key, value in values.items():
                set_value(cfg, f"{section}.{key}", value)
        cfg.validate()
        return cfg

    def resolve_auto(self, native_bf16: bool) -> None:
        """The precision switches left at None (auto) become ``native_bf16``: whether the run's device computes bf16
        in hardware (:func:`seqgan.env.native_bf16`)."""
        if self.discriminator.train_bf16 is None:
            self.discriminator.train_bf16 = native_bf16
        if self.adversarial.reward_bf16 is None:
            self.adversarial.reward_bf16 = native_bf16

    def validate(self) -> None:
        """Check ranges; every message names the key and what is allowed."""
        for key in all_keys(self):
            value = get_value(self, key)
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"{key} must be a finite number, got {value}")
        for key in ("run.seed", "data.oracle_seed"):
            if get_value(self, key) > MAX_SEED:
                raise UserError(f"{key} must be at most 2^63 - 1 = {MAX_SEED}, got {get_value(self, key)}")
        for key, limit in LIMITS.items():
            if get_value(self, key) > limit:
                raise UserError(f"{key} must be at most {limit:,}, got {get_value(self, key)}")
        orders = self.eval.bleu_orders
        if not orders or any(not 1 <= n <= MAX_BLEU_ORDER for n in orders):
            raise UserError(f"eval.bleu_orders must be one or more orders in 1..{MAX_BLEU_ORDER}, got {orders}")
        positive = [
            "data.vocab_size",
            "data.seq_len",
            "data.num_train",
            "data.oracle_emb_dim",
            "data.oracle_hidden_dim",
            "generator.emb_dim",
            "generator.hidden_dim",
            "discriminator.emb_dim",
            "discriminator.batch_size",
            "pretrain.batch_size",
            "adversarial.batch_size",
            "adversarial.rollout_num",
            "adversarial.d_score_batch",
            "eval.every",
            "eval.num_samples",
            "eval.batch_size",
            "run.checkpoint_every",
            "adversarial.bleu_order",
            "generator.init_std",
            "discriminator.lr",
            "pretrain.g_lr",
            "adversarial.g_lr",
            "generator.layers",
            "generator.heads",
            "generator.ff_dim",
        ]
        for key in positive:
            if get_value(self, key) <= 0:
                raise UserError(f"{key} must be > 0, got {get_value(self, key)}")
        non_negative = [
            "pretrain.g_epochs",
            "pretrain.d_steps",
            "pretrain.k_epochs",
            "adversarial.epochs",
            "adversarial.g_steps",
            "adversarial.d_steps",
            "adversarial.k_epochs",
            "discriminator.l2_reg",
            "discriminator.weight_decay",
            "pretrain.grad_clip",
            "adversarial.grad_clip",
            "eval.num_saved_samples",
            "run.seed",
            "data.oracle_seed",
            "adversarial.ss_decay",
            "data.num_valid",
            "pretrain.patience",
            "data.num_test",
            "data.num_labels",
        ]
        for key in non_negative:
            if get_value(self, key) < 0:
                raise UserError(f"{key} must be >= 0, got {get_value(self, key)}")
        if self.generator.emb_dim % self.generator.heads:
            raise UserError(
                f"generator.emb_dim {self.generator.emb_dim} must be a multiple of generator.heads "
                f"{self.generator.heads} (the Transformer splits its width over the heads)"
            )
        if not 0.0 <= self.generator.dropout < 1.0:
            raise UserError(f"generator.dropout must be in [0, 1), got {self.generator.dropout}")
        if not 0.0 < self.discriminator.dropout_keep <= 1.0:
            raise UserError(f"discriminator.dropout_keep must be in (0, 1], got {self.discriminator.dropout_keep}")
        if not 0.0 <= self.discriminator.label_smoothing < 1.0:
            raise UserError(
                f"discriminator.label_smoothing must be in [0, 1), got {self.discriminator.label_smoothing}"
            )
        skip = self.adversarial.d_skip_above
        if skip is not None and not 0.0 <= skip <= 1.0:
            raise UserError(f"adversarial.d_skip_above is an accuracy: give one in [0, 1] (or None), got {skip}")
        if not 0.0 <= self.adversarial.discount <= 1.0:
            raise UserError(f"adversarial.discount must be in [0, 1], got {self.adversarial.discount}")
        if not 0.0 < self.adversarial.baseline_rate <= 1.0:
            raise UserError(f"adversarial.baseline_rate must be in (0, 1], got {self.adversarial.baseline_rate}")
        if not 0.0 <= self.adversarial.rollout_update_rate <= 1.0:
            raise UserError(
                f"adversarial.rollout_update_rate must be in [0, 1], got {self.adversarial.rollout_update_rate}"
            )
        choices = {
            "adversarial.rollout_policy": ("current", "delayed"),
            "adversarial.kernels": ("auto", "numba", "eager"),
            "adversarial.mode": ("seqgan", "mle", "ss"),
            "generator.kind": ("lstm", "transformer", "custom"),
            "discriminator.kind": ("cnn", "lstm"),
            "generator.positions": ("learned", "sinusoidal"),
            "run.device": ("cpu", "cuda", "auto"),
        }
        for key, allowed in choices.items():
            if get_value(self, key) not in allowed:
                raise UserError(f"{key} must be one of {', '.join(allowed)}; got {get_value(self, key)!r}")
        if self.data.path is not None and self.data.oracle_params is not None:
            raise UserError("data.path (your data) and data.oracle_params (the synthetic task) exclude each other")
        if self.eval.best_metric is not None:
            check_best_metric(self)
        if self.pretrain.patience > 0 and self.data.num_valid == 0:
            raise UserError(
                "pretrain.patience stops MLE on the validation NLL, but there is no validation split: "
                "set data.num_valid > 0 (oracle task) or prepare the data with --valid-frac > 0"
            )
        for key in ("discriminator.lr", "pretrain.g_lr", "adversarial.g_lr"):
            if get_value(self, key) > MAX_LR:
                raise UserError(
                    f"{key} {get_value(self, key)} would diverge at once: give at most {MAX_LR} "
                    "(the authors use 0.01 for G, 1e-4 for D)"
                )
        for key in ("data.start_token", "data.eos_token", "data.pad_token"):
            token = get_value(self, key)
            if token is not None and not 0 <= token < self.data.vocab_size:
                raise UserError(
                    f"{key} {token} is not a token id: give one in 0..data.vocab_size - 1 ({self.data.vocab_size - 1})"
                )
        if self.adversarial.reward == "dense" and self.discriminator.kind != "lstm":
            raise UserError(
                "adversarial.reward dense reads D's score of every prefix, which only the recurrent D gives: "
                "add --set discriminator.kind=lstm"
            )
        if self.data.num_labels and self.adversarial.reward == "bleu":
            raise UserError(
                "adversarial.reward bleu scores against all training lines, whatever their label: with "
                "labelled data use the discriminator's reward (the default)"
            )
        if self.data.num_labels and self.generator.kind == "custom":
            raise UserError(
                "labelled data needs a generator that takes labels: use generator.kind lstm or "
                "transformer, or train your own generator on unlabelled data"
            )
        if self.data.seq_len < 2:
            raise UserError(f"data.seq_len must be >= 2 (roll-outs need a prefix), got {self.data.seq_len}")
        for key in ("discriminator.filter_sizes", "discriminator.num_filters"):  # one conv layer each: bounded
            if len(get_value(self, key) or ()) > MAX_WINDOWS:
                raise UserError(f"{key} holds {len(get_value(self, key)):,} entries: give at most {MAX_WINDOWS:,}")
        if not self.discriminator.filters(self.data.seq_len):
            raise UserError(f"no discriminator window fits data.seq_len {self.data.seq_len}: give smaller filter_sizes")
        for window, count in self.discriminator.filters(self.data.seq_len):
            if not 1 <= window <= self.data.seq_len or count <= 0:
                raise UserError(
                    f"discriminator window {window} with {count} filters does not fit data.seq_len "
                    f"{self.data.seq_len}: windows must be in 1..seq_len and counts > 0"
                )


# Metrics best.pt can be chosen by (computed on the validation split, or free of held-out data), and whether
# higher is better; n stands for an order given in eval.bleu_orders.
SELECTION_METRICS = {
    "eval/nll_valid": False,
    "eval/nll_oracle": False,
    "eval/bleu<n>": True,
    "eval/self_bleu<n>": False,
    "eval/distinct1": True,
    "eval/distinct2": True,
    "eval/mse": False,
}


def _metric_pattern(key: str) -> str:
    return key.rstrip("0123456789") + "<n>" if key[-1:].isdigit() and "bleu" in key else key


def best_metric_higher_is_better(key: str) -> bool:
    return SELECTION_METRICS.get(_metric_pattern(key), False)  # NLLs: lower is better


def check_best_metric(cfg: SeqGANConfig) -> None:
    """Refuse, before a run starts, a best.pt metric that evaluation never logs or that reads the test split."""
    key, pattern = cfg.eval.best_metric, _metric_pattern(cfg.eval.best_metric or "")
    if key == "eval/nll_test":
        raise UserError(
            "eval.best_metric eval/nll_test would choose best.pt on the test split, which only reports: "
            "use eval/nll_valid (the default), which reads the validation split"
        )
    if pattern not in SELECTION_METRICS:
        raise UserError(
            f"unknown eval.best_metric {key!r}: use one of {', '.join(SELECTION_METRICS)} "
            "(n: an order in eval.bleu_orders)"
        )
    text = pattern in ("eval/bleu<n>", "eval/self_bleu<n>", "eval/distinct1", "eval/distinct2", "eval/mse")
    if text and cfg.data.path is None:
        raise UserError(
            f"eval.best_metric {key} is logged for prepared data only (--data DIR): use eval/nll_valid "
            "or eval/nll_oracle on the oracle task"
        )
    if key == "eval/nll_oracle" and cfg.data.path is not None:
        raise UserError("eval.best_metric eval/nll_oracle needs the oracle task: use eval/nll_valid with --data")
    if pattern.endswith("bleu<n>") and int(key[len(pattern) - 3 :]) not in cfg.eval.bleu_orders:
        raise UserError(
            f"eval.best_metric {key}: order {key[len(pattern) - 3 :]} is not in eval.bleu_orders "
            f"{cfg.eval.bleu_orders}: add it there or pick a listed order"
        )


MAX_SEED = 2**63 - 1  # torch and numpy seeds
MAX_LR = 10.0  # far above any rate that trains these models (paper: 0.01 and 1e-4); larger ones only overflow
MAX_WINDOWS = 1_000  # ours: D's window sizes (the paper uses 12); each builds a convolution before any check
MAX_BLEU_ORDER = 32  # longer n-grams than any sentence the benchmarks hold; a typo (1000000000) would hang
# Upper bounds that keep a typo from running for days: evaluation compares every sample with every other
# (Self-BLEU), and sampling takes one step per position.
LIMITS = {
    "eval.num_samples": 100_000,
    "data.seq_len": 10_000,
    "data.num_labels": 100_000,
    "generator.layers": 1_000,  # ours: 10x the deepest Transformer of the literature, far beyond these tasks
}


def all_keys(cfg: SeqGANConfig | None = None) -> list[str]:
    cfg = cfg or SeqGANConfig()
    return [
        f"{section.name}.{f.name}"
        for section in dataclasses.fields(cfg)
        for f in dataclasses.fields(getattr(cfg, section.name))
    ]


def _field(cfg: SeqGANConfig, key: str) -> tuple[Any, dataclasses.Field]:
    section, _, name = key.partition(".")
    keys = all_keys(cfg)
    if key not in keys:
        near = difflib.get_close_matches(key, keys, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(near)}?" if near else "run `seqgan presets --keys` to list them"
        raise UserError(f"unknown config key {key!r}: {hint}")
    obj = getattr(cfg, section)
    return obj, next(f for f in dataclasses.fields(obj) if f.name == name)


def get_value(cfg: SeqGANConfig, key: str) -> Any:
    obj, f = _field(cfg, key)
    return getattr(obj, f.name)


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Turn ``value`` (a string from ``--set`` or a JSON value) into the field's type."""
    hint = annotation
    args = typing.get_args(hint)
    if isinstance(value, str):  # `seqgan presets --keys` prints values as Python literals: (2, 3), 'lstm'
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
    if isinstance(hint, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint)
    try:
        if origin is tuple:
            items = value.strip("()[]").replace(",", " ").split() if isinstance(value, str) else list(value)
            return tuple(int(v) for v in items)
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value)) if isinstance(value, str) else int(value)
        if hint is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        name = getattr(hint, "__name__", str(hint))
        raise UserError(f"{key} needs a value of type {name}, got {value!r}") from None


def set_value(cfg: SeqGANConfig, key: str, value: Any) -> None:
    obj, f = _field(cfg, key)
    setattr(obj, f.name, _coerce(key, value, typing.get_type_hints(type(obj))[f.name]))


# The keys that shape the models or what they compute: a checkpoint's or an export's weights are only meaningful
# under the values they were trained with (generator.heads changes no shape but every number).
ARCHITECTURE_KEYS = (
    "data.vocab_size",
    "data.seq_len",
    "data.start_token",
    "data.eos_token",
    "data.pad_token",
    "data.num_labels",
    "generator.kind",
    "generator.emb_dim",
    "generator.hidden_dim",
    "generator.layers",
    "generator.heads",
    "generator.ff_dim",
    "generator.dropout",
    "generator.positions",
    "discriminator.emb_dim",
    "discriminator.filter_sizes",
    "discriminator.num_filters",
    "discriminator.dropout_keep",
)


def architecture_changes(saved: Any, cfg: SeqGANConfig) -> str | None:
    """The first architecture key (``ARCHITECTURE_KEYS``) whose value in ``cfg`` differs from ``saved`` (the config
    dict stored with the weights), as "key (saved -> now)"; None when they agree or nothing was stored."""
    if not isinstance(saved, dict):
        return None

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, (tuple, list)) else value

    for key in ARCHITECTURE_KEYS:
        section, _, name = key.partition(".")
        part = saved.get(section)
        if not isinstance(part, dict) or name not in part:
            continue
        then, now = plain(part[name]), plain(get_value(cfg, key))
        if then != now:
            return f"{key} ({str(then)[:40]} -> {str(now)[:40]})"
    return None


def load_config_file(path: Path, hint: str) -> SeqGANConfig:
    """The config of a run's or an exported model's ``config.json``; a missing, malformed, too deeply nested or
    invalid file is one UserError naming the file and ``hint`` (the fix)."""
    from seqgan.files import read_json

    obj = read_json(path, "config", hint, dict)
    try:
        return SeqGANConfig.from_dict(obj)
    except (ValueError, AttributeError, TypeError, RecursionError):  # sections that are not objects, deep values
        raise UserError(f"{path} is damaged: it is not the JSON config that `seqgan train` writes; {hint}") from None


def apply_overrides(cfg: SeqGANConfig, overrides: list[str]) -> SeqGANConfig:
    """Apply ``key=value`` strings (from ``--set``), then validate."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set takes key=value (e.g. adversarial.rollout_num=8), got {item!r}")
        set_value(cfg, key.strip(), value.strip())
    cfg.validate()
    return cfg


def field_notes() -> dict[str, str]:
    """Every key's comment in this module's source ("section.key" -> text, continuation lines joined): the
    documentation of each default, read back so the CLI can show it."""
    import inspect
    import re
    import sys

    fields = dataclasses.fields(SeqGANConfig)
    sections = {f.type if isinstance(f.type, str) else f.type.__name__: f.name for f in fields}
    notes: dict[str, str] = {}
    section, last = None, None
    for line in inspect.getsource(sys.modules[__name__]).splitlines():
        if m := re.match(r"class (\w+)", line):
            section, last = sections.get(m.group(1)), None
        elif section and (m := re.match(r"    (\w+): [^#]+?#\s?(.*)$", line)):
            last = f"{section}.{m.group(1)}"
            notes[last] = m.group(2).strip()
        elif last and (m := re.match(r"    #\s?(.*)$", line)):
            notes[last] += " " + m.group(1).strip()
        else:
            last = None
    return notes
