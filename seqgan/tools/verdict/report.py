"""``verdict.json`` -> ``results.md`` and the frontier PNGs. Reads nothing else, so a committed verdict.json
regenerates its report on any machine, without the runs."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from seqgan.errors import UserError
from seqgan.extras import require
from seqgan.files import write_atomic
from seqgan.tools.verdict.measure import COLUMNS, LABEL_COLUMNS

WORDS = {
    "better": "better than",
    "worse": "worse than",
    "indistinguishable": "indistinguishable from",
    "undetermined": "not separable (too few seeds or no overlap) from",
}


def ordered(v: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The systems in report order (JSON files keep their keys sorted)."""
    return [(n, v["systems"][n]) for n in v.get("order", v["systems"])]


def clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 1e-6" if p < 1e-6 else f"{p:.2g}"


def mean_std(values: list[float], spec: str = ".3f") -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:{spec}} (1 seed)"
    return f"{statistics.mean(values):{spec}} ± {statistics.stdev(values):{spec}}"


def verdict_rows(v: dict[str, Any], rows: list[dict[str, Any]], gap_label: str) -> list[str]:
    titles = {n: s["title"] for n, s in ordered(v)}
    lines = [
        f"| system | against | seeds | {gap_label} (mean ± std over seeds) | per seed | p (t-test of the gaps, "
        "two-sided) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_seed = ", ".join(f"{g:+.3f}" for g in r["gaps"]) + (
            f" ({r['seeds_without_overlap']} without overlap)" if r.get("seeds_without_overlap") else ""
        )
        spread = "" if r.get("std") is None else f" ± {r['std']:.3f}"
        lines.append(
            f"| {titles[r['a']]} | {titles[r['b']]} | {len(r['seeds'])} | {fmt(r['mean'], '+.3f')}{spread} | "
            f"{per_seed} | {fmt_p(r['p'])} | **{r['verdict']}** |"
        )
    return lines


def sentences(v: dict[str, Any], rows: list[dict[str, Any]], frontier: str) -> list[str]:
    """The answers in words, generated from the verdicts (negative ones included)."""
    titles = {n: s["title"] for n, s in ordered(v)}
    says = {(r["a"], r["b"]): r["verdict"] for r in rows}
    out = []
    if ("seqgan", "mle_es") in says:
        out.append(
            f"- **SeqGAN is {WORDS[says['seqgan', 'mle_es']]} early-stopped, temperature-tuned MLE** on the "
            f"{frontier} frontier."
        )
    blind = [c for c in ("shuffled_reward", "constant_reward") if ("seqgan", c) in says]
    if blind:
        if all(says["seqgan", c] == "better" for c in blind):
            out.append(
                f"- SeqGAN beats the {' and the '.join(titles[c] for c in blind)} controls: D's reward carries "
                "information that helps beyond the sharpening of the policy."
            )
        elif any(says["seqgan", c] == "undetermined" for c in blind):
            rest = "; ".join(f"{titles[c]}: {says['seqgan', c]}" for c in blind)
            out.append(
                f"- SeqGAN against the rewards that carry no information about the sequence: {rest}; whether D's "
                "information helps is not judged here (more seeds, or curves that overlap, are needed)."
            )
        else:
            rest = "; ".join(f"{titles[c]}: {says['seqgan', c]}" for c in blind)
            out.append(
                f"- SeqGAN does not beat every reward that carries no information about the sequence ({rest}): "
                "whatever SeqGAN gains or loses against MLE is not D's information at work."
            )
    for name, s in ordered(v):
        if name in blind or name in ("seqgan", "mle", "mle_es") or (name, "mle_es") not in says:
            continue
        line = f"- {s['title']} against early-stopped MLE: {says[name, 'mle_es']}"
        if (name, "seqgan") in says:
            line += f"; against SeqGAN: {says[name, 'seqgan']}"
        if ("seqgan", name) in says:
            line += f"; SeqGAN against {s['title']}: {says['seqgan', name]}"
        out.append(line + ".")
    return out


def values(v: dict[str, Any], name: str, key: str, alpha: str = "1") -> list[float]:
    return [p[alpha][key] for p in v["points"].get(name, {}).values() if key in p.get(alpha, {})]


def system_table(v: dict[str, Any], columns: list[tuple[str, str]]) -> list[str]:
    cols = [(k, t) for k, t in columns if any(values(v, n, k) for n, _ in ordered(v))]
    lines = ["| system | " + " | ".join(t for _, t in cols) + " |", "|---|" + "---|" * len(cols)]
    for name, s in ordered(v):
        if name in v["points"]:
            lines.append(f"| {s['title']} | " + " | ".join(mean_std(values(v, name, k)) for k, _ in cols) + " |")
    return lines


def label_tables(v: dict[str, Any]) -> list[str]:
    labels, kind = v["labels"], v["kind"]
    key = "nll_oracle" if kind == "oracle" else "bleu4"
    lines = [
        "## Labels (temperature 1)",
        "",
        *system_table(v, LABEL_COLUMNS),
        "",
        f"Per label, {'NLL_oracle' if kind == 'oracle' else 'BLEU-4'} (mean over seeds):",
        "",
        "| label | " + " | ".join(s["title"] for n, s in ordered(v) if n in v["points"]) + " |",
        "|---|" + "---|" * sum(n in v["points"] for n, _ in ordered(v)),
    ]
    for k, label in enumerate(labels):
        cells = [values(v, n, f"eval/label{k}/{key}") for n, _ in ordered(v) if n in v["points"]]
        lines.append(f"| {label} | " + " | ".join(fmt(statistics.mean(c)) if c else "n/a" for c in cells) + " |")
    titles = {n: s["title"] for n, s in ordered(v)}
    lines += [
        "",
        "Label accuracy, paired per-seed differences at temperature 1 (two-sided t-test):",
        "",
        "| system | against | per seed | p | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in v.get("label_accuracy", []):
        lines.append(
            f"| {titles[r['a']]} | {titles[r['b']]} | {', '.join(f'{g:+.4f}' for g in r['gaps'])} | "
            f"{fmt_p(r['p'])} | **{r['verdict']}** |"
        )
    return [*lines, ""]


def merged_lines(merged: dict[str, Any]) -> list[str]:
    """What a report merged from several verdict.json files says of them."""
    files = ", ".join(f"`{f}`" for f in merged["files"])
    out = [
        f"- Merged from {len(merged['files'])} verdict files ({files}): each comparison pairs a seed's two systems "
        "from the first file that holds both, so they share one pre-training; the tables take each system and seed "
        "from the first file that has it."
    ]
    again = [r for r in merged["replicated"] if r["max_difference"] != 0]
    if again:
        shown = "; ".join(
            f"{r['system']} seed {r['seed']} ("
            + ("other metrics" if r["max_difference"] is None else f"largest difference {r['max_difference']:.4f}")
            + ")"
            for r in again
        )
        out.append(f"- Measured again in a later file and not reproduced bit for bit: {shown}.")
    return out


def markdown(v: dict[str, Any], figures: list[str]) -> str:
    m, d = v["machine"], v["data"]
    seeds = v["seeds"]
    commands = v.get("commands") or [v["command"]]
    lines = [
        f"# Does the discriminator help? {d['title']} (generated by `seqgan verdict`; never edit by hand)",
        "",
        f"- Command{'s' if len(commands) > 1 else ''}: "
        + ", then ".join(f"`{c}`" for c in commands)
        + (f", then `{v['report_command']}`" if v.get("report_command") else ""),
        f"- Commit {v.get('commit') or 'n/a'}; machine: {m.get('cpu') or 'n/a'}, {m.get('cpu_count')} cores, torch "
        f"{m.get('torch')}, device {m.get('device')}; {v['runs']['trained']} runs trained, "
        f"{clock(v['runs']['train_s'])} of training in all (summed over runs), "
        f"{clock(v['runs']['elapsed_s'])} elapsed with {v['runs']['workers']} run(s) at once (measurements "
        "included).",
        f"- Data: {d['summary']}",
        f"- Preset `{v['preset']}`" + (f" with {', '.join(v['sets'])}" if v["sets"] else "") + f"; seeds {seeds}; "
        "systems: "
        + "; ".join(s["title"] + (f" ({', '.join(s['sets'])})" if s["sets"] else "") for _, s in ordered(v))
        + ".",
        "- Protocol: MLE pre-training stops early on the **validation** NLL and keeps the best-validation "
        "generator, which is the early-stopped MLE baseline; every other system starts from that pre-training "
        "(`SeqGANTrainer.fork`) and is reported at its last checkpoint. Training reads the validation split only; "
        f"the **test** split is read once per system, for the numbers below: {v['num_samples']} samples per point "
        f"at inverse temperatures {v['alphas']}"
        + (", LM scores (reverse LM at " + str(v["reverse_alphas"]) + ")" if v["lm"] else "")
        + ".",
        "- A comparison is the mean gap in quality between two systems' trade-off branches over the diversity range "
        "they share (negative: the first system has the better quality at matched diversity), per seed; the verdict "
        "is a two-sided one-sample t-test of the per-seed gaps (seeds paired: both systems of a seed share the "
        "pre-training), at level 0.05.",
        "",
    ]
    if v.get("merged"):
        lines[-1:-1] = merged_lines(v["merged"])
    if len(seeds) < 2:
        lines += ["**One seed: the verdict needs at least 2; the per-seed gaps are reported without a test.**", ""]
    for f in v["frontiers"]:
        lines += [
            f"## Verdicts on the {f['name']} frontier",
            "",
            *(sentences(v, f["comparisons"], f["name"]) or ["- not measured."]),
            "",
            *verdict_rows(v, f["comparisons"], f["gap_label"]),
            "",
        ]
    entropy = [("eval/entropy", "entropy at temperature 1 (nats/token)"), ("eval/nll_test", "NLL_test")]
    lines += ["## Entropy (temperature 1, test-time samples)", "", *system_table(v, entropy), ""]
    lines += ["## Every system at temperature 1 (mean ± std over seeds)", "", *system_table(v, COLUMNS[v["kind"]]), ""]
    if v["labels"]:
        lines += label_tables(v)
    if figures:
        lines += ["## Figures", "", *[f"- `{f}`: every system's sweep, every seed." for f in figures], ""]
    return "\n".join(lines) + "\n"


def plot(v: dict[str, Any], out: Path) -> list[str]:
    """One PNG per frontier: every system's sweep, every seed (the dot: temperature 1)."""
    matplotlib = require("matplotlib", "the verdict's figures")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for f in v["frontiers"]:
        fig, ax = plt.subplots(figsize=(8, 6))
        for i, (name, s) in enumerate(ordered(v)):
            for j, by_alpha in enumerate(v["points"].get(name, {}).values()):
                pts = sorted(
                    (p["alpha"], p[f["x"]], p[f["y"]]) for p in by_alpha.values() if f["x"] in p and f["y"] in p
                )
                if len(pts) < 2:
                    continue
                ax.plot(
                    [p[1] for p in pts],
                    [p[2] for p in pts],
                    color=f"C{i % 10}",
                    marker="o",
                    markersize=2.5,
                    alpha=0.75,
                    linewidth=1,
                    label=s["title"] if j == 0 else None,
                )
                one = [p for p in pts if p[0] == 1.0]
                if one:
                    ax.scatter([one[0][1]], [one[0][2]], color=f"C{i % 10}", s=40, edgecolor="black", zorder=3)
        ax.set(xlabel=f["x_label"], ylabel=f["y_label"], title=f"{f['name']}: temperature sweep, every seed")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = "frontier-" + "".join(c if c.isalnum() else "-" for c in f["name"].lower()).strip("-") + ".png"
        name = "-".join(filter(None, name.split("-"))).replace("-.png", ".png")
        tmp = out / f".{name}.tmp"
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        write_atomic(out / name, tmp.read_bytes())
        tmp.unlink()
        written.append(name)
    return written


def write_report(v: dict[str, Any], out: Path) -> list[Path]:
    """results.md and the PNGs in ``out`` (created); returns the files written. Without matplotlib the report says
    how to get the figures (the numbers do not need them)."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        figures, missing = plot(v, out), ""
    except UserError as e:
        figures, missing = [], str(e)
    text = markdown(v, figures)
    if missing:
        text += f"\nFigures not drawn: {missing}; then `seqgan verdict --report-from verdict.json --report DIR`.\n"
    write_atomic(out / "results.md", text.encode())
    return [out / "results.md", *(out / f for f in figures)]
