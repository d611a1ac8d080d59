"""Notebook 09's one table of every offline dataset: which IQL records it shows, one row each.

A record of ``09_iql_offline`` is a row when it trained a single registered dataset with at least
``min_seeds`` seeds at its domain's expectile τ and AWR temperature β (:meth:`IQLConfig.for_domain`:
the record's ``expectile`` / ``awr_temperature`` are None or equal to the preset). Records that change
τ or β are their sweeps' own tables (LunarLander β/τ, maze τ); a record that changes only the target
critics' Polyak rate ρ (``target_rate``) stays in, with its ρ beside it. Used by notebook 09 and by
``scripts/readme_tables.py``, so both show the same rows.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Iterable, Mapping, NamedTuple

from iqlib.data.registry import DATASETS, dataset_domain
from iqlib.neural.iql import IQLConfig
from iqlib.notebook.records import RESULTS_ROOT, Record, load_record, record_dirs

__all__ = ["STEM", "ORDER", "SETTINGS", "DatasetRow", "dataset_rows", "run_config"]

STEM = "09_iql_offline"
#: The table's order of datasets: locomotion by environment, then the maze, then discrete control.
ORDER = ("hopper-medium-replay", "hopper-medium", "hopper-medium-expert", "halfcheetah-medium-replay",
         "halfcheetah-medium", "halfcheetah-medium-expert", "pointmaze-medium-stitch", "pointmaze-medium-goal",
         "lunarlander-mixed", "cartpole-mixed")


#: The IQL settings a notebook-09 run may override for every dataset (None: the domain's preset).
SETTINGS = ("expectile", "awr_temperature", "target_rate")


def run_config(parameters: Mapping[str, Any], dataset: str, domain: str | None = None, **sizes: Any) -> IQLConfig:
    """The IQL configuration a notebook-09 run trains (or trained) ``dataset`` with.

    τ, β and ρ are the run's own (``parameters["expectile"]`` etc.) where given and not None, else the
    preset of the dataset's domain (:meth:`IQLConfig.for_domain`); one home for that rule, used by the
    notebook's training, its record matching and printouts, :func:`dataset_rows` and the README tables.

    Args:
      parameters: a run's parameters (a record's ``parameters.json`` or the notebook's validated ``P``);
        only the keys in :data:`SETTINGS` are read, missing ones count as None.
      dataset: a registered dataset name (its domain picks the preset).
      domain: the domain, for a dataset the registry does not know (a Minari id's comes from its data,
        :func:`iqlib.data.registry.load_offline`); default: the registry's for ``dataset``.
      **sizes: other :class:`IQLConfig` fields (``hidden``, ``batch_size``, ...), passed through.
    Returns: the :class:`IQLConfig`.
    Raises: ``ValueError`` for an unregistered dataset without ``domain`` (:func:`dataset_domain`), or an
      unknown domain (:meth:`IQLConfig.for_domain`).
    """
    own = {k: float(parameters[k]) for k in SETTINGS if k in parameters and parameters[k] is not None}
    return IQLConfig.for_domain(domain or dataset_domain(dataset), **own, **sizes)


class DatasetRow(NamedTuple):
    """One record of one dataset: its folder, its record, and the IQL settings it ran."""

    dataset: str
    folder: pathlib.Path
    record: Record
    expectile: float  #: τ it ran (the domain's preset)
    awr_temperature: float  #: β it ran (the domain's preset)
    target_rate: float  #: ρ it ran (the preset's 0.005 unless the record overrides it)


def dataset_rows(results_dir: str | os.PathLike | None = None, min_seeds: int = 5,
                 order: Iterable[str] = ORDER) -> list[DatasetRow]:
    """Every record of notebook 09 that is a row of the one-table-of-every-dataset (module docstring).

    Args:
      results_dir: the results root (default: the project's ``results/``).
      min_seeds: the fewest seeds a row may have (≥ 1).
      order: dataset names listed first, in this order (default :data:`ORDER`); the others follow by name. Within a dataset,
        rows go by ρ, then by updates per seed.
    Returns: ``[DatasetRow, ...]``; empty when notebook 09 has no results folder.
    Raises: ``ValueError`` if ``min_seeds`` < 1.
    """
    if int(min_seeds) < 1:
        raise ValueError(f"min_seeds must be >= 1, got {min_seeds!r}")
    try:
        folders = record_dirs(results_dir or RESULTS_ROOT, STEM)
    except FileNotFoundError:
        return []
    rows = []
    for folder in folders:
        record = load_record(folder)
        p = record.parameters
        names = p.get("datasets") or []
        if len(names) != 1 or names[0] not in DATASETS or int(p.get("n_seeds", 0)) < min_seeds:
            continue
        preset, ran = IQLConfig.for_domain(dataset_domain(names[0])), run_config(p, names[0])
        if (ran.expectile, ran.awr_temperature) != (preset.expectile, preset.awr_temperature):
            continue
        rows.append(DatasetRow(names[0], folder, record, ran.expectile, ran.awr_temperature, ran.target_rate))
    first = {name: i for i, name in enumerate(order)}
    return sorted(rows, key=lambda r: (first.get(r.dataset, len(first)), r.dataset, r.target_rate,
                                       r.record.parameters["train_steps"], r.folder.name))
