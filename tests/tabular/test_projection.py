"""Known-answer tests for iqlib.tabular.projection (reward basis projection, state-only rewards)."""

import jax
import numpy as np
import pytest

from iqlib.tabular.projection import project_onto_basis, project_reward, state_only_reward
from iqlib.tabular.soft_bellman import solve_soft_bellman


@pytest.fixture(scope="module", autouse=True)
def _float64_in_this_module():
    with jax.enable_x64(True):
        yield


def random_problem(seed, S=6, A=3, K=4):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    F = rng.normal(size=(S, A, K))
    theta = rng.normal(size=K)
    w = rng.uniform(0.5, 3.0, size=(S, A))
    return rng, P, F, theta, w


def shape(r, P, gamma, phi):
    return r + gamma * np.einsum("sat,t->sa", P, phi) - phi[:, None]


def test_exact_features_give_exact_theta_and_the_soft_optimal_solution():
    _, P, F, theta, w = random_problem(0)
    pr = project_reward(F @ theta, F, w, P, 0.9, 0.5)
    np.testing.assert_allclose(pr.theta, theta, atol=1e-10)
    np.testing.assert_allclose(pr.reward, F @ theta, atol=1e-10)
    assert pr.residual_rms < 1e-10 and pr.converged
    sol = solve_soft_bellman(F @ theta, P, 0.9, 0.5)
    np.testing.assert_allclose(pr.Q, sol.Q, atol=1e-9)
    np.testing.assert_allclose(pr.V, sol.V, atol=1e-9)
    np.testing.assert_allclose(pr.policy, sol.policy, atol=1e-9)


def test_known_least_squares_answers():
    # weighted mean: one constant feature, weights (1, 2, 1) -> θ = (1·1 + 2·2 + 1·4) / 4
    F1 = np.ones((3, 1, 1))
    r1 = np.array([[1.0], [2.0], [4.0]])
    assert project_onto_basis(r1, F1, np.array([1.0, 2.0, 1.0]))[0] == pytest.approx(2.25, abs=1e-12)
    # a line through (0, 0), (1, 1), (2, 5): slope Σ(x − 1)(y − 2) / Σ(x − 1)² = 5/2, intercept 2 − 5/2
    x = np.arange(3.0)
    F2 = np.stack([np.ones(3), x], -1)[:, None, :]
    r2 = np.array([[0.0], [1.0], [5.0]])
    np.testing.assert_allclose(project_onto_basis(r2, F2, np.ones(3)), [-0.5, 2.5], atol=1e-12)


def test_zero_weights_remove_a_state():
    rng, P, F, theta, w = random_problem(1)
    r = F @ theta + rng.normal(scale=0.3, size=w.shape)  # noisy: θ̂ depends on every weighted entry
    w[2] = 0.0
    th = project_onto_basis(r, F, w)
    r_changed = r.copy()
    r_changed[2] = [100.0, -np.inf, np.nan]  # a removed state's reward may be anything, even non-finite
    np.testing.assert_allclose(project_onto_basis(r_changed, F, w), th, atol=1e-12)
    # the same answer as the least-squares fit on the other states' entries alone
    keep = np.arange(6) != 2
    sw = np.sqrt(w[keep].reshape(-1))
    ref, *_ = np.linalg.lstsq(F[keep].reshape(-1, 4) * sw[:, None], r[keep].reshape(-1) * sw, rcond=None)
    np.testing.assert_allclose(th, ref, atol=1e-12)
    # while changing a weighted state does move θ
    r_changed[3, 0] += 1.0
    assert np.max(np.abs(project_onto_basis(r_changed, F, w) - th)) > 1e-3


def test_state_weights_spread_over_actions():
    rng, P, F, theta, w = random_problem(2)
    r = F @ theta + rng.normal(scale=0.3, size=w.shape)
    ws = rng.uniform(0.5, 2.0, size=6)
    np.testing.assert_allclose(project_onto_basis(r, F, ws), project_onto_basis(r, F, np.repeat(ws[:, None], 3, 1)),
                               atol=1e-12)


def test_projection_errors():
    _, P, F, theta, w = random_problem(3)
    r = F @ theta
    with pytest.raises(ValueError, match="reward must have shape"):
        project_onto_basis(r[:, :2], F, w)
    with pytest.raises(ValueError, match="features must have shape"):
        project_onto_basis(r, F[..., 0], w)
    with pytest.raises(ValueError, match="weights must have shape"):
        project_onto_basis(r, F, w[:, :2])
    with pytest.raises(ValueError, match="non-negative"):
        project_onto_basis(r, F, np.where(np.arange(3) == 1, -1.0, w))
    with pytest.raises(ValueError, match="all zero"):
        project_onto_basis(r, F, np.zeros_like(w))
    r_nan = r.copy()
    r_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="weight is positive"):
        project_onto_basis(r_nan, F, w)
    with pytest.raises(ValueError, match="rank-deficient"):  # a repeated column
        project_onto_basis(r, np.concatenate([F, F[..., :1]], -1), w)
    F_local = F.copy()
    F_local[..., 0] = 0.0
    F_local[4, :, 0] = 1.0  # a feature seen only in state 4, which the weights remove
    w4 = w.copy()
    w4[4] = 0.0
    with pytest.raises(ValueError, match="rank-deficient"):
        project_onto_basis(r, F_local, w4)
    with pytest.raises(ValueError, match="from P"):
        project_reward(r, F, w, random_problem(3, S=5)[1], 0.9, 0.5)
    with pytest.raises(ValueError, match="gamma"):
        project_reward(r, F, w, P, 1.0, 0.5)


def test_state_only_reward_undoes_shaping_exactly_up_to_a_constant():
    rng, P, _, _, _ = random_problem(4)
    R = rng.normal(size=6)
    phi = rng.normal(scale=3.0, size=6)
    r_shaped = shape(np.repeat(R[:, None], 3, 1), P, 0.9, phi)
    out = state_only_reward(r_shaped, P, 0.9)
    np.testing.assert_allclose(out.reward, R - R.mean(), atol=1e-10)  # uniform weights: centred on the plain mean
    assert out.residual_rms < 1e-10 and out.n_free == 0
    # Φ comes back up to the matching constant, so (R, Φ) reproduce the shaped reward
    np.testing.assert_allclose(out.potential - phi, (out.potential - phi)[0], atol=1e-9)
    np.testing.assert_allclose(shape(np.repeat(out.reward[:, None], 3, 1), P, 0.9, out.potential), r_shaped, atol=1e-9)


def test_state_only_reward_of_a_soft_optimal_log_policy_is_the_reward():
    rng, P, _, _, _ = random_problem(5)
    R = rng.normal(size=6)
    alpha = 0.3
    sol = solve_soft_bellman(np.repeat(R[:, None], 3, 1), P, 0.9, alpha)
    w = rng.uniform(0.5, 2.0, size=(6, 3))
    out = state_only_reward(alpha * np.log(np.asarray(sol.policy)), P, 0.9, w)  # α log π = R + γ P V* − V*
    ws = w.sum(1)
    np.testing.assert_allclose(out.reward, R - np.sum(ws * R) / ws.sum(), atol=1e-9)


def test_state_only_reward_residual_weights_and_errors():
    rng, P, _, _, _ = random_problem(6)
    r = rng.normal(size=(6, 3))  # not a shaped state-only reward: the fit leaves a residual
    assert state_only_reward(r, P, 0.9).residual_rms > 0.1
    w = np.ones((6, 3))
    w[1] = 0.0
    out = state_only_reward(r, P, 0.9, w)
    assert np.isnan(out.reward[1]) and np.all(np.isfinite(np.delete(out.reward, 1)))
    with pytest.raises(ValueError, match="discount"):
        state_only_reward(r, P, 1.0)
    with pytest.raises(ValueError, match="reward must have shape"):
        state_only_reward(r[:5], P, 0.9)
    with pytest.raises(ValueError, match="non-negative"):
        state_only_reward(r, P, 0.9, -w)
