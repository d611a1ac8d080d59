"""Tests for tabular IQ-Learn (iqlib.tabular.iq_learn core, .iq_learn_fit solve, .bc): expert recovery,
the BC limit, linear = table, divergence, one core step, errors.

Run in float64 (inside each test only) so that identities can be checked to ~1e-10.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.tabular import sampling
from iqlib.tabular.bc import bc_tabular, log_likelihood
from iqlib.tabular.iq_learn import IQLearnConfig, iq_learn_objective, make_update
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.metrics import policy_tv
from iqlib.problems.random_mdp import random_mdp
from iqlib.tabular.soft_bellman import occupancy, solve_soft_bellman

S, A = 6, 3


pytestmark = pytest.mark.usefixtures("x64")


@pytest.fixture
def mdp():
    return random_mdp(jax.random.key(0), S, A, discount=0.9, entropy_temperature=0.5)


@pytest.fixture
def expert(mdp):
    """(soft-optimal policy (S, A), its exact occupancy ρ_E (S, A))."""
    sol = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    return sol.policy, occupancy(sol.policy, mdp.P, mdp.p0, mdp.discount)


@pytest.fixture
def demo_counts(mdp, expert):
    """State-action counts of 5 sampled episodes of 10 steps (a fixed key)."""
    demos = sampling.sample_trajectories(jax.random.key(1), mdp.P, mdp.p0, expert[0], 5, 10)
    return sampling.state_action_counts(demos["obs"], demos["action"], S, A)


@pytest.mark.parametrize("chi2_weight, init_term", [(0.0, "p0"), (1e-3, "value")])
def test_recovers_expert_from_exact_occupancy(mdp, expert, chi2_weight, init_term):
    pi_E, rho_E = expert
    config = IQLearnConfig(divergence="chi2", chi2_weight=chi2_weight, init_term=init_term, tol=1e-9)
    res = fit_iq_learn(rho_E, mdp.P, mdp.discount, mdp.entropy_temperature, config, p0=mdp.p0)
    assert bool(res.converged) and float(res.grad_norm) <= 1e-9
    assert policy_tv(res.policy, pi_E) < 1e-3
    # the result is self-consistent: policy = softmax(Q/α), reward = inverse soft Bellman of Q
    sol = solve_soft_bellman(res.reward, mdp.P, mdp.discount, mdp.entropy_temperature, tol=1e-12)
    np.testing.assert_allclose(sol.Q, res.Q, atol=1e-8)


def test_objective_init_terms_agree_at_exact_occupancy(mdp, expert):
    _, rho_E = expert
    for seed in range(5):
        Q = 3.0 * jax.random.normal(jax.random.key(10 + seed), (S, A))
        for divergence in ("chi2", "simple"):
            j = [iq_learn_objective(Q, rho_E, mdp.P, mdp.discount, mdp.entropy_temperature, divergence=divergence,
                                    init_term=init, p0=mdp.p0) for init in ("p0", "value")]
            np.testing.assert_allclose(j[0], j[1], atol=1e-12)


def test_zero_penalty_value_objective_is_log_likelihood(mdp):
    """λ = 0, init "value": J(Q) = α Σ ρ log π_Q for any ρ (not only an occupancy) and any Q."""
    k1, k2 = jax.random.split(jax.random.key(2))
    rho = jax.random.dirichlet(k1, jnp.ones(S * A)).reshape(S, A)
    for k in jax.random.split(k2, 5):
        Q = 3.0 * jax.random.normal(k, (S, A))
        J = iq_learn_objective(Q, rho, mdp.P, mdp.discount, mdp.entropy_temperature, chi2_weight=0.0, init_term="value")
        ll = mdp.entropy_temperature * jnp.sum(rho * jax.nn.log_softmax(Q / mdp.entropy_temperature, -1))
        np.testing.assert_allclose(J, ll, atol=1e-12)
        np.testing.assert_allclose(log_likelihood(rho, Q, mdp.entropy_temperature) * mdp.entropy_temperature, ll, atol=1e-12)


def test_zero_penalty_fit_on_demos_is_behavioural_cloning(mdp, demo_counts):
    visited = np.asarray(demo_counts.sum(-1) > 0)
    assert 0 < visited.sum()
    config = IQLearnConfig(chi2_weight=0.0, init_term="value", tol=1e-9)
    res = fit_iq_learn(demo_counts, mdp.P, mdp.discount, mdp.entropy_temperature, config)
    pi_bc = bc_tabular(demo_counts)
    assert bool(res.converged)
    np.testing.assert_allclose(np.asarray(res.policy)[visited], np.asarray(pi_bc)[visited], atol=1e-6)
    # unvisited states never enter J: their Q keeps its initial value (zeros -> uniform policy)
    np.testing.assert_allclose(np.asarray(res.Q)[~visited], 0.0)


def test_bc_tabular_counts_prior_and_unvisited():
    counts = jnp.array([[3.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(bc_tabular(counts), [[0.75, 0.25], [0.5, 0.5]])
    np.testing.assert_allclose(bc_tabular(counts, prior=1.0), [[4 / 6, 2 / 6], [0.5, 0.5]])


def test_linear_one_hot_features_equal_table(mdp, demo_counts):
    features = jnp.eye(S * A).reshape(S, A, S * A)  # Q = Φ w with Φ one-hot: w is the table
    config = IQLearnConfig(chi2_weight=0.5, init_term="value", tol=1e-10)
    table = fit_iq_learn(demo_counts, mdp.P, mdp.discount, mdp.entropy_temperature, config)
    linear = fit_iq_learn(demo_counts, mdp.P, mdp.discount, mdp.entropy_temperature, config, features=features)
    assert bool(table.converged) and bool(linear.converged)
    assert linear.params.shape == (S * A,)
    np.testing.assert_allclose(linear.params.reshape(S, A), linear.Q, atol=1e-12)
    np.testing.assert_allclose(linear.policy, table.policy, atol=1e-7)
    np.testing.assert_allclose(linear.objective, table.objective, atol=1e-10)
    # Q is pinned down where there are data; an action never seen in a visited state has its
    # Q pushed towards −∞ (π → 0, the supremum is not attained), so compare Q on the data only.
    seen = np.asarray(demo_counts > 0)
    np.testing.assert_allclose(np.asarray(linear.Q)[seen], np.asarray(table.Q)[seen], atol=1e-6)


def test_simple_objective_on_free_table_diverges(mdp, demo_counts):
    """φ(x) = x with the p0 term on sampled counts: J is unbounded above on a free table.

    Shifting Q(s, ·) by c changes J by c · [d̂(s) − γ Σ ρ̂ P(s|·) − (1 − γ) p0(s)], the flow
    equation's violation by the empirical distribution, which is non-zero on a finite sample.
    """
    single_action = (demo_counts.sum(-1) > 0) & ((demo_counts > 0).sum(-1) == 1)
    assert bool(jnp.any(single_action))  # the data has a visited state with one action only
    fits = [
        fit_iq_learn(demo_counts, mdp.P, mdp.discount, mdp.entropy_temperature,
                     IQLearnConfig(divergence="simple", init_term="p0", max_iter=max_iter), p0=mdp.p0)
        for max_iter in (3, 12)
    ]
    for res in fits:
        assert not bool(res.converged)
        assert float(res.grad_norm) > 1e-3
    assert [int(res.n_iter) for res in fits] == [3, 12]
    q_size = [float(jnp.max(jnp.abs(res.Q))) for res in fits]
    assert q_size[1] > 1e3 * q_size[0]
    assert float(fits[1].objective) > float(fits[0].objective)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(divergence="kl"), "divergence must be 'chi2' or 'simple'"),
        (dict(chi2_weight=-0.1), "chi2_weight must be a finite number >= 0"),
        (dict(chi2_weight=float("nan")), "chi2_weight"),
        (dict(chi2_weight=float("inf")), "chi2_weight"),
        (dict(init_term="p_0"), "init_term must be 'value' or 'p0'"),
        (dict(max_iter=0), "max_iter must be >= 1"),
        (dict(tol=0.0), "tol must be > 0"),
        (dict(tol=-1e-6), "tol must be > 0"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IQLearnConfig(**kwargs)


def test_fit_input_errors(mdp, expert):
    _, rho_E = expert
    fit = lambda counts, config=IQLearnConfig(), **kw: fit_iq_learn(  # noqa: E731
        counts, mdp.P, mdp.discount, mdp.entropy_temperature, config, **kw)
    with pytest.raises(ValueError, match=r"counts must have shape \(S, A\)"):
        fit(rho_E.T)
    with pytest.raises(ValueError, match="not all zero"):
        fit(jnp.zeros((S, A)))
    with pytest.raises(ValueError, match="non-negative"):
        fit(rho_E.at[0, 0].set(-1.0))
    with pytest.raises(ValueError, match="init_term='p0' needs p0"):
        fit(rho_E, IQLearnConfig(init_term="p0"))
    with pytest.raises(ValueError, match=r"p0 must have shape \(S,\)"):
        fit(rho_E, IQLearnConfig(init_term="p0"), p0=jnp.ones(S + 1) / (S + 1))
    with pytest.raises(ValueError, match=r"features must have shape \(S, A, K\)"):
        fit(rho_E, features=jnp.ones((S, A)))
    with pytest.raises(ValueError, match=r"P must have shape \(S, A, S\)"):
        fit_iq_learn(rho_E, mdp.P[:, :, :-1], mdp.discount, mdp.entropy_temperature)


def test_core_update_is_one_lbfgs_step_of_the_fit(mdp, demo_counts):
    """The copyable core's pure `update(state, counts)`: J never decreases along its steps, and
    taking as many steps as `fit_iq_learn` reports lands on the fit's solution."""
    config = IQLearnConfig(chi2_weight=0.5, init_term="value", chi2_rows="all", tol=1e-9)
    res = fit_iq_learn(demo_counts, mdp.P, mdp.discount, mdp.entropy_temperature, config)
    assert bool(res.converged) and int(res.n_iter) > 5
    init, update = make_update(config, mdp.P, mdp.discount, mdp.entropy_temperature)
    state, step = init(jnp.zeros((S, A))), jax.jit(update)
    objectives, grad_norms = [], []
    for _ in range(int(res.n_iter)):
        state, metrics = step(state, demo_counts)
        objectives.append(float(metrics["objective"]))
        grad_norms.append(float(metrics["grad_norm"]))
    assert all(b >= a - 1e-12 for a, b in zip(objectives, objectives[1:]))
    assert objectives[-1] > objectives[0] and grad_norms[-1] < 1e-3 * grad_norms[0]
    np.testing.assert_allclose(state.params, res.params, atol=1e-7)
    np.testing.assert_allclose(objectives[-1], res.objective, atol=1e-9)
