"""Shared test setup: headless matplotlib and the repository root."""

import os
import pathlib

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

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
