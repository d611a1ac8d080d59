"""Notebook parameters: validate the literals of a notebook's ``parameters`` cell.

The notebook contract (see ``notebooks/`` and ``iqlib.notebook.runner``):

1. The first code cell is tagged ``parameters`` and holds literals only::

       # %% tags=["parameters"]
       output_dir = "outputs/02"
       n_demos = 30
       gamma = 0.99

2. The next cell validates them against a spec and uses only the result::

       P = check_parameters(globals(), {
           "output_dir": OutputDir(),
           "n_demos": Int(lo=1),
           "gamma": Float(lo=0.0, hi=1.0, hi_open=True),
       })

papermill injects its overrides as a cell of assignments right after the parameters cell,
so a misspelt ``-p n_demo 3`` shows up as an extra literal in the namespace; the check
rejects it instead of silently running with the default.

**Validate first.** The validation cell calls ``check_parameters`` before anything else: only
the ``iqlib.notebook.params`` import (and ``%load_ext autoreload`` lines) may precede it, every
other import follows it. An injected ``-p time 5`` is then still the literal 5 when the check
runs and is refused as unknown, instead of being silently replaced by a later ``import time``.
As a second guard, a name assigned by an earlier literals-only cell (the parameters cell,
papermill's injected cell) that is not in the spec and no longer holds a literal — something
overwrote it before the check — is refused too.

3. Rules between parameters follow in the same cell, before any work, with :func:`require`
   (the message names every parameter involved); rules that need a library (an env id's action
   space, a demo file's episode count) come right after the imports, still in that cell::

       require(P.learning_starts < P.total_steps, f"learning_starts ({P.learning_starts}) must be "
               f"< total_steps ({P.total_steps}): otherwise no update ever runs")

Each validator (:mod:`iqlib.notebook.validators`, re-exported here) is a small frozen
dataclass called as ``validator(name, value)``: it returns the (possibly normalised) value or
raises ``ValueError`` naming the parameter, the value and what was expected. Numbers must be
finite unless a ``Float(allow_inf=True)`` says otherwise; :class:`EnvId` and
:class:`DatasetName` (:mod:`iqlib.notebook.names`) check ids against what is registered and on disk.
"""

from __future__ import annotations

import ast
import pathlib
from typing import Any, Iterator, Mapping

from iqlib.notebook.names import DatasetName, EnvId, demo_episodes
from iqlib.notebook.validators import (Bool, Choice, Float, Int, ListOf, Optional, OutputDir, Str,
                                       Validator)

__all__ = ["Int", "Float", "Choice", "Str", "Bool", "ListOf", "Optional", "OutputDir", "EnvId",
           "DatasetName", "Params", "check_parameters", "require", "require_distinct", "demo_episodes",
           "RENAMED"]

# Types a parameters cell (or papermill's injected cell) can assign.
_LITERAL_TYPES = (int, float, str, bool, list, tuple, dict, type(None))


class Params:
    """Validated parameters: read-only attribute access, ``to_dict()`` for metrics.

    >>> p = Params({"n": 2, "output_dir": pathlib.Path("out")})
    >>> p.n, p["n"], "n" in p
    (2, 2, True)
    >>> p.to_dict()
    {'n': 2, 'output_dir': 'out'}
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # also keeps copy/pickle from recursing on `_values`
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Params is read-only; change the parameters cell instead")

    def __reduce__(self) -> tuple:
        return (Params, (self._values,))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self._values == other._values

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Params({inner})"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict copy, with paths turned into strings (JSON-ready for literals)."""
        return {
            k: str(v) if isinstance(v, pathlib.PurePath) else v for k, v in self._values.items()
        }

    def as_metrics(self) -> dict[str, Any]:
        """The parameters as flat metrics: `output_dir` left out, lists and tuples joined by
        commas (``[1, 2]`` -> ``"1,2"``), so that `iqlib.data.files.save_metrics` accepts them."""
        return {
            k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v
            for k, v in self.to_dict().items()
            if k != "output_dir"
        }


def _shell() -> Any:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython  # optional: present only inside a Jupyter kernel
    except ImportError:
        return None
    return get_ipython()


def _ipython_hidden_names() -> set[str]:
    """Names IPython put in the user namespace itself (``In``, ``Out``, ``exit``, ...)."""
    shell = _shell()
    return set() if shell is None else set(getattr(shell, "user_ns_hidden", {}) or {})


def _is_literal(node: ast.expr) -> bool:
    """A literal, or papermill's spelling of a non-finite float (``float('inf')``)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)):
        return True
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def literal_cell_names(sources: list[str]) -> set[str]:
    """Names assigned by the cells of ``sources`` made only of ``name = literal`` lines.

    These are the parameters cell and papermill's injected cell; a name set there is a parameter
    someone passed, whatever it holds now.

    >>> sorted(literal_cell_names(["n = 3\\nx = float('inf')", "import time\\nt = 1", "bad("]))
    ['n', 'x']
    """
    names: set[str] = set()
    for source in sources:
        try:
            body = ast.parse(source).body
        except SyntaxError:
            continue
        if body and all(isinstance(s, ast.Assign) and all(isinstance(t, ast.Name) for t in s.targets)
                        and _is_literal(s.value) for s in body):
            names |= {t.id for s in body for t in s.targets}
    return names


def _earlier_cells() -> list[str]:
    """Sources of the cells this kernel ran before the running one (IPython's ``In``)."""
    shell = _shell()
    history = [] if shell is None else list(shell.user_ns.get("In", []) or [])
    return [str(h) for h in history[:-1]]  # the last entry is the cell now running


#: Notebook parameters renamed to the project's one vocabulary (old name -> new name). Passing an
#: old name raises an error that names its replacement (README, "One vocabulary").
RENAMED = {
    "gamma": "discount",
    "rust_gamma": "rust_discount",
    "alpha": "entropy_temperature",
    "init_temperature": "entropy_temperature",
    "temperature": "awr_temperature",
    "beta": "awr_temperature",
    "tau": "expectile",
    "taus": "expectiles",
    "learning_rate": "sgd_lr",
    "lfo_lr": "lfo_critic_lr",
}


def check_parameters(namespace: Mapping[str, Any], spec: Mapping[str, Validator]) -> Params:
    """Validate a notebook's parameters against ``spec`` and return them as ``Params``.

    namespace: usually ``globals()`` of the notebook, right after the parameters cell
        (and papermill's injected-parameters cell).
    spec: parameter name -> validator, e.g. ``{"n": Int(lo=1), "output_dir": OutputDir()}``.

    Raises ``ValueError`` if a name in ``spec`` is missing, if a value fails its validator,
    or if the namespace holds an unknown parameter: a name that does not start with ``_``,
    is not in ``spec``, was not put there by IPython, and whose value is a plain literal
    (int, float, str, bool, list, tuple, dict, None). Modules, functions, classes and other
    objects are ignored — unless an earlier literals-only cell of this IPython kernel (the
    parameters cell, papermill's injected cell) assigned that name: then something overwrote
    an injected parameter before the check, and it is refused as unknown too.

    >>> P = check_parameters({"n": 3, "np": pathlib}, {"n": Int(lo=1)})
    >>> P.n
    3
    >>> check_parameters({"n": 3, "nn": 4}, {"n": Int(lo=1)})
    Traceback (most recent call last):
    ...
    ValueError: unknown parameter 'nn'; known parameters: n
    >>> check_parameters({"discount": 0.9, "gamma": 0.5}, {"discount": Float()})
    Traceback (most recent call last):
    ...
    ValueError: parameter 'gamma' was renamed to 'discount'; pass -p discount 0.5 instead
    """
    known = ", ".join(sorted(spec))
    missing = [name for name in spec if name not in namespace]
    if missing:
        raise ValueError(
            f"missing parameter(s) {', '.join(map(repr, missing))}: the parameters cell "
            f"must define every name in the spec ({known})"
        )

    hidden = _ipython_hidden_names()
    for name, value in namespace.items():
        if name.startswith("_") or name in spec or name in hidden:
            continue
        if isinstance(value, _LITERAL_TYPES):
            if RENAMED.get(name) in spec:
                raise ValueError(f"parameter {name!r} was renamed to {RENAMED[name]!r}; "
                                 f"pass -p {RENAMED[name]} {value!r} instead")
            raise ValueError(f"unknown parameter {name!r}; known parameters: {known}")
    overwritten = sorted(n for n in literal_cell_names(_earlier_cells())
                         if not n.startswith("_") and n not in spec and n not in hidden
                         and not isinstance(namespace.get(n), _LITERAL_TYPES))
    if overwritten:
        raise ValueError(f"unknown parameter {overwritten[0]!r} (set in the parameters or injected cell, then "
                         f"overwritten before check_parameters ran); known parameters: {known}")
    return Params({name: validate(name, namespace[name]) for name, validate in spec.items()})


def require(condition: Any, message: str) -> None:
    """A rule between parameters: raise ``ValueError(message)`` unless ``condition`` is true.

    The message names every parameter involved, with its value, and what the rule protects.

    >>> require(1000 < 10000, "learning_starts must be < total_steps")
    >>> require(20000 < 10000, "learning_starts (20000) must be < total_steps (10000)")
    Traceback (most recent call last):
    ...
    ValueError: learning_starts (20000) must be < total_steps (10000)
    """
    if not condition:
        raise ValueError(message)


def require_distinct(name: str, values: list, why: str = "results are keyed by value") -> None:
    """Refuse a list parameter with repeated values (a repeat would silently overwrite a result).

    >>> require_distinct("n_demos", [1, 3, 1])
    Traceback (most recent call last):
    ...
    ValueError: parameter 'n_demos': expected distinct values (results are keyed by value), got [1, 3, 1]
    """
    hashable = [tuple(v) if isinstance(v, list) else v for v in values]
    require(len(set(hashable)) == len(hashable), f"parameter {name!r}: expected distinct values ({why}), got {values!r}")
