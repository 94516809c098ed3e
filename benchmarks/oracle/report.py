"""Turn the runs of benchmarks/oracle/run.py into results.md and PNGs (generated; never edit by hand).

    python benchmarks/oracle/report.py --runs runs/oracle [--out benchmarks/oracle]
        [--caccia-csv ../shared/docs/data/caccia2020_oracle_temperature_sweep.csv]

Writes results.md (Table 1 beside the paper, t-tests, ablations, Fig. 3 settings, the
quality-diversity verdict), fig2_nll_oracle.png, fig3_gdk.png (when run), ablations.png,
quality_diversity.png and diagnostics.png. Every number comes from the run directories.
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.plotting import global_epoch_series  # noqa: E402
from seqgan.utils import read_metrics, write_atomic  # noqa: E402

PAPER = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}
PAPER_FIG3 = {"g100_d1_k10": 8.94, "g30_d1_k30": 8.89, "g1_d1_k10": 8.81, "g1_d5_k3": 8.73}  # read off Fig. 3
NAMES = {"random": "Random (untrained G)", "uniform": "Uniform tokens", "mle": "MLE", "ss": "Scheduled sampling",
         "pg_bleu": "PG-BLEU", "seqgan": "SeqGAN"}  # fmt: skip
ABLATION_NAMES = {
    "constant_reward": "constant reward Q = 1 (no D)", "rollout_n1": "roll-outs N = 1", "rollout_n4": "N = 4",
    "rollout_n32": "N = 32", "delayed_policy": "delayed roll-out policy (rate 0.8)",
    "baseline_mean": "reward baseline: batch mean", "reward_dropout": "D dropout on at reward time",
}  # fmt: skip


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """Welch's t and two-sided p (scipy); (nan, nan) when undefined."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    t, p = stats.ttest_ind(a, b, equal_var=False)
    return float(t), float(p)


def fmt(x: float, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 1e-6" if p < 1e-6 else f"{p:.2g}"


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
                entry[run.name] = {"final": json.loads((run / "final_eval.json").read_text()),
                                   "events": read_metrics(run / "metrics.jsonl"), "dir": run}  # fmt: skip
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
        elif name in entry:
            means.append(entry[name]["final"][key])
            pooled += entry[name]["final"].get("per_sequence", []) if key == "nll_oracle" else []
    return means, pooled


def mean_std(values: list[float]) -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table1(data: dict[str, Any]) -> list[str]:
    cols = ["random", "uniform", "mle", "ss", "pg_bleu", "seqgan"]
    vals = {c: column_values(data, c) for c in cols}
    tests = {c: (welch(vals["seqgan"][1], vals[c][1]), welch(vals["seqgan"][0], vals[c][0])) for c in cols}
    lines = [
        "| | " + " | ".join(NAMES[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
        "| NLL_oracle, paper (Table 1) | " + " | ".join(fmt(PAPER.get(c)) if c in PAPER else "" for c in cols) + " |",
        "| NLL_oracle, ours (mean ± std over seeds) | " + " | ".join(mean_std(vals[c][0]) for c in cols) + " |",
        "| NLL_test, ours | " + " | ".join(mean_std(column_values(data, c, "nll_test")[0]) if c not in
                                          ("random", "uniform") else "" for c in cols) + " |",  # fmt: skip
        "| p, SeqGAN vs column: Welch t-test on per-sequence NLL_oracle, seeds pooled | "
        + " | ".join("" if c == "seqgan" else fmt_p(tests[c][0][1]) for c in cols) + " |",
        "| p, SeqGAN vs column: Welch t-test on the per-seed means | "
        + " | ".join("" if c == "seqgan" else fmt_p(tests[c][1][1]) for c in cols) + " |",
    ]
    return lines


def ablation_table(data: dict[str, Any]) -> list[str]:
    lines = ["| setting (seed) | NLL_oracle | vs SeqGAN of the same seed | p (Welch, per-sequence) | NLL_test |",
             "|---|---|---|---|---|"]  # fmt: skip
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
            lines.append(f"| {label} ({seed}) | {f['nll_oracle']:.3f} | {f['nll_oracle'] - ref['nll_oracle']:+.3f} | "
                         f"{fmt_p(p)} | {f['nll_test']:.3f} |")  # fmt: skip
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


def frontier(points: list[dict[str, float]]) -> list[tuple[float, float]]:
    """The quality-diversity branch of a sweep: alpha >= the alpha of minimal NLL_test, as (NLL_test, NLL_oracle)
    sorted by NLL_test (there NLL_test rises while NLL_oracle falls: the trade-off)."""
    best = min(range(len(points)), key=lambda i: points[i]["nll_test"])
    branch = sorted(points[best:], key=lambda p: p["alpha"])
    return sorted((p["nll_test"], p["nll_oracle"]) for p in branch)


def interp(curve: list[tuple[float, float]], x: float) -> float | None:
    for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def sweep_verdict(data: dict[str, Any]) -> tuple[list[str], dict[int, dict[str, list]]]:
    """Per seed: where SeqGAN's trade-off branch has an MLE point at the same NLL_test, is SeqGAN's NLL_oracle lower?"""
    lines, sweeps = [], {}
    for seed in data["manifest"]["seeds"]:
        entry = data["seeds"].get(seed, {})
        if not all(n in entry and "sweep" in entry[n]["final"] for n in ("mle", "seqgan")):
            continue
        sweeps[seed] = {n: entry[n]["final"]["sweep"] for n in ("mle", "seqgan")}
        mle, gan = frontier(sweeps[seed]["mle"]), frontier(sweeps[seed]["seqgan"])
        diffs = [(x, y - interp(mle, x)) for x, y in gan if interp(mle, x) is not None]
        below = sum(d < 0 for _, d in diffs)
        if diffs:
            lines.append(f"- seed {seed}: at {len(diffs)} SeqGAN points whose NLL_test lies inside MLE's range, "
                         f"SeqGAN's NLL_oracle is lower than MLE's (interpolated) at {below}; mean difference "
                         f"{statistics.mean(d for _, d in diffs):+.3f} nats (negative: SeqGAN below MLE).")  # fmt: skip
        else:
            lines.append(f"- seed {seed}: the NLL_test ranges of the two trade-off branches do not overlap.")
    return lines, sweeps


def plot_all(data: dict[str, Any], out: Path, caccia_csv: Path | None, sweeps: dict[int, dict[str, list]]) -> list[str]:
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
            ax.plot(xs, [statistics.mean(v) for v in zip(*(s[1] for s in same), strict=True)], color=color,
                    linewidth=2, label=f"{NAMES[name]} (mean of {len(same)} seeds)")  # fmt: skip
    if boundary is not None:
        ax.axvline(boundary, color="gray", linestyle="--", label="end of MLE pre-training")
    ax.set(xlabel="generator epoch (MLE, then adversarial / baseline epochs)", ylabel="NLL_oracle (nats/token)",
           title="Fig. 2: NLL_oracle during training")  # fmt: skip
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
    adversarial_curves({k: f"(g, d, k) = {tuple(v)}" for k, v in data["manifest"]["fig3"].items()},
                       "Fig. 3: g-steps, d-steps, k", "fig3_gdk.png", prefix="fig3_")  # fmt: skip

    # Quality-diversity (Caccia et al. 2020): NLL_oracle against NLL_test over the temperature sweep.
    if sweeps:
        # Two panels: Caccia et al.'s published curves are on the authors' oracle, another scale than ours.
        fig, (ax, ref) = plt.subplots(1, 2, figsize=(13, 5.5))
        for seed, sw in sweeps.items():
            for i, name in enumerate(("mle", "seqgan")):
                pts = sorted(sw[name], key=lambda p: p["alpha"])
                ax.plot([p["nll_test"] for p in pts], [p["nll_oracle"] for p in pts], color=f"C{i}", marker="o",
                        markersize=3, alpha=0.8, label=f"{NAMES[name]} (seed {seed})")  # fmt: skip
                one = next(p for p in pts if p["alpha"] == 1.0)
                ax.scatter([one["nll_test"]], [one["nll_oracle"]], color=f"C{i}", s=60, edgecolor="black", zorder=3)
        ax.set(xlabel="NLL_test (diversity; lower is better)", ylabel="NLL_oracle (quality; lower is better)",
               title="ours: temperature sweep (big dots: temperature 1)")  # fmt: skip
        if caccia_csv is not None and caccia_csv.exists():
            rows = list(csv.DictReader(caccia_csv.open()))
            for j, method in enumerate(dict.fromkeys(r["method"] for r in rows)):
                pts = [(float(r["nll_test"]), float(r["nll_oracle"])) for r in rows if r["method"] == method
                       and r["nll_test"] not in ("", "nan") and float(r["nll_test"]) <= 20]  # fmt: skip
                if pts:
                    ref.plot(*zip(*pts, strict=True), color=f"C{j}", linewidth=1.2, label=method)
            ref.set(xlabel="NLL_test", ylabel="NLL_oracle",
                    title="Caccia et al. 2020, published (authors' oracle; NLL_test <= 20)")  # fmt: skip
            ref.legend(fontsize=6)
            ref.grid(alpha=0.3)
        else:
            ref.set_axis_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, "quality_diversity.png")

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
            axes[1, 1].plot(epochs, [statistics.mean(e["g/reward_std_by_pos"]) for e in adv],
                            label="reward std (mean over positions)")  # fmt: skip
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
    ap.add_argument("--caccia-csv", default=str(caccia),
                    help="Caccia et al. (2020) sweep points to draw beside ours (skipped when missing)")  # fmt: skip
    args = ap.parse_args()
    runs, out = Path(args.runs), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load(runs)
    m = data["manifest"]
    verdict, sweeps = sweep_verdict(data)
    figures = plot_all(data, out, Path(args.caccia_csv), sweeps)
    env = m["env"]
    wall = sum(m.get("wall_s", {}).values())
    source = next((e["seqgan"]["dir"] for e in data["seeds"].values() if "seqgan" in e), None)
    d = json.loads((source / "config.json").read_text())["data"] if source else {}
    oracle = m["oracle_params"] or (f"a fresh N(0, 1) oracle (data.oracle_seed {d.get('oracle_seed')}, vocabulary "
                                    f"{d.get('vocab_size')}, T {d.get('seq_len')}, {d.get('oracle_emb_dim')}/"
                                    f"{d.get('oracle_hidden_dim')}; not the authors' file)")  # fmt: skip
    lines = [
        "# Synthetic oracle: Table 1, ablations, quality-diversity (generated by benchmarks/oracle/report.py)",
        "",
        f"- Command: `python {m['command']}`, then `python benchmarks/oracle/report.py --runs {runs}`",
        f"- Preset `{m['preset']}`; Table 1 seeds {m['seeds']}; ablation seeds {m['ablation_seeds']}; "
        f"oracle: {oracle}.",
        f"- Machine: {env.get('processor')}, {env.get('cpu_count')} cores, torch {env.get('torch')} "
        f"({env.get('torch_threads')} threads), device {env.get('device')}; {len(m.get('wall_s', {}))} runs trained, "
        f"{wall / 60:.0f} min of training in all (summed over runs), {m.get('elapsed_s', 0) / 60:.0f} min elapsed "
        f"with {m.get('workers', 1)} run(s) at once (elapsed includes the final evaluations).",
        "- Every column starts from the same pre-trained G and D of its seed (`seqgan train --init-from`); "
        f"scheduled sampling decays P(true token) by {m['ss_decay']} per epoch (to 0.6 at the end, as 0.002 over "
        "the authors' 200 epochs). NLL_oracle: mean per-token NLL under the oracle of fresh samples of the last "
        "checkpoint (as many as the preset's eval.num_samples, seed = run seed).",
        "",
        "## Table 1",
        "",
        *table1(data),
        "",
        "The paper's numbers come from the authors' oracle and full schedule; ours from the oracle and preset named "
        "above, so compare the ordering and the gaps, not the absolute values (a different oracle has a different "
        "floor). Random in the paper (10.310) does not match an untrained generator or uniform tokens under the "
        "authors' oracle either (both about 11.43; see published-numbers.md).",
        "",
        "## Ablations",
        "",
        *ablation_table(data),
        "",
    ]
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
    lines += ["## Quality-diversity (Caccia et al. 2020)", "",
              f"Inverse temperatures {m['alphas']}; NLL_test at each under the same softmax. Curves: "
              "quality_diversity.png (Caccia et al.'s published curves are on the authors' oracle, so only their "
              "shape compares).", "", *(verdict or ["- not run (`--parts sweep`)."]), ""]  # fmt: skip
    lines += ["## Figures", "", *[f"- `{f}`" for f in figures], ""]
    write_atomic(out / "results.md", ("\n".join(lines) + "\n").encode())
    print(f"wrote {out / 'results.md'} and {', '.join(figures)}")


if __name__ == "__main__":
    main()
