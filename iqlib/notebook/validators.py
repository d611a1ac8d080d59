"""Validators of notebook parameters: ``validator(name, value) -> value`` or a ValueError naming both.

Each is a small frozen dataclass; :func:`iqlib.notebook.params.check_parameters` applies them.Names that must exist (env ids, datasets) are checked by :mod:`iqlib.notebook.names`.
"""

from __future__ import annotations

import math
import numbers
import pathlib
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Validator", "Int", "Float", "Choice", "Str", "Bool", "ListOf", "Optional", "OutputDir"]

Validator = Callable[[str, Any], Any]


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
    """A finite real number, optionally bounded; ints are accepted and returned as float.

    ``lo_open`` / ``hi_open`` make the bound strict. NaN, ±inf and booleans are rejected:
    ``-p chi2_weight inf`` would otherwise pass and fail (or record null) only after the work.
    ``allow_inf=True`` is the explicit opt-in for a parameter that means infinity (NaN never passes).

    >>> Float(lo=0.0, hi=1.0, hi_open=True)("gamma", 0.99)
    0.99
    >>> Float(lo=0.0)("alpha", 1)
    1.0
    >>> Float(lo=0.0, hi=1.0, hi_open=True)("gamma", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'gamma': expected a finite number in [0.0, 1.0), got 1.0
    >>> Float(lo=0.0)("chi2_weight", float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: parameter 'chi2_weight': expected a finite number in [0.0, inf), got inf
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    allow_inf: bool = False

    def __call__(self, name: str, value: Any) -> float:
        kind = "a number (inf allowed)" if self.allow_inf else "a finite number"
        expected = kind + _interval(self.lo, self.hi, self.lo_open, self.hi_open)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _fail(name, value, expected)
        value = float(value)
        if math.isnan(value) or (math.isinf(value) and not self.allow_inf):
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
    ValueError: parameter 'temperature': expected None or a finite number in [0.0, inf), got -1.0
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

