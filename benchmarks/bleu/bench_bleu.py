"""Time seqgan.eval.bleu (BLEU-2..5 and Self-BLEU-2..5) at paper scale and compare with NLTK.

Default corpus: synthetic, fixed seed: 10,000 hypotheses and 10,000 references of 10-12 tokens over a
5,000-word Zipfian vocabulary. With --hyps/--refs, text files (one sentence per line, tokens split on
whitespace, blank lines skipped), e.g. the COCO files:

  .venv/bin/python benchmarks/bleu/bench_bleu.py \\
      --hyps /work/shared/data/coco/image_coco.txt --refs /work/shared/data/coco/test_coco.txt

NLTK (if installed) is timed on the first --nltk-hyps hypotheses against all references (one
``sentence_bleu`` call with the four weight tuples per hypothesis, NLTK's fastest use) and for
Self-BLEU on the first --nltk-hyps hypotheses against all other hypotheses; both are extrapolated
linearly to the full number of hypotheses. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.eval.bleu import sentence_bleus, sentence_self_bleus  # noqa: E402

ORDERS = (2, 3, 4, 5)


def synthetic(num: int, seed: int, vocab: int = 5000) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    cum, total = [], 0.0
    for rank in range(1, vocab + 1):
        total += 1.0 / rank**1.1
        cum.append(total)
    return [rng.choices(words, cum_weights=cum, k=rng.randint(10, 12)) for _ in range(num)]


def read_lines(path: str, limit: int | None) -> list[list[str]]:
    rows = [line.split() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hyps", help="hypotheses file (default: synthetic, seed 1)")
    ap.add_argument("--refs", help="references file (default: synthetic, seed 2)")
    ap.add_argument("--num", type=int, default=10_000, help="sentences per synthetic corpus / max lines read")
    ap.add_argument("--nltk-hyps", type=int, default=10, help="hypotheses timed with NLTK (0: skip NLTK)")
    args = ap.parse_args()

    hyps = read_lines(args.hyps, args.num) if args.hyps else synthetic(args.num, seed=1)
    refs = read_lines(args.refs, args.num) if args.refs else synthetic(args.num, seed=2)
    result: dict = {
        "hyps": args.hyps or "synthetic(seed=1)",
        "refs": args.refs or "synthetic(seed=2)",
        "num_hypotheses": len(hyps),
        "num_references": len(refs),
        "python": platform.python_version(),
    }

    t0 = time.perf_counter()
    ours = sentence_bleus(hyps, refs, ORDERS)
    result["bleu_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    ours_self = sentence_self_bleus(hyps, ORDERS)
    result["self_bleu_s"] = round(time.perf_counter() - t0, 2)
    for n in ORDERS:
        result[f"bleu{n}"] = sum(ours[n]) / len(hyps)
        result[f"self_bleu{n}"] = sum(ours_self[n]) / len(hyps)
    print(f"seqgan.eval.bleu: BLEU-2..5 {result['bleu_s']} s, Self-BLEU-2..5 {result['self_bleu_s']} s")

    k = min(args.nltk_hyps, len(hyps))
    try:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    except ImportError:
        k = 0
        result["nltk"] = "not installed"
    if k:
        weights = [(1 / n,) * n for n in ORDERS]
        smooth = SmoothingFunction().method1
        diff = 0.0
        t0 = time.perf_counter()
        for i in range(k):
            got = sentence_bleu(refs, hyps[i], weights, smoothing_function=smooth)
            diff = max(diff, *(abs(g - ours[n][i]) for g, n in zip(got, ORDERS, strict=True)))
        t_bleu = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(k):
            got = sentence_bleu(hyps[:i] + hyps[i + 1 :], hyps[i], weights, smoothing_function=smooth)
            diff = max(diff, *(abs(g - ours_self[n][i]) for g, n in zip(got, ORDERS, strict=True)))
        t_self = time.perf_counter() - t0
        result.update(
            {
                "nltk_hyps_timed": k,
                "nltk_bleu_s_extrapolated": round(t_bleu * len(hyps) / k, 1),
                "nltk_self_bleu_s_extrapolated": round(t_self * len(hyps) / k, 1),
                "speedup_bleu": round(t_bleu * len(hyps) / k / max(result["bleu_s"], 1e-9), 1),
                "speedup_self_bleu": round(t_self * len(hyps) / k / max(result["self_bleu_s"], 1e-9), 1),
                "max_abs_diff_vs_nltk": diff,
            }
        )
        print(
            f"NLTK on {k} hypotheses: BLEU {t_bleu:.2f} s, Self-BLEU {t_self:.2f} s "
            f"(extrapolated to {len(hyps)}: {result['nltk_bleu_s_extrapolated']} s, "
            f"{result['nltk_self_bleu_s_extrapolated']} s); max |diff| {diff:.1e}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
