"""PointMaze: grid geometry, BFS planner optimality, PD law, the registered evaluation env, and
the committed stitching dataset (checksum, layout, rewards consistent with positions)."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path as csgraph_shortest_path

from iqlib.problems import pointmaze as pm
from iqlib.core.transitions import D4RL_KEYS, episode_bounds, episode_returns
from iqlib.data.datasets import load_dataset
from iqlib.core.envs import env_spec, evaluate, make_env
from iqlib.data.files import load_npz_verified
from iqlib.notebook.runner import REPO_ROOT

ENV_ID = "iqlib/PointMazeMedium-v0"
DATA = REPO_ROOT / "data" / "offline" / "pointmaze-medium-stitch.npz"
GOAL_CELL = (6, 6)


def expert_act(obs, key):
    """Noiseless waypoint controller aimed at the evaluation goal, batched over obs: (n, 4)."""
    g, dist = pm.cell_to_xy(GOAL_CELL, pm.MEDIUM_MAP), pm.bfs_distances(pm.MEDIUM_MAP, GOAL_CELL)
    return np.stack([pm.controller_action(pm.MEDIUM_MAP, o, g, dist) for o in np.asarray(obs).reshape(-1, 4)])


def test_cell_xy_conversion_matches_gymnasium_robotics():
    from gymnasium_robotics.envs.maze import maps
    from gymnasium_robotics.envs.maze.maze_v4 import Maze

    assert np.array_equal(pm.MEDIUM_MAP, np.array(maps.MEDIUM_MAZE))
    assert np.array_equal(pm.UMAZE_MAP, np.array(maps.U_MAZE))
    ref = Maze(maps.MEDIUM_MAZE, 1.0, 0.4)
    for c in pm.free_cells(pm.MEDIUM_MAP):
        xy = pm.cell_to_xy(c, pm.MEDIUM_MAP)
        np.testing.assert_allclose(xy, ref.cell_rowcol_to_xy(c))
        for d in itertools.product((-0.49, 0.0, 0.49), repeat=2):  # any point of the cell maps back
            assert tuple(pm.xy_to_cell(xy + np.array(d), pm.MEDIUM_MAP)) == tuple(c)
    assert pm.cell_to_xy(GOAL_CELL, pm.MEDIUM_MAP).tolist() == [2.5, -2.5]
    assert pm.locate_cell(pm.MEDIUM_MAP, np.array([2.5, -3.02])) == (6, 6)  # inside the wall row: snapped


@pytest.mark.parametrize("maze_map", [pm.MEDIUM_MAP, pm.UMAZE_MAP])
def test_bfs_paths_are_valid_and_shortest(maze_map):
    cells = [tuple(c) for c in pm.free_cells(maze_map)]
    index = {c: k for k, c in enumerate(cells)}
    adj = np.zeros((len(cells), len(cells)))
    for (a, b) in cells:
        for n in ((a + 1, b), (a, b + 1)):
            if n in index:
                adj[index[(a, b)], index[n]] = adj[index[n], index[(a, b)]] = 1
    truth = csgraph_shortest_path(adj, unweighted=True)  # independent all-pairs distances
    for s, g in itertools.product(cells, cells):
        path = pm.shortest_path(maze_map, s, g)
        assert path[0] == s and path[-1] == g
        assert all(maze_map[c] == 0 for c in path)
        assert all(abs(p[0] - q[0]) + abs(p[1] - q[1]) == 1 for p, q in zip(path, path[1:]))
        assert len(path) - 1 == truth[index[s], index[g]]


def test_planner_rejects_walls():
    with pytest.raises(ValueError, match="goal_cell"):
        pm.bfs_distances(pm.MEDIUM_MAP, (0, 0))
    with pytest.raises(ValueError, match="wall"):
        pm.shortest_path(pm.MEDIUM_MAP, (3, 1), GOAL_CELL)
    with pytest.raises(ValueError, match="maze_map"):
        pm.free_cells(np.array([[0, 2]]))


def test_waypoint_action_is_clipped_pd():
    obs = np.array([[0.0, 0.0, 1.0, -0.2], [1.0, 1.0, 0.0, 0.0]])
    wp = np.array([[0.05, 0.0], [0.0, 3.0]])
    # 10·0.05 − 1·1 = −0.5;  10·0 − 1·(−0.2) = 0.2;  10·(−1) → −1;  10·2 → 1
    np.testing.assert_allclose(pm.waypoint_action(obs, wp), [[-0.5, 0.2], [-1.0, 1.0]], atol=1e-6)
    with pytest.raises(ValueError, match="obs"):
        pm.waypoint_action(np.zeros(3), np.zeros(2))
    # plan_waypoint: next cell centre on the path, the goal point itself once in the goal cell
    g = pm.cell_to_xy(GOAL_CELL, pm.MEDIUM_MAP)
    np.testing.assert_allclose(pm.plan_waypoint(pm.MEDIUM_MAP, pm.cell_to_xy((4, 6), pm.MEDIUM_MAP), g),
                               pm.cell_to_xy((5, 6), pm.MEDIUM_MAP))
    np.testing.assert_allclose(pm.plan_waypoint(pm.MEDIUM_MAP, g + 0.3, g + 0.1), g + 0.1)


def test_registered_env_spaces_and_reset():
    spec = env_spec(ENV_ID)
    assert spec == {"obs_dim": 4, "discrete": False, "action_dim": 2, "max_episode_steps": 600}
    env = make_env(ENV_ID)
    assert env.observation_space.shape == (4,) and env.observation_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    o1, info1 = env.reset(seed=3)
    o2, _ = env.reset(seed=3)
    assert o1.dtype == np.float32 and np.array_equal(o1, o2)
    starts = {env.reset(seed=s)[1]["start_cell"] for s in range(40)}
    assert GOAL_CELL not in starts and len(starts) > 10
    assert all(pm.MEDIUM_MAP[c] == 0 for c in starts)
    env.close()


def test_reward_is_one_exactly_within_half_unit_of_goal_and_episode_truncates_at_600():
    env = make_env(ENV_ID)
    g = env.unwrapped.goal_xy
    obs, _ = env.reset(seed=0)
    rewards, dists, ends = [], [], []
    for t in range(600):
        obs, r, term, trunc, info = env.step(expert_act(obs, None)[0])
        rewards.append(r)
        dists.append(np.linalg.norm(obs[:2].astype(np.float64) - g))
        ends.append((term, trunc))
        np.testing.assert_allclose(info["distance"], dists[-1], atol=1e-5)
    rewards, dists = np.array(rewards), np.array(dists)
    assert set(np.unique(rewards)) == {0.0, 1.0}  # the episode saw both
    far = np.abs(dists - 0.5) > 1e-5  # away from float32 rounding at the boundary
    assert np.array_equal(rewards[far], (dists[far] <= 0.5).astype(float))
    assert ends[-1] == (False, True) and not any(te or tr for te, tr in ends[:-1])
    env.close()


@pytest.mark.parametrize("start", [(1, 1), (1, 6), (6, 1), (4, 1)])
def test_controller_reaches_and_holds_the_goal(start):
    env = gym.wrappers.TimeLimit(pm.PointMazeEval("medium", start_cell=start), 600)
    obs, info = env.reset(seed=0)
    assert info["start_cell"] == start
    ret, first = 0.0, None
    for t in range(600):
        obs, r, term, trunc, _ = env.step(expert_act(obs, None)[0])
        ret += r
        first = t if (r and first is None) else first
    assert first is not None and first < 300
    assert ret >= 600 - first - 5  # once there it stays (continuing task)


def test_evaluate_runs_the_env():
    rets, lengths = evaluate(ENV_ID, expert_act, 3, seed=7, return_lengths=True)
    assert rets.shape == (3,) and np.all(lengths == 600)
    assert np.all(rets > 300)
    rand = evaluate(ENV_ID, lambda o, k: np.random.default_rng(0).uniform(-1, 1, (o.shape[0], 2)), 2, seed=7)
    assert rand.shape == (2,) and rand.mean() < rets.mean() / 2


@pytest.fixture(scope="module")
def dataset():
    t, prov = load_dataset(DATA)  # checks the sha256 recorded in the provenance sidecar
    return t, prov, load_npz_verified(DATA)


def test_dataset_layout_and_provenance(dataset):
    t, prov, raw = dataset
    assert set(raw) == set(D4RL_KEYS) | {"episode_starts"}
    n = prov["n_transitions"]
    assert n == len(t.obs) == len(t.action) == len(t.reward) == len(t.next_obs) == len(t.timeout) >= 100_000
    assert t.obs.shape == (n, 4) and t.action.shape == (n, 2) and t.obs.dtype == np.float32
    assert np.all(np.abs(t.action) <= 1) and np.all(t.terminal == 0)
    assert prov["n_episodes"] == int(t.timeout.sum()) == len(episode_bounds(t)) and t.timeout[-1] == 1
    for k in ("env_id", "gymnasium_version", "generated_by", "seed", "policy", "ref_random_return",
              "ref_expert_return", "ref_returns_measured"):
        assert k in prov, k
    assert prov["env_id"] == ENV_ID and DATA.stat().st_size < 15e6
    assert prov["ref_expert_return"] > 300 and prov["ref_random_return"] < 0.1 * prov["ref_expert_return"]


def test_dataset_is_one_physical_stream_with_relabelled_rewards(dataset):
    t, prov, _ = dataset
    b = episode_bounds(t)
    inner = np.ones(len(t.obs) - 1, bool)
    inner[b[1:, 0] - 1] = False  # within an episode, next_obs[t] is obs[t + 1]
    np.testing.assert_array_equal(t.next_obs[:-1][inner], t.obs[1:][inner])
    g = np.asarray(prov["eval_goal_xy"])
    d = np.linalg.norm(t.next_obs[:, :2].astype(np.float64) - g, axis=-1)
    np.testing.assert_array_equal(t.reward, (d <= 0.5).astype(np.float32))
    cells = pm.xy_to_cell(t.obs[:, :2], pm.MEDIUM_MAP)
    assert np.mean(pm.MEDIUM_MAP[cells[:, 0], cells[:, 1]] == 0) > 0.999  # positions lie in free cells


def test_dataset_needs_stitching(dataset):
    t, prov, _ = dataset
    b = episode_bounds(t)
    last = pm.xy_to_cell(t.next_obs[b[:, 1] - 1, :2], pm.MEDIUM_MAP)
    assert not np.any(np.all(last == np.array(GOAL_CELL), axis=1))  # no episode ends at the goal
    rets = episode_returns(t)
    assert 0 < rets.max() < 0.2 * prov["ref_expert_return"]  # data reach the goal but never stay
    assert 0 < prov["fraction_transitions_reward1"] < 0.1


def test_goal_set_is_the_stitch_stream_with_the_goal_segments_logged(dataset):
    """pointmaze-medium-goal (--keep-goal-segments) and the stitch set come from one controller stream:
    removing the goal set's episodes that end in the goal cell gives the stitch set, transition for
    transition (up to the goal set's last, possibly cut, episode)."""
    s, _, _ = dataset
    g, prov = load_dataset(DATA.with_name("pointmaze-medium-goal.npz"))
    assert prov["goal_segments"] == "logged" and prov["n_segments_excluded_goal_cell"] == 0
    b = episode_bounds(g)
    last = pm.xy_to_cell(g.next_obs[b[:, 1] - 1, :2], pm.MEDIUM_MAP)
    aimed = np.all(last == np.array(GOAL_CELL), axis=1)
    assert aimed.sum() >= 50  # the goal-directed segments the stitch set leaves out
    keep = np.concatenate([np.arange(a, c) for (a, c), m in zip(b[:-1], aimed[:-1]) if not m])
    assert len(keep) > 180_000
    for field in ("obs", "action", "reward", "next_obs", "timeout"):
        np.testing.assert_array_equal(getattr(g, field)[keep], getattr(s, field)[:len(keep)], err_msg=field)
    rets = episode_returns(g)
    assert np.all(rets[aimed] > 0)  # every goal segment reaches the goal (and then a new goal is drawn)
