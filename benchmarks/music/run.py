"""Music (the paper's Nottingham experiment): MLE vs SeqGAN on a folder of MIDI melodies, BLEU-4 and MSE.

    python benchmarks/music/run.py --midi nottingham/ --out runs/music            # preset music-cpu, seed 88
    python benchmarks/music/run.py --midi nottingham/ --out runs/music-gpu --preset music --device cuda \\
        --results benchmarks/music/results.md
    python benchmarks/music/run.py --make-demo-folder /tmp/demo-midi              # synthetic tunes, to try it out

Steps: `seqgan prepare-midi MIDI --out OUT/data` (0.4 s per token, T = 32, melody = highest sounding note, split
by tune); SeqGAN (OUT/seqgan) and the MLE baseline (OUT/mle: `--set adversarial.mode=mle`, the adversarial epochs
spent on maximum likelihood, so both get the same generator epochs); `seqgan eval` of both final checkpoints;
8 samples of each written back as MIDI (OUT/seqgan/midi, OUT/mle/midi); then results.md (default OUT/results.md),
generated from the runs, with the paper's rows beside ours. Steps already done in OUT are reused (a killed run
resumes). The Nottingham files are not shipped; a folder made by --make-demo-folder carries a SYNTHETIC.txt
marker and its results.md says in its title that the numbers are from synthetic melodies.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

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


def _train(out: Path, name: str, args: argparse.Namespace, extra: list[str]) -> float:
    run = out / name
    if (run / "config.json").exists():
        cmd = [*SEQGAN, "train", "--resume", str(run), "--no-progress"]
    else:
        cmd = [
            *SEQGAN,
            "train",
            "--preset",
            args.preset,
            "--data",
            str(out / "data"),
            "--seed",
            str(args.seed),
            "--device",
            args.device,
            "--out-dir",
            str(run),
            "--no-progress",
            *extra,
        ]
    t0 = time.time()
    _run(cmd)
    wall = time.time() - t0
    (run / "benchmark_wall_s.txt").write_text(f"{wall:.0f}\n")
    return wall


def _table_rows(name: str, e: dict) -> str:
    return (
        f"| {name} | {e['eval/bleu4']:.4f} | {e['eval/mse']:.2f} | {e['eval/nll_test']:.3f} | "
        f"{e['eval/self_bleu4']:.3f} | {e['eval/distinct2']:.3f} |"
    )


def write_report(out: Path, midi: Path, results: Path, command: str, preset: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness import machine  # imported here: it loads torch, which the training subprocesses need, not this one

    from seqgan.train.logbook import read_metrics

    data = json.loads((out / "data" / "manifest.json").read_text())
    rep = data["report"]
    runs = {name: out / name for name in ("mle", "seqgan")}
    config = json.loads((runs["seqgan"] / "config.json").read_text())
    env = json.loads((runs["seqgan"] / "env.json").read_text())
    final = {name: json.loads((run / "eval.json").read_text()) for name, run in runs.items()}
    wall = {name: (run / "benchmark_wall_s.txt").read_text().strip() for name, run in runs.items()}
    synthetic = (midi / MARKER).exists()
    pre, adv = config["pretrain"], config["adversarial"]
    slim = "a slimmer discriminator than the paper's and a shorter schedule; " if preset != "music" else ""
    title = "# Music: MLE vs SeqGAN" + (" on SYNTHETIC melodies (not Nottingham)" if synthetic else "")
    lines = [
        title,
        "",
        "Generated by `benchmarks/music/run.py` from the runs' `seqgan eval` output and "
        "`metrics.jsonl`; do not edit by hand.",
        "",
    ]
    if synthetic:
        lines += [
            "**These numbers come from synthetic melodies written by `--make-demo-folder`, not from the "
            "Nottingham collection: they check that the pipeline runs end to end and are not comparable to "
            "the paper's rows.**",
            "",
        ]
    lines += [
        f"- Command: `{command}`",
        f"- Data: `{midi}` ({'synthetic, ' if synthetic else ''}{rep['files_found']} MIDI files, {rep['files_read']} "
        f"read, skipped {rep['files_skipped']}); {rep['train_tunes']} training tunes / {rep['test_tunes']} test "
        f"tunes (split by tune), {rep['train_windows']} / {rep['test_windows']} windows of T = {rep['seq_len']}, "
        f"one token per {rep['step']} s, rests {rep['rest']}, pitches {rep['pitch_range']['min']}.."
        f"{rep['pitch_range']['max']}",
        f"- Schedule (preset `{preset}`, seed {config['run']['seed']}): {pre['g_epochs']} MLE epochs, D "
        f"{pre['d_steps']} x {pre['k_epochs']}, "
        f"{adv['epochs']} adversarial epochs of {adv['g_steps']} G step and {adv['d_steps']} x {adv['k_epochs']} D "
        f"epochs, N = {adv['rollout_num']}; the MLE baseline spends the {adv['epochs']} adversarial epochs on MLE",
        f"- Machine: {machine(env)}, {env.get('cpu_count')} cores, "
        f"device {env.get('device')}, torch {env.get('torch')}; commit {env.get('git_sha')}; wall time SeqGAN "
        f"{wall['seqgan']} s, MLE {wall['mle']} s",
        f"- Metrics: `seqgan eval` of each final checkpoint on {final['seqgan']['num_samples']} fresh samples (seed "
        "0). BLEU-4: mean over the samples of NLTK-equal sentence BLEU-4 (method1 smoothing) of the pitch-token "
        "sequence against all test windows. MSE: for each sample the mean squared pitch difference (semitones^2) "
        "to its nearest test window, averaged over the samples (the paper does not say how it pairs them; "
        "docs/implementation-details.md). NLL_test in nats per token.",
        "",
        "| system | BLEU-4 | MSE | NLL_test | Self-BLEU-4 | distinct-2 |",
        "|---|---|---|---|---|---|",
        _table_rows("MLE (this repo)", final["mle"]),
        _table_rows("SeqGAN (this repo)", final["seqgan"]),
    ]
    lines += [f"| {name} | {b:.4f} | {m:.2f} | - | - | - |" for name, (b, m) in PAPER.items()]
    lines += [
        "",
        "What differs from the paper: "
        + ("the data (synthetic melodies, not Nottingham); " if synthetic else "")
        + "the paper does not publish its Nottingham preprocessing beyond 88 keys, 0.4 s and T = 32 (we take the "
        "highest sounding note over all tracks, hold rests, and cut non-overlapping windows), nor its BLEU "
        "reference set, sample count or MSE pairing; " + slim + "one seed.",
        "",
        "Evaluations during training (BLEU-4 / MSE; NLL of the validation split, which model selection reads):",
        "",
        "| run | phase | epoch | BLEU-4 | MSE | NLL_valid |",
        "|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        for e in read_metrics(run / "metrics.jsonl"):
            if "eval/mse" in e:
                lines.append(
                    f"| {name} | {e['phase']} | {e['epoch']} | {e['eval/bleu4']:.4f} | "
                    f"{e['eval/mse']:.2f} | {e['eval/nll_valid']:.3f} |"
                )
    results.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--midi", help="folder of .mid/.midi melodies (e.g. the Nottingham collection)")
    parser.add_argument("--out", help="folder for the prepared data, both runs and results.md")
    parser.add_argument("--preset", default="music-cpu", help="music-cpu (2 CPU cores, default) or music (paper)")
    parser.add_argument("--seed", type=int, default=88)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results", help="where to write results.md (default OUT/results.md)")
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
        _run(
            [
                *SEQGAN,
                "prepare-midi",
                str(midi),
                "--out",
                str(out / "data"),
                "--step",
                "0.4",
                "--seq-len",
                "32",
                "--json",
            ]
        )
    _train(out, "seqgan", args, [])
    _train(out, "mle", args, ["--set", "adversarial.mode=mle"])
    for name in ("seqgan", "mle"):
        result = _run([*SEQGAN, "eval", str(out / name), "--json"]).strip().splitlines()[-1]
        (out / name / "eval.json").write_text(result + "\n")
        _run([*SEQGAN, "sample", str(out / name), "--num-samples", "8", "--midi-out", str(out / name / "midi")])
    results = Path(args.results) if args.results else out / "results.md"
    write_report(out, midi, results, " ".join(["python", *sys.argv]), args.preset)
    print(f"wrote {results} ({time.time() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
