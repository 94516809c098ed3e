"""Hardening, round 3 (issue 28): the files the project reads (JSON of every kind, the LM cache, exports, a run's
oracle and labels) are refused in one line or repaired, never a traceback and never a silently wrong number."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from helpers import ok, user_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgan import cli
from seqgan.eval.lm import LMSettings, data_key, forward_lm

QUICK = settings(
    max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
LONG = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
TINY = ["--preset", "tiny", "--no-progress"]
SHORT = ["pretrain.g_epochs=1", "pretrain.d_steps=1", "adversarial.epochs=1", "eval.num_samples=16"]


def _sets(*sets: str) -> list[str]:
    return sum((["--set", s] for s in sets), [])


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()  # sample writes to stdout's bytes
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    out.flush()
    return code, out.buffer.getvalue().decode(), err.getvalue()


def _success_or_one_line(argv: list[str]) -> int:
    code, _, err = _run_cli(argv)
    assert "Traceback" not in err, err
    if code != 0:
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, (code, err)
    return code


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> dict[str, Path]:
    """A labelled text run, its export, a Transformer run and its export, the shared oracle run's export and the
    prepared data (read only by the tests: a test that changes one copies it)."""
    d = tmp_path_factory.mktemp("round3")
    rng = random.Random(0)
    words = {"rain": "wet grey cold drops", "sun": "warm bright dry light", "wind": "gust blow cold air"}
    lines = [
        f"{label}\t{' '.join(rng.choice(w.split()) for _ in range(rng.randint(3, 5)))}"
        for _ in range(40)
        for label, w in words.items()
    ]
    (d / "w.tsv").write_text("\n".join(lines) + "\n")
    assert cli.main(["prepare", str(d / "w.tsv"), "--out", str(d / "data"), "--labels", "tab"]) == 0
    paths = {"data": d / "data", "oracle_run": tiny_run}
    argv = ["train", *TINY, "--data", str(d / "data"), "--out-dir", str(d / "labelled")]
    assert cli.main(argv + _sets(*SHORT)) == 0
    transformer = ["generator.kind=transformer", "generator.emb_dim=16", "generator.ff_dim=32"]
    argv = ["train", *TINY, "--data", str(d / "data"), "--out-dir", str(d / "transformer")]
    assert cli.main(argv + _sets(*SHORT, *transformer)) == 0
    for name, run in (("labelled", d / "labelled"), ("transformer", d / "transformer"), ("oracle", tiny_run)):
        paths[f"{name}_run"] = run
        assert cli.main(["export", str(run), "--out", str(d / f"{name}_export")]) == 0
        paths[f"{name}_export"] = d / f"{name}_export"
    return paths


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _edit_json(path: Path, edit) -> None:
    obj = json.loads(path.read_text(encoding="utf-8"))
    edit(obj)
    path.write_text(json.dumps(obj), encoding="utf-8")


# ------------------------------------------------------------------ every JSON the project reads
# (file, kind of folder, command): sample reads a run's or an export's config, model.json and vocab.json; train
# reads a prepared directory's manifest and vocabulary; plot reads metrics.jsonl.
JSON_FILES = [
    ("config.json", "labelled_run", "sample"),
    ("vocab.json", "labelled_run", "sample"),
    ("config.json", "labelled_export", "sample"),
    ("model.json", "labelled_export", "sample"),
    ("vocab.json", "labelled_export", "sample"),
    ("manifest.json", "data", "train"),
    ("vocab.json", "data", "train"),
    ("metrics.jsonl", "oracle_run", "plot"),
]


def _command(kind: str, folder: Path, tmp: Path) -> list[str]:
    if kind == "sample":
        return ["sample", str(folder), "--num-samples", "3"]
    if kind == "plot":
        return ["plot", str(folder), "--out", str(tmp / "curves.png")]
    return ["train", *TINY, "--data", str(folder), "--out-dir", str(tmp / "new"), *_sets(*SHORT)]


@pytest.mark.parametrize(("name", "where", "kind"), JSON_FILES)
def test_deeply_nested_json_is_one_line(built, tmp_path: Path, name: str, where: str, kind: str, capsys) -> None:
    folder = _copy(built[where], tmp_path)
    (folder / name).write_text("[" * 100_000 + "]" * 100_000)
    if kind == "plot":  # a log line nested too deeply is left out like any malformed line, the rest is drawn
        with (folder / name).open("a") as f:
            f.write("\n" + (built[where] / name).read_text())
        ok(capsys, _command(kind, folder, tmp_path))
        return
    assert "damaged" in user_error(capsys, _command(kind, folder, tmp_path))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _mutations(draw_value, original: object) -> object:
    """``original`` (a JSON object) with one key's value replaced by ``draw_value``, or ``draw_value`` itself."""
    if isinstance(original, dict) and original and random.random() < 0.8:
        obj = json.loads(json.dumps(original))
        section = random.choice(sorted(obj))
        if isinstance(obj[section], dict) and obj[section] and random.random() < 0.7:
            obj[section][random.choice(sorted(obj[section]))] = draw_value
        else:
            obj[section] = draw_value
        return obj
    return draw_value


def _fuzz_json(built, where: str, name: str, kind: str, value: object, seed: int) -> None:
    random.seed(seed)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "x"
        shutil.copytree(built[where], folder)
        if name == "metrics.jsonl":
            lines = (folder / name).read_text().splitlines()
            lines[random.randrange(len(lines))] = json.dumps(value)
            (folder / name).write_text("\n".join(lines) + "\n")
        else:
            obj = _mutations(value, json.loads((folder / name).read_text()))
            (folder / name).write_text(json.dumps(obj))
        _success_or_one_line(_command(kind, folder, Path(d)))


@QUICK
@given(st.sampled_from(JSON_FILES), json_values, st.integers(0, 2**32))
def test_fuzz_every_json_the_project_reads(built, case, value, seed) -> None:
    name, where, kind = case
    _fuzz_json(built, where, name, kind, value, seed)


@pytest.mark.slow
@LONG
@given(st.sampled_from(JSON_FILES), json_values, st.integers(0, 2**32))
def test_fuzz_every_json_the_project_reads_long(built, case, value, seed) -> None:
    name, where, kind = case
    _fuzz_json(built, where, name, kind, value, seed)


# ------------------------------------------------------------------ the LM cache is rebuilt, never trusted
V, T = 12, 6
LM = LMSettings(emb_dim=8, hidden_dim=8, max_epochs=1, batch_size=32)


def _lm_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(3, V, (80, T), generator=g)
    return rows[:60], rows[60:]


def _damage_bad_pickle(path: Path) -> None:
    path.write_bytes(b"\x80\x04cos\nsystem\n(S'true'\ntR.")


def _damage_key(path: Path) -> None:
    saved = torch.load(path, weights_only=True)
    del saved["record"]
    torch.save(saved, path)


def _damage_shape(path: Path) -> None:
    saved = torch.load(path, weights_only=True)
    saved["state"]["out.weight"] = torch.zeros(3, 3)
    torch.save(saved, path)


def _damage_nan(path: Path) -> None:
    saved = torch.load(path, weights_only=True)
    saved["state"]["out.weight"].fill_(float("nan"))
    torch.save(saved, path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"not a cache"),
        lambda p: p.write_bytes(p.read_bytes()[:100]),
        _damage_bad_pickle,
        _damage_key,
        _damage_shape,
        _damage_nan,
    ],
    ids=["garbage", "truncated", "pickle", "key", "shape", "nan"],
)
def test_a_damaged_lm_cache_is_rebuilt_in_one_line(tmp_path: Path, damage, caplog) -> None:
    train, valid = _lm_data()
    lm, record = forward_lm(train, valid, V, 1, None, cache_dir=tmp_path, settings=LM)
    path = tmp_path / f"lm-{data_key(train, valid, settings=LM)}.pt"
    damage(path)
    with caplog.at_level(logging.WARNING, logger="seqgan"):
        again, record2 = forward_lm(train, valid, V, 1, None, cache_dir=tmp_path, settings=LM)
    assert [r.getMessage() for r in caplog.records] == [
        f"the LM cache {path} is damaged: training the LM again to replace it"
    ]
    assert "weights_only" not in caplog.text
    assert record2 == record  # the same seed: the same LM again
    for key, value in lm.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)
    caplog.clear()
    forward_lm(train, valid, V, 1, None, cache_dir=tmp_path, settings=LM)  # repaired: read without a word
    assert not caplog.records


def test_an_lm_cache_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    from seqgan.errors import UserError

    (tmp_path / "cache").write_text("x")
    train, valid = _lm_data()
    with pytest.raises(UserError, match="is a file, not a folder"):
        forward_lm(train, valid, V, 1, None, cache_dir=tmp_path / "cache", settings=LM)


# ------------------------------------------------------------------ exports: model.json, sizes, weights
@pytest.mark.parametrize("epoch", ["3", 2.5, None, True, -1, [1]])
def test_a_non_integer_epoch_in_model_json_is_one_line(built, tmp_path: Path, epoch, capsys) -> None:
    model = _copy(built["oracle_export"], tmp_path)
    _edit_json(model / "model.json", lambda m: m.update(epoch=epoch))
    assert "model.json is damaged" in user_error(capsys, ["sample", str(model), "--num-samples", "2"])


def test_a_huge_vocab_size_in_an_export_is_refused_before_allocating(built, tmp_path: Path, capsys) -> None:
    model = _copy(built["oracle_export"], tmp_path)
    _edit_json(model / "config.json", lambda c: c["data"].update(vocab_size=10**10))
    (model / "oracle.npz").unlink()  # else the oracle's vocabulary is the first to disagree
    err = user_error(capsys, ["sample", str(model), "--num-samples", "2"])
    assert "GiB of memory" in err and "config.json was edited" in err


def test_an_export_without_model_json_is_told_to_export_again(built, tmp_path: Path, capsys) -> None:
    model = _copy(built["oracle_export"], tmp_path)
    (model / "model.json").unlink()
    err = user_error(capsys, ["sample", str(model)])
    assert "export the run again" in err and "resume" not in err


def test_checkpoint_is_honoured_for_exports(built, capsys) -> None:
    model = built["oracle_export"]  # exported from last
    assert "holds only the checkpoint it was exported from (last)" in user_error(
        capsys, ["eval", str(model), "--checkpoint", "best", "--num-samples", "4"]
    )
    assert "holds only" in user_error(capsys, ["sample", str(model), "--checkpoint", "whatever"])
    report = json.loads(ok(capsys, ["eval", str(model), "--num-samples", "4", "--json"]).splitlines()[-1])
    assert report["checkpoint"] == "last"


def _safetensors_header(path: Path) -> tuple[int, dict]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return n, json.loads(raw[8 : 8 + n])


def _write_header(path: Path, header: dict) -> None:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n :])


def test_relabelled_dtypes_and_nan_weights_are_refused(built, tmp_path: Path, capsys) -> None:
    model = _copy(built["oracle_export"], tmp_path)
    path = model / "generator.safetensors"
    original = path.read_bytes()
    _, header = _safetensors_header(path)
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = "I32"  # same size, other numbers
    _write_header(path, header)
    assert "int32, not the torch.float32 written" in user_error(capsys, ["sample", str(model)])
    import safetensors.torch

    path.write_bytes(original)
    with safetensors.safe_open(str(path), framework="pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()  # noqa: SIM118
    tensors[name] = tensors[name].clone().fill_(float("nan"))
    safetensors.torch.save_file(tensors, str(path), metadata=meta)
    assert "NaN or infinite weights" in user_error(capsys, ["sample", str(model)])


# ------------------------------------------------------------------ configs edited after training
@pytest.mark.parametrize("where", ["transformer_run", "transformer_export"])
@pytest.mark.parametrize(("key", "value"), [("heads", 4), ("positions", "sinusoidal")])
def test_editing_a_transformer_s_config_is_refused(built, tmp_path: Path, where, key, value, capsys) -> None:
    folder = _copy(built[where], tmp_path)
    _edit_json(folder / "config.json", lambda c: c["generator"].update({key: value}))
    err = user_error(capsys, ["sample", str(folder), "--num-samples", "2"])
    assert f"generator.{key}" in err and "edited" in err


def test_an_oracle_of_another_run_is_refused(built, tmp_path: Path, capsys) -> None:
    from seqgan.models.oracle_file import random_oracle_params, save_oracle_params

    for where in ("oracle_run", "oracle_export"):
        folder = _copy(built[where], tmp_path / where)
        save_oracle_params(random_oracle_params(7, 4, 4, seed=1), folder / "oracle.npz")
        assert "another run's oracle" in user_error(capsys, ["eval", str(folder), "--num-samples", "4"])


@pytest.mark.parametrize("labels", [["rain", "sun"], ["rain", "sun", "wind", "snow"], None])
def test_a_label_list_that_does_not_fit_the_run_is_refused(built, tmp_path: Path, labels, capsys) -> None:
    for where in ("labelled_run", "labelled_export"):
        folder = _copy(built[where], tmp_path / where)

        def edit(v: dict) -> None:
            if labels is None:
                del v["labels"]
            else:
                v["labels"] = labels

        _edit_json(folder / "vocab.json", edit)
        err = user_error(capsys, ["sample", str(folder), "--num-samples", "6"])
        assert "labels but the models were trained with 3" in err


def test_the_shared_run_still_samples(built, capsys) -> None:
    for where in ("labelled_run", "labelled_export", "transformer_export", "oracle_export"):
        assert len(ok(capsys, ["sample", str(built[where]), "--num-samples", "3"]).splitlines()) == 3


# ------------------------------------------------------------------ every file of a run or an export, damaged
FOLDERS = ["oracle_run", "labelled_run", "labelled_export", "transformer_export", "oracle_export"]
damages = st.sampled_from(["empty", "truncate", "flip", "random", "zeros"])


def _damage_file(path: Path, how: str, where: float, rnd: random.Random) -> None:
    raw = path.read_bytes()
    at = int(where * max(len(raw) - 1, 0))
    if how == "empty":
        raw = b""
    elif how == "truncate":
        raw = raw[:at]
    elif how == "flip" and raw:
        raw = raw[:at] + bytes([raw[at] ^ (1 << rnd.randrange(8))]) + raw[at + 1 :]
    elif how == "random":
        raw = rnd.randbytes(rnd.randrange(1, 256))
    else:
        raw = raw[:at] + b"\0" * min(64, len(raw) - at) + raw[at + 64 :]
    path.write_bytes(raw)


def _fuzz_files(built, where: str, pick: int, how: str, at: float, seed: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "x"
        shutil.copytree(built[where], folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".lock")
        _damage_file(files[pick % len(files)], how, at, random.Random(seed))
        _success_or_one_line(["sample", str(folder), "--num-samples", "3"])
        _success_or_one_line(["eval", str(folder), "--num-samples", "6", "--json"])


@QUICK
@given(st.sampled_from(FOLDERS), st.integers(0, 1000), damages, st.floats(0, 1), st.integers(0, 2**32))
def test_fuzz_every_file_of_a_run_or_an_export(built, where, pick, how, at, seed) -> None:
    _fuzz_files(built, where, pick, how, at, seed)


@pytest.mark.slow
@LONG
@given(st.sampled_from(FOLDERS), st.integers(0, 1000), damages, st.floats(0, 1), st.integers(0, 2**32))
def test_fuzz_every_file_of_a_run_or_an_export_long(built, where, pick, how, at, seed) -> None:
    _fuzz_files(built, where, pick, how, at, seed)


def test_resume_with_a_deeply_nested_config_is_one_line(tiny_run: Path, tmp_path: Path, capsys) -> None:
    run = _copy(tiny_run, tmp_path)
    (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "config.json is damaged" in user_error(capsys, ["train", "--resume", str(run)])


def test_resume_after_editing_positions_is_one_line(built, tmp_path: Path, capsys) -> None:
    run = _copy(built["transformer_run"], tmp_path)
    _edit_json(run / "config.json", lambda c: c["generator"].update(positions="sinusoidal"))
    _edit_json(run / "config.json", lambda c: c["adversarial"].update(epochs=2))
    assert "generator.positions" in user_error(capsys, ["train", "--resume", str(run)])
