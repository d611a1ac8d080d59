"""Expectiles (IQL Eq. 5): the loss on hand-computed values, properties of the exact expectile,
and a papermill rerun of notebook 07."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from papermill.exceptions import PapermillExecutionError

from iqlib.neural.iql import expectile_loss
from iqlib.notebook.runner import REPO_ROOT, execute_notebook
from iqlib.tabular.expectile import expectile


def test_expectile_loss_hand_computed():
    diff = jnp.array([2.0, -2.0, 0.5, -1.0, 0.0])
    # u ≥ 0 weighted by τ = 0.9, u < 0 by 1 − τ = 0.1
    expected = np.array([0.9 * 4.0, 0.1 * 4.0, 0.9 * 0.25, 0.1 * 1.0, 0.0])
    np.testing.assert_allclose(expectile_loss(diff, 0.9), expected, rtol=1e-6)
    np.testing.assert_allclose(expectile_loss(diff, 0.5), 0.5 * np.asarray(diff) ** 2, rtol=1e-6)


@pytest.mark.parametrize("tau", [-0.1, 1.5])
def test_expectile_loss_rejects_bad_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        expectile_loss(jnp.ones(3), tau)


def test_half_expectile_is_the_mean():
    x = np.random.default_rng(0).exponential(size=(3, 200))
    np.testing.assert_allclose(expectile(x, 0.5), x.mean(-1), rtol=1e-5)
    w = np.random.default_rng(1).integers(0, 4, size=(3, 200)).astype(float)
    np.testing.assert_allclose(expectile(x, 0.5, w), (w * x).sum(-1) / w.sum(-1), rtol=1e-5)


def test_expectile_grows_with_tau_and_stays_below_max():
    x = np.random.default_rng(2).lognormal(size=500)
    taus = jnp.array([0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999])
    m = np.asarray(jax.vmap(lambda t: expectile(x, t))(taus))
    assert np.all(np.diff(m) > 0)
    assert np.all(m <= x.max()) and np.all(m >= x.min())
    assert x.max() - m[-1] < x.max() - m[-2]


def test_exact_expectile_zeroes_the_loss_gradient():
    x = jnp.asarray(np.random.default_rng(3).normal(size=101))
    for tau in (0.2, 0.7, 0.95):
        m = expectile(x, tau)
        grad = jax.grad(lambda v: jnp.mean(expectile_loss(x - v, tau)))(m)
        assert abs(float(grad)) < 1e-5


def test_expectile_axis_weights_and_jit():
    x = np.random.default_rng(4).normal(size=(5, 7))
    w = np.random.default_rng(5).integers(0, 3, size=(5, 7)).astype(float)
    w[:, 0] = 1.0
    a = jax.jit(lambda x, w: expectile(x, 0.8, w, axis=1))(x, w)
    b = expectile(x.T, 0.8, w.T, axis=0)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    # a zero weight removes the entry: same as dropping it
    np.testing.assert_allclose(expectile(np.array([1.0, 5.0, 100.0]), 0.9, np.array([1.0, 1.0, 0.0])),
                               expectile(np.array([1.0, 5.0]), 0.9), rtol=1e-6)


def test_expectile_rejects_bad_inputs():
    with pytest.raises(ValueError, match="tau"):
        expectile(jnp.ones(3), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        expectile(jnp.ones(3), 0.5, weights=jnp.array([1.0, -1.0, 1.0]))


# ---------------------------------------------------------------- notebook 07 (papermill)
NOTEBOOK = REPO_ROOT / "notebooks" / "07_expectile_regression.py"


@pytest.mark.notebooks
def test_notebook_reruns_with_tiny_parameters(tmp_path):
    out = tmp_path / "07"
    execute_notebook(NOTEBOOK, out, {"n_samples": 200, "expectiles": [0.5, 0.9], "sgd_steps": 500, "sgd_lr": 0.5})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["expectiles"] == "0.5,0.9" and metrics["sgd_lr"] == 0.5
    assert "exact_expectile_0p9" in metrics and "sgd_expectile_0p5" in metrics and "exact_expectile_0p99" not in metrics
    # the exact identities hold at any size: asserted claims, with their measured values
    for name in ("in_support_soft_max", "half_is_mean", "monotone_in_tau", "never_above_max",
                 "gap_is_order_one_minus_tau"):
        assert metrics[f"claim_{name}"] is True, name
    assert metrics["headline_verdict"] == "holds" and metrics["headline_on"] == "fresh"
    # the headline is on the fixed toy state (Q, π_β): its value does not depend on the parameters
    expected_gap = 1.6 - float(expectile(jnp.array([0.2, 1.0, 0.5, 1.6, 0.8]), 0.999,
                                         jnp.array([0.35, 0.25, 0.2, 0.05, 0.15])))
    assert metrics["headline_value"] == pytest.approx(expected_gap, abs=1e-5) and 0.0 < expected_gap < 0.05
    assert metrics["exact_expectile_0p5"] == pytest.approx(metrics["sample_mean"], rel=1e-6)
    assert metrics["sample_mean"] < metrics["exact_expectile_0p9"] < metrics["sample_max"]
    # 500 steps are below the defaults' budget, so the SGD claim is not asserted by the notebook; it still converges
    assert metrics["claim_sgd_finds_expectile_value"] < 1e-4
    assert metrics["sgd_expectile_0p9"] == pytest.approx(metrics["exact_expectile_0p9"], abs=1e-4)


@pytest.mark.notebooks
@pytest.mark.parametrize("old, new", [("taus", "expectiles"), ("learning_rate", "sgd_lr")])
def test_notebook_rejects_the_old_parameter_names(tmp_path, old, new):
    with pytest.raises(PapermillExecutionError, match=f"renamed to '{new}'"):
        execute_notebook(NOTEBOOK, tmp_path / "old", {old: [0.5] if old == "taus" else 0.5})
