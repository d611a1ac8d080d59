"""The run summary: ``<out>/summary.json`` and ``<out>/summary.md``, merged with what is on disk.

One row per notebook stem::

    {"headline": {"claim", "value", "target", "verdict", "on"} of the notebook's headline
                 claim (``iqlib.notebook.claims``), or None,
     "status": "ok" | "failed" | "interrupted", "error": last line of the error or None,
     "runtime_s": float, "finished_at": ISO time (UTC), "output": folder name under <out>,
     "metrics": {...}, "previous": the last "ok" row when this run did not replace it, or None}

A run writes the summary after every notebook, so whatever ends it (a failure, Ctrl-C,
SIGTERM, even SIGKILL) leaves the rows of the notebooks that finished. Rows of notebooks the
run did not touch are kept: ``--notebooks 03`` updates row 03 and leaves the others.
"""

from __future__ import annotations

import datetime
import json
import pathlib
from typing import Any, Mapping

from iqlib.data.files import read_json, write_json_atomic, write_text_atomic

__all__ = ["error_line", "now_utc", "read_summary", "merge_summary", "write_summary"]


def error_line(err: BaseException) -> str:
    """The last non-empty line of an error (a papermill cell error's ``ename: evalue``)."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename is not None:
        text = f"{ename}: {evalue}" if evalue else str(ename)
    else:
        text = f"{type(err).__name__}: {err}"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def now_utc() -> str:
    """The current time, ISO 8601 in UTC to the second (``2026-01-31T12:00:00Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_summary(output_dir: pathlib.Path) -> dict[str, dict[str, Any]]:
    """The rows of ``<output_dir>/summary.json``; ``{}`` if there is none.

    Raises ``ValueError`` if the file exists but is not a JSON object of rows: the runner
    must not overwrite a summary it cannot read.
    """
    path = pathlib.Path(output_dir) / "summary.json"
    if not path.is_file():
        return {}
    try:
        rows = read_json(path)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); move it aside to start afresh") from err
    if not isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows.values()):
        raise ValueError(f"{path} is not a summary (an object of rows); move it aside")
    return rows


def merge_summary(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Rows of ``old`` updated by ``new``, sorted by stem.

    A new row that is not ``"ok"`` records, as ``"previous"``, the last ``"ok"`` row of that
    notebook (whose folder the failed run left in place).
    """
    merged = {stem: dict(row) for stem, row in old.items()}
    for stem, row in new.items():
        row = dict(row)
        before = merged.get(stem)
        if row.get("status") != "ok" and before is not None:
            previous = before if before.get("status") == "ok" else before.get("previous")
            row["previous"] = previous
        merged[stem] = row
    return dict(sorted(merged.items()))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = "null" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _headline_rows(output_dir: pathlib.Path | None, results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One row per notebook: its headline claim, value, target, verdict and figures."""
    lines = ["| notebook | headline claim | value | target | verdict | on | figures |",
             "|---|---|---:|---|---|---|---|"]
    for stem, result in results.items():
        m = (result.get("previous") or result).get("metrics") or {}
        folder = (result.get("previous") or result).get("output") or stem
        figures = sorted(p.name for p in (output_dir / folder).glob("*.png")) if output_dir else []
        links = ", ".join(f"[{name}]({folder}/{name})" for name in figures)
        if "headline_claim" not in m:
            lines.append(f"| {stem} | (no claim recorded: {_cell(result['status'])}) | | | | | {links} |")
            continue
        verdict = m["headline_verdict"] if result["status"] == "ok" else f"{m['headline_verdict']} (kept)"
        lines.append(f"| {stem} | {_cell(m['headline_claim'])} | {_cell(m.get('headline_value'))} "
                     f"| {_cell(m.get('headline_target'))} | **{verdict}** | {_cell(m.get('headline_on'))} | {links} |")
    return lines


def _markdown(results: Mapping[str, Mapping[str, Any]], output_dir: pathlib.Path | None = None) -> str:
    lines = ["# Notebook run summary", "", "## Headline claims", "",
             "Each notebook's headline claim as its last cell asserted or stated it "
             "(`holds` / `miss`; `on`: this run's numbers or the recorded full-scale run in `results/`).", "",
             *_headline_rows(output_dir, results), "", "## Runtime", "",
             "| notebook | seconds | status | finished (UTC) | folder |",
             "|---|---:|---|---|---|"]
    for stem, result in results.items():
        status = result["status"]
        if result.get("error"):
            status = f"{status}: {result['error']}"
        lines.append(f"| {stem} | {result['runtime_s']:.1f} | {_cell(status)} "
                     f"| {_cell(result.get('finished_at'))} | {_cell(result.get('output'))} |")
    for stem, result in results.items():
        lines += ["", f"## {stem}", ""]
        previous = result.get("previous")
        if previous:
            lines += [f"Last complete result kept in `{previous.get('output', stem)}/` "
                      f"(finished {previous.get('finished_at')}); its metrics:", ""]
            metrics = previous.get("metrics") or {}
        else:
            metrics = result.get("metrics") or {}
        if not metrics:
            lines.append("(no metrics.json)")
            continue
        lines += ["All metrics:", "", "| key | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(metrics.items())]
    return "\n".join(lines) + "\n"


def write_summary(output_dir: pathlib.Path, results: Mapping[str, Mapping[str, Any]]) -> None:
    """Write ``summary.json`` and ``summary.md`` from ``results`` (rows as in the module doc).

    Each file is replaced atomically (written beside, then renamed). Rows need at least
    ``status`` and ``runtime_s``; this function does not merge (see :func:`merge_summary`).
    """
    output_dir = pathlib.Path(output_dir)
    rows = {}
    for stem, row in results.items():
        m = (row.get("previous") or row).get("metrics") or {}
        headline = {k: m.get(f"headline_{k}") for k in ("claim", "value", "target", "verdict", "on")}
        rows[stem] = {"headline": headline if m.get("headline_claim") else None,
                      **{k: v for k, v in row.items() if k != "headline"}}
    write_json_atomic(output_dir / "summary.json", rows)
    write_text_atomic(output_dir / "summary.md", _markdown(results, output_dir))
