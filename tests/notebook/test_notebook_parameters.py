"""Every notebook refuses bad parameters in its validation cell, before any work.

Each case runs a notebook only up to and including its validation cell (the first code cell
after the ``parameters`` cell) and must fail there with a ``ValueError`` whose message names the
parameter. Kinds of bad input: non-finite numbers, rules between parameters, unknown env ids and
datasets, injected names the notebook would overwrite (``-p time 5``), renamed names.

The overwritten-name cases need a real kernel (the guard reads IPython's input history): each
runs with papermill on the notebook cut after its validation cell. The other cases run the same
cells as papermill would (parameters cell, then the injected assignments, then the validation
cell) in one Python subprocess for all of them, so the whole table costs one interpreter start.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import papermill
import pytest

from iqlib.notebook.grid import load_sweep
from iqlib.notebook.kernel import ensure_kernel
from iqlib.notebook.runner import execute_notebook
from iqlib.notebook.smoke import smoke_parameters

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"
INF, NAN = math.inf, math.nan

# (kind, notebook, parameters, regex the error message must match)
CASES = [
    ("non-finite", "01", {"entropy_temperature": INF}, r"'entropy_temperature': expected a finite number"),
    ("non-finite", "02", {"chi2_weight": NAN}, r"'chi2_weight': expected a finite number"),
    ("non-finite", "03", {"chi2_weight": INF}, r"'chi2_weight': expected a finite number .*got inf"),
    ("non-finite", "04", {"chi2_path": [1.0, INF]}, r"'chi2_path\[1\]': expected a finite number"),
    ("non-finite", "05", {"grad_penalty": NAN}, r"'grad_penalty': expected a finite number"),
    ("non-finite", "06", {"actor_lr": NAN}, r"'actor_lr': expected a finite number"),
    ("non-finite", "07", {"expectiles": [0.5, NAN]}, r"'expectiles\[1\]': expected a finite number"),
    ("non-finite", "08", {"awr_temperature": INF}, r"'awr_temperature': expected a finite number"),
    ("non-finite", "09", {"awr_temperature": INF}, r"'awr_temperature': expected None or a finite number"),
    ("out of range", "09", {"target_rate": 0.0}, r"'target_rate': expected None or .*got 0"),
    ("unknown name", "06", {"lfo_absorbing": False}, r"'lfo_absorbing': expected one of"),
    ("cross rule", "02", {"demo_counts": [3, 3]}, r"'demo_counts': expected distinct values"),
    ("cross rule", "02", {"divergence_max_iter": 110}, r"'divergence_max_iter': expected a multiple of 25"),
    ("cross rule", "03", {"groups": [1, 1]}, r"'groups': expected distinct values"),
    ("cross rule", "04", {"n_periods": 2000}, r"n_periods \(2000\) must be <= n_obs .*sample_sizes"),
    ("cross rule", "04", {"n_states": 5, "q_degree": 10}, r"q_degree \(10\) must be < n_states \(5\)"),
    ("cross rule", "05", {"train_steps": 2100}, r"train_steps \(2100\) must be a multiple of chunk_size \(500\)"),
    ("cross rule", "05", {"time_to_expert_steps": 100}, r"'time_to_expert_steps': expected 0 .* multiple of 250"),
    ("cross rule", "05", {"n_demos": [1, 200]}, r"n_demos \(max 200\) must be <= the episodes of CartPole-v1 .*30"),
    ("cross rule", "05", {"demos_dir": "data/nowhere"}, r"'demos_dir': expected an existing folder"),
    ("cross rule", "06", {"learning_starts": 20000}, r"learning_starts \(20000\) must be < total_steps \(10000\)"),
    ("cross rule", "06", {"eval_every": 3000}, r"total_steps \(10000\) must be a multiple of eval_every \(3000\)"),
    ("cross rule", "06", {"chi2_weight": 0.0}, r"absorbing=True needs chi2_weight > 0"),
    ("cross rule", "06", {"lfo_steps": 1024}, r"lfo_steps \(1024\) must be > the LfO learner's learning_starts"),
    ("cross rule", "06", {"n_demos": 999}, r"n_demos \(999\) must be <= the \d+ demo episodes of env_id"),
    ("cross rule", "07", {"expectiles": [0.5, 0.5]}, r"'expectiles': expected distinct values"),
    ("cross rule", "09", {"n_seeds": 5, "seed_group": 2}, r"seed_group \(2\) must divide n_seeds \(5\)"),
    ("cross rule", "09", {"eval_every": 700}, r"train_steps \(3000\) must be a multiple of eval_every \(700\)"),
    ("cross rule", "10", {"learning_starts": 2000}, r"learning_starts \(2000\) must be < online_steps \(2000\)"),
    ("cross rule", "10", {"eval_every": 1500}, r"eval_every \(1500\) must be a multiple of train_freq \(1000\)"),
    ("cross rule", "10", {"eval_every": 3000}, r"eval_every \(3000\) must be <= online_steps \(2000\)"),
    ("unknown name", "05", {"env_ids": ["MountainCar-v0"]}, r"'env_ids\[0\]': expected one of"),
    ("unknown name", "06", {"env_id": "Pendulum-v0"}, r"'env_id': expected a registered gymnasium id"),
    ("unknown name", "06", {"env_id": "CartPole-v1"}, r"'env_id': expected a gymnasium id with continuous actions"),
    ("unknown name", "06", {"lfo_env_ids": ["CartPol-v1"]}, r"'lfo_env_ids\[0\]': expected a registered gymnasium id"),
    ("unknown name", "09", {"datasets": ["hopper-medium-typo"]}, r"'datasets\[0\]': expected one of"),
    ("unknown name", "10", {"dataset": "cartpole"}, r"'dataset': expected one of"),
    ("overwritten name", "07", {"time": 5}, r"unknown parameter 'time'"),
    ("overwritten name", "01", {"jax": 1}, r"unknown parameter 'jax'"),
    ("overwritten name", "04", {"np": 0}, r"unknown parameter 'np'"),
    ("overwritten name", "09", {"P": 3}, r"unknown parameter 'P'"),
    ("overwritten name", "06", {"Float": 1.0}, r"unknown parameter 'Float' \(set in the parameters or injected cell"),
    ("renamed name", "01", {"gamma": 0.9}, r"'gamma' was renamed to 'discount'"),
    ("renamed name", "08", {"tau": 0.7}, r"'tau' was renamed to 'expectile'"),
    ("renamed name", "09", {"temperature": 3.0}, r"'temperature' was renamed to 'awr_temperature'"),
    ("renamed name", "06", {"alpha": 0.1}, r"'alpha' was renamed to 'entropy_temperature'"),
]


def _cells(number: str) -> tuple[pathlib.Path, list[str], int, int]:
    """(source, py:percent cells, index of the parameters cell, index of the validation cell)."""
    (source,) = NOTEBOOKS.glob(f"{number}_*.py")
    cells = re.split(r"(?m)^(?=# %%)", source.read_text(encoding="utf-8"))
    first = next(i for i, c in enumerate(cells) if 'tags=["parameters"]' in c.splitlines()[0])
    check = next(i for i in range(first + 1, len(cells)) if not cells[i].startswith("# %% [markdown]"))
    assert "check_parameters(globals()" in cells[check], f"{source.name}: no validation cell after the parameters"
    return source, cells, first, check


def _validation_only(number: str, folder: pathlib.Path) -> pathlib.Path:
    """A copy of notebook ``number`` cut after its validation cell, written into ``folder``."""
    source, cells, _, check = _cells(number)
    cut = folder / source.name
    cut.write_text("".join(cells[: check + 1]), encoding="utf-8")
    return cut


# Runs (parameters cell, injected assignments, validation cell) per case, as papermill orders them;
# prints [exception name, message] (or null when the cell passed) per case, as JSON.
_IN_PROCESS = """
import json, os, sys
cases = json.loads(sys.stdin.read())
os.chdir(sys.argv[1])
out = []
for parameters_cell, injected, validation_cell in cases:
    ns = {"__name__": "__main__"}
    exec(compile(parameters_cell, "<parameters>", "exec"), ns)
    ns.update(injected)
    try:
        exec(compile(validation_cell, "<validation>", "exec"), ns)
        out.append(None)
    except Exception as err:
        out.append([type(err).__name__, str(err)])
print(json.dumps(out))
"""

IN_PROCESS = [c for c in CASES if c[0] != "overwritten name"]
IN_KERNEL = [c for c in CASES if c[0] == "overwritten name"]


@pytest.fixture(scope="module")
def in_process_errors() -> list:
    payload = []
    for _, number, parameters, _ in IN_PROCESS:
        _, cells, first, check = _cells(number)
        payload.append([cells[first], parameters, cells[check]])
    return _run_in_process(payload)


def _run_in_process(payload: list) -> list:
    """Run [parameters cell, injected, validation cell] triples in one subprocess; per-case errors."""
    done = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(NOTEBOOKS)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _check_message(parameters: dict, message: str, evalue: str) -> None:
    assert re.search(message, evalue), evalue
    names = [n for n in parameters if n in evalue]
    assert names, f"the message names none of {list(parameters)}: {evalue}"


@pytest.fixture(scope="module")
def kernel() -> str:
    return ensure_kernel()


def _ids(cases):
    return [f"{n}-{k.replace(' ', '_')}-{'-'.join(p)}" for k, n, p, _ in cases]


@pytest.mark.parametrize("index", range(len(IN_PROCESS)), ids=_ids(IN_PROCESS))
def test_bad_parameter_fails_in_the_validation_cell(index, in_process_errors):
    _, _, parameters, message = IN_PROCESS[index]
    error = in_process_errors[index]
    assert error is not None, f"the validation cell accepted {parameters}"
    assert error[0] == "ValueError", error
    _check_message(parameters, message, error[1])


@pytest.mark.notebooks
@pytest.mark.parametrize("kind, number, parameters, message", IN_KERNEL, ids=_ids(IN_KERNEL))
def test_overwritten_name_fails_in_the_validation_cell_of_a_kernel(kind, number, parameters, message, kernel,
                                                                   tmp_path):
    cut = _validation_only(number, tmp_path)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        execute_notebook(cut, tmp_path / "out", parameters, kernel_name=kernel, cwd=NOTEBOOKS)
    err = info.value
    assert err.ename == "ValueError", (err.ename, err.evalue)
    assert "check_parameters(globals()" in err.source, f"failed outside the validation cell: {err.source[:200]}"
    _check_message(parameters, message, err.evalue)


def test_defaults_pass_the_validation_cell():
    """The table's own control: every notebook's defaults pass the same cells (nbmake then runs them whole)."""
    payload = []
    for number in [f"{i:02d}" for i in range(1, 11)]:
        _, cells, first, check = _cells(number)
        payload.append([cells[first], {}, cells[check]])
    assert _run_in_process(payload) == [None] * 10


def test_every_kind_of_bad_input_is_covered_in_many_notebooks():
    kinds: dict[str, set] = {}
    for kind, number, _, _ in CASES:
        kinds.setdefault(kind, set()).add(number)
    assert set(kinds) == {"non-finite", "out of range", "cross rule", "unknown name", "overwritten name", "renamed name"}
    assert len(CASES) >= 30 and {n for ns in kinds.values() for n in ns} == {f"{i:02d}" for i in range(1, 11)}


def test_smoke_budget_keeps_every_sweep_run_valid():
    """Every run of every sweep file, at its notebook's smoke budget, passes that notebook's validation cell."""
    payload, names = [], []
    for path in sorted((NOTEBOOKS.parent / "sweeps").glob("*.yaml")):
        for run in load_sweep(path):
            _, cells, first, check = _cells(run.notebook.stem[:2])
            payload.append([cells[first], smoke_parameters(run), cells[check]])
            names.append(f"{path.name}: {run.stem}/{run.name}")
    assert len(payload) > 20
    errors = {name: err for name, err in zip(names, _run_in_process(payload)) if err is not None}
    assert not errors, errors
