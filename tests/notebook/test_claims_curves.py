"""Claims (asserted, stated misses, headline metrics) and curves (write, read, compare)."""

import json

import numpy as np
import pytest

from iqlib.notebook.claims import Claims
from iqlib.notebook.curves import compare_at_common_x, curves_from_json, save_curves
from iqlib.notebook.records import find_record, write_record


def test_an_expected_claim_that_misses_fails_check_and_names_itself():
    claims = Claims()
    claims.add("iql_beats_bc", "IQL beats BC", 0.3, ">= 0.2", True, headline=True)
    claims.add("tv_small", "TV below 0.1", 0.25, "<= 0.1", False)
    with pytest.raises(AssertionError, match=r"tv_small: TV below 0.1 \(measured 0.25"):
        claims.check()


def test_a_stated_miss_is_reported_not_asserted_and_needs_a_reason():
    claims = Claims()
    with pytest.raises(ValueError, match="needs its reason"):
        claims.add("hme", "IQL reaches 80", 31.5, ">= 80", False, expected=False)
    claims.add("hme", "IQL reaches 80", 31.5, ">= 80", False, expected=False, on="record", reason="5% of the updates")
    claims.check()  # does not raise
    assert "stated miss: 5% of the updates" in claims.table()
    m = claims.metrics()
    assert m["claim_hme"] is False and m["claim_hme_value"] == 31.5
    assert m["headline_verdict"] == "miss" and m["headline_on"] == "record"


def test_headline_is_the_marked_claim_and_bad_claims_are_refused():
    claims = Claims()
    claims.add("a", "first", 1.0, "> 0", True)
    claims.add("b", "second", float("nan"), "> 0", False, expected=False, reason="r", headline=True)
    m = claims.metrics()
    assert m["headline_claim"] == "second" and m["headline_value"] is None and m["claim_b_value"] is None
    for args, kw, message in [(("a", "again", 1, "", True), {}, "twice"),
                              (("Bad", "x", 1, "", True), {}, "a-z"),
                              (("c", "x", 1, "", True), {"on": "paper"}, "on must be"),
                              (("c", "x", 1, "", True), {"headline": True}, "already the headline")]:
        with pytest.raises(ValueError, match=message):
            claims.add(*args, **kw)
    with pytest.raises(ValueError, match="no claims"):
        Claims().check()


def test_curves_round_trip_and_refuse_a_wrong_length(tmp_path):
    y = np.arange(6.0).reshape(2, 3)
    path = save_curves(tmp_path, "scores", [10, 20, 30], {"iql": y, "bc": [1.0, 2.0, 3.0]},
                       x_label="updates", y_label="score")
    c = curves_from_json(json.loads(path.read_text()))
    assert path.name == "curves_scores.json"
    np.testing.assert_array_equal(c.series["iql"], y)
    assert c.series["bc"].shape == (1, 3) and c.x_label == "updates"
    with pytest.raises(ValueError, match=r"series\['bc'\] must have shape \(n_seeds, 3\)"):
        save_curves(tmp_path, "s", [1, 2, 3], {"bc": [1.0, 2.0]}, x_label="", y_label="")
    with pytest.raises(ValueError, match="increasing"):
        save_curves(tmp_path, "s", [1, 1, 3], {}, x_label="", y_label="")


def test_compare_matches_shared_seeds_and_the_band_at_common_x(tmp_path):
    rec = curves_from_json({"x": [0, 10, 20, 30], "x_label": "", "y_label": "",
                            "series": {"m": [[0, 1, 2, 3], [0, 3, 4, 5]]}})
    same = curves_from_json({"x": [0, 10], "x_label": "", "y_label": "", "series": {"m": [[0, 1], [0, 3]]}})
    a = compare_at_common_x(same, rec, "m", shared_seeds=2)
    assert a.max_abs_diff == 0.0 and a.inside_band and a.x.tolist() == [0, 10]
    off = curves_from_json({"x": [10, 20], "x_label": "", "y_label": "", "series": {"m": [[9, 9]]}})
    b = compare_at_common_x(off, rec, "m", shared_seeds=1)
    assert b.max_abs_diff == 8.0 and not b.inside_band  # 9 is above the band [1, 3] at x = 10
    assert compare_at_common_x(off, rec, "m", tolerance=6.0).inside_band
    with pytest.raises(ValueError, match="share no value"):
        compare_at_common_x(curves_from_json({"x": [5], "x_label": "", "y_label": "", "series": {"m": [[1]]}}),
                            rec, "m")


def test_find_record_reads_a_record_with_its_curves_or_returns_none(tmp_path):
    assert find_record("10", results_dir=tmp_path) is None
    folder = tmp_path / "10_x" / "default"
    folder.mkdir(parents=True)
    save_curves(folder, "scores", [0, 1], {"a": [1.0, 2.0]}, x_label="steps", y_label="score")
    assert find_record("10", results_dir=tmp_path) is None  # curves alone are no record
    write_record(folder, {"n": 1}, {"score": 2.0},
                 {"command": "c", "git": {}, "versions": {}, "machine": {}, "wall_time_s": 1.0, "date": "d"})
    record, curves = find_record("10", results_dir=tmp_path)
    assert record.metrics == {"score": 2.0} and curves["scores"].series["a"].tolist() == [[1.0, 2.0]]


def test_summary_leads_with_each_notebooks_headline_claim(tmp_path):
    from iqlib.notebook.summary import write_summary

    claims = Claims()
    claims.add("gain", "Fine-tuning lifts the score", 38.1, ">= 10", True, on="record")
    (tmp_path / "10_x").mkdir()
    (tmp_path / "10_x" / "fig.png").write_bytes(b"")
    rows = {"10_x": {"status": "ok", "runtime_s": 1.0, "output": "10_x", "metrics": {"n": 1, **claims.metrics()}},
            "03_y": {"status": "failed", "error": "E: boom", "runtime_s": 2.0, "output": "03_y", "metrics": {}}}
    write_summary(tmp_path, rows)
    text = (tmp_path / "summary.md").read_text()
    head = text.split("## Runtime")[0]
    assert "| 10_x | Fine-tuning lifts the score | 38.1 | >= 10 | **holds** | record | [fig.png](10_x/fig.png) |" in head
    assert "| 03_y | (no claim recorded: failed) |" in head
    assert text.index("## Headline claims") < text.index("## Runtime") < text.index("All metrics:")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["10_x"]["headline"] == {"claim": "Fine-tuning lifts the score", "value": 38.1, "target": ">= 10",
                                           "verdict": "holds", "on": "record"}
    assert summary["03_y"]["headline"] is None


def test_failures_names_only_the_expected_claims_that_miss():
    claims = Claims()
    claims.add("ok", "holds", 1.0, "> 0", True)
    claims.add("known", "a stated miss", 0.0, "> 1", False, expected=False, reason="budget")
    assert claims.failures() == ""
    claims.add("bad", "should hold", -1.0, "> 0", False)
    assert claims.failures() == "bad: should hold (measured -1, target > 0, on the fresh run)"


def test_write_text_atomic_writes_readable_text_in_place(tmp_path):
    import stat

    from iqlib.data.files import write_text_atomic

    path = write_text_atomic(tmp_path / "sub" / "a.md", "héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["a.md"]  # no temporary file left
