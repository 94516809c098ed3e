#!/usr/bin/env bash
# Every GPU check in one command, on a machine with a CUDA GPU (at most about 13 minutes with the limits below):
#
#     bash benchmarks/perf/gpu_check.sh [OUT_DIR]      # OUT_DIR: default $OUT if set, else runs/gpu-check
#
# 1. the GPU tests (tests/test_gpu.py: draws, rewards and bf16 against the CPU, D learning, a GPU run the CPU forks),
# 2. the benchmark on the GPU (benchmarks/perf/run.py --device cuda, without the demo runs; cut at 420 s),
# 3. the `paper` preset on the GPU for at most PAPER_S seconds (default 240): its metrics.jsonl holds the seconds of
#    every epoch it finished, from which the whole schedule's time is extrapolated (the run is stopped by SIGTERM,
#    which finishes the epoch in hand and saves; killed 120 s later if it has not).
# Each step runs even if an earlier one failed; the script exits non-zero if any did. It needs only a python with
# torch, numpy, tqdm and safetensors: the package is read from this checkout.
set -uo pipefail
out=${1:-${OUT:-runs/gpu-check}}
paper_s=${PAPER_S:-240}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
} > "$out/gpu.txt" 2>&1 || status=1

echo "== GPU tests"
"$py" -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tee "$out/gpu-tests.log" || status=1

echo "== benchmark"
timeout 420 "$py" benchmarks/perf/run.py --device cuda --out "$out/results-gpu.md" > "$out/bench.log" 2>&1 || status=1
tail -n 3 "$out/bench.log"

echo "== paper preset, at most ${paper_s} s"
run=$(mktemp -d)/paper
timeout -s TERM -k 120 "$paper_s" "$py" -m seqgan train --preset paper --device cuda --no-progress --out-dir "$run" \
    > "$out/paper.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || status=1  # 124: stopped by the time limit, as planned
cp "$run/metrics.jsonl" "$out/paper-metrics.jsonl" 2>/dev/null || status=1
"$py" - "$out/paper-metrics.jsonl" <<'EOF' | tee "$out/paper-summary.txt" || status=1
"""Seconds per epoch of each phase the run reached, and the whole paper schedule extrapolated from them."""
import json
import sys

from seqgan import presets

events = [json.loads(line) for line in open(sys.argv[1])]
cfg = presets.get("paper")
planned = {"mle": cfg.pretrain.g_epochs, "d_pretrain": cfg.pretrain.d_steps, "adversarial": cfg.adversarial.epochs}
total = 0.0
for phase, n in planned.items():
    times = [e["time/epoch_s"] for e in events if e.get("phase") == phase and "time/epoch_s" in e]
    if not times:
        print(f"{phase}: not reached")
        total = float("nan")
        continue
    mean = sum(times) / len(times)
    total += mean * n
    print(f"{phase}: {len(times)} of {n} epochs or rounds, {mean:.2f} s each (last {times[-1]:.2f} s)")
print(f"the whole schedule at these rates: {total / 60:.1f} min (evaluations not included)")
EOF
exit $status
