"""Music (the paper's Nottingham experiment): `seqgan verdict` on a folder of MIDI melodies, SeqGAN against
early-stopped MLE and the controls on the BLEU-4 / Self-BLEU-4, MSE / Self-BLEU-4 and LM frontiers.

    python benchmarks/music/run.py --midi nottingham/ --out runs/music [--preset music-cpu] [--seeds 1 2]
    python benchmarks/music/run.py --midi nottingham/ --out runs/music-gpu --preset music --device cuda \\
        --results benchmarks/music
    python benchmarks/music/run.py --make-demo-folder /tmp/demo-midi              # synthetic tunes, to try it out

Steps: `seqgan prepare-midi MIDI --out OUT/data` (0.4 s per token, T = 32, melody = highest sounding note, split
by tune); `seqgan verdict` (the fixed-schedule MLE, the shuffled and constant rewards beside SeqGAN and its
early-stopped MLE; every system swept over temperature on the test windows); 8 samples of the first seed's SeqGAN
and early-stopped MLE written back as MIDI (OUT/midi/); then results.md and verdict.json (default in OUT) with the
paper's rows beside ours at temperature 1. Resumable: the same command again trains nothing twice. The Nottingham
files are not shipped; a folder made by --make-demo-folder carries a SYNTHETIC.txt marker and results.md says that
its numbers are from synthetic melodies.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.errors import UserError  # noqa: E402
from seqgan.tools import verdict  # noqa: E402

# Yu et al. 2017, Table 4 (Nottingham): BLEU-4 and MSE.
PAPER = {"MLE (paper)": (0.9210, 22.38), "SeqGAN (paper)": (0.9406, 20.62)}
MARKER = "SYNTHETIC.txt"
SEQGAN = [sys.executable, "-m", "seqgan"]


def make_demo_folder(folder: Path, tunes: int, seed: int) -> None:
    """Synthetic folk-like tunes (AABB, 8-bar phrases, major keys, one- to half-beat rhythms) over a bass track,
    some with a tempo change half-way; written with mido. For trying the pipeline, not for paper numbers."""
    import mido

    folder.mkdir(parents=True, exist_ok=False)
    (folder / MARKER).write_text(
        "Synthetic melodies written by benchmarks/music/run.py --make-demo-folder; not the "
        f"Nottingham collection. tunes={tunes} seed={seed}\n"
    )
    rng = random.Random(seed)
    major = [0, 2, 4, 5, 7, 9, 11]
    rhythms = [[1, 1, 1, 1], [2, 1, 1], [1.5, 0.5, 1, 1], [2, 2], [0.5, 0.5, 1, 2], [1, 1, 2], [3, 1]]
    tpb = 480
    for n in range(tunes):
        tonic = rng.choice([60, 62, 65, 67, 69])
        tempo = int(60e6 / rng.randrange(96, 144))

        def phrase(tonic: int = tonic) -> list[tuple[float, int]]:
            degree, notes = rng.randrange(0, 5), []
            for bar in range(8):
                for beats in rng.choice(rhythms):
                    degree = min(11, max(-3, degree + rng.choice([-2, -1, -1, 0, 1, 1, 2])))
                    if bar == 7 and beats >= 2:
                        degree = 0 if rng.random() < 0.7 else degree  # phrases tend to end on the tonic
                    octave, step = divmod(degree, 7)
                    notes.append((beats, tonic + 12 * octave + major[step]))
            return notes

        a, b = phrase(), phrase()
        melody = a + a + b + b
        events, t = [], 0
        for beats, pitch in melody:
            length = int(beats * tpb)
            events += [(t, 1, "note_on", pitch, 0), (t + length, 0, "note_off", pitch, 0)]
            t += length
        for bar in range(t // (4 * tpb)):  # bass: tonic or dominant, two octaves down, a bar each
            root = tonic - 24 + (7 if bar % 4 == 2 else 0)
            events += [(bar * 4 * tpb, 1, "note_on", root, 1), ((bar + 1) * 4 * tpb, 0, "note_off", root, 1)]
        mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
        conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo)])
        if n % 3 == 0:  # a tempo change half-way, to exercise the reader
            conductor.append(mido.MetaMessage("set_tempo", tempo=int(tempo * 0.9), time=t // 2))
        mid.tracks.append(conductor)
        for channel in (0, 1):
            track, last = mido.MidiTrack(), 0
            for tick, _, kind, pitch, ch in sorted(e for e in events if e[4] == channel):
                track.append(
                    mido.Message(
                        kind, note=pitch, velocity=80 if kind == "note_on" else 0, channel=ch, time=tick - last
                    )
                )
                last = tick
            mid.tracks.append(track)
        mid.save(folder / f"tune{n:03d}.mid")


def _run(cmd: list[str]) -> str:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout


def paper_section(midi: Path, v: dict) -> str:
    """The paper's rows beside ours at temperature 1 (appended to the verdict's results.md)."""
    synthetic = (midi / MARKER).exists()
    rows = {}
    for name, title in (
        ("mle_es", "MLE, early-stopped (ours)"),
        ("seqgan", "SeqGAN (ours)"),
        ("mle", "MLE, fixed schedule (ours)"),
    ):
        by_seed = v["points"].get(name, {})
        cells = [[p["1"][k] for p in by_seed.values() if k in p.get("1", {})] for k in ("eval/bleu4", "eval/mse")]
        if all(cells):
            rows[title] = tuple(statistics.mean(c) for c in cells)
    lines = ["## Beside the paper (Table 4, Nottingham; temperature 1, mean over seeds)", ""]
    if synthetic:
        lines += [
            "**These numbers come from SYNTHETIC melodies written by `--make-demo-folder`, not from the Nottingham "
            "collection: they check that the pipeline runs end to end and are not comparable to the paper's rows.**",
            "",
        ]
    lines += ["| system | BLEU-4 | MSE |", "|---|---|---|"]
    lines += [f"| {name} | {b:.4f} | {m:.2f} |" for name, (b, m) in {**rows, **PAPER}.items()]
    lines += [
        "",
        "The paper does not publish its Nottingham preprocessing beyond 88 keys, 0.4 s and T = 32 (we take the "
        "highest sounding note over all tracks, hold rests, and cut non-overlapping windows), nor its BLEU reference "
        "set, sample count or MSE pairing (docs/implementation-details.md). MIDI samples of the first seed: "
        "OUT/midi/seqgan, OUT/midi/mle_es.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--midi", help="folder of .mid/.midi melodies (e.g. the Nottingham collection)")
    parser.add_argument("--out", help="folder for the prepared data and the runs")
    parser.add_argument("--preset", default="music-cpu", help="music-cpu (2 CPU cores, default) or music (paper)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="run seeds (default 1 2)")
    parser.add_argument("--num-samples", type=int, default=2000, help="samples per measured point (default 2000)")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each")
    parser.add_argument("--no-lm", action="store_true", help="skip the LM scores (the LM frontier)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config key of every run")
    parser.add_argument("--seed", type=int, default=88, help="seed of --make-demo-folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results", help="folder for results.md, verdict.json and the PNGs (default OUT)")
    parser.add_argument("--make-demo-folder", metavar="DIR", help="write synthetic tunes to DIR and exit")
    parser.add_argument("--demo-tunes", type=int, default=200, help="tunes for --make-demo-folder (default 200)")
    args = parser.parse_args()
    if args.make_demo_folder:
        make_demo_folder(Path(args.make_demo_folder), args.demo_tunes, args.seed)
        print(f"wrote {args.demo_tunes} synthetic tunes to {args.make_demo_folder}")
        return
    if not args.midi or not args.out:
        parser.error("give --midi DIR and --out OUT (or --make-demo-folder DIR)")
    midi, out = Path(args.midi), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not (out / "data" / "manifest.json").exists():
        prepare = [*SEQGAN, "prepare-midi", str(midi), "--out", str(out / "data"), "--step", "0.4", "--seq-len", "32"]
        _run([*prepare, "--json"])
    results = Path(args.results) if args.results else out
    opts = verdict.Options(
        out=out,
        preset=args.preset,
        seeds=args.seeds,
        data=str(out / "data"),
        workers=args.workers,
        num_samples=args.num_samples,
        lm=not args.no_lm,
        sets=args.set,
        device=args.device,
        report=results,
        command="python benchmarks/music/run.py " + shlex.join(sys.argv[1:]),
    )
    try:
        v = verdict.run(opts, say=print)
    except UserError as e:
        sys.exit(f"error: {e}")
    source = out / f"seed{args.seeds[0]}" / "seqgan"
    for name, checkpoint in (("seqgan", "last"), ("mle_es", str(source / "checkpoints" / "pretrained.pt"))):
        where = out / "midi" / name
        if not where.exists():
            where.parent.mkdir(parents=True, exist_ok=True)
            sample = [*SEQGAN, "sample", str(source), "--checkpoint", checkpoint, "--num-samples", "8"]
            _run([*sample, "--midi-out", str(where)])
    with open(results / "results.md", "a", encoding="utf-8") as f:
        f.write("\n" + paper_section(midi, v))
    (results / "verdict.json").write_bytes((out / "verdict.json").read_bytes())
    print(f"wrote {results / 'results.md'} ({time.time() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
