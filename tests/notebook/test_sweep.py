"""Sweeps: grid files and their errors, the full-scale grid, and tiny notebooks run on Dask.

The Dask tests (marked ``notebooks``: they start Jupyter kernels) run a throwaway notebook that
appends a line to a counter file when it starts, sleeps, and writes metrics and a curves file.
Each test uses a 2-worker LocalCluster, always closed, and a bounded wait.
"""

import json
import os
import pathlib
import signal
import textwrap
import threading
import time

import pytest
import yaml
from distributed import Client, LocalCluster

from iqlib.notebook import sweep
from iqlib.notebook.grid import SweepError, load_sweep, notebook_parameters, parse_sweep, sweep_records
from iqlib.notebook.records import TMP_MARK, is_complete, load_records, write_record
from iqlib.notebook.runner import ensure_kernel
from iqlib.notebook.smoke import smoke_parameters, smoke_runs

TINY = textwrap.dedent(
    '''\
    # %% [markdown]
    # A throwaway notebook for the sweep tests.

    # %% tags=["parameters"]
    output_dir = "out"
    seed = 0
    x = 1.0
    sleep = 0.2
    counter = ""
    discount = 0.9
    fail = False

    # %%
    import os
    import pathlib
    import time
    from iqlib.data.files import save_metrics, write_json_atomic
    if counter:
        with open(counter, "a") as f:
            f.write(f"start {x} {seed} {os.getppid()}\\n")
    time.sleep(sleep)
    if fail:
        raise RuntimeError("asked to fail")
    save_metrics(output_dir, {"score": x * 10 + seed, "seed": seed})
    write_json_atomic(pathlib.Path(output_dir) / "curves_demo.json", {"steps": [1, 2], "v": [x, seed]})
    '''
)


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return path


def entry(**changes):
    base = {"name": "tiny", "notebook": "tiny.py", "parameters": {"sleep": 0.1},
            "grid": {"x": [1.0, 2.5]}, "seeds": [0, 1]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def expand(data, tmp_path):
    return parse_sweep(data, "test.yaml", tmp_path)


# --- grid files --------------------------------------------------------------------------------

def test_grid_expands_to_the_product_then_seeds(tiny, tmp_path):
    runs = expand(entry(), tmp_path)
    assert [r.name for r in runs] == ["x=1,seed=0", "x=1,seed=1", "x=2.5,seed=0", "x=2.5,seed=1"]
    assert runs[2].parameters == {"sleep": 0.1, "x": 2.5, "seed": 0}
    assert runs[2].varying == {"x": 2.5, "seed": 0}
    assert {r.stem for r in runs} == {"tiny"} and runs[0].notebook == tiny.resolve()
    assert len(expand(entry(grid={"x": [1.0, 2.0], "sleep": [0.1, 0.2, 0.3]}, parameters=None,
                            seeds=None), tmp_path)) == 6
    only = expand(entry(grid=None, seeds=None), tmp_path)
    assert [r.name for r in only] == ["default"] and only[0].parameters == {"sleep": 0.1}


def test_a_file_may_list_several_entries(tiny, tmp_path):
    runs = expand([entry(), entry(name="two", grid={"x": [7.0]}, seeds=[3])], tmp_path)
    assert [r.sweep for r in runs] == ["tiny"] * 4 + ["two"]
    assert runs[-1].name == "x=7,seed=3"


@pytest.mark.parametrize("data, message", [
    (entry(grids={}), "unknown key 'grids'"),
    (entry(name=None), "missing key 'name'"),
    (entry(notebook=None), "missing key 'notebook'"),
    (entry(name="a b"), "name must be"),
    (entry(notebook=9), 'quote it (notebook: "09")'),
    (entry(notebook="nope.py"), "does not exist"),
    (entry(notebook="zz"), "notebook: no notebook"),
    (entry(parameters=[1]), "parameters must be a mapping"),
    (entry(grid={"x": 1.0}), "grid.x must be a non-empty list"),
    (entry(grid={"x": []}), "grid.x must be a non-empty list"),
    (entry(seeds=["a"]), "seeds must be a non-empty list of integers"),
    (entry(seeds=0), "seeds must be a non-empty list of integers"),
    (entry(parameters={"x": 1.0}), "grid.x is also in parameters"),
    (entry(parameters={"seed": 1}), "'seed' is also in parameters"),
    (entry(parameters={"y": 1}), "parameters.y: no parameter 'y' in tiny.py; known: counter"),
    (entry(grid={"gamma": [0.9]}), "grid.gamma: no parameter 'gamma' in tiny.py; it was renamed to 'discount'"),
    (entry(parameters={"output_dir": "o"}), "parameters.output_dir: the sweep sets output_dir"),
    ([entry(), 3], "entry 2: an entry must be a mapping"),
    ([entry(), entry(name="again")], "entries 'tiny' and 'again' both make the run tiny/x=1,seed=0"),
    (None, "empty sweep file"),
])
def test_schema_errors_name_the_key(tiny, tmp_path, data, message):
    with pytest.raises(SweepError) as err:
        expand(data, tmp_path)
    assert message in str(err.value)
    assert str(err.value).startswith("test.yaml")


def test_load_sweep_reads_yaml_relative_to_its_folder(tiny, tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(entry()))
    assert len(load_sweep(tmp_path / "s.yaml")) == 4
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SweepError, match="not valid YAML"):
        load_sweep(tmp_path / "bad.yaml")


def test_full_grid_expands_and_names_only_existing_parameters(repo_root):
    runs = load_sweep(repo_root / "sweeps" / "full.yaml")
    assert sorted(r.stem[:2] for r in runs) == ["05", "06", "09", "09", "09", "09", "09", "09", "09", "10"]
    assert [r.parameters["datasets"] for r in runs if r.stem.startswith("09")] == [
        ["cartpole-mixed"], ["hopper-medium-replay"], ["halfcheetah-medium-replay"],
        ["pointmaze-medium-stitch"], ["hopper-medium-expert"], ["lunarlander-mixed"], ["hopper-medium-replay"]]
    assert [r.stem[:2] for r in runs][:3] == ["10", "06", "09"]  # the file's order: the order they start in
    by_stem = {r.stem[:2]: r.parameters for r in runs if r.sweep != "iql-overestimation"}
    assert by_stem["09"]["train_steps"] == 50000 and by_stem["09"]["seed_group"] == 2
    trap = [r for r in runs if r.sweep == "iql-overestimation"]
    assert [r.name for r in trap] == ["datasets=hopper-medium-replay,train_steps=20000"]  # notebook 09 reads this name
    assert by_stem["05"]["env_ids"] == ["CartPole-v1", "Acrobot-v1", "LunarLander-v3"]
    assert by_stem["06"]["sac_reference"] is True and by_stem["06"]["lfo_steps"] == 16384
    assert by_stem["10"]["offline_steps"] == 100000
    for path in sorted((repo_root / "sweeps").glob("*.yaml")):
        for run in load_sweep(path):
            defaults = notebook_parameters(run.notebook)  # the parameters cell, read with ast
            for name, value in run.parameters.items():
                assert name in defaults, f"{path.name}: {run.stem} has no parameter {name!r}"
                assert defaults[name] is None or isinstance(value, type(defaults[name])), (
                    f"{path.name}: {run.stem}.{name} = {value!r}, default {defaults[name]!r}")


def test_dry_run_lists_the_runs_and_runs_nothing(tiny, tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(entry()))
    results = tmp_path / "results"
    assert sweep.main([str(tmp_path / "s.yaml"), "--results", str(results), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tiny/x=2.5,seed=1  [to run]" in out and "4 run(s)" in out
    assert not results.exists()
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(entry(grid={"y": [1]})))
    assert sweep.main([str(tmp_path / "bad.yaml"), "--dry-run"]) == 2
    assert "grid.y: no parameter 'y'" in capsys.readouterr().err


def test_entry_selects_runs_by_entry_name(repo_root, capsys):
    full = str(repo_root / "sweeps" / "full.yaml")
    assert sweep.main([full, "--dry-run", "--entry", "iql-offline-to-online-full"]) == 0
    out = capsys.readouterr().out
    assert "10_iql_offline_to_online/default" in out and "1 run(s)" in out and "09_" not in out
    assert sweep.main([full, "--dry-run", "--entry", "no-such-entry"]) == 2
    assert "--entry ['no-such-entry']: no such entry" in capsys.readouterr().err


def test_a_record_of_other_parameters_stops_the_sweep(tiny, tmp_path):
    run = expand(entry(), tmp_path)[0]
    folder = sweep.record_dir(tmp_path / "results", run)
    write_record(folder, {**run.parameters, "sleep": 5.0}, {"score": 1.0},
                 {k: 0 for k in ("command", "git", "versions", "machine", "wall_time_s", "date")})
    assert is_complete(folder)
    with pytest.raises(SweepError, match="sleep differ"):
        sweep.check_conflict(tmp_path / "results", run)
    sweep.check_conflict(tmp_path / "results", expand(entry(parameters={"sleep": 5.0}), tmp_path)[0])


# --- running on Dask ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kernel_name():
    return ensure_kernel()


@pytest.fixture
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def tiny_sweep(tmp_path, sleep):
    counter = tmp_path / "counter.txt"
    counter.touch()
    data = entry(parameters={"sleep": sleep, "counter": str(counter)})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    return load_sweep(tmp_path / "s.yaml"), counter


def starts(counter):
    return [line.split() for line in counter.read_text().splitlines()]


def assert_four_records(results, outcomes):
    folders = sorted((results / "tiny").iterdir())
    records = [f for f in folders if TMP_MARK not in f.name]
    assert [f.name for f in records] == ["x=1,seed=0", "x=1,seed=1", "x=2.5,seed=0", "x=2.5,seed=1"]
    assert all(is_complete(f) for f in records)  # no partial record, whatever died
    loaded = load_records(results, "tiny")
    assert [m["score"] for _, m, _ in loaded] == [10.0, 11.0, 25.0, 26.0]
    for parameters, metrics, provenance in loaded:
        assert set(parameters) == {"seed", "x", "sleep", "counter", "discount", "fail"}
        assert metrics["seed"] == parameters["seed"] and provenance["wall_time_s"] > 0
    assert all(json.loads((f / "curves_demo.json").read_text())["steps"] == [1, 2] for f in records)
    assert all(not (f / "tiny.ipynb").exists() for f in records)  # no executed notebook in a record
    assert [o["status"] for o in outcomes] == ["done"] * 4


@pytest.mark.notebooks
def test_two_workers_write_four_records_and_a_rerun_skips_them(tiny, tmp_path, client,
                                                               kernel_name, capsys):
    runs, counter = tiny_sweep(tmp_path, sleep=0.5)
    results, outputs = tmp_path / "results", tmp_path / "outputs"
    outcomes = sweep.run_sweep(runs, results, client, outputs_dir=outputs, command=["test"],
                               kernel_name=kernel_name, timeout=240, progress=False)
    assert_four_records(results, outcomes)
    assert len(starts(counter)) == 4
    assert sorted((outputs / "tiny").iterdir())[0].joinpath("tiny.ipynb").is_file()
    assert not [f for f in (results / "tiny").iterdir() if TMP_MARK in f.name]
    stamps = {f: f.stat().st_mtime_ns for f in (results / "tiny").rglob("*")}

    again = sweep.run_sweep(runs, results, client, outputs_dir=outputs, kernel_name=kernel_name,
                            timeout=60, progress=False)
    assert [o["status"] for o in again] == ["skipped"] * 4
    argv = [str(tmp_path / "s.yaml"), "--results", str(results), "--workers", "2"]
    assert sweep.main(argv) == 0  # the command line: nothing to run, no cluster started
    assert "all complete" in capsys.readouterr().out
    assert len(starts(counter)) == 4  # no notebook executed again
    assert {f: f.stat().st_mtime_ns for f in (results / "tiny").rglob("*")} == stamps


@pytest.mark.notebooks
def test_a_killed_worker_leaves_no_partial_record(tiny, tmp_path, client, kernel_name):
    runs, counter = tiny_sweep(tmp_path, sleep=4.0)
    results = tmp_path / "results"
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("outcomes", sweep.run_sweep(
        runs, results, client, kernel_name=kernel_name, retries=2, timeout=300, progress=False)))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not starts(counter) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert starts(counter), "no run started within 120 s"
        _, x, seed, pid = starts(counter)[0]
        workers = client.run(os.getpid)
        assert int(pid) in workers.values()  # the kernel's parent is a worker process
        os.kill(int(pid), signal.SIGKILL)  # mid-run: the notebook sleeps 4 s after this line
    finally:
        thread.join(timeout=330)
    assert not thread.is_alive() and "outcomes" in box
    assert_four_records(results, box["outcomes"])
    lines = starts(counter)
    assert len(lines) >= 5  # the killed run started again
    assert sum(line[1:3] == [x, seed] for line in lines) >= 2
    killed = pathlib.Path(results / "tiny" / f"x={float(x):g},seed={seed}")
    assert is_complete(killed)


def test_two_files_may_not_make_the_same_run(tiny, tmp_path, capsys):
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(entry(name=name)))
    argv = [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "--dry-run"]
    assert sweep.main(argv) == 2
    assert "entries 'a' and 'b' both make the run tiny/x=1,seed=0" in capsys.readouterr().err


@pytest.mark.notebooks
def test_a_failing_cell_is_reported_not_recorded_and_cleaned_by_the_next_attempt(
        tiny, tmp_path, kernel_name):
    results = tmp_path / "results"
    failing = expand(entry(parameters={"sleep": 0.0, "fail": True}, grid=None, seeds=None),
                     tmp_path)[0]
    outcome = sweep.execute_run(failing, str(results), None, ["test"], kernel_name)
    assert outcome["status"] == "failed" and "asked to fail" in outcome["error"]
    kept = pathlib.Path(outcome["where"])
    assert TMP_MARK in kept.name and (kept / "outputs" / "tiny.ipynb").is_file()  # the traceback
    assert not sweep.record_dir(results, failing).exists()

    fixed = expand(entry(parameters={"sleep": 0.0}, grid=None, seeds=None), tmp_path)[0]
    assert fixed.name == failing.name
    outcome = sweep.execute_run(fixed, str(results), None, ["test"], kernel_name)
    assert outcome["status"] == "done"
    assert [p.name for p in (results / "tiny").iterdir()] == ["default"]  # the dead .tmp- is gone
    assert is_complete(results / "tiny" / "default")
    assert not (results / "tiny" / "default" / "outputs").exists()  # --no-outputs: deleted


@pytest.mark.notebooks
def test_one_worker_starts_the_runs_in_the_files_order(tiny, tmp_path, kernel_name):
    runs, counter = tiny_sweep(tmp_path, sleep=0.1)
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        sweep.run_sweep(runs, tmp_path / "results", client, kernel_name=kernel_name, timeout=240, progress=False)
    finally:
        client.close()
        cluster.close()
    assert [(x, seed) for _, x, seed, _ in starts(counter)] == [(str(r.parameters["x"]), str(r.parameters["seed"]))
                                                                for r in runs]


def test_sweep_records_pairs_every_run_with_its_record_or_none(tiny, tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(entry()))
    results = tmp_path / "results"
    write_record(results / "tiny" / "x=2.5,seed=1", {"x": 2.5, "seed": 1}, {"score": 26.0},
                 {"command": "test", "git": {}, "versions": {}, "machine": {}, "wall_time_s": 1.0, "date": "2026-12-02"})
    pairs = sweep_records(tmp_path / "s.yaml", results)
    assert [run.name for run, _ in pairs] == ["x=1,seed=0", "x=1,seed=1", "x=2.5,seed=0", "x=2.5,seed=1"]
    assert [found is None for _, found in pairs] == [True, True, True, False]
    assert pairs[3][1][0].metrics == {"score": 26.0}


@pytest.mark.notebooks
def test_smoke_runs_the_runs_at_a_tiny_budget_and_records_nothing(tiny, tmp_path, kernel_name):
    runs = expand(entry(parameters={"sleep": 30.0}, seeds=None), tmp_path)  # x = 1.0 and 2.5
    failing = expand(entry(name="bad", parameters={"sleep": 30.0, "fail": True}, grid=None, seeds=None), tmp_path)
    scratch = tmp_path / "smoke"
    outcomes = smoke_runs(runs + failing, scratch, kernel_name, budget={"ti": {"sleep": 0.0}}, log=lambda _: None)
    assert [o["status"] for o in outcomes] == ["ok", "ok", "failed"]
    assert "asked to fail" in outcomes[2]["error"]
    assert all(o["seconds"] < 30 for o in outcomes)  # the budget replaced the run's 30 s sleep
    metrics = json.loads((scratch / "tiny" / "x=2.5" / "metrics.json").read_text())
    assert metrics["score"] == 25.0  # the run's own grid value, not the default
    assert (scratch / "tiny" / "default" / "tiny.ipynb").is_file()  # the failed run's traceback
    with pytest.raises(KeyError, match="tiny has no smoke budget"):
        smoke_parameters(runs[0])



@pytest.mark.notebooks
def test_smoke_option_runs_only_the_runs_without_a_record(tiny, tmp_path, monkeypatch, capsys):
    from iqlib.notebook import smoke

    monkeypatch.setitem(smoke.SMOKE_BUDGET, "ti", {"sleep": 0.0})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(entry(parameters={"sleep": 30.0}, seeds=None)))
    results = tmp_path / "results"
    write_record(results / "tiny" / "x=1", {"x": 1.0, "sleep": 30.0}, {"score": 10.0},
                 {"command": "test", "git": {}, "versions": {}, "machine": {}, "wall_time_s": 1.0, "date": "2026-12-07"})
    argv = [str(tmp_path / "s.yaml"), "--results", str(results), "--smoke", str(tmp_path / "smoke")]
    assert sweep.main(argv) == 0
    assert "smoke: 1 run(s), 0 failed" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "smoke" / "tiny").iterdir()] == ["x=2.5"]
    assert [p.name for p in (results / "tiny").iterdir()] == ["x=1"]  # no record written
