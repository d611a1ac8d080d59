"""Tests for iqlib.tabular.soft_bellman: fixed points, round trips, solvers, gradients, occupancy.

Run in float64 (inside each test only) so that identities can be checked to ~1e-10.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.problems.random_mdp import random_mdp
from iqlib.tabular.soft_bellman import (
    expected_next_value,
    expected_return,
    inverse_soft_bellman,
    occupancy,
    policy_transition,
    soft_bellman,
    soft_policy_evaluation,
    soft_q_differentiable,
    soft_value,
    softmax_policy,
    solve_soft_bellman,
)

S, A = 6, 3


pytestmark = pytest.mark.usefixtures("x64")


@pytest.fixture
def mdp():
    return random_mdp(jax.random.key(0), S, A, discount=0.9, entropy_temperature=0.5)


def test_soft_value_and_policy_small_case():
    Q = jnp.array([[0.0, jnp.log(3.0)]])
    np.testing.assert_allclose(soft_value(Q, 1.0), [jnp.log(4.0)], rtol=1e-14)
    np.testing.assert_allclose(softmax_policy(Q, 1.0), [[0.25, 0.75]], rtol=1e-14)
    # α → 0: the soft value tends to the max
    np.testing.assert_allclose(soft_value(Q, 1e-4), [jnp.log(3.0)], atol=1e-3)


def test_fixed_point(mdp):
    sol = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    assert bool(sol.converged)
    np.testing.assert_allclose(soft_bellman(sol.Q, mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature), sol.Q, atol=1e-10)
    np.testing.assert_allclose(sol.V, soft_value(sol.Q, mdp.entropy_temperature), atol=1e-12)
    np.testing.assert_allclose(sol.policy, softmax_policy(sol.Q, mdp.entropy_temperature), atol=1e-12)


def test_round_trip_reward_to_q_to_reward(mdp):
    sol = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    r_back = inverse_soft_bellman(sol.Q, mdp.P, mdp.discount, mdp.entropy_temperature)
    np.testing.assert_allclose(r_back, mdp.r, atol=1e-10)


def test_any_q_is_soft_optimal_for_its_inverse_reward(mdp):
    Q = 3.0 * jax.random.normal(jax.random.key(1), (S, A))
    r = inverse_soft_bellman(Q, mdp.P, mdp.discount, mdp.entropy_temperature)
    sol = solve_soft_bellman(r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    np.testing.assert_allclose(sol.Q, Q, atol=1e-10)


def test_contraction(mdp):
    k1, k2 = jax.random.split(jax.random.key(2))
    Q1, Q2 = jax.random.normal(k1, (S, A)), 5.0 * jax.random.normal(k2, (S, A))
    B = lambda Q: soft_bellman(Q, mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature)  # noqa: E731
    assert float(jnp.max(jnp.abs(B(Q1) - B(Q2)))) <= mdp.discount * float(jnp.max(jnp.abs(Q1 - Q2))) + 1e-12


def test_value_iteration_and_newton_agree(mdp):
    vi = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, method="iteration", tol=1e-13)
    nt = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, method="newton", tol=1e-13)
    assert bool(vi.converged) and bool(nt.converged)
    assert int(nt.n_iter) < 15 < int(vi.n_iter)  # quadratic vs linear (rate γ) convergence
    np.testing.assert_allclose(vi.Q, nt.Q, atol=1e-10)


def test_newton_converges_at_rust_discount(mdp):
    gamma = 0.9999
    sol = solve_soft_bellman(mdp.r, mdp.P, gamma, mdp.entropy_temperature, method="newton", tol=1e-10)
    assert bool(sol.converged) and int(sol.n_iter) < 50
    scale = float(jnp.max(jnp.abs(sol.V)))
    assert scale > 1e3  # values ~ r / (1 − γ): a genuinely hard problem for value iteration
    residual = soft_bellman(sol.Q, mdp.r, mdp.P, gamma, mdp.entropy_temperature) - sol.Q
    assert float(jnp.max(jnp.abs(residual))) <= 1e-10 * (1 + scale)


@pytest.mark.parametrize(
    "method, tol, max_iter",
    [("iteration", 1e-10, 5), ("newton", 0.0, 1), ("newton", 1e-10, 1)],
)
def test_unreachable_tolerance_is_reported_unconverged(mdp, method, tol, max_iter):
    sol = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, method=method, tol=tol, max_iter=max_iter)
    assert int(sol.n_iter) == max_iter
    assert not bool(sol.converged)
    assert float(sol.residual) > 0


def test_unknown_method_raises(mdp):
    with pytest.raises(ValueError, match="method must be 'newton' or 'iteration'"):
        solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, method="bisection")


def test_soft_q_differentiable_value(mdp):
    Q, sol = soft_q_differentiable(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature)
    ref = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    assert bool(sol.converged)
    np.testing.assert_allclose(Q, ref.Q, atol=1e-10)


def test_soft_q_differentiable_gradient_matches_finite_differences(mdp):
    """Directional derivatives in r, P, γ and α against central differences."""
    w = jax.random.normal(jax.random.key(3), (S, A))
    kr, kp = jax.random.split(jax.random.key(4))
    dr = jax.random.normal(kr, (S, A))
    dP = jax.random.normal(kp, (S, A, S)) * (mdp.P > 0)
    dP = dP - (mdp.P > 0) * dP.sum(-1, keepdims=True) / (mdp.P > 0).sum(-1, keepdims=True)  # rows sum to 0

    @jax.jit
    def f(r, P, gamma, alpha):
        return jnp.sum(w * soft_q_differentiable(r, P, gamma, alpha, tol=1e-13)[0])

    args = (mdp.r, mdp.P, jnp.asarray(mdp.discount), jnp.asarray(mdp.entropy_temperature))
    directions = (dr, dP, jnp.asarray(0.5), jnp.asarray(1.0))
    for i, d in enumerate(directions):
        tangents = tuple(d if j == i else jnp.zeros_like(x) for j, x in enumerate(args))
        _, jvp = jax.jvp(f, args, tangents)
        eps = 1e-5
        plus = f(*(x + eps * t for x, t in zip(args, tangents)))
        minus = f(*(x - eps * t for x, t in zip(args, tangents)))
        fd = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(jvp, fd, rtol=1e-6, atol=1e-7, err_msg=f"argument {i}")
    # and the reverse-mode gradient in r agrees with the forward-mode one
    grad_r = jax.grad(f)(*args)
    np.testing.assert_allclose(jnp.sum(grad_r * dr), jax.jvp(lambda r: f(r, *args[1:]), (mdp.r,), (dr,))[1], rtol=1e-10)


def test_soft_policy_evaluation_of_soft_optimal_policy_is_v_star(mdp):
    sol = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    Q_pi, V_pi = soft_policy_evaluation(sol.policy, mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature)
    np.testing.assert_allclose(V_pi, sol.V, atol=1e-10)
    np.testing.assert_allclose(Q_pi, sol.Q, atol=1e-10)
    # any other policy is worse in every state (soft policy improvement)
    uniform = jnp.full((S, A), 1.0 / A)
    _, V_unif = soft_policy_evaluation(uniform, mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature)
    assert bool(jnp.all(V_unif <= sol.V + 1e-12))


def test_policy_evaluation_with_zero_probabilities():
    """α = 0 and a deterministic policy: plain policy evaluation, 0 log 0 = 0."""
    mdp = random_mdp(jax.random.key(5), 4, 2, discount=0.5)
    policy = jnp.array([[1.0, 0.0]] * 4)
    _, V = soft_policy_evaluation(policy, mdp.r, mdp.P, mdp.discount, 0.0)
    V_ref = np.linalg.solve(np.eye(4) - 0.5 * np.asarray(mdp.P[:, 0]), np.asarray(mdp.r[:, 0]))
    np.testing.assert_allclose(V, V_ref, atol=1e-12)
    _, V_soft = soft_policy_evaluation(policy, mdp.r, mdp.P, mdp.discount, 1.0)
    np.testing.assert_allclose(V_soft, V_ref, atol=1e-12)  # zero entropy: same value


def test_occupancy_normalised_and_satisfies_flow_equation(mdp):
    policy = jax.nn.softmax(jax.random.normal(jax.random.key(6), (S, A)), -1)
    rho = occupancy(policy, mdp.P, mdp.p0, mdp.discount)
    assert rho.shape == (S, A)
    assert bool(jnp.all(rho >= 0))
    np.testing.assert_allclose(rho.sum(), 1.0, atol=1e-12)
    d = rho.sum(-1)
    # d(s') = (1 − γ) p0(s') + γ Σ_{s,a} ρ(s, a) P(s' | s, a)
    np.testing.assert_allclose(d, (1 - mdp.discount) * mdp.p0 + mdp.discount * jnp.einsum("sa,sat->t", rho, mdp.P), atol=1e-12)
    np.testing.assert_allclose(rho, d[:, None] * policy, atol=1e-12)
    # E_ρ[r] / (1 − γ) is the expected discounted return
    ret = expected_return(policy, mdp.r, mdp.P, mdp.p0, mdp.discount)
    np.testing.assert_allclose(jnp.sum(rho * mdp.r) / (1 - mdp.discount), ret, atol=1e-10)


def test_helpers_shapes(mdp):
    V = jnp.arange(S, dtype=jnp.float64)
    assert expected_next_value(mdp.P, V).shape == (S, A)
    Ppi = policy_transition(mdp.P, jnp.full((S, A), 1.0 / A))
    assert Ppi.shape == (S, S)
    np.testing.assert_allclose(Ppi.sum(-1), 1.0, atol=1e-12)
