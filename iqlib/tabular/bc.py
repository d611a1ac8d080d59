"""Tabular behavioural cloning: the maximum-likelihood policy of state-action counts.

BC is the zero-penalty limit of IQ-Learn (`iqlib.tabular.iq_learn`): with λ = 0 and the
telescoped initial term, J(Q) = α Σ_{s,a} ρ(s, a) log π_Q(a|s), whose maximiser over a free
table is π(a|s) = n(s, a) / n(s). `log_likelihood` scores any soft-Q policy on the counts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["bc_tabular", "log_likelihood"]


def bc_tabular(counts, prior=0.0):
    """Tabular behavioural cloning: the maximum-likelihood policy π(a|s) = counts(s, a)/counts(s).

    counts: (S, A). prior: pseudo-count added to every (s, a) (Laplace smoothing); states with
    no data get the uniform policy. Returns π: (S, A).
    """
    c = jnp.asarray(counts) + prior
    n = c.sum(-1, keepdims=True)
    return jnp.where(n > 0, c / jnp.where(n > 0, n, 1.0), 1.0 / c.shape[-1])


def log_likelihood(counts, Q, alpha):
    """Log-likelihood Σ_{s,a} counts(s, a) log π_Q(a|s) of demonstrations, in nats.

    counts, Q: (S, A); π_Q = softmax(Q/α), α the entropy temperature. Returns a scalar.
    """
    log_pi = jax.nn.log_softmax(Q / alpha, axis=-1)
    return jnp.sum(jnp.where(counts > 0, counts * log_pi, 0.0))
