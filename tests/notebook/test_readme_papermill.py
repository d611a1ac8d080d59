"""The README's "papermill directly" commands work, as written, for every notebook.

The test takes the README's fenced block that calls ``.venv/bin/papermill`` and runs its lines
word for word (no shell) in a scratch folder that holds only ``.venv`` and ``notebooks``
(links to the repository's), as on a fresh clone: only ``/tmp/`` becomes the test's own
folder, and papermill gets ``--prepare-only`` (parameters injected, nothing executed), so
the whole check takes seconds per notebook. For the other notebooks the same commands run
with the notebook's name in place of 03's, keeping the ``-p`` overrides that notebook
defines. Papermill must find the kernel and the language in each notebook's jupytext header
(no ``-k`` is given), and inject the parameters right after the ``parameters`` cell.
"""

import json
import pathlib
import re
import shlex
import subprocess

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from iqlib.notebook.overrides import parameter_names

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
README_STEM = "03_rust_bus_real_data"


def _readme_block() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    found = [b for b in blocks if ".venv/bin/papermill " in b]
    assert len(found) == 1, "the README shows one block of papermill commands"
    lines = [line.strip() for line in found[0].splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _for_notebook(words: list[str], path: pathlib.Path, tmp: pathlib.Path) -> list[str]:
    """The README's command with 03 replaced by ``path``'s notebook; ``/tmp/`` -> ``tmp``."""
    stem, nn = path.stem, path.stem[:2]
    known = parameter_names(path) if words[0] == ".venv/bin/papermill" else None
    out, i = [], 0
    while i < len(words):
        word = words[i].replace("/tmp/", f"{tmp}/").replace(README_STEM, stem)
        word = word.replace("03.ipynb", f"{nn}.ipynb").replace("03_", f"{nn}_")
        if known is not None and word == "-p" and words[i + 1] not in known:  # an override 03 has and this one lacks
            i += 3
            continue
        out.append(word)
        i += 1
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_readme_papermill_commands(path, tmp_path):
    work = tmp_path / "clone"
    work.mkdir()
    (work / ".venv").symlink_to(REPO_ROOT / ".venv")
    (work / "notebooks").symlink_to(REPO_ROOT / "notebooks")
    commands = [shlex.split(line) for line in _readme_block()]
    assert any(c[0] == ".venv/bin/jupytext" for c in commands)
    overrides, output = {}, None
    for words in commands:
        words = _for_notebook(words, path, tmp_path)
        if words[0] == ".venv/bin/papermill":
            words.append("--prepare-only")
            output = work / words[2]
            overrides = {words[i + 1]: words[i + 2] for i, w in enumerate(words) if w == "-p"}
        done = subprocess.run(words, cwd=work, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{shlex.join(words)}\n{done.stdout}\n{done.stderr}"
        assert "unknown parameter" not in done.stderr.lower(), done.stderr
        assert "does not contain a cell with tag 'parameters'" not in done.stderr, done.stderr
    if path.stem == README_STEM:
        assert overrides == {"discount": "0.99", "output_dir": "outputs/03_beta099"}
    assert "output_dir" in overrides

    nb = json.loads(output.read_text())
    spec = nb["metadata"]["kernelspec"]
    assert spec["language"] == "python"
    assert spec["name"] in KernelSpecManager().find_kernel_specs(), f"no kernel {spec['name']!r}"
    tags = [cell["metadata"].get("tags", []) for cell in nb["cells"]]
    first = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert "injected-parameters" in tags[first + 1]
    injected = nb["cells"][first + 1]["source"]
    injected = "".join(injected) if isinstance(injected, list) else injected
    for name, value in overrides.items():
        assert re.search(rf"^{name} = ", injected, flags=re.M), f"{name} not injected"
    assert f'output_dir = "{overrides["output_dir"]}"' in injected
