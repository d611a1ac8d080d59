"""Lockstep evaluation equals one-by-one rollouts; the replay buffer keeps the newest rows; the online
loop counts its random steps, updates and evaluations."""

import gymnasium as gym
import jax
import numpy as np
import pytest

from iqlib.core.envs import env_spec, evaluate, make_env
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.neural.online import late_episodes, run_online


def lean_left_right(obs, key):
    """CartPole heuristic: push towards the pole's lean (obs (..., 4) -> actions (...))."""
    return (np.asarray(obs)[..., 2] + 0.5 * np.asarray(obs)[..., 3] > 0).astype(np.int64)


def test_lockstep_evaluation_matches_sequential_rollouts():
    returns, lengths = evaluate("CartPole-v1", lean_left_right, 4, seed=7, batch_shape=(2,), return_lengths=True)
    assert returns.shape == (2, 4)
    np.testing.assert_array_equal(returns[0], returns[1])  # same policy, same resets
    for i in range(4):
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=7 + i)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(lean_left_right(obs, None)))
            total += r
            done = term or trunc
        assert returns[0, i] == total == lengths[0, i]


def test_make_env_rescales_continuous_actions_and_rejects_unknown_ids():
    env = make_env("Pendulum-v1")
    assert np.allclose(env.action_space.low, -1.0) and np.allclose(env.action_space.high, 1.0)
    assert env_spec("Pendulum-v1") == {"obs_dim": 3, "discrete": False, "action_dim": 1, "max_episode_steps": 200}
    assert env_spec("CartPole-v1")["n_actions"] == 2
    with pytest.raises(ValueError, match="unknown env_id 'CartPol-v1'"):
        make_env("CartPol-v1")
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate("CartPole-v1", lean_left_right, 0, seed=0)


def test_replay_buffer_ring_and_sampling():
    buf = ReplayBuffer(4, obs_dim=1)
    for i in range(6):
        buf.add(obs=[i], action=i, reward=float(i), next_obs=[i + 1], terminal=0.0, timeout=0.0, episode_start=0.0)
    assert buf.size == 4
    np.testing.assert_array_equal(buf.arrays().reward, [2, 3, 4, 5])  # oldest first, newest kept
    buf.add(obs=np.zeros((2, 1)), action=[7, 8], reward=[7.0, 8.0], next_obs=np.ones((2, 1)),
            terminal=[0, 1], timeout=[0, 0], episode_start=[1, 0])
    np.testing.assert_array_equal(buf.arrays().reward, [4, 5, 7, 8])
    data, size = buf.device_view()
    batch = jax.jit(sample, static_argnums=3)(jax.random.key(0), data, size, 64)
    assert set(np.asarray(batch.reward).tolist()) <= {4.0, 5.0, 7.0, 8.0}
    small = ReplayBuffer(10, obs_dim=1)
    small.add(obs=[1.0], action=0, reward=3.0, next_obs=[1.0], terminal=0, timeout=0, episode_start=1)
    d, s = small.device_view()
    assert np.all(np.asarray(sample(jax.random.key(1), d, s, 16).reward) == 3.0)  # only filled rows


def test_online_loop_counts_random_steps_updates_and_evaluations():
    """S = 2 seeds × E = 2 envs, blocks of 5 lockstep steps (10 transitions per seed), 40 in all."""
    buffer = ReplayBuffer(64, 4, (), n_seeds=2)
    sizes, act_steps = [], []

    def chunk(carry, data, size):
        sizes.append(np.asarray(size).tolist())
        learner, keys = carry
        return (learner + 1, keys), {"m": np.zeros((2, 3))}

    def act(learner, obs, key, step):
        act_steps.append(step)
        return np.zeros(obs.shape[:2], np.int64)  # always push left: episodes end after about 10 steps

    learner, hist = run_online("CartPole-v1", np.zeros(2), buffer, chunk, act=act, total_steps=40, train_freq=5,
                               n_envs=2, keys=jax.random.split(jax.random.key(0), 2), learning_starts=10,
                               eval_every=15, evaluate=lambda step, ln, h: step, eval_at_start=True, seed=3)
    # random actions for the first 10 transitions; updates after the blocks ending at 20, 30, 40
    assert sizes == [[20, 20], [30, 30], [40, 40]] and learner.tolist() == [3, 3] and hist["update_steps"] == 9
    assert act_steps == list(range(12, 41, 2)) and hist["steps"] == 40
    assert hist["eval_steps"] == [0, 20, 30, 40] == hist["evals"]  # start, each crossing of 15k, the end
    rows = buffer.arrays()
    assert rows.obs.shape == (2, 40, 4) and np.all(rows.reward == 1.0)
    np.testing.assert_array_equal(rows.episode_start[:, :2], 1.0)  # both envs' first steps, in (step, env) order
    assert np.all(rows.action[:, 10:] == 0)  # the policy's own actions after the warm-up
    ends = [(t, s) for t, s, _ in hist["train_returns"]]
    assert ends and all(r > 0 for _, _, r in hist["train_returns"])
    assert sum(1 for t, s in ends if s == 0) == int(rows.terminal[0].sum() + rows.timeout[0].sum())
    # the same episodes with their lengths: CartPole pays 1 per step, and pushing left always drops the pole
    assert [e[:3] for e in hist["train_episodes"]] == hist["train_returns"]
    assert all(ret == length and terminated for _, _, ret, length, terminated in hist["train_episodes"])
    assert sum(e[3] for e in hist["train_episodes"] if e[1] == 0) <= 2 * 40  # 2 envs of seed 0, 40 steps in all


def test_discounted_evaluation_is_the_geometric_sum_on_cartpole():
    """CartPole pays 1 per step: with discount γ a return of L steps is (1 − γ^L) / (1 − γ)."""
    push_left = lambda obs, key: np.zeros(obs.shape[:-1], np.int64)  # noqa: E731
    plain, lengths = evaluate("CartPole-v1", push_left, 3, 0, return_lengths=True)
    disc = evaluate("CartPole-v1", push_left, 3, 0, discount=0.9)
    np.testing.assert_array_equal(plain, lengths)
    np.testing.assert_allclose(disc, (1 - 0.9**lengths) / (1 - 0.9), rtol=1e-12)
    assert np.all(disc < plain)
    with pytest.raises(ValueError, match="discount"):
        evaluate("CartPole-v1", push_left, 1, 0, discount=1.5)


def test_late_episodes_pools_the_tail_of_a_run():
    rows = [(40, 0, 1.0, 40, True), (90, 0, 2.0, 50, False), (100, 1, 3.0, 100, False), (95, 1, 0.0, 10, True)]
    tail = late_episodes(rows, 100, fraction=0.1)  # ends after step 90: the last two
    assert tail == {"episodes": 2, "length": 55.0, "terminated": 0.5}
    assert late_episodes(rows, 100, fraction=1.0)["episodes"] == 4
    assert late_episodes(rows[:1], 100)["episodes"] == 0 and np.isnan(late_episodes(rows[:1], 100)["length"])
    with pytest.raises(ValueError, match="fraction"):
        late_episodes(rows, 100, fraction=0.0)
