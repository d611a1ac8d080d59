"""Shared test setup: headless matplotlib, JAX's persistent compilation cache, the repository root."""

import os
import pathlib

import pytest

from iqlib.core.compile_cache import cache_settings  # imports no jax: the settings come first

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.update(cache_settings())  # nbmake's kernels and papermill's inherit it

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> pathlib.Path:
    """The repository root (the folder holding pyproject.toml)."""
    return REPO_ROOT


@pytest.fixture
def x64():
    """float64 inside one test only (``jax.enable_x64`` context), so nothing leaks into others."""
    import jax

    with jax.enable_x64(True):
        yield
