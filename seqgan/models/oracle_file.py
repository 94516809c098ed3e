"""Read and write the SeqGAN oracle ("target LSTM") parameters.

Formats (see docs/oracle-format.md): the authors' pickles (a list of 15 float32 arrays, Python-2
protocol 0 or Python-3 protocol 3) and a pickle-free ``.npz`` keyed by :data:`PARAM_KEYS`.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seqgan.errors import UserError
from seqgan.files import write_atomic

PARAM_KEYS: tuple[str, ...] = (
    "embedding",
    "W_i",
    "U_i",
    "b_i",
    "W_f",
    "U_f",
    "b_f",
    "W_o",
    "U_o",
    "b_o",
    "W_c",
    "U_c",
    "b_c",
    "W_out",
    "b_out",
)

_HINT = (
    "expected the authors' target_params.pkl / target_params_py3.pkl or an .npz with keys "
    + ", ".join(PARAM_KEYS)
    + "; create one with `seqgan oracle new`"
)
_ZIP_MAGIC = b"PK\x03\x04"

# numpy>=2 moved numpy.core to numpy._core; old pickles name the former, new ones the latter.
_np_core: Any = getattr(np, "_core", None) or np.core


def _latin1_encode(text: object, encoding: object = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``: Python 3 protocol 0-2 pickles store bytes as latin-1 text."""
    # Only the exact use the pickler makes is honoured, so no codec machinery is reachable.
    if not isinstance(text, str) or str(encoding).lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin-1")


# The only globals a pickle of plain numpy arrays needs; anything else could run arbitrary code.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _np_core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_core.multiarray._reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _np_core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _np_core.numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy array-rebuilding globals."""

    def __init__(self, file: Any, path: Path) -> None:
        # latin1 lets Python-2 str payloads (raw array bytes) through unchanged.
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        # Refuse here, before the unpickler can call anything the file names.
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UserError(
                f"{self._path}: refused to load pickle: it references {module}.{name}, which is not a "
                f"numpy array; {_HINT}"
            ) from None


def expected_shapes(vocab_size: int, emb_dim: int, hidden_dim: int) -> dict[str, tuple[int, ...]]:
    """Shape of every oracle array for vocabulary V, embedding E and hidden H sizes."""
    shapes: dict[str, tuple[int, ...]] = {"embedding": (vocab_size, emb_dim)}
    for gate in ("i", "f", "o", "c"):
        shapes[f"W_{gate}"] = (emb_dim, hidden_dim)
        shapes[f"U_{gate}"] = (hidden_dim, hidden_dim)
        shapes[f"b_{gate}"] = (hidden_dim,)
    shapes["W_out"] = (hidden_dim, vocab_size)
    shapes["b_out"] = (vocab_size,)
    return shapes


def _validate(raw: dict[str, Any], where: str) -> dict[str, np.ndarray]:
    """Check types, shapes and values; return float32 C-contiguous copies keyed by PARAM_KEYS."""
    missing = [k for k in PARAM_KEYS if k not in raw]
    if missing:
        raise UserError(f"{where}: missing key(s) {', '.join(missing)}; {_HINT}")
    for key in PARAM_KEYS:
        arr = raw[key]
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
            kind = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise UserError(f"{where}: {key} is {kind}, expected a numeric (float32) array; {_HINT}")
    emb, w_i = raw["embedding"], raw["W_i"]
    if emb.ndim != 2 or w_i.ndim != 2:
        raise UserError(
            f"{where}: embedding shape {emb.shape} / W_i shape {w_i.shape} must be 2-D (V, E) / (E, H); {_HINT}"
        )
    shapes = expected_shapes(emb.shape[0], emb.shape[1], w_i.shape[1])
    out: dict[str, np.ndarray] = {}
    for key in PARAM_KEYS:
        if raw[key].shape != shapes[key]:
            raise UserError(
                f"{where}: {key} has shape {raw[key].shape}, expected {shapes[key]} "
                f"(V, E, H = {emb.shape[0]}, {emb.shape[1]}, {w_i.shape[1]}); {_HINT}"
            )
        # Cast before the finiteness check so float64 values too large for float32 are caught.
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(raw[key], dtype=np.float32)
        if not np.isfinite(arr).all():
            raise UserError(f"{where}: {key} contains NaN or infinite values; all values must be finite")
        out[key] = arr
    if "label_embedding" in raw:  # a conditional oracle (ours): each label's first input, (labels, E)
        lab = raw["label_embedding"]
        if not isinstance(lab, np.ndarray) or lab.ndim != 2 or lab.shape[1] != emb.shape[1] or lab.shape[0] < 1:
            raise UserError(f"{where}: label_embedding must be a (labels, {emb.shape[1]}) array; {_HINT}")
        lab = np.ascontiguousarray(lab, dtype=np.float32)
        if not np.isfinite(lab).all():
            raise UserError(f"{where}: label_embedding contains NaN or infinite values; all values must be finite")
        out["label_embedding"] = lab
    return out


def load_oracle_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load oracle parameters from an ``.npz`` or one of the authors' pickles (detected by content)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
            if not magic:
                raise UserError(f"{p}: file is empty; {_HINT}")
            fh.seek(0)
            if magic == _ZIP_MAGIC:
                # allow_pickle=False: an .npz must never be a route to running code.
                with np.load(fh, allow_pickle=False) as npz:
                    missing = [k for k in PARAM_KEYS if k not in npz.files]
                    if missing:
                        raise UserError(
                            f"{p}: npz lacks key(s) {', '.join(missing)} "
                            f"(has {', '.join(npz.files) or 'none'}); {_HINT}"
                        )
                    keys = [*PARAM_KEYS, "label_embedding"] if "label_embedding" in npz.files else PARAM_KEYS
                    raw: dict[str, Any] = {k: npz[k] for k in keys}
                where = f"{p} (npz)"
            else:
                obj = _ArrayUnpickler(fh, p).load()
                if not isinstance(obj, (list, tuple)) or len(obj) != len(PARAM_KEYS):
                    got = f"{len(obj)} items" if isinstance(obj, (list, tuple)) else type(obj).__name__
                    raise UserError(f"{p}: pickle holds {got}, expected a list of {len(PARAM_KEYS)} arrays; {_HINT}")
                raw = dict(zip(PARAM_KEYS, obj, strict=True))
                where = f"{p} (pickle)"
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a corrupt or foreign file
        if isinstance(exc, OSError) and exc.errno is not None:  # missing, a directory, no permission...
            raise UserError(f"{p}: cannot open ({exc.strerror}); {_HINT}") from None
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise UserError(
            f"{p}: cannot read oracle parameters, file is corrupt or truncated ({reason}); {_HINT}"
        ) from None
    return _validate(raw, where)


def save_oracle_params(params: dict[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Write ``params`` as an uncompressed float32 ``.npz``, atomically (temp file + rename)."""
    p = Path(path)
    arrays = _validate(dict(params), "oracle parameters to save")
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # a buffer, not a name, so numpy does not append ".npz" to the path
    try:
        write_atomic(p, buf.getvalue())
    except OSError as exc:
        raise UserError(
            f"{p}: cannot write oracle parameters ({exc.strerror or exc}); "
            "check that the directory exists and is writable"
        ) from None


def random_oracle_params(
    vocab_size: int = 5000, emb_dim: int = 32, hidden_dim: int = 32, seed: int = 0, num_labels: int = 0
) -> dict[str, np.ndarray]:
    """A fresh oracle with every entry drawn from N(0, 1), as in the paper; deterministic per seed. With
    ``num_labels`` (ours) a conditional oracle: each label's N(0, 1) embedding is the first input, instead of the
    start token's, so every label has its own distribution over sequences."""
    rng = np.random.default_rng(seed)
    shapes = expected_shapes(vocab_size, emb_dim, hidden_dim)
    params = {key: rng.standard_normal(shapes[key], dtype=np.float32) for key in PARAM_KEYS}
    if num_labels:
        params["label_embedding"] = rng.standard_normal((num_labels, emb_dim), dtype=np.float32)
    return params
