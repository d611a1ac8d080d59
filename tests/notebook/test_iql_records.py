"""Which notebook-09 records make the one table of every dataset (iqlib.notebook.iql_records)."""

import pytest

from iqlib.notebook.iql_records import STEM, dataset_rows
from iqlib.notebook.records import publish, run_name, write_record

PROVENANCE = {"command": ["python"], "git": {"commit": "f" * 40, "dirty": False}, "versions": {},
              "machine": {}, "wall_time_s": 60.0, "date": "2026-12-07T00:00:00+00:00"}


def _record(results, datasets, n_seeds=5, train_steps=20000, **changes):
    parameters = {"datasets": datasets, "n_seeds": n_seeds, "train_steps": train_steps, "hidden": 256,
                  "expectile": None, "awr_temperature": None, **changes}
    final = results / STEM / run_name({"datasets": datasets, "train_steps": train_steps, **changes})
    assert publish(write_record(final.with_name(final.name + ".tmp-0"), parameters, {"x": 1.0}, PROVENANCE), final)
    return final.name


def test_rows_keep_the_domain_presets_and_enough_seeds(tmp_path):
    r = tmp_path / "results"
    keep = {_record(r, ["hopper-medium-expert"], target_rate=0.02),          # a ρ change is its own row
            _record(r, ["hopper-medium-expert"], train_steps=50000),       # None: the preset
            _record(r, ["lunarlander-mixed"], awr_temperature=3.0),        # = the discrete preset's β
            _record(r, ["pointmaze-medium-stitch"], expectile=0.9)}        # = the maze preset's τ
    drop = {_record(r, ["lunarlander-mixed"], awr_temperature=10.0),       # a β change: its sweep's table
            _record(r, ["pointmaze-medium-stitch"], expectile=0.7),        # τ 0.7 is not the maze's 0.9
            _record(r, ["hopper-medium-replay"], n_seeds=3),               # too few seeds
            _record(r, ["hopper-medium-replay", "cartpole-mixed"])}        # two datasets in one record
    rows = dataset_rows(r)
    assert {row.folder.name for row in rows} == keep and not drop & {row.folder.name for row in rows}
    # the table's order: hopper before the maze before lunarlander; within a dataset ρ, then updates
    assert [(row.dataset, row.target_rate, row.record.parameters["train_steps"]) for row in rows] == [
        ("hopper-medium-expert", 0.005, 50000), ("hopper-medium-expert", 0.02, 20000),
        ("pointmaze-medium-stitch", 0.005, 20000), ("lunarlander-mixed", 0.005, 20000)]
    maze = next(row for row in rows if row.dataset == "pointmaze-medium-stitch")
    assert (maze.expectile, maze.awr_temperature) == (0.9, 10.0)
    assert [row.dataset for row in dataset_rows(r, min_seeds=3)].count("hopper-medium-replay") == 1
    assert [row.dataset for row in dataset_rows(r, order=["lunarlander-mixed"])][0] == "lunarlander-mixed"


def test_no_results_folder_gives_no_rows_and_a_bad_minimum_is_named(tmp_path):
    assert dataset_rows(tmp_path / "nothing") == []
    with pytest.raises(ValueError, match="min_seeds"):
        dataset_rows(tmp_path, min_seeds=0)


def test_run_config_takes_the_runs_own_settings_else_its_domains_preset():
    from iqlib.notebook.iql_records import run_config
    from iqlib.notebook.params import Params

    cfg = run_config({"expectile": None, "awr_temperature": 10, "target_rate": 0.02}, "hopper-medium-expert")
    assert (cfg.expectile, cfg.awr_temperature, cfg.target_rate) == (0.7, 10.0, 0.02)
    maze = run_config({}, "pointmaze-medium-stitch", hidden=(64, 64))  # missing keys count as None; sizes pass through
    assert (maze.expectile, maze.awr_temperature, maze.target_rate, maze.hidden) == (0.9, 10.0, 0.005, (64, 64))
    own = run_config(Params({"expectile": 0.8, "awr_temperature": None, "target_rate": None}), "lunarlander-mixed")
    assert (own.expectile, own.awr_temperature) == (0.8, 3.0)                     # the notebook's validated P
    with pytest.raises(ValueError, match="no-such-set"):
        run_config({}, "no-such-set")
    minari = run_config({"expectile": None}, "test/cartpole/ends-v0", "discrete")  # a Minari id: its data's domain
    assert (minari.expectile, minari.awr_temperature) == (0.7, 3.0)
    assert run_config({}, "test/maze-v0", "maze").expectile == 0.9
