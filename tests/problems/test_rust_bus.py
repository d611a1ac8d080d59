"""Rust (1987) data, first stage, structural MLE and IQ-Learn on the real bus panel."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.problems import rust_bus
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.mle import fit_structural_mle


@pytest.fixture(scope="module")
def data():
    return rust_bus.load_rust_bus()


@pytest.fixture(scope="module")
def model(data):
    probs, _ = rust_bus.estimate_mileage_transitions(data)
    return rust_bus.rust_transitions(probs), rust_bus.rust_features(), rust_bus.choice_counts(data)


def test_data_shape_and_counts(data):
    assert len(data["bus_id"]) == 8260
    assert len(np.unique(data["bus_id"])) == 104
    assert set(np.unique(data["group"])) == {1, 2, 3, 4}
    assert int(data["replaced"].sum()) == 60


def test_group_filter(data):
    g4 = rust_bus.load_rust_bus(groups=[4])
    assert len(g4["bus_id"]) == int((data["group"] == 4).sum())
    with pytest.raises(ValueError, match="groups"):
        rust_bus.load_rust_bus(groups=[5])


def test_discretisation_reproduces_file_bins(data):
    bins = rust_bus.mileage_bins(data["bus_id"], data["mileage"], data["replaced"])
    np.testing.assert_array_equal(bins, data["mileage_bin"])


def test_missing_and_altered_file_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        rust_bus.load_rust_bus(tmp_path / "absent.csv")
    copy = tmp_path / "rust.csv"
    shutil.copy(rust_bus.default_path(), copy)
    raw = bytearray(copy.read_bytes())
    raw[-3] = ord("1") if raw[-3] != ord("1") else ord("0")
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rust_bus.RUST_BUS_SHA256):
        rust_bus.load_rust_bus(copy)


def test_first_stage_transitions(data):
    probs, counts = rust_bus.estimate_mileage_transitions(data)
    np.testing.assert_array_equal(counts, [2833, 5170, 93])
    np.testing.assert_allclose(probs.sum(), 1.0)
    P = rust_bus.rust_transitions(probs, 90)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    # keep from bin 10 moves to 10, 11, 12; replace from anywhere restarts at 0, 1, 2
    np.testing.assert_allclose(P[10, 0, 10:13], probs)
    np.testing.assert_allclose(P[55, 1, 0:3], probs)
    assert P[89, 0, 89] == pytest.approx(1.0)  # absorbing last bin
    with pytest.raises(ValueError, match="probs"):
        rust_bus.rust_transitions([0.5, 0.6])


@pytest.mark.parametrize(
    "beta, ref_loglik, ref_rc, ref_theta_c",
    [(0.9999, -300.452, 9.8008, 0.002604), (0.99, -301.036, 9.3138, 0.003192)],
)
def test_mle_matches_reference(model, beta, ref_loglik, ref_rc, ref_theta_c):
    """econirl 0.1.1's NFXP on the same file (measured): our MLE must match ℓ within 0.1."""
    P, phi, counts = model
    with jax.enable_x64(True):
        res = fit_structural_mle(jnp.asarray(counts), jnp.asarray(P), jnp.asarray(phi), beta, 1.0,
                                 theta0=jnp.array([1.0, 5.0]))
        assert bool(res.converged)
        assert abs(float(res.loglik) - ref_loglik) < 0.1
        theta11, rc = np.asarray(res.theta)
        assert rc == pytest.approx(ref_rc, rel=0.02)
        assert theta11 / 1000 == pytest.approx(ref_theta_c, rel=0.02)
        assert np.all(np.asarray(res.se) > 0)


def test_iq_learn_converges_on_rust_and_beats_parametric_likelihood(model):
    """Free-table IQ-Learn converges at β = 0.9999 and, being more flexible, fits at least as well
    as the 2-parameter MLE but no better than the empirical frequencies (BC's upper bound)."""
    P, phi, counts = model
    with jax.enable_x64(True):
        res = fit_iq_learn(jnp.asarray(counts), jnp.asarray(P), 0.9999, 1.0,
                           IQLearnConfig(chi2_weight=0.5, max_iter=5000, tol=1e-8))
        assert bool(res.converged)
        assert float(res.loglik) > -300.45
        freq = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        bc_loglik = np.sum(np.where(counts > 0, counts * np.log(np.where(freq > 0, freq, 1)), 0))
        assert float(res.loglik) <= bc_loglik + 1e-6
