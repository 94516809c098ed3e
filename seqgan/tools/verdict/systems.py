"""The systems a verdict compares, and the config of each run.

Per seed, the SeqGAN run is trained from scratch; its MLE pre-training stops early on the validation NLL (the
preset's ``pretrain.patience``) and keeps the best-validation generator, which is the **early-stopped MLE** baseline
(``mle_es``: the run's ``checkpoints/pretrained.pt``, measured, not trained further). Every other system forks
from that pre-training (:meth:`SeqGANTrainer.fork`) and changes what follows: the fixed-schedule MLE, the controls
whose reward carries no information about the sequence (Caccia et al. 2020; evaluation-protocol.md section 4), and
the user's own systems (``--system NAME KEY=VALUE ...``), so every system of a seed shares one pre-trained G and D.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field

from seqgan.config import SeqGANConfig, apply_overrides, get_value
from seqgan.errors import UserError
from seqgan.train.setup import D_PRETRAINING

# Plain SGD's step size: the clip (5.0) is always active in the policy-gradient step, so an SGD step has norm lr x 5;
# 1.7 moves the generator as far from its pre-trained weights over 5 adversarial epochs of the demo preset as Adam at
# 0.01 does (docs/LOG.md 2026-12-03).
SGD_LR = 1.7


@dataclass(frozen=True)
class System:
    """One system of the comparison: ``sets`` are the ``--set`` overrides of its fork (none for SeqGAN itself)."""

    name: str
    title: str
    sets: tuple[str, ...] = ()
    trained: bool = True  # False: mle_es and drs, the SeqGAN run's pre-training measured as it is
    user: bool = False
    resample: int = 0  # drs: each sample chosen among this many candidates by D's odds (seqgan.train.resample)


# Built-in systems, in report order. The titles are those of the benchmark reports, so reports stay comparable.
BUILTIN = {
    "mle_es": System("mle_es", "MLE, early-stopped", trained=False),
    "mle": System("mle", "MLE, fixed schedule", ("adversarial.mode=mle",)),
    "seqgan": System("seqgan", "SeqGAN"),
    "shuffled_reward": System("shuffled_reward", "shuffled reward", ("adversarial.reward_shuffle=true",)),
    "constant_reward": System("constant_reward", "constant reward Q = 1", ("adversarial.reward=constant",)),
    "baseline_mean": System("baseline_mean", "mean baseline", ("adversarial.reward_baseline=mean",)),
    "sgd": System("sgd", "plain SGD", ("adversarial.g_optimizer=sgd", "adversarial.g_lr={sgd_lr}")),
    # Scheduled sampling decays P(true token) to 0.6 at the end, as 0.002 over the authors' 200 epochs.
    "ss": System("ss", "Scheduled sampling", ("adversarial.mode=ss", "adversarial.ss_decay={ss_decay}")),
    "pg_bleu": System("pg_bleu", "PG-BLEU", ("adversarial.reward=bleu",)),
    # The field's fixes for a saturated D (docs/implementation-details.md R1-R5), each with its own control: the same
    # estimator fed shuffled scores (NAME_shuffled). Discriminator-guided sampling's control is MLE itself.
    **{
        f"{name}{tail}": System(f"{name}{tail}", f"{title}{' (shuffled)' if tail else ''}", sets + shuffle)
        for name, title, sets in (
            ("centred", "centred reward (ScratchGAN)", ("adversarial.reward=centred",)),
            ("maligan", "MaliGAN weights", ("adversarial.reward=maligan",)),
            ("dense", "dense rewards, LSTM D (ScratchGAN)", ("discriminator.kind=lstm", "adversarial.reward=dense")),
            (
                "d_informative",
                "regularised D",
                (
                    "discriminator.label_smoothing=0.2",
                    "discriminator.dropout_keep=0.5",
                    "discriminator.weight_decay=1e-6",
                    "adversarial.d_skip_above=0.9",
                ),
            ),
        )
        for tail, shuffle in (("", ()), ("_shuffled", ("adversarial.reward_shuffle=true",)))
    },
    "drs": System("drs", "D-guided resampling (K 16)", trained=False, resample=16),
}
FIXES = ("centred", "maligan", "dense", "d_informative", "drs")
DEFAULT_SYSTEMS = ("mle", "shuffled_reward", "constant_reward")  # beside SeqGAN and its early-stopped MLE
OPTIONAL = tuple(n for n in BUILTIN if n not in ("mle_es", "seqgan"))
MEASURED_ONLY = tuple(n for n, s in BUILTIN.items() if not s.trained)  # measured from the SeqGAN run's pre-training
CONTROLS = ("shuffled_reward", "constant_reward", "baseline_mean", "sgd")
# What a fork keeps from its source run (seqgan.train's fork check refuses a change of these, after the fact; a
# verdict refuses it before anything is trained).
FIXED_SECTIONS = ("data", "generator", "pretrain")
FIXED_KEYS = ("run.seed",)
NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")


@dataclass
class Plan:
    """The systems of one verdict and their configs (``base``: the SeqGAN run's, before its data is read)."""

    base: SeqGANConfig
    systems: dict[str, System]
    configs: dict[str, SeqGANConfig] = field(default_factory=dict)

    @property
    def trained(self) -> list[str]:
        """Systems with a run of their own, SeqGAN first (every fork waits for it)."""
        return [n for n, s in self.systems.items() if s.trained]

    def comparisons(self) -> list[tuple[str, str]]:
        """(a, b) pairs, a judged against b: SeqGAN against every other system, each control and user system against
        the early-stopped MLE (the user's systems also against SeqGAN), the fixed schedule against the early stop."""
        names = list(self.systems)
        pairs = [("seqgan", n) for n in names if n not in ("seqgan",) and not self.systems[n].user]
        pairs += [(n, "mle_es") for n in names if n in CONTROLS or n in FIXES or n in ("pg_bleu", "ss")]
        pairs += [(n, f"{n}_shuffled") for n in names if f"{n}_shuffled" in names]  # a fix against its own control
        pairs += [p for n in names if self.systems[n].user for p in ((n, "mle_es"), (n, "seqgan"))]
        if "mle" in names:
            pairs.append(("mle", "mle_es"))
        return pairs


def parse_user_system(words: list[str]) -> System:
    """``--system NAME KEY=VALUE ...`` -> a user system (its config is checked by :func:`make_plan`)."""
    name, sets = words[0], words[1:]
    if not NAME.fullmatch(name):
        raise UserError(
            f"--system {name!r}: a system name is 1-40 lower-case letters, digits, - or _, starting with a letter "
            "(e.g. --system lr001 adversarial.g_lr=0.001)"
        )
    if name in BUILTIN:
        raise UserError(f"--system {name}: that name is a built-in system; pick another name (or --systems {name})")
    if not sets:
        raise UserError(f"--system {name} needs at least one KEY=VALUE, e.g. --system {name} adversarial.g_lr=0.001")
    bad = next((s for s in sets if "=" not in s), None)
    if bad is not None:
        raise UserError(f"--system {name}: {bad!r} is not KEY=VALUE (e.g. adversarial.rollout_num=4)")
    return System(name, name, tuple(sets), user=True)


def make_plan(base: SeqGANConfig, builtin: list[str], user: list[System], sgd_lr: float = SGD_LR) -> Plan:
    """Every system's config, checked before anything is trained: each --set is applied to the SeqGAN run's config
    and must leave what a fork keeps (data, generator, pre-training, D's shape, seed) as it is."""
    unknown = next((n for n in builtin if n not in OPTIONAL), None)
    if unknown is not None:
        raise UserError(f"--systems {unknown}: not a built-in system; choose among {', '.join(OPTIONAL)}")
    if "pg_bleu" in builtin and base.data.num_labels:
        raise UserError("--systems pg_bleu: PG-BLEU does not take labels (its reward ignores them); drop it")
    seen = [s.name for s in user]
    if len(set(seen)) != len(seen):
        raise UserError(f"--system {next(n for n in seen if seen.count(n) > 1)} is given twice: name each once")
    names = ["mle_es", "seqgan", *[n for n in BUILTIN if n in builtin]]
    systems = {n: BUILTIN[n] for n in names} | {s.name: s for s in user}
    plan = Plan(base, systems)
    ss_decay = round(0.4 / max(base.adversarial.epochs, 1), 6)
    for name, system in systems.items():
        if not system.trained:
            continue
        cfg = copy.deepcopy(base)
        sets = list(system.sets) if system.user else [s.format(sgd_lr=sgd_lr, ss_decay=ss_decay) for s in system.sets]
        try:
            apply_overrides(cfg, sets)
        except UserError as e:
            raise UserError(f"system {name}: {e}") from None
        for key in _fixed_keys(cfg):
            if get_value(cfg, key) != get_value(base, key):
                raise UserError(
                    f"system {name}: {key} cannot differ from the SeqGAN run's ({get_value(base, key)!r}): every "
                    "system forks from its pre-training; change what follows it (adversarial.*, discriminator.lr, ...)"
                )
        if cfg.adversarial.reward == "bleu" and cfg.data.num_labels:
            raise UserError(f"system {name}: PG-BLEU does not take labels; drop adversarial.reward=bleu")
        plan.configs[name] = cfg
    return plan


def _fixed_keys(cfg: SeqGANConfig) -> list[str]:
    """What a fork keeps (a change of D's architecture or pre-training makes the fork pre-train its own D from the
    source's end of MLE, :data:`seqgan.train.setup.D_PRETRAINING`)."""
    keys = [f"{s}.{f.name}" for s in FIXED_SECTIONS for f in dataclasses.fields(getattr(cfg, s))]
    return [k for k in keys if k not in D_PRETRAINING] + list(FIXED_KEYS)
