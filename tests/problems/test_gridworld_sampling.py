"""Tests for iqlib.problems.gridworld, iqlib.tabular.sampling and iqlib.notebook.plotting (small and fast)."""

import matplotlib

matplotlib.use("Agg")

import jax
import matplotlib.pyplot as plt
import numpy as np
import pytest

from iqlib.problems import gridworld as gw
from iqlib.notebook import plotting
from iqlib.tabular import sampling

UP, DOWN, LEFT, RIGHT, STAY = range(5)


# ---------------------------------------------------------------- gridworld


@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_rows_sum_to_one(slip):
    P = gw.transition_tensor(4, slip)
    assert P.shape == (16, 5, 16)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)
    assert np.all(P >= 0)


def test_deterministic_moves_by_hand():
    size = 4
    P = gw.transition_tensor(size, 0.0)
    s = gw.state_index
    # (state, action) -> expected next cell, checked by hand on a 4x4 grid
    cases = {
        (s(1, 1, size), UP): s(0, 1, size),
        (s(1, 1, size), DOWN): s(2, 1, size),
        (s(1, 1, size), LEFT): s(1, 0, size),
        (s(1, 1, size), RIGHT): s(1, 2, size),
        (s(1, 1, size), STAY): s(1, 1, size),
        (s(0, 2, size), UP): s(0, 2, size),  # top row: wall
        (s(3, 0, size), DOWN): s(3, 0, size),  # bottom row: wall
        (s(2, 0, size), LEFT): s(2, 0, size),  # left column: wall
        (s(2, 3, size), RIGHT): s(2, 3, size),  # right column: wall
        (s(3, 3, size), UP): s(2, 3, size),
    }
    for (state, a), expected in cases.items():
        row = P[state, a]
        assert row[expected] == 1.0 and row.sum() == 1.0, (state, a)
    # moving up from every top-row cell stays put
    for col in range(size):
        assert P[col, UP, col] == 1.0


def test_slip_mixture():
    size, slip = 3, 0.3
    P = gw.transition_tensor(size, slip)
    centre = gw.state_index(1, 1, size)
    # centre, intended up: 0.7 + 0.3/5 to the cell above; 0.3/5 to each other neighbour and stay
    assert P[centre, UP, gw.state_index(0, 1, size)] == pytest.approx(0.7 + 0.06)
    for cell in [(2, 1), (1, 0), (1, 2), (1, 1)]:
        assert P[centre, UP, gw.state_index(*cell, size)] == pytest.approx(0.06)
    # top-left corner, intended up: up, left and stay all stay in place
    assert P[0, UP, 0] == pytest.approx(0.7 + 3 * 0.06)


def test_state_reward_and_start():
    R = np.arange(9.0).reshape(3, 3)
    mdp = gw.make_gridworld(3, reward_map=R, discount=0.95, entropy_temperature=0.5)
    r = np.asarray(mdp.r)
    assert r.shape == (9, 5)
    for a in range(5):
        np.testing.assert_allclose(r[:, a], R.reshape(-1))
    np.testing.assert_allclose(np.asarray(mdp.p0), 1 / 9, rtol=1e-6)
    assert mdp.discount == 0.95 and mdp.entropy_temperature == 0.5
    mdp2 = gw.make_gridworld(3, reward_map=R.reshape(-1), start=4)
    assert np.asarray(mdp2.p0)[4] == 1.0 and np.asarray(mdp2.p0).sum() == 1.0


def test_default_reward_map():
    R = gw.default_reward_map(6)
    assert R.shape == (6, 6)
    assert R[-1, -1] == 1.0 and R.max() == 1.0
    assert -1.0 <= R.min() < -0.5  # the hill
    assert R[0, 0] == pytest.approx(gw.STEP_COST, abs=0.05)
    np.testing.assert_array_equal(R, gw.default_reward_map(6))  # deterministic


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(size=1), "size"),
        (dict(size=3, slip=1.0), "slip"),
        (dict(size=3, slip=-0.1), "slip"),
        (dict(size=3, reward_map=np.zeros((2, 2))), "reward_map"),
        (dict(size=3, start="corner"), "start"),
        (dict(size=3, start=9), "start"),
    ],
)
def test_value_errors_name_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        gw.make_gridworld(**kwargs)


def test_grid_helpers():
    assert gw.state_index(2, 1, 4) == 9
    grid = gw.to_grid(np.arange(16))
    assert grid.shape == (4, 4) and grid[2, 1] == 9
    with pytest.raises(ValueError):
        gw.to_grid(np.arange(15))


# ---------------------------------------------------------------- sampling


def _uniform(S, A):
    return np.full((S, A), 1.0 / A)


def test_empirical_next_state_matches_P():
    size, slip = 3, 0.3
    P = gw.transition_tensor(size, slip)
    s0 = gw.state_index(1, 1, size)
    p0 = np.eye(9)[s0]
    policy = np.tile(np.eye(5)[RIGHT], (9, 1))
    tr = sampling.sample_trajectories(jax.random.key(0), P, p0, policy, n_episodes=20_000, horizon=1)
    assert np.all(np.asarray(tr["obs"]) == s0) and np.all(np.asarray(tr["action"]) == RIGHT)
    freq = np.bincount(np.asarray(tr["next_obs"]), minlength=9) / 20_000
    np.testing.assert_allclose(freq, P[s0, RIGHT], atol=0.02)


def test_layout_counts_and_reproducibility():
    mdp = gw.make_gridworld(3, slip=0.1)
    S, A = mdp.n_states, mdp.n_actions
    n_ep, H = 5, 7
    args = (mdp.P, mdp.p0, _uniform(S, A))
    tr = sampling.sample_trajectories(jax.random.key(1), *args, n_episodes=n_ep, horizon=H, r=mdp.r)
    N = n_ep * H
    for k in ["obs", "action", "reward", "next_obs", "terminal", "timeout", "episode_id"]:
        assert tr[k].shape == (N,), k
    assert tr["obs"].dtype == np.int32 and tr["action"].dtype == np.int32 and tr["next_obs"].dtype == np.int32
    assert not np.any(np.asarray(tr["terminal"]))
    timeout = np.asarray(tr["timeout"])
    np.testing.assert_array_equal(np.flatnonzero(timeout), np.arange(1, n_ep + 1) * H - 1)
    np.testing.assert_array_equal(np.asarray(tr["episode_id"]), np.repeat(np.arange(n_ep), H))
    obs, nxt = np.asarray(tr["obs"]), np.asarray(tr["next_obs"])
    same_episode = ~timeout[:-1]
    np.testing.assert_array_equal(obs[1:][same_episode], nxt[:-1][same_episode])  # chains link up
    np.testing.assert_allclose(np.asarray(tr["reward"]), np.asarray(mdp.r)[obs, np.asarray(tr["action"])], rtol=1e-6)

    counts = sampling.state_action_counts(tr["obs"], tr["action"], S, A)
    assert counts.shape == (S, A) and float(counts.sum()) == N
    with pytest.raises(ValueError, match="action"):
        sampling.state_action_counts(tr["obs"], tr["action"] + 5, S, A)

    again = sampling.sample_trajectories(jax.random.key(1), *args, n_episodes=n_ep, horizon=H, r=mdp.r)
    other = sampling.sample_trajectories(jax.random.key(2), *args, n_episodes=n_ep, horizon=H, r=mdp.r)
    for k in tr:
        np.testing.assert_array_equal(np.asarray(tr[k]), np.asarray(again[k]))
    assert not np.array_equal(np.asarray(tr["obs"]), np.asarray(other["obs"]))

    demos = sampling.episodes_from_transitions(tr, 2)
    assert demos["obs"].shape == (2 * H,) and np.all(np.asarray(demos["episode_id"]) < 2)
    with pytest.raises(ValueError, match="k"):
        sampling.episodes_from_transitions(tr, n_ep + 1)


def test_sampling_validation():
    P = gw.transition_tensor(2, 0.0)
    p0, pi = np.full(4, 0.25), _uniform(4, 5)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="policy"):
        sampling.sample_trajectories(key, P, p0, pi[:, :4], 2, 3)
    with pytest.raises(ValueError, match="p0"):
        sampling.sample_trajectories(key, P, p0 * 2, pi, 2, 3)
    with pytest.raises(ValueError, match="horizon"):
        sampling.sample_trajectories(key, P, p0, pi, 2, 0)
    with pytest.raises(ValueError, match="n_episodes"):
        sampling.sample_trajectories(key, P, p0, pi, -1, 3)


def test_returns_constant_reward():
    size, gamma, H, n_ep = 2, 0.9, 10, 3
    P = gw.transition_tensor(size, 0.2)
    r = np.full((4, 5), 2.0)
    tr = sampling.sample_trajectories(jax.random.key(3), P, np.full(4, 0.25), _uniform(4, 5), n_ep, H, r=r)
    G = np.asarray(sampling.discounted_returns(tr, gamma))
    np.testing.assert_allclose(G, 2.0 * (1 - gamma**H) / (1 - gamma), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(sampling.undiscounted_returns(tr)), 2.0 * H, rtol=1e-6)
    zero = sampling.sample_trajectories(jax.random.key(3), P, np.full(4, 0.25), _uniform(4, 5), n_ep, H)
    assert np.all(np.asarray(zero["reward"]) == 0.0)


# ---------------------------------------------------------------- plotting


def test_plotting_figures():
    R = gw.default_reward_map(4)
    fig = plotting.grid_heatmaps({"true": R, "recovered": -R}, title="r", annotate=True)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 4  # 2 panels + 2 colorbars
    out = plotting.policy_arrows(fig.axes[0], np.eye(5)[np.arange(16) % 5], 4)
    assert out is fig
    x = np.arange(6)
    fig2 = plotting.curves_with_bands(x, {"a": np.ones((3, 6)), "b": np.zeros((2, 6))}, "step", "return")
    fig3 = plotting.bar_table({"IQ": 0.1, "BC": 0.3}, {"IQ": 0.01}, ylabel="TV")
    fig4 = plotting.line_plot(x + 1, {"a": x * 1.0}, "demos", "TV", logx=True)
    for f in (fig2, fig3, fig4):
        assert isinstance(f, plt.Figure) and len(f.axes) == 1
    with pytest.raises(ValueError):
        plotting.curves_with_bands(x, {"a": np.ones((3, 5))}, "step", "return")
    _, ax = plt.subplots()
    y = np.stack([x * 1.0, x + 2.0, 2.0 * x])  # seed mean (4x + 2)/3, band from the min to the max at each x
    line = plotting.mean_with_range(ax, x, y, "three seeds")
    np.testing.assert_allclose(line.get_ydata(), (4 * x + 2) / 3)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.0) and band.max() == pytest.approx(10.0)  # min of x, max of 2x at x = 5
    with pytest.raises(ValueError, match="n_seeds"):
        plotting.mean_with_range(ax, x, np.ones((2, 5)), "bad")
    plt.close("all")
