"""A sweep's runs at a tiny budget: every code path a long run reaches, in seconds per run.

A long run can train for an hour and then fail in its last cells, on code that only its own
parameters or the records already in ``results/`` reach (a claim name taken by a record, a
record's null metric). ``python -m iqlib.notebook.sweep X.yaml --smoke`` executes each run that
has no record yet with its exact parameters except the budget (steps, seeds, evaluation
episodes, layer width), overridden by :data:`SMOKE_BUDGET`, against the records as they are. It
writes no record; the executed notebooks go to a scratch folder, and a failure names its cell's
error and where the notebook with the traceback is.
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any, Mapping, Sequence

import papermill

from iqlib.notebook.grid import Run
from iqlib.notebook.runner import execute_notebook
from iqlib.notebook.summary import error_line

__all__ = ["SMOKE_BUDGET", "smoke_parameters", "smoke_runs"]

#: Per notebook prefix: the budget overrides of a smoke run (each passes the notebook's validation
#: with any value the sweeps give the other parameters).
SMOKE_BUDGET: dict[str, dict[str, Any]] = {
    "05": {"n_seeds": 1, "train_steps": 500, "chunk_size": 500, "eval_episodes": 1, "time_to_expert_steps": 500},
    "06": {"n_seeds": 1, "total_steps": 2000, "learning_starts": 1000, "train_freq": 100, "eval_every": 1000,
           "eval_episodes": 1, "hidden": 16, "batch_size": 32, "lfo_seeds": 1, "lfo_steps": 2048,
           "lfo_eval_every": 1024, "lfo_batch_size": 32},
    "09": {"n_seeds": 2, "seed_group": 0, "train_steps": 20, "eval_every": 10, "eval_episodes": 1, "hidden": 8},
    "10": {"n_seeds": 1, "offline_steps": 1000, "online_steps": 2000, "train_freq": 1000, "learning_starts": 1000,
           "eval_every": 1000, "eval_episodes": 1, "hidden": [8, 8]},
}


def smoke_parameters(run: Run, budget: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``run.parameters`` with the smoke budget of its notebook (``budget``, default :data:`SMOKE_BUDGET`,
    keyed by the notebook's two-character prefix).

    Raises ``KeyError`` naming the notebook if it has no smoke budget.
    """
    budget = SMOKE_BUDGET if budget is None else budget
    prefix = run.notebook.stem[:2]
    if prefix not in budget:
        raise KeyError(f"notebook {run.notebook.stem} has no smoke budget (iqlib.notebook.smoke.SMOKE_BUDGET "
                       f"has {sorted(budget)})")
    return {**run.parameters, **budget[prefix]}


def smoke_runs(runs: Sequence[Run], scratch: str | os.PathLike, kernel_name: str | None = None,
               budget: Mapping[str, Mapping[str, Any]] | None = None, log=print) -> list[dict[str, Any]]:
    """Execute each run at the smoke budget into ``scratch/<stem>/<run name>``; return the outcomes.

    Each outcome is ``{"notebook", "run", "status" ("ok" | "failed"), "seconds", "error", "where"}``
    (``where``: the folder holding the executed notebook). A cell that raises fails its run and the
    next run still executes; other errors (a dead kernel) propagate. Writes nothing under results.
    """
    outcomes = []
    for run in runs:
        folder = pathlib.Path(scratch) / run.stem / run.name
        clock, error = time.perf_counter(), None
        try:
            execute_notebook(run.notebook, folder, parameters=smoke_parameters(run, budget), kernel_name=kernel_name)
        except papermill.PapermillExecutionError as err:
            error = error_line(err)
        seconds = time.perf_counter() - clock
        outcomes.append({"notebook": run.stem, "run": run.name, "status": "failed" if error else "ok",
                         "seconds": round(seconds, 1), "error": error, "where": str(folder)})
        log(f"smoke {run.stem}/{run.name}: " + (f"failed ({error}) -> {folder}" if error else f"ok ({seconds:.0f} s)"))
    return outcomes
