"""The offline IQ-Learn driver: checked demonstrations, standardised observations, minibatches.

:mod:`iqlib.neural.iq_learn_offline` holds the algorithm (config, losses, the pure
``update(state, batch)``); :func:`make_train` feeds it: it checks the demonstrations, finds their
initial states, standardises observations by the demos' mean/std when
``config.normalize_obs`` (folded exactly into the first layer afterwards,
:mod:`iqlib.core.normalization`), draws the expert and "policy" minibatches with a key split from
``state.key``, and wraps the step in the shared offline driver
(:class:`iqlib.neural.offline.OfflineTrainer`: ``lax.scan`` chunks, seeds vmapped, the
demonstrations an argument of each compiled chunk).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.normalization import fold_obs_normalization, obs_statistics, standardize
from iqlib.core.transitions import Transitions
from iqlib.neural.iq_learn_offline import IQBatch, IQLearnOfflineConfig, IQState, make_q_network, make_update
from iqlib.neural.offline import OfflineTrainer, sample_batch

__all__ = ["IQData", "initial_observations", "check_demos", "make_train"]


def initial_observations(demos: Transitions) -> np.ndarray:
    """obs of the rows with episode_start = 1: the demonstrations' initial states, (N0, O).

    Raises:
      ValueError: if no row is marked as an episode start.
    """
    start = np.asarray(demos.episode_start) > 0
    if not start.any():
        raise ValueError("demos: no row has episode_start = 1, so the 'v0' term has no initial states")
    return np.asarray(demos.obs)[start]


def check_demos(demos: Transitions, n_actions: int | None, config: IQLearnOfflineConfig) -> int:
    """The number of actions of valid discrete demonstrations (default max action + 1).

    Raises:
      ValueError: if ``demos`` is not :class:`Transitions`, is empty, has non-integer actions
        ``(N,)`` or actions outside [0, n_actions), or (loss "v0") no episode start.
    """
    if not isinstance(demos, Transitions):
        raise ValueError(f"demos must be iqlib.core.transitions.Transitions, got {type(demos).__name__}")
    obs, action = np.asarray(demos.obs), np.asarray(demos.action)
    if obs.ndim != 2 or obs.shape[0] == 0:
        raise ValueError(f"demos.obs must be (N, obs_dim) with N >= 1 (zero demonstrations?), got {obs.shape}")
    if action.shape != (obs.shape[0],) or action.dtype.kind not in "iu":
        raise ValueError(f"demos.action must be (N,) integers (discrete actions), got {action.shape} {action.dtype}")
    n_actions = int(action.max()) + 1 if n_actions is None else int(n_actions)
    if action.min() < 0 or action.max() >= n_actions:
        raise ValueError(f"demos.action must lie in [0, {n_actions}), got [{action.min()}, {action.max()}]")
    if config.loss == "v0":
        initial_observations(demos)
    return n_actions


class IQData(NamedTuple):
    """What every compiled chunk receives: the demonstrations (device `Transitions`, N rows)
    and their initial states ``init_obs: (N0, O)`` (standardised like the demos; a zero row if
    no row has episode_start = 1, which only loss "v0" forbids)."""

    demos: Transitions
    init_obs: Any


def make_train(config: IQLearnOfflineConfig, demos: Transitions, num_steps: int, chunk_size: int = 500, *,
               n_actions: int | None = None) -> OfflineTrainer:
    """Offline IQ-Learn on ``demos`` only: an `iqlib.neural.offline.OfflineTrainer` (the project's driver).

    Args:
      config: :class:`~iqlib.neural.iq_learn_offline.IQLearnOfflineConfig`.
      demos: expert `Transitions` with N rows (whole episodes), ``action: (N,)`` int.
      num_steps: gradient updates; a positive multiple of ``chunk_size``.
      chunk_size: updates per compiled ``lax.scan`` chunk.
      n_actions: the environment's action count (default: max demonstrated action + 1).

    Returns:
      ``train`` (`iqlib.neural.offline.OfflineTrainer`): ``train(key) -> (IQState, metrics)`` is pure in ``key`` (``jax.vmap(train)(keys)``
      trains seeds in parallel); ``train.run(keys, callback=...)`` trains ``len(keys)`` seeds in
      vmapped compiled chunks and calls back between chunks. Metrics: the keys of
      `iq_loss_terms`, ``(num_steps,)`` per seed. ``train.policy_graphdef`` is the Q-network's
      graphdef and ``train.policy_params(carry)`` its params *on raw obs* (with
      ``normalize_obs`` the network trains on standardised obs, and the standardisation is
      folded into its first layer here; ``carry.critic.params`` act on standardised obs).
      No environment is touched.

    Raises:
      ValueError: on empty or non-discrete demos, actions ≥ n_actions, no episode start
        (loss "v0"), or a num_steps that is not a positive multiple of chunk_size.
    """
    n_actions = check_demos(demos, n_actions, config)
    obs_dim = int(np.asarray(demos.obs).shape[1])
    mean, std = obs_statistics(demos) if config.normalize_obs else (np.zeros(obs_dim, np.float32),
                                                                     np.ones(obs_dim, np.float32))
    demos = standardize(demos, mean, std)
    has_start = bool(np.any(np.asarray(demos.episode_start) > 0))  # required for "v0" (checked above)
    init_obs = initial_observations(demos) if has_start else np.zeros((1, obs_dim), np.float32)
    data = IQData(Transitions(*(jnp.asarray(x) for x in demos))._replace(action=jnp.asarray(demos.action, jnp.int32)),
                  jnp.asarray(init_obs, jnp.float32))
    bs = int(config.batch_size)
    _, graphdef = make_q_network(obs_dim, n_actions, config)
    init, step = make_update(config, obs_dim, n_actions)

    def update(carry: IQState, data: IQData):
        key, k_e, k_p = jax.random.split(carry.key, 3)
        batch = IQBatch(sample_batch(k_e, data.demos, bs), sample_batch(k_p, data.demos, bs), data.init_obs)
        carry, terms = step(carry, batch)
        return carry._replace(key=key), terms

    def policy_params(carry):  # params that act on raw obs
        params = carry.critic.params
        return fold_obs_normalization(params, mean, std) if config.normalize_obs else params

    return OfflineTrainer(init, update, data, int(num_steps), int(chunk_size), graphdef, policy_params)
