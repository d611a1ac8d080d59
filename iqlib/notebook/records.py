"""Recorded runs: one small folder of JSON files per run of a notebook.

Layout (``results/README.md`` says the same for readers of the folder)::

    results/<notebook-stem>/<run-name>/
        metrics.json       the notebook's flat metrics (iqlib.data.files.save_metrics)
        parameters.json    the run's full parameter set: the notebook's parameters cell
                           with the sweep's overrides applied (``output_dir`` left out)
        provenance.json    command line, git commit and dirty flag, library versions,
                           machine (cores, jax devices), wall time, UTC dates
        curves*.json       the learning curves, if the notebook wrote any

Only these small files make a record: no checkpoints, no executed notebook, no figures (those
go to the sweep's outputs folder, outside ``results/``). A record folder appears in one
``os.replace`` of a finished temporary folder ``<run-name>.tmp-<hex>`` beside it, so a reader
sees either no record or a whole one; ``.tmp-`` folders are never records.

The run name is readable and deterministic: the run's varying parameters (grid axes, then
``seed``) as ``name=value`` joined by commas, e.g.
``datasets=hopper-medium-replay,awr_temperature=3,seed=0``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import re
import shutil
from typing import Any, Iterable, Mapping, NamedTuple

from iqlib.data.files import read_json, write_json_atomic
from iqlib.notebook.curves import curves_from_json

__all__ = [
    "RECORD_FILES",
    "TMP_MARK",
    "Record",
    "run_name",
    "is_complete",
    "write_record",
    "publish",
    "notebook_results_dir",
    "record_dirs",
    "load_record",
    "load_records",
    "load_curves",
    "RESULTS_ROOT",
    "find_record",
]

#: The project's committed records (``<repo>/results``), beside ``data/``.
RESULTS_ROOT = pathlib.Path(__file__).resolve().parents[2] / "results"

#: The files every complete record holds (curves are optional).
RECORD_FILES = ("metrics.json", "parameters.json", "provenance.json")
#: Marks a temporary run folder: ``<run-name>.tmp-<hex>``; never a record.
TMP_MARK = ".tmp-"
#: Run names longer than this are cut and given a hash of the parameters.
MAX_NAME = 96

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,@-]")
_PROVENANCE_KEYS = ("command", "git", "versions", "machine", "wall_time_s", "date")


class Record(NamedTuple):
    """One run's record: ``parameters, metrics, provenance = record``."""

    parameters: dict[str, Any]
    metrics: dict[str, Any]
    provenance: dict[str, Any]


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return "+".join(_value_text(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def run_name(varying: Mapping[str, Any]) -> str:
    """The folder name of a run from its varying parameters (in their order).

    ``{"datasets": ["hopper-medium-replay"], "awr_temperature": 3.0, "seed": 0}`` ->
    ``"datasets=hopper-medium-replay,awr_temperature=3,seed=0"``. Floats print in ``%g``,
    lists join with ``+``. Characters outside ``[A-Za-z0-9._+=,@-]`` become ``_``; if that
    changed anything or the name is longer than ``MAX_NAME``, the name is cut and ends with
    ``-`` and 8 hex digits of the sha256 of the parameters (as JSON), so different parameters
    keep different names. No varying parameter: ``"default"``.

    >>> run_name({"awr_temperature": 3.0, "seed": 0})
    'awr_temperature=3,seed=0'
    >>> run_name({"env_id": "a/b"})
    'env_id=a_b-e9ea9443'
    """
    if not varying:
        return "default"
    raw = ",".join(f"{key}={_value_text(value)}" for key, value in varying.items())
    safe = _UNSAFE.sub("_", raw).lstrip(".") or "_"
    if safe == raw and len(raw) <= MAX_NAME:
        return raw
    text = json.dumps({k: v for k, v in varying.items()}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{safe[: MAX_NAME - 9]}-{digest}"


def _json_object(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_complete(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a complete record (never raises).

    Complete: a directory whose name has no ``.tmp-`` mark, holding every file of
    ``RECORD_FILES``, each a JSON object; ``metrics.json`` flat (no list or object values);
    ``provenance.json`` with the keys command, git, versions, machine, wall_time_s, date;
    and every ``curves*.json`` parses.
    """
    folder = pathlib.Path(folder)
    return TMP_MARK not in folder.name and _holds_record(folder)


def _holds_record(folder: pathlib.Path) -> bool:
    """The content rule of :func:`is_complete`, whatever the folder's name."""
    if not folder.is_dir():
        return False
    parsed = {name: _json_object(folder / name) for name in RECORD_FILES}
    if any(value is None for value in parsed.values()):
        return False
    if any(isinstance(v, (list, dict)) for v in parsed["metrics.json"].values()):
        return False
    if any(key not in parsed["provenance.json"] for key in _PROVENANCE_KEYS):
        return False
    for curves in folder.glob("curves*.json"):
        try:
            read_json(curves)
        except (OSError, ValueError):
            return False
    return True


def write_record(
    folder: str | os.PathLike,
    parameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    provenance: Mapping[str, Any],
    curves: Iterable[str | os.PathLike] = (),
) -> pathlib.Path:
    """Write the record files into ``folder`` (a temporary run folder); return it.

    curves: JSON files the notebook wrote (``curves*.json``), copied under their own names.
    Raises ``ValueError`` if ``metrics`` is not flat or a curves file does not parse.
    Writes each file atomically; the folder becomes a record only through :func:`publish`.
    """
    folder = pathlib.Path(folder)
    nested = [k for k, v in metrics.items() if isinstance(v, (list, tuple, dict))]
    if nested:
        raise ValueError(f"metrics must be flat; nested values under {nested}")
    folder.mkdir(parents=True, exist_ok=True)
    for path in map(pathlib.Path, curves):
        try:
            data = read_json(path)
        except ValueError as err:
            raise ValueError(f"curves file {str(path)!r} is not JSON: {err}") from err
        write_json_atomic(folder / path.name, data)
    write_json_atomic(folder / "parameters.json", dict(parameters))
    write_json_atomic(folder / "provenance.json", dict(provenance))
    write_json_atomic(folder / "metrics.json", dict(metrics))  # last: its presence says done
    return folder


def _fsync_dir(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str | os.PathLike, final: str | os.PathLike) -> bool:
    """Move the finished temporary folder ``tmp`` into place as the record ``final``.

    Returns True if ``tmp`` became the record, False if ``final`` was already a complete
    record (another attempt finished first; ``tmp`` is removed). A leftover at ``final`` that
    is not a complete record is renamed aside to ``<final>.tmp-<hex>-stale`` first.
    Raises ``ValueError`` if ``tmp`` is not a complete record's content.
    """
    tmp, final = pathlib.Path(tmp), pathlib.Path(final)
    if not _holds_record(tmp):
        raise ValueError(f"{str(tmp)!r} does not hold a complete record; not publishing it")
    if is_complete(final):
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    if final.exists():
        os.replace(final, final.with_name(f"{final.name}{TMP_MARK}{os.urandom(4).hex()}-stale"))
    try:
        os.replace(tmp, final)
    except OSError:
        if is_complete(final):  # lost a race with another attempt of the same run
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        raise
    _fsync_dir(final.parent)
    return True


def notebook_results_dir(results_dir: str | os.PathLike, notebook: str) -> pathlib.Path:
    """``results_dir/<stem>`` for a notebook stem or prefix (``"09"`` -> ``09_iql_offline``).

    Raises ``FileNotFoundError`` if no folder matches and ``ValueError`` if several do.
    """
    results_dir = pathlib.Path(results_dir)
    exact = results_dir / notebook
    if exact.is_dir():
        return exact
    matches = sorted(p for p in results_dir.glob(f"{notebook}*") if p.is_dir())
    if not matches:
        raise FileNotFoundError(f"no results for notebook {notebook!r} in {str(results_dir)!r}")
    if len(matches) > 1:
        raise ValueError(f"notebook {notebook!r} matches several: {[p.name for p in matches]}")
    return matches[0]


def record_dirs(results_dir: str | os.PathLike, notebook: str) -> list[pathlib.Path]:
    """The complete record folders of a notebook, sorted by name (``.tmp-`` folders skipped)."""
    folder = notebook_results_dir(results_dir, notebook)
    return sorted(p for p in folder.iterdir() if is_complete(p))


def load_record(folder: str | os.PathLike) -> Record:
    """Read one record folder. Raises ``ValueError`` if it is not complete."""
    folder = pathlib.Path(folder)
    if not is_complete(folder):
        raise ValueError(f"{str(folder)!r} is not a complete record")
    return Record(*(read_json(folder / name) for name in
                    ("parameters.json", "metrics.json", "provenance.json")))


def load_records(results_dir: str | os.PathLike, notebook: str) -> list[Record]:
    """Every complete record of a notebook: ``[(parameters, metrics, provenance), ...]``.

    notebook: its stem (``09_iql_offline``) or prefix (``09``). Sorted by run name.
    Raises ``FileNotFoundError`` if the notebook has no results folder.
    """
    return [load_record(folder) for folder in record_dirs(results_dir, notebook)]


def load_curves(folder: str | os.PathLike) -> dict[str, Any]:
    """The learning curves of a record: ``{file stem: parsed JSON}`` of its ``curves*.json``."""
    return {p.stem: read_json(p) for p in sorted(pathlib.Path(folder).glob("curves*.json"))}


def find_record(notebook: str, run: str = "default",
                results_dir: str | os.PathLike | None = None) -> tuple[Record, dict[str, Any]] | None:
    """The record ``results_dir/<notebook stem>/<run>`` and its curves, or None if absent.

    notebook: stem or prefix (``"10"``); run: the run name; results_dir: default
    :data:`RESULTS_ROOT`. Returns ``(record, {curve name: Curves})`` with the curve names
    stripped of ``curves_``. An incomplete folder counts as absent; a notebook prefix that
    matches several folders raises ``ValueError``.
    """
    try:
        folder = notebook_results_dir(results_dir or RESULTS_ROOT, notebook) / run
    except FileNotFoundError:
        return None
    if not is_complete(folder):
        return None
    curves = {stem.removeprefix("curves_"): curves_from_json(obj) for stem, obj in load_curves(folder).items()}
    return load_record(folder), curves
