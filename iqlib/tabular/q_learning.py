"""Tabular offline Q-learning with the standard max backup: the overestimation trap IQL avoids.

Offline Q-learning on a dataset D backs up the maximum over *all* actions at the next state,

    Q(s, a) ← r̄(s, a) + γ Σ_s' P̂[s, a, s'] max_a' Q(s', a')      for (s, a) with N(s, a) > 0,

with r̄, P̂ the dataset's tables (`iqlib.tabular.dataset.dataset_tables`; P̂ carries 1 − terminal).
A pair (s, a) the data never contains has no target at all, so it keeps its initial value
Q_init(s, a) for ever, and the max at s' reads it as soon as it is the largest: an optimistic
Q_init at a single unseen action is copied into every state whose data lead there. This is the
extrapolation error that IQL (Kostrikov, Nair, Levine, ICLR 2022, §3–4) removes by replacing the
max with an expectile over the dataset's actions (Eq. 5): V(s) = expectile_τ{Q(s, a) : N(s, a) > 0},
which never queries an unseen action (`iqlib.tabular.iql`).

With the unseen entries held fixed, the backup is a γ-contraction on the seen entries in the
sup norm, so iterating it from Q_init converges to a unique fixed point. On a *known* MDP
(counts all positive, r̄ = r, P̂ = P) the same iteration is exact Q-iteration and its fixed point
is Q*: `offline_q_learning(np.ones((S, A)), r, P, ...)`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.dataset import dataset_tables

__all__ = ["max_backup", "offline_q_learning", "greedy_policy", "OfflineQResult", "fit_offline_q_learning"]


def max_backup(Q, counts, r_bar, P_cont, gamma, q_init):
    """One sweep of the max backup; unseen pairs keep their initial value.

    Q_new(s, a) = r̄(s, a) + γ Σ_s' P̂[s, a, s'] max_a' Q(s', a')   where N(s, a) > 0,
    Q_new(s, a) = Q_init(s, a)                                      where N(s, a) = 0.

    Q: (S, A); counts: (S, A) N(s, a); r_bar: (S, A); P_cont: (S, A, S); gamma: γ;
    q_init: scalar or (S, A). Returns Q_new: (S, A).
    """
    target = r_bar + gamma * P_cont @ jnp.max(Q, axis=-1)
    return jnp.where(counts > 0, target, q_init)


@partial(jax.jit, static_argnames=("max_iter",))
def offline_q_learning(counts, r_bar, P_cont, gamma, q_init, tol=1e-6, max_iter: int = 20_000):
    """Fixed point of `max_backup`, iterated from Q = Q_init (a γ-contraction on the seen pairs).

    Args:
      counts: (S, A) N(s, a) (all positive for exact Q-iteration on a known model);
      r_bar: (S, A) mean reward;  P_cont: (S, A, S) continuation kernel (rows sum to 1 − P(terminal)).
      gamma: discount γ in [0, 1);  q_init: scalar or (S, A) initial values, kept where N = 0.
      tol: stop when max |Q_new − Q| ≤ tol · max(1, max |Q|);  max_iter: iteration cap (static).

    Returns:
      (Q: (S, A), n_iter, residual: the last sup-norm change).
    """
    r_bar = jnp.asarray(r_bar)
    Q0 = jnp.broadcast_to(jnp.asarray(q_init, r_bar.dtype), r_bar.shape)

    def cond(carry):
        Q, i, delta = carry
        return (delta > tol * jnp.maximum(1.0, jnp.max(jnp.abs(Q)))) & (i < max_iter)

    def body(carry):
        Q, i, _ = carry
        Q_new = max_backup(Q, counts, r_bar, P_cont, gamma, Q0)
        return Q_new, i + 1, jnp.max(jnp.abs(Q_new - Q))

    return jax.lax.while_loop(cond, body, (Q0, jnp.asarray(0), jnp.asarray(jnp.inf, r_bar.dtype)))


def greedy_policy(Q, rtol=1e-5):
    """(S, A) greedy policy of Q: uniform over the actions within rtol · max(1, |max_a Q|) of the max."""
    Q = jnp.asarray(Q)
    best = jnp.max(Q, axis=-1, keepdims=True)
    ties = Q >= best - rtol * jnp.maximum(1.0, jnp.abs(best))
    return ties / ties.sum(-1, keepdims=True)


class OfflineQResult(NamedTuple):
    """Q: (S, A) (Q_init where N = 0); V: (S,) max_a Q; policy: (S, A) greedy; counts: (S, A);
    converged: bool; n_iter: int; residual: last sup-norm change of Q."""

    Q: jnp.ndarray
    V: jnp.ndarray
    policy: jnp.ndarray
    counts: jnp.ndarray
    converged: jnp.ndarray
    n_iter: jnp.ndarray
    residual: jnp.ndarray


def fit_offline_q_learning(dataset, n_states: int, n_actions: int, discount: float = 0.99, q_init=0.0,
                           tol: float = 1e-6, max_iter: int = 20_000) -> OfflineQResult:
    """Offline Q-learning with the max over all actions on a transitions dataset (module docstring).

    Args:
      dataset: transitions dict (obs, action, reward, next_obs, terminal, timeout; (N,) each).
      n_states, n_actions: S and A;  discount: γ in [0, 1).
      q_init: finite scalar or (S, A) initial values; the unseen pairs keep them.
      tol, max_iter: as `offline_q_learning`.

    Returns:
      `OfflineQResult`.

    Raises:
      ValueError: a malformed dataset (`check_dataset`), γ outside [0, 1), or a non-finite q_init.
    """
    if not (0.0 <= discount < 1.0):
        raise ValueError(f"discount must lie in [0, 1), got {discount}")
    if not np.all(np.isfinite(np.asarray(q_init, dtype=float))):
        raise ValueError("q_init must be finite")
    counts, r_bar, P_cont, _ = dataset_tables(dataset, n_states, n_actions)
    f = jnp.asarray
    Q, n_iter, residual = offline_q_learning(f(counts), f(r_bar), f(P_cont), discount, f(q_init), tol,
                                             max_iter=max_iter)
    converged = (residual <= tol * jnp.maximum(1.0, jnp.max(jnp.abs(Q)))) & jnp.all(jnp.isfinite(Q))
    return OfflineQResult(Q, Q.max(-1), greedy_policy(Q), f(counts), converged, n_iter, residual)
