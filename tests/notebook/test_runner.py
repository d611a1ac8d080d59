"""The runner end to end on a throwaway notebook (needs a Jupyter kernel; a few seconds)."""

import json
import textwrap

import pytest

from iqlib.notebook import runner

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
