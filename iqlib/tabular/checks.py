"""Argument checks shared by the tabular solvers: each error names the argument and what was expected.

The solvers are jit-compiled, and inside a trace a bad number cannot be caught any more: a
discount γ = 1 makes I − γ P_π singular and the soft value −6e16 "converge" relative to its own
size, an entropy temperature α ≤ 0 flips the softmax, a float state index is silently truncated.
So every public entry point checks its concrete inputs here, in NumPy, before tracing:

    discount              γ, a finite number in [0, 1)        (`check_discount`)
    entropy_temperature   α, a finite number > 0              (`check_positive`)
    probability levels    τ in (0, 1) or [0, 1], scalar or array (`check_unit_interval`)
    indices               integers (not floats, not bools) in [0, n)  (`check_index`, `check_indices`)
    samples               non-empty and finite                (`check_sample`)

Traced values (arguments of a `jax.jit` / `jax.grad` / `jax.vmap` function) are returned
unchecked: they have no value yet.
"""

from __future__ import annotations

import numbers

import jax
import numpy as np

__all__ = ["is_traced", "check_discount", "check_positive", "check_unit_interval", "check_index", "check_indices",
           "check_sample"]


def is_traced(x) -> bool:
    """True for a JAX tracer (a value inside jit/grad/vmap), which cannot be inspected."""
    return isinstance(x, jax.core.Tracer)


def _real_scalar(x, name: str) -> float:
    if isinstance(x, (bool, np.bool_, str, bytes)) or not (isinstance(x, numbers.Real) or np.ndim(x) == 0):
        raise ValueError(f"{name} must be a real number, got {x!r}")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {x!r}") from None


def check_discount(x, name: str = "discount"):
    """γ: a finite real number with 0 ≤ γ < 1 (returned as float; a tracer is returned as is).

    Raises: ValueError naming `name` (γ = 1 has no discounted fixed point: I − γ P is singular).
    """
    if is_traced(x):
        return x
    g = _real_scalar(x, name)
    if not (0.0 <= g < 1.0):
        raise ValueError(f"{name} (γ) must be a finite number in [0, 1), got {x!r}")
    return g


def check_positive(x, name: str = "entropy_temperature", *, allow_zero: bool = False):
    """A finite real number > 0 (≥ 0 with `allow_zero`), e.g. α; a tracer is returned as is."""
    if is_traced(x):
        return x
    v = _real_scalar(x, name)
    if not (np.isfinite(v) and (v >= 0.0 if allow_zero else v > 0.0)):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {x!r}")
    return v


def check_unit_interval(x, name: str, *, closed: bool):
    """Every entry of a scalar or array in [0, 1] (closed) or (0, 1) (open); NaN fails; tracers pass."""
    if is_traced(x):
        return x
    if isinstance(x, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be a real number, got {x!r}")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array of them, got {x!r}") from None
    ok = (a >= 0.0) & (a <= 1.0) if closed else (a > 0.0) & (a < 1.0)
    if not np.all(ok):
        bad = a[~ok].ravel()[0] if a.ndim else a.item()
        raise ValueError(f"{name} must lie in {'[0, 1]' if closed else '(0, 1)'}, got {bad!r}")
    return x


def check_index(x, n: int, name: str) -> int:
    """One index: an integer (Python or NumPy int; not a float, not a bool) in [0, n)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer index in [0, {n}), got {x!r} ({type(x).__name__})")
    if not 0 <= x < n:
        raise ValueError(f"{name} must be an integer index in [0, {n}), got {x}")
    return int(x)


def check_indices(x, n: int, name: str) -> np.ndarray:
    """An array of indices: integer dtype (floats are refused, never truncated), all in [0, n).

    Returns the indices as a NumPy int64 array. A tracer cannot be checked and is refused too:
    index checks run eagerly, outside jit.
    """
    if is_traced(x):
        raise ValueError(f"{name} must be concrete integer indices (checked eagerly, outside jit)")
    a = np.asarray(x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices in [0, {n}), got dtype {a.dtype} "
                         "(floats are not truncated; cast with .astype(int) if you mean it)")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"{name} must lie in [0, {n}), got range [{a.min()}, {a.max()}]")
    return a.astype(np.int64)


def check_sample(x, name: str, *, axis: int | None = None):
    """A sample: non-empty (along `axis` if given) and finite. Returns x; tracers pass unchecked."""
    if is_traced(x):
        return x
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {type(x).__name__}") from None
    if a.size == 0 or (axis is not None and (a.ndim == 0 or a.shape[axis] == 0)):
        raise ValueError(f"{name} must be a non-empty sample, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(a)))} NaN/inf entries")
    return x
