"""Turn the runs of benchmarks/oracle/run.py into results.md and PNGs (generated; never edit by hand).

    python benchmarks/oracle/report.py --runs runs/oracle [--out benchmarks/oracle]
        [--caccia-csv ../shared/docs/data/caccia2020_oracle_temperature_sweep.csv]

Writes results.md (the verdicts on the quality-diversity frontier, Table 1 beside the paper with t-tests, the
entropies, ablations, Fig. 3 settings), fig2_nll_oracle.png, entropy.png, quality_diversity.png, fig3_gdk.png and
ablations.png (when run) and diagnostics.png. Every number comes from the run directories.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ROOT, elapsed, fmt, fmt_p, machine, mean_std, out_flag, verdict_sentences, verdict_table  # noqa: E402

from seqgan.files import write_atomic
from seqgan.tools.plotting import global_epoch_series  # noqa: E402
from seqgan.train.logbook import read_metrics  # noqa: E402

PAPER = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}
PAPER_FIG3 = {"g100_d1_k10": 8.94, "g30_d1_k30": 8.89, "g1_d1_k10": 8.81, "g1_d5_k3": 8.73}  # read off Fig. 3
NAMES = {
    "random": "Random (untrained G)",
    "uniform": "Uniform tokens",
    "mle_es": "MLE, early-stopped",
    "mle": "MLE, fixed schedule",
    "ss": "Scheduled sampling",
    "pg_bleu": "PG-BLEU",
    "seqgan": "SeqGAN",
}
CONTROL_NAMES = {
    "shuffled_reward": "shuffled reward",
    "constant_reward": "constant reward Q = 1",
    "baseline_mean": "mean baseline",
    "sgd": "plain SGD",
}
ABLATION_NAMES = {
    "rollout_n1": "roll-outs N = 1",
    "rollout_n4": "N = 4",
    "rollout_n32": "N = 32",
    "delayed_policy": "delayed roll-out policy (rate 0.8)",
    "reward_dropout": "D dropout on at reward time",
}
ALL_NAMES = {**NAMES, **CONTROL_NAMES, **ABLATION_NAMES}
# The comparisons whose verdicts the report states: (system a, system b), a judged against b.
COMPARISONS = [
    ("seqgan", "mle_es"),
    ("seqgan", "mle"),
    *[("seqgan", c) for c in CONTROL_NAMES],
    *[(c, "mle_es") for c in CONTROL_NAMES],
    ("pg_bleu", "mle_es"),
    ("ss", "mle_es"),
    ("mle", "mle_es"),
]


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """Welch's t and two-sided p (scipy); (nan, nan) when undefined."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    t, p = stats.ttest_ind(a, b, equal_var=False)
    return float(t), float(p)


def load(runs: Path) -> dict[str, Any]:
    manifest = json.loads((runs / "manifest.json").read_text())
    data: dict[str, Any] = {"manifest": manifest, "seeds": {}}
    for seed_dir in sorted(runs.glob("seed*")):
        seed = int(seed_dir.name[4:])
        entry: dict[str, Any] = {}
        if (seed_dir / "random.json").exists():
            entry["random.json"] = json.loads((seed_dir / "random.json").read_text())
        for run in sorted(p for p in seed_dir.iterdir() if p.is_dir()):
            if (run / "final_eval.json").exists():
                # mle_es is a checkpoint of the seed's SeqGAN run: its curves are that run's MLE phase
                log = run / "metrics.jsonl" if run.name != "mle_es" else seed_dir / "seqgan" / "metrics.jsonl"
                events = read_metrics(log) if log.exists() else []
                if run.name == "mle_es":
                    events = [e for e in events if e.get("phase") == "mle"]
                entry[run.name] = {
                    "final": json.loads((run / "final_eval.json").read_text()),
                    "events": events,
                    "dir": run,
                }
        data["seeds"][seed] = entry
    return data


def column_values(data: dict[str, Any], name: str, key: str = "nll_oracle") -> tuple[list[float], list[float]]:
    """(per-seed means, per-sequence values pooled over seeds) of a column."""
    means, pooled = [], []
    for seed in data["manifest"]["seeds"]:
        entry = data["seeds"].get(seed, {})
        if name in ("random", "uniform"):
            r = entry.get("random.json", {}).get("untrained" if name == "random" else "uniform")
            if r:
                means.append(r["nll_oracle"])
                pooled += r["per_sequence"]
        elif name in entry and key in entry[name]["final"]:
            means.append(entry[name]["final"][key])
            pooled += entry[name]["final"].get("per_sequence", []) if key == "nll_oracle" else []
    return means, pooled


def sweep_points(data: dict[str, Any], name: str) -> dict[int, list[tuple[float, float, float]]]:
    """Per seed: the temperature sweep of a system as (alpha, NLL_test, NLL_oracle), both lower-better."""
    out = {}
    for seed in data["manifest"]["seeds"]:
        run = data["seeds"].get(seed, {}).get(name)
        if run and "sweep" in run["final"]:
            out[seed] = [(p["alpha"], p["nll_test"], p["nll_oracle"]) for p in run["final"]["sweep"]]
    return out


def entropy_table(data: dict[str, Any], names: list[str]) -> list[str]:
    lines = [
        "| system | entropy at temperature 1 (nats/token, mean ± std over seeds) | NLL_oracle | NLL_test |",
        "|---|---|---|---|",
    ]
    for name in names:
        ent = column_values(data, name, "entropy")[0]
        if ent:
            lines.append(
                f"| {ALL_NAMES[name]} | {mean_std(ent)} | {mean_std(column_values(data, name)[0])} | "
                f"{mean_std(column_values(data, name, 'nll_test')[0])} |"
            )
    return lines


def table1(data: dict[str, Any]) -> list[str]:
    cols = ["random", "uniform", "mle_es", "mle", "ss", "pg_bleu", "seqgan"]
    vals = {c: column_values(data, c) for c in cols}
    tests = {c: (welch(vals["seqgan"][1], vals[c][1]), welch(vals["seqgan"][0], vals[c][0])) for c in cols}
    lines = [
        "| | " + " | ".join(NAMES[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
        "| NLL_oracle, paper (Table 1) | " + " | ".join(fmt(PAPER.get(c)) if c in PAPER else "" for c in cols) + " |",
        "| NLL_oracle, ours (mean ± std over seeds) | " + " | ".join(mean_std(vals[c][0]) for c in cols) + " |",
        "| NLL_test, ours (test split) | "
        + " | ".join(
            mean_std(column_values(data, c, "nll_test")[0]) if c not in ("random", "uniform") else "" for c in cols
        )
        + " |",
        "| p, SeqGAN vs column: Welch t-test on per-sequence NLL_oracle, seeds pooled | "
        + " | ".join("" if c == "seqgan" else fmt_p(tests[c][0][1]) for c in cols)
        + " |",
        "| p, SeqGAN vs column: Welch t-test on the per-seed means | "
        + " | ".join("" if c == "seqgan" else fmt_p(tests[c][1][1]) for c in cols)
        + " |",
    ]
    return lines


def ablation_table(data: dict[str, Any]) -> list[str]:
    lines = [
        "| setting (seed) | NLL_oracle | vs SeqGAN of the same seed | p (Welch, per-sequence) | NLL_test |",
        "|---|---|---|---|---|",
    ]
    for seed in data["manifest"]["ablation_seeds"]:
        entry = data["seeds"].get(seed, {})
        if "seqgan" not in entry:
            continue
        ref = entry["seqgan"]["final"]
        lines.append(f"| SeqGAN, N = 16 ({seed}) | {ref['nll_oracle']:.3f} | | | {ref['nll_test']:.3f} |")
        for name, label in ABLATION_NAMES.items():
            if name not in entry:
                lines.append(f"| {label} ({seed}) | not run | | | |")
                continue
            f = entry[name]["final"]
            _, p = welch(ref["per_sequence"], f["per_sequence"])
            lines.append(
                f"| {label} ({seed}) | {f['nll_oracle']:.3f} | {f['nll_oracle'] - ref['nll_oracle']:+.3f} | "
                f"{fmt_p(p)} | {f['nll_test']:.3f} |"
            )
    return lines


def fig3_table(data: dict[str, Any]) -> list[str]:
    lines = ["| (g-steps, d-steps, k) (seed) | NLL_oracle, ours | paper Fig. 3 (read off the plot) |", "|---|---|---|"]
    found = False
    for seed in data["manifest"]["ablation_seeds"]:
        for name, paper in PAPER_FIG3.items():
            run = data["seeds"].get(seed, {}).get(f"fig3_{name}")
            if run:
                found = True
                g, d, k = data["manifest"]["fig3"][name]
                lines.append(f"| ({g}, {d}, {k}) ({seed}) | {run['final']['nll_oracle']:.3f} | ≈ {paper} |")
    return lines if found else []


def plot_all(data: dict[str, Any], out: Path, caccia_csv: Path | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        tmp = out / f".{name}.tmp"
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        write_atomic(out / name, tmp.read_bytes())
        tmp.unlink()
        written.append(name)

    def curve(events: list[dict], key: str = "eval/nll_oracle") -> tuple[list[float], list[float], float | None]:
        return global_epoch_series(events, key)

    # Fig. 2: NLL_oracle over G epochs for every column, each seed a thin line, the mean thick.
    fig, ax = plt.subplots(figsize=(8, 5))
    boundary = None
    for i, name in enumerate(["mle", "ss", "pg_bleu", "seqgan"]):
        series = [curve(e[name]["events"]) for e in data["seeds"].values() if name in e]
        color = f"C{i}"
        for xs, ys, b in series:
            ax.plot(xs, ys, color=color, alpha=0.3, linewidth=0.8)
            boundary = boundary or b
        if series:
            xs = series[0][0]
            same = [s for s in series if s[0] == xs]
            ax.plot(
                xs,
                [statistics.mean(v) for v in zip(*(s[1] for s in same), strict=True)],
                color=color,
                linewidth=2,
                label=f"{NAMES[name]} (mean of {len(same)} seeds)",
            )
    if boundary is not None:
        ax.axvline(boundary, color="gray", linestyle="--", label="end of MLE pre-training")
    ax.set(
        xlabel="generator epoch (MLE, then adversarial / baseline epochs)",
        ylabel="NLL_oracle (nats/token)",
        title="Fig. 2: NLL_oracle during training",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "fig2_nll_oracle.png")

    def adversarial_curves(names: dict[str, str], title: str, filename: str, prefix: str = "") -> None:
        fig, ax = plt.subplots(figsize=(8, 5))
        drawn = False
        for seed in data["manifest"]["ablation_seeds"]:
            entry = data["seeds"].get(seed, {})
            for i, (name, label) in enumerate({"seqgan": "SeqGAN (N = 16)", **names}.items()):
                run = entry.get(name if name == "seqgan" else prefix + name)
                if run:
                    xs, ys, _ = curve(run["events"])
                    ax.plot(xs, ys, color=f"C{i}", label=f"{label} (seed {seed})", marker="o", markersize=2)
                    drawn = drawn or name != "seqgan"  # SeqGAN alone is no comparison
        ax.set(xlabel="generator epoch", ylabel="NLL_oracle (nats/token)", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        if drawn:
            save(fig, filename)
        else:
            plt.close(fig)

    adversarial_curves(ABLATION_NAMES, "Ablations: NLL_oracle", "ablations.png")
    adversarial_curves(
        {k: f"(g, d, k) = {tuple(v)}" for k, v in data["manifest"]["fig3"].items()},
        "Fig. 3: g-steps, d-steps, k",
        "fig3_gdk.png",
        prefix="fig3_",
    )

    # Quality-diversity (Caccia et al. 2020): NLL_oracle against NLL_test over the temperature sweep.
    systems = [n for n in ("mle_es", "mle", "seqgan", *CONTROL_NAMES) if sweep_points(data, n)]
    if systems:
        # Two panels: Caccia et al.'s published curves are on the authors' oracle, another scale than ours.
        fig, (ax, ref) = plt.subplots(1, 2, figsize=(14, 6))
        for i, name in enumerate(systems):
            for j, pts in enumerate(sweep_points(data, name).values()):
                pts = sorted(pts)
                ax.plot(
                    [p[1] for p in pts],
                    [p[2] for p in pts],
                    color=f"C{i}",
                    marker="o",
                    markersize=2.5,
                    alpha=0.75,
                    linewidth=1,
                    label=ALL_NAMES[name] if j == 0 else None,
                )
                one = next(p for p in pts if p[0] == 1.0)
                ax.scatter([one[1]], [one[2]], color=f"C{i}", s=40, edgecolor="black", zorder=3)
        ax.set(
            xlabel="NLL_test (diversity; lower is better)",
            ylabel="NLL_oracle (quality; lower is better)",
            title="ours: temperature sweep, every seed (dots: temperature 1)",
        )
        if caccia_csv is not None and caccia_csv.exists():
            rows = list(csv.DictReader(caccia_csv.open()))
            for j, method in enumerate(dict.fromkeys(r["method"] for r in rows)):
                pts = [
                    (float(r["nll_test"]), float(r["nll_oracle"]))
                    for r in rows
                    if r["method"] == method and r["nll_test"] not in ("", "nan") and float(r["nll_test"]) <= 20
                ]
                if pts:
                    ref.plot(*zip(*pts, strict=True), color=f"C{j}", linewidth=1.2, label=method)
            ref.set(
                xlabel="NLL_test",
                ylabel="NLL_oracle",
                title="Caccia et al. 2020, published (authors' oracle; NLL_test <= 20)",
            )
            ref.legend(fontsize=6)
            ref.grid(alpha=0.3)
        else:
            ref.set_axis_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, "quality_diversity.png")

    # Entropy beside NLL_oracle over training, for every system (the sharpening any reward causes shows here).
    curves = [n for n in ("mle", "seqgan", *CONTROL_NAMES) if any(n in e for e in data["seeds"].values())]
    if curves:
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
        for i, name in enumerate(curves):
            for j, entry in enumerate(e for e in data["seeds"].values() if name in e):
                for axis, key in ((left, "eval/nll_oracle"), (right, "eval/entropy")):
                    xs, ys, _ = curve(entry[name]["events"], key)
                    axis.plot(xs, ys, color=f"C{i}", alpha=0.7, linewidth=1, label=ALL_NAMES[name] if j == 0 else None)
        left.set(
            xlabel="generator epoch (MLE, then adversarial)",
            ylabel="NLL_oracle (nats/token)",
            title="NLL_oracle of fresh samples",
        )
        right.set(
            xlabel="generator epoch (MLE, then adversarial)",
            ylabel="entropy (nats/token)",
            title="generator entropy along its own samples",
        )
        for axis in (left, right):
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7)
        save(fig, "entropy.png")

    # Diagnostics of the first SeqGAN run: D accuracy, rewards by position, entropy, distinct-2.
    first = next((e["seqgan"] for e in data["seeds"].values() if "seqgan" in e), None)
    if first is not None:
        adv = [e for e in first["events"] if e.get("phase") == "adversarial" and "g/reward_by_pos" in e]
        if adv:
            fig, axes = plt.subplots(2, 2, figsize=(11, 7))
            epochs = [e["epoch"] for e in adv]
            for key in ("d/acc_real", "d/acc_fake"):
                axes[0, 0].plot(epochs, [e.get(key, math.nan) for e in adv], label=key)
            axes[0, 0].set(title="D accuracy on its last k-epoch", xlabel="adversarial epoch")
            axes[0, 0].legend(fontsize=8)
            extent = (0.5, len(adv[0]["g/reward_by_pos"]) + 0.5, epochs[0], epochs[-1])
            image = axes[0, 1].imshow([e["g/reward_by_pos"] for e in adv], aspect="auto", origin="lower", extent=extent)
            fig.colorbar(image, ax=axes[0, 1], label="mean Q")
            axes[0, 1].set(title="mean reward Q by position", xlabel="position t", ylabel="adversarial epoch")
            axes[1, 0].plot(epochs, [e["g/entropy"] for e in adv], label="policy entropy (nats)")
            axes[1, 0].set(title="generator entropy", xlabel="adversarial epoch")
            axes[1, 1].plot(epochs, [e["g/distinct2"] for e in adv], label="distinct-2 of the PG batch")
            axes[1, 1].plot(
                epochs,
                [statistics.mean(e["g/reward_std_by_pos"]) for e in adv],
                label="reward std (mean over positions)",
            )
            warn = [e["epoch"] for e in adv if e.get("warn/mode_collapse")]
            if warn:
                axes[1, 1].scatter(warn, [0] * len(warn), marker="x", color="red", label="mode-collapse warning")
            axes[1, 1].set(title="diversity", xlabel="adversarial epoch")
            axes[1, 1].legend(fontsize=8)
            for a in axes.flat:
                a.grid(alpha=0.3)
            save(fig, "diagnostics.png")
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="the --out folder of benchmarks/oracle/run.py")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent), help="where results.md and PNGs go")
    caccia = ROOT.parent / "shared/docs/data/caccia2020_oracle_temperature_sweep.csv"
    ap.add_argument(
        "--caccia-csv",
        default=str(caccia),
        help="Caccia et al. (2020) sweep points to draw beside ours (skipped when missing)",
    )
    args = ap.parse_args()
    runs, out = Path(args.runs), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flag = out_flag(out, Path(__file__).parent)  # the printed command names a non-default --out
    data = load(runs)
    m = data["manifest"]
    verdicts_md, verdicts = verdict_table(
        lambda name: sweep_points(data, name), COMPARISONS, ALL_NAMES, "NLL_oracle gap at matched NLL_test"
    )
    figures = plot_all(data, out, Path(args.caccia_csv))
    env = m["env"]
    wall = sum(m.get("wall_s", {}).values())
    # What the runs themselves used (the harness process that wrote the manifest may have had more threads).
    threads = sorted({json.loads(f.read_text()).get("torch_threads") for f in runs.glob("seed*/*/env.json")} - {None})
    if not threads:
        threads = [env.get("torch_threads")]
    threads_text = str(threads[0]) if len(threads) == 1 else f"{threads[0]}-{threads[-1]}"
    source = next((e["seqgan"]["dir"] for e in data["seeds"].values() if "seqgan" in e), None)
    d = json.loads((source / "config.json").read_text())["data"] if source else {}
    oracle = m["oracle_params"] or (
        f"a fresh N(0, 1) oracle (data.oracle_seed {d.get('oracle_seed')}, vocabulary "
        f"{d.get('vocab_size')}, T {d.get('seq_len')}, {d.get('oracle_emb_dim')}/"
        f"{d.get('oracle_hidden_dim')}; not the authors' file)"
    )
    lines = [
        "# Synthetic oracle: does the discriminator help? (generated by benchmarks/oracle/report.py)",
        "",
        f"- Command: `python {m['command']}`, then `python benchmarks/oracle/report.py --runs {runs}{flag}`",
        f"- Preset `{m['preset']}`; Table 1 seeds {m['seeds']}; ablation seeds {m['ablation_seeds']}; "
        f"oracle: {oracle}.",
        f"- Machine: {machine(env)}, {env.get('cpu_count')} cores, torch {env.get('torch')} "
        f"(threads a run: {threads_text}), device {env.get('device')}; {len(m.get('wall_s', {}))} runs trained, "
        f"{wall / 60:.0f} min of training in all (summed over runs), {elapsed(m)} "
        f"with {m.get('workers', 1)} run(s) at once (elapsed includes the final evaluations).",
        "- Protocol: MLE pre-training stops early on the **validation** NLL and keeps the best-validation "
        "generator, which is the early-stopped MLE baseline; every other system starts from that pre-training "
        "(`seqgan train --init-from`) and is reported at its last checkpoint (no selection). Training reads the "
        "validation split only; the **test** split is read once per system, for the numbers below. Scheduled "
        f"sampling decays P(true token) by {m['ss_decay']} per epoch (to 0.6 at the end, as 0.002 over the authors' "
        f"200 epochs); plain SGD runs at learning rate {m.get('sgd_lr')}. NLL_oracle: mean per-token NLL under the "
        "oracle of fresh samples (as many as the preset's eval.num_samples, seed = run seed); NLL_test: the "
        "generator's NLL of the test split; entropy: the generator's next-token entropy along its own samples.",
        "- Frontier: each system sampled at inverse temperatures "
        f"{m['alphas']} (NLL_test under the same softmax). A comparison is the mean gap in NLL_oracle between two "
        "systems' trade-off branches over the NLL_test range they share (negative: the first system has the "
        "better quality at matched diversity), per seed; the verdict is a two-sided one-sample t-test of the "
        "per-seed gaps (seeds paired: both systems of a seed share the pre-training), at level 0.05.",
        "",
        "## Verdicts on the quality-diversity frontier",
        "",
        *(
            verdict_sentences(verdicts, ALL_NAMES, "quality-diversity")
            or ["- no comparison yet (run `--parts sweep`)."]
        ),
        "",
        *verdicts_md,
        "",
        "## Entropy (temperature 1, test-time samples)",
        "",
        *entropy_table(data, ["mle_es", "mle", "seqgan", *CONTROL_NAMES, "ss", "pg_bleu"]),
        "",
        "## Table 1 (temperature 1)",
        "",
        *table1(data),
        "",
        "The paper's numbers come from the authors' oracle and full schedule; ours from the oracle and preset named "
        "above, so compare the ordering and the gaps, not the absolute values (a different oracle has a different "
        "floor). Random in the paper (10.310) does not match an untrained generator or uniform tokens under the "
        "authors' oracle either (both about 11.43; see published-numbers.md).",
        "",
    ]
    if "ablations" in m.get("parts", ["ablations"]):  # older manifests ran the ablations by default
        lines += ["## Ablations", "", *ablation_table(data), ""]
    fig3 = fig3_table(data)
    if fig3:
        per_run = m.get("fig3_run_epochs")
        if per_run:
            epochs = ", ".join(f"{k} {v}" for k, v in per_run.items())
            if m.get("fig3_max_g_steps"):
                epochs += f" (each run cut to at most {m['fig3_max_g_steps']} G steps in all; evaluated every epoch)"
        else:
            epochs = m.get("fig3_epochs") or "the preset's"
        lines += ["## Fig. 3: g-steps, d-steps, k", "", f"Adversarial epochs per run: {epochs}.", "", *fig3, ""]
    else:
        lines += ["## Fig. 3: g-steps, d-steps, k", "", "Not run in this report (`--parts fig3`).", ""]
    lines += [
        "## Figures",
        "",
        "Caccia et al.'s published curves (right panel of quality_diversity.png) are on the "
        "authors' oracle, so only their shape compares.",
        "",
        *[f"- `{f}`" for f in figures],
        "",
    ]
    write_atomic(out / "results.md", ("\n".join(lines) + "\n").encode())
    print(f"wrote {out / 'results.md'} and {', '.join(figures)}")


if __name__ == "__main__":
    main()
