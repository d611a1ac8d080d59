"""Small evaluation helpers for tabular imitation / reward recovery against a known truth.

  policy_tv          mean over states of the total-variation distance ½ Σ_a |π(a|s) − π̂(a|s)|
                     (optionally restricted to a state mask, or weighted, e.g. by the expert's
                     state occupancy d_E(s))
  state_reward       reduce a state-action reward r̂(s, a) to a state reward, either weighted
                     by a policy, Σ_a π(a|s) r̂(s, a), or one fixed action's column r̂(s, a0)
  reward_correlation Pearson and Spearman correlation of two state rewards over all or some
                     states (scipy.stats.pearsonr / spearmanr)

A reward recovered by inverse RL is identified only up to potential shaping
r(s, a) + c(s) − γ Σ_s' P(s'|s, a) c(s') (Ng, Harada, Russell 1999) and only where there are
data, so correlations are reported both over all states and over visited states. The
helpers work on NumPy or JAX arrays and return NumPy arrays or Python floats; they are meant
for evaluation outside `jit`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["policy_tv", "state_reward", "reward_correlation"]


def _state_mask(mask, S: int) -> np.ndarray:
    if mask is None:
        return np.ones(S, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (S,):
        raise ValueError(f"mask must have shape (S,) = ({S},), got {mask.shape}")
    if not mask.any():
        raise ValueError("mask selects no state")
    return mask


def policy_tv(pi, pi_hat, weights=None, mask=None) -> float:
    """Mean total-variation distance between two policies, Σ_s w(s) · ½ Σ_a |π(a|s) − π̂(a|s)|.

    Args:
      pi, pi_hat: (S, A) action probabilities; rows sum to 1.
      weights: optional (S,) non-negative state weights (e.g. the expert's state occupancy);
        normalised to sum to 1 over the masked states. Default: uniform.
      mask: optional (S,) bool; only these states count.

    Returns:
      A float in [0, 1]: 0 for equal policies, 1 for policies with disjoint supports.

    Raises:
      ValueError: on mismatched shapes, an empty mask, or weights that are negative or sum
        to 0 on the masked states.
    """
    pi, pi_hat = np.asarray(pi, dtype=np.float64), np.asarray(pi_hat, dtype=np.float64)
    if pi.ndim != 2 or pi.shape != pi_hat.shape:
        raise ValueError(f"pi and pi_hat must both have shape (S, A), got {pi.shape} and {pi_hat.shape}")
    S = pi.shape[0]
    m = _state_mask(mask, S)
    w = np.ones(S) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (S,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite, non-negative, of shape ({S},)")
    w = np.where(m, w, 0.0)
    if w.sum() <= 0:
        raise ValueError("weights sum to 0 on the selected states")
    tv = 0.5 * np.abs(pi - pi_hat).sum(axis=1)
    return float(np.dot(w / w.sum(), tv))


def state_reward(reward, policy=None, action=None) -> np.ndarray:
    """Reduce a state-action reward r̂: (S, A) to a state reward (S,).

    Exactly one of:
      policy: (S, A) — the policy-weighted reward Σ_a π(a|s) r̂(s, a) (the reward the policy
        collects in s on average);
      action: int a0 — the column r̂(s, a0) (e.g. the GridWorld's "stay" action, whose
        potential-shaping term c(s) − γ E[c(s')|s, stay] is ≈ (1 − γ) c(s), small for γ near 1).

    Returns:
      (S,) float64 NumPy array, reward units.

    Raises:
      ValueError: if both or neither of policy/action are given, or shapes do not match.
    """
    reward = np.asarray(reward, dtype=np.float64)
    if reward.ndim != 2:
        raise ValueError(f"reward must have shape (S, A), got {reward.shape}")
    if (policy is None) == (action is None):
        raise ValueError("give exactly one of policy= or action=")
    if policy is not None:
        policy = np.asarray(policy, dtype=np.float64)
        if policy.shape != reward.shape:
            raise ValueError(f"policy must have shape {reward.shape}, got {policy.shape}")
        return (policy * reward).sum(axis=1)
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)) or not 0 <= action < reward.shape[1]:
        raise ValueError(f"action must be an int in [0, {reward.shape[1]}), got {action!r}")
    return reward[:, int(action)].copy()


def reward_correlation(r_hat, r_true, mask=None) -> dict:
    """Pearson and Spearman correlation between a recovered and a true state reward.

    Args:
      r_hat, r_true: (S,) state rewards.
      mask: optional (S,) bool; correlate only these states (e.g. the visited ones).

    Returns:
      {"pearson": float, "spearman": float}; NaN if fewer than 3 states are selected or
      either selection is constant (a correlation is then undefined).

    Raises:
      ValueError: on mismatched shapes or an empty mask.
    """
    r_hat, r_true = np.asarray(r_hat, dtype=np.float64), np.asarray(r_true, dtype=np.float64)
    if r_hat.ndim != 1 or r_hat.shape != r_true.shape:
        raise ValueError(f"r_hat and r_true must both have shape (S,), got {r_hat.shape} and {r_true.shape}")
    m = _state_mask(mask, r_hat.shape[0])
    x, y = r_hat[m], r_true[m]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson": float("nan"), "spearman": float("nan")}
    return {"pearson": float(stats.pearsonr(x, y)[0]), "spearman": float(stats.spearmanr(x, y)[0])}
