"""Counterfactual interventions and the regret of a recovered reward under them.

A reward recovered by inverse RL is useful when it predicts behaviour in a changed world.
Three interventions (the standard ones of the dynamic-discrete-choice literature):

    A: reward shift      r → r + Δ (e.g. a tax on one action)
    B: transition change P → P' (e.g. faster wear)
    C: action removed    one action is no longer available

`counterfactual_regret` re-solves under the recovered reward after the intervention and
evaluates the policy under the true counterfactual model, normalised as

    regret = (J(π*) − J(π̂)) / (J(π*) − J(π_uniform))      (0 optimal, 1 uniform random)

with J the soft (entropy-regularised, temperature α) return from p0, the objective whose
optimum π* is the softmax policy. A reward off by potential shaping r + γ P Φ − Φ (Ng, Harada
& Russell 1999) still predicts A and C (the same Φ shapes the shifted or restricted reward)
but not B: the shaping term depends on P.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from iqlib.tabular.soft_bellman import expected_return, solve_soft_bellman

__all__ = ["Intervention", "reward_shift", "transition_change", "action_removed", "apply_intervention",
           "normalised_regret", "counterfactual_regret"]


class Intervention(NamedTuple):
    """A counterfactual change of the model.

    name: label. reward_delta: (S, A) added to the reward (type A) or None.
    P: (S, A, S) new transitions (type B) or None. keep_actions: tuple of the action
    indices that remain available (type C) or None (all).
    """

    name: str
    reward_delta: np.ndarray | None = None
    P: np.ndarray | None = None
    keep_actions: tuple | None = None


def reward_shift(delta, name="A: reward shift") -> Intervention:
    """Type A: the reward becomes r + Δ, Δ: (S, A) (e.g. a tax on one action)."""
    return Intervention(name, reward_delta=np.asarray(delta, float))


def transition_change(P_new, name="B: transition change") -> Intervention:
    """Type B: the transitions become P_new: (S, A, S)."""
    return Intervention(name, P=np.asarray(P_new, float))


def action_removed(action: int, n_actions: int, name="C: action removed") -> Intervention:
    """Type C: action `action` is no longer available."""
    if not 0 <= action < n_actions or n_actions < 2:
        raise ValueError(f"action must be in [0, {n_actions}) with at least 2 actions, got {action}")
    return Intervention(name, keep_actions=tuple(a for a in range(n_actions) if a != action))


def apply_intervention(r, P, iv: Intervention):
    """(r', P') after an intervention; with keep_actions the action axis is restricted."""
    r, P = np.asarray(r, float), np.asarray(P, float)
    if iv.reward_delta is not None:
        r = r + iv.reward_delta
    if iv.P is not None:
        P = iv.P
    if iv.keep_actions is not None:
        keep = list(iv.keep_actions)
        r, P = r[:, keep], P[:, keep, :]
    return r, P


def normalised_regret(policy, r, P, p0, gamma, alpha) -> float:
    """(J(π*) − J(π)) / (J(π*) − J(uniform)) under (r, P, p0), J the soft return at temperature α.

    policy, r: (S, A); P: (S, A, S); p0: (S,). Returns 0 for the soft-optimal policy, 1 for the
    uniform policy; NaN when the optimum and the uniform policy have the same return (e.g. one
    action left). Solved in the dtype of the inputs (use float64 for γ near 1).
    """
    r, P, p0 = jnp.asarray(r), jnp.asarray(P), jnp.asarray(p0)
    sol = solve_soft_bellman(r, P, gamma, alpha)
    uniform = jnp.full(r.shape, 1.0 / r.shape[1], r.dtype)
    j_opt = float(jnp.dot(p0, sol.V))
    j_pi = float(expected_return(jnp.asarray(policy, r.dtype), r, P, p0, gamma, alpha))
    j_unif = float(expected_return(uniform, r, P, p0, gamma, alpha))
    denom = j_opt - j_unif
    if not abs(denom) > 1e-12 * max(1.0, abs(j_opt)):
        return float("nan")
    return (j_opt - j_pi) / denom


def counterfactual_regret(r_hat, r_true, P, p0, gamma, alpha, iv: Intervention) -> float:
    """Regret of the policy solved under the recovered reward in a counterfactual model.

    Both rewards get the same intervention (`apply_intervention`); π̂ = softmax(Q*(r̂')/α) in
    the counterfactual dynamics; it is scored by `normalised_regret` under the true r'.
    r_hat, r_true: (S, A); P: (S, A, S); p0: (S,). Returns a float (0 optimal, 1 uniform).
    """
    dtype = jnp.asarray(P).dtype
    rh, Pc = apply_intervention(r_hat, P, iv)
    rt, _ = apply_intervention(r_true, P, iv)
    Pc = jnp.asarray(Pc, dtype)
    pi_hat = solve_soft_bellman(jnp.asarray(rh, dtype), Pc, gamma, alpha).policy
    return normalised_regret(pi_hat, jnp.asarray(rt, dtype), Pc, jnp.asarray(p0, dtype), gamma, alpha)
