"""Offline Q-learning with the max backup: Q* on full data, unseen actions keep and spread their initial value."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.problems.maze import STITCHING_LAYOUT, optimal_values, parse_maze, stitching_dataset
from iqlib.tabular.iql import IQLTabularConfig, fit_iql_tabular
from iqlib.tabular.q_learning import fit_offline_q_learning, greedy_policy, max_backup, offline_q_learning

GAMMA = 0.9
# a 3-state, 2-action MDP whose transition probabilities are multiples of 1/3, so a dataset that
# repeats each (s, a) three times with the right next states has exactly these tables
NEXT = {(0, 0): (0, 1, 1), (0, 1): (2, 2, 2), (1, 0): (0, 0, 2), (1, 1): (1, 1, 1), (2, 0): (0, 1, 2),
        (2, 1): (2, 2, 0)}
REWARD = np.array([[0.0, -1.0], [2.0, 0.5], [-0.5, 1.0]])


def full_dataset():
    rows = [(s, a, REWARD[s, a], s2) for (s, a), nxt in NEXT.items() for s2 in nxt]
    obs, act, rew, nxt = (np.array(c) for c in zip(*rows))
    n = len(obs)
    return {"obs": obs, "action": act, "reward": rew, "next_obs": nxt, "terminal": np.zeros(n, bool),
            "timeout": np.zeros(n, bool)}


def brute_force_q_star():
    """Q* by enumerating all 2^3 deterministic policies (independent of the iteration under test)."""
    P = np.zeros((3, 2, 3))
    for (s, a), nxt in NEXT.items():
        for s2 in nxt:
            P[s, a, s2] += 1 / 3
    best = np.full(3, -np.inf)
    for pol in itertools.product(range(2), repeat=3):
        P_pi = P[np.arange(3), pol]
        v = np.linalg.solve(np.eye(3) - GAMMA * P_pi, REWARD[np.arange(3), pol])
        best = np.maximum(best, v)
    return REWARD + GAMMA * P @ best


def test_full_coverage_gives_q_star_for_any_initialisation():
    q_star = brute_force_q_star()
    for q_init in (0.0, 50.0, -50.0):
        res = fit_offline_q_learning(full_dataset(), 3, 2, discount=GAMMA, q_init=q_init, tol=1e-7)
        assert bool(res.converged)
        np.testing.assert_allclose(res.Q, q_star, atol=1e-4)
        np.testing.assert_allclose(res.V, q_star.max(1), atol=1e-4)


def test_unseen_action_keeps_its_initial_value_and_the_backup_spreads_it():
    d = full_dataset()
    keep = ~((d["obs"] == 2) & (d["action"] == 1))  # drop every transition from (2, 1)
    d = {k: v[keep] for k, v in d.items()}
    q_init = 30.0  # far above any true value (|r| <= 2, γ = 0.9: |Q*| <= 20)
    res = fit_offline_q_learning(d, 3, 2, discount=GAMMA, q_init=q_init, tol=1e-7)
    assert float(res.Q[2, 1]) == q_init and float(res.V[2]) == q_init
    # (0, 1) goes to state 2 for sure: its target reads the unseen action's value
    assert float(res.Q[0, 1]) == pytest.approx(REWARD[0, 1] + GAMMA * q_init, abs=1e-4)
    assert np.all(np.asarray(res.V) > brute_force_q_star().max(1) + 5)  # every state overestimates
    # IQL's expectile never reads the unseen action: V(2) comes from action 0 alone
    iql = fit_iql_tabular(d, 3, 2, IQLTabularConfig(expectile=0.9, discount=GAMMA, tol=1e-7))
    np.testing.assert_allclose(iql.V[2], iql.Q[2, 0], atol=1e-4)
    assert np.isnan(iql.Q[2, 1]) and float(iql.V.max()) < float(brute_force_q_star().max()) + 1e-3


def test_terminal_stops_the_bootstrap():
    # 0 → 1 (reward 0), then 1 → 2 terminal (reward 1); state 2 has no data and an optimistic init
    d = {"obs": np.array([0, 1]), "action": np.array([0, 0]), "reward": np.array([0.0, 1.0]),
         "next_obs": np.array([1, 2]), "terminal": np.array([False, True]), "timeout": np.array([False, False])}
    res = fit_offline_q_learning(d, 3, 1, discount=GAMMA, q_init=100.0)
    np.testing.assert_allclose(res.Q[:2, 0], [GAMMA * 1.0, 1.0], atol=1e-5)  # V(2) = 100 is never read


def test_one_backup_by_hand():
    Q = jnp.array([[1.0, 3.0], [0.0, -2.0]])
    counts = jnp.array([[1.0, 0.0], [2.0, 1.0]])
    r_bar = jnp.array([[0.5, 0.0], [1.0, -1.0]])
    P = jnp.zeros((2, 2, 2)).at[0, 0, 1].set(1.0).at[1, 0, 0].set(0.5).at[1, 1, 1].set(1.0)
    new = max_backup(Q, counts, r_bar, P, 0.5, -9.0)
    # max Q(0, ·) = 3 (the unseen action's current value), max Q(1, ·) = 0
    np.testing.assert_allclose(new, [[0.5 + 0.5 * 0.0, -9.0], [1.0 + 0.5 * 0.5 * 3.0, -1.0 + 0.5 * 0.0]])


def test_exact_q_iteration_on_the_maze_matches_the_closed_form():
    maze = parse_maze(STITCHING_LAYOUT)
    goal = maze.regions["G"]
    into_goal = goal[maze.next_state]
    r = np.where(into_goal, 0.0, -1.0) * ~goal[:, None]
    P = maze.transition_tensor() * ~into_goal[..., None] * ~goal[:, None, None]
    Q, _, _ = offline_q_learning(jnp.ones(r.shape), jnp.asarray(r), jnp.asarray(P), 0.99, 0.0)
    np.testing.assert_allclose(np.where(goal, 0.0, Q.max(1)), optimal_values(maze, 0.99), atol=1e-4)


def test_stitching_data_trap_overestimates_and_pessimistic_init_does_not():
    maze = parse_maze(STITCHING_LAYOUT)
    data = stitching_dataset(np.random.default_rng(0), maze, n_trajectories=60, horizon=30, epsilon=0.2)
    starts, v_star = maze.region("S"), optimal_values(maze, 0.99)
    S, A = maze.n_states, maze.n_actions
    optimistic = fit_offline_q_learning(data, S, A, q_init=0.0)
    pessimistic = fit_offline_q_learning(data, S, A, q_init=-100.0)
    assert np.all(np.asarray(optimistic.V)[starts] >= v_star[starts] - 1e-3)
    assert np.all(np.asarray(pessimistic.V)[starts] <= v_star[starts] + 1e-3)
    assert float(optimistic.V[starts].mean()) > float(v_star[starts].mean()) + 5


def test_greedy_policy_splits_ties():
    np.testing.assert_allclose(greedy_policy(jnp.array([[1.0, 2.0, 2.0], [0.0, -1.0, -3.0]])),
                               [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("kwargs, match", [({"discount": 1.0}, "discount"), ({"q_init": np.nan}, "q_init")])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_offline_q_learning(full_dataset(), 3, 2, **kwargs)
    with pytest.raises(ValueError, match="missing key"):
        fit_offline_q_learning({"obs": np.zeros(1, int)}, 3, 2)
