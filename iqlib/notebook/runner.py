"""The main job: execute every notebook and gather their metrics.

    python -m iqlib.notebook.runner [--output-dir outputs] [--notebooks 01 02 ...]
                           [-p name value ...] [--kernel NAME]

For each ``notebooks/NN_*.py`` (jupytext py:percent, sorted), the runner converts the source
to a notebook and executes it with papermill into a fresh folder
``<out>/.<stem>.partial-<time>/`` with the parameter ``output_dir`` set to that folder (plus
any ``-p`` overrides). Only a complete run replaces ``<out>/<stem>/`` (one rename, so no
stale figure of an earlier run is mixed in). A failed or interrupted run is moved aside to
``<out>/<stem>.failed-<time>/`` (``.interrupted-<time>``), with the executed notebook and
its traceback, and the previous complete ``<out>/<stem>/`` is kept; nothing is deleted but
a result a complete run replaced.

After each notebook the runner merges its row into ``<out>/summary.json`` and rewrites
``<out>/summary.md`` (:mod:`iqlib.notebook.summary`): rows of notebooks this run did not
touch stay, and Ctrl-C or SIGTERM still leaves the rows of what finished (exit status 130
or 143). A failing notebook is recorded with status ``"failed"`` and the error's last line;
the others still run, and the exit status is 1.

``-p NAME VALUE`` must name a parameter that every selected notebook's ``parameters`` cell
assigns (checked with ``ast`` before any kernel starts); ``-p output_dir`` is refused (the
runner sets it). Kernels: :mod:`iqlib.notebook.kernel` (this interpreter, encrypted channel).
"""

from __future__ import annotations

import argparse
import ast
import os
import pathlib
import shutil
import signal
import sys
import time
from typing import Any, Mapping, Sequence

import jupytext
import papermill

from iqlib.data.files import read_json
from iqlib.notebook.kernel import REPO_ROOT, EncryptedKernelManager, ensure_kernel, execution_env
from iqlib.notebook.overrides import check_overrides, parameter_names
from iqlib.notebook.summary import error_line, merge_summary, now_utc, read_summary, write_summary

__all__ = [
    "REPO_ROOT", "NOTEBOOK_DIR", "Interrupted", "find_notebooks", "parameter_names",
    "check_overrides", "ensure_kernel", "execute_notebook", "run_all", "write_summary", "main",
]

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGTERM here; SIGINT arrives as ``KeyboardInterrupt``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def find_notebooks(
    notebook_dir: pathlib.Path = NOTEBOOK_DIR, prefixes: Sequence[str] | None = None
) -> list[pathlib.Path]:
    """Sorted ``NN_*.py`` notebook sources, keeping those whose name starts with a prefix.

    A prefix that matches nothing raises ``ValueError`` (a typo must not silently skip).
    """
    paths = sorted(pathlib.Path(notebook_dir).glob("[0-9][0-9]_*.py"))
    if not prefixes:
        return paths
    unmatched = [p for p in prefixes if not any(path.stem.startswith(p) for path in paths)]
    if unmatched:
        raise ValueError(
            f"no notebook in {str(notebook_dir)!r} starts with {unmatched}; "
            f"available: {[p.stem for p in paths]}"
        )
    return [path for path in paths if any(path.stem.startswith(p) for p in prefixes)]


def execute_notebook(
    py_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike | None = None,
) -> pathlib.Path:
    """Execute a py:percent notebook with papermill; return the executed ``.ipynb`` path.

    py_path: the jupytext ``py:percent`` source.
    output_dir: this notebook's own output folder; it receives ``<stem>.ipynb`` and is
        passed, made absolute, to the notebook as the parameter ``output_dir``
        (``metrics.json`` and figures go there). Written in place: :func:`run_all` is the
        one that runs into a fresh folder and keeps previous results.
    parameters: overrides injected after the ``parameters`` cell (not ``output_dir``).
    kernel_name: Jupyter kernel; default :func:`ensure_kernel`.
    cwd: working directory of the kernel; default the notebook's folder.

    Raises ``ValueError`` if ``parameters`` holds ``output_dir``, and
    ``papermill.PapermillExecutionError`` if a cell fails (the executed notebook, with the
    traceback, is still written).
    """
    if "output_dir" in (parameters or {}):
        raise ValueError("parameters must not hold 'output_dir': pass the folder as output_dir")
    py_path = pathlib.Path(py_path)
    # Absolute: the kernel runs in `cwd`, so a relative path would land elsewhere.
    output_dir = pathlib.Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(py_path)  # in memory: no .ipynb is left next to the source
    kernel_name = kernel_name or ensure_kernel()
    # Run on *this* interpreter's kernel whatever the header names; papermill needs the
    # language to write the injected-parameters cell.
    notebook.metadata["kernelspec"] = {
        "name": kernel_name, "display_name": f"Python ({kernel_name})", "language": "python"
    }
    notebook.metadata.setdefault("language_info", {"name": "python"})
    executed = output_dir / f"{py_path.stem}.ipynb"
    params = {"output_dir": str(output_dir), **dict(parameters or {})}
    with execution_env():
        papermill.execute_notebook(
            notebook,
            str(executed),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(cwd if cwd is not None else py_path.parent),
            progress_bar=False,
            kernel_manager_class=EncryptedKernelManager,
        )
    return executed


def _free(path: pathlib.Path) -> pathlib.Path:
    """``path``, or ``path-2``, ``path-3``, ... whichever does not exist yet."""
    candidate, k = path, 1
    while candidate.exists():
        k += 1
        candidate = path.with_name(f"{path.name}-{k}")
    return candidate


def _install(partial: pathlib.Path, final: pathlib.Path) -> None:
    """Move the complete run ``partial`` to ``final``; the result it replaces goes last."""
    replaced = None
    if final.exists():
        replaced = _free(final.with_name(f".{final.name}.replaced"))
        os.rename(final, replaced)
    os.rename(partial, final)
    if replaced is not None:
        shutil.rmtree(replaced)


def _run_one(py_path, output_dir, parameters, kernel_name):
    """Run one notebook into a fresh folder; return ``(row, interrupt or None)``."""
    stem = py_path.stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    partial = _free(output_dir / f".{stem}.partial-{stamp}")
    status, error, interrupt = "ok", None, None
    start = time.perf_counter()
    try:
        execute_notebook(py_path, partial, parameters, kernel_name=kernel_name)
    except Exception as err:  # record and go on with the other notebooks
        status, error = "failed", error_line(err)
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM through Interrupted
        status, error, interrupt = "interrupted", f"interrupted ({err or 'SIGINT'})", err
    runtime = time.perf_counter() - start
    metrics_path = partial / "metrics.json"
    metrics = read_json(metrics_path) if metrics_path.is_file() else {}
    final = output_dir / stem if status == "ok" else _free(output_dir / f"{stem}.{status}-{stamp}")
    if status == "ok":
        _install(partial, final)
    elif partial.exists():
        os.rename(partial, final)
    row = {"runtime_s": round(runtime, 3), "status": status, "error": error, "metrics": metrics,
           "finished_at": now_utc(), "output": final.name if final.exists() else None,
           "previous": None}
    return row, interrupt


def run_all(
    output_dir: pathlib.Path,
    notebooks: Sequence[pathlib.Path],
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute ``notebooks`` in order, merging each row into the summaries; return this run's rows.

    Raises ``ValueError`` (before any kernel starts) for overrides :func:`check_overrides`
    refuses or an unreadable ``summary.json``; re-raises ``KeyboardInterrupt`` (and
    :class:`Interrupted`) after recording the interrupted notebook.
    """
    output_dir = pathlib.Path(output_dir)
    parameters = dict(parameters or {})
    check_overrides(notebooks, parameters)
    read_summary(output_dir)  # fail now, not after an hour of notebooks
    output_dir.mkdir(parents=True, exist_ok=True)
    leftovers = sorted(p.name for p in output_dir.glob(".*.partial-*"))
    if leftovers:
        print(f"note: {output_dir} holds folders of runs that never finished (killed?): "
              f"{', '.join(leftovers)}", file=sys.stderr)
    kernel_name = kernel_name or ensure_kernel()
    print(f"kernel {kernel_name!r} ({sys.executable}); outputs in {output_dir}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for i, py_path in enumerate(notebooks, start=1):
        stem = py_path.stem
        print(f"[{i}/{len(notebooks)}] {stem} ...", flush=True)
        row, interrupt = _run_one(py_path, output_dir, parameters, kernel_name)
        merged = merge_summary(read_summary(output_dir), {stem: row})
        results[stem] = merged[stem]
        write_summary(output_dir, merged)
        shown = row["status"] if row["error"] is None else f"{row['status']}: {row['error']}"
        print(f"[{i}/{len(notebooks)}] {stem}: {shown} ({row['runtime_s']:.1f} s) "
              f"-> {output_dir / str(row['output'])}", flush=True)
        if interrupt is not None:
            raise interrupt
    return results


def _parse_value(text: str) -> Any:
    """``-p`` values: Python literals (``5``, ``0.1``, ``True``, ``[1, 2]``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _terminate(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m iqlib.notebook.runner", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--output-dir", type=pathlib.Path, default=pathlib.Path("outputs"))
    parser.add_argument("--notebooks", nargs="*", metavar="PREFIX",
                        help="run only notebooks whose name starts with one of these (e.g. 01 02)")
    parser.add_argument("--notebook-dir", type=pathlib.Path, default=NOTEBOOK_DIR)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="override a parameter in every notebook")
    parser.add_argument("--kernel", default=None, help="Jupyter kernel (default: this python)")
    args = parser.parse_args(argv)

    try:
        notebooks = find_notebooks(args.notebook_dir, args.notebooks)
        parameters = {name: _parse_value(value) for name, value in args.parameter}
        check_overrides(notebooks, parameters)
        read_summary(args.output_dir)
    except ValueError as err:
        parser.error(str(err))
    if not notebooks:
        print(f"no notebooks found in {args.notebook_dir}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        results = run_all(args.output_dir, notebooks, parameters, kernel_name=args.kernel)
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(signum).name}); the rows of what finished are in "
              f"{args.output_dir / 'summary.md'}", file=sys.stderr)
        return 128 + signum
    finally:
        signal.signal(signal.SIGTERM, previous)

    failed = [stem for stem, r in results.items() if r["status"] != "ok"]
    print(f"summary: {args.output_dir / 'summary.md'}")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
