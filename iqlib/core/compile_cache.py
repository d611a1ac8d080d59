"""JAX's persistent compilation cache, on by default wherever the project runs code.

Every papermill run, sweep cell and test used to compile the same functions again. With the
cache, a compiled executable is written to disk the first time and read back by any later
process that compiles the same computation (same shapes, dtypes, static arguments, jax
version and device), so a second ``make run`` or a second run of a notebook skips most
compilation.

Settings, through JAX's own environment variables (read by jax at import):

* ``JAX_COMPILATION_CACHE_DIR``: respected when already set; otherwise
  ``$XDG_CACHE_HOME/iqlib/jax`` (default ``~/.cache/iqlib/jax``), one folder per user;
* ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` and ``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES``:
  0 unless set, so the small tabular solves (compiled in well under JAX's default 1 s) are
  cached too;
* ``IQLIB_COMPILATION_CACHE=0`` turns all of this off.

Where it is applied: the notebook runner and the sweep (the kernels' environment, see
``iqlib.notebook.kernel.execution_env``), the tests (``tests/conftest.py``, which nbmake's
kernels inherit), and :func:`enable` for a process that has already imported jax.
"""

from __future__ import annotations

import os
import pathlib
from typing import Mapping

__all__ = ["OFF_SWITCH", "cache_settings", "enable"]

#: Set to "0" to leave JAX's compilation cache alone.
OFF_SWITCH = "IQLIB_COMPILATION_CACHE"

_DIR = "JAX_COMPILATION_CACHE_DIR"
_MIN_TIME = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
_MIN_SIZE = "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"


def default_cache_dir(environ: Mapping[str, str] = os.environ) -> pathlib.Path:
    """``$XDG_CACHE_HOME/iqlib/jax``, or ``~/.cache/iqlib/jax`` when XDG_CACHE_HOME is unset."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "iqlib" / "jax"


def cache_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment variables that turn the cache on, values already set kept.

    Returns ``{}`` when ``IQLIB_COMPILATION_CACHE=0``. Merge the result into ``os.environ``
    before a process (or a kernel) imports jax.
    """
    if environ.get(OFF_SWITCH, "1").strip() == "0":
        return {}
    return {_DIR: environ.get(_DIR) or str(default_cache_dir(environ)),
            _MIN_TIME: environ.get(_MIN_TIME, "0"),
            _MIN_SIZE: environ.get(_MIN_SIZE, "0")}


def enable(environ: Mapping[str, str] = os.environ) -> pathlib.Path | None:
    """Turn the cache on in this process (jax already imported); return its folder or None if off."""
    import jax  # heavy, and imported here so that the settings above can precede it

    settings = cache_settings(environ)
    if not settings:
        return None
    jax.config.update("jax_compilation_cache_dir", settings[_DIR])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(settings[_MIN_TIME]))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", int(settings[_MIN_SIZE]))
    return pathlib.Path(settings[_DIR])
