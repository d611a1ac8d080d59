"""Offline learners with a maximising backup: the overestimation trap IQL is built to avoid.

Both regress Q on a fixed dataset, with no environment step, toward targets that query Q at
actions the data may never take:

* **offline DQN** (discrete): :func:`iqlib.neural.dqn.make_update`, the Huber regression of
  Q(s, a) on y = r + γ(1 − terminal) max_a' Q_target(s', a') (Mnih et al. 2015, Eq. 2; or the
  Double-DQN target, van Hasselt et al. 2016, Eq. 4);
* **offline SAC** (continuous): :func:`iqlib.neural.sac.make_update`, the soft Bellman residual
  toward y = r + γ(1 − terminal)(min_j Q̄_j(s', a') − α log π(a'|s')), a' ∼ π, with the actor
  maximising min_j Q_j(s, π(s)) (Haarnoja et al. 2018, Eqs. 5 and 7).

The action a' comes from a maximisation over Q, not from the data, so nothing corrects Q there:
its errors feed the targets and can grow without bound — the "extrapolation error" of Fujimoto,
Meger & Precup (ICML 2019, "Off-policy deep RL without exploration", Sec. 3.1), which IQL's
in-sample expectile (Kostrikov et al. 2022, Eq. 5) removes. Notebook 09 measures it: Q at the
initial states against the discounted return the learner's own greedy policy earns.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp

from iqlib.core.nets import QNetwork, TrainState, create_train_state, init_params
from iqlib.core.transitions import Transitions
from iqlib.neural.dqn import DQNConfig, make_optimizer, make_update as dqn_update
from iqlib.neural.iq_learn_online import init_sac
from iqlib.neural.offline import OfflineTrainer, action_space, prepare_data, sample_batch
from iqlib.neural.sac import SACConfig, make_update as sac_update

__all__ = ["OfflineDQNState", "make_dqn_train", "make_sac_train"]


class OfflineDQNState(NamedTuple):
    """Carry of offline DQN: the Q-network's :class:`TrainState`, its target params, the PRNG key."""

    q: TrainState
    target: Any
    key: jax.Array


def make_dqn_train(config: DQNConfig, data: Transitions | Mapping[str, Any], num_steps: int, *,
                   chunk_size: int = 1000, n_actions: int | None = None) -> OfflineTrainer:
    """DQN on a fixed dataset of discrete actions: ``train(key) -> (carry, metrics)``, vmappable.

    Args:
      config: :class:`~iqlib.neural.dqn.DQNConfig`; used: ``hidden, critic_lr, batch_size,
        discount, target_rate, huber_delta, max_grad_norm, double`` (``double=False`` is the
        plain max backup; ``entropy_temperature > 0`` the soft backup). Its online-loop fields
        (``total_steps``, ε, ``n_envs``, …) are ignored.
      data: dataset with integer actions ``(N,)`` (:func:`iqlib.neural.offline.prepare_data`).
      num_steps: gradient steps in all, a multiple of ``chunk_size``.
      chunk_size: updates per compiled ``lax.scan`` chunk.
      n_actions: number of actions (default max dataset action + 1).

    Returns:
      :class:`~iqlib.neural.offline.OfflineTrainer`; carry :class:`OfflineDQNState`, metrics per
      update ``{"loss", "q_mean"}`` (Huber loss and mean Q(s, a) of the minibatch, before the
      step). ``train.policy_params(carry)`` are the Q-network's params (act greedily with
      :func:`iqlib.neural.acting.greedy_act`).

    Raises:
      ValueError: continuous actions, or bad data / ``num_steps`` / ``chunk_size``.
    """
    data = prepare_data(data)
    space = action_space(data, n_actions)
    if not space["discrete"]:
        raise ValueError("offline DQN needs integer (discrete) actions; got float actions of shape "
                         f"{tuple(data.action.shape)} (use make_sac_train)")
    module = lambda rngs: QNetwork(space["obs_dim"], space["n_actions"], tuple(config.hidden), rngs=rngs)
    graphdef, _ = init_params(module, jax.random.key(0))
    tx = make_optimizer(config)
    step = dqn_update(graphdef, config, tx)

    def init(key):
        k_init, k_train = jax.random.split(key)
        params = init_params(module, k_init)[1]
        return OfflineDQNState(create_train_state(params, tx), jax.tree_util.tree_map(jnp.copy, params), k_train)

    def update(s: OfflineDQNState, data: Transitions):
        key, k_batch = jax.random.split(s.key)
        (q, target), metrics = step((s.q, s.target), sample_batch(k_batch, data, config.batch_size))
        return OfflineDQNState(q, target, key), metrics

    return OfflineTrainer(init, update, jax.tree_util.tree_map(jnp.asarray, data), int(num_steps), int(chunk_size),
                          graphdef, lambda carry: carry.q.params)


def make_sac_train(config: SACConfig, data: Transitions | Mapping[str, Any], num_steps: int, *,
                   chunk_size: int = 1000) -> tuple[OfflineTrainer, Any]:
    """SAC on a fixed dataset of continuous actions in [-1, 1]: ``(train, nets)``.

    Args:
      config: :class:`~iqlib.neural.sac.SACConfig`; used: ``hidden``, the three learning rates,
        ``batch_size, discount, target_rate, entropy_temperature, target_entropy`` (the online
        fields ``learning_starts``, ``train_freq``, … are ignored).
      data: dataset with float actions ``(N, A)`` in [-1, 1].
      num_steps, chunk_size: gradient steps in all, and per compiled chunk (a divisor).

    Returns:
      ``(train, nets)``: an :class:`~iqlib.neural.offline.OfflineTrainer` whose carry is a
      :class:`~iqlib.neural.iq_learn_online.SACState` (metrics per update: SAC's, including
      ``critic_loss`` and ``q_mean``), ``train.policy_params(carry)`` the actor's params (act at
      the mean with :func:`iqlib.neural.acting.tanh_gaussian_act`); ``nets`` the
      :class:`~iqlib.neural.iq_learn_online.SACNets` (``critic_def`` reads the twin critics:
      ``apply(nets.critic_def, carry.critic.params, obs, action) -> (q1, q2)``).

    Raises:
      ValueError: integer actions, or bad data / ``num_steps`` / ``chunk_size``.
    """
    data = prepare_data(data)
    space = action_space(data)
    if space["discrete"]:
        raise ValueError("offline SAC needs float (continuous) actions; got integer actions (use make_dqn_train)")
    nets, _ = init_sac(jax.random.key(0), space["obs_dim"], space["action_dim"], config)
    step = sac_update(nets, config)

    def init(key):
        return init_sac(key, space["obs_dim"], space["action_dim"], config)[1]

    def update(s, data: Transitions):
        key, k_batch = jax.random.split(s.key)
        s, metrics = step(s._replace(key=key), sample_batch(k_batch, data, config.batch_size))
        return s, metrics

    train = OfflineTrainer(init, update, jax.tree_util.tree_map(jnp.asarray, data), int(num_steps), int(chunk_size),
                           nets.actor_def, lambda carry: carry.actor.params)
    return train, nets
