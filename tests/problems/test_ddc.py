"""Tests for the known-truth problem generators (iqlib.problems.ddc)."""

import jax
import numpy as np
import pytest

from iqlib.problems.ddc import make_ddc, q_basis, simulate_panel, stationary_distribution, wear_faster
from iqlib.tabular.soft_bellman import policy_transition


@pytest.fixture(scope="module", autouse=True)
def _float64_in_this_module():
    """float64 for this module's tests only; a module-level config update leaked x64 into every
    later test of the session (and changed the neural tests' numerics)."""
    with jax.enable_x64(True):
        yield

@pytest.mark.parametrize("S,A,gamma", [(21, 3, 0.95), (60, 2, 0.99), (200, 4, 0.9999)])
def test_make_ddc_shapes_and_truth(S, A, gamma):
    t = make_ddc(S, A, gamma, seed=1)
    m = t.mdp
    assert m.P.shape == (S, A, S) and m.r.shape == (S, A)
    np.testing.assert_allclose(np.asarray(m.r), t.features @ t.theta)
    assert t.anchor_action == A - 1 and t.action_names[-1] == "replace"
    np.testing.assert_allclose(t.anchor_reward, -t.theta[2])
    # replace resets: every row of P(·|s, replace) is the same
    np.testing.assert_allclose(np.asarray(m.P)[:, -1], np.broadcast_to(np.asarray(m.P)[0, -1], (S, S)))
    # interior choice probabilities and a stationary p0
    assert t.policy.min() > 1e-4
    M = np.asarray(policy_transition(m.P, t.policy))
    np.testing.assert_allclose(np.asarray(m.p0) @ M, m.p0, atol=1e-9)


def test_make_ddc_validates():
    with pytest.raises(ValueError):
        make_ddc(3, 3)
    with pytest.raises(ValueError):
        make_ddc(21, 3, theta=[1.0, 2.0])


def test_stationary_distribution_two_state_chain():
    P = np.zeros((2, 1, 2))
    P[0, 0] = [0.9, 0.1]
    P[1, 0] = [0.5, 0.5]
    d = stationary_distribution(np.ones((2, 1)), P)
    np.testing.assert_allclose(d, [5 / 6, 1 / 6], atol=1e-10)


def test_simulate_panel_counts_and_frequencies():
    t = make_ddc(21, 3, 0.95)
    data = simulate_panel(jax.random.key(0), t, 50_000, n_periods=100)
    c = data["counts"]
    assert c.sum() == 50_000 and len(data["obs"]) == 50_000
    freq = c.sum(1) / c.sum()
    assert 0.5 * np.abs(freq - np.asarray(t.mdp.p0)).sum() < 0.05
    ok = c.sum(1) > 1000
    emp = c[ok] / c[ok].sum(1, keepdims=True)
    assert np.abs(emp - t.policy[ok]).max() < 0.05


def test_q_basis_and_wear_faster():
    F = q_basis(10, 2, 3, constant_actions=(1,))
    assert F.shape == (10, 2, 8)
    np.testing.assert_allclose(F[:, 1, 4], 1.0)
    assert np.all(F[:, 1, 5:] == 0)
    t = make_ddc(21, 3, 0.95)
    P2 = wear_faster(t, 0.5)
    np.testing.assert_allclose(P2.sum(-1), 1.0)
    mean = lambda P: np.einsum("sat,t->sa", P, np.arange(21.0))
    assert np.all(mean(P2) >= mean(np.asarray(t.mdp.P)) - 1e-12)
