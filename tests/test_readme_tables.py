"""The README's full-run tables are generated from results/ and in step with it.

``scripts/readme_tables.py`` renders one table per recorded notebook (05, 06, 09, 10) between
marker comments in README.md. These tests check the committed README against the committed
records, and the renderer on a fake results folder; nothing here runs a notebook.
"""

import importlib.util
import pathlib
import sys

import pytest

from iqlib.notebook.records import publish, write_record

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("readme_tables", REPO_ROOT / "scripts" / "readme_tables.py")
readme_tables = importlib.util.module_from_spec(_SPEC)
sys.modules["readme_tables"] = readme_tables
_SPEC.loader.exec_module(readme_tables)

STEM_09 = "09_iql_offline"
#: A sweep with one notebook-09 entry of two datasets, and one notebook-10 entry.
SWEEP = """
- name: iql-fake
  notebook: "09"
  parameters: {n_seeds: 6, train_steps: 50000, hidden: 256}
  grid:
    datasets: [[hopper-medium-replay], [lunarlander-mixed]]
- name: iql-finetune-fake
  notebook: "10"
"""


def _provenance(commit: str, wall_s: float) -> dict:
    return {"command": ["python", "-m", "iqlib.notebook.sweep"], "git": {"commit": commit, "dirty": False},
            "versions": {}, "machine": {"device_kind": "cpu", "cpu_count": 2}, "wall_time_s": wall_s,
            "date": "2026-12-03T10:00:00+00:00"}


def _record_09(results: pathlib.Path, dataset: str, commit: str, scores: dict[str, tuple[float, float]],
               **overrides) -> None:
    parameters = {"datasets": [dataset], "n_seeds": 6, "train_steps": 50000, "hidden": 256, "top_fraction": 0.1,
                  **overrides}
    metrics = {f"{dataset}_{m}_score_{stat}": value for m, pair in scores.items()
               for stat, value in zip(("mean", "std"), pair)}
    metrics.update({f"{dataset}_{m}_wall_s": 60.0 for m in scores})
    final = results / STEM_09 / f"datasets={dataset}"
    tmp = write_record(final.with_name(final.name + ".tmp-0"), parameters, metrics, _provenance(commit, 2400.0))
    assert publish(tmp, final)


@pytest.fixture
def fake(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A results folder with one notebook-09 record, and a sweep file naming 09 and 10."""
    results = tmp_path / "results"
    _record_09(results, "hopper-medium-replay", "0123456789abcdef0123456789abcdef01234567",
               {"iql": (19.84, 1.36), "bc": (-13.04, 2.0), "pctbc": (20.9, 1.44)})
    sweep = tmp_path / "sweeps" / "full.yaml"
    sweep.parent.mkdir()
    sweep.write_text(SWEEP, encoding="utf-8")
    return results, sweep


def test_readme_tables_match_the_records():
    """Fails when a run was recorded (or a record changed) without `make readme-tables`."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    _, changed = readme_tables.update(text)
    assert changed == [], (f"README.md tables {changed} differ from results/: run `make readme-tables` "
                           "(.venv/bin/python scripts/readme_tables.py)")


def test_check_exits_nonzero_and_writes_nothing_when_stale(fake, tmp_path):
    results, sweep = fake
    readme = tmp_path / "README.md"
    stale = "".join(f"<!-- table:{nb} -->\nold\n<!-- /table:{nb} -->\n" for nb in readme_tables.RENDERERS)
    readme.write_text(stale, encoding="utf-8")
    args = ["--readme", str(readme), "--results", str(results), "--sweep", str(sweep)]
    assert readme_tables.main(args + ["--check"]) == 1
    assert readme.read_text(encoding="utf-8") == stale
    assert readme_tables.main(args) == 0
    assert readme_tables.main(args + ["--check"]) == 0
    assert "old" not in readme.read_text(encoding="utf-8")


def test_a_record_renders_with_its_numbers_commit_and_folder(fake):
    results, sweep = fake
    text = readme_tables.render("09", results, readme_tables.load_sweep(sweep))
    row = next(line for line in text.splitlines() if line.startswith("| hopper-medium-replay |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:4] == ["19.8 ± 1.4", "−13.0 ± 2.0", "20.9 ± 1.4"]
    assert cells[4:9] == ["6", "50000", "0.7 / 3 / 0.005", "256", "40.0 min"]  # τ / β / ρ: the locomotion preset's
    assert cells[9:] == ["`datasets=hopper-medium-replay`", "`0123456`"]
    assert "10 %BC" in text and "entry `iql-fake`" in text
    # the entry's other dataset has no record: no row for it
    assert "| lunarlander-mixed |" not in text


def test_a_notebook_without_records_renders_the_no_record_line(fake):
    results, sweep = fake
    text = readme_tables.render("10", results, readme_tables.load_sweep(sweep))
    assert text == ("*`sweeps/full.yaml` entry `iql-finetune-fake`*:\n\n(no record yet: run "
                    "`python -m iqlib.notebook.sweep sweeps/full.yaml --entry iql-finetune-fake`)")


def test_a_record_outside_the_sweep_is_listed_apart(fake):
    results, sweep = fake
    _record_09(results, "halfcheetah-medium-replay", "f" * 40, {"iql": (35.9, 3.6), "bc": (10.2, 4.3),
                                                                 "pctbc": (26.5, 4.0)},
               awr_temperature=10, target_rate=0.02)
    text = readme_tables.render("09", results, readme_tables.load_sweep(sweep))
    before, after = text.split("*Records that no entry of `sweeps/full.yaml` makes:*")
    assert "| hopper-medium-replay |" in before and "| halfcheetah-medium-replay |" in after
    assert "`fffffff`" in after
    assert "| 0.7 / 10 / 0.02 |" in after  # the record's own β and ρ, the preset's τ


@pytest.mark.parametrize("broken, marker", [
    ("<!-- table:09 -->\n", "<!-- /table:09 -->"),
    ("", "<!-- table:09 -->"),
    ("<!-- table:09 -->\n<!-- /table:09 -->\n<!-- table:09 -->\n", "<!-- table:09 -->"),
])
def test_a_missing_marker_is_named(fake, broken, marker):
    results, sweep = fake
    text = "".join(f"<!-- table:{nb} -->\n<!-- /table:{nb} -->\n" for nb in readme_tables.RENDERERS if nb != "09")
    with pytest.raises(readme_tables.MarkerError, match=f"marker {marker} exactly once"):
        readme_tables.update(text + broken, results, sweep)


def test_a_missing_metric_names_the_record_and_the_key(fake):
    results, sweep = fake
    _record_09(results, "lunarlander-mixed", "a" * 40, {"iql": (1.0, 0.1), "bc": (2.0, 0.2)})
    with pytest.raises(KeyError, match="datasets=lunarlander-mixed.*lunarlander-mixed_pctbc_score_mean"):
        readme_tables.render("09", results, readme_tables.load_sweep(sweep))


def test_the_ablation_records_get_one_table_of_their_own(tmp_path):
    """A record that sweeps/cartpole-one-demo.yaml makes is a row of the ablation table, not of table 05."""
    runs = readme_tables.load_sweep(REPO_ROOT / "sweeps" / "cartpole-one-demo.yaml")
    run = next(r for r in runs if r.name == "chi2_rows=all")
    pre = "CartPole-v1_{}_1_"
    metrics = {pre.format("iq") + "return_mean": 480.5, pre.format("iq") + "return_std": 9.5,
               pre.format("iq") + "normalized_score": 96.04, pre.format("bc") + "return_mean": 370.2,
               pre.format("bc") + "return_std": 49.9, pre.format("iq") + "best_return_mean": 500.0,
               pre.format("iq") + "disagree_train": 0.0064, pre.format("iq") + "disagree_visited": 0.2374}
    results = tmp_path / "results"
    final = results / run.stem / run.name
    assert publish(write_record(final.with_name(final.name + ".tmp-0"), run.parameters, metrics,
                                _provenance("c" * 40, 180.0)), final)
    table = readme_tables.render_ablation("05ablation", results)
    assert "| `chi2_rows=all` | 480.5 ± 9.5 | 96.0 | 370.2 ± 49.9 | 500.0 | 0.006 / 0.237 | 3.0 min | `ccccccc` |" in table
    assert "5 seeds" in table
    assert "chi2_rows=all" not in readme_tables.render("05", results, readme_tables.load_sweep(REPO_ROOT / "sweeps" /
                                                       "full.yaml"), also=runs)
    # without `also` the same record is one that no entry of full.yaml makes
    full = readme_tables.load_sweep(REPO_ROOT / "sweeps" / "full.yaml")
    assert [r.entry for r in readme_tables.load(results, "05", full)] == [None]
    assert [r.entry for r in readme_tables.load(results, "05", [*full, *runs])] == ["cartpole-one-demo-chi2-rows"]


def test_the_every_dataset_table_lists_each_record_and_each_missing_set(fake):
    """09all: a record at >= 5 seeds is a row with its numbers and ρ; a set with none says so."""
    results, _ = fake
    text = readme_tables.render_09_all(results)
    assert ("| hopper-medium-replay | 19.8 ± 1.4 | −13.0 ± 2.0 | 20.9 ± 1.4 | 6 | 50000 | 0.7 / 3 / 0.005 | 256 | "
            "40.0 min | `datasets=hopper-medium-replay` | `0123456` |") in text
    assert "| hopper-medium-expert | no record at ≥ 5 seeds |" in text
    assert "| hopper-medium-replay | no record" not in text
