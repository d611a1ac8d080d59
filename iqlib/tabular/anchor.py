"""Anchor-action normalisation: the reward a policy identifies once one action's reward is known.

A soft-optimal policy pins the soft Q-function down only up to a per-state constant: for any
potential c: (S,), Q + c and Q give the same π = softmax(Q/α), and the inverse soft Bellman
reward moves by a potential shaping (Ng, Harada & Russell 1999),

    r_{Q+c}(s, a) = r_Q(s, a) + c(s) − γ (P_a c)(s).

So "the" reward read off a policy (or off IQ-Learn's Q) is one member of a shaping family. The
dynamic-discrete-choice literature pins it down with an anchor (Hotz & Miller 1993; Magnac &
Thesmar 2002; Bajari et al.): one action a₀ whose flow reward r(·, a₀) is known — "replace"
(a fixed cost, set to 0 or to a known number) or "exit" (reward 0). With
α log π(a|s) = Q(s, a) − V(s) and Q(s, a₀) = r(s, a₀) + γ (P_{a₀} V)(s),

    (I − γ P_{a₀}) V = r(·, a₀) − α log π(a₀ | ·)                        (anchor equation)
    r(s, a) = α log π(a | s) + V(s) − γ (P_a V)(s),   Q = r + γ P V        (inverse Bellman)

I − γ P_{a₀} is invertible for γ < 1, so V, Q and r are unique, and r(·, a₀) is returned
exactly. Applied to the true policy it returns the true reward (up to round-off).

`fit_iq_learn_anchored` imposes the anchor *inside* IQ-Learn: it parametrises the policy's
logits L: (S, A), builds Q(L) from the two equations above, and maximises the IQ-Learn
objective J(Q(L)) (`iqlib.tabular.iq_learn.iq_learn_objective`) over L with L-BFGS. Every Q it can
reach satisfies the anchor, so the χ² penalty acts on anchored rewards.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.bc import log_likelihood
from iqlib.tabular.checks import check_discount, check_index, check_positive, is_traced
from iqlib.tabular.iq_learn import IQLearnConfig, iq_learn_objective
from iqlib.tabular.iq_learn_fit import IQLearnResult
from iqlib.tabular.lbfgs import lbfgs_minimize
from iqlib.tabular.mdp import check_transitions
from iqlib.tabular.soft_bellman import expected_next_value

__all__ = ["AnchoredSolution", "anchor_normalise", "anchor_normalise_q", "fit_iq_learn_anchored", "read_off_linear_cost"]


class AnchoredSolution(NamedTuple):
    """Result of anchor normalisation.

    reward: (S, A) the unique reward with r(·, a₀) = anchor_reward that makes the policy
    soft-optimal; V: (S,) its soft value; Q: (S, A) its soft Q = reward + γ P V.
    """

    reward: jax.Array
    V: jax.Array
    Q: jax.Array


def _anchor_reward_vector(anchor_reward, S, dtype):
    a = jnp.asarray(anchor_reward, dtype)
    if a.ndim == 0:
        return jnp.full((S,), a, dtype)
    if a.shape != (S,):
        raise ValueError(f"anchor_reward must be a scalar or have shape (S,) = ({S},), got {a.shape}")
    if not bool(jnp.all(jnp.isfinite(a))):
        raise ValueError("anchor_reward has NaN or infinite entries")
    return a


def _check(P, log_policy, anchor_action, gamma, alpha, name="log_policy"):
    """Check the model (P stochastic, γ in [0, 1), α > 0), the (S, A) input and the anchor action."""
    check_discount(gamma, "discount")
    check_positive(alpha, "entropy_temperature")
    if not is_traced(P):
        check_transitions(P, "P", atol=1e-4)
    P = jnp.asarray(P)
    if jnp.shape(log_policy) != P.shape[:2]:
        raise ValueError(f"{name} must have shape (S, A) = {P.shape[:2]}, got {jnp.shape(log_policy)}")
    if name == "log_policy" and not is_traced(log_policy) and not bool(jnp.all(jnp.isfinite(jnp.asarray(log_policy)))):
        raise ValueError("log_policy must be finite (a policy with full support; use log_softmax(Q / α))")
    check_index(anchor_action, P.shape[1], "anchor_action")
    return P


def _solve(log_policy, P, gamma, alpha, anchor_action, anchor_reward):
    S = P.shape[0]
    Pa0 = P[:, anchor_action, :]
    rhs = anchor_reward - alpha * log_policy[:, anchor_action]
    V = jnp.linalg.solve(jnp.eye(S, dtype=P.dtype) - gamma * Pa0, rhs)
    PV = expected_next_value(P, V)
    reward = alpha * log_policy + V[:, None] - gamma * PV
    return AnchoredSolution(reward=reward, V=V, Q=reward + gamma * PV)


def anchor_normalise(log_policy, P, gamma, alpha, anchor_action: int, anchor_reward=0.0) -> AnchoredSolution:
    """The unique reward with a known anchor-action reward that rationalises a policy.

    Args:
      log_policy: (S, A) log π(a|s), finite (a policy with full support; pass
        `jax.nn.log_softmax(Q / α)` rather than `log(π)` to keep precision).
      P: (S, A, S) transitions. gamma: discount in [0, 1). alpha: entropy temperature α > 0.
      anchor_action: a₀, the action whose reward is known.
      anchor_reward: r(·, a₀), a scalar or (S,) (reward units); 0 by default.

    Returns:
      `AnchoredSolution` (reward (S, A), V (S,), Q (S, A)), in the dtype of P. Use float64 for
      γ close to 1: V is of order ‖r‖ / (1 − γ), and float32 keeps only ~7 digits of it.

    Raises:
      ValueError: on inconsistent shapes, a non-finite log_policy, an anchor action that is not an
        integer in [0, A), transition rows that do not sum to 1, gamma not in [0, 1) or alpha ≤ 0.
    """
    P = _check(P, log_policy, anchor_action, gamma, alpha)
    log_policy = jnp.asarray(log_policy, P.dtype)
    return _solve(log_policy, P, gamma, alpha, int(anchor_action), _anchor_reward_vector(anchor_reward, P.shape[0], P.dtype))


def anchor_normalise_q(Q, P, gamma, alpha, anchor_action: int, anchor_reward=0.0) -> AnchoredSolution:
    """`anchor_normalise` of the policy softmax(Q/α) of a soft Q-function Q: (S, A) (e.g. IQ-Learn's)."""
    check_positive(alpha, "alpha")
    Q = jnp.asarray(Q)
    return anchor_normalise(jax.nn.log_softmax(Q / alpha, axis=-1), P, gamma, alpha, anchor_action, anchor_reward)


def fit_iq_learn_anchored(counts, P, discount, entropy_temperature, anchor_action: int, anchor_reward=0.0,
                          config: IQLearnConfig = IQLearnConfig(), *, p0=None, init=None) -> IQLearnResult:
    """IQ-Learn with the anchor r(·, a₀) = anchor_reward imposed inside the optimisation.

    Maximises J(Q(L)) (Garg et al. 2021, Eq. 9–10, see `iq_learn_objective`) over logits
    L: (S, A), where Q(L) is the anchored soft Q of the policy softmax(L) (module docstring).
    The reward returned satisfies reward[:, a₀] = anchor_reward exactly.

    Args:
      counts: (S, A) expert state-action counts. P: (S, A, S). discount: γ in [0, 1).
      entropy_temperature: α > 0 (as `iqlib.tabular.iq_learn_fit.fit_iq_learn`).
      anchor_action, anchor_reward: as `anchor_normalise`.
      config: `IQLearnConfig` (divergence, χ² weight λ, init term, L-BFGS settings).
      p0: (S,) needed for init_term "p0". init: optional (S, A) initial logits (default:
        the smoothed empirical log-frequencies, i.e. a BC start).

    Returns:
      `IQLearnResult` with params = the logits L.

    Raises:
      ValueError: on inconsistent shapes, empty, negative or non-finite counts, a missing p0, an
        anchor action that is not an integer in [0, A), transition rows that do not sum to 1,
        discount not in [0, 1) or entropy_temperature not a finite number > 0.
    """
    P = jnp.asarray(P)
    counts_np = np.asarray(counts, dtype=np.float64)
    _check(P, counts_np, anchor_action, discount, entropy_temperature, name="counts")
    if np.any(counts_np < 0) or not np.all(np.isfinite(counts_np)) or counts_np.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero")
    if config.init_term == "p0" and p0 is None:
        raise ValueError("init_term='p0' needs p0: (S,)")
    dtype = P.dtype
    if init is None:
        init = np.log(counts_np + 0.5) - np.log(counts_np + 0.5).mean(-1, keepdims=True)
    a_vec = _anchor_reward_vector(anchor_reward, P.shape[0], dtype)
    p0 = None if p0 is None else jnp.asarray(p0, dtype)
    return _fit_anchored(jnp.asarray(counts_np, dtype), P, jnp.asarray(discount, dtype),
                         jnp.asarray(entropy_temperature, dtype),
                         int(anchor_action), a_vec, p0, jnp.asarray(init, dtype), config)


@partial(jax.jit, static_argnames=("anchor_action", "config"))
def _fit_anchored(counts, P, gamma, alpha, anchor_action, anchor_reward, p0, init, config):
    rho = counts / jnp.sum(counts)

    def q_of(L):
        return _solve(jax.nn.log_softmax(L, axis=-1), P, gamma, alpha, anchor_action, anchor_reward).Q

    def loss(L):
        return -iq_learn_objective(q_of(L), rho, P, gamma, alpha, divergence=config.divergence,
                                   chi2_weight=config.chi2_weight, init_term=config.init_term, p0=p0)

    opt = lbfgs_minimize(loss, init, max_iter=config.max_iter, tol=config.tol, memory_size=config.memory_size)
    L, value, gnorm = opt.params, opt.value, opt.grad_norm
    sol = _solve(jax.nn.log_softmax(L, axis=-1), P, gamma, alpha, anchor_action, anchor_reward)
    return IQLearnResult(
        Q=sol.Q, V=sol.V, policy=jax.nn.softmax(L, axis=-1), reward=sol.reward, params=L,
        objective=-value, loglik=log_likelihood(counts, sol.Q, alpha), converged=opt.converged & jnp.isfinite(value),
        n_iter=opt.n_iter, grad_norm=gnorm,
    )


def read_off_linear_cost(keep_reward, x, weights):
    """Weighted least-squares fit keep_reward(x) ≈ b₀ − b₁ x over states with weight > 0.

    With Rust's model and the anchor r(·, replace) = 0, the normalised keep reward is
    RC − θ_c x exactly (every reward moves by +RC), so b₀ estimates RC and b₁ the cost per
    state θ_c. keep_reward, x, weights: (S,). Returns (b₀, b₁).
    """
    keep_reward, x, w = (np.asarray(v, float) for v in (keep_reward, x, weights))
    sel = w > 0
    A = np.c_[np.ones(sel.sum()), -x[sel]]
    sw = np.sqrt(w[sel])
    coef, *_ = np.linalg.lstsq(A * sw[:, None], keep_reward[sel] * sw, rcond=None)
    return float(coef[0]), float(coef[1])
