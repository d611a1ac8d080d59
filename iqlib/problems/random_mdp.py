"""Seeded random tabular MDPs ("Garnet"-style), for checking identities on small problems.

A Garnet MDP (Archibald, McKinnon & Thomas 1995; Bhatnagar et al. 2009, "Natural
actor-critic algorithms") has S states, A actions and a branching factor b: every pair
(s, a) moves to b distinct successor states chosen uniformly at random, with random
probabilities. Here

    successors(s, a) ⊂ {0, …, S−1}, |successors| = b     uniform without replacement
    P[s, a, successors] ~ Dirichlet(1, …, 1)              zero elsewhere
    r(s, a) ~ N(0, reward_scale²)                          i.i.d.
    p0 = uniform over the S states, or ~ Dirichlet(p0_concentration · 1)

The draws are made in float64 by a NumPy generator seeded with the bits of the given
`jax.random.key`, so a key gives the same MDP whether or not `jax_enable_x64` is set (the
stored arrays then take the default dtype, see `TabularMDP`).
"""

from __future__ import annotations

import jax
import numpy as np

from iqlib.tabular.mdp import TabularMDP

__all__ = ["random_mdp"]


def _positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def random_mdp(
    key,
    n_states: int,
    n_actions: int,
    discount: float,
    entropy_temperature: float = 1.0,
    *,
    branching: int | None = None,
    reward_scale: float = 1.0,
    p0_concentration: float | None = None,
) -> TabularMDP:
    """A seeded random (Garnet-like) tabular MDP.

    Args:
      key: a `jax.random.key` (or a legacy `PRNGKey`); the same key gives the same MDP.
      n_states: S ≥ 1. n_actions: A ≥ 1.
      discount: γ in [0, 1). entropy_temperature: α > 0 (reward units).
      branching: b, successors per (s, a), 1 ≤ b ≤ S; default min(3, S).
      reward_scale: standard deviation of r(s, a) (reward units), ≥ 0.
      p0_concentration: None for a uniform p0 (every state a possible start, so every
        state has positive occupancy under a full-support policy); else a Dirichlet
        concentration c > 0 for a random p0.

    Returns:
      `TabularMDP` with P: (S, A, S) (b non-zeros per row), r: (S, A), p0: (S,).

    Raises:
      ValueError: naming the argument, for a non-positive size, b outside [1, S], a negative
        or non-finite `reward_scale` or `p0_concentration` ≤ 0 (and `discount`, `entropy_temperature` via
        `TabularMDP`).
    """
    S = _positive_int(n_states, "n_states")
    A = _positive_int(n_actions, "n_actions")
    b = min(3, S) if branching is None else _positive_int(branching, "branching")
    if b > S:
        raise ValueError(f"branching must be in [1, n_states] = [1, {S}], got {b}")
    if not (np.isfinite(reward_scale) and reward_scale >= 0):
        raise ValueError(f"reward_scale must be a finite number >= 0, got {reward_scale}")
    if p0_concentration is not None and not (np.isfinite(p0_concentration) and p0_concentration > 0):
        raise ValueError(f"p0_concentration must be None or a finite number > 0, got {p0_concentration}")

    # The key seeds a NumPy generator: the draws are tiny, and NumPy needs no compilation
    # (jax.random would compile a kernel per shape), whatever the x64 setting.
    key_bits = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    rng = np.random.default_rng(np.asarray(key_bits, np.uint32).ravel())
    # b distinct successors per (s, a): the first b entries of a random permutation.
    order = np.argsort(rng.random((S, A, S)), axis=-1)[..., :b]
    P = np.zeros((S, A, S))
    np.put_along_axis(P, order, rng.dirichlet(np.ones(b), size=(S, A)), axis=-1)
    P /= P.sum(axis=-1, keepdims=True)
    r = reward_scale * rng.standard_normal((S, A))
    if p0_concentration is None:
        p0 = np.full(S, 1.0 / S)
    else:
        p0 = rng.dirichlet(np.full(S, float(p0_concentration)))
        p0 /= p0.sum()
    return TabularMDP(P=P, r=r, p0=p0, discount=discount, entropy_temperature=entropy_temperature)
