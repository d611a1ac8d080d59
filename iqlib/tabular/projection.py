"""Structured rewards: project a recovered reward onto a basis, or onto the state-only rewards.

A free-table reward read off a policy (IQ-Learn's, or a choice-frequency inversion's) is as
noisy as the policy in every state-action pair. When the reward is known to live in a smaller
family, fitting it there pools the data of every state:

- **Linear basis** (`project_onto_basis`, `project_reward`): r(s, a) ≈ Φ(s, a) · θ, fitted by
  count-weighted least squares,

      θ̂ = argmin_θ Σ_{s,a} w(s, a) (r̂(s, a) − Φ(s, a) · θ)²,

  then the soft-optimal V, Q and policy of the projected reward Φ θ̂. With an anchored r̂ (see
  `iqlib.tabular.anchor`) this is the second, least-squares step of the two-step CCP
  estimators of dynamic discrete choice (Hotz & Miller 1993; the asymptotic least-squares
  estimator of Pesendorfer & Schmidt-Dengler, Rev. Econ. Stud. 2008), with the count weights
  as a diagonal weighting matrix. The reward must be anchored first: projecting a raw
  (shaped) reward onto Φ projects the shaping too.
- **State-only rewards** (`state_only_reward`): a reward that depends on the state only is
  identified from a policy up to potential shaping (Ng, Harada & Russell 1999) and a constant,
  so fit the joint model

      r̂(s, a) ≈ R(s) + γ (P_a Φ)(s) − Φ(s)          (R, Φ: (S,) each)

  by weighted least squares and keep R. Adding (1 − γ) c to R and c to Φ leaves the fit
  unchanged, so R is returned centred (weighted mean 0). The fit only depends on r̂ up to
  shaping: r̂ and r̂ + G Ψ give the same R. For a soft-optimal policy of a state-only reward,
  α log π(a|s) = R(s) + γ (P_a V*)(s) − V*(s) exactly, so R comes back exactly (Φ = V*).

Units: rewards, R, Φ, V and Q in reward units; θ in reward units per unit of its feature;
weights are relative (only their ratios matter), e.g. the state-action counts.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from iqlib.tabular.mdp import check_transitions
from iqlib.tabular.soft_bellman import solve_soft_bellman

__all__ = ["ProjectedReward", "project_onto_basis", "project_reward", "StateOnlyReward", "state_only_reward"]


def _weights(weights, shape: tuple, name: str = "weights") -> np.ndarray:
    """(S, A) non-negative finite weights, not all zero; an (S,) array is spread over the actions."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape == shape[:1]:
        w = np.broadcast_to(w[:, None], shape)
    if w.shape != shape:
        raise ValueError(f"{name} must have shape (S, A) = {shape} or (S,) = {shape[:1]}, got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} has NaN or infinite entries")
    if np.any(w < 0):
        s, a = np.argwhere(w < 0)[0]
        raise ValueError(f"{name} must be non-negative; {name}[{s}, {a}] = {w[s, a]}")
    if not np.any(w > 0):
        raise ValueError(f"{name} are all zero: nothing to fit")
    return np.array(w)


def _reward(reward, shape: tuple | None, w: np.ndarray | None = None) -> np.ndarray:
    """(S, A) reward, finite wherever the weight is positive (entries with weight 0 are ignored)."""
    r = np.asarray(reward, dtype=np.float64)
    if r.ndim != 2 or (shape is not None and r.shape != shape):
        want = f"(S, A) = {shape}" if shape is not None else "(S, A)"
        raise ValueError(f"reward must have shape {want}, got {r.shape}")
    used = np.ones(r.shape, bool) if w is None else w > 0
    if not np.all(np.isfinite(r[used])):
        raise ValueError("reward has NaN or infinite entries where the weight is positive")
    return np.where(used, r, 0.0)


def project_onto_basis(reward, features, weights, *, rcond: float = 1e-10) -> np.ndarray:
    """θ̂ = argmin_θ Σ w(s, a) (reward(s, a) − features(s, a) · θ)² (module docstring).

    Args:
      reward: (S, A) reward to project (reward units); entries with weight 0 may be non-finite
        (e.g. the log of a zero choice frequency) and are ignored.
      features: (S, A, K) reward basis Φ.
      weights: (S, A) or (S,) non-negative weights, e.g. state-action counts (an (S,) array
        weighs every action of a state alike). Zero-weight entries do not enter the fit.
      rcond: the weighted basis counts as rank-deficient when its smallest singular value is
        below rcond × its largest.

    Returns: θ̂: (K,) (reward units per feature unit).

    Raises:
      ValueError: on a reward that is not (S, A), features that are not (S, A, K) with K ≥ 1 or
        not finite, weights of the wrong shape, negative, non-finite or all zero, a non-finite
        reward where the weight is positive, or a rank-deficient weighted basis (fewer positive
        weights than K, or columns of Φ that the weighted entries cannot tell apart: θ̂ would
        not be unique).
    """
    F = np.asarray(features, dtype=np.float64)
    if F.ndim != 3 or F.shape[2] < 1:
        raise ValueError(f"features must have shape (S, A, K) with K >= 1, got {F.shape}")
    if not np.all(np.isfinite(F)):
        raise ValueError("features have NaN or infinite entries")
    S, A, K = F.shape
    w = _weights(weights, (S, A))
    r = _reward(reward, (S, A), w)
    sel = (w > 0).reshape(-1)
    sw = np.sqrt(w.reshape(-1)[sel])
    X = F.reshape(S * A, K)[sel] * sw[:, None]
    y = r.reshape(-1)[sel] * sw
    sv = np.linalg.svd(X, compute_uv=False)
    rank = int(np.sum(sv > rcond * sv[0])) if sv.size and sv[0] > 0 else 0
    if rank < K:
        raise ValueError(f"the weighted basis is rank-deficient: rank {rank} < K = {K} on the {int(sel.sum())} "
                         "entries with positive weight, so θ is not identified (drop or merge features, or "
                         "give weight to the states and actions that tell them apart)")
    theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return theta


class ProjectedReward(NamedTuple):
    """Result of `project_reward`.

    theta: (K,) least-squares coefficients; reward: (S, A) = features @ theta; V: (S,), Q: (S, A)
    and policy: (S, A) the soft-optimal solution of the projected reward; residual_rms: the
    weighted RMS of reward − features @ theta (reward units); converged: the soft Bellman
    solve met its tolerance.
    """

    theta: np.ndarray
    reward: np.ndarray
    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    residual_rms: float
    converged: bool


def project_reward(reward, features, weights, P, discount, entropy_temperature, *, rcond: float = 1e-10,
                   tol: float | None = None) -> ProjectedReward:
    """Project a reward onto a linear basis by weighted least squares, then solve its soft-optimal policy.

    Args:
      reward: (S, A) reward, normally anchored (`iqlib.tabular.anchor.anchor_normalise`);
        entries with weight 0 are ignored and may be non-finite.
      features: (S, A, K) basis Φ. weights: (S, A) or (S,) non-negative (e.g. counts on the
        evaluated states). P: (S, A, S) transitions. discount: γ in [0, 1).
      entropy_temperature: α > 0 (reward units). rcond: as `project_onto_basis`.
      tol: relative tolerance of the soft Bellman solve (`solve_soft_bellman`); default 1e-10
        with float64 enabled (`jax_enable_x64`), else 1e-6 (float32 cannot reach ~1e-7).

    Returns: `ProjectedReward` (θ, Φθ, its soft-optimal V, Q, policy, the weighted residual RMS,
      and whether the solve converged). Arrays are NumPy float64 (the solve runs in JAX's default dtype).

    Raises:
      ValueError: as `project_onto_basis`; if P is not a transition tensor (S, A, S) matching
        the features; or, from `solve_soft_bellman`, if discount is not in [0, 1) or
        entropy_temperature is not a finite number > 0.
    """
    F = np.asarray(features, dtype=np.float64)
    Pn = check_transitions(P, "P", atol=1e-4)
    if F.ndim == 3 and F.shape[:2] != Pn.shape[:2]:
        raise ValueError(f"features must have shape (S, A, K) with (S, A) = {Pn.shape[:2]} from P, got {F.shape}")
    theta = project_onto_basis(reward, F, weights, rcond=rcond)
    w = _weights(weights, Pn.shape[:2])
    r_hat = F @ theta
    r_in = _reward(reward, None, w)
    res = float(np.sqrt(np.sum(w * (r_in - r_hat) ** 2) / np.sum(w)))
    if tol is None:
        tol = 1e-10 if jnp.zeros(()).dtype == jnp.float64 else 1e-6
    sol = solve_soft_bellman(jnp.asarray(r_hat), jnp.asarray(Pn), discount, entropy_temperature, tol=tol)
    return ProjectedReward(theta, r_hat, np.asarray(sol.V, np.float64), np.asarray(sol.Q, np.float64),
                           np.asarray(sol.policy, np.float64), res, bool(sol.converged))


class StateOnlyReward(NamedTuple):
    """Result of `state_only_reward`.

    reward: (S,) R, centred to weighted mean 0 over the states with weight (NaN at states with
    no weight: no equation involves them); potential: (S,) Φ (0 where no weighted row reaches
    the state); residual_rms: weighted RMS of r̂ − (R + G Φ), 0 iff r̂ is a shaped state-only
    reward on the weighted entries; n_free: directions of (R, Φ) beyond the constant that the
    weights leave undetermined (0: R is identified up to the constant; else the minimum-norm
    solution is returned).
    """

    reward: np.ndarray
    potential: np.ndarray
    residual_rms: float
    n_free: int


def state_only_reward(reward, P, discount, weights=None, *, rcond: float = 1e-10) -> StateOnlyReward:
    """The state-only reward R(s) nearest a state-action reward up to potential shaping (module docstring).

    Fits r̂(s, a) ≈ R(s) + γ (P_a Φ)(s) − Φ(s) by weighted least squares over (R, Φ).

    Args:
      reward: (S, A) recovered reward r̂ (reward units), e.g. IQ-Learn's Q − γ P V_Q, or
        α log π̂ of a policy; entries with weight 0 are ignored and may be non-finite.
      P: (S, A, S) transitions. discount: γ in [0, 1).
      weights: (S, A) or (S,) non-negative weights (uniform by default), e.g. the demonstration
        counts: with counts, actions never demonstrated do not enter the fit.
      rcond: singular values below rcond × the largest count as zero (for n_free).

    Returns: `StateOnlyReward` (R centred, Φ, residual RMS, n_free).

    Raises:
      ValueError: if P is not an (S, A, S) transition tensor, reward is not (S, A) or is
        non-finite where the weight is positive, weights are of the wrong shape, negative,
        non-finite or all zero, or discount is not a number in [0, 1).
    """
    Pn = check_transitions(P, "P", atol=1e-4)
    S, A, _ = Pn.shape
    g = float(discount)
    if not 0.0 <= g < 1.0:
        raise ValueError(f"discount must be in [0, 1), got {discount!r}")
    w = np.ones((S, A)) if weights is None else _weights(weights, (S, A))
    r = _reward(reward, (S, A), w)
    rows = (w > 0).reshape(-1)
    E = np.repeat(np.eye(S), A, axis=0)  # (S·A, S): 1 on row (s, a) at column s
    G = g * Pn.reshape(S * A, S) - E  # shaping: Φ ↦ γ P_a Φ(s) − Φ(s)
    r_states = w.sum(1) > 0
    phi_states = r_states | (np.abs(G[rows]).sum(0) > 0)
    X = np.concatenate([E[rows][:, r_states], G[rows][:, phi_states]], axis=1)
    sw = np.sqrt(w.reshape(-1)[rows])
    coef, *_ = np.linalg.lstsq(X * sw[:, None], r.reshape(-1)[rows] * sw, rcond=None)
    sv = np.linalg.svd(X * sw[:, None], compute_uv=False)
    n_free = int(X.shape[1] - np.sum(sv > rcond * sv[0]) - 1)
    k = int(r_states.sum())
    R = np.full(S, np.nan)
    phi = np.zeros(S)
    R[r_states], phi[phi_states] = coef[:k], coef[k:]
    res = float(np.sqrt(np.sum((sw * (X @ coef - r.reshape(-1)[rows])) ** 2) / w.sum()))
    # (R + (1 − γ) c, Φ + c) fits alike: centre R to weighted mean 0 (Φ moves with it where it is fitted).
    ws = w.sum(1)[r_states]
    c = -np.sum(ws * R[r_states]) / np.sum(ws) / (1.0 - g)
    R[r_states] += (1.0 - g) * c
    phi[phi_states] += c
    return StateOnlyReward(R, phi, res, max(n_free, 0))
