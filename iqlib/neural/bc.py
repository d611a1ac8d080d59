"""Behaviour cloning (BC) by maximum likelihood.

BC fits a policy π_θ to the dataset's actions,

    max_θ  E_{(s, a) ∼ D} [ log π_θ(a | s) ],

- continuous actions: :class:`~iqlib.core.nets.GaussianPolicy` (tanh'd mean, state-independent
  log-std), log π = log N(a; μ_θ(s), σ²) (:func:`~iqlib.core.nets.gaussian_log_prob`) — IQL's
  AWR actor loss (Kostrikov et al. 2021, Eq. 7) with every weight equal to 1;
- discrete actions: :class:`~iqlib.core.nets.CategoricalPolicy`, the cross-entropy −log softmax(z)_a.

%BC (Chen et al. 2021, "Decision Transformer") is BC on the best 10 % of episodes:
``make_train(config, top_fraction_episodes(data, 0.1), ...)``.

Training: :func:`make_train` returns an :class:`~iqlib.neural.offline.OfflineTrainer`, the
chunked driver every offline learner shares: ``train(key) -> (state, metrics)`` is pure and
``train.run(keys, callback=...)`` runs all seeds in compiled ``lax.scan`` chunks with evaluation
between them. With ``BCConfig.normalize_obs`` the policy trains on observations standardised by
the data's mean/std, folded exactly into its first layer afterwards
(:mod:`iqlib.core.normalization`), as offline IQ-Learn does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax

from iqlib.core.nets import TrainState, apply_gradients, create_train_state, init_params, log_likelihood, make_policy, check_finite
from iqlib.core.normalization import fold_obs_normalization, obs_statistics, standardize
from iqlib.core.transitions import Transitions
from iqlib.neural.offline import OfflineTrainer, action_space, prepare_data, sample_batch

__all__ = ["BCConfig", "BCState", "make_train"]


@dataclasses.dataclass(frozen=True)
class BCConfig:
    """Behaviour-cloning hyper-parameters (defaults: IQL's actor, Kostrikov et al. 2021, App. B)."""

    hidden: tuple = (256, 256)
    """Hidden layer widths of the policy MLP (IQL: 256 × 256)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy (IQL: 3e-4), constant."""
    batch_size: int = 256
    """Transitions per gradient step, drawn uniformly with replacement (IQL: 256)."""
    normalize_obs: bool = False
    """Standardise obs by the data's mean/std (+1e-3) while training, folded into the first
    layer afterwards (``train.policy_params`` act on raw obs). Off by default (IQL's baselines)."""

    def __post_init__(self):
        check_finite(self)
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {self.hidden}")
        if not self.actor_lr > 0:
            raise ValueError(f"actor_lr must be > 0, got {self.actor_lr}")
        if int(self.batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


class BCState(NamedTuple):
    """Carry of BC training: the policy's :class:`TrainState` and the PRNG key."""

    policy: TrainState
    key: jax.Array


def make_train(config: BCConfig, data: Transitions | Mapping[str, Any], num_steps: int, *,
               chunk_size: int = 1000, n_actions: int | None = None) -> OfflineTrainer:
    """Behaviour cloning: maximise log π(a|s) over the dataset with Adam.

    Args:
      config: :class:`BCConfig`.
      data: dataset (validated by :func:`prepare_data`); integer actions ``(N,)`` → categorical
        policy, float actions ``(N, A)`` in [-1, 1] → Gaussian policy.
      num_steps: gradient steps (a multiple of ``chunk_size``).
      chunk_size: updates per compiled ``lax.scan`` chunk.
      n_actions: number of discrete actions (default: max dataset action + 1).

    Returns:
      :class:`OfflineTrainer`; carry :class:`BCState`, metrics ``{"bc_loss"}`` (mean −log π, nats).
      ``train.policy_params(carry)`` act on raw obs (with ``normalize_obs`` the standardisation
      is folded in; ``carry.policy.params`` then act on standardised obs).

    Raises:
      ValueError: bad data (see :func:`prepare_data`) or ``num_steps``/``chunk_size``.
    """
    data = prepare_data(data)
    space = action_space(data, n_actions)
    if config.normalize_obs:
        mean, std = obs_statistics(data)
        data = standardize(data, mean, std)
    graphdef, _ = init_params(make_policy(space, config.hidden), jax.random.key(0))
    tx = optax.adam(config.actor_lr)

    def init(key):
        _, params = init_params(make_policy(space, config.hidden), key)
        return BCState(create_train_state(params, tx), jax.random.fold_in(key, 1))

    def update(carry: BCState, data: Transitions):
        key, k = jax.random.split(carry.key)
        batch = sample_batch(k, data, config.batch_size)
        loss, grads = jax.value_and_grad(
            lambda p: -jnp.mean(log_likelihood(graphdef, p, batch.obs, batch.action)))(carry.policy.params)
        return BCState(apply_gradients(carry.policy, grads, tx), key), {"bc_loss": loss}

    def policy_params(carry):  # params that act on raw obs
        params = carry.policy.params
        return fold_obs_normalization(params, mean, std) if config.normalize_obs else params

    return OfflineTrainer(init, update, jax.tree_util.tree_map(jnp.asarray, data), int(num_steps),
                          int(chunk_size), graphdef, policy_params)
