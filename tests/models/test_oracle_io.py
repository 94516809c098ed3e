"""Tests for seqgan.models.oracle_file: the oracle parameter formats, the safe unpickler, validation."""

from __future__ import annotations

import codecs
import io
import os
import pickle
import pickletools
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from seqgan.errors import UserError
from seqgan.models.oracle_file import (
    PARAM_KEYS,
    expected_shapes,
    load_oracle_params,
    random_oracle_params,
    save_oracle_params,
)

V, E, H = 50, 8, 8
ALLOWED = {
    "numpy.core.multiarray _reconstruct",
    "numpy._core.multiarray _reconstruct",
    "numpy ndarray",
    "numpy dtype",
}

# Python 2 wrote str (raw bytes) as STRING opcodes with escapes; build the same bytes here.
_ESC = [bytes([b]) if 32 <= b < 127 and b not in b"\\'" else b"\\x%02x" % b for b in range(256)]


class _Py2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Protocol-0 pickler writing bytes/str as Python-2 ``S'...'`` strings, like the authors' file."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes | str) -> None:
        raw = obj if isinstance(obj, bytes) else obj.encode("ascii")
        self.write(b"S'" + b"".join(_ESC[b] for b in raw) + b"'\n")
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str


def _py2_pickle(obj: object) -> bytes:
    buf = io.BytesIO()
    _Py2StylePickler(buf, protocol=0).dump(obj)
    # numpy<2 (which wrote the authors' file) named the module numpy.core; write that name too.
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def _read_py2_string(f: io.BufferedIOBase) -> str:
    # pickletools decodes STRING args as ASCII and chokes on raw array bytes; latin-1 takes any byte.
    return codecs.escape_decode(f.readline()[:-1][1:-1])[0].decode("latin-1")


def _globals(data: bytes) -> set[str]:
    """Every global a protocol-0 pickle names (its GLOBAL and INST opcodes)."""
    original = pickletools.stringnl.reader
    pickletools.stringnl.reader = _read_py2_string
    try:
        found = {arg for op, arg, _ in pickletools.genops(data) if op.name in ("GLOBAL", "INST")}
    finally:
        pickletools.stringnl.reader = original
    return found


def _as_list(params: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [params[k] for k in PARAM_KEYS]


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(PARAM_KEYS) == list(b)
    for k in PARAM_KEYS:
        assert a[k].dtype == np.float32 and a[k].flags.c_contiguous
        assert np.array_equal(a[k], b[k]), k


@pytest.fixture
def params() -> dict[str, np.ndarray]:
    return random_oracle_params(V, E, H, seed=3)


def test_shapes_and_keys() -> None:
    assert len(PARAM_KEYS) == 15
    s = expected_shapes(5000, 32, 16)
    assert list(s) == list(PARAM_KEYS)
    assert s["embedding"] == (5000, 32) and s["W_f"] == (32, 16) and s["U_c"] == (16, 16)
    assert s["b_o"] == (16,) and s["W_out"] == (16, 5000) and s["b_out"] == (5000,)


def test_npz_round_trip(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    path = tmp_path / "oracle.npz"
    save_oracle_params(params, path)
    _assert_same(load_oracle_params(path), params)
    assert sorted(np.load(path, allow_pickle=False).files) == sorted(PARAM_KEYS)
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.npz"]  # no temp file left behind


def test_save_without_npz_suffix_keeps_name(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    path = tmp_path / "oracle.params"
    save_oracle_params(params, path)
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.params"]
    _assert_same(load_oracle_params(path), params)


def test_save_overwrites_and_casts_to_float32(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    path = tmp_path / "o.npz"
    save_oracle_params(random_oracle_params(V, E, H, seed=9), path)
    save_oracle_params({k: v.astype(np.float64) for k, v in params.items()}, path)
    _assert_same(load_oracle_params(path), params)


def test_save_to_missing_directory_is_user_error(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    with pytest.raises(UserError, match="cannot write"):
        save_oracle_params(params, tmp_path / "nope" / "o.npz")


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_python3_pickle_matches_npz(tmp_path: Path, params: dict[str, np.ndarray], protocol: int) -> None:
    npz, pkl = tmp_path / "o.npz", tmp_path / "target_params_py3.pkl"
    save_oracle_params(params, npz)
    pkl.write_bytes(pickle.dumps(_as_list(params), protocol=protocol))
    _assert_same(load_oracle_params(pkl), load_oracle_params(npz))


def test_python2_style_protocol0_pickle_matches_npz(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    data = _py2_pickle(_as_list(params))
    assert data.startswith(b"(lp0\n") and b"\nV" not in data  # Python-2 shape: no unicode opcodes
    # Exactly the globals found in the authors' file, so the test notices if the writer drifts.
    assert _globals(data) == {"numpy.core.multiarray _reconstruct", "numpy ndarray", "numpy dtype"}
    npz, pkl = tmp_path / "o.npz", tmp_path / "target_params.pkl"
    save_oracle_params(params, npz)
    pkl.write_bytes(data)
    _assert_same(load_oracle_params(pkl), load_oracle_params(npz))


def test_plain_protocol0_pickle_loads(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    # Python 3 protocol 0 stores bytes through _codecs.encode, which the loader maps to a latin-1 shim.
    data = pickle.dumps(_as_list(params), protocol=0)
    found = _globals(data)
    assert found <= ALLOWED | {"_codecs encode"} and {"numpy ndarray", "numpy dtype"} < found
    pkl = tmp_path / "p0.pkl"
    pkl.write_bytes(data)
    _assert_same(load_oracle_params(pkl), params)


def test_real_size_pickles(tmp_path: Path) -> None:
    params = random_oracle_params()  # 5000/32/32, the published oracle's shape
    p3, p0 = tmp_path / "py3.pkl", tmp_path / "py2.pkl"
    p3.write_bytes(pickle.dumps(_as_list(params), protocol=3))
    p0.write_bytes(_py2_pickle(_as_list(params)))
    _assert_same(load_oracle_params(p3), params)
    _assert_same(load_oracle_params(p0), params)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


class _EvilSystem:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("evil", [_Evil, _EvilSystem])
@pytest.mark.parametrize("protocol", [0, 3, 5])
def test_malicious_pickle_refused(tmp_path: Path, params: dict[str, np.ndarray], evil: type, protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = [*_as_list(params)[:14], evil(marker)]
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UserError) as info:
        load_oracle_params(pkl)
    assert not marker.exists()
    # tmp_path itself contains the test name, so match on the message after the path.
    word = "open" if evil is _Evil else "system"
    assert re.search(rf"refused to load pickle: it references [\w.]+\.{word}, ", str(info.value))


def test_codecs_shim_refuses_other_encodings(tmp_path: Path) -> None:
    data = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    (tmp_path / "c.pkl").write_bytes(data)
    with pytest.raises(UserError, match=r"refused _codecs\.encode\(str, 'rot13'\)"):
        load_oracle_params(tmp_path / "c.pkl")


def _write(path: Path, payload: object) -> Path:
    path.write_bytes(pickle.dumps(payload, protocol=3))
    return path


def test_wrong_number_of_arrays(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    with pytest.raises(UserError, match="14 items, expected a list of 15 arrays"):
        load_oracle_params(_write(tmp_path / "a.pkl", _as_list(params)[:14]))
    with pytest.raises(UserError, match="pickle holds dict"):
        load_oracle_params(_write(tmp_path / "b.pkl", {"x": 1}))


def test_transposed_w_out(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    lst = _as_list(params)
    lst[13] = lst[13].T
    with pytest.raises(UserError, match=r"W_out has shape \(50, 8\), expected \(8, 50\)"):
        load_oracle_params(_write(tmp_path / "t.pkl", lst))


def test_one_dimensional_embedding(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    lst = _as_list(params)
    lst[0] = lst[0].ravel()
    with pytest.raises(UserError, match="2-D"):
        load_oracle_params(_write(tmp_path / "e.pkl", lst))


def test_non_numeric_array(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    lst: list[object] = list(_as_list(params))
    lst[3] = np.array(["a"] * H)
    with pytest.raises(UserError, match="b_i .*numeric"):
        load_oracle_params(_write(tmp_path / "s.pkl", lst))
    lst[3] = "not an array"
    with pytest.raises(UserError, match="b_i is str"):
        load_oracle_params(_write(tmp_path / "s2.pkl", lst))


def test_missing_npz_key(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, **{k: v for k, v in params.items() if k != "U_f"})
    with pytest.raises(UserError, match="lacks key.*U_f"):
        load_oracle_params(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_value(tmp_path: Path, params: dict[str, np.ndarray], bad: float) -> None:
    params["b_c"][2] = bad
    path = tmp_path / "n.npz"
    np.savez(path, **params)
    with pytest.raises(UserError, match="b_c contains NaN"):
        load_oracle_params(path)


def test_float64_overflow_is_non_finite(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    big = {k: v.astype(np.float64) for k, v in params.items()}
    big["U_o"][0, 0] = 1e300
    np.savez(tmp_path / "big.npz", **big)
    with pytest.raises(UserError, match="U_o contains NaN or infinite"):
        load_oracle_params(tmp_path / "big.npz")


def test_object_array_in_npz_refused(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    obj = dict(params)
    obj["embedding"] = np.array([None], dtype=object)
    np.savez(tmp_path / "o.npz", **obj)
    with pytest.raises(UserError, match="corrupt.*allow_pickle"):
        load_oracle_params(tmp_path / "o.npz")


def test_empty_garbage_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(UserError, match="file is empty"):
        load_oracle_params(tmp_path / "empty.pkl")
    (tmp_path / "junk.pkl").write_bytes(bytes(range(255, 191, -1)) + b"not a pickle")
    with pytest.raises(UserError, match="corrupt|refused"):
        load_oracle_params(tmp_path / "junk.pkl")
    (tmp_path / "text.npz").write_text("hello world\n")
    with pytest.raises(UserError, match="corrupt"):
        load_oracle_params(tmp_path / "text.npz")
    with pytest.raises(UserError, match="No such file") as info:
        load_oracle_params(tmp_path / "absent.pkl")
    assert "seqgan oracle new" in str(info.value)
    with pytest.raises(UserError, match="Is a directory"):
        load_oracle_params(tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_files(tmp_path: Path, params: dict[str, np.ndarray], keep: float) -> None:
    good = tmp_path / "good.npz"
    save_oracle_params(params, good)
    lst = _as_list(params)
    for data in (good.read_bytes(), pickle.dumps(lst, protocol=3), _py2_pickle(lst)):
        cut = tmp_path / "cut"
        cut.write_bytes(data[: max(4, int(len(data) * keep))])
        with pytest.raises(UserError, match="corrupt or truncated") as info:
            load_oracle_params(cut)
        assert "\n" not in str(info.value) and str(info.value).startswith(str(cut))


def test_corrupt_npz_member(tmp_path: Path, params: dict[str, np.ndarray]) -> None:
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k in PARAM_KEYS:
            zf.writestr(f"{k}.npy", b"\x93NUMPY garbage")
    with pytest.raises(UserError, match="corrupt"):
        load_oracle_params(path)


def test_random_params_deterministic_and_normal() -> None:
    a, b, c = random_oracle_params(seed=1), random_oracle_params(seed=1), random_oracle_params(seed=2)
    _assert_same(a, b)
    assert not np.array_equal(a["embedding"], c["embedding"])
    shapes = expected_shapes(5000, 32, 32)
    assert {k: v.shape for k, v in a.items()} == shapes
    flat = np.concatenate([v.ravel() for v in a.values()])
    assert abs(float(flat.mean())) < 0.01 and abs(float(flat.std()) - 1.0) < 0.01
    small = random_oracle_params(20, 4, 6, seed=0)
    assert small["W_i"].shape == (4, 6) and small["W_out"].shape == (6, 20)
