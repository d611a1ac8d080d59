"""Files a notebook writes: JSON, metrics, figures, and datasets with provenance.

Every writer is atomic: it writes a temporary file in the destination's directory, flushes
and fsyncs it, then ``os.replace``-s it over the destination, so a reader (or an interrupted
run) never sees a half-written file. Every file written is readable by everyone: mode 0644
(:data:`FILE_MODE`), set explicitly, whatever the umask (``mkstemp`` alone gives 0600).

Every error about a file names the file: a missing or unreadable file, invalid JSON, a
provenance sidecar without its ``sha256``, a checksum mismatch, a corrupt npz.

Conventions
-----------
* JSON is written with sorted keys and an indent of 2. numpy and jax scalars become Python
  numbers, arrays become (nested) lists, paths become strings. JSON has no NaN or infinity:
  non-finite floats are written as ``null``.
* ``metrics.json`` is flat: ``{name: int | float | bool | str | None}`` (:func:`flatten` nests).
* A dataset ``data/foo.npz`` has a sidecar ``data/foo.provenance.json`` (its provenance and
  sha256); :func:`load_npz_verified` checks the digest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import pathlib
import tempfile
import zipfile
from typing import Any, Iterator, Mapping

import numpy as np

__all__ = [
    "DATA_ROOT",
    "FILE_MODE",
    "to_jsonable",
    "write_json_atomic",
    "write_text_atomic",
    "read_json",
    "flatten",
    "save_metrics",
    "save_figure",
    "sha256_file",
    "verify_sha256",
    "provenance_path",
    "save_npz_with_provenance",
    "load_provenance",
    "load_npz_verified",
]

#: The repository's ``data/`` folder: datasets, demonstrations, experts, Rust's bus data.
DATA_ROOT = pathlib.Path(__file__).resolve().parents[2] / "data"

#: Permissions of every file written here: rw-r--r-- (results are meant to be read by others).
FILE_MODE = 0o644

PathLike = str | os.PathLike


@contextlib.contextmanager
def _atomic_path(path: PathLike, suffix: str = ".tmp") -> Iterator[pathlib.Path]:
    """Yield a temporary path beside ``path``; on success fsync it and move it into place."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp_path = pathlib.Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _is_array_like(obj: Any) -> bool:
    # numpy arrays and jax arrays (jax.Array implements __array__); not strings or bytes.
    return hasattr(obj, "__array__") and not isinstance(obj, (str, bytes))


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` to plain JSON types.

    numpy/jax scalars -> int/float/bool, arrays -> lists, tuples -> lists, paths -> str,
    dataclasses -> dicts, non-finite floats -> None. Dict keys must be strings (ints are
    turned into strings, as ``json`` does).

    >>> to_jsonable({"a": np.float32(0.5), "b": np.arange(3), "c": float("nan")})
    {'a': 0.5, 'b': [0, 1, 2], 'c': None}
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int, np.integer)):
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            out[str(key)] = to_jsonable(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if _is_array_like(obj):
        return to_jsonable(np.asarray(obj).tolist())
    raise TypeError(f"cannot write {type(obj).__name__} to JSON: {obj!r}")


def write_json_atomic(path: PathLike, obj: Any) -> pathlib.Path:
    """Write ``obj`` as JSON to ``path`` atomically (sorted keys, indent 2, NaN -> null).

    >>> import tempfile
    >>> p = write_json_atomic(tempfile.mkdtemp() + "/m.json", {"b": np.int64(2), "a": 1.5})
    >>> p.read_text()
    '{\\n  "a": 1.5,\\n  "b": 2\\n}\\n'
    """
    return write_text_atomic(path, json.dumps(to_jsonable(obj), sort_keys=True, indent=2, allow_nan=False) + "\n")


def write_text_atomic(path: PathLike, text: str) -> pathlib.Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, mode 0644; return the path."""
    with _atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return pathlib.Path(path)


def read_json(path: PathLike) -> Any:
    """Read a JSON file (UTF-8).

    Raises ``FileNotFoundError`` naming a missing file and ``ValueError`` naming a file that is
    not valid UTF-8 JSON (with the line and column of the first error).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot read JSON {str(path)!r}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{str(path)!r} is not valid UTF-8 text: {e}") from e
    except json.JSONDecodeError as e:
        raise ValueError(f"{str(path)!r} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e


def flatten(mapping: Mapping[str, Any], sep: str = "/", prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts, lists and arrays into one level of keys joined by ``sep``.

    >>> flatten({"n": 1, "tv": {"iq": 0.01, "bc": 0.2}, "seeds": [0, 1]})
    {'n': 1, 'tv/iq': 0.01, 'tv/bc': 0.2, 'seeds/0': 0, 'seeds/1': 1}
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, sep, name + sep))
        elif isinstance(value, (list, tuple)) or (_is_array_like(value) and np.ndim(value) > 0):
            items = value if isinstance(value, (list, tuple)) else np.asarray(value).tolist()
            out.update(flatten({str(i): v for i, v in enumerate(items)}, sep, name + sep))
        else:
            out[name] = value
    return out


def _metric_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, np.generic) or (_is_array_like(value) and np.ndim(value) == 0):
        return np.asarray(value).item()
    raise ValueError(f"metric {key!r} must be a number, bool, str or None, got {type(value).__name__}; "
                     "metrics.json is flat (use iqlib.data.files.flatten for nested results)")


def save_metrics(output_dir: PathLike, metrics: Mapping[str, Any]) -> pathlib.Path:
    """Write ``output_dir/metrics.json`` from a flat dict; return its path.

    Values must be int, float, bool, str or None (numpy/jax scalars and 0-d arrays are
    converted, paths become strings, NaN is written as null). A nested value (dict, list,
    array) raises ``ValueError`` naming its key.
    """
    flat = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise ValueError(f"metric names must be strings, got {key!r}")
        flat[key] = _metric_value(key, value)
    return write_json_atomic(pathlib.Path(output_dir) / "metrics.json", flat)


def save_figure(fig: Any, path: PathLike, dpi: int = 120, **savefig_kwargs: Any) -> pathlib.Path:
    """Save a matplotlib figure atomically (format from the suffix, ``bbox_inches="tight"``)."""
    path = pathlib.Path(path)
    fmt = path.suffix.lstrip(".") or None
    savefig_kwargs.setdefault("bbox_inches", "tight")
    with _atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt, **savefig_kwargs)
    return path


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    if not pathlib.Path(path).is_file():
        raise FileNotFoundError(f"cannot hash {str(path)!r}: no such file")
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: PathLike, expected: str) -> str:
    """Check a file's sha256 against ``expected``; return the digest.

    Raises ``FileNotFoundError`` if the file is missing and ``ValueError`` naming the path,
    the expected and the actual digest if they differ.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cannot verify {str(path)!r}: no such file")
    actual = sha256_file(path)
    if actual.lower() != expected.strip().lower():
        raise ValueError(
            f"sha256 mismatch for {str(path)!r}: expected {expected.strip()}, got {actual}"
        )
    return actual


def provenance_path(npz_path: PathLike) -> pathlib.Path:
    """The provenance sidecar of a dataset: ``data/foo.npz`` -> ``data/foo.provenance.json``."""
    npz_path = pathlib.Path(npz_path)
    return npz_path.with_name(f"{npz_path.stem}.provenance.json")


def save_npz_with_provenance(
    path: PathLike, arrays: Mapping[str, Any], provenance: Mapping[str, Any]
) -> str:
    """Write ``arrays`` to ``path`` (compressed npz) and its provenance sidecar; return sha256.

    The sidecar (:func:`provenance_path`) holds ``provenance`` plus ``"file"`` (the npz's
    name) and ``"sha256"`` (its digest). Both files are written atomically, npz first.
    """
    path = pathlib.Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"dataset path must end in .npz, got {str(path)!r}")
    reserved = {"file", "sha256"} & set(provenance)
    if reserved:
        raise ValueError(f"provenance must not set {sorted(reserved)}; they are computed")
    with _atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:  # a file object stops numpy from appending ".npz"
            np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()})
    digest = sha256_file(path)
    write_json_atomic(provenance_path(path), {**provenance, "file": path.name, "sha256": digest})
    return digest


def load_provenance(path: PathLike) -> dict[str, Any]:
    """Read the provenance sidecar of the dataset at ``path`` (the npz path).

    Raises ``FileNotFoundError`` if the sidecar is missing and ``ValueError`` naming the sidecar
    if it is not valid JSON, not a JSON object, or lacks a string ``sha256``.
    """
    sidecar = provenance_path(path)
    if not sidecar.is_file():
        raise FileNotFoundError(f"no provenance record {str(sidecar)!r} for {str(path)!r}")
    record = read_json(sidecar)
    if not isinstance(record, dict):
        raise ValueError(f"provenance record {str(sidecar)!r} must be a JSON object, got {type(record).__name__}")
    if not isinstance(record.get("sha256"), str):
        raise ValueError(f"provenance record {str(sidecar)!r} lacks the key 'sha256' (a hex string): regenerate "
                         f"{str(path)!r} and its record with the script that wrote them")
    return record


def load_npz_verified(path: PathLike) -> dict[str, np.ndarray]:
    """Load a dataset after checking its sha256 against the provenance sidecar.

    Returns ``{key: array}`` (fully loaded; no pickles). Raises ``FileNotFoundError`` if
    the npz or its sidecar is missing and ``ValueError`` naming the file if the sidecar is
    broken, the digest does not match, or the npz cannot be read.
    """
    record = load_provenance(path)
    verify_sha256(path, record["sha256"])
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot read dataset {str(pathlib.Path(path))!r}: {e}") from e
