"""The exact τ-expectile of a (weighted) sample: the quantity IQL's value loss estimates.

Implicit Q-Learning (Kostrikov, Nair, Levine, "Offline Reinforcement Learning with Implicit
Q-Learning", ICLR 2022, arXiv:2110.06169) fits the state value V(s) as an upper expectile of
Q(s, a) over the dataset's actions, with the asymmetric squared loss (Eq. 5; :func:`iqlib.neural.iql.expectile_loss`)

    L₂^τ(u) = |τ − 1(u < 0)| u²,      u = target − prediction  (IQL: u = Q(s, a) − V(s)).

Sign convention: a *positive* u (the target lies above the prediction) is weighted by τ, a
negative one by 1 − τ, so τ > 0.5 pulls the prediction up. The τ-expectile m_τ of a
random variable X (Newey & Powell 1987) minimises E[L₂^τ(X − m)]; its first-order condition is

    g(m) = τ E[(X − m)₊] − (1 − τ) E[(m − X)₊] = 0.

m_{0.5} is the mean; m_τ grows with τ and tends to ess sup X as τ → 1 (for a sample: its
maximum). In IQL, X = Q(s, a) with a ∼ π_β(·|s), so V(s) → max of Q over the *support* of the
behaviour policy: a soft, in-distribution maximum that never queries Q at unseen actions.

Exact computation: g is piecewise linear and decreasing in m, and on each piece the root is
a weighted mean with weights c_i = τ (x_i ≥ m) or 1 − τ (x_i < m). Newton's method on g is
therefore the fixed-point iteration m ← Σ c_i(m) w_i x_i / Σ c_i(m) w_i; it is exact as soon as
the pattern {x_i ≥ m} stops changing, which happens after at most n steps (a handful in
practice: g is monotone and convex or concave, so Newton converges monotonically after the first step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from iqlib.tabular.checks import check_sample, check_unit_interval, is_traced

__all__ = ["expectile"]


def expectile(x, tau, weights=None, axis: int = -1, max_iter: int | None = None):
    """The exact τ-expectile of a (weighted) sample along `axis`.

    Solves τ Σ_i w_i (x_i − m)₊ = (1 − τ) Σ_i w_i (m − x_i)₊ by Newton's method on this
    piecewise-linear condition (module docstring), started at the weighted mean. Jit-able and
    vmap-able (`tau` may be traced); not meant for differentiation.

    Args:
      x: (..., n, ...) sample values; the sample runs along `axis`.
      tau: expectile level τ in (0, 1); 0.5 gives the (weighted) mean.
      weights: optional non-negative weights broadcastable to `x` (e.g. action counts, or a
        behaviour policy π_β(a|s)); zero weight removes an entry (its x may be anything
        finite). Along `axis` the weights must not all be zero (the result is NaN there).
      axis: the sample axis.
      max_iter: Newton steps at most; default n + 1, enough for the exact answer.

    Returns:
      m: x's shape without `axis`, the τ-expectile, dtype of x (floating).

    Raises:
      ValueError: if a concrete `tau` (scalar or array) has an entry outside (0, 1), a concrete
        `x` is empty along `axis` or not finite, or a concrete weight is negative or not finite.
        Traced values (inside jit / vmap) are not checked.
    """
    check_unit_interval(tau, "tau", closed=False)
    check_sample(x, "x", axis=axis)
    x = jnp.moveaxis(jnp.asarray(x, dtype=jnp.result_type(float, jnp.asarray(x).dtype)), axis, -1)
    if weights is None:
        w = jnp.ones_like(x)
    else:
        w_in = jnp.asarray(weights, dtype=x.dtype)
        if not is_traced(w_in) and not bool(jnp.all((w_in >= 0) & jnp.isfinite(w_in))):
            raise ValueError("weights must be finite and non-negative")
        w = jnp.moveaxis(jnp.broadcast_to(w_in, jnp.moveaxis(x, -1, axis).shape), axis, -1)
    n = x.shape[-1]
    max_iter = n + 1 if max_iter is None else int(max_iter)

    def coefficients(m):
        return jnp.where(x >= m[..., None], tau, 1.0 - tau) * w

    def newton(c):
        return jnp.sum(c * x, -1) / jnp.sum(c, -1)

    m0 = jnp.sum(w * x, -1) / jnp.sum(w, -1)
    c0 = coefficients(m0)

    def cond(carry):
        _, _, i, changed = carry
        return changed & (i < max_iter)

    def body(carry):
        _, c, i, _ = carry
        m_new = newton(c)
        c_new = coefficients(m_new)
        return m_new, c_new, i + 1, jnp.any(c_new != c)

    m, _, _, _ = jax.lax.while_loop(cond, body, (m0, c0, jnp.asarray(0), jnp.asarray(True)))
    return m
