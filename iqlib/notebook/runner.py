"""The main job: execute every notebook and gather their metrics.

    python -m iqlib.notebook.runner [--output-dir outputs] [--notebooks 01 02 ...]
                           [-p name value ...] [--kernel NAME]

For each ``notebooks/NN_*.py`` (jupytext py:percent, sorted), the runner converts the source
to a notebook, executes it with papermill into ``<out>/<stem>/<stem>.ipynb`` with the
parameter ``output_dir=<out>/<stem>`` (plus any ``-p`` overrides), and times it. Then it
reads each ``<out>/<stem>/metrics.json`` and writes ``<out>/summary.md`` and
``<out>/summary.json``. A failing notebook is recorded with status ``"failed"`` and the
error's last line; the others still run, and the exit status is non-zero.

Notebooks run on a Jupyter kernel backed by this interpreter (``sys.executable``); if no
installed kernelspec points at it, one named ``iqlib`` is installed into ``sys.prefix``
(the virtualenv), never globally. Executions get ``MPLBACKEND=Agg`` and this package's
root on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import os
import pathlib
import sys
import time
from typing import Any, Iterator, Mapping, Sequence

import jupytext
import papermill
from ipykernel.kernelspec import install
from jupyter_client.kernelspec import KernelSpecManager

from iqlib.data.files import read_json, write_json_atomic

__all__ = [
    "REPO_ROOT",
    "NOTEBOOK_DIR",
    "find_notebooks",
    "ensure_kernel",
    "execute_notebook",
    "run_all",
    "write_summary",
    "main",
]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def find_notebooks(
    notebook_dir: pathlib.Path = NOTEBOOK_DIR, prefixes: Sequence[str] | None = None
) -> list[pathlib.Path]:
    """Sorted ``NN_*.py`` notebook sources, keeping those whose name starts with a prefix.

    A prefix that matches nothing raises ``ValueError`` (a typo must not silently skip).
    """
    paths = sorted(notebook_dir.glob("[0-9][0-9]_*.py"))
    if not prefixes:
        return paths
    unmatched = [p for p in prefixes if not any(path.stem.startswith(p) for path in paths)]
    if unmatched:
        raise ValueError(
            f"no notebook in {str(notebook_dir)!r} starts with {unmatched}; "
            f"available: {[p.stem for p in paths]}"
        )
    return [path for path in paths if any(path.stem.startswith(p) for p in prefixes)]


def ensure_kernel() -> str:
    """Name of a Jupyter kernel that runs ``sys.executable``; install one if needed.

    An existing kernelspec counts only if its ``argv[0]`` is this exact interpreter path
    (a venv's python is a symlink to the base python, so paths are not resolved). Otherwise
    a kernelspec is installed into ``sys.prefix`` under the name ``iqlib`` (or a name
    derived from ``sys.prefix`` if another ``iqlib`` kernel shadows it).
    """
    def matching(manager: KernelSpecManager) -> str | None:
        specs = manager.find_kernel_specs()
        # Prefer the conventional names so repeated runs pick the same kernel.
        for name in sorted(specs, key=lambda n: (n not in ("python3", "iqlib"), n)):
            try:
                argv = manager.get_kernel_spec(name).argv
            except Exception:  # a broken kernelspec elsewhere must not stop us
                continue
            if argv and os.path.abspath(argv[0]) == os.path.abspath(sys.executable):
                return name
        return None

    name = matching(KernelSpecManager())
    if name is not None:
        return name

    tag = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
    for candidate in ("iqlib", f"iqlib-{tag}"):
        install(prefix=sys.prefix, kernel_name=candidate, display_name=f"Python ({candidate})")
        manager = KernelSpecManager()
        if manager.get_kernel_spec(candidate).argv[0] == sys.executable:
            return candidate
    raise RuntimeError(f"could not register a Jupyter kernel for {sys.executable}")


@contextlib.contextmanager
def _execution_env() -> Iterator[None]:
    """Environment for kernels: headless matplotlib, and this iqlib importable."""
    saved = {key: os.environ.get(key) for key in ("MPLBACKEND", "PYTHONPATH")}
    os.environ["MPLBACKEND"] = "Agg"
    pythonpath = [str(REPO_ROOT)] + [p for p in (saved["PYTHONPATH"] or "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(pythonpath))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
        (``metrics.json`` and figures go there).
    parameters: overrides injected after the ``parameters`` cell.
    kernel_name: Jupyter kernel; default :func:`ensure_kernel`.
    cwd: working directory of the kernel; default the notebook's folder.

    Raises ``papermill.PapermillExecutionError`` if a cell fails (the executed notebook,
    with the traceback, is still written).
    """
    py_path = pathlib.Path(py_path)
    # Absolute: the kernel runs in `cwd`, so a relative path would land elsewhere.
    output_dir = pathlib.Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(py_path)  # in memory: no .ipynb is left next to the source
    kernel_name = kernel_name or ensure_kernel()
    # A py:percent file without a jupytext header carries no kernel or language;
    # papermill needs the language to write the injected-parameters cell.
    notebook.metadata["kernelspec"] = {
        "name": kernel_name, "display_name": f"Python ({kernel_name})", "language": "python"
    }
    notebook.metadata.setdefault("language_info", {"name": "python"})
    executed = output_dir / f"{py_path.stem}.ipynb"
    params = {"output_dir": str(output_dir), **dict(parameters or {})}
    with _execution_env():
        papermill.execute_notebook(
            notebook,
            str(executed),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(cwd if cwd is not None else py_path.parent),
            progress_bar=False,
        )
    return executed


def _error_line(err: BaseException) -> str:
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename is not None:
        text = f"{ename}: {evalue}" if evalue else str(ename)
    else:
        text = f"{type(err).__name__}: {err}"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = "null" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def write_summary(output_dir: pathlib.Path, results: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``summary.json`` and ``summary.md``.

    results: ``{stem: {"runtime_s": float, "status": "ok" | "failed",
    "error": last line of the error or None, "metrics": {...}}}``.
    """
    write_json_atomic(output_dir / "summary.json", results)
    lines = ["# Notebook run summary", "", "## Runtime", "",
             "| notebook | seconds | status |", "|---|---:|---|"]
    for stem, result in results.items():
        status = result["status"]
        if result.get("error"):
            status = f"{status}: {result['error']}"
        lines.append(f"| {stem} | {result['runtime_s']:.1f} | {_cell(status)} |")
    for stem, result in results.items():
        lines += ["", f"## {stem}", ""]
        if not result["metrics"]:
            lines.append("(no metrics.json)")
            continue
        lines += ["| key | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(result["metrics"].items())]
    text = "\n".join(lines) + "\n"
    tmp = output_dir / ".summary.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output_dir / "summary.md")


def run_all(
    output_dir: pathlib.Path,
    notebooks: Sequence[pathlib.Path],
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Execute ``notebooks`` in order, then write the summaries; return the results."""
    output_dir.mkdir(parents=True, exist_ok=True)
    kernel_name = kernel_name or ensure_kernel()
    print(f"kernel {kernel_name!r} ({sys.executable}); outputs in {output_dir}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for i, py_path in enumerate(notebooks, start=1):
        stem = py_path.stem
        nb_dir = output_dir / stem
        print(f"[{i}/{len(notebooks)}] {stem} ...", flush=True)
        metrics_path = nb_dir / "metrics.json"
        metrics_path.unlink(missing_ok=True)  # never report a previous run's metrics
        status, error = "ok", None
        start = time.perf_counter()
        try:
            execute_notebook(py_path, nb_dir, parameters, kernel_name=kernel_name)
        except Exception as err:  # record and go on with the other notebooks
            status, error = "failed", _error_line(err)
        runtime = time.perf_counter() - start
        metrics = read_json(metrics_path) if metrics_path.is_file() else {}
        results[stem] = {
            "runtime_s": round(runtime, 3), "status": status, "error": error, "metrics": metrics
        }
        shown = status if error is None else f"{status}: {error}"
        print(f"[{i}/{len(notebooks)}] {stem}: {shown} ({runtime:.1f} s)", flush=True)
    write_summary(output_dir, results)
    return results


def _parse_value(text: str) -> Any:
    """``-p`` values: Python literals (``5``, ``0.1``, ``True``, ``[1, 2]``), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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
    except ValueError as err:
        parser.error(str(err))
    if not notebooks:
        print(f"no notebooks found in {args.notebook_dir}", file=sys.stderr)
        return 1
    parameters = {name: _parse_value(value) for name, value in args.parameter}
    results = run_all(args.output_dir, notebooks, parameters, kernel_name=args.kernel)

    failed = [stem for stem, r in results.items() if r["status"] != "ok"]
    print(f"summary: {args.output_dir / 'summary.md'}")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
