"""Labelled data for conditional generation: `seqgan prepare --labels tab`, `seqgan prepare-midi --labels dirs`,
the label names in vocab.json, the label ids in each split file, stratified splits, and one-line user errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from helpers import ok, user_error

from seqgan import cli
from seqgan.data.labels import label_seed
from seqgan.data.prepared import load_prepared
from seqgan.data.text import prepare
from seqgan.data.vocab import UNK, Vocab
from seqgan.errors import UserError


def _file(tmp_path: Path, text: str, name: str = "in.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _bits(i: int, width: int = 6) -> str:
    """A line body made of two words, different for every i < 2**width ("one zero one ..."): held-out lines decode
    back exactly, since every word is seen in training."""
    return " ".join("one" if i >> b & 1 else "zero" for b in range(width))


def _split_of(n: int, seed: str, test: int, valid: int) -> tuple[list[int], list[int], list[int]]:
    """The positions of train, valid and test among a label's n lines, by the rule of the unlabelled split."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut_valid, cut_test = n - test - valid, n - test
    return sorted(order[:cut_valid]), sorted(order[cut_valid:cut_test]), sorted(order[cut_test:])


# --------------------------------------------------------------- vocabulary
def test_vocab_labels_json_round_trip_and_label_id() -> None:
    vocab = Vocab("ids", None, 10, labels=["jigs", "reels"])
    obj = vocab.to_json()
    assert obj["labels"] == ["jigs", "reels"] and Vocab.from_json(obj) == vocab
    assert (vocab.label_id("jigs"), vocab.label_id("reels")) == (0, 1)
    with pytest.raises(UserError) as exc:
        vocab.label_id("polka")
    assert str(exc.value) == (
        "label 'polka' is not one of this run's labels (jigs, reels): pass one of them, or --label all"
    )
    plain = Vocab("ids", None, 10)
    assert "labels" not in plain.to_json() and Vocab.from_json(plain.to_json()).labels is None
    with pytest.raises(UserError, match=r"^label 'jigs' was asked for, but this run's data has no labels: drop"):
        plain.label_id("jigs")


@pytest.mark.parametrize("bad", [[], ["a", "a"], ["a", ""], ["a", 1], "a", None, [["a"]], {"a": 0}])
def test_vocab_json_with_bad_labels_is_damaged(tmp_path: Path, bad: object) -> None:
    obj = {**Vocab("ids", None, 10).to_json(), "labels": bad}
    (tmp_path / "vocab.json").write_text(json.dumps(obj))
    with pytest.raises(UserError, match=r"vocab.json is damaged \(labels must be a non-empty list of distinct"):
        Vocab.load(tmp_path / "vocab.json")


# --------------------------------------------------------------- text: --labels tab
POS = [f"good {_bits(i)}" for i in range(40)]
NEG = [f"bad {_bits(i)}" for i in range(20)]


def _interleaved() -> tuple[str, list[tuple[str, str]]]:
    """40 pos and 20 neg lines, two pos then one neg, and a few lines that count as blank."""
    pairs = [p for k in range(20) for p in (("pos", POS[2 * k]), ("pos", POS[2 * k + 1]), ("neg", NEG[k]))]
    lines = [f"{label}\t{text}" for label, text in pairs]
    lines[5] = f"  neg \t{pairs[5][1]}"  # the label is stripped of surrounding spaces
    lines[10:10] = ["", "   ", "pos\t   "]  # blank lines, and a labelled line with a blank text: blank too
    return "\n".join(lines) + "\n", pairs


def test_labelled_text_round_trip_and_stratified_splits(tmp_path: Path) -> None:
    text, pairs = _interleaved()
    report = prepare(_file(tmp_path, text), tmp_path / "out", labels="tab", test_frac=0.1, valid_frac=0.1, seed=3)
    d = load_prepared(tmp_path / "out")
    assert d.labels == d.vocab.labels == ["neg", "pos"]
    assert json.loads((tmp_path / "out" / "vocab.json").read_text())["labels"] == ["neg", "pos"]
    # neg: 20 lines, 2 test (ceil 2.0), 2 valid (ceil 1.8); pos: 40 lines, 4 test, 4 valid (ceil 3.6)
    assert report["labels"] == {
        "neg": {"train": 16, "valid": 2, "test": 2},
        "pos": {"train": 32, "valid": 4, "test": 4},
    }
    assert (report["train_size"], report["valid_size"], report["test_size"]) == (48, 6, 6)
    assert report["dropped"]["blank"] == 3 and report["lines_kept"] == 60
    assert d.manifest["report"] == report and d.manifest["options"]["labels"] == "tab"
    # each label's lines split by its own seeded shuffle; each split keeps the file order
    expected = {"train": [], "valid": [], "test": []}
    for name in ("neg", "pos"):
        idx = [i for i, (label, _) in enumerate(pairs) if label == name]
        n_held = 2 if name == "neg" else 4
        for split, positions in zip(expected, _split_of(len(idx), label_seed(3, name), n_held, n_held), strict=True):
            expected[split] += [idx[j] for j in positions]
    for split, (tokens, ids) in {
        "train": (d.train, d.train_labels),
        "valid": (d.valid, d.valid_labels),
        "test": (d.test, d.test_labels),
    }.items():
        want = sorted(expected[split])
        assert [d.vocab.decode(row) for row in tokens] == [pairs[i][1] for i in want], split
        assert ids.dtype == torch.long and ids.tolist() == [["neg", "pos"].index(pairs[i][0]) for i in want], split
    saved = torch.load(tmp_path / "out" / "test.pt", weights_only=True)
    assert set(saved) == {"tokens", "lengths", "labels"} and torch.equal(saved["labels"], d.test_labels)
    again = prepare(_file(tmp_path, text), tmp_path / "again", labels="tab", test_frac=0.1, valid_frac=0.1, seed=3)
    assert again["labels"] == report["labels"] and torch.equal(load_prepared(tmp_path / "again").test, d.test)
    prepare(_file(tmp_path, text), tmp_path / "other", labels="tab", test_frac=0.1, valid_frac=0.1, seed=4)
    assert not torch.equal(load_prepared(tmp_path / "other").test, d.test)  # another seed, another draw


def test_unlabelled_data_has_no_labels_anywhere(tmp_path: Path) -> None:
    prepare(_file(tmp_path, "a b\nb c\nc d\n", "in.txt"), tmp_path / "out", test_frac=0.0, valid_frac=0.0)
    d = load_prepared(tmp_path / "out")
    assert (d.labels, d.train_labels, d.valid_labels, d.test_labels) == (None, None, None, None)
    assert "labels" not in d.manifest["report"] and "labels" not in d.manifest["options"]
    assert "labels" not in json.loads((tmp_path / "out" / "vocab.json").read_text())
    assert set(torch.load(tmp_path / "out" / "train.pt", weights_only=True)) == {"tokens", "lengths"}


def test_labelled_vocabulary_comes_from_the_training_lines_only(tmp_path: Path) -> None:
    """Every line holds one word of its own: exactly the training lines' words make the vocabulary, and every
    held-out line shows its own word as <unk>."""
    text = "".join(f"{'ab'[i % 2]}\tshared w{i}\n" for i in range(20))
    report = prepare(_file(tmp_path, text), tmp_path / "out", labels="tab", test_frac=0.2, valid_frac=0.25, seed=1)
    d = load_prepared(tmp_path / "out")
    train_words = {w for row in d.train for w in d.vocab.decode(row).split()}
    assert train_words == set(d.vocab.tokens[4:]) and len(train_words) == 1 + len(d.train) == 13
    assert all(row.tolist()[:2] == [4, UNK] for row in torch.cat([d.valid, d.test]))
    assert report["labels"] == {"a": {"train": 6, "valid": 2, "test": 2}, "b": {"train": 6, "valid": 2, "test": 2}}
    assert report["test_unk_rate"] == 0.5 and report["unk_rate"] == 0.0


def test_labelled_held_out_files_and_ids(tmp_path: Path) -> None:
    train = _file(tmp_path, "x\ta b\ny\tb c\nx\tc a\n\ny\ta a\n")
    test = _file(tmp_path, "y\tb b\n\nx\tq\n", "test.tsv")
    valid = _file(tmp_path, "x\ta\n", "valid.tsv")
    report = prepare(train, tmp_path / "out", labels="tab", test_file=test, valid_file=valid)
    d = load_prepared(tmp_path / "out")
    assert d.labels == ["x", "y"] and d.train_labels.tolist() == [0, 1, 0, 1]
    assert d.test_labels.tolist() == [1, 0] and d.valid_labels.tolist() == [0]
    assert d.vocab.decode(d.test[1]) == "<unk>" and report["test_dropped"]["blank"] == 1
    assert report["labels"] == {"x": {"train": 2, "valid": 1, "test": 1}, "y": {"train": 2, "valid": 0, "test": 1}}
    ids = _file(tmp_path, "b\t0 5 9\na\t3 3 3\nb\t9 0 1\n", "ids.tsv")
    prepare(ids, tmp_path / "ids", labels="tab", ids=True, vocab_size=10, test_frac=0.0, valid_frac=0.0)
    d = load_prepared(tmp_path / "ids")
    assert d.train.tolist() == [[0, 5, 9], [3, 3, 3], [9, 0, 1]] and d.train_labels.tolist() == [1, 0, 1]
    assert d.vocab.level == "ids" and d.labels == ["a", "b"]


LABEL_ERRORS = {
    "no tab": (
        "a\tx y\nx y\n",
        {},
        r"in\.tsv line 2 has no tab: with --labels tab every non-blank line is "
        r"LABEL<TAB>TEXT; put the line's label and a tab before its text, or drop --labels$",
    ),
    "empty label": ("a\tx y\n\n \tx z\n", {}, r"in\.tsv line 3 has an empty label before its tab: with --labels tab"),
    "unknown option": ("a\tx\n", {"labels": "csv"}, r"^--labels 'csv' is unknown: use --labels tab"),
    "the reserved label all": (
        "a\tx\nall\ty\n",
        {},
        r"in\.tsv line 2 has the label 'all', which `seqgan sample "
        r"--label all` reserves for every label at once: rename it$",
    ),
    "too few lines of a label": (
        "a\tx\n" * 10 + "b\tx\nb\ty\n",
        {"test_frac": 0.1, "valid_frac": 0.1},
        r"the label 'b' of .*in\.tsv has 2 usable line\(s\): holding out 1 test and 1 "
        r"validation line\(s\) leaves none to train on; lower --test-frac / --valid-frac "
        r"\(0 holds out none\), or add lines with that label$",
    ),
    "test file line without a tab": ("a\tx\n", {"test_file": "t.tsv", "valid_frac": 0.0}, r"t\.tsv line 2 has no tab"),
    "test file label unknown": (
        "a\tx\nb\ty\n",
        {"test_file": "u.tsv", "valid_frac": 0.0},
        r"u\.tsv line 1 has the label 'c', which .*in\.tsv never uses \(its labels: a, b\): "
        r"fix the label or drop the line$",
    ),
    "valid file label unknown": (
        "a\tx\nb\ty\n",
        {"valid_file": "u.tsv", "test_frac": 0.0},
        r"u\.tsv line 1 has the label 'c'",
    ),
}


@pytest.mark.parametrize("case", list(LABEL_ERRORS))
def test_labelled_text_errors(tmp_path: Path, case: str) -> None:
    text, kw, pattern = LABEL_ERRORS[case]
    _file(tmp_path, "a\tx\nx\n", "t.tsv")
    _file(tmp_path, "c\tx\n", "u.tsv")
    kw = {"labels": "tab", **kw}
    for key in ("test_file", "valid_file"):
        if key in kw:
            kw[key] = tmp_path / kw[key]
    with pytest.raises(UserError, match=pattern) as exc:
        prepare(_file(tmp_path, text), tmp_path / "out", **kw)
    assert "\n" not in str(exc.value) and not (tmp_path / "out").exists()


def test_cli_labels_tab(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _file(tmp_path, "".join(f"{'ba'[i % 3 == 0]}\t{_bits(i, 4)}\n" for i in range(12)))
    out = ok(capsys, ["prepare", str(src), "--out", str(tmp_path / "d"), "--labels", "tab", "--json"])
    report = json.loads(out.strip().splitlines()[-1])
    # a: 4 lines -> 1 test, 1 valid (ceil 0.3), 2 train; b: 8 lines -> 1 test, 1 valid (ceil 0.7), 6 train
    assert report["labels"] == {"a": {"train": 2, "valid": 1, "test": 1}, "b": {"train": 6, "valid": 1, "test": 1}}
    out = ok(capsys, ["prepare", str(src), "--out", str(tmp_path / "d"), "--labels", "tab", "--force"])
    assert "labels: a=2/1/1 b=6/1/1 (train/valid/test)\n" in out
    err = user_error(capsys, ["prepare", str(src), "--out", str(tmp_path / "e"), "--labels", "csv"])
    assert "invalid choice: 'csv'" in err
    bad = _file(tmp_path, "a\tx\nno tab here\n", "bad.tsv")
    err = user_error(capsys, ["prepare", str(bad), "--out", str(tmp_path / "e"), "--labels", "tab"])
    assert "bad.tsv line 2 has no tab" in err and not (tmp_path / "e").exists()
    err = user_error(
        capsys, ["prepare", str(src), "--out", str(tmp_path / "e"), "--labels", "tab", "--test-frac", "0.7"]
    )
    assert "the label 'a' of" in err and "has 4 usable line(s): holding out 3 test and 1 validation" in err


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("prepare", "  seqgan prepare reviews.tsv --out data/reviews --labels tab"),
        ("prepare-midi", "  seqgan prepare-midi music/ --out data/styles --labels dirs"),
    ],
)
def test_help_shows_a_labelled_example(capsys: pytest.CaptureFixture[str], command: str, example: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and example in out.split("\nexample:\n")[1]
    assert "--labels {tab}" in out if command == "prepare" else "--labels {dirs}" in out


# ------------------------------------------------------------- damaged data
def _labelled_dir(tmp_path: Path) -> Path:
    prepare(
        _file(tmp_path, "a\tx y\nb\ty z\na\tz x\nb\tx x\n"),
        tmp_path / "out",
        labels="tab",
        test_frac=0.0,
        valid_frac=0.0,
    )
    return tmp_path / "out"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda obj: obj.pop("labels"), id="no label ids"),
        pytest.param(lambda obj: obj.update(labels=obj["labels"].float()), id="float"),
        pytest.param(lambda obj: obj.update(labels=obj["labels"][:3]), id="short"),
        pytest.param(lambda obj: obj.update(labels=obj["labels"][None]), id="2-d"),
        pytest.param(lambda obj: obj.update(labels=torch.tensor([0, 1, 2, 0])), id="id 2 of 2 labels"),
        pytest.param(lambda obj: obj.update(labels=torch.tensor([0, -1, 1, 0])), id="negative"),
        pytest.param(lambda obj: obj.update(labels=[0, 1, 0, 1]), id="a list"),
    ],
)
def test_damaged_label_ids_are_refused(tmp_path: Path, change) -> None:
    out = _labelled_dir(tmp_path)
    assert load_prepared(out).train_labels.tolist() == [0, 1, 0, 1]
    obj = torch.load(out / "train.pt", weights_only=True)
    change(obj)
    torch.save(obj, out / "train.pt")
    with pytest.raises(UserError, match=r"train\.pt is damaged \(ValueError\): recreate it with `seqgan prepare"):
        load_prepared(out)


def test_labels_on_one_side_only_are_refused(tmp_path: Path) -> None:
    out = _labelled_dir(tmp_path)
    vocab = json.loads((out / "vocab.json").read_text())
    (out / "vocab.json").write_text(json.dumps({k: v for k, v in vocab.items() if k != "labels"}))
    with pytest.raises(UserError, match=r"train\.pt is damaged"):  # label ids, but no names
        load_prepared(out)
    (out / "vocab.json").write_text(json.dumps({**vocab, "labels": ["a", "a"]}))
    with pytest.raises(UserError, match=r"vocab\.json is damaged"):
        load_prepared(out)
    plain = tmp_path / "plain"
    prepare(_file(tmp_path, "x y\ny z\n", "in.txt"), plain, test_frac=0.0, valid_frac=0.0)
    (plain / "vocab.json").write_text(json.dumps({**json.loads((plain / "vocab.json").read_text()), "labels": ["a"]}))
    with pytest.raises(UserError, match=r"train\.pt is damaged"):  # names, but no label ids
        load_prepared(plain)


# -------------------------------------------------------------- MIDI: --labels dirs
def _tune(seed: int, beats: int = 40) -> bytes:
    """A one-track melody of one note per 0.4 s (384 ticks at 480 per beat and 120 BPM)."""
    mido = pytest.importorskip("mido")
    from seqgan.data.midi import midi_bytes

    rng, track = random.Random(seed), mido.MidiTrack()
    for _ in range(beats):
        pitch = rng.randrange(55, 80)
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=384))
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(track)
    return midi_bytes(mid)


def _music(tmp_path: Path, jigs: int = 10, reels: int = 5) -> Path:
    root = tmp_path / "music"
    for i in range(jigs):
        (root / "jigs").mkdir(parents=True, exist_ok=True)
        (root / "jigs" / f"j{i:02d}.mid").write_bytes(_tune(i))
    for i in range(reels):  # the last reel sits one folder deeper: its label is still the label folder's name
        folder = root / "reels" / ("more" if i == reels - 1 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"r{i:02d}.mid").write_bytes(_tune(100 + i))
    return root


def test_midi_labels_dirs_round_trip_and_stratified_split(tmp_path: Path) -> None:
    from seqgan.data.midi import prepare_midi

    root = _music(tmp_path)
    report = prepare_midi([root], tmp_path / "d", seq_len=16, test_frac=0.2, valid_frac=0.25, seed=2, labels="dirs")
    d = load_prepared(tmp_path / "d")
    assert d.labels == ["jigs", "reels"] and d.manifest["options"]["labels"] == "dirs"
    # 40 samples per tune -> 2 windows of 16; jigs: 10 tunes -> 2 test, 2 valid (ceil 0.25 x 8), 6 train;
    # reels: 5 tunes -> 1 test (ceil 1.0), 1 valid (ceil 1.0), 3 train
    assert report["label_tunes"] == {
        "jigs": {"train": 6, "valid": 2, "test": 2},
        "reels": {"train": 3, "valid": 1, "test": 1},
    }
    assert report["labels"] == {
        "jigs": {"train": 12, "valid": 4, "test": 4},
        "reels": {"train": 6, "valid": 2, "test": 2},
    }
    assert (len(d.train), len(d.valid), len(d.test)) == (18, 6, 6)
    names = {
        "jigs": sorted((root / "jigs").glob("*.mid"), key=str),
        "reels": sorted((root / "reels").rglob("*.mid"), key=str),
    }
    assert names["reels"][0].parent.name == "more"  # "more/r04.mid" sorts before "r00.mid"
    expected = {"train": [], "valid": [], "test": []}
    for name, held in (("jigs", (2, 2)), ("reels", (1, 1))):
        for split, positions in zip(expected, _split_of(len(names[name]), label_seed(2, name), *held), strict=True):
            expected[split] += [str(names[name][j]) for j in positions]
    tunes = d.manifest["tunes"]
    for split, ids in (("train", d.train_labels), ("valid", d.valid_labels), ("test", d.test_labels)):
        assert sorted(tunes[split]) == sorted(expected[split]), split
        assert ids.tolist() == [0 if "/jigs/" in t else 1 for t in tunes[split] for _ in range(2)], split


def test_midi_labels_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqgan.data.midi import prepare_midi

    root = _music(tmp_path, jigs=4, reels=1)
    out = tmp_path / "d"
    err = user_error(capsys, ["prepare-midi", str(root), "--out", str(out), "--labels", "dirs", "--seq-len", "16"])
    assert "the label 'reels' has only 1 usable tune(s): holding out 1 test and 1 validation tune(s)" in err
    assert "lower --test-frac / --valid-frac" in err and "add MIDI files to its folder reels/" in err
    single = root / "jigs" / "j00.mid"
    err = user_error(capsys, ["prepare-midi", str(single), "--out", str(out), "--labels", "dirs"])
    assert f"give folders holding one sub-folder per label, not the file {single}" in err
    (root / "loose.mid").write_bytes(_tune(7))
    err = user_error(capsys, ["prepare-midi", str(root), "--out", str(out), "--labels", "dirs"])
    assert f"{root / 'loose.mid'} lies directly in {root}: with --labels dirs each file sits in a sub-folder" in err
    assert "invalid choice: 'tab'" in user_error(
        capsys, ["prepare-midi", str(root), "--out", str(out), "--labels", "tab"]
    )
    with pytest.raises(UserError, match=r"^--labels 'names' is unknown: use --labels dirs"):
        prepare_midi([root], out, labels="names")
    assert not out.exists()
    (root / "loose.mid").unlink()
    ok(capsys, ["prepare-midi", str(root / "jigs"), "--out", str(out), "--seq-len", "16"])  # unlabelled: as before
    assert load_prepared(out).labels is None and load_prepared(out).train_labels is None
