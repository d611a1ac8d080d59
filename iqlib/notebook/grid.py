"""Sweep files: a YAML grid of notebook runs, validated and expanded into runs.

A sweep file under ``sweeps/`` holds one entry or a list of entries::

    - name: iql-hopper               # required; letters, digits, '_', '-', '.'
      notebook: "09"                 # required; a prefix of notebooks/NN_*.py (quote it),
                                     #   or a path to a .py source (relative to this file)
      parameters:                    # optional; the same overrides for every run
        n_seeds: 6
        train_steps: 50000
      grid:                          # optional; each key a non-empty list of values:
        datasets: [["hopper-medium-replay"], ["halfcheetah-medium-replay"]]
        awr_temperature: [1.0, 3.0]  #   every combination runs (product, in this order)
      seeds: [0, 1]                  # optional; values of the notebook's `seed` parameter

The runs are the product of the grid axes (in the file's order) and then the seeds; each run's
overrides are ``parameters`` plus its grid values plus ``seed``. Every parameter name must
exist in the notebook's ``parameters`` cell (an old name from ``params.RENAMED`` is reported
with its new name); ``output_dir`` is set by the sweep and may not appear. A key may appear in
only one of ``parameters``, ``grid`` and ``seeds``. Errors are ``SweepError`` naming the file,
the entry and the key.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import os
import pathlib
import re
from typing import Any, Mapping

import yaml

from iqlib.notebook.overrides import parameters_cell
from iqlib.notebook.params import RENAMED
from iqlib.notebook.records import find_record, run_name
from iqlib.notebook.runner import NOTEBOOK_DIR, find_notebooks

__all__ = ["SweepError", "Run", "ENTRY_KEYS", "notebook_parameters", "resolve_notebook",
           "expand_entry", "parse_sweep", "check_unique", "load_sweep", "sweep_records"]

#: The keys an entry may hold.
ENTRY_KEYS = ("name", "notebook", "parameters", "grid", "seeds")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class SweepError(ValueError):
    """A sweep file that cannot be run; the message names the file, entry and key."""


@dataclasses.dataclass(frozen=True, eq=True)
class Run:
    """One notebook run of a sweep.

    sweep: the entry's name; notebook: the ``.py`` source; name: the record folder's name
    (``records.run_name(varying)``); parameters: every override (fixed, grid, seed);
    varying: the grid values and seed of this run, in order.
    """

    sweep: str
    notebook: pathlib.Path
    name: str
    parameters: dict[str, Any]
    varying: dict[str, Any]

    @property
    def stem(self) -> str:
        """The notebook's stem: the record's parent folder (``09_iql_offline``)."""
        return self.notebook.stem


def notebook_parameters(py_path: str | os.PathLike) -> dict[str, Any]:
    """The literals of a notebook's cell tagged ``parameters``: ``{name: value}``.

    Raises ``SweepError`` if no cell carries the tag, and ``ValueError`` (from
    ``ast.literal_eval``) if an assignment there is not a literal.
    """
    try:
        source = parameters_cell(py_path)
    except ValueError:
        raise SweepError(f"{str(py_path)!r} has no cell tagged 'parameters'") from None
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)}


def resolve_notebook(value: Any, where: str, base_dir: pathlib.Path,
                     notebook_dir: pathlib.Path = NOTEBOOK_DIR) -> pathlib.Path:
    """The notebook source an entry's ``notebook`` names (a prefix, or a ``.py`` path)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise SweepError(f'{where}: notebook must be a string; quote it (notebook: "{value:02d}")')
    if not isinstance(value, str) or not value:
        raise SweepError(f"{where}: notebook must be a notebook prefix or a .py path, got {value!r}")
    if value.endswith(".py"):
        path = pathlib.Path(value)
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise SweepError(f"{where}: notebook {str(path)!r} does not exist")
        return path.resolve()
    try:
        matches = find_notebooks(notebook_dir, [value])
    except ValueError as err:
        raise SweepError(f"{where}: notebook: {err}") from None
    if len(matches) != 1:
        raise SweepError(f"{where}: notebook {value!r} matches {[p.stem for p in matches]}; "
                         "give a longer prefix")
    return matches[0].resolve()


def _mapping(entry: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = entry.get(key) or {}
    if not isinstance(value, Mapping):
        raise SweepError(f"{where}: {key} must be a mapping of parameter names, got {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise SweepError(f"{where}: {key} keys must be parameter names, got {bad}")
    return dict(value)


def _check_names(names: list[str], known: Mapping[str, Any], where: str, notebook: pathlib.Path,
                 key: str) -> None:
    for name in names:
        if name == "output_dir":
            raise SweepError(f"{where}: {key}.output_dir: the sweep sets output_dir itself")
        if name in known:
            continue
        hint = (f"; it was renamed to {RENAMED[name]!r}" if RENAMED.get(name) in known
                else f"; known: {', '.join(sorted(known))}")
        raise SweepError(f"{where}: {key}.{name}: no parameter {name!r} in {notebook.name}{hint}")


def expand_entry(entry: Any, where: str, base_dir: pathlib.Path,
                 notebook_dir: pathlib.Path = NOTEBOOK_DIR) -> list[Run]:
    """Validate one entry and expand it into its runs (grid product, then seeds)."""
    if not isinstance(entry, Mapping):
        raise SweepError(f"{where}: an entry must be a mapping with keys {', '.join(ENTRY_KEYS)}")
    unknown = [k for k in entry if k not in ENTRY_KEYS]
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r}; expected {', '.join(ENTRY_KEYS)}")
    for key in ("name", "notebook"):
        if key not in entry:
            raise SweepError(f"{where}: missing key {key!r}")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise SweepError(f"{where}: name must be letters, digits, '_', '-', '.'; got {name!r}")
    where = f"{where} ({name!r})"
    notebook = resolve_notebook(entry["notebook"], f"{where}: notebook", base_dir, notebook_dir)
    fixed, grid = _mapping(entry, "parameters", where), _mapping(entry, "grid", where)
    for axis, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: grid.{axis} must be a non-empty list, got {values!r}")
    seeds = entry.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds or any(
            isinstance(s, bool) or not isinstance(s, int) for s in seeds)):
        raise SweepError(f"{where}: seeds must be a non-empty list of integers, got {seeds!r}")
    both = sorted(set(fixed) & set(grid))
    if both:
        raise SweepError(f"{where}: grid.{both[0]} is also in parameters; keep it in one")
    if seeds is not None and "seed" in {**fixed, **grid}:
        raise SweepError(f"{where}: seeds: 'seed' is also in parameters or grid; keep it in one")
    known = notebook_parameters(notebook)
    _check_names(list(fixed), known, where, notebook, "parameters")
    _check_names(list(grid), known, where, notebook, "grid")
    if seeds is not None:
        _check_names(["seed"], known, where, notebook, "seeds")

    axes = list(grid.items()) + ([("seed", seeds)] if seeds is not None else [])
    runs = []
    for combination in itertools.product(*(values for _, values in axes)):
        varying = {axis: value for (axis, _), value in zip(axes, combination)}
        runs.append(Run(sweep=name, notebook=notebook, name=run_name(varying),
                        parameters={**fixed, **varying}, varying=varying))
    return runs


def parse_sweep(data: Any, source: str, base_dir: pathlib.Path,
                notebook_dir: pathlib.Path = NOTEBOOK_DIR) -> list[Run]:
    """Expand a parsed sweep file (one entry or a list of entries) into its runs.

    Raises ``SweepError`` for an invalid entry, and if two runs would write the same record
    folder with different parameters.
    """
    entries = data if isinstance(data, list) else [data]
    if not entries or data is None:
        raise SweepError(f"{source}: empty sweep file")
    runs: list[Run] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: entry {i}" if isinstance(data, list) else source
        runs += expand_entry(entry, where, base_dir, notebook_dir)
    check_unique(runs, source)
    return runs


def check_unique(runs: list[Run], source: str) -> None:
    """Raise ``SweepError`` if two runs would write the same record folder."""
    seen: dict[tuple[str, str], Run] = {}
    for run in runs:
        other = seen.setdefault((run.stem, run.name), run)
        if other is not run:
            raise SweepError(
                f"{source}: entries {other.sweep!r} and {run.sweep!r} both make the run "
                f"{run.stem}/{run.name}; give them different grid values or seeds")


def load_sweep(path: str | os.PathLike, notebook_dir: str | os.PathLike = NOTEBOOK_DIR
               ) -> list[Run]:
    """Read a sweep YAML file and expand it into runs (see the module docstring)."""
    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SweepError(f"{path}: not valid YAML: {err}") from None
    return parse_sweep(data, str(path), path.parent, pathlib.Path(notebook_dir))


def sweep_records(path: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> list[tuple[Run, Any]]:
    """Every run of the sweep file ``path`` with its record: ``[(run, found), ...]`` in the file's
    order, ``found`` being :func:`iqlib.notebook.records.find_record`'s ``(record, curves)`` for the
    run's folder under ``results_dir`` (default ``results/``), or None where it has no complete record.

    Raises ``SweepError`` as :func:`load_sweep` does.
    """
    return [(run, find_record(run.stem, run.name, results_dir)) for run in load_sweep(path)]
