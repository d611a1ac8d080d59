"""The IQL driver: validated data, minibatches and compiled chunks around the copyable core.

:mod:`iqlib.neural.iql` holds IQL itself (config, losses, the pure ``update(state, batch)``);
this module feeds it: :func:`make_train` checks the dataset, draws each minibatch uniformly
with replacement with a key split from ``state.key``, and wraps the step in an
:class:`IQLTrainer` (an :class:`~iqlib.neural.offline.OfflineTrainer` that can also read the
value network V_ψ).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from iqlib.core.nets import apply
from iqlib.core.transitions import Transitions
from iqlib.neural.iql import IQLConfig, IQLState, make_nets, make_update
from iqlib.neural.offline import OfflineTrainer, action_space, prepare_data, sample_batch

__all__ = ["IQLTrainer", "make_train"]


@dataclasses.dataclass(frozen=True, eq=False)
class IQLTrainer(OfflineTrainer):
    """:class:`~iqlib.neural.offline.OfflineTrainer` that also holds the value network V_ψ."""

    value_graphdef: Any

    def value(self, carry: IQLState, obs: jax.Array) -> jax.Array:
        """V_ψ(s) of a trained carry. obs: (N, obs_dim) → (N,); a carry with a leading seed
        axis (from :meth:`run`) gives (n_seeds, N)."""
        fn = lambda p: apply(self.value_graphdef, p, jnp.asarray(obs, jnp.float32))
        return jax.vmap(fn)(carry.value.params) if jnp.ndim(carry.step) else fn(carry.value.params)


def make_train(config: IQLConfig, data: Transitions | Mapping[str, Any], num_steps: int, *,
               chunk_size: int = 1000, n_actions: int | None = None) -> IQLTrainer:
    """IQL on a fixed dataset: ``train(key) -> (IQLState, metrics)``, pure and vmappable.

    Args:
      config: :class:`~iqlib.neural.iql.IQLConfig` (choose the preset for the data's domain).
      data: dataset with the reward convention already applied (:func:`iqlib.data.registry.load_offline`);
        integer actions (N,) → discrete IQL, float actions (N, A) in [-1, 1] → continuous.
      num_steps: updates in all (the cosine schedule spans them); a multiple of ``chunk_size``.
      chunk_size: updates per compiled ``lax.scan`` chunk (= evaluation period in ``train.run``).
      n_actions: number of discrete actions (default max dataset action + 1).

    Returns:
      :class:`IQLTrainer` (an :class:`~iqlib.neural.offline.OfflineTrainer` with ``value(carry, obs)``);
      its ``update(carry, data)`` draws a minibatch of ``config.batch_size`` from ``data`` and
      takes one step of :func:`iqlib.neural.iql.make_update`. Metrics per update: ``value_loss,
      critic_loss, actor_loss`` (Eqs. 5–7, before the step), ``v, q, advantage`` (batch means of
      V(s), min_i Q̂_i(s, a), A), ``awr_weight`` (mean), ``clipped_fraction``, ``actor_lr``.

    Raises:
      ValueError: bad data (see :func:`iqlib.neural.offline.prepare_data`) or ``num_steps``/``chunk_size``.
    """
    data = prepare_data(data)
    space = action_space(data, n_actions)
    nets = make_nets(space, config)
    init, step = make_update(config, space, num_steps)

    def update(s: IQLState, data: Transitions):
        key, k_batch = jax.random.split(s.key)
        s, metrics = step(s, sample_batch(k_batch, data, config.batch_size))
        return s._replace(key=key), metrics

    return IQLTrainer(init, update, jax.tree_util.tree_map(jnp.asarray, data), int(num_steps),
                      int(chunk_size), nets.actor_graphdef, lambda carry: carry.actor.params,
                      nets.value_graphdef)
