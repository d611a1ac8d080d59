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

Each validator is a small frozen dataclass called as ``validator(name, value)``: it returns
the (possibly normalised) value or raises ``ValueError`` naming the parameter, the value and
what was expected.
"""

from __future__ import annotations

import math
import numbers
import pathlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = [
    "Int",
    "Float",
    "Choice",
    "Str",
    "Bool",
    "ListOf",
    "Optional",
    "OutputDir",
    "Params",
    "check_parameters",
    "RENAMED",
]

Validator = Callable[[str, Any], Any]

# Types a parameters cell (or papermill's injected cell) can assign.
_LITERAL_TYPES = (int, float, str, bool, list, tuple, dict, type(None))


def _fail(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"parameter {name!r}: expected {expected}, got {value!r}")


def _interval(lo: Any, hi: Any, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is None and hi is None:
        return ""
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    lo_s = "-inf" if lo is None else repr(lo)
    hi_s = "inf" if hi is None else repr(hi)
    return f" in {left}{lo_s}, {hi_s}{right}"


@dataclass(frozen=True)
class Int:
    """An integer, optionally bounded: ``lo <= value <= hi``. Booleans are rejected.

    >>> Int(lo=1)("n_demos", 30)
    30
    >>> Int(lo=1)("n_demos", True)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'n_demos': expected an integer in [1, inf), got True
    """

    lo: int | None = None
    hi: int | None = None

    def __call__(self, name: str, value: Any) -> int:
        expected = "an integer" + _interval(self.lo, self.hi)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _fail(name, value, expected)
        value = int(value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise _fail(name, value, expected)
        return value


@dataclass(frozen=True)
class Float:
    """A real number, optionally bounded; ints are accepted and returned as float.

    ``lo_open`` / ``hi_open`` make the bound strict. NaN and booleans are rejected.

    >>> Float(lo=0.0, hi=1.0, hi_open=True)("gamma", 0.99)
    0.99
    >>> Float(lo=0.0)("alpha", 1)
    1.0
    >>> Float(lo=0.0, hi=1.0, hi_open=True)("gamma", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'gamma': expected a number in [0.0, 1.0), got 1.0
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __call__(self, name: str, value: Any) -> float:
        expected = "a number" + _interval(self.lo, self.hi, self.lo_open, self.hi_open)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _fail(name, value, expected)
        value = float(value)
        if math.isnan(value):
            raise _fail(name, value, expected)
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            raise _fail(name, value, expected)
        if self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi):
            raise _fail(name, value, expected)
        return value


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of options (compared with ``==``).

    >>> Choice(["chi2", "simple", "tv"])("divergence", "chi2")
    'chi2'
    """

    options: tuple

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))

    def __call__(self, name: str, value: Any) -> Any:
        # Keep True from matching 1 and 1.0 from matching 1: compare type and value.
        for option in self.options:
            if type(option) is type(value) and option == value:
                return value
        raise _fail(name, value, f"one of {list(self.options)!r}")


@dataclass(frozen=True)
class Str:
    """A string; non-empty unless ``nonempty=False``.

    >>> Str()("env_id", "CartPole-v1")
    'CartPole-v1'
    """

    nonempty: bool = True

    def __call__(self, name: str, value: Any) -> str:
        expected = "a non-empty string" if self.nonempty else "a string"
        if not isinstance(value, str) or (self.nonempty and not value):
            raise _fail(name, value, expected)
        return value


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (not 0/1, not ``"true"``).

    >>> Bool()("quick", False)
    False
    """

    def __call__(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise _fail(name, value, "True or False")
        return value


@dataclass(frozen=True)
class ListOf:
    """A list or tuple whose items all pass ``item``; returned as a list.

    Item errors name the item as ``name[i]``.

    >>> ListOf(Int(lo=1), min_len=1)("demo_counts", (1, 5, 30))
    [1, 5, 30]
    """

    item: Validator
    min_len: int = 0
    max_len: int | None = None

    def __call__(self, name: str, value: Any) -> list:
        if self.max_len is None:
            size = f"at least {self.min_len} item(s)"
        else:
            size = f"{self.min_len} to {self.max_len} items"
        expected = f"a list of {size}"
        if not isinstance(value, (list, tuple)):
            raise _fail(name, value, expected)
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            raise _fail(name, value, expected)
        return [self.item(f"{name}[{i}]", v) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Optional:
    """``None`` (meaning "use the default", which the notebook documents), or a value that
    passes ``item``.

    >>> Optional(Float(lo=0.0))("temperature", None) is None
    True
    >>> Optional(Float(lo=0.0))("temperature", 10)
    10.0
    >>> Optional(Float(lo=0.0))("temperature", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'temperature': expected None or a number in [0.0, inf), got -1.0
    """

    item: Validator

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.item(name, value)
        except ValueError as err:
            prefix = f"parameter {name!r}: expected "
            msg = str(err)
            if msg.startswith(prefix):
                raise ValueError(prefix + "None or " + msg[len(prefix):]) from None
            raise


@dataclass(frozen=True)
class OutputDir:
    """A non-empty directory path; the directory is created. Returns a ``pathlib.Path``.

    >>> import tempfile, os
    >>> d = OutputDir()("output_dir", os.path.join(tempfile.mkdtemp(), "run"))
    >>> d.is_dir()
    True
    """

    def __call__(self, name: str, value: Any) -> pathlib.Path:
        if isinstance(value, pathlib.PurePath):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise _fail(name, value, "a non-empty directory path")
        path = pathlib.Path(value)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(
                f"parameter {name!r}: cannot create directory {value!r}: {err}"
            ) from err
        return path


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

    >>> P = check_parameters({"n": 3, "np": math}, {"n": Int(lo=1)})
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
