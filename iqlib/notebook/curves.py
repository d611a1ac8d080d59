"""Learning curves a notebook writes, a record keeps, and a figure draws fresh over recorded.

One file per figure, ``<output_dir>/curves_<name>.json``::

    {"x": [x_0, ..., x_{K-1}],            e.g. update steps or environment steps
     "x_label": "updates", "y_label": "normalised score",
     "series": {label: [[y per x] per seed]}}   each series (n_seeds, K)

The sweep copies every ``curves*.json`` of a run into its record (``results/<nb>/<run>/``),
so a notebook can draw its recorded full-scale run with its fresh (default) run over it
(:func:`plot_over_record`) and check that the two agree where they overlap
(:func:`compare_at_common_x`).
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import Any, Mapping, NamedTuple

import numpy as np

from iqlib.data.files import write_json_atomic

__all__ = ["Curves", "save_curves", "curves_from_json", "plot_over_record", "compare_at_common_x",
           "Agreement"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Curves(NamedTuple):
    """Curves sharing one x axis. x: (K,); series: {label: (n_seeds, K)}."""

    x: np.ndarray
    series: dict[str, np.ndarray]
    x_label: str
    y_label: str


def _as_series(label: str, y: Any, k: int) -> np.ndarray:
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.ndim != 2 or y.shape[1] != k:
        raise ValueError(f"series[{label!r}] must have shape (n_seeds, {k}), got {np.shape(y)}")
    return y


def save_curves(output_dir: str | os.PathLike, name: str, x: Any, series: Mapping[str, Any], *,
                x_label: str, y_label: str) -> pathlib.Path:
    """Write ``output_dir/curves_<name>.json`` atomically; return its path.

    Args:
      output_dir: the notebook's output folder.
      name: letters, digits, ``_ . -`` (the file is ``curves_<name>.json``).
      x: (K,) increasing x values.
      series: {label: (n_seeds, K) array}; a (K,) array counts as one seed.
      x_label, y_label: axis labels with units.

    Raises:
      ValueError: a bad name, x not 1-D and increasing, or a series of another length than x
        (the message names the series).
    """
    if not _NAME.match(name):
        raise ValueError(f"curves name {name!r} must use only letters, digits, '_', '.', '-'")
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0 or np.any(np.diff(x) <= 0):
        raise ValueError(f"x must be a non-empty increasing 1-D array, got {x.tolist()!r}")
    data = {"x": x, "x_label": x_label, "y_label": y_label,
            "series": {str(k): _as_series(k, v, x.size) for k, v in series.items()}}
    return write_json_atomic(pathlib.Path(output_dir) / f"curves_{name}.json", data)


def curves_from_json(obj: Mapping[str, Any]) -> Curves:
    """A parsed ``curves_*.json`` as :class:`Curves` (JSON nulls become NaN).

    Raises ``ValueError`` naming the missing key or the bad series.
    """
    for key in ("x", "series", "x_label", "y_label"):
        if key not in obj:
            raise ValueError(f"curves JSON has no {key!r} (keys: {sorted(obj)})")
    x = np.asarray(obj["x"], dtype=float)
    series = {k: _as_series(k, [[np.nan if v is None else v for v in row] for row in np.atleast_2d(
        np.asarray(y, dtype=object)).tolist()], x.size) for k, y in obj["series"].items()}
    return Curves(x, series, obj["x_label"], obj["y_label"])


def plot_over_record(ax: Any, fresh: Curves, record: Curves | None, labels: Mapping[str, str] | None = None,
                     fresh_name: str = "this run", record_name: str = "record") -> None:
    """Draw recorded curves (mean, min–max band over seeds) and the fresh run over them.

    The record is drawn in full lines with a shaded band, the fresh run dashed with markers in
    the same colour per series, so a reader sees which is which at a glance.

    Args:
      ax: matplotlib axes.
      fresh: this run's curves.
      record: the recorded full-scale run's curves, or None (then only the fresh run is drawn).
      labels: optional {series key: legend label}; series missing from a side are skipped there.
      fresh_name, record_name: legend suffixes.
    """
    labels = dict(labels or {})
    keys = list(dict.fromkeys([*(record.series if record is not None else {}), *fresh.series]))
    colors = {}
    for key in keys:
        label = labels.get(key, key)
        if record is not None and key in record.series:
            y = record.series[key]
            (line,) = ax.plot(record.x, np.nanmean(y, 0), lw=2, label=f"{label}: {record_name} (n={len(y)})")
            ax.fill_between(record.x, np.nanmin(y, 0), np.nanmax(y, 0), color=line.get_color(), alpha=0.18, lw=0)
            colors[key] = line.get_color()
        if key in fresh.series:
            y = fresh.series[key]
            ax.plot(fresh.x, np.nanmean(y, 0), ls="--", marker="o", ms=4, color=colors.get(key),
                    label=f"{label}: {fresh_name} (n={len(y)})")
    ax.set_xlabel(fresh.x_label)
    ax.set_ylabel(fresh.y_label)
    ax.legend(fontsize=8)


class Agreement(NamedTuple):
    """Fresh vs recorded values at the x both ran, for one series.

    x: (M,) common x values; fresh, record_mean, record_lo, record_hi: (M,);
    max_abs_diff: max |fresh − record| over the seeds both ran (NaN where no seed is shared);
    inside_band: whether every fresh mean lies in the record's [min, max] seed band
    (widened by ``tolerance``).
    """

    x: np.ndarray
    fresh: np.ndarray
    record_mean: np.ndarray
    record_lo: np.ndarray
    record_hi: np.ndarray
    max_abs_diff: float
    inside_band: bool


def compare_at_common_x(fresh: Curves, record: Curves, key: str, shared_seeds: int = 0,
                        tolerance: float = 0.0) -> Agreement:
    """Compare one series of a fresh run with the record at the x values both ran.

    Args:
      fresh, record: curves holding ``key``.
      key: the series.
      shared_seeds: how many leading seeds ran the identical configuration in both (their
        values should be equal: ``max_abs_diff`` compares them); 0 when none do.
      tolerance: widening of the record's seed band, in y units.

    Raises:
      ValueError: ``key`` missing on one side, or no common x.
    """
    for side, c in (("fresh", fresh), ("record", record)):
        if key not in c.series:
            raise ValueError(f"series {key!r} is not in the {side} curves ({sorted(c.series)})")
    common, i_f, i_r = np.intersect1d(fresh.x, record.x, return_indices=True)
    if common.size == 0:
        raise ValueError(f"fresh x {fresh.x.tolist()} and record x {record.x.tolist()} share no value")
    f, r = fresh.series[key][:, i_f], record.series[key][:, i_r]
    n = min(shared_seeds, len(f), len(r))
    diff = float(np.max(np.abs(f[:n] - r[:n]))) if n else float("nan")
    mean, lo, hi = np.nanmean(r, 0), np.nanmin(r, 0), np.nanmax(r, 0)
    fm = np.nanmean(f, 0)
    inside = bool(np.all((fm >= lo - tolerance) & (fm <= hi + tolerance)))
    return Agreement(common, fm, mean, lo, hi, diff, inside)
