"""``seqgan verdict``: end to end on generated text, the verdicts of a system against itself and of a system built
to be worse, resume after a kill without training anything twice, and bad input (one line, exit 2, nothing lost)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqgan import cli
from seqgan.eval.frontier import matched_gap

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--preset", "tiny", "--num-samples", "64", "--set", "adversarial.epochs=2"]


def _corpus(path: Path, lines: int = 400, seed: int = 0) -> Path:
    r = random.Random(seed)
    subjects, verbs, objects = (
        ["a man", "a woman", "two dogs", "a cat"],
        ["rides", "holds", "sees"],
        ["a horse", "a bike"],
    )
    path.write_text("\n".join(f"{r.choice(subjects)} {r.choice(verbs)} {r.choice(objects)}" for _ in range(lines)))
    return path


def _prepare(tmp: Path, name: str = "data", seed: int = 0) -> Path:
    corpus = _corpus(tmp / f"{name}.txt", seed=seed)
    assert cli.main(["prepare", str(corpus), "--out", str(tmp / name), "--level", "punct"]) == 0
    return tmp / name


def _error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    capsys.readouterr()
    assert cli.main(["verdict", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def _sweep(out: Path, seed: int, name: str, x: str, y: str, sign: float) -> list[tuple[float, float, float]]:
    points = json.loads((out / f"seed{seed}" / name / "measure.json").read_text())["points"]
    return [(p["alpha"], p[x], sign * p[y]) for p in points.values()]


@pytest.fixture(scope="module")
def text_verdict(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole command on generated text: the tiny preset, 2 seeds, LM scores on (default for text)."""
    tmp = tmp_path_factory.mktemp("verdict")
    data = _prepare(tmp)
    out = tmp / "v"
    assert cli.main(["verdict", "--data", str(data), "--seeds", "1", "2", "--out", str(out), *FAST]) == 0
    return out


def test_end_to_end_on_text_writes_verdicts_pngs_and_a_regenerable_report(
    text_verdict: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = text_verdict
    text = (out / "results.md").read_text()
    v = json.loads((out / "verdict.json").read_text())
    assert v["kind"] == "text" and v["seeds"] == [1, 2] and v["lm"]
    assert [f["name"] for f in v["frontiers"]] == ["BLEU-4 / Self-BLEU-4", "LM / reverse LM"]
    for name in ("frontier-bleu-4-self-bleu-4.png", "frontier-lm-reverse-lm.png"):
        assert (out / name).stat().st_size > 0
    # The verdict row's per-seed gaps are those of the systems' own measurements, on the test split.
    row = next(line for line in text.splitlines() if line.startswith("| SeqGAN | MLE, early-stopped |"))
    gaps = [
        matched_gap(*(_sweep(out, s, n, "eval/self_bleu4", "eval/bleu4", -1.0) for n in ("seqgan", "mle_es")))
        for s in (1, 2)
    ]
    assert row.split(" | ")[4] == ", ".join(f"{g:+.3f}" for g in gaps)
    assert re.search(r"\*\*(better|worse|indistinguishable|undetermined)\*\*", row)
    for section in ("## Verdicts on the BLEU-4", "## Verdicts on the LM / reverse LM", "## Entropy", "temperature 1"):
        assert section in text
    assert "| shuffled reward |" in text and "| constant reward Q = 1 |" in text and "| MLE, fixed schedule |" in text
    size = json.loads((Path(v["data"]["summary"].split("`")[1]) / "manifest.json").read_text())["report"]
    assert f"{size['train_size']:,} train, {size['valid_size']:,} validation, {size['test_size']:,} test" in text
    mle_es = json.loads((out / "seed1" / "mle_es" / "measure.json").read_text())
    assert mle_es["checkpoint"] == "pretrained" and len(mle_es["points"]) == 7
    assert "eval/reverse_lm_score" in mle_es["points"]["1"] and "eval/reverse_lm_score" not in mle_es["points"]["0.9"]
    assert len(list((out / "lm").glob("lm-*.pt"))) == 1  # the real-text LM trained once, before the jobs, and reused

    # verdict.json alone regenerates the report, byte for byte.
    assert cli.main(["verdict", "--report-from", str(out / "verdict.json"), "--report", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "results.md").read_text() == text
    # From the runs again, with --json: every verdict.
    capsys.readouterr()
    assert cli.main(["verdict", "--runs", str(out), "--report", str(tmp_path / "again"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = printed["frontiers"]["BLEU-4 / Self-BLEU-4"]
    assert rows[0]["a"] == "seqgan" and rows[0]["b"] == "mle_es" and rows[0]["gaps"] == pytest.approx(gaps)
    assert (tmp_path / "again" / "frontier-lm-reverse-lm.png").is_file()

    # The same command again trains and measures nothing.
    walls = json.loads((out / "manifest.json").read_text())["wall_s"]
    data = json.loads((out / "manifest.json").read_text())["data"]
    assert cli.main(["verdict", "--data", data, "--seeds", "1", "2", "--out", str(out), *FAST]) == 0
    said = capsys.readouterr().out
    assert "8 runs (8 done)" in said and "jobs done" not in said
    assert cli.main(["verdict", "--resume", str(out)]) == 0  # the stored options: nothing to do either
    assert "8 runs (8 done)" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["wall_s"] == walls
    assert len(json.loads((out / "manifest.json").read_text())["commands"]) == 1  # the same command, once


def test_verdicts_of_several_folders_merge_into_one_pairing_each_seed_within_a_folder(
    text_verdict: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A seed's systems measured in two folders (say a system added later, elsewhere) make one verdict, judged again;
    each comparison pairs a seed's systems within one file, so a pre-training trained again and not reproduced bit
    for bit is never paired with the other folder's systems; different experiments are refused."""
    whole = json.loads((text_verdict / "verdict.json").read_text())
    a, b = json.loads(json.dumps(whole)), json.loads(json.dumps(whole))
    del a["points"]["shuffled_reward"]["2"]  # a: everything but shuffled_reward's seed 2
    for name in b["points"]:  # b: seed 2 only (its seqgan and mle_es again)
        b["points"][name].pop("1", None)
    b["command"], b["commands"] = "seqgan verdict --second", ["seqgan verdict --second"]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    report = tmp_path / "merged"
    argv = ["verdict", "--report-from", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--report", str(report)]
    assert cli.main(argv) == 0
    merged = json.loads((report / "verdict.json").read_text())
    assert merged["points"] == whole["points"] and merged["frontiers"] == whole["frontiers"]
    assert merged["commands"][-1] == "seqgan verdict --second" and merged["seeds"] == [1, 2]
    text = (report / "results.md").read_text()
    assert ", then `seqgan verdict --second`, then `seqgan verdict --report-from" in text
    assert "Merged from 2 verdict files" in text and "not reproduced bit for bit" not in text

    # b's seed 2 trained again and not reproduced: shuffled_reward (in b only) is judged against b's mle_es and
    # seqgan; SeqGAN against mle_es keeps a's pair.
    for name in b["points"]:
        for pts in b["points"][name]["2"].values():
            pts["eval/bleu4"] += {"mle_es": 0.05, "seqgan": -0.02}.get(name, 0.0)
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert cli.main(argv) == 0
    merged = json.loads((report / "verdict.json").read_text())
    rows = {(r["a"], r["b"]): r for r in merged["frontiers"][0]["comparisons"]}

    def gap(v: dict, x: str, y: str) -> float:
        f = ("eval/self_bleu4", "eval/bleu4")
        pts = [sorted((p["alpha"], p[f[0]], -p[f[1]]) for p in v["points"][n]["2"].values()) for n in (x, y)]
        return matched_gap(*pts)

    assert rows["shuffled_reward", "mle_es"]["gaps"][1] == pytest.approx(gap(b, "shuffled_reward", "mle_es"))
    assert rows["seqgan", "shuffled_reward"]["gaps"][1] == pytest.approx(gap(b, "seqgan", "shuffled_reward"))
    assert rows["seqgan", "mle_es"]["gaps"] == next(
        r["gaps"] for r in whole["frontiers"][0]["comparisons"] if (r["a"], r["b"]) == ("seqgan", "mle_es")
    )
    assert merged["points"]["mle_es"]["2"] == whole["points"]["mle_es"]["2"]  # tables: the first file's
    text = (report / "results.md").read_text()
    assert "bit for bit: mle_es seed 2 (largest difference 0.0500); seqgan seed 2 (largest difference 0.0200)." in text
    # A merge of that merge and another file pairs the seeds as before (its points alone would mix the two files).
    again = ["verdict", "--report-from", str(report / "verdict.json"), str(tmp_path / "a.json")]
    assert cli.main([*again, "--report", str(tmp_path / "again")]) == 0
    again_v = json.loads((tmp_path / "again" / "verdict.json").read_text())
    assert again_v["frontiers"] == merged["frontiers"]
    assert again_v["runs"]["elapsed_s"] == pytest.approx(merged["runs"]["elapsed_s"] + a["runs"]["elapsed_s"])

    before = {p: p.read_bytes() for p in report.rglob("*")}
    b["preset"] = "text"
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert "has preset 'text'" in _error(capsys, argv[1:])
    b["preset"], b["data"]["identity"] = a["preset"], "another corpus"
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert "measured on other data" in _error(capsys, argv[1:])
    assert {p: p.read_bytes() for p in report.rglob("*")} == before


def test_a_measurement_still_going_on_is_left_out_of_the_report(text_verdict: Path, tmp_path: Path) -> None:
    """A system measured at a few temperatures so far (its job still running) would give a gap over the little
    diversity range it covers; the report waits for all of them."""
    out = tmp_path / "v"
    shutil.copytree(text_verdict, out)
    f = out / "seed2" / "shuffled_reward" / "measure.json"
    partial = json.loads(f.read_text())
    partial["points"] = dict(list(partial["points"].items())[:2])
    f.write_text(json.dumps(partial))
    assert cli.main(["verdict", "--runs", str(out), "--report", str(tmp_path / "r")]) == 0
    v = json.loads((out / "verdict.json").read_text())
    assert sorted(v["points"]["shuffled_reward"]) == ["1"] and sorted(v["points"]["seqgan"]) == ["1", "2"]


def test_a_system_against_itself_is_indistinguishable_and_a_worse_one_is_found_worse(tmp_path: Path) -> None:
    """``same`` is SeqGAN's own config, forked: its curves are SeqGAN's, gap 0 on every seed. ``noisy`` spends the
    adversarial epochs on plain-SGD steps of a constant reward (a random walk of the weights away from the
    maximum-likelihood fit): it must lose to the early-stopped MLE it starts from. Two workers: runs trained in
    other processes give the same numbers (``same`` equals SeqGAN to the bit)."""
    out = tmp_path / "v"
    argv = ["verdict", "--oracle", "--preset", "tiny", "--seeds", "1", "2", "3", "--out", str(out), "--num-samples"]
    argv += ["128", "--systems", "--system", "same", "adversarial.rollout_num=4", "--system", "noisy"]
    argv += ["adversarial.reward=constant", "adversarial.g_optimizer=sgd", "adversarial.g_lr=0.1", "--workers", "2"]
    assert cli.main(argv) == 0
    v = json.loads((out / "verdict.json").read_text())
    rows = {(r["a"], r["b"]): r for r in v["frontiers"][0]["comparisons"]}
    same = rows["same", "seqgan"]
    assert same["verdict"] == "indistinguishable" and same["gaps"] == [0.0, 0.0, 0.0] and same["p"] == 1.0
    noisy = rows["noisy", "mle_es"]
    assert noisy["verdict"] == "worse" and min(noisy["gaps"]) > 0.1 and noisy["p"] < 0.05
    text = (out / "results.md").read_text()
    assert "| same | SeqGAN | 3 | +0.000 ± 0.000 | +0.000, +0.000, +0.000 | 1 | **indistinguishable** |" in text
    assert "- noisy against early-stopped MLE: worse" in text


def _phase(run: Path) -> str | None:
    from seqgan.train.checkpoint import latest_checkpoint

    ckpt = latest_checkpoint(run / "checkpoints") if (run / "checkpoints").is_dir() else None
    return None if ckpt is None else ckpt["state"]["phase"]


def _adversarial_epochs(run: Path) -> int:
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return sum('"g/pg_loss"' in line for line in lines[:-1])  # the last line may be half written


def test_resume_after_a_kill_trains_nothing_twice(tmp_path: Path) -> None:
    out = tmp_path / "v"
    argv = ["verdict", "--oracle", "--preset", "tiny", "--seeds", "1", "2", "--out", str(out), "--num-samples", "32"]
    argv += ["--systems", "shuffled_reward", "--set", "adversarial.epochs=8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "seqgan", *argv], cwd=tmp_path, env=env, stdout=subprocess.PIPE)
    fork = out / "seed1" / "shuffled_reward"
    deadline = time.monotonic() + 300
    while _adversarial_epochs(fork) < 2:  # killed in the middle of the fork's adversarial epochs
        assert proc.poll() is None and time.monotonic() < deadline, "the fork never started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no chance to save: the last checkpoint is all there is
    proc.wait()
    source = out / "seed1" / "seqgan"
    assert _phase(source) == "done"
    kept = {p: p.read_bytes() for p in [source / "metrics.jsonl", source / "checkpoints" / "last.pt"]}
    interrupted = [json.loads(x) for x in (fork / "metrics.jsonl").read_text().splitlines()]

    done = subprocess.run(
        [sys.executable, "-m", "seqgan", *argv], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(p.read_bytes() == b for p, b in kept.items())  # the finished SeqGAN run was not trained again
    assert "seed 1 seqgan" not in done.stdout and "seed 1 shuffled_reward: trained" in done.stdout
    events = [json.loads(x) for x in (fork / "metrics.jsonl").read_text().splitlines()]
    adversarial = [e["epoch"] for e in events if e.get("phase") == "adversarial" and "g/pg_loss" in e]
    assert adversarial == list(range(1, 9))  # every epoch once: resumed, not restarted, none repeated
    assert 2 <= len([e for e in interrupted if "g/pg_loss" in e]) < 8
    again = subprocess.run(
        [sys.executable, "-m", "seqgan", *argv], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "4 runs (4 done)" in again.stdout and "jobs done" not in again.stdout


def test_bad_input_is_one_line_and_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _prepare(tmp_path)
    (tmp_path / "raw").mkdir()
    assert "is not a prepared data directory" in _error(
        capsys, ["--data", str(tmp_path / "raw"), "--preset", "tiny", "--out", str(tmp_path / "o")]
    )
    assert "does not fit" in _error(
        capsys, ["--data", str(data), "--preset", "music-cpu", "--out", str(tmp_path / "o")]
    )
    assert "made for prepared data" in _error(
        capsys, ["--oracle", "--preset", "coco-cpu", "--out", str(tmp_path / "o")]
    )
    err = _error(capsys, ["--oracle", "--preset", "tiny", "--seeds", "1", "--out", str(tmp_path / "o")])
    assert "at least 2 seeds" in err and "--allow-one-seed" in err
    base = ["--oracle", "--preset", "tiny", "--seeds", "1", "2", "--out", str(tmp_path / "o")]
    assert "system x:" in _error(capsys, [*base, "--system", "x", "adversarial.nope=1"])
    assert "pretrain.g_epochs cannot differ" in _error(capsys, [*base, "--system", "x", "pretrain.g_epochs=1"])
    assert "system x:" in _error(capsys, [*base, "--system", "x", "adversarial.rollout_num=zero"])
    assert "built-in system" in _error(capsys, [*base, "--system", "seqgan", "adversarial.g_lr=0.1"])
    assert not (tmp_path / "o").exists()  # refused before anything was written

    # Runs of two oracles mixed in --runs; and a rerun with other options into a folder: refused, nothing lost.
    folders = []
    for k in (0, 1):
        folder = tmp_path / f"oracle{k}"
        one = ["verdict", "--oracle", "--preset", "tiny", "--seeds", str(k + 1), "--allow-one-seed", "--systems"]
        one += ["--num-samples", "32", "--set", f"data.oracle_seed={k}", "--set", "adversarial.epochs=1"]
        assert cli.main([*one, "--out", str(folder)]) == 0
        folders.append(folder)
    assert "One seed: the verdict needs at least 2" in (folders[0] / "results.md").read_text()
    same = tmp_path / "same-oracle"  # seed 2 on folder 0's oracle: the two folders make one verdict
    one = ["verdict", "--oracle", "--preset", "tiny", "--seeds", "2", "--allow-one-seed", "--systems", "--out"]
    one += [str(same), "--num-samples", "32", "--set", "data.oracle_seed=0", "--set", "adversarial.epochs=1"]
    assert cli.main(one) == 0
    assert cli.main(["verdict", "--runs", str(folders[0]), str(same), "--report", str(tmp_path / "both")]) == 0
    both = json.loads((folders[0] / "verdict.json").read_text())
    assert both["seeds"] == [1, 2] and len(both["frontiers"][0]["comparisons"][0]["gaps"]) == 2
    before = {p: p.read_bytes() for p in folders[0].rglob("*") if p.is_file()}
    err = _error(capsys, ["--runs", *map(str, folders), "--report", str(tmp_path / "mixed")])
    assert "mixes runs of different data or oracles" in err
    err = _error(capsys, ["--oracle", "--preset", "tiny", "--seeds", "1", "--allow-one-seed", "--out", str(folders[0])])
    assert "holds a verdict made with" in err
    assert {p: p.read_bytes() for p in folders[0].rglob("*") if p.is_file()} == before
    assert "not a seqgan-verdict" in _error(
        capsys, ["--report-from", str(folders[0] / "manifest.json"), "--report", str(tmp_path / "r")]
    )
    shutil.rmtree(tmp_path / "mixed", ignore_errors=True)


def test_labelled_text_gets_label_accuracy_verdicts_and_one_judge_per_measured_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labelled data: every system's label accuracy at temperature 1, paired by seed, and per-label numbers; the CNN
    judge is trained once per measured run, not once per temperature."""
    import seqgan.train.portable as portable

    r = random.Random(0)
    rows = [
        f"{k}\t{r.choice(['a', 'the'])} {w} {r.choice(['runs', 'sits'])}" for k, w in (("pos", "cat"), ("neg", "dog"))
    ]
    (tmp_path / "reviews.tsv").write_text("\n".join(r.choice(rows) for _ in range(300)))
    data = tmp_path / "data"
    assert cli.main(["prepare", str(tmp_path / "reviews.tsv"), "--out", str(data), "--labels", "tab"]) == 0
    trained = []
    real = portable.train_label_classifier
    monkeypatch.setattr(portable, "train_label_classifier", lambda *a, **k: trained.append(1) or real(*a, **k))
    out = tmp_path / "v"
    argv = ["verdict", "--data", str(data), "--seeds", "1", "2", "--out", str(out), "--systems", "--no-lm"]
    assert cli.main([*argv, "--preset", "tiny", "--num-samples", "32", "--set", "adversarial.epochs=1"]) == 0
    assert len(trained) == 4  # mle_es and SeqGAN of 2 seeds, 7 temperatures each
    v = json.loads((out / "verdict.json").read_text())
    assert v["labels"] == ["neg", "pos"]
    acc = v["label_accuracy"][0]
    assert (acc["a"], acc["b"]) == ("seqgan", "mle_es") and len(acc["gaps"]) == 2
    seqgan, mle_es = (v["points"][n] for n in ("seqgan", "mle_es"))
    assert acc["gaps"] == [seqgan[s]["1"]["eval/label_acc"] - mle_es[s]["1"]["eval/label_acc"] for s in ("1", "2")]
    text = (out / "results.md").read_text()
    assert "## Labels (temperature 1)" in text and "| neg |" in text and "| pos |" in text


def test_dry_run_prints_the_budget_and_trains_nothing_then_resume_trains_from_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "v"
    monkeypatch.chdir(tmp_path)  # relative paths: --resume finds them from another folder
    argv = ["verdict", "--oracle", "--preset", "tiny", "--seeds", "1", "2", "--out", "v", "--dry-run", "--json"]
    argv += ["--num-samples", "32", "--set", "adversarial.epochs=1"]
    capsys.readouterr()
    assert cli.main(argv) == 0
    said = capsys.readouterr().out
    plan = json.loads(said.strip().splitlines()[-1])
    assert plan["plan"] == [
        f"seed{s}/{n}" for s in (1, 2) for n in ("seqgan", "mle", "shuffled_reward", "constant_reward")
    ]
    assert "8 runs (0 done)" in said and plan["epoch_times"]["adv_epoch_s"] > 0
    assert not (out / "seed1").exists()  # nothing trained; the epoch times are kept for the real run
    assert json.loads((out / "manifest.json").read_text())["epoch_times"] == plan["epoch_times"]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.main(["verdict", "--resume", str(out)]) == 0
    said = capsys.readouterr().out
    assert "measuring the epoch times" not in said and "8/8 jobs done" in said
    assert (out / "results.md").is_file() and not (tmp_path / "elsewhere" / "v").exists()
    commands = json.loads((out / "manifest.json").read_text())["commands"]  # the dry run trained nothing
    assert len(commands) == 1 and "--dry-run" not in commands[0]


def test_without_matplotlib_the_report_has_every_number_and_says_how_to_draw(tmp_path: Path) -> None:
    code = "import sys\nsys.modules['matplotlib'] = None\nfrom seqgan.cli import main\nsys.exit(main(sys.argv[1:]))"
    argv = ["verdict", "--oracle", "--preset", "tiny", "--seeds", "1", "2", "--systems", "--out", "v"]
    argv += ["--num-samples", "16", "--set", "adversarial.epochs=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / "v" / "results.md").read_text()
    assert "| SeqGAN | MLE, early-stopped | 2 |" in text and "pip install 'seqgan[plot]'" in text
    assert not list((tmp_path / "v").glob("*.png"))


def test_the_plan_compares_what_the_benchmarks_compare_and_the_budget_is_runs_times_epochs() -> None:
    from seqgan import presets
    from seqgan.tools.verdict.jobs import pretrains_own_d, run_seconds
    from seqgan.tools.verdict.systems import make_plan, parse_user_system

    base = presets.get("demo")
    plan = make_plan(base, ["mle", "shuffled_reward", "sgd"], [parse_user_system(["lr", "adversarial.g_lr=0.001"])])
    assert plan.trained == ["seqgan", "mle", "shuffled_reward", "sgd", "lr"]
    assert plan.comparisons() == [
        ("seqgan", "mle_es"),
        ("seqgan", "mle"),
        ("seqgan", "shuffled_reward"),
        ("seqgan", "sgd"),
        ("shuffled_reward", "mle_es"),
        ("sgd", "mle_es"),
        ("lr", "mle_es"),
        ("lr", "seqgan"),
        ("mle", "mle_es"),
    ]
    assert plan.configs["sgd"].adversarial.g_lr == 1.7 and plan.configs["lr"].adversarial.g_lr == 0.001
    assert plan.configs["seqgan"].adversarial.g_lr == base.adversarial.g_lr
    times = {"mle_epoch_s": 2.0, "d_round_s": 3.0, "adv_epoch_s": 5.0}
    pre, adv = base.pretrain, base.adversarial
    assert run_seconds(plan.configs["seqgan"], times, True) == pre.g_epochs * 2 + pre.d_steps * 3 + adv.epochs * 5
    assert run_seconds(plan.configs["mle"], times, False) == adv.epochs * 2  # MLE epochs in place of adversarial
    assert run_seconds(plan.configs["sgd"], times, False) == adv.epochs * 5
    # a fork with another D pre-trains it from the end of MLE: its D rounds count
    dense = make_plan(base, ["dense", "shuffled_reward"], [])
    assert pretrains_own_d(dense.configs["dense"], dense.configs["seqgan"])
    assert not pretrains_own_d(dense.configs["shuffled_reward"], dense.configs["seqgan"])
    assert run_seconds(dense.configs["dense"], times, False, True) == adv.epochs * 5 + pre.d_steps * 3


def test_progress_eta_scales_the_estimates_by_the_jobs_done() -> None:
    from seqgan.tools.verdict.jobs import Job, Progress

    first = Job(
        1, "seqgan", Path("a"), {}, None, [(Path("m"), Path("a"), "pretrained", 0), (Path("a"), Path("a"), "last", 0)]
    )
    fork = Job(1, "mle", Path("b"), {}, Path("a"), [(Path("b"), Path("b"), "last", 0)])
    first.estimate_s, fork.estimate_s = 5.0, 5.0
    said: list[str] = []
    progress = Progress([first, fork], [], 1, said.append)
    progress.finished(first, {"trained": True, "train_s": 10.0, "measure_s": 4.0})
    # training took twice its estimate (5 s -> 10 s left for the fork), a measurement 2 s (one left): 12 s
    assert "1/2 jobs done" in said[0] and "measured 4 s" in said[0] and said[0].endswith("about 12 s left")


def test_the_fixes_for_a_saturated_d_are_judged_against_mle_and_their_own_shuffled_control() -> None:
    from seqgan import presets
    from seqgan.tools.verdict.systems import make_plan

    plan = make_plan(presets.get("demo"), ["centred", "centred_shuffled", "dense", "dense_shuffled", "drs"], [])
    assert plan.trained == ["seqgan", "centred", "centred_shuffled", "dense", "dense_shuffled"]  # drs: measured only
    pairs = plan.comparisons()
    for fix in ("centred", "dense", "drs"):
        assert (fix, "mle_es") in pairs
    assert ("centred", "centred_shuffled") in pairs and ("dense", "dense_shuffled") in pairs
    assert plan.configs["dense"].discriminator.kind == "lstm"  # a fork that pre-trains its own D (mle.pt)
    assert plan.configs["dense_shuffled"].adversarial.reward_shuffle
    assert plan.systems["drs"].resample == 16 and not plan.systems["drs"].trained
