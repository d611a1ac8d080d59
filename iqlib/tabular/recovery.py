"""Reward-recovery checks against a known truth: what a policy pins down of a reward, and what not.

A policy identifies the soft Q-function only up to a per-state constant c(s), so a reward
read off a policy is identified only up to potential shaping (Ng, Harada & Russell 1999):

    r'(s, a) = r(s, a) + γ (P_a Φ)(s) − Φ(s),     Φ: (S,) any potential       (G Φ := γ P Φ − Φ)

Every such r' has the same soft-optimal policy. The checks below separate what a policy pins
down (the policy, counterfactuals that keep the dynamics) from what it does not (the raw
reward, V and Q):

- policy TV (`iqlib.tabular.metrics.policy_tv`): mean over states of ½ Σ_a |π(a|s) − π̂(a|s)|.
  Gate ≤ 0.05.
- `nrmse`: centre and scale (z-score) both arrays over the evaluated states, then the RMSE;
  equals √(2(1 − ρ)) with ρ the Pearson correlation. Gate ≤ 0.10.
- `epic_distance`: EPIC (Gleave, Dennis, Legg, Russell & Leike, ICLR 2021): canonicalise
  R(s, a, s') with state / action distributions D_S, D_A,
      C(R)(s, a, s') = R(s, a, s') + E[γ R(s', A, S') − R(s, A, S') − γ R(S, A, S')],
  then the Pearson distance √((1 − ρ)/2) over a coverage distribution. It is exactly
  invariant to *pointwise* shaping γΦ(s') − Φ(s) and to positive scale; a state-action reward
  r(s, a) is lifted as R(s, a, s') = r(s, a). It is **not** invariant to the *expected*
  shaping G Φ above, which is what inverse-Bellman rewards differ by.
- `epic_distance_dynamics`: the same construction with the shaping family that the dynamics
  define on state-action rewards: canonicalise by removing the weighted least-squares
  component in the span of G, C_P(r) = r − G Φ*(r), then the weighted Pearson distance.
  Zero iff r̂ = λ r + G Φ for some λ > 0 and Φ (on the weighted support).
- `shaping_residual`: of the gap d = r̂ − r, the part that is potential shaping (G Φ*) and
  the part that is not; a raw IQ-Learn reward's gap is mostly shaping.
- `counterfactual_regret` (`iqlib.tabular.counterfactual`): re-solve under the recovered reward
  after an intervention (A: reward shift, B: new transitions, C: an action removed) and score
  the policy in the true counterfactual model (0 optimal, 1 uniform). Gate ≤ 0.05.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from iqlib.tabular.counterfactual import counterfactual_regret
from iqlib.tabular.metrics import policy_tv

__all__ = [
    "nrmse",
    "epic_canonicalise",
    "epic_distance",
    "shaping_matrix",
    "shaping_projection",
    "epic_distance_dynamics",
    "ShapingResidual",
    "shaping_residual",
    "GATES",
    "recovery_report",
]


def _mask(states, S):
    if states is None:
        return np.ones(S, bool)
    m = np.asarray(states, bool)
    if m.shape != (S,):
        raise ValueError(f"states must be a boolean mask of shape (S,) = ({S},), got {m.shape}")
    if not m.any():
        raise ValueError("states selects no state")
    return m


def nrmse(x_true, x_hat, states=None) -> float:
    """Normalised RMSE: z-score both arrays over the selected states, then RMSE.

    x_true, x_hat: (S,) (e.g. V) or (S, A) (reward, Q; all actions of the selected states).
    states: optional (S,) boolean mask. A constant array is only centred (its std is 0).
    Returns √(mean((z − ẑ)²)) = √(2(1 − ρ)) in [0, 2]; invariant to adding a constant to
    either array and to positive rescaling. Raises ValueError on shape mismatch.
    """
    a, b = np.asarray(x_true, float), np.asarray(x_hat, float)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"arrays must have equal shape (S,) or (S, A), got {a.shape} and {b.shape}")
    m = _mask(states, a.shape[0])
    a, b = a[m].ravel(), b[m].ravel()

    def z(x):
        x = x - x.mean()
        s = x.std()
        return x / s if s > 0 else x

    return float(np.sqrt(np.mean((z(a) - z(b)) ** 2)))


def _pearson_distance(x, y, w):
    w = w / w.sum()
    x = x - np.sum(w * x)
    y = y - np.sum(w * y)
    vx, vy = np.sum(w * x * x), np.sum(w * y * y)
    if vx <= 0 or vy <= 0:
        return 0.0 if (vx <= 0 and vy <= 0) else float(np.sqrt(0.5))
    rho = np.clip(np.sum(w * x * y) / np.sqrt(vx * vy), -1.0, 1.0)
    return float(np.sqrt((1.0 - rho) / 2.0))


def epic_canonicalise(R, gamma, state_dist=None, action_dist=None) -> np.ndarray:
    """EPIC canonicalisation C(R): (S, A, S) (Gleave et al. 2021, Def. 4.1).

    R: (S, A, S) or (S, A) (lifted, constant in s'). state_dist: (S,) D_S, action_dist: (A,)
    D_A (uniform by default). C(R + γΦ(s') − Φ(s)) = C(R) for every Φ.
    """
    R = np.asarray(R, float)
    if R.ndim == 2:
        R = np.broadcast_to(R[:, :, None], R.shape + (R.shape[0],))
    S, A, _ = R.shape
    ds = np.full(S, 1 / S) if state_dist is None else np.asarray(state_dist, float)
    da = np.full(A, 1 / A) if action_dist is None else np.asarray(action_dist, float)
    m = np.einsum("xat,a,t->x", R, da, ds)  # E_{A, S'} R(x, A, S')
    return R + gamma * m[None, None, :] - m[:, None, None] - gamma * np.dot(ds, m)


def epic_distance(r1, r2, gamma, state_dist=None, action_dist=None, coverage=None) -> float:
    """EPIC distance between rewards r1, r2: (S, A, S) or (S, A) (Gleave et al. 2021).

    coverage: optional (S, A, S) weights of the Pearson distance (uniform by default), e.g.
    ρ(s, a) P(s'|s, a). Returns a float in [0, 1]; 0 iff r2 = λ r1 + γΦ(s') − Φ(s), λ > 0.
    """
    c1 = epic_canonicalise(r1, gamma, state_dist, action_dist)
    c2 = epic_canonicalise(r2, gamma, state_dist, action_dist)
    if c1.shape != c2.shape:
        raise ValueError(f"rewards must have equal shapes, got {np.shape(r1)} and {np.shape(r2)}")
    w = np.ones(c1.size) if coverage is None else np.broadcast_to(np.asarray(coverage, float), c1.shape).ravel()
    return _pearson_distance(c1.ravel(), c2.ravel(), w)


def shaping_matrix(P, gamma) -> np.ndarray:
    """G: (S·A, S), the linear map Φ ↦ γ (P_a Φ)(s) − Φ(s) on potentials, rows ordered (s, a).

    It has full column rank for γ < 1 (so shaping by Φ ≠ 0 is never zero). Constants are
    shapings: G 1 = −(1 − γ) 1.
    """
    P = np.asarray(P, float)
    S, A, _ = P.shape
    E = np.repeat(np.eye(S), A, axis=0)  # (S·A, S): Φ(s) on row (s, a)
    return gamma * P.reshape(S * A, S) - E


def shaping_projection(r, P, gamma, weights=None):
    """Weighted least-squares potential Φ* = argmin_Φ Σ w(s, a) (r − G Φ)(s, a)².

    r: (S, A). P: (S, A, S). weights: (S, A) ≥ 0 (uniform by default; zero rows are ignored).
    Returns (Φ*: (S,), shaping part G Φ*: (S, A)). Φ* is the minimum-norm solution where the
    weights leave it undetermined.
    """
    r = np.asarray(r, float)
    S, A = r.shape
    G = shaping_matrix(P, gamma)
    w = np.ones(S * A) if weights is None else np.asarray(weights, float).reshape(S * A)
    sw = np.sqrt(w)
    phi, *_ = np.linalg.lstsq(G * sw[:, None], r.reshape(-1) * sw, rcond=None)
    return phi, (G @ phi).reshape(S, A)


def epic_distance_dynamics(r1, r2, P, gamma, weights=None) -> float:
    """EPIC-style distance for state-action rewards under the dynamics' shaping family.

    Canonicalise each reward by removing its weighted least-squares shaping component
    (`shaping_projection`), then take the weighted Pearson distance √((1 − ρ)/2).
    r1, r2: (S, A); P: (S, A, S); weights: (S, A) ≥ 0. Returns a float in [0, 1]; 0 iff
    r2 = λ r1 + G Φ with λ > 0 on the weighted support.
    """
    r1, r2 = np.asarray(r1, float), np.asarray(r2, float)
    if r1.shape != r2.shape:
        raise ValueError(f"rewards must have equal shapes, got {r1.shape} and {r2.shape}")
    c1 = r1 - shaping_projection(r1, P, gamma, weights)[1]
    c2 = r2 - shaping_projection(r2, P, gamma, weights)[1]
    w = np.ones(r1.size) if weights is None else np.asarray(weights, float).ravel()
    return _pearson_distance(c1.ravel(), c2.ravel(), w)


class ShapingResidual(NamedTuple):
    """How much of the gap d = r̂ − r is potential shaping.

    potential: (S,) Φ* of the weighted least-squares fit d ≈ G Φ*; gap_rms: weighted RMS of
    d; residual_rms: weighted RMS of d − G Φ* (the part shaping cannot explain);
    shaping_share: 1 − residual_rms² / gap_rms² ∈ [0, 1] (1 = the gap is pure shaping).
    """

    potential: np.ndarray
    gap_rms: float
    residual_rms: float
    shaping_share: float


def shaping_residual(r_true, r_hat, P, gamma, weights=None) -> ShapingResidual:
    """Decompose r̂ − r into potential shaping plus a residual.  r_true, r_hat: (S, A); P: (S, A, S)."""
    r_true, r_hat = np.asarray(r_true, float), np.asarray(r_hat, float)
    if r_true.shape != r_hat.shape:
        raise ValueError(f"rewards must have equal shapes, got {r_true.shape} and {r_hat.shape}")
    d = r_hat - r_true
    phi, shaped = shaping_projection(d, P, gamma, weights)
    w = np.ones(d.shape) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    gap = float(np.sqrt(np.sum(w * d * d)))
    res = float(np.sqrt(np.sum(w * (d - shaped) ** 2)))
    share = 1.0 - (res / gap) ** 2 if gap > 0 else 1.0
    return ShapingResidual(phi, gap, res, float(np.clip(share, 0.0, 1.0)))


GATES = {"policy_tv": 0.05, "reward_nrmse": 0.10, "V_nrmse": 0.10, "Q_nrmse": 0.10,
         "regret_a": 0.05, "regret_b": 0.05, "regret_c": 0.05}
"""The pass gates: a check passes when its value is ≤ the gate (policy TV 0.05, nRMSE 0.10, regret 0.05)."""


def recovery_report(truth, policy, reward=None, V=None, Q=None, *, states=None, weights=None,
                    interventions=()) -> dict:
    """Every check of one estimate against a known truth, as a flat dict of floats.

    truth: a `iqlib.problems.ddc.KnownTruth`. policy: (S, A); reward, Q: (S, A) or None; V: (S,) or None.
    states: (S,) boolean mask of evaluated states. weights: (S, A) weights for the
    dynamics-aware EPIC and the shaping residual (e.g. the counts on evaluated states).
    interventions: `iqlib.tabular.counterfactual.Intervention`s, reported as regret_a, regret_b, … in order.
    Keys: policy_tv, reward_nrmse, V_nrmse, Q_nrmse, epic, epic_dynamics, shaping_share,
    regret_<x>, and passes_all (every gated key present is within its gate).
    """
    m = truth.mdp
    P, r, g = np.asarray(m.P), np.asarray(m.r), m.discount
    out = {"policy_tv": policy_tv(truth.policy, policy, mask=states)}
    if reward is not None:
        out["reward_nrmse"] = nrmse(r, reward, states)
        out["epic"] = epic_distance(r, reward, g)
        out["epic_dynamics"] = epic_distance_dynamics(r, reward, P, g, weights)
        out["shaping_share"] = shaping_residual(r, reward, P, g, weights).shaping_share
        for k, iv in zip("abcdefgh", interventions):
            out[f"regret_{k}"] = counterfactual_regret(reward, r, P, m.p0, g, m.entropy_temperature, iv)
    if V is not None:
        out["V_nrmse"] = nrmse(truth.V, V, states)
    if Q is not None:
        out["Q_nrmse"] = nrmse(truth.Q, Q, states)
    out["passes_all"] = all(out[k] <= gate for k, gate in GATES.items() if k in out)
    return out
