"""Record folders: run names, completeness, atomic publishing, loading (no kernel, no Dask)."""

import ast
import json
import os
import shlex

import pytest

from iqlib.notebook import records
from iqlib.notebook.provenance import rerun_command, run_provenance
from iqlib.notebook.records import (RECORD_FILES, TMP_MARK, is_complete, load_curves,
                                    load_records, publish, run_name, write_record)

PROVENANCE = {"command": ["python"], "git": {"commit": None, "dirty": None}, "versions": {},
              "machine": {}, "wall_time_s": 1.0, "date": "2026-01-01T00:00:00+00:00"}


def make_record(folder, metrics=None, parameters=None, curves=()):
    return write_record(folder, parameters or {"seed": 0}, metrics or {"score": 1.0},
                        PROVENANCE, curves)


# --- run names ---------------------------------------------------------------------------------

def test_run_name_reads_as_the_varying_parameters_in_order():
    name = run_name({"datasets": ["hopper-medium-replay"], "awr_temperature": 3.0, "seed": 0})
    assert name == "datasets=hopper-medium-replay,awr_temperature=3,seed=0"
    assert run_name({"seed": 0, "x": 0.25}) == "seed=0,x=0.25"
    assert run_name({"x": 0.25, "seed": 0}) == "x=0.25,seed=0"  # order is the grid's order
    assert run_name({"n_demos": [1, 3, 10], "flag": True}) == "n_demos=1+3+10,flag=True"
    assert run_name({}) == "default"


def test_run_name_is_deterministic_and_keeps_sanitised_names_apart():
    a, b = run_name({"env": "a/b"}), run_name({"env": "a b"})
    assert a == run_name({"env": "a/b"})
    assert a.startswith("env=a_b-") and b.startswith("env=a_b-") and a != b
    for name in (a, b, run_name({"path": "../../etc"})):
        assert "/" not in name and " " not in name and not name.startswith(".")


def test_long_run_names_are_cut_with_a_hash():
    long_a = run_name({"x": "a" * 300})
    long_b = run_name({"x": "a" * 299 + "b"})
    assert len(long_a) <= records.MAX_NAME and len(long_b) <= records.MAX_NAME
    assert long_a != long_b


# --- completeness ------------------------------------------------------------------------------

def test_a_written_record_is_complete_and_loads(tmp_path):
    curves = tmp_path / "curves_hopper.json"
    curves.write_text(json.dumps({"steps": [1, 2], "iql": [[0.1, 0.2]]}))
    folder = make_record(tmp_path / "nb" / "seed=0", curves=[curves])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*RECORD_FILES, curves.name])
    assert is_complete(folder)
    assert load_curves(folder) == {"curves_hopper": {"steps": [1, 2], "iql": [[0.1, 0.2]]}}


@pytest.mark.parametrize("breakage", ["missing", "not json", "a list", "nested metrics",
                                      "provenance key", "bad curves", "tmp name", "not a dir"])
def test_is_complete_rejects_partial_records(tmp_path, breakage):
    folder = make_record(tmp_path / "seed=0")
    if breakage == "missing":
        (folder / "provenance.json").unlink()
    elif breakage == "not json":
        (folder / "metrics.json").write_text('{"score": 1.')
    elif breakage == "a list":
        (folder / "parameters.json").write_text("[1, 2]")
    elif breakage == "nested metrics":
        (folder / "metrics.json").write_text('{"score": [1, 2]}')
    elif breakage == "provenance key":
        (folder / "provenance.json").write_text('{"command": []}')
    elif breakage == "bad curves":
        (folder / "curves_x.json").write_text("{")
    elif breakage == "tmp name":
        folder = folder.rename(tmp_path / f"seed=0{TMP_MARK}abc")
    else:
        folder = tmp_path / "nothing"
    assert not is_complete(folder)


def test_write_record_refuses_nested_metrics(tmp_path):
    with pytest.raises(ValueError, match="flat"):
        make_record(tmp_path / "r", metrics={"curve": [1, 2]})


# --- publishing --------------------------------------------------------------------------------

def test_publish_moves_the_folder_in_one_rename(tmp_path):
    tmp = make_record(tmp_path / f"seed=0{TMP_MARK}1")
    final = tmp_path / "seed=0"
    assert publish(tmp, final) is True
    assert is_complete(final) and not tmp.exists()


def test_publish_refuses_an_incomplete_folder(tmp_path):
    tmp = make_record(tmp_path / f"seed=0{TMP_MARK}1")
    (tmp / "metrics.json").unlink()
    with pytest.raises(ValueError, match="complete record"):
        publish(tmp, tmp_path / "seed=0")
    assert not (tmp_path / "seed=0").exists()


def test_publish_keeps_an_existing_record_and_sets_junk_aside(tmp_path):
    final = make_record(tmp_path / "seed=0", metrics={"score": 1.0})
    tmp = make_record(tmp_path / f"seed=0{TMP_MARK}2", metrics={"score": 2.0})
    assert publish(tmp, final) is False  # the first finished attempt wins
    assert json.loads((final / "metrics.json").read_text()) == {"score": 1.0}
    assert not tmp.exists()

    junk = tmp_path / "seed=1"
    junk.mkdir()
    (junk / "metrics.json").write_text("{")
    tmp = make_record(tmp_path / f"seed=1{TMP_MARK}3", metrics={"score": 3.0})
    assert publish(tmp, junk) is True
    assert json.loads((junk / "metrics.json").read_text()) == {"score": 3.0}
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith(f"seed=1{TMP_MARK}")]
    assert len(aside) == 1 and aside[0].endswith("-stale")


# --- loading -----------------------------------------------------------------------------------

def test_load_records_returns_complete_records_only(tmp_path):
    nb = tmp_path / "results" / "09_iql_offline"
    make_record(nb / "seed=1", metrics={"score": 1.5}, parameters={"seed": 1})
    make_record(nb / "seed=0", metrics={"score": 0.5}, parameters={"seed": 0})
    make_record(nb / f"seed=2{TMP_MARK}x", metrics={"score": 9.0}, parameters={"seed": 2})
    (nb / "seed=3").mkdir()
    for key in ("09", "09_iql_offline"):
        loaded = load_records(tmp_path / "results", key)
        assert [p["seed"] for p, _, _ in loaded] == [0, 1]
        assert [m["score"] for _, m, _ in loaded] == [0.5, 1.5]
        assert loaded[0].provenance["date"] == PROVENANCE["date"]
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "results", "05")


# --- provenance --------------------------------------------------------------------------------

def test_rerun_command_parses_back_to_the_overrides():
    overrides = {"datasets": ["hopper-medium-replay"], "hidden": 256, "sac_reference": True,
                 "expectile": None, "name": "it's", "discount": 0.99}
    words = shlex.split(rerun_command("notebooks/09_iql_offline.py", overrides))
    assert words[:5] == ["python", "-m", "iqlib.notebook.runner", "--notebooks", "09_iql_offline"]
    pairs = [(words[i + 1], words[i + 2]) for i, w in enumerate(words) if w == "-p"]
    assert {k: ast.literal_eval(v) for k, v in pairs} == overrides


def test_run_provenance_holds_the_record_keys(repo_root):
    prov = run_provenance(["python", "-m", "x"], repo_root / "notebooks" / "09_iql_offline.py",
                          {"seed": 1}, 2.5, "2026-01-01T00:00:00.000+00:00")
    assert set(records._PROVENANCE_KEYS) <= set(prov)
    assert prov["notebook"] == os.path.join("notebooks", "09_iql_offline.py")
    assert prov["git"]["commit"] is None or len(prov["git"]["commit"]) == 40
    assert {"jax", "flax", "optax", "numpy", "gymnasium", "iqlib"} <= set(prov["versions"])
    assert prov["versions"]["iqlib"] is not None
    assert prov["machine"]["cpu_count"] == os.cpu_count()
    assert prov["machine"]["device_kind"]  # jax.devices() answered
    assert prov["date"].endswith("+00:00") and prov["wall_time_s"] == 2.5
    json.dumps(prov)  # plain JSON
