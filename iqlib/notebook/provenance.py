"""Provenance of a recorded run: what ran, from which code, on which machine, when.

:func:`run_provenance` builds the ``provenance.json`` of a record (``iqlib.notebook.records``)::

    {"command": [...], "rerun": "python -m iqlib.notebook.runner ...", "notebook": "...",
     "git": {"commit": "<sha>" | null, "dirty": bool | null},
     "versions": {"jax": "...", "flax": "...", ..., "iqlib": "..."},
     "machine": {"hostname", "platform", "python", "cpu_count", "devices": [[platform, kind]],
                 "device_kind"},
     "wall_time_s": float, "started": "<UTC ISO>", "date": "<UTC ISO, end of the run>"}

The jax devices are read in a short child process with GPU memory preallocation off, so the
process that dispatches notebooks never holds an accelerator itself (a notebook kernel on the
same GPU keeps its memory).
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import json
import os
import pathlib
import platform
import shlex
import socket
import subprocess
import sys
from typing import Any, Mapping, Sequence

__all__ = ["REPO_ROOT", "VERSIONED", "utc_now", "git_state", "versions", "devices",
           "machine", "rerun_command", "run_provenance"]

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
#: Distributions whose versions every record carries.
VERSIONED = ("jax", "jaxlib", "flax", "optax", "numpy", "gymnasium", "iqlib", "papermill",
             "distributed")

_DEVICES_SCRIPT = (
    "import json, jax; "
    "print(json.dumps([[d.platform, d.device_kind] for d in jax.devices()]))"
)


def utc_now() -> str:
    """The current time in UTC, ISO 8601 with the offset (``2026-01-02T03:04:05.678+00:00``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def git_state(root: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """``{"commit": HEAD's sha, "dirty": tracked files differ from HEAD}``; nulls without git."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def versions(names: Sequence[str] = VERSIONED) -> dict[str, str | None]:
    """Installed version of each distribution (None if it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def devices() -> tuple[tuple[str, str], ...]:
    """``jax.devices()`` as ``((platform, device_kind), ...)``, read once per process.

    Runs in a child process of this interpreter (with ``XLA_PYTHON_CLIENT_PREALLOCATE=false``);
    returns ``()`` if that fails or takes over two minutes.
    """
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    try:
        done = subprocess.run([sys.executable, "-c", _DEVICES_SCRIPT], capture_output=True,
                              text=True, timeout=120, check=True, env=env)
        listed = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return ()
    return tuple((str(p), str(k)) for p, k in listed)


def machine() -> dict[str, Any]:
    """Hostname, platform, python, CPU count and jax devices of this machine."""
    listed = devices()
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "devices": [list(d) for d in listed],
        "device_kind": listed[0][1] if listed else None,
    }


def _literal(value: Any) -> str:
    """A Python literal of ``value`` that the runner's ``-p`` parses back (strings in "")."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_literal, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def rerun_command(notebook: str | os.PathLike, parameters: Mapping[str, Any]) -> str:
    """The one-notebook runner command that repeats a run (outputs in ``outputs/rerun``).

    >>> print(rerun_command("notebooks/09_iql_offline.py", {"datasets": ["a"], "seed": 1}))
    python -m iqlib.notebook.runner --notebooks 09_iql_offline --output-dir outputs/rerun -p datasets '["a"]' -p seed 1
    """
    stem = pathlib.Path(notebook).stem
    words = ["python", "-m", "iqlib.notebook.runner", "--notebooks", stem,
             "--output-dir", "outputs/rerun"]
    for name, value in parameters.items():
        words += ["-p", name, _literal(value)]
    return " ".join(shlex.quote(w) for w in words)


def run_provenance(
    command: Sequence[str],
    notebook: str | os.PathLike,
    overrides: Mapping[str, Any],
    wall_time_s: float,
    started: str,
) -> dict[str, Any]:
    """The ``provenance.json`` of one run (see the module docstring for its keys).

    command: the sweep's command line (``sys.argv`` of the process that submitted the run).
    notebook: the notebook source that ran; overrides: the parameters the sweep set;
    wall_time_s: the notebook's execution time; started: its start (:func:`utc_now`).
    """
    notebook = pathlib.Path(notebook)
    try:
        shown = str(notebook.resolve().relative_to(REPO_ROOT))
    except ValueError:
        shown = str(notebook)
    return {
        "command": list(command),
        "rerun": rerun_command(notebook, overrides),
        "notebook": shown,
        "overrides": dict(overrides),
        "git": git_state(),
        "versions": versions(),
        "machine": machine(),
        "wall_time_s": round(float(wall_time_s), 3),
        "started": started,
        "date": utc_now(),
    }
