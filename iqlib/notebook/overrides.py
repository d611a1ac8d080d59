"""What ``-p NAME VALUE`` may override: the names a notebook's ``parameters`` cell assigns.

Read from the jupytext source with ``ast`` (nothing is executed), so the runner refuses a
typo or a renamed parameter before any kernel starts.
"""

from __future__ import annotations

import ast
import os
import pathlib
from typing import Any, Mapping, Sequence

import jupytext

from iqlib.notebook.params import RENAMED

__all__ = ["parameters_cell", "parameter_names", "check_overrides"]


def parameter_names(py_path: str | os.PathLike) -> set[str]:
    """Names the notebook's ``parameters``-tagged cell assigns (parsed with ``ast``, not run).

    Raises ``ValueError`` if the notebook has no ``parameters`` cell.
    """
    tree = ast.parse(parameters_cell(py_path))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def parameters_cell(py_path: str | os.PathLike) -> str:
    """The source of the notebook's cell tagged ``parameters`` (read with jupytext, not run).

    Raises ``ValueError`` if the notebook has no ``parameters`` cell.
    """
    for cell in jupytext.read(py_path).cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ValueError(f"{py_path} has no cell tagged 'parameters'")


def check_overrides(notebooks: Sequence[pathlib.Path], parameters: Mapping[str, Any]) -> None:
    """Refuse overrides the runner cannot pass on faithfully, before any kernel starts.

    Raises ``ValueError`` for ``output_dir`` (the runner sets it), and for a name that a
    selected notebook's parameters cell does not assign; the message names the parameter,
    the notebook, its known parameters, and the new name of a renamed parameter.
    """
    if "output_dir" in parameters:
        raise ValueError("-p output_dir is refused: the runner sets output_dir to "
                         "<output-dir>/<notebook>; choose the folder with --output-dir")
    for py_path in notebooks:
        known = parameter_names(py_path)
        for name in parameters:
            if name in known:
                continue
            hint = (f"; it was renamed to {RENAMED[name]!r}: pass -p {RENAMED[name]} instead"
                    if RENAMED.get(name) in known else "")
            raise ValueError(
                f"unknown parameter {name!r} for {py_path.stem}{hint}; its parameters cell "
                f"defines: {', '.join(sorted(known - {'output_dir'}))}"
                + ("" if len(notebooks) == 1 else " (select notebooks with --notebooks)")
            )
