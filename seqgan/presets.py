"""Named configurations. Presets are code: each returns a full, validated SeqGANConfig."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from seqgan.config import SeqGANConfig
from seqgan.errors import UserError


def paper() -> SeqGANConfig:
    """The authors' full schedule on the synthetic oracle: MLE 120 epochs, D 50 x 3, 200
    adversarial epochs of 1 G step and 5 x 3 D epochs (a GPU job; about a day on 2 CPU cores)."""
    return SeqGANConfig()


def demo() -> SeqGANConfig:
    """`make demo`: the paper's generator and oracle shapes (V 5,000, T 20) with fewer samples, a slimmer
    discriminator and a short schedule: MLE early-stopped on the validation NLL (patience 3 evaluations, at most
    40 epochs), D 10 x 2, 40 adversarial epochs; a few minutes on 2 CPU cores."""
    cfg = SeqGANConfig()
    cfg.data.num_train = 4992
    cfg.data.num_test = 2048
    # The paper's windows with a quarter of the filters: the highway is 16x cheaper.
    cfg.discriminator.emb_dim = 32
    cfg.discriminator.filter_sizes = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    cfg.discriminator.num_filters = (25, 50, 50, 50, 50, 25, 25, 25, 25, 25, 40, 40)
    cfg.pretrain.g_epochs = 40
    cfg.pretrain.d_steps = 10
    cfg.pretrain.k_epochs = 2
    cfg.adversarial.epochs = 40
    cfg.adversarial.d_steps = 1
    cfg.adversarial.k_epochs = 1
    # MLE stops early on the validation NLL (Caccia et al. 2020): on this data it is lowest near epoch 4 and
    # rises after it (docs/LOG.md 2026-12-03), so 40 epochs is only a cap.
    cfg.pretrain.patience = 3
    cfg.eval.every = 2
    cfg.eval.num_samples = 4992
    cfg.run.checkpoint_every = 5
    return cfg


def paper_cpu() -> SeqGANConfig:
    """The paper's discriminator (1,720 filters) and its per-epoch D schedule (5 rounds x 3 epochs on fresh
    negatives) on 2 CPU cores, three seeds at once in about two hours: 9,984 oracle samples as in the authors' code,
    MLE early-stopped on the validation NLL (patience 3, at most 120 epochs), D pre-training cut to 10 x 3 (the
    authors' 50 x 3 would take hours here), 10 adversarial epochs of 1 G step and 5 x 3 D epochs. An adversarial
    epoch trains D on 300,000 sequences: about 8 minutes with three runs sharing 2 cores of an AMD EPYC with
    avx512_bf16 (docs/LOG.md 2026-12-07)."""
    cfg = SeqGANConfig()
    cfg.pretrain.patience = 3
    cfg.pretrain.d_steps = 10
    cfg.adversarial.epochs = 10
    cfg.eval.every = 1
    cfg.eval.num_samples = 4992
    cfg.run.checkpoint_every = 1
    return cfg


def tiny() -> SeqGANConfig:
    """Seconds-long run for tests and smoke checks: vocabulary 50, T 8, small models."""
    cfg = SeqGANConfig()
    cfg.data.vocab_size = 50
    cfg.data.seq_len = 8
    cfg.data.num_train = 256
    cfg.data.num_test = 128
    cfg.data.num_valid = 128
    cfg.data.oracle_emb_dim = cfg.data.oracle_hidden_dim = 16
    cfg.generator.emb_dim = cfg.generator.hidden_dim = 16
    cfg.discriminator.emb_dim = 16
    cfg.discriminator.filter_sizes = (1, 2, 3, 4, 6, 8)
    cfg.discriminator.num_filters = (8, 8, 8, 8, 8, 8)
    cfg.discriminator.batch_size = 32
    cfg.pretrain.g_epochs = 4
    cfg.pretrain.batch_size = 32
    cfg.pretrain.d_steps = 2
    cfg.pretrain.k_epochs = 1
    cfg.adversarial.epochs = 3
    cfg.adversarial.d_steps = 1
    cfg.adversarial.k_epochs = 1
    cfg.adversarial.batch_size = 16
    cfg.adversarial.rollout_num = 4
    cfg.eval.every = 2
    cfg.eval.num_samples = 256
    cfg.eval.num_saved_samples = 5
    return cfg


def text() -> SeqGANConfig:
    """Your own sequences (use with --data DIR from `seqgan prepare`): the paper's models with
    the discriminator windows for the data's length, Texygen's COCO schedule (80 MLE epochs,
    100 adversarial epochs), D 10 x 3 pre-training, evaluation every 5 epochs on 2,000 samples."""
    cfg = SeqGANConfig()
    cfg.pretrain.g_epochs = 80  # Texygen (Zhu et al. 2018) pre-trains 80 epochs
    cfg.pretrain.shuffle = True
    cfg.pretrain.d_steps = 10
    cfg.adversarial.epochs = 100  # Texygen: 100 adversarial epochs
    cfg.eval.num_samples = 2000
    return cfg


def coco_gpu() -> SeqGANConfig:
    """COCO captions benchmark (benchmarks/text), full schedule: Texygen's 80 MLE + 100 adversarial
    epochs with the paper's discriminator and D schedule (50 x 3 pre-training, 5 x 3 per epoch)."""
    cfg = text()
    cfg.pretrain.d_steps = 50
    cfg.eval.every = 5
    cfg.eval.num_samples = 10000
    return cfg


def coco_cpu() -> SeqGANConfig:
    """COCO captions benchmark on 2 CPU cores (benchmarks/text): MLE early-stopped on the validation NLL (patience 3
    evaluations, every 2 epochs, at most Texygen's 80), the demo's slim discriminator, D 10 x 2 pre-training, 40
    adversarial epochs of 1 G step and 1 x 1 D; training evaluations on 2,000 samples."""
    cfg = text()
    slim = demo().discriminator
    cfg.discriminator.emb_dim = slim.emb_dim
    cfg.discriminator.filter_sizes, cfg.discriminator.num_filters = slim.filter_sizes, slim.num_filters
    cfg.pretrain.patience = 3
    cfg.pretrain.d_steps = 10
    cfg.pretrain.k_epochs = 2
    cfg.adversarial.epochs = 40
    cfg.adversarial.d_steps = 1
    cfg.adversarial.k_epochs = 1
    cfg.eval.every = 2
    cfg.eval.num_samples = 2000
    cfg.run.checkpoint_every = 5
    return cfg


def music() -> SeqGANConfig:
    """Melodies (use with --data DIR from `seqgan prepare-midi`, T = 32): the paper's generator and its T = 32
    discriminator (windows 1..10, 16, 24, 32; appendix), the authors' schedule (120 MLE epochs, D 50 x 3, 200
    adversarial epochs of 1 G step and 5 x 3 D epochs, N = 16); BLEU-4 and MSE every 5 epochs (a GPU job)."""
    cfg = SeqGANConfig()  # the discriminator's windows follow the data's T: paper_filters(32) for T = 32
    # The windows of one tune lie next to each other in train.pt: shuffle so a batch mixes tunes (the authors'
    # code has no music pipeline; their fixed batch order is kept for the oracle task only).
    cfg.pretrain.shuffle = True
    return cfg


def music_cpu() -> SeqGANConfig:
    """Music benchmark (benchmarks/music) on 2 CPU cores, minutes for a Nottingham-sized folder: the paper's
    generator, the T = 32 windows with a quarter of the paper's filters (as `demo`), 60 MLE epochs, D 10 x 2
    pre-training, 50 adversarial epochs of 1 G step and 1 x 1 D, evaluation every 10 epochs on 2,000 samples."""
    cfg = music()
    cfg.discriminator.emb_dim = 32
    cfg.discriminator.filter_sizes = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 24, 32)
    cfg.discriminator.num_filters = (25, 50, 50, 50, 50, 25, 25, 25, 25, 25, 40, 40, 40)
    cfg.pretrain.g_epochs = 60
    cfg.pretrain.d_steps = 10
    cfg.pretrain.k_epochs = 2
    cfg.adversarial.epochs = 50
    cfg.adversarial.d_steps = 1
    cfg.adversarial.k_epochs = 1
    cfg.eval.every = 10
    cfg.eval.num_samples = 2000
    cfg.run.checkpoint_every = 5
    return cfg


PRESETS: dict[str, Callable[[], SeqGANConfig]] = {
    "paper": paper,
    "paper-cpu": paper_cpu,
    "demo": demo,
    "tiny": tiny,
    "text": text,
    "coco-cpu": coco_cpu,
    "coco-gpu": coco_gpu,
    "music": music,
    "music-cpu": music_cpu,
}


def get(name: str) -> SeqGANConfig:
    if name not in PRESETS:
        near = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise UserError(f"unknown preset {name!r}: {hint}choose one of {', '.join(PRESETS)} (see `seqgan presets`)")
    cfg = PRESETS[name]()
    cfg.validate()
    return cfg


def describe(name: str) -> str:
    """The preset's docstring on one line."""
    doc = " ".join((PRESETS[name].__doc__ or "").split())
    return doc
