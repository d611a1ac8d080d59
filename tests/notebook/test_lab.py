"""`make lab`: JupyterLab opens notebooks/*.py as notebooks, from the venv's own settings.

The server test starts ``jupyter lab`` headless on a free localhost port with a token, for a
bounded time, and always terminates it; it is skipped (not failed) only if the server cannot
start at all. Jupyter's config, data and runtime folders and the lab's user settings point
into tmp_path, so nothing in the user's home is read or written; the app settings are the
venv's own, as ``make install`` / ``make lab`` write them.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from jupyterlab.commands import get_app_dir

from iqlib.notebook import lab

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/09_iql_offline.py"
START_TIMEOUT_S = 90


def test_settings_go_into_this_environment_only(tmp_path):
    path = lab.install_settings(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.d/iqlib.json"
    assert json.loads(path.read_text()) == {
        "@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}
    }
    # The default prefix is this interpreter's environment, where JupyterLab looks.
    assert lab.settings_path().parents[1] == pathlib.Path(get_app_dir()) / "settings"
    assert pathlib.Path(sys.prefix) in lab.settings_path().parents


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # What `make install` / `make lab` run: the venv's settings and the kernel.
    subprocess.run([sys.executable, "-m", "iqlib.notebook.lab"], check=True, timeout=120)
    tmp = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), "iqlib-test-token"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={REPO_ROOT}", f"--LabApp.user_settings_dir={tmp / 'user'}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def get(path):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.skip(f"jupyter lab exited with {proc.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.skip(f"jupyter lab did not answer in {START_TIMEOUT_S} s")
            try:
                get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        yield get
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_python_files_open_with_the_jupytext_notebook(server):
    settings = server("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("python") == "Jupytext Notebook"
    # The viewer exists: jupytext's lab extension is installed and enabled.
    extensions = {e["name"]: e for e in server("/lab/api/extensions")}
    assert extensions["jupyterlab-jupytext"]["enabled"]


def test_source_opens_as_a_notebook_with_its_parameters_cell(server, repo_root):
    before = (repo_root / NOTEBOOK).read_bytes()
    model = server(f"/api/contents/{NOTEBOOK}?type=notebook&content=1")
    assert model["type"] == "notebook" and model["format"] == "json"
    nb = model["content"]
    assert nb["metadata"]["jupytext"]["text_representation"]["format_name"] == "percent"
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert len(code) > 5 and any(cell["cell_type"] == "markdown" for cell in nb["cells"])
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert "output_dir" in code[0]["source"]
    # Opening reads only: the source is unchanged and no .ipynb appears beside it.
    assert (repo_root / NOTEBOOK).read_bytes() == before
    assert not (repo_root / NOTEBOOK).with_suffix(".ipynb").exists()


def test_the_kernel_is_registered(server):
    specs = server("/api/kernelspecs")["kernelspecs"]
    assert any(spec["spec"]["argv"][0] == sys.executable for spec in specs.values())
