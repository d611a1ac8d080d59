"""Run a sweep: every run of a YAML grid as a papermill run, dispatched with Dask distributed.

    python -m iqlib.notebook.sweep sweeps/X.yaml [more.yaml ...] [--results results]
        [--outputs outputs/sweep | --no-outputs] [--workers N] [--scheduler tcp://HOST:PORT]
        [--retries 2] [--dry-run] [--smoke [DIR]] [--entry NAME] [--notebook-dir DIR] [--kernel NAME]

The grid (``iqlib.notebook.grid``) expands into runs. By default they run on a ``LocalCluster``
of ``--workers`` worker processes on this machine (one thread each); ``--scheduler`` submits
them to a running Dask cluster instead (its workers must see the same repository, virtualenv
and results folder, e.g. on a shared file system). A progress bar counts runs done / total.

Each run executes its notebook (``runner.execute_notebook``) into a fresh
``results/<stem>/<run>.tmp-<hex>/outputs``, writes the record files beside it
(``iqlib.notebook.records``), moves the executed notebook and figures out of the record (to
``--outputs``/<stem>/<run>, or deletes them), then ``os.replace``-s the folder into
``results/<stem>/<run>/``. A run whose record is complete is skipped, so running the same sweep
again resumes it. Tasks carry ``retries``: a run whose worker dies (the nanny restarts it) or
whose kernel dies runs again; a dead attempt leaves only a ``.tmp-`` folder, which the next
attempt of that run removes. A notebook cell that raises is not retried: the run is reported as
failed, its ``.tmp-`` folder keeps the executed notebook with the traceback, and the exit status
is 1. A record that exists with other values for the sweep's parameters stops the sweep before
anything runs (use another ``--results`` folder or remove it).

``--smoke`` runs nothing long: it executes each run that has no record yet once at a tiny budget
(:mod:`iqlib.notebook.smoke`) into ``DIR`` (default ``outputs/smoke``) and writes no record; do
it before a long sweep, so a run does not train for an hour and then fail in its last cells.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import shutil
import sys
import time
import uuid
from typing import Any, Sequence

import papermill
from distributed import Client, LocalCluster, as_completed
from tqdm.auto import tqdm

from iqlib.data.files import read_json
from iqlib.notebook.grid import Run, SweepError, check_unique, load_sweep, notebook_parameters
from iqlib.notebook.provenance import run_provenance, utc_now
from iqlib.notebook.records import TMP_MARK, is_complete, publish, write_record
from iqlib.notebook.runner import NOTEBOOK_DIR, ensure_kernel, execute_notebook
from iqlib.notebook.smoke import smoke_runs
from iqlib.notebook.summary import error_line

__all__ = ["record_dir", "check_conflict", "execute_run", "run_sweep", "main"]


def record_dir(results_dir: str | os.PathLike, run: Run) -> pathlib.Path:
    """``results_dir/<notebook stem>/<run name>``."""
    return pathlib.Path(results_dir) / run.stem / run.name


def check_conflict(results_dir: str | os.PathLike, run: Run) -> None:
    """Raise ``SweepError`` if the run's complete record holds other values for its overrides."""
    folder = record_dir(results_dir, run)
    if not is_complete(folder):
        return
    recorded = read_json(folder / "parameters.json")
    wanted = _json_plain(run.parameters)
    differ = [k for k, v in wanted.items() if recorded.get(k, object()) != v]
    if differ:
        raise SweepError(
            f"{folder} is a record of other parameters ({', '.join(differ)} differ: "
            f"{ {k: recorded.get(k) for k in differ} } recorded, { {k: wanted[k] for k in differ} } "
            "wanted); use another --results folder or remove that record")


def _json_plain(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as they read back from JSON (tuples become lists)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in values.items()}


@functools.cache
def _kernel(name: str | None) -> str:
    return name or ensure_kernel()


def _outcome(run: Run, status: str, seconds: float = 0.0, error: str | None = None,
             where: str | None = None) -> dict[str, Any]:
    return {"notebook": run.stem, "run": run.name, "status": status,
            "seconds": round(seconds, 3), "error": error, "where": where}


def execute_run(run: Run, results_dir: str, outputs_dir: str | None, command: Sequence[str],
                kernel_name: str | None = None) -> dict[str, Any]:
    """Execute one run and publish its record (the task each Dask worker runs).

    Returns ``{"notebook", "run", "status", "seconds", "error", "where"}`` with status
    ``"done"``, ``"skipped"`` (already complete) or ``"failed"`` (a cell raised, or the
    notebook wrote no ``metrics.json``; ``where`` is the ``.tmp-`` folder holding the executed
    notebook). Other errors (the kernel died, the disk is full) propagate, so Dask retries.
    """
    final = record_dir(results_dir, run)
    if is_complete(final):
        return _outcome(run, "skipped")
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f"{final.name}{TMP_MARK}*"):  # earlier dead attempts
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f"{final.name}{TMP_MARK}{uuid.uuid4().hex[:12]}")
    work = tmp / "outputs"
    started, clock = utc_now(), time.perf_counter()
    try:
        execute_notebook(run.notebook, work, parameters=run.parameters,
                         kernel_name=_kernel(kernel_name))
    except papermill.PapermillExecutionError as err:
        return _outcome(run, "failed", time.perf_counter() - clock, error_line(err), str(tmp))
    seconds = time.perf_counter() - clock
    if not (work / "metrics.json").is_file():
        return _outcome(run, "failed", seconds, "the notebook wrote no metrics.json", str(tmp))

    parameters = {**notebook_parameters(run.notebook), **run.parameters}
    parameters.pop("output_dir", None)
    provenance = run_provenance(command, run.notebook, run.parameters, seconds, started)
    write_record(tmp, parameters, read_json(work / "metrics.json"), provenance,
                 curves=sorted(work.glob("curves*.json")))
    if outputs_dir is None:
        shutil.rmtree(work)
    else:
        kept = pathlib.Path(outputs_dir) / run.stem / run.name
        shutil.rmtree(kept, ignore_errors=True)
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(work, kept)
    published = publish(tmp, final)
    return _outcome(run, "done" if published else "skipped", seconds)


def run_sweep(runs: Sequence[Run], results_dir: str | os.PathLike, client: Client, *,
              outputs_dir: str | os.PathLike | None = None, command: Sequence[str] = (),
              kernel_name: str | None = None, retries: int = 2, timeout: float | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
    """Submit the runs that have no complete record to ``client``; wait for all of them.

    Returns one outcome per run (see :func:`execute_run`), in the order of ``runs``; a task
    that still errors after its retries (or whose workers kept dying) is ``"failed"`` with the
    error. Raises ``SweepError`` (before submitting anything) if a record conflicts
    (:func:`check_conflict`), and ``TimeoutError`` if ``timeout`` seconds pass first.
    """
    results_dir = pathlib.Path(results_dir).resolve()
    outputs = None if outputs_dir is None else str(pathlib.Path(outputs_dir).resolve())
    for run in runs:
        check_conflict(results_dir, run)
    outcomes: dict[int, dict[str, Any]] = {}
    futures = {}
    for i, run in enumerate(runs):
        if is_complete(record_dir(results_dir, run)):
            outcomes[i] = _outcome(run, "skipped")
            continue
        key = f"{run.stem}/{run.name}-{uuid.uuid4().hex[:8]}"
        future = client.submit(execute_run, run, str(results_dir), outputs, list(command),
                               kernel_name, key=key, retries=retries, pure=False,
                               priority=len(runs) - i)  # the file's order: Dask runs higher priorities first
        futures[future] = i
    if futures:
        bar = tqdm(total=len(runs), initial=len(outcomes), unit="run", desc="sweep",
                   disable=not progress)
        try:
            for future in as_completed(list(futures), timeout=timeout):
                i = futures[future]
                try:
                    outcomes[i] = future.result()
                except Exception as err:  # retries spent, or KilledWorker
                    outcomes[i] = _outcome(runs[i], "failed", error=error_line(err))
                if outcomes[i]["status"] == "failed":
                    bar.write(f"failed: {runs[i].stem}/{runs[i].name}: {outcomes[i]['error']}"
                              + (f" (see {outcomes[i]['where']})" if outcomes[i]["where"] else ""))
                bar.update(1)
        finally:
            bar.close()
            client.cancel(list(futures))
    return [outcomes[i] for i in range(len(runs))]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m iqlib.notebook.sweep",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=pathlib.Path, help="sweep YAML files")
    parser.add_argument("--results", type=pathlib.Path, default=pathlib.Path("results"))
    parser.add_argument("--outputs", type=pathlib.Path, default=pathlib.Path("outputs/sweep"),
                        help="where executed notebooks and figures go (<dir>/<stem>/<run>)")
    parser.add_argument("--no-outputs", action="store_true",
                        help="delete executed notebooks and figures instead")
    parser.add_argument("--workers", type=int, default=1,
                        help="LocalCluster worker processes (ignored with --scheduler)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="list the runs; run nothing")
    parser.add_argument("--smoke", nargs="?", const=pathlib.Path("outputs/smoke"), type=pathlib.Path,
                        default=None, metavar="DIR",
                        help="execute each run without a record at a tiny budget into DIR; write no record")
    parser.add_argument("--entry", action="append", default=None, metavar="NAME",
                        help="run only the entries of this name (repeatable)")
    parser.add_argument("--notebook-dir", type=pathlib.Path, default=NOTEBOOK_DIR)
    parser.add_argument("--kernel", default=None, help="Jupyter kernel (default: this python)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        runs = [run for path in args.sweeps for run in load_sweep(path, args.notebook_dir)]
        check_unique(runs, " + ".join(map(str, args.sweeps)))
        if args.entry:
            unknown = sorted(set(args.entry) - {run.sweep for run in runs})
            if unknown:
                raise SweepError(f"--entry {unknown}: no such entry; the sweep has {sorted({r.sweep for r in runs})}")
            runs = [run for run in runs if run.sweep in args.entry]
        for run in runs:
            check_conflict(args.results, run)
    except (SweepError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.dry_run:
        for run in runs:
            state = "complete" if is_complete(record_dir(args.results, run)) else "to run"
            print(f"{run.stem}/{run.name}  [{state}]  {run.parameters}")
        print(f"{len(runs)} run(s)")
        return 0
    todo = [run for run in runs if not is_complete(record_dir(args.results, run))]
    if not todo:
        print(f"{len(runs)} run(s): all complete in {args.results}; nothing to run")
        return 0
    if args.smoke is not None:
        outcomes = smoke_runs(todo, args.smoke, kernel_name=args.kernel)
        failed = sum(o["status"] == "failed" for o in outcomes)
        print(f"smoke: {len(outcomes)} run(s), {failed} failed; nothing recorded")
        return 1 if failed else 0
    command = ["python", "-m", "iqlib.notebook.sweep", *(sys.argv[1:] if argv is None else argv)]
    outputs = None if args.no_outputs else args.outputs
    kernel = args.kernel
    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        kernel = kernel or ensure_kernel()  # installed once, before the workers look for it
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        outcomes = run_sweep(runs, args.results, client, outputs_dir=outputs, command=command,
                             kernel_name=kernel, retries=args.retries)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    counts = {s: sum(o["status"] == s for o in outcomes) for s in ("done", "skipped", "failed")}
    print(f"{len(outcomes)} run(s): {counts['done']} done, {counts['skipped']} skipped, "
          f"{counts['failed']} failed; records in {args.results}")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
