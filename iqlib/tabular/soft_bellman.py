"""Soft (max-entropy) Bellman operators, their inverse, and exact tabular solvers.

Max-entropy RL (Ziebart 2010; Haarnoja et al. 2017) with entropy temperature α:

    V(s)        = α log Σ_a exp(Q(s, a) / α)                     soft value
    π(a | s)    = exp((Q(s, a) − V(s)) / α) = softmax(Q(s, ·)/α)  soft-greedy policy
    (B Q)(s, a) = r(s, a) + γ Σ_s' P(s' | s, a) V(s')              soft Bellman operator
    (T Q)(s, a) = Q(s, a) − γ Σ_s' P(s' | s, a) V(s')              inverse soft Bellman operator

The soft-optimal Q* is the fixed point Q* = B Q*; the inverse operator maps it back to its
reward, r = T Q*, which is the identity IQ-Learn (Garg et al., NeurIPS 2021, Sec. 3–4) is
built on: optimise over Q, read the policy and the reward off Q.

Two exact solvers of V = Φ(V), Φ(V)(s) = α log Σ_a exp((r(s, a) + γ P V(s, a)) / α):
- successive approximation (soft value iteration), a γ-contraction: ~log(tol)/log(γ) steps;
- Newton–Kantorovich, V ← V − (I − γ P_π)⁻¹ (V − Φ(V)), which is exactly soft policy
  iteration (evaluate π = softmax(Q/α), improve) and converges quadratically. It is the only
  practical choice at γ = 0.9999 (Rust 1987's discount), where value iteration needs ~10⁵ steps.

`soft_q_differentiable` gives exact gradients through the fixed point: one Newton step from
the converged (stop-gradient) V has ∂V_new/∂V = 0 at the fixed point, so its derivative in r is
the implicit-function derivative (I − γ P_π)⁻¹ Σ_a π ∂r — no unrolled iterations.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

__all__ = [
    "soft_value",
    "softmax_policy",
    "expected_next_value",
    "soft_bellman",
    "inverse_soft_bellman",
    "policy_transition",
    "SoftSolution",
    "solve_soft_bellman",
    "soft_q_differentiable",
    "soft_policy_evaluation",
    "occupancy",
    "expected_return",
]


def soft_value(Q, alpha):
    """Soft value V(s) = α logsumexp(Q(s, ·)/α).  Q: (..., A) -> (...,)."""
    return alpha * logsumexp(Q / alpha, axis=-1)


def softmax_policy(Q, alpha):
    """Soft-greedy policy π(a|s) = softmax(Q(s, ·)/α).  Q: (..., A) -> (..., A)."""
    return jax.nn.softmax(Q / alpha, axis=-1)


def expected_next_value(P, V):
    """(P V)(s, a) = Σ_s' P[s, a, s'] V(s').  P: (S, A, S), V: (S,) -> (S, A)."""
    return jnp.einsum("sat,t->sa", P, V)


def soft_bellman(Q, r, P, gamma, alpha):
    """Soft Bellman operator (B Q)(s, a) = r(s, a) + γ (P V_Q)(s, a).  All (S, A) but P: (S, A, S)."""
    return r + gamma * expected_next_value(P, soft_value(Q, alpha))


def inverse_soft_bellman(Q, P, gamma, alpha):
    """Inverse soft Bellman operator r = Q − γ P V_Q (IQ-Learn, Garg et al. 2021, Eq. 4 / Lemma 3.2).

    Q: (S, A), P: (S, A, S) -> reward (S, A), in reward units. For Q = Q* of a reward r this
    returns r exactly; for any Q it returns the unique reward for which Q is soft-optimal.
    """
    return Q - gamma * expected_next_value(P, soft_value(Q, alpha))


def policy_transition(P, policy):
    """State-to-state kernel P_π(s, s') = Σ_a π(a|s) P[s, a, s'].  P: (S, A, S), π: (S, A) -> (S, S)."""
    return jnp.einsum("sa,sat->st", policy, P)


class SoftSolution(NamedTuple):
    """Result of `solve_soft_bellman`.

    Q: (S, A) soft-optimal Q; V: (S,) soft value; policy: (S, A) = softmax(Q/α);
    n_iter: iterations used; residual: ‖Φ(V) − V‖∞ at the end (reward units);
    converged: residual ≤ tol · (1 + ‖V‖∞).
    """

    Q: jax.Array
    V: jax.Array
    policy: jax.Array
    n_iter: jax.Array
    residual: jax.Array
    converged: jax.Array


def _phi(V, r, P, gamma, alpha):
    Q = r + gamma * expected_next_value(P, V)
    return soft_value(Q, alpha), Q


def _newton_step(V, r, P, gamma, alpha):
    """One Newton–Kantorovich step = one soft policy-iteration step (evaluate softmax(Q_V/α))."""
    _, Q = _phi(V, r, P, gamma, alpha)
    pi = softmax_policy(Q, alpha)
    S = V.shape[0]
    # Σ_a π (r − α log π): the soft reward of π; log π from Q for numerical stability.
    log_pi = jax.nn.log_softmax(Q / alpha, axis=-1)
    r_pi = jnp.sum(pi * (r - alpha * log_pi), axis=-1)
    A = jnp.eye(S, dtype=V.dtype) - gamma * policy_transition(P, pi)
    return jnp.linalg.solve(A, r_pi)


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _check_number(x, name: str, lo: float, lo_closed: bool, hi: float = np.inf):
    """A concrete real number in [lo, hi) (or (lo, hi)), finite; tracers pass. This module checks its
    own inputs (rather than importing `iqlib.tabular.checks`) so that the copyable IQ-Learn core,
    which imports it, stays two files."""
    if _is_traced(x):
        return x
    if isinstance(x, (bool, np.bool_, str, bytes)) or np.ndim(x) != 0:
        raise ValueError(f"{name} must be a real number, got {x!r}")
    v = float(x)
    if not (np.isfinite(v) and (v >= lo if lo_closed else v > lo) and v < hi):
        expected = (f"in {'[' if lo_closed else '('}{lo:g}, {hi:g})" if np.isfinite(hi)
                    else f"{'>=' if lo_closed else '>'} {lo:g}")
        raise ValueError(f"{name} must be a finite number {expected}, got {x!r}")
    return v


def _check_arrays(r, P) -> None:
    """Concrete r: (S, A) finite; concrete P: (S, A, S), non-negative rows summing to 1 (tracers skipped)."""
    if not _is_traced(P):
        P_np = np.asarray(P, dtype=np.float64)
        if P_np.ndim != 3 or P_np.shape[0] != P_np.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {P_np.shape}")
        if not np.all(np.isfinite(P_np)) or np.any(P_np < 0):
            raise ValueError("P must be finite and non-negative")
        bad = np.abs(P_np.sum(axis=2) - 1.0) > 1e-4
        if np.any(bad):
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"P[s, a, :] must sum to 1 for every (s, a); P[{s}, {a}, :] sums to {P_np[s, a].sum():.6g}")
    if not _is_traced(r):
        r_np = np.asarray(r)
        if not _is_traced(P) and r_np.shape != np.shape(P)[:2]:
            raise ValueError(f"r must have shape (S, A) = {np.shape(P)[:2]} to match P, got {r_np.shape}")
        if not np.all(np.isfinite(r_np)):
            raise ValueError("r (the reward) has NaN or infinite entries")


def solve_soft_bellman(r, P, gamma, alpha, *, method="newton", tol=1e-10, max_iter=None, V0=None):
    """Solve the soft Bellman equation for the soft-optimal Q* of reward r.

    Args:
      r: (S, A) reward. P: (S, A, S) transitions. gamma: discount in [0, 1).
      alpha: entropy temperature α > 0 (reward units).
      method: "newton" (soft policy iteration; an (S, S) linear solve per step, quadratic
        convergence, needed for γ close to 1) or "iteration" (successive approximation).
      tol: relative tolerance; stops when ‖Φ(V) − V‖∞ ≤ tol · (1 + ‖V‖∞). Values below the
        dtype's resolution (≈1e-7 in float32) cannot be reached: use float64 for tight solves.
      max_iter: iteration cap (default 100 for newton, 100_000 for iteration).
      V0: optional (S,) warm start.

    Returns:
      `SoftSolution` with Q, V, policy, n_iter, residual and converged flag. An unconverged
      solve is reported (converged = False), never silently accepted: converged also needs a
      finite residual and a finite V.

    Raises:
      ValueError: naming the argument, if `method` is unknown, `gamma` is not in [0, 1) (at
        γ = 1 there is no discounted fixed point), `alpha` is not a finite number > 0, `tol` is
        not a finite number >= 0 or `max_iter` not a positive integer (concrete values only:
        traced ones, inside jit, are not checked).
    """
    if method not in ("newton", "iteration"):
        raise ValueError(f"method must be 'newton' or 'iteration', got {method!r}")
    gamma = _check_number(gamma, "gamma (the discount)", 0.0, True, 1.0)
    alpha = _check_number(alpha, "alpha (the entropy temperature)", 0.0, False)
    tol = _check_number(tol, "tol", 0.0, True)
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1):
        raise ValueError(f"max_iter must be a positive integer or None, got {max_iter!r}")
    _check_arrays(r, P)
    return _solve(r, P, gamma, alpha, method=method, tol=tol, max_iter=max_iter, V0=V0)


@partial(jax.jit, static_argnames=("method", "max_iter"))
def _solve(r, P, gamma, alpha, *, method, tol, max_iter, V0):
    if max_iter is None:
        max_iter = 100 if method == "newton" else 100_000
    r = jnp.asarray(r)
    V = jnp.zeros(r.shape[0], r.dtype) if V0 is None else jnp.asarray(V0, r.dtype)

    def residual(V):
        return jnp.max(jnp.abs(_phi(V, r, P, gamma, alpha)[0] - V))

    def cond(carry):
        V, it, res = carry
        return (it < max_iter) & (res > tol * (1.0 + jnp.max(jnp.abs(V))))

    def body(carry):
        V, it, _ = carry
        if method == "newton":
            V = _newton_step(V, r, P, gamma, alpha)
        else:
            V = _phi(V, r, P, gamma, alpha)[0]
        return V, it + 1, residual(V)

    V, n_iter, res = jax.lax.while_loop(cond, body, (V, jnp.array(0), residual(V)))
    Q = r + gamma * expected_next_value(P, V)
    converged = (res <= tol * (1.0 + jnp.max(jnp.abs(V)))) & jnp.isfinite(res) & jnp.all(jnp.isfinite(V))
    return SoftSolution(Q, V, softmax_policy(Q, alpha), n_iter, res, converged)


def soft_q_differentiable(r, P, gamma, alpha, *, tol=1e-10, max_iter=100):
    """Soft-optimal Q*(r) with exact implicit gradients in r, P, γ and α.

    The fixed point is found by Newton's method without gradient tracking; one more Newton
    step from the stop-gradient solution carries the derivative, which at a fixed point of a
    Newton map equals the implicit-function derivative (I − γ P_π)⁻¹ ∂Φ.

    Args/shape: r: (S, A), P: (S, A, S) -> (Q: (S, A), solution: SoftSolution).
    """
    sol = solve_soft_bellman(
        jax.lax.stop_gradient(r), jax.lax.stop_gradient(P), jax.lax.stop_gradient(gamma),
        jax.lax.stop_gradient(alpha), method="newton", tol=tol, max_iter=max_iter,
    )
    V = _newton_step(jax.lax.stop_gradient(sol.V), r, P, gamma, alpha)
    return r + gamma * expected_next_value(P, V), sol


def soft_policy_evaluation(policy, r, P, gamma, alpha):
    """Soft value of a fixed policy: V^π = (I − γ P_π)⁻¹ Σ_a π (r − α log π), Q^π = r + γ P V^π.

    With alpha = 0 this is ordinary policy evaluation. policy: (S, A) (rows sum to 1),
    r: (S, A), P: (S, A, S) -> (Q^π: (S, A), V^π: (S,)). Zero-probability actions contribute 0
    to the entropy term (0 log 0 = 0).

    Raises: ValueError if a concrete gamma is not in [0, 1) or alpha is not a finite number >= 0.
    """
    gamma = _check_number(gamma, "gamma (the discount)", 0.0, True, 1.0)
    alpha = _check_number(alpha, "alpha (the entropy temperature)", 0.0, True)
    ent = -jnp.sum(jnp.where(policy > 0, policy * jnp.log(jnp.where(policy > 0, policy, 1.0)), 0.0), -1)
    r_pi = jnp.sum(policy * r, axis=-1) + alpha * ent
    S = r.shape[0]
    V = jnp.linalg.solve(jnp.eye(S, dtype=r_pi.dtype) - gamma * policy_transition(P, policy), r_pi)
    return r + gamma * expected_next_value(P, V), V


def occupancy(policy, P, p0, gamma):
    """Normalised discounted state-action occupancy ρ_π(s, a) = (1 − γ) Σ_t γ^t Pr(s_t = s, a_t = a).

    Solves d = (1 − γ) p0 + γ P_πᵀ d, then ρ = d(s) π(a|s). policy: (S, A), P: (S, A, S),
    p0: (S,) -> ρ: (S, A), summing to 1. Raises ValueError if a concrete gamma is not in [0, 1).
    """
    gamma = _check_number(gamma, "gamma (the discount)", 0.0, True, 1.0)
    S = p0.shape[0]
    d = jnp.linalg.solve(jnp.eye(S, dtype=p0.dtype) - gamma * policy_transition(P, policy).T, (1 - gamma) * p0)
    return d[:, None] * policy


def expected_return(policy, r, P, p0, gamma, alpha=0.0):
    """Expected discounted return E_{s0∼p0}[V^π(s0)] (plus α·entropy if alpha > 0), a scalar in reward units."""
    _, V = soft_policy_evaluation(policy, r, P, gamma, alpha)
    return jnp.dot(p0, V)
