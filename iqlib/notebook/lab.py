"""JupyterLab for this project: ``notebooks/*.py`` open as notebooks, on this interpreter's kernel.

    python -m iqlib.notebook.lab [--prefix PREFIX]

(``make install`` and ``make lab`` run it.) It writes JupyterLab's *settings overrides*
into the environment's own ``<prefix>/share/jupyter/lab/settings/overrides.d/iqlib.json``
(``prefix`` is ``sys.prefix``, the virtualenv), never into the user's home: the default
viewer of python files becomes jupytext's "Jupytext Notebook", so a double click on a
py:percent source opens it as a notebook (cells, tags, the ``parameters`` cell) rather
than as text. ``overrides.d/`` holds one file per package (jupyterlab_server reads them
all, then ``overrides.json``, the user's own, which therefore still wins); this one is
ours and is rewritten whole. It also registers the kernel
(:func:`iqlib.notebook.kernel.ensure_kernel`).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any, Sequence

from iqlib.data.files import write_json_atomic
from iqlib.notebook.kernel import ensure_kernel

__all__ = ["DOCMANAGER", "JUPYTEXT_VIEWER", "OVERRIDES", "settings_path", "install_settings", "main"]

DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
JUPYTEXT_VIEWER = "Jupytext Notebook"  # the widget factory jupyterlab-jupytext registers
OVERRIDES: dict[str, Any] = {DOCMANAGER: {"defaultViewers": {"python": JUPYTEXT_VIEWER}}}


def settings_path(prefix: str | pathlib.Path = sys.prefix) -> pathlib.Path:
    """Our overrides file in the environment's JupyterLab ``app_settings_dir``."""
    return pathlib.Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "iqlib.json"


def install_settings(prefix: str | pathlib.Path = sys.prefix) -> pathlib.Path:
    """Write :data:`OVERRIDES` to ``settings_path(prefix)`` (atomically); return that path."""
    path = settings_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json_atomic(path, OVERRIDES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iqlib.notebook.lab",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", type=pathlib.Path, default=pathlib.Path(sys.prefix),
                        help="environment whose JupyterLab gets the settings (default: this one)")
    args = parser.parse_args(argv)
    path = install_settings(args.prefix)
    print(f"JupyterLab: python files open as {JUPYTEXT_VIEWER!r} ({path})")
    print(f"Jupyter kernel: {ensure_kernel()!r} ({sys.executable})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
