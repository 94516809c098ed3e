"""Turn the runs of benchmarks/text/run.py into results.md and PNGs (generated; never edit by hand).

    python benchmarks/text/report.py --runs runs/coco [--out benchmarks/text]

Writes results.md (the verdicts on the BLEU-4 / Self-BLEU-4 and LM / reverse-LM frontiers, the table at temperature
1 beside Texygen's numbers, entropies) and frontiers.png. Every number comes from the runs' final_eval.json files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import elapsed, machine, mean_std, out_flag, verdict_sentences, verdict_table  # noqa: E402

from seqgan.files import write_atomic  # noqa: E402

NAMES = {
    "mle_es": "MLE, early-stopped",
    "mle": "MLE, fixed schedule",
    "seqgan": "SeqGAN",
    "shuffled_reward": "shuffled reward",
    "constant_reward": "constant reward Q = 1",
    "baseline_mean": "mean baseline",
    "sgd": "plain SGD",
}
CONTROLS = ["shuffled_reward", "constant_reward", "baseline_mean", "sgd"]
COMPARISONS = [
    ("seqgan", "mle_es"),
    ("seqgan", "mle"),
    *[("seqgan", c) for c in CONTROLS],
    *[(c, "mle_es") for c in CONTROLS],
    ("mle", "mle_es"),
]
# Texygen (Zhu et al., SIGIR 2018) Table 2 / README (BLEU against the test set) and Table 3 (Self-BLEU); other
# sample and reference counts than ours (published-numbers.md section 2.4): compare trends, not third decimals.
PUBLISHED = {
    "MLE (Texygen)": {
        "bleu2": 0.731,
        "bleu3": 0.497,
        "bleu4": 0.305,
        "bleu5": 0.189,
        "self_bleu2": 0.916,
        "self_bleu3": 0.769,
        "self_bleu4": 0.583,
        "self_bleu5": 0.408,
    },
    "SeqGAN (Texygen)": {
        "bleu2": 0.745,
        "bleu3": 0.498,
        "bleu4": 0.294,
        "bleu5": 0.180,
        "self_bleu2": 0.950,
        "self_bleu3": 0.840,
        "self_bleu4": 0.670,
        "self_bleu5": 0.489,
    },
}
COLUMNS = [
    "bleu2",
    "bleu3",
    "bleu4",
    "bleu5",
    "self_bleu2",
    "self_bleu3",
    "self_bleu4",
    "self_bleu5",
    "nll_test",
    "lm_score",
    "reverse_lm_score",
    "entropy",
]
# The frontiers, both axes lower-better: (diversity, quality) from a point's metrics.
FRONTIERS = {
    "BLEU-4 / Self-BLEU-4": lambda m: (m.get("eval/self_bleu4"), None if "eval/bleu4" not in m else -m["eval/bleu4"]),
    "LM / reverse LM": lambda m: (m.get("eval/reverse_lm_score"), m.get("eval/lm_score")),
}


def load(runs: Path) -> dict[str, Any]:
    manifest = json.loads((runs / "manifest.json").read_text())
    finals: dict[str, dict[int, dict]] = {}
    for seed in manifest["seeds"]:
        for name in NAMES:
            path = runs / f"seed{seed}" / name / "final_eval.json"
            if path.exists():
                finals.setdefault(name, {})[seed] = json.loads(path.read_text())
    return {"manifest": manifest, "finals": finals}


def points(data: dict[str, Any], name: str, frontier: str) -> dict[int, list[tuple[float, float, float]]]:
    """Per seed, a system's sweep on one frontier as (alpha, diversity, quality); points missing a value dropped."""
    out = {}
    for seed, final in data["finals"].get(name, {}).items():
        pts = []
        for p in final["sweep"].values():
            x, y = FRONTIERS[frontier](p)
            if x is not None and y is not None:
                pts.append((p["alpha"], x, y))
        if len(pts) >= 2:
            out[seed] = sorted(pts)
    return out


def at_one(data: dict[str, Any], name: str, key: str) -> list[float]:
    return [
        f["sweep"]["1"][f"eval/{key}"]
        for f in data["finals"].get(name, {}).values()
        if f"eval/{key}" in f["sweep"].get("1", {})
    ]


def plot(data: dict[str, Any], out: Path) -> str | None:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FRONTIERS), figsize=(14, 6))
    for ax, frontier in zip(axes, FRONTIERS, strict=True):
        for i, name in enumerate(NAMES):
            for j, pts in enumerate(points(data, name, frontier).values()):
                xs, ys = [p[1] for p in pts], [p[2] for p in pts]
                if frontier.startswith("BLEU"):
                    ys = [-y for y in ys]
                ax.plot(
                    xs,
                    ys,
                    color=f"C{i}",
                    marker="o",
                    markersize=2.5,
                    alpha=0.75,
                    linewidth=1,
                    label=NAMES[name] if j == 0 else None,
                )
        if frontier.startswith("BLEU"):
            ax.set(
                xlabel="Self-BLEU-4 (lower: more diverse)",
                ylabel="BLEU-4 against the test captions (higher: better)",
                title="BLEU-4 against Self-BLEU-4, temperature sweep",
            )
        else:
            ax.set(
                xlabel="reverse LM score (lower: covers more of the test set)",
                ylabel="LM score (lower: more typical)",
                title="LM score against reverse LM score",
            )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = out / ".frontiers.png.tmp"
    fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    write_atomic(out / "frontiers.png", tmp.read_bytes())
    tmp.unlink()
    return "frontiers.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True, help="the --out folder of benchmarks/text/run.py")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent), help="where results.md and PNGs go")
    args = ap.parse_args()
    runs, out = Path(args.runs), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    flag = out_flag(out, Path(__file__).parent)  # the printed command names a non-default --out
    data = load(runs)
    m = data["manifest"]
    env = m["env"]
    wall = sum(m.get("wall_s", {}).values())
    size = json.loads((Path(m["data"]) / "manifest.json").read_text())["report"]
    lines = [
        "# COCO captions: does the discriminator help on text? (generated by benchmarks/text/report.py)",
        "",
        f"- Command: `python {m['command']}`, then `python benchmarks/text/report.py --runs {runs}{flag}`",
        f"- Preset `{m['preset']}`; seeds {m['seeds']}; {len(m.get('wall_s', {}))} runs trained, {wall / 60:.0f} min "
        f"of training (summed), {elapsed(m)} with {m.get('workers', 1)} run(s) at "
        f"once; {machine(env)}, {env.get('cpu_count')} cores, torch {env.get('torch')}.",
        f"- Data: train `image_coco.txt` less a tenth held out for validation (model selection), test `test_coco.txt` "
        f"({size['test_size']:,} captions, read only by the final evaluations), `--level punct`; the vocabulary from "
        f"the training captions alone ({size['train_size']:,} train, {size['valid_size']:,} validation captions, "
        f"vocabulary {size['vocab_size']:,}, T {size['seq_len']}).",
        "- Protocol: MLE pre-training stops early on the validation NLL and keeps the best-validation generator (the "
        "early-stopped MLE baseline); every other system forks from it and is reported at its last checkpoint. "
        f"Final evaluation: {m['num_samples']} samples per point at inverse temperatures {m['alphas']}: BLEU-n "
        "against all test captions (NLTK-equal sentence BLEU, method1, the mean), Self-BLEU-n, NLL_test, entropy, "
        f"LM score; reverse LM score at {m['reverse_alphas']}. The LMs are LSTMs trained here: the real-text LM "
        f"{m['lm']} on the training split (early-stopped on validation), the reverse LMs {m['reverse_lm']} on nine "
        "tenths of each point's samples (early-stopped on the last tenth).",
        "- A comparison is the mean gap in quality between two systems' trade-off branches over the diversity range "
        "they share (negative: the first system has the better quality at matched diversity), per seed; the verdict "
        "is a two-sided one-sample t-test of the per-seed gaps (seeds paired by pre-training), at level 0.05.",
        "",
    ]
    missing = [
        f"{NAMES[name]} (seed {', '.join(str(s) for s in m['seeds'] if s not in data['finals'].get(name, {}))})"
        for name in NAMES
        if any(s not in data["finals"].get(name, {}) for s in m["seeds"])
    ]
    if missing:
        lines += [
            f"**Partial report**: not evaluated yet: {'; '.join(missing)}. Rerun the benchmark's command to "
            "finish them, then this report.",
            "",
        ]
    for frontier in FRONTIERS:
        label = (
            "-BLEU-4 gap at matched Self-BLEU-4"
            if frontier.startswith("BLEU")
            else "LM-score gap at matched reverse LM score"
        )
        md, verdicts = verdict_table(lambda name, f=frontier: points(data, name, f), COMPARISONS, NAMES, label)
        lines += [
            f"## Verdicts on the {frontier} frontier",
            "",
            *(verdict_sentences(verdicts, NAMES, frontier) or ["- not measured yet."]),
            "",
            *md,
            "",
        ]
    lines += [
        "## Temperature 1 (mean ± std over seeds)",
        "",
        "| system | " + " | ".join(c.upper().replace("_", "-") for c in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name in NAMES:
        if name in data["finals"]:
            lines.append(f"| {NAMES[name]} | " + " | ".join(mean_std(at_one(data, name, c)) for c in COLUMNS) + " |")
    for name, values in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[c]:.3f}" if c in values else "" for c in COLUMNS) + " |")
    figure = plot(data, out)
    lines += ["", "Texygen's rows used its own sample and reference counts (published-numbers.md section 2.4).", ""]
    if figure:
        lines += ["## Figures", "", f"- `{figure}`: every system's frontiers, every seed.", ""]
    write_atomic(out / "results.md", ("\n".join(lines) + "\n").encode())
    print(f"wrote {out / 'results.md'}" + (f" and {figure}" if figure else ""))


if __name__ == "__main__":
    main()
