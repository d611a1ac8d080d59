"""Packaging invariants: one dependency list (pinned by the lock), the licence, a thin CI entry point,
text-only notebooks."""

import ast
import importlib.metadata
import shlex
import subprocess
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _pyproject(repo_root):
    return tomllib.loads((repo_root / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject(repo_root):
    project = _pyproject(repo_root)["project"]
    expected = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])

    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    assert "pip" in deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    pip_reqs = pip_sections[0]
    assert pip_reqs.count("-e .") == 1
    listed = [r for r in pip_reqs if r != "-e ."]
    assert len(listed) == len(set(listed)), "duplicate requirement in environment.yml"
    assert set(listed) == expected


def test_python_version_pinned_to_311(repo_root):
    assert _pyproject(repo_root)["project"]["requires-python"] == ">=3.11,<3.12"


def test_ci_run_is_make_test(repo_root):
    script = repo_root / ".ci" / "run"
    assert script.stat().st_mode & 0o111, ".ci/run must be executable"
    commands = []
    for line in script.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        if words[0] in ("set", "cd"):  # shell options and moving to the repo root
            continue
        commands.append(words)
    assert commands == [["make", "test"]]


def _git(repo_root, *args):
    try:
        return subprocess.run(
            ["git", *args], cwd=repo_root, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"not a git checkout: {err}")


def test_no_ipynb_tracked(repo_root):
    assert _git(repo_root, "ls-files", "*.ipynb").split() == []


def test_ci_run_executable_in_git(repo_root):
    out = _git(repo_root, "ls-files", "-s", ".ci/run")
    if not out:
        pytest.skip(".ci/run not committed yet")
    assert out.split()[0] == "100755"


def _notebook_sources(repo_root):
    return sorted((repo_root / "notebooks").glob("[0-9][0-9]_*.py"))


def test_notebooks_have_parameters_cell_first(repo_root):
    jupytext = pytest.importorskip("jupytext")
    sources = _notebook_sources(repo_root)
    if not sources:
        pytest.skip("no notebooks yet")
    for path in sources:
        nb = jupytext.read(path)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert code, f"{path.name} has no code cell"
        first = code[0]
        assert "parameters" in first.metadata.get("tags", []), (
            f"{path.name}: the first code cell must be tagged 'parameters'"
        )
        names = set()
        for stmt in ast.parse(first.source).body:
            assert isinstance(stmt, ast.Assign) and all(
                isinstance(t, ast.Name) for t in stmt.targets
            ), f"{path.name}: the parameters cell holds only `name = literal` lines"
            try:
                ast.literal_eval(stmt.value)
            except ValueError:
                pytest.fail(f"{path.name}: parameter {stmt.targets[0].id} is not a literal")
            names.update(t.id for t in stmt.targets)
        assert "output_dir" in names, f"{path.name}: no output_dir parameter"


# --- licence and the lock file ------------------------------------------------------------

LOCK = "requirements.lock"


def _direct_requirements(repo_root):
    project = _pyproject(repo_root)["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def _lock_pins(repo_root):
    pins = {}
    for line in (repo_root / LOCK).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{LOCK}: {line!r} is not name==version"
        assert not req.extras and req.marker is None and req.url is None, line
        name = canonicalize_name(req.name)
        assert name not in pins, f"{LOCK}: {req.name} pinned twice"
        pins[name] = specs[0].version
    return pins


def test_lock_pins_every_direct_dependency_within_its_bound(repo_root):
    pins = _lock_pins(repo_root)
    assert "iqlib" not in pins, "the lock pins the dependencies, not the editable package"
    for req in _direct_requirements(repo_root):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (a direct dependency) is not pinned in {LOCK}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK} pins {req.name}=={pins[name]}, outside pyproject's {req}"
        )


def test_lock_pins_the_extras_of_direct_dependencies(repo_root):
    # gymnasium[box2d,mujoco] and dask[distributed] pull packages of their own.
    pins = _lock_pins(repo_root)
    for name in ("box2d", "mujoco", "distributed"):
        assert name in pins, f"{name} (pulled by an extra) is not pinned in {LOCK}"


def test_pyproject_keeps_lower_bounds_only(repo_root):
    for req in _direct_requirements(repo_root):
        assert [s.operator for s in req.specifier] == [">="], f"{req}: pyproject keeps a lower bound"


def test_make_install_uses_the_lock_as_constraints(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    assert f'pip install -c $(LOCK) -e ".[dev]"' in makefile
    assert f"LOCK := {LOCK}" in makefile
    # The stamp depends on the lock: a new lock reinstalls.
    assert "$(VENV)/.installed: pyproject.toml $(LOCK)" in makefile


def test_mit_licence(repo_root):
    text = (repo_root / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the iqlib authors" in text
    assert "WITHOUT WARRANTY OF ANY KIND" in text
    project = _pyproject(repo_root)["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    # The vendored data keeps its own licence beside it.
    assert (repo_root / "data" / "rust_bus" / "LICENSE.econirl").is_file()


def test_installed_metadata_names_the_licence(repo_root):
    # The editable install's metadata (rebuilt by `make install`) carries the SPDX expression.
    meta = importlib.metadata.metadata("iqlib")
    expression = meta.get("License-Expression")
    if expression is None:
        pytest.skip("iqlib installed before the licence metadata; `make install` refreshes it")
    assert expression == "MIT"
