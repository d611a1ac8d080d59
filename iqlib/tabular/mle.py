"""Structural maximum likelihood for dynamic discrete choice (NFXP-style), in JAX.

The structural model (Rust 1987, Eq. 4.14; the "nested fixed point" algorithm): a reward
linear in features, r_θ(s, a) = Φ(s, a) · θ, transitions P known (first stage), logit shocks
of scale α. For each θ the soft Bellman equation is solved exactly (inner loop: Newton–
Kantorovich = soft policy iteration, `soft_bellman.soft_q_differentiable`), and the choice
log-likelihood

    ℓ(θ) = Σ_{s,a} n(s, a) log π_θ(a | s),     π_θ = softmax(Q*_θ / α)

is maximised over θ (outer loop: optax L-BFGS). Gradients are exact implicit derivatives
through the fixed point, so nothing is unrolled. Standard errors use the BHHH outer product
of the per-observation scores, as Rust did: Var(θ̂) ≈ (Σ_i g_i g_iᵀ)⁻¹.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.checks import check_discount, check_positive
from iqlib.tabular.lbfgs import lbfgs_minimize
from iqlib.tabular.mdp import check_transitions
from iqlib.tabular.soft_bellman import soft_q_differentiable

__all__ = ["MLEResult", "choice_log_likelihood", "fit_structural_mle"]


class MLEResult(NamedTuple):
    """Output of `fit_structural_mle`.

    theta: (K,) estimate; se: (K,) BHHH standard errors; loglik: ℓ(θ̂) in nats;
    Q: (S, A) soft-optimal Q at θ̂; policy: (S, A) choice probabilities; reward: (S, A) = Φ θ̂;
    converged: outer gradient norm ≤ tol and the inner solve converged; n_iter: outer
    L-BFGS iterations; grad_norm: final ‖∇ℓ/N‖₂; inner_converged: the soft Bellman solve at θ̂.
    """

    theta: jax.Array
    se: jax.Array
    loglik: jax.Array
    Q: jax.Array
    policy: jax.Array
    reward: jax.Array
    converged: jax.Array
    n_iter: jax.Array
    grad_norm: jax.Array
    inner_converged: jax.Array


def choice_log_likelihood(theta, counts, P, features, gamma, alpha):
    """ℓ(θ) = Σ n(s, a) log π_θ(a|s), in nats.  θ: (K,), counts: (S, A), P: (S, A, S), features: (S, A, K)."""
    Q, _ = soft_q_differentiable(features @ theta, P, gamma, alpha)
    log_pi = jax.nn.log_softmax(Q / alpha, axis=-1)
    return jnp.sum(jnp.where(counts > 0, counts * log_pi, 0.0))


def fit_structural_mle(counts, P, features, discount, entropy_temperature=1.0, theta0=None, *, max_iter=200,
                       tol=1e-8):
    """Maximum-likelihood estimate of a linear reward θ under the structural model.

    Args:
      counts: (S, A) observed (state, choice) counts. P: (S, A, S) transitions.
      features: (S, A, K); reward r_θ = features @ θ. discount: γ in [0, 1).
      entropy_temperature: the logit scale α > 0 (fixed; it is not identified separately from θ's scale).
      theta0: (K,) starting point (zeros by default). max_iter: outer iterations.
      tol: stop when ‖∇ℓ(θ)/N‖₂ ≤ tol (N = total count). Use float64 for γ near 1.

    Returns: `MLEResult`.

    Raises:
      ValueError: naming the argument: inconsistent shapes, empty, negative or non-finite counts,
        non-finite features or theta0, transition rows that do not sum to 1, discount not in
        [0, 1), entropy_temperature not a finite number > 0, max_iter not a positive integer,
        tol not a finite number >= 0.
    """
    discount = check_discount(discount, "discount")
    entropy_temperature = check_positive(entropy_temperature, "entropy_temperature")
    tol = check_positive(tol, "tol", allow_zero=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    dtype = jnp.asarray(P).dtype
    counts, P, features = np.asarray(counts, float), check_transitions(P, "P", atol=1e-4), np.asarray(features)
    if counts.shape != P.shape[:2]:
        raise ValueError(f"counts must have shape (S, A) = {P.shape[:2]}, got {counts.shape}")
    if features.ndim != 3 or features.shape[:2] != counts.shape:
        raise ValueError(f"features must have shape (S, A, K) with (S, A) = {counts.shape}, got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features has NaN or infinite entries")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)) or counts.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero")
    K = features.shape[-1]
    theta0 = jnp.zeros(K, dtype) if theta0 is None else jnp.asarray(theta0, dtype)
    if theta0.shape != (K,) or not bool(jnp.all(jnp.isfinite(theta0))):
        raise ValueError(f"theta0 must be a finite array of shape ({K},), got shape {theta0.shape}")
    return _fit(jnp.asarray(counts, dtype), jnp.asarray(P, dtype), jnp.asarray(features, dtype),
                jnp.asarray(discount, dtype), jnp.asarray(entropy_temperature, dtype), theta0, int(max_iter), tol)


@partial(jax.jit, static_argnames=("max_iter",))
def _fit(counts, P, features, gamma, alpha, theta0, max_iter, tol):
    n = jnp.sum(counts)

    def loss(theta):
        return -choice_log_likelihood(theta, counts, P, features, gamma, alpha) / n

    opt = lbfgs_minimize(loss, theta0, max_iter=max_iter, tol=tol)
    theta, gnorm = opt.params, opt.grad_norm

    # BHHH: per-(s, a) score of log π_θ(a|s), weighted by the counts.
    def log_pi(theta):
        Q, _ = soft_q_differentiable(features @ theta, P, gamma, alpha)
        return jax.nn.log_softmax(Q / alpha, axis=-1)

    scores = jax.jacobian(log_pi)(theta)  # (S, A, K)
    opg = jnp.einsum("sa,sak,sal->kl", counts, scores, scores)
    se = jnp.sqrt(jnp.diag(jnp.linalg.inv(opg)))
    Q, sol = soft_q_differentiable(features @ theta, P, gamma, alpha)
    return MLEResult(
        theta=theta, se=se, loglik=-loss(theta) * n, Q=Q, policy=jax.nn.softmax(Q / alpha, axis=-1),
        reward=features @ theta, converged=(gnorm <= tol) & sol.converged & jnp.isfinite(opt.value),
        n_iter=opt.n_iter, grad_norm=gnorm, inner_converged=sol.converged,
    )
