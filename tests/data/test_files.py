"""Atomic JSON, flat metrics, checksums, and datasets with provenance."""

import json
import math

import numpy as np
import pytest

from iqlib.data.files import (
    flatten,
    load_npz_verified,
    load_provenance,
    provenance_path,
    read_json,
    save_figure,
    save_metrics,
    save_npz_with_provenance,
    sha256_file,
    verify_sha256,
    write_json_atomic,
)


def test_json_round_trip_with_numpy(tmp_path):
    obj = {
        "b": np.float32(0.25),
        "a": np.int64(7),
        "flag": np.bool_(True),
        "arr": np.arange(4).reshape(2, 2),
        "nested": {"x": (1, 2.5), "nan": np.float64("nan"), "inf": math.inf},
        "path": tmp_path,
    }
    path = write_json_atomic(tmp_path / "sub" / "out.json", obj)
    text = path.read_text()
    assert text.index('"a"') < text.index('"arr"') < text.index('"b"')  # sorted keys
    assert "NaN" not in text and "Infinity" not in text
    back = read_json(path)
    assert back == {
        "a": 7,
        "arr": [[0, 1], [2, 3]],
        "b": 0.25,
        "flag": True,
        "nested": {"inf": None, "nan": None, "x": [1, 2.5]},
        "path": str(tmp_path),
    }
    assert type(back["a"]) is int and type(back["flag"]) is bool


def test_json_write_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    write_json_atomic(tmp_path / "a.json", {"x": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert read_json(tmp_path / "a.json") == {"x": 2}


def test_failed_json_write_keeps_old_file(tmp_path):
    path = write_json_atomic(tmp_path / "a.json", {"x": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": object()})
    assert read_json(path) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_save_metrics_flat(tmp_path):
    path = save_metrics(tmp_path, {"tv": np.float64(0.01), "n": np.int32(3), "ok": True,
                                   "name": "gridworld", "none": None, "zero_d": np.array(2.0)})
    assert path == tmp_path / "metrics.json"
    assert json.loads(path.read_text()) == {"tv": 0.01, "n": 3, "ok": True,
                                            "name": "gridworld", "none": None, "zero_d": 2.0}


@pytest.mark.parametrize("bad", [{"a": 1}, [1, 2], (1,), np.zeros(3)])
def test_save_metrics_rejects_nested(tmp_path, bad):
    with pytest.raises(ValueError, match="'curve'"):
        save_metrics(tmp_path, {"fine": 1.0, "curve": bad})
    assert not (tmp_path / "metrics.json").exists()


def test_flatten_makes_metrics_flat(tmp_path):
    flat = flatten({"a": {"b": 1, "c": [2, 3]}, "d": np.array([4.0])})
    assert flat == {"a/b": 1, "a/c/0": 2, "a/c/1": 3, "d/0": 4.0}
    save_metrics(tmp_path, flat)


def test_save_figure_atomic(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "figs" / "line.png")
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]


def test_sha256_and_verify(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_file(path) == digest
    assert verify_sha256(path, digest.upper()) == digest
    wrong = "0" * 64
    with pytest.raises(ValueError) as info:
        verify_sha256(path, wrong)
    message = str(info.value)
    assert wrong in message and digest in message and "f.bin" in message


def test_verify_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        verify_sha256(tmp_path / "nope.bin", "0" * 64)


def _dataset():
    rng = np.random.default_rng(0)
    return {
        "obs": rng.normal(size=(10, 3)).astype(np.float32),
        "action": rng.integers(0, 5, size=10),
        "terminal": np.zeros(10, dtype=bool),
    }


def test_npz_provenance_round_trip(tmp_path):
    arrays = _dataset()
    path = tmp_path / "data" / "grid.npz"
    provenance = {"env_id": "GridWorld-v0", "seed": 0, "episodes": 3}
    digest = save_npz_with_provenance(path, arrays, provenance)
    assert provenance_path(path) == tmp_path / "data" / "grid.provenance.json"
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.npz", "grid.provenance.json"]
    record = load_provenance(path)
    assert record == {**provenance, "file": "grid.npz", "sha256": digest}
    assert digest == sha256_file(path)
    loaded = load_npz_verified(path)
    assert loaded.keys() == arrays.keys()
    for key in arrays:
        np.testing.assert_array_equal(loaded[key], arrays[key])
        assert loaded[key].dtype == arrays[key].dtype


def test_npz_tamper_detected(tmp_path):
    path = tmp_path / "grid.npz"
    digest = save_npz_with_provenance(path, _dataset(), {"seed": 0})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=digest):
        load_npz_verified(path)


def test_npz_missing_sidecar(tmp_path):
    path = tmp_path / "grid.npz"
    save_npz_with_provenance(path, _dataset(), {"seed": 0})
    provenance_path(path).unlink()
    with pytest.raises(FileNotFoundError, match="provenance"):
        load_npz_verified(path)


def test_npz_requires_suffix(tmp_path):
    with pytest.raises(ValueError, match=".npz"):
        save_npz_with_provenance(tmp_path / "grid.dat", _dataset(), {})
