"""``seqgan verdict``: does the discriminator help on this data? Plans the runs, checks every input before anything
is trained, estimates the budget, trains and measures (resumably), judges and reports.

    OUT/manifest.json           the options, the systems, the data's identity, wall times (kept across reruns)
    OUT/seedS/NAME/             a system's run (mle_es: only its measure.json; it is the SeqGAN run's pre-training)
    OUT/seedS/NAME/measure.json its sweep on the test split
    OUT/logs/seedS_NAME.log     the training output of each job
    OUT/lm/                     the real-text LM of the LM scores, trained once
    OUT/verdict.json            every number of the report; REPORT/results.md and the frontier PNGs
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqgan import presets
from seqgan.config import SeqGANConfig, apply_overrides
from seqgan.data.prepared import load_prepared
from seqgan.env import available_memory, env_snapshot
from seqgan.errors import UserError
from seqgan.eval.lm import forward_lm
from seqgan.files import write_json
from seqgan.models.build import check_fits
from seqgan.tools.verdict import jobs as J
from seqgan.tools.verdict.judge import FORMAT, VERSION, judge
from seqgan.tools.verdict.measure import ALPHAS, MEASURE, REVERSE_ALPHAS, data_identity, frontiers, measured
from seqgan.tools.verdict.report import clock, write_report
from seqgan.tools.verdict.systems import (
    DEFAULT_SYSTEMS,
    MEASURED_ONLY,
    SGD_LR,
    Plan,
    make_plan,
    parse_user_system,
)

DATA_PRESETS = ("text", "coco-cpu", "coco-gpu", "music", "music-cpu")  # made for prepared data
MAX_TEXT_SAMPLES = 5000  # Self-BLEU compares every sample with every other: more takes hours per point


LOG = logging.getLogger("seqgan")  # progress, where the caller passes no `say`


@dataclass
class Options:
    out: Path
    preset: str
    seeds: list[int]
    data: str | None = None
    oracle_params: str | None = None
    systems: list[str] | None = None  # built-in systems beside SeqGAN and mle_es; None: DEFAULT_SYSTEMS
    user: list[list[str]] = field(default_factory=list)  # --system NAME KEY=VALUE ...
    sets: list[str] = field(default_factory=list)  # --set for every run
    workers: int = 1
    num_samples: int | None = None
    lm: bool | None = None  # None: on for text and music
    sgd_lr: float = SGD_LR
    device: str = "cpu"
    allow_one_seed: bool = False
    dry_run: bool = False
    report: Path | None = None
    command: str = "seqgan verdict"
    cwd: str | None = None  # where ``command`` ran (default: here)


def _base_config(o: Options) -> tuple[SeqGANConfig, str, dict[str, Any]]:
    """The SeqGAN run's config (seed aside), the kind of data and its description; refuses a preset that does not
    fit the data before anything is written."""
    cfg = presets.get(o.preset)
    apply_overrides(cfg, [*o.sets, f"run.device={o.device}"])
    if o.data is None:
        if o.preset in DATA_PRESETS:
            raise UserError(
                f"preset {o.preset} is made for prepared data (--data DIR): on the oracle task use tiny, demo, "
                "paper-cpu or paper"
            )
        if o.oracle_params:
            apply_overrides(cfg, [f"data.oracle_params={o.oracle_params}"])
        check_fits(cfg, available_memory())
        d = cfg.data
        where = o.oracle_params or (
            f"a fresh N(0, 1) oracle (data.oracle_seed {d.oracle_seed}, vocabulary {d.vocab_size}, T {d.seq_len}, "
            f"{d.oracle_emb_dim}/{d.oracle_hidden_dim}; not the authors' file)"
        )
        labels = [str(k) for k in range(d.num_labels)]
        summary = (
            f"{where}; {d.num_train:,} train, {d.num_valid:,} validation, {d.num_test:,} test sequences drawn from it "
            "per seed" + (f"; {d.num_labels} labels, equal shares" if d.num_labels else "")
        )
        return cfg, "oracle", {"title": "Synthetic oracle", "summary": summary, "labels": labels}
    prepared = load_prepared(o.data)  # one line when the folder is not prepared
    kind = "music" if prepared.vocab.pitch is not None else "text"
    if o.preset.startswith("music") and kind != "music":
        raise UserError(
            f"preset {o.preset} does not fit {o.data}: it is made for melodies (`seqgan prepare-midi`) and the "
            "folder holds text; use --preset text (or tiny)"
        )
    d = cfg.data
    apply_overrides(cfg, [f"data.path={o.data}"])
    d.vocab_size, d.seq_len = prepared.vocab_size, prepared.seq_len
    d.start_token, d.eos_token = prepared.start_token, prepared.eos_token
    d.pad_token = prepared.pad_token if prepared.pad_token is not None else 0
    d.num_train, d.num_test, d.num_valid = len(prepared.train), len(prepared.test), len(prepared.valid)
    d.num_labels = len(prepared.labels or ())
    try:
        cfg.validate()
        if not cfg.discriminator.filters(d.seq_len):
            raise UserError(f"no discriminator window fits sequences of {d.seq_len} tokens")
        check_fits(cfg, available_memory())
    except UserError as e:
        raise UserError(f"preset {o.preset} does not fit {o.data}: {e}") from None
    if len(prepared.test) == 0 or len(prepared.valid) == 0:
        raise UserError(
            f"{o.data} has no {'test' if len(prepared.test) == 0 else 'validation'} split: prepare it again with "
            "--test-frac / --valid-frac above 0 (the verdict selects on validation and reports on test)"
        )
    r = prepared.manifest.get("report", {})
    summary = (
        f"`{o.data}`: {len(prepared.train):,} train, {len(prepared.valid):,} validation, {len(prepared.test):,} test "
        f"sequences (the test split read only by the final measurements), vocabulary {prepared.vocab_size:,}, "
        f"T {prepared.seq_len}" + (f", level {r['level']}" if "level" in r else "")
    )
    if prepared.labels:
        summary += f"; labels {', '.join(prepared.labels)}"
    title = "Melodies" if kind == "music" else "Text"
    return (
        cfg,
        kind,
        {"title": f"{title} ({Path(o.data).name})", "summary": summary, "labels": list(prepared.labels or [])},
    )


def _jobs(o: Options, plan: Plan) -> list[J.Job]:
    out = []
    for seed in o.seeds:
        root = o.out / f"seed{seed}"
        source = root / "seqgan"
        for name in plan.trained:
            cfg = plan.configs[name]
            cfg.run.seed = seed
            job = J.Job(seed, name, root / name, cfg.to_dict(), None if name == "seqgan" else source)
            if name == "seqgan":  # the systems measured from its pre-training: mle_es, drs
                for other in plan.systems.values():
                    if not other.trained:
                        job.measures.append((root / other.name, source, "pretrained", other.resample))
            job.measures.append((job.run, job.run, "last", 0))
            out.append(job)
    return out


def _check_same(manifest: dict[str, Any], fields: dict[str, Any], out: Path) -> None:
    """A rerun into the same folder must be the same experiment (seeds and systems may be added)."""
    for key in ("kind", "preset", "data", "oracle_params", "sets", "num_samples", "lm"):
        if key in manifest and manifest[key] != fields[key]:
            raise UserError(
                f"{out} holds a verdict made with {key} {manifest[key]!r}, not {fields[key]!r}: run the same options "
                "again to continue it, or give another --out"
            )
    for name, s in fields["systems"].items():
        old = manifest.get("systems", {}).get(name)
        if old is not None and old["sets"] != s["sets"]:
            raise UserError(
                f"{out} holds system {name} with {old['sets']}, not {s['sets']}: give it another name or another --out"
            )


def run(o: Options, say: Callable[[str], None] = LOG.info) -> dict[str, Any]:
    """Train, measure, judge and report (see the module's docstring); returns verdict.json's content (or, with
    ``dry_run``, the plan and its budget)."""
    if len(set(o.seeds)) != len(o.seeds):
        raise UserError(f"--seeds {' '.join(map(str, o.seeds))} repeats a seed: give each once")
    if len(o.seeds) < 2 and not o.allow_one_seed:
        raise UserError(
            "the verdict needs at least 2 seeds (a t-test over seeds): give --seeds 1 2 3, or --allow-one-seed to "
            "report the per-seed gaps without a test"
        )
    if o.workers < 1:
        raise UserError(f"--workers must be at least 1, got {o.workers}")
    base, kind, described = _base_config(o)
    builtin = list(DEFAULT_SYSTEMS if o.systems is None else o.systems)
    plan = make_plan(base, builtin, [parse_user_system(w) for w in o.user], o.sgd_lr)
    lm = (kind != "oracle") if o.lm is None else o.lm
    if lm and kind == "oracle":
        raise UserError("LM scores are for text and melodies: the oracle task has NLL_oracle instead (drop --lm)")
    num = o.num_samples or (base.eval.num_samples if kind == "oracle" else min(base.eval.num_samples, MAX_TEXT_SAMPLES))
    how = J.Measuring(num, ALPHAS[kind], lm, o.out / "lm")
    fields = {
        "format": FORMAT + "-runs",
        "kind": kind,
        "preset": o.preset,
        "data": None if o.data is None else str(Path(o.data).resolve()),
        "oracle_params": None if o.oracle_params is None else str(Path(o.oracle_params).resolve()),
        "sets": o.sets,
        "num_samples": num,
        "lm": lm,
        "described": described,
        "systems": {n: {"title": s.title, "sets": list(s.sets), "user": s.user} for n, s in plan.systems.items()},
        "order": list(plan.systems),
        "sgd_lr": o.sgd_lr,
    }
    path = o.out / "manifest.json"
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    _check_same(manifest, fields, o.out)
    jobs = _jobs(o, plan)
    done = [j for j in jobs if J.is_done(j, how)]
    threads = 1 if o.workers > 1 else None
    if "epoch_times" not in manifest and len(done) < len(jobs):
        say("measuring the epoch times of the preset on this machine (a short run) ...")
        o.out.mkdir(parents=True, exist_ok=True)
        manifest["epoch_times"] = J.probe(base, o.out / ".probe", threads)
    times = manifest.get("epoch_times", {"mle_epoch_s": 0.0, "d_round_s": 0.0, "adv_epoch_s": 0.0})
    for j in jobs:
        own_d = J.pretrains_own_d(plan.configs[j.name], plan.configs["seqgan"])
        j.estimate_s = J.run_seconds(plan.configs[j.name], times, j.source is None, own_d)
    left = sum(j.estimate_s for j in jobs if j not in done)
    budget = (
        f"{len(jobs)} runs ({len(done)} done), {len(o.seeds)} seed(s) x {len(plan.trained)} systems: at most "
        f"{clock(left)} of training left ({clock(left / o.workers)} with {o.workers} at once), from this "
        f"machine's epoch times (MLE {times['mle_epoch_s']:.2f} s, D round {times['d_round_s']:.2f} s, adversarial "
        f"{times['adv_epoch_s']:.2f} s), plus the measurements; Ctrl-C stops, the same command continues"
    )
    say(budget)
    o.out.mkdir(parents=True, exist_ok=True)
    earlier = manifest.get("systems", {}), manifest.get("order", [])  # an earlier invocation's systems stay
    manifest.update(fields)
    manifest["systems"] = {**earlier[0], **fields["systems"]}
    manifest["order"] = earlier[1] + [n for n in fields["order"] if n not in earlier[1]]
    # Every invocation that trained into this folder, in order: a verdict grown in stages (systems or seeds added)
    # reports the commands that made it, not just the last one.
    commands = list(manifest.get("commands", [manifest["command"]] if "command" in manifest else []))
    if not o.dry_run and (not commands or commands[-1] != o.command):
        commands.append(o.command)
    manifest["commands"] = commands
    manifest["command"] = o.command
    manifest["cwd"] = o.cwd or os.getcwd()  # --resume reads the command's relative paths from here
    if o.dry_run:  # the epoch times are kept: the real run does not measure them again
        write_json(path, manifest)
        return {"plan": [f"seed{j.seed}/{j.name}" for j in jobs], "budget": budget, "epoch_times": times}
    manifest["seeds"] = sorted(set(manifest.get("seeds", [])) | set(o.seeds))
    manifest["env"] = env_snapshot(torch.device(o.device))
    manifest["workers"] = o.workers
    write_json(path, manifest)
    t0, elapsed_before = time.perf_counter(), manifest.get("elapsed_s", 0.0)
    if lm and len(done) < len(jobs):  # once, here, rather than by several workers at the same time
        say("training the real-text LM of the LM scores (once; kept in OUT/lm) ...")
        _real_text_lm(o.data, base, how.lm_cache)
    progress = J.Progress(jobs, done, o.workers, say)

    def on_done(job: J.Job, result: dict[str, Any]) -> None:
        walls = manifest.setdefault("wall_s", {})
        key = f"seed{job.seed}/{job.name}"
        walls[key] = round(walls.get(key, 0.0) + result["train_s"], 1)
        manifest["elapsed_s"] = round(elapsed_before + time.perf_counter() - t0, 1)
        write_json(path, manifest)
        progress.finished(job, result)

    J.run_all(jobs, how, o.workers, o.out / "logs", on_done, say)
    manifest["elapsed_s"] = round(elapsed_before + time.perf_counter() - t0, 1)
    write_json(path, manifest)
    return report_from_runs([o.out], o.report or o.out, None)


def _real_text_lm(data: str | None, cfg: SeqGANConfig, cache: Path) -> None:
    """The LM every measurement scores samples under: trained on the training split, early-stopped on the
    validation split, cached under the hash of both (the key ``Run.evaluate`` finds it by)."""
    prepared = load_prepared(data)
    d = cfg.data
    valid = prepared.valid if len(prepared.valid) else prepared.train
    forward_lm(prepared.train, valid, d.vocab_size, d.start_token, d.eos_token, d.pad_token, cache)


def _points(root: Path, seeds: list[int], manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every system's measured points per seed; a measurement still going on (not every temperature yet) is left
    out, since a gap over the few points it has would be read as a verdict."""
    points: dict[str, dict[str, Any]] = {}
    alphas, lm, num = ALPHAS[manifest["kind"]], manifest["lm"], manifest["num_samples"]
    for name in manifest["systems"]:
        for seed in seeds:
            f = root / f"seed{seed}" / name / MEASURE
            if measured(f.parent, alphas, lm, num):
                raw = json.loads(f.read_text())["points"]
                points.setdefault(name, {})[str(seed)] = {
                    a: {k: v for k, v in p.items() if k == "alpha" or (k.startswith("eval/") and isinstance(v, float))}
                    for a, p in raw.items()
                }
    return points


def _runs(wall: dict[str, float], elapsed_s: float, workers: int) -> dict[str, Any]:
    """verdict.json's account of the training: runs, their summed wall time, the elapsed time."""
    return {
        "trained": len(wall),
        "train_s": sum(wall.values()),
        "elapsed_s": elapsed_s,
        "workers": workers,
        "wall_s": wall,
    }


def report_from_runs(dirs: list[Path], report: Path, report_command: str | None) -> dict[str, Any]:
    """verdict.json (in the first folder) and the report (in ``report``) from the runs of one or several verdict
    folders of the same data; refuses folders whose runs come from other data or oracles."""
    manifests = []
    for d in dirs:
        f = d / "manifest.json"
        if not f.is_file():
            raise UserError(f"{d} holds no verdict runs (no manifest.json): give the --out folder of `seqgan verdict`")
        manifests.append(json.loads(f.read_text()))
    first = manifests[0]
    identity: dict[int, tuple[Path, str]] = {}
    points: dict[str, dict[str, Any]] = {}
    systems: dict[str, Any] = {}
    order: list[str] = []
    wall: dict[str, float] = {}
    commands: list[str] = []
    for d, m in zip(dirs, manifests, strict=True):
        if m.get("kind") != first.get("kind") or m.get("preset") != first.get("preset"):
            raise UserError(
                f"--runs {d} is a {m.get('kind')} verdict of preset {m.get('preset')}, "
                f"{dirs[0]} a {first.get('kind')} one of {first.get('preset')}: give runs of one experiment"
            )
        for seed in m.get("seeds", []):
            run = d / f"seed{seed}" / "seqgan"
            if not (run / "config.json").is_file():
                continue
            if seed in identity and identity[seed][0] != d:
                raise UserError(f"seed {seed} is in both {identity[seed][0]} and {d}: give each seed once")
            identity[seed] = (d, data_identity(run))
            for name, by_seed in _points(d, [seed], m).items():
                points.setdefault(name, {}).update(by_seed)
        systems.update(m["systems"])
        order += [n for n in m.get("order", m["systems"]) if n not in order]
        wall.update({f"{d}/{k}": v for k, v in m.get("wall_s", {}).items()})
        commands += [c for c in m.get("commands", [m.get("command", "seqgan verdict")]) if c not in commands]
    ids = {v[1] for v in identity.values()}
    if len(ids) > 1:
        shown = "; ".join(f"seed {s} in {d}: {i}" for s, (d, i) in sorted(identity.items()))
        raise UserError(
            f"--runs mixes runs of different data or oracles ({shown}): give folders of one corpus or oracle"
        )
    kind = first["kind"]
    plan = Plan(SeqGANConfig(), {n: _SystemView(n, systems[n]) for n in order})  # type: ignore[arg-type]
    env = first.get("env", {})
    v: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "command": first.get("command", "seqgan verdict"),
        "commands": commands,
        "report_command": report_command,
        "commit": env.get("git_sha"),
        "machine": {k: env.get(k) for k in ("cpu", "cpu_count", "torch", "device", "gpu", "torch_threads")},
        "kind": kind,
        "labels": first["described"]["labels"],
        "data": {**first["described"], "identity": ids.pop() if ids else None},
        "preset": first["preset"],
        "sets": first.get("sets", []),
        "seeds": sorted(identity),
        "systems": {n: {k: s[k] for k in ("title", "sets", "user")} for n, s in systems.items()},
        "order": order,
        "alphas": list(ALPHAS[kind]),
        "reverse_alphas": list(REVERSE_ALPHAS),
        "num_samples": first["num_samples"],
        "lm": first["lm"],
        "points": points,
        "runs": _runs(wall, sum(m.get("elapsed_s", 0.0) for m in manifests), first.get("workers", 1)),
    }
    v.update(judge(points, frontiers(kind, first["lm"]), plan.comparisons(), bool(v["labels"])))
    write_json(dirs[0] / "verdict.json", v)
    write_report(v, report)
    return v


@dataclass(frozen=True)
class _SystemView:
    """A system as a manifest records it (enough for :meth:`Plan.comparisons`)."""

    name: str
    record: dict[str, Any]

    @property
    def user(self) -> bool:
        return bool(self.record.get("user"))

    @property
    def trained(self) -> bool:
        return self.name not in MEASURED_ONLY


def _read_verdict(path: Path) -> dict[str, Any]:
    try:
        v = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path} cannot be read as JSON: give the verdict.json that `seqgan verdict` wrote") from None
    if not isinstance(v, dict) or (v.get("format"), v.get("version")) != (FORMAT, VERSION):
        raise UserError(f"{path} is not a {FORMAT} v{VERSION} file: give the verdict.json that `seqgan verdict` wrote")
    return v


SAME_EXPERIMENT = ("kind", "preset", "sets", "num_samples", "lm", "alphas", "reverse_alphas")


def _difference(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """The largest difference between two measurements of one system and seed (None: not the same metrics)."""
    pairs = [(x, b.get(t, {}).get(k)) for t, p in a.items() for k, x in p.items() if k != "alpha"]
    if set(a) != set(b) or any(y is None for _, y in pairs):
        return None
    return max((abs(x - y) for x, y in pairs), default=0.0)


def _parts(vs: list[dict[str, Any]], paths: list[Path]) -> tuple[list[dict[str, Any]], list[Path]]:
    """A merged verdict stands for the files it was made of (each seed paired within its own file)."""
    out_v, out_p = [], []
    for v, p in zip(vs, paths, strict=True):
        for part in v.get("merged", {}).get("parts") or [{"file": str(p), "points": v["points"]}]:
            out_v.append({**v, "points": part["points"]})
            out_p.append(Path(part["file"]))
    return out_v, out_p


def merge_verdicts(paths: list[Path], report_command: str | None) -> dict[str, Any]:
    """One verdict from several verdict.json files of one experiment (a seed or a system added in another folder,
    for instance after the first folder's runs were lost). Each comparison takes a seed from the first file that
    holds both of its systems for that seed, so the two always share one pre-training: a seed whose SeqGAN run was
    trained again elsewhere need not reproduce the first bit for bit (``replicated`` lists how far such repeats
    differ). The tables take each system and seed from the first file that has it."""
    given = [_read_verdict(p) for p in paths]
    vs, paths = _parts(given, paths)
    first = vs[0]
    systems: dict[str, Any] = {}
    order: list[str] = []
    commands: list[str] = []
    wall: dict[str, float] = {}
    for path, v in zip(paths, vs, strict=True):
        for key in SAME_EXPERIMENT:
            if v.get(key) != first.get(key):
                raise UserError(
                    f"--report-from {path} has {key} {v.get(key)!r}, {paths[0]} {first.get(key)!r}: give verdicts of "
                    "one experiment (same data, preset, --set and sweep)"
                )
        if v["data"].get("identity") != first["data"].get("identity"):
            raise UserError(
                f"--report-from {path} was measured on other data or another oracle than {paths[0]} "
                f"({v['data'].get('identity')} against {first['data'].get('identity')}): give verdicts of one corpus"
            )
        for name, s in v["systems"].items():
            if name in systems and systems[name]["sets"] != s["sets"]:
                raise UserError(
                    f"--report-from {path}: system {name} is {s['sets']} there, {systems[name]['sets']} in an "
                    "earlier file: the same name must be the same system"
                )
            systems.setdefault(name, s)
        order += [n for n in v.get("order", v["systems"]) if n not in order]
        commands += [c for c in v.get("commands", [v["command"]]) if c not in commands]
        wall.update(v["runs"].get("wall_s", {}))
    points: dict[str, dict[str, Any]] = {}
    replicated = []
    for path, v in zip(paths, vs, strict=True):
        for name, by_seed in v["points"].items():
            for seed, pts in by_seed.items():
                if seed in points.get(name, {}):
                    diff = _difference(points[name][seed], pts)
                    replicated.append({"system": name, "seed": int(seed), "file": str(path), "max_difference": diff})
                else:
                    points.setdefault(name, {})[seed] = pts

    def pair_points(a: str, b: str) -> dict[str, Any]:
        out: dict[str, Any] = {a: {}, b: {}}
        for v in vs:
            pa, pb = v["points"].get(a, {}), v["points"].get(b, {})
            for seed in sorted(pa.keys() & pb.keys() - out[a].keys(), key=int):
                out[a][seed], out[b][seed] = pa[seed], pb[seed]
        return out

    kind = first["kind"]
    plan = Plan(SeqGANConfig(), {n: _SystemView(n, systems[n]) for n in order})  # type: ignore[arg-type]
    merged = {
        **first,
        "commands": commands,
        "report_command": report_command,
        "seeds": sorted({int(s) for by_seed in points.values() for s in by_seed}),
        "systems": systems,
        "order": order,
        "points": points,
        "merged": {
            "files": [str(p) for p in paths],
            "replicated": replicated,
            # each file's own points, so that a merge of this merge pairs seeds as this one did
            "parts": [{"file": str(p), "points": v["points"]} for p, v in zip(paths, vs, strict=True)],
        },
        "runs": _runs(wall, sum(v["runs"].get("elapsed_s", 0.0) for v in given), first["runs"].get("workers", 1)),
    }
    labelled = bool(first["labels"])
    merged.update(judge(points, frontiers(kind, first["lm"]), plan.comparisons(), labelled, pair_points))
    return merged


def report_from_json(paths: list[Path], report: Path, report_command: str | None = None) -> dict[str, Any]:
    """The report of a verdict.json alone (no runs needed); of several, the report of their merge
    (:func:`merge_verdicts`), whose verdict.json is written beside the report."""
    if len(paths) == 1:
        v = _read_verdict(paths[0])
    else:
        v = merge_verdicts(paths, report_command)
        report.mkdir(parents=True, exist_ok=True)
        write_json(report / "verdict.json", v)
    write_report(v, report)
    return v
