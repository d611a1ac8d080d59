"""Packaging invariants: one dependency list, a thin CI entry point, text-only notebooks."""

import ast
import shlex
import subprocess
import tomllib

import pytest
import yaml


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
