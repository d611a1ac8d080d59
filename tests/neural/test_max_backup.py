"""Offline DQN and offline SAC (iqlib.neural.max_backup): the max-backup learners of notebook 09."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.nets import apply
from iqlib.core.transitions import Transitions
from iqlib.neural import max_backup
from iqlib.neural.dqn import DQNConfig
from iqlib.neural.sac import SACConfig


def _bandit(n=512, seed=0):
    """One state (obs = [1, 0]), actions 0 and 1 only (of 3), reward +1 / −1, every step terminal."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    obs = np.tile(np.array([[1.0, 0.0]], np.float32), (n, 1))
    return Transitions(obs, a.astype(np.int32), np.where(a == 0, 1.0, -1.0).astype(np.float32), obs,
                       np.ones(n, np.float32), np.zeros(n, np.float32), np.ones(n, np.float32))


def test_offline_dqn_fits_the_rewards_of_the_actions_the_data_hold():
    cfg = DQNConfig(hidden=(32, 32), batch_size=64, critic_lr=1e-2, double=False)
    train = max_backup.make_dqn_train(cfg, _bandit(), 600, chunk_size=300, n_actions=3)
    carry, metrics = train.run(jax.random.split(jax.random.key(0), 2))
    q = np.asarray(jax.vmap(lambda p: apply(train.policy_graphdef, p, jnp.array([[1.0, 0.0]])))(
        train.policy_params(carry)))[:, 0]  # (2 seeds, 3 actions)
    np.testing.assert_allclose(q[:, :2], np.tile([1.0, -1.0], (2, 1)), atol=0.05)
    assert metrics["loss"].shape == (2, 600)
    assert metrics["loss"][:, -50:].mean() < 1e-2 < metrics["loss"][:, :10].mean()


def test_offline_dqn_refuses_continuous_actions():
    t = _bandit()
    cont = t._replace(action=np.zeros((len(t.reward), 2), np.float32))
    with pytest.raises(ValueError, match="discrete"):
        max_backup.make_dqn_train(DQNConfig(), cont, 10, chunk_size=10)


def test_offline_sac_critic_fits_a_one_step_reward_on_the_data_actions():
    """discount 0: the soft Bellman target is the reward itself, so Q(s, a) → r(a) = 1 − a² on the data."""
    rng = np.random.default_rng(0)
    n = 1024
    a = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    obs = np.tile(np.array([[1.0, 0.0]], np.float32), (n, 1))
    data = Transitions(obs, a, (1.0 - a[:, 0] ** 2).astype(np.float32), obs, np.ones(n, np.float32),
                       np.zeros(n, np.float32), np.ones(n, np.float32))
    cfg = SACConfig(hidden=(32, 32), critic_lr=3e-3, actor_lr=1e-3, discount=0.0)
    train, nets = max_backup.make_sac_train(cfg, data, 1500, chunk_size=500)
    carry, metrics = train.run(jax.random.split(jax.random.key(0), 2))
    grid = jnp.array([[-0.5], [0.0], [0.5]])
    q1, q2 = jax.vmap(lambda p: apply(nets.critic_def, p, jnp.ones((3, 1)) * jnp.array([[1.0, 0.0]]), grid))(
        carry.critic.params)
    np.testing.assert_allclose(np.asarray(q1), np.tile([0.75, 1.0, 0.75], (2, 1)), atol=0.06)
    np.testing.assert_allclose(np.asarray(q2), np.tile([0.75, 1.0, 0.75], (2, 1)), atol=0.06)
    assert metrics["critic_loss"].shape == (2, 1500)
    with pytest.raises(ValueError, match="continuous"):
        max_backup.make_sac_train(cfg, _bandit(), 10, chunk_size=10)
