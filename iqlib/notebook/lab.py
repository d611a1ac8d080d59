"""JupyterLab for this project: ``notebooks/*.py`` open as notebooks, on this interpreter's kernel.

    python -m iqlib.notebook.lab [--prefix PREFIX]

(``make install`` and ``make lab`` run it.) It writes JupyterLab's *settings overrides*
into the environment's own ``<prefix>/share/jupyter/lab/settings/overrides.json``
(``prefix`` is ``sys.prefix``, the virtualenv), never into the user's home: the default
viewer of python files becomes jupytext's "Jupytext Notebook", so a double click on a
py:percent source opens it as a notebook (cells, tags, the ``parameters`` cell) rather
than as text. Other keys of an existing ``overrides.json`` are kept. It also registers
the kernel (:func:`iqlib.notebook.kernel.ensure_kernel`).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from typing import Any, Mapping, Sequence

from iqlib.data.files import write_json_atomic
from iqlib.notebook.kernel import ensure_kernel

__all__ = ["DOCMANAGER", "JUPYTEXT_VIEWER", "OVERRIDES", "settings_path", "install_settings", "main"]

DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
JUPYTEXT_VIEWER = "Jupytext Notebook"  # the widget factory jupyterlab-jupytext registers
OVERRIDES: dict[str, Any] = {DOCMANAGER: {"defaultViewers": {"python": JUPYTEXT_VIEWER}}}


def settings_path(prefix: str | pathlib.Path = sys.prefix) -> pathlib.Path:
    """The environment's JupyterLab overrides file (JupyterLab's ``app_settings_dir``)."""
    return pathlib.Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def install_settings(prefix: str | pathlib.Path = sys.prefix) -> pathlib.Path:
    """Merge :data:`OVERRIDES` into ``settings_path(prefix)``; return that path.

    Raises ``ValueError`` if the file exists but is not a JSON object (it is not overwritten).
    """
    path = settings_path(prefix)
    current: Any = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); fix or remove it") from err
        if not isinstance(current, dict):
            raise ValueError(f"{path} is not a JSON object; fix or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, _merge(current, OVERRIDES))
    return path


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
