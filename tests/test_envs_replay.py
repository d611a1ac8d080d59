"""Lockstep evaluation equals one-by-one rollouts; the replay buffer keeps the newest rows."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.envs import env_spec, evaluate, make_env
from iqlib.core.replay import ReplayBuffer, sample


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
