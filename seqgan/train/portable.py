"""Trained models, reopened and handed on: a run directory or an exported model folder -> :class:`Run`
(:func:`load_run`), and a run -> a portable folder (:func:`export_run`, ``seqgan export``).

An exported folder holds no dataset and no pickle, and this module alone knows its files:

    DIR/
      model.json                       format, version, the checkpoint it came from, phase, epoch, kind
      config.json                      the run's resolved config
      generator.safetensors            G's weights (and discriminator.safetensors: D's)
      vocab.json | oracle.npz          the vocabulary (text, music) or the oracle (synthetic task)
      MODEL_CARD.md                    what it is: data hash, metrics, the command that trained it

Loading one needs torch and safetensors only; a damaged or mismatched file is one line (UserError).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqgan.config import SeqGANConfig, architecture_changes, load_config_file
from seqgan.data.decode import render_rows
from seqgan.data.vocab import Vocab, data_kind
from seqgan.env import available_memory
from seqgan.errors import UserError
from seqgan.eval.labels import Classifier, bayes_classifier, cnn_classifier, train_label_classifier
from seqgan.eval.lm import forward_lm, lm_scores
from seqgan.eval.metrics import evaluate_samples
from seqgan.files import read_json, write_atomic, write_json
from seqgan.models.build import build_models, check_loadable
from seqgan.models.discriminator import Discriminator
from seqgan.models.interface import SequenceGenerator
from seqgan.models.oracle_file import load_oracle_params
from seqgan.models.sampling import check_sampling
from seqgan.train.evaluation import label_names, word_tokens
from seqgan.train.logbook import read_metrics
from seqgan.train.resample import check_resample, residual_nll
from seqgan.train.resample import resample as resample_rows
from seqgan.train.rundir import COMMAND, CONFIG, DATA, ORACLE, VOCAB, RunDir

MODEL_FORMAT, MODEL_VERSION = "seqgan-model", 1
Labels = str | Sequence[str] | None  # a label name, several (equal shares, in turn), or None / "all"
MODEL, CARD = "model.json", "MODEL_CARD.md"
GENERATOR, DISCRIMINATOR = "generator.safetensors", "discriminator.safetensors"
EXPORT_FILES = frozenset({MODEL, CARD, GENERATOR, DISCRIMINATOR, CONFIG, VOCAB, ORACLE})  # all an export writes
MAX_EVAL_SAMPLES = 100_000  # Self-BLEU compares every sample with every other: more would run for hours


@dataclass
class Run:
    """A trained run, reopened: its config, models (CPU, eval mode), data and where its checkpoint stands."""

    config: SeqGANConfig
    generator: SequenceGenerator
    discriminator: Discriminator
    oracle: SequenceGenerator | None
    vocab: Vocab | None
    test: Tensor
    valid: Tensor
    phase: str
    epoch: int
    kind: str
    path: Path

    exported: bool = False  # an exported model folder: no training data, no test split
    # The CNN judge of labelled data, by the training split it learned from: a temperature sweep trains it once.
    _judges: dict[str, Classifier] = field(default_factory=dict, repr=False)
    checkpoint: str = "last"  # the checkpoint the models come from (an exported model: the one it was exported from)

    def data(self) -> dict[str, Tensor]:
        if self.exported:
            raise UserError(f"{self.path} is an exported model: it holds no data; give --data DIR")
        return RunDir(self.path).data()

    @property
    def labels(self) -> list[str]:
        """The label names of a conditional run (``seqgan prepare --labels``; "0".."k-1" on the oracle task); []."""
        return label_names(self.vocab, self.config.data.num_labels) if self.config.data.num_labels else []

    def label_ids(self, num: int, label: Labels = None) -> Tensor | None:
        """The labels ``num`` samples are asked for: one name, several (equal shares, in turn) or None / "all"
        (an equal share of every label) -> (num,) ids; None for a run trained without labels."""
        names = [label] if isinstance(label, str) else list(label or [])
        if not self.labels:
            if names:
                raise UserError(
                    f"{self.path} was trained without labels: drop --label (prepare labelled data with "
                    "`seqgan prepare --labels tab` to train a conditional model)"
                )
            return None
        if "all" in names and len(names) > 1:
            raise UserError("--label all asks for every label in equal shares: give it alone, or name the labels")
        if not names or names == ["all"]:
            names = self.labels
        unknown = next((n for n in names if n not in self.labels), None)
        if unknown is not None:
            shown = ", ".join(self.labels[:20]) + (", ..." if len(self.labels) > 20 else "")
            raise UserError(
                f"label {unknown[:40]!r} is not one of this run's labels ({shown}): give one of them, or all"
            )
        ids = torch.tensor([self.labels.index(n) for n in names], dtype=torch.long)
        return ids[torch.arange(num) % len(ids)]

    def prefix_ids(self, text: str) -> Tensor:
        """``text`` every sample starts with, as ids: words (or note names) through the vocabulary, or space-
        separated ids for the oracle task; it must leave room for at least one sampled token. -> (P,)"""
        if self.vocab is not None:
            ids = self.vocab.encode(text)
        else:
            try:
                ids = [int(tok) for tok in text.split()]
            except ValueError:
                raise UserError(
                    "this run has no vocabulary (oracle task): give the prefix as space-separated ids"
                ) from None
            if any(not 0 <= i < self.config.data.vocab_size for i in ids):
                raise UserError(f"prefix ids must be in 0..{self.config.data.vocab_size - 1}")
        T = self.config.data.seq_len
        if len(ids) >= T:
            raise UserError(f"the prefix has {len(ids)} tokens but sequences hold {T}: give a shorter prefix")
        return torch.tensor(ids, dtype=torch.long)

    def iter_sample_ids(
        self,
        num: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        prefix: str | None = None,
        seed: int = 0,
        chunk: int = 16 * 1024,
        label: Labels = None,
        resample: int = 0,
    ) -> Iterator[Tensor]:
        """``num`` sequences of the generator in pieces of ``chunk`` rows (memory stays flat however many are asked
        for); the same seed gives the same sequences, however they are cut. -> (<= chunk, T) ids each.
        ``label``: of a conditional run, see :meth:`label_ids` (the rows follow its order). ``resample`` K > 1: each
        sequence is chosen among K candidates in proportion to D / (1 - D) (:mod:`seqgan.train.resample`)."""
        check_sampling(num, temperature, top_k, top_p)
        check_resample(resample)
        labels = self.label_ids(num, label)
        start = self.prefix_ids(prefix) if prefix else None
        rng = torch.Generator().manual_seed(seed)
        chunk = max(1024, chunk // 1024 * 1024)  # whole sampling batches: the random stream does not see the cut
        if resample > 1:
            chunk = max(1, chunk // resample)
        for lo in range(0, num, chunk):
            given = {} if labels is None else {"labels": labels[lo : lo + chunk]}
            if resample > 1:
                options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "prefix": start}
                rows, _ = resample_rows(
                    self.generator,
                    self.discriminator,
                    min(chunk, num - lo),
                    resample,
                    self.config.data.seq_len,
                    rng,
                    **given,
                    **options,
                )
                yield rows
                continue
            yield self.generator.generate(
                min(chunk, num - lo),
                self.config.data.seq_len,
                rng,
                1024,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                prefix=start,
                **given,
            )

    def sample_ids(
        self,
        num: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        prefix: str | None = None,
        seed: int = 0,
        label: Labels = None,
        resample: int = 0,
    ) -> Tensor:
        """``num`` sequences of the generator (the same seed, the same sequences). -> (num, T) ids."""
        chunks = self.iter_sample_ids(num, temperature, top_k, top_p, prefix, seed, label=label, resample=resample)
        return torch.cat(list(chunks))

    def sample(
        self,
        num: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        prefix: str | None = None,
        seed: int = 0,
        label: Labels = None,
        resample: int = 0,
    ) -> list[str]:
        """``num`` sequences as written text (ids for the oracle task); see :meth:`sample_ids`."""
        rows = self.sample_ids(num, temperature, top_k, top_p, prefix, seed, label, resample)
        return render_rows(rows, self.vocab)

    generate = sample  # model.generate(5, temperature=0.8, top_p=0.9, prefix="a man", label="pos") -> five lines

    def evaluate(
        self,
        num: int | None = None,
        seed: int = 0,
        temperature: float = 1.0,
        split: str = "test",
        lm: bool = False,
        reverse_lm: bool = True,
        lm_cache: Path | None = None,
        data: dict[str, Tensor] | None = None,
        resample: int = 0,
    ) -> dict[str, Any]:
        """Every metric of ``num`` fresh samples (default: the run's eval.num_samples) at ``temperature``, against
        the ``split`` ("test": the reported numbers; "valid"). ``lm``: text runs also get the LM score and the
        reverse LM score (:mod:`seqgan.eval.lm`; the real-text LM is kept in ``lm_cache``, by default RUN/lm/).
        ``resample`` K > 1: the samples are resampled by D's odds among K candidates each, and ``eval/nll_<split>``
        is the residual model's NLL with log Z estimated from ``num`` further samples of G (the ``resample/*`` keys:
        G's own NLL, log Z and its spread, the weights' effective sample size); the entropy stays G's."""
        check_resample(resample)
        if split not in ("test", "valid"):
            raise UserError(f"split must be test or valid, got {split!r}")
        data = data if data is not None else None if self.exported else self.data()
        refs = data[split] if data is not None else self.test[:0]
        if self.exported and data is None and self.kind != "oracle":
            raise UserError(
                f"{self.path} is an exported model, which holds no data: give --data DIR (a prepared "
                "directory with this model's vocabulary) to score against its split"
            )
        if len(refs) == 0 and not self.exported:
            raise UserError(f"{self.path} has no {split} split: evaluate on the other one (--split)")
        num = num or self.config.eval.num_samples
        check_sampling(num, temperature, max_num=MAX_EVAL_SAMPLES)
        if num < len(self.labels):  # every label is asked for in turn: fewer samples would leave labels out
            raise UserError(
                f"--num-samples {num} is fewer than this run's {len(self.labels)} labels, so some labels would get "
                f"no sample: give at least {len(self.labels)}"
            )
        labels, K = self.label_ids(num), self.config.data.num_labels  # conditional: every label in turn
        rng, given = torch.Generator().manual_seed(seed), {} if labels is None else {"labels": labels}
        T = self.config.data.seq_len
        if resample > 1:
            samples, resampled = resample_rows(
                self.generator, self.discriminator, num, resample, T, rng, temperature=temperature, **given
            )
            proposals = self.generator.generate(num, T, rng, temperature=temperature, **given)
            ref_labels = None if data is None else data.get(f"{split}_labels")
            resampled.update(
                residual_nll(self.generator, self.discriminator, refs, proposals, temperature, ref_labels, labels)
            )
        else:
            samples = self.generator.generate(num, T, rng, temperature=temperature, **given)
        pitch = self.vocab.pitch if self.vocab is not None else None  # music runs add eval/mse
        judge = self._label_judge(data) if K else None
        metrics: dict[str, Any] = evaluate_samples(
            self.generator,
            samples,
            refs,
            self.oracle,
            self.config.eval.bleu_orders,
            self.kind != "oracle",
            pitch=pitch,
            temperature=temperature,
            split=split,
            sample_labels=labels,
            test_labels=None if data is None else data.get(f"{split}_labels"),
            num_labels=K,
            classify=judge,
            words=word_tokens(self.vocab),
        )
        if resample > 1:
            if len(refs):
                metrics[f"eval/nll_{split}"] = resampled["resample/nll"]
            metrics.update(resampled)
        if K:
            metrics["labels"] = self.labels
        if lm:
            if self.kind == "oracle":
                raise UserError("LM scores are for text runs: the oracle task has NLL_oracle instead")
            forward, record = forward_lm(
                data["train"],
                data["valid"] if len(data["valid"]) else data["train"],
                self.config.data.vocab_size,
                self.config.data.start_token,
                self.config.data.eos_token,
                self.config.data.pad_token,
                lm_cache or self.path / "lm",
            )
            metrics.update(lm_scores(samples, forward, refs, reverse=reverse_lm))
            metrics["lm"] = {"settings": record["settings"], "best_epoch": record["best_epoch"]}
        return metrics

    def _label_judge(self, data: dict[str, Tensor] | None) -> Classifier | None:
        """Who decides a sample's label: the exact Bayes classifier of a conditional oracle, or a CNN trained here on
        the real training split (seeded, so the same run gives the same judge); None without training data."""
        K = self.config.data.num_labels
        if self.oracle is not None:
            return bayes_classifier(self.oracle, K)
        if data is None or data.get("train_labels") is None:
            return None
        key = hashlib.sha256(
            data["train"].contiguous().numpy().tobytes() + data["train_labels"].contiguous().numpy().tobytes()
        ).hexdigest()
        if key in self._judges:
            return self._judges[key]
        d, T = self.config.discriminator, self.config.data.seq_len
        net = train_label_classifier(
            data["train"],
            data["train_labels"],
            K,
            self.config.data.vocab_size,
            d.filters(T),
            d.emb_dim,
            seed=self.config.run.seed,
        )
        self._judges[key] = cnn_classifier(net)
        return self._judges[key]


def load_run(run_dir: str | Path, checkpoint: str = "last") -> Run:
    """Reopen ``run_dir`` at ``checkpoint`` (last, prev, best, pretrained or a checkpoint file's path), or an
    exported model folder (``seqgan export``; ``checkpoint`` is then the one it was exported from)."""
    if (Path(run_dir) / MODEL).is_file():
        return _load_exported(Path(run_dir), checkpoint)
    if (Path(run_dir) / GENERATOR).exists():
        raise UserError(f"{run_dir} is an exported model without its {MODEL}: export the run again (`seqgan export`)")
    rundir = RunDir(run_dir)
    if not (rundir.path / CONFIG).is_file():
        raise UserError(f"{run_dir} holds no run (no {CONFIG}): give a directory written by `seqgan train`")
    cfg = load_config_file(rundir.path / CONFIG, "the run cannot be used; start a new run")
    ckpt = rundir.checkpoint(checkpoint)
    if ckpt is None:
        raise UserError(f"{run_dir} has no checkpoint yet: train longer, or resume it with `seqgan train --resume`")
    if changed := architecture_changes(ckpt.get("config"), cfg):
        raise UserError(
            f"{rundir.path / CONFIG} was edited: {changed} differs from the config the checkpoint was trained with; "
            "restore the file (the models cannot change after training)"
        )
    vocab, params = rundir.vocab(), rundir.oracle_params()
    _check_parts(cfg, vocab, params, rundir.path)
    check_loadable(cfg, available_memory())
    models = build_models(cfg, params)
    try:
        models.generator.load_state_dict(ckpt["generator"])
        models.discriminator.load_state_dict(ckpt["discriminator"])
    except (KeyError, RuntimeError):
        raise UserError(f"the checkpoint does not match the config in {run_dir}: it comes from another run") from None
    data = rundir.data(cfg)
    return Run(
        cfg,
        models.generator.eval(),
        models.discriminator.eval(),
        models.oracle,
        vocab,
        data["test"],
        data["valid"],
        ckpt["state"]["phase"],
        ckpt["state"]["epoch"],
        rundir.kind(),
        rundir.path,
        checkpoint=checkpoint,
    )


def _check_parts(cfg: SeqGANConfig, vocab: Vocab | None, oracle: dict[str, Any] | None, where: Path) -> None:
    """Refuse a vocabulary or an oracle that does not fit the config beside it (another run's file, or an edited
    one): its ids would index past the models' tables, or its label names would relabel the samples."""
    d = cfg.data
    fix = "restore the run's own file (or export the run again)"
    if vocab is not None and vocab.vocab_size != d.vocab_size:
        raise UserError(
            f"{where}/{VOCAB} has {vocab.vocab_size} tokens but the config {d.vocab_size}: it is another data's "
            f"vocabulary; {fix}"
        )
    names = getattr(vocab, "labels", None) or []
    if vocab is not None and len(names) != d.num_labels:
        raise UserError(
            f"{where}/{VOCAB} names {len(names)} labels but the models were trained with {d.num_labels}: "
            f"the samples would carry wrong labels; {fix}"
        )
    if oracle is not None:
        V, K = int(oracle["embedding"].shape[0]), len(oracle.get("label_embedding", ()))
        if (V, K) != (d.vocab_size, d.num_labels):
            raise UserError(
                f"{where}/{ORACLE} is an oracle of vocabulary {V} and {K} labels but the config has "
                f"{d.vocab_size} and {d.num_labels}: it is another run's oracle; {fix}"
            )


# ------------------------------------------------------------------ exported model folders
def _safetensors() -> Any:
    try:
        import safetensors
        import safetensors.torch
    except ImportError:
        raise UserError("exported models need safetensors, which is not installed: pip install safetensors") from None
    return safetensors


def export_run(run_dir: str | Path, out: str | Path, checkpoint: str = "last", force: bool = False) -> dict[str, Any]:
    """Write ``run_dir``'s models at ``checkpoint`` (last or best) to the folder ``out``, complete or not at all:
    weights as safetensors, the config, the vocabulary or the oracle, a model card. Returns what was written."""
    if checkpoint not in ("last", "best"):
        raise UserError(f"--checkpoint {checkpoint!r}: export last or best")
    out = Path(out)
    if not out.parent.is_dir():
        raise UserError(f"the folder of --out {out} does not exist: create it first")
    replaceable = (force and (out / MODEL).is_file()) or (out.is_dir() and not any(out.iterdir()))
    if os.path.lexists(out) and not replaceable:
        raise UserError(f"--out {out} exists: give a new (or empty) folder, or --force to replace an exported model")
    if os.path.lexists(out) and not out.is_symlink():
        foreign = sorted(e.name for e in out.iterdir() if e.name not in EXPORT_FILES or not e.is_file())
        if foreign:
            raise UserError(
                f"--out {out} holds {foreign[0][:60]!r}, which seqgan export did not write: refusing to replace the "
                "folder even with --force; move that file or choose another --out"
            )
    elif out.is_symlink():
        raise UserError(f"--out {out} is a symbolic link: give a folder of its own")
    run = load_run(run_dir, checkpoint)
    st = _safetensors().torch
    rundir = RunDir(run_dir)
    data_hash = hashlib.sha256((rundir.path / DATA).read_bytes()).hexdigest()
    evals = [e for e in read_metrics(rundir.metrics_file) if any(k.startswith("eval/") for k in e)]
    last = evals[-1] if evals else {}
    metrics = {k: v for k, v in last.items() if k.startswith("eval/") or k in ("phase", "epoch")}
    command = (rundir.path / COMMAND).read_text(encoding="utf-8").strip()
    model = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "checkpoint": checkpoint,
        "phase": run.phase,
        "epoch": run.epoch,
        "kind": run.kind,
        "source": str(rundir.path.resolve()),
        "data_sha256": data_hash,
        "last_evaluation": metrics,
        "command": command,
    }
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        meta = {"config": json.dumps(run.config.to_dict(), sort_keys=True)}  # what config.json must still say
        for name, module in ((GENERATOR, run.generator), (DISCRIMINATOR, run.discriminator)):
            st.save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(tmp / name), metadata=meta)
        write_json(tmp / CONFIG, run.config.to_dict())
        for name in (VOCAB, ORACLE):
            if (rundir.path / name).is_file():
                write_atomic(tmp / name, (rundir.path / name).read_bytes())
        write_json(tmp / MODEL, model)
        write_atomic(tmp / CARD, _card(run, model).encode("utf-8"))
        if os.path.lexists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "out": str(out),
        "checkpoint": checkpoint,
        "phase": run.phase,
        "epoch": run.epoch,
        "kind": run.kind,
        "files": sorted(p.name for p in out.iterdir()),
    }


def export_file_of(path: str | Path) -> Path | None:
    """The exported model folder that ``path`` is one of the own files of, or None: commands that write files
    never write there."""
    p = Path(os.path.abspath(path))
    return p.parent if p.name in EXPORT_FILES and (p.parent / MODEL).is_file() else None


def _card(run: Run, model: dict[str, Any]) -> str:
    g = run.config.generator
    size = sum(p.numel() for p in run.generator.parameters())
    lines = [
        f"# SeqGAN model ({run.kind})",
        "",
        f"- Generator: {g.kind}, {size:,} parameters (emb_dim {g.emb_dim}, hidden_dim {g.hidden_dim}"
        + (f", {g.layers} layers, {g.heads} heads" if g.kind == "transformer" else "")
        + f"); vocabulary "
        f"{run.config.data.vocab_size}, sequences of {run.config.data.seq_len} tokens.",
        f"- From `{model['source']}`, checkpoint `{model['checkpoint']}` (phase {model['phase']}, epoch "
        f"{model['epoch']}).",
        f"- Trained with: `{model['command']}`",
        f"- Data: SHA-256 of the run's data.pt {model['data_sha256']} (train / valid / test sequences; not "
        "shipped here).",
        "- Last evaluation (validation split): "
        + (", ".join(f"{k} {v:.4g}" for k, v in model["last_evaluation"].items() if isinstance(v, float)) or "none"),
        "",
        "Use: `seqgan sample DIR --num-samples 5` or, in Python, `seqgan.load_run(DIR).generate(5, temperature=0.8)`.",
        "",
    ]
    return "\n".join(lines)


def _load_exported(folder: Path, checkpoint: str = "last") -> Run:
    """An exported model folder -> :class:`Run` (CPU, eval mode), checked: format, config, weights."""
    again = "export the run again (`seqgan export`)"
    model = read_json(folder / MODEL, "model description", again, dict)
    if (model.get("format"), model.get("version")) != (MODEL_FORMAT, MODEL_VERSION):
        raise UserError(f"{folder} is not a seqgan model of format {MODEL_VERSION}: {again}")
    epoch, phase, source = model.get("epoch"), model.get("phase"), model.get("checkpoint")
    if type(epoch) is not int or epoch < 0 or not isinstance(phase, str) or source not in ("last", "best"):
        raise UserError(f"{folder / MODEL} is damaged (epoch, phase or checkpoint): {again}")
    if checkpoint not in ("last", source):  # "last" is the default: the only checkpoint an export holds
        raise UserError(
            f"{folder} is an exported model: it holds only the checkpoint it was exported from ({source}); drop "
            "--checkpoint, or export that checkpoint of the run"
        )
    if not (folder / CONFIG).is_file():
        raise UserError(f"{folder} lacks {CONFIG}: {again}")
    cfg = load_config_file(folder / CONFIG, again)
    vocab = Vocab.load(folder / VOCAB) if (folder / VOCAB).is_file() else None
    oracle = load_oracle_params(folder / ORACLE) if (folder / ORACLE).is_file() else None
    _check_parts(cfg, vocab, oracle, folder)
    check_loadable(cfg, available_memory())
    models = build_models(cfg, oracle)
    for name, module in ((GENERATOR, models.generator), (DISCRIMINATOR, models.discriminator)):
        module.load_state_dict(_read_weights(folder / name, module, cfg))
    kind = data_kind(vocab)
    empty = torch.zeros(0, cfg.data.seq_len, dtype=torch.long)
    return Run(
        cfg,
        models.generator.eval(),
        models.discriminator.eval(),
        models.oracle,
        vocab,
        empty,
        empty,
        phase,
        epoch,
        kind,
        folder,
        exported=True,
        checkpoint=source,
    )


def _read_weights(path: Path, module: torch.nn.Module, cfg: SeqGANConfig) -> dict[str, Tensor]:
    """The tensors of an exported safetensors file, checked against ``module`` and the config: the names, shapes
    and dtypes written, finite values, and (files that record it) the config they were exported with."""
    if not path.is_file():
        raise UserError(f"{path.parent} lacks {path.name}: export the run again")
    damaged = f"{path} is damaged or does not match its config.json"
    try:
        with _safetensors().safe_open(str(path), framework="pt") as f:
            meta, tensors = f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as e:  # noqa: BLE001 - whatever the damage, the same problem for the user
        raise UserError(f"{damaged} ({type(e).__name__}): export the run again") from None
    try:
        written = json.loads(meta["config"]) if "config" in meta else None
    except ValueError:
        written = None
    if changed := architecture_changes(written, cfg):
        raise UserError(
            f"{path} does not match its config.json: {changed} differs from the config it was exported with "
            "(config.json was edited); restore the file or export the run again"
        )
    own = module.state_dict()
    for key, tensor in tensors.items():
        want = own.get(key)
        if want is not None and tensor.dtype != want.dtype:
            raise UserError(f"{damaged}: {key} is {tensor.dtype}, not the {want.dtype} written; export the run again")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{damaged}: {key} holds NaN or infinite weights; export the run again")
        if want is not None and tensor.shape != want.shape:
            raise UserError(
                f"{damaged}: {key} has shape {tuple(tensor.shape)}, the config asks for {tuple(want.shape)}; "
                "export the run again"
            )
    if set(tensors) != set(own):
        raise UserError(f"{damaged}: its tensors are not those of the config's model; export the run again")
    return tensors
