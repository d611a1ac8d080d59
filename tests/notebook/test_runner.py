"""The runner end to end on a throwaway notebook (needs a Jupyter kernel; a few seconds)."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import zmq

from iqlib.notebook import runner
from iqlib.notebook.kernel import EncryptedKernelManager

NOTEBOOK = textwrap.dedent(
    '''\
    # %% [markdown]
    # A throwaway notebook for the runner tests.

    # %% tags=["parameters"]
    output_dir = "x"
    n = 2

    # %%
    from iqlib.notebook.params import check_parameters, Int, OutputDir
    P = check_parameters(globals(), {"output_dir": OutputDir(), "n": Int(1, 10)})

    # %%
    from iqlib.data.files import save_metrics
    save_metrics(P.output_dir, {"n": P.n})
    '''
)

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def kernel_name():
    return runner.ensure_kernel()


@pytest.fixture
def notebook(tmp_path):
    path = tmp_path / "src" / "07_tiny.py"
    path.parent.mkdir()
    path.write_text(NOTEBOOK)
    return path


def test_parameters_reach_the_notebook(notebook, tmp_path, kernel_name):
    out = tmp_path / "out" / "07_tiny"
    executed = runner.execute_notebook(notebook, out, {"n": 5}, kernel_name=kernel_name)
    assert executed == out / "07_tiny.ipynb" and executed.is_file()
    assert json.loads((out / "metrics.json").read_text()) == {"n": 5}
    assert not list(notebook.parent.glob("*.ipynb")), "no .ipynb beside the source"


def test_unknown_parameter_fails_loudly(notebook, tmp_path, kernel_name):
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        runner.execute_notebook(notebook, tmp_path / "o", {"typo": 1}, kernel_name=kernel_name)
    assert "typo" in str(info.value)
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_invalid_parameter_names_it(notebook, tmp_path, kernel_name):
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        runner.execute_notebook(notebook, tmp_path / "o", {"n": 0}, kernel_name=kernel_name)
    assert "'n'" in str(info.value)


def test_main_writes_summaries_and_fails_on_failure(notebook, tmp_path, kernel_name):
    bad = notebook.parent / "08_broken.py"
    bad.write_text(NOTEBOOK.replace('{"n": P.n}', '{"n": P.n}); raise RuntimeError("boom"'))
    out = tmp_path / "all"
    code = runner.main(["--output-dir", str(out), "--notebook-dir", str(notebook.parent),
                        "--kernel", kernel_name, "-p", "n", "3"])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["07_tiny"]["status"] == "ok"
    assert summary["07_tiny"]["metrics"] == {"n": 3}
    assert summary["08_broken"]["status"] == "failed"
    assert summary["08_broken"]["error"] == "RuntimeError: boom"
    text = (out / "summary.md").read_text()
    assert "## 07_tiny" in text and "| n | 3 |" in text and "RuntimeError: boom" in text


def test_prefix_filter(notebook):
    (notebook.parent / "08_other.py").write_text(NOTEBOOK)
    assert [p.stem for p in runner.find_notebooks(notebook.parent, ["08"])] == ["08_other"]
    with pytest.raises(ValueError, match="99"):
        runner.find_notebooks(notebook.parent, ["99"])


def test_relative_output_dir_is_relative_to_caller(notebook, tmp_path, kernel_name, monkeypatch):
    # The kernel runs in the notebook's folder; the output must still land under our cwd.
    monkeypatch.chdir(tmp_path)
    runner.execute_notebook(notebook, "rel/07_tiny", {"n": 4}, kernel_name=kernel_name)
    assert json.loads((tmp_path / "rel" / "07_tiny" / "metrics.json").read_text()) == {"n": 4}
    assert not (notebook.parent / "rel").exists()


# --- reruns keep what they do not replace -------------------------------------------------

FIGURE_NOTEBOOK = NOTEBOOK.replace(
    'save_metrics(P.output_dir, {"n": P.n})',
    'save_metrics(P.output_dir, {"n": P.n})\n(P.output_dir / f"figure_{P.n}.txt").write_text("x")',
)


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_complete_rerun_replaces_and_failed_rerun_keeps(notebook, tmp_path, kernel_name):
    notebook.write_text(FIGURE_NOTEBOOK)
    out = tmp_path / "out"
    runner.run_all(out, [notebook], {"n": 2}, kernel_name=kernel_name)
    runner.run_all(out, [notebook], {"n": 3}, kernel_name=kernel_name)
    # A complete rerun replaces the folder whole: no figure of the earlier run is left.
    assert _files(out / "07_tiny") == ["07_tiny.ipynb", "figure_3.txt", "metrics.json"]

    rows = runner.run_all(out, [notebook], {"n": 0}, kernel_name=kernel_name)  # fails validation
    assert rows["07_tiny"]["status"] == "failed" and "'n'" in rows["07_tiny"]["error"]
    # The previous complete result is still there, untouched ...
    assert _files(out / "07_tiny") == ["07_tiny.ipynb", "figure_3.txt", "metrics.json"]
    assert json.loads((out / "07_tiny" / "metrics.json").read_text()) == {"n": 3}
    # ... and the failed attempt, with its traceback, is moved aside, not deleted.
    failed = [p for p in out.iterdir() if p.name.startswith("07_tiny.failed-")]
    assert len(failed) == 1 and rows["07_tiny"]["output"] == failed[0].name
    assert "ValueError" in (failed[0] / "07_tiny.ipynb").read_text()
    assert not list(out.glob(".*partial*")), "no half-written folder left behind"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["07_tiny"]["status"] == "failed"
    assert summary["07_tiny"]["previous"]["status"] == "ok"
    assert summary["07_tiny"]["previous"]["metrics"] == {"n": 3}
    assert summary["07_tiny"]["previous"]["output"] == "07_tiny"
    assert "Last complete result kept in `07_tiny/`" in (out / "summary.md").read_text()


def test_summary_keeps_rows_of_notebooks_not_rerun(notebook, tmp_path, kernel_name):
    (notebook.parent / "08_other.py").write_text(NOTEBOOK)
    out = tmp_path / "out"
    assert runner.main(["--output-dir", str(out), "--notebook-dir", str(notebook.parent),
                        "--kernel", kernel_name]) == 0
    first = json.loads((out / "summary.json").read_text())
    assert runner.main(["--output-dir", str(out), "--notebook-dir", str(notebook.parent),
                        "--kernel", kernel_name, "--notebooks", "08", "-p", "n", "7"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["07_tiny"] == first["07_tiny"]  # not rerun: its row is kept as it was
    assert summary["08_other"]["metrics"] == {"n": 7}
    text = (out / "summary.md").read_text()
    assert "## 07_tiny" in text and "## 08_other" in text and "| n | 7 |" in text


def test_refuses_output_dir_and_unknown_names_before_any_kernel(notebook, tmp_path):
    out = tmp_path / "never"
    # A kernel that does not exist: the refusal must come before any kernel is asked for.
    with pytest.raises(ValueError, match="output_dir is refused"):
        runner.run_all(out, [notebook], {"output_dir": "elsewhere"}, kernel_name="no-such")
    with pytest.raises(ValueError, match=r"unknown parameter 'typo' for 07_tiny.*defines: n$"):
        runner.run_all(out, [notebook], {"typo": 1}, kernel_name="no-such")
    renamed = notebook.parent / "08_discounted.py"
    renamed.write_text(NOTEBOOK.replace("n = 2", "n = 2\ndiscount = 0.9"))
    with pytest.raises(ValueError, match="renamed to 'discount'"):
        runner.run_all(out, [renamed], {"gamma": 0.5}, kernel_name="no-such")
    assert not out.exists()
    with pytest.raises(ValueError, match="output_dir"):
        runner.execute_notebook(notebook, out, {"output_dir": "x"}, kernel_name="no-such")
    for argv in (["-p", "output_dir", "x"], ["-p", "typo", "1"]):
        with pytest.raises(SystemExit) as info:
            runner.main(["--output-dir", str(out), "--notebook-dir", str(notebook.parent),
                         "--kernel", "no-such", "--notebooks", "07", *argv])
        assert info.value.code == 2
    assert not out.exists()


def test_parameter_names_from_the_cell(notebook):
    assert runner.parameter_names(notebook) == {"output_dir", "n"}
    bare = notebook.parent / "09_bare.py"
    bare.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        runner.parameter_names(bare)


SLOW_NOTEBOOK = NOTEBOOK.replace(
    'save_metrics(P.output_dir, {"n": P.n})',
    'import time\n(P.output_dir / "started").write_text("1")\ntime.sleep(120)\n'
    'save_metrics(P.output_dir, {"n": P.n})',
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_run_keeps_what_finished(notebook, tmp_path, kernel_name, signum):
    (notebook.parent / "08_slow.py").write_text(SLOW_NOTEBOOK)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "iqlib.notebook.runner", "--output-dir", str(out),
         "--notebook-dir", str(notebook.parent), "--kernel", kernel_name],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(".08_slow.partial-*/started")):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "08_slow never started"
            time.sleep(0.2)
        proc.send_signal(signum)
        log, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads((out / "07_tiny" / "metrics.json").read_text()) == {"n": 2}
    assert "without encryption" not in log, "kernels talk over CurveZMQ, not plain TCP"
    assert not (out / "08_slow").exists(), "an unfinished run never takes the result's place"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["07_tiny"]["status"] == "ok"
    if signum == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM, log
        assert summary["08_slow"]["status"] == "interrupted"
        assert summary["08_slow"]["output"].startswith("08_slow.interrupted-")
        assert (out / summary["08_slow"]["output"] / "started").is_file()
        assert "interrupted" in (out / "summary.md").read_text()
    else:  # nothing runs after SIGKILL: the summary written after 07_tiny remains
        assert proc.returncode == -signal.SIGKILL
        assert "08_slow" not in summary
        assert len(list(out.glob(".08_slow.partial-*"))) == 1  # left, not deleted


def test_kernels_are_encrypted_or_local(monkeypatch):
    if zmq.has("curve"):
        km = EncryptedKernelManager()
        assert (km.transport_encryption, km.transport) == ("auto", "tcp")
    has = zmq.has
    monkeypatch.setattr(zmq, "has", lambda feature: feature != "curve" and has(feature))
    km = EncryptedKernelManager()  # pyzmq without libsodium: Unix sockets instead
    assert (km.transport_encryption, km.transport) == ("disabled", "ipc")
