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

Each validator (:mod:`iqlib.notebook.validators`, re-exported here) is a small frozen
dataclass called as ``validator(name, value)``: it returns the (possibly normalised) value or
raises ``ValueError`` naming the parameter, the value and what was expected.
"""

from __future__ import annotations

import pathlib
from typing import Any, Iterator, Mapping

from iqlib.notebook.validators import (Bool, Choice, Float, Int, ListOf, Optional, OutputDir, Str,
                                       Validator)

__all__ = ["Int", "Float", "Choice", "Str", "Bool", "ListOf", "Optional", "OutputDir", "Params",
           "check_parameters", "RENAMED"]

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


def _ipython_hidden_names() -> set[str]:
    """Names IPython put in the user namespace itself (``In``, ``Out``, ``exit``, ...)."""
    try:
        from IPython import get_ipython  # optional: present only inside a Jupyter kernel
    except ImportError:
        return set()
    shell = get_ipython()
    if shell is None:
        return set()
    return set(getattr(shell, "user_ns_hidden", {}) or {})


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
    objects are ignored.

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
    return Params({name: validate(name, namespace[name]) for name, validate in spec.items()})
