"""Known-truth problems for reward-recovery checks, and panels simulated from them.

`make_ddc` builds a dynamic discrete choice (DDC) problem in the spirit of Rust's (1987) bus
engine model, with any number of states S and actions A ≥ 2 and an anchor action:

    state     x ∈ {0, …, S−1} (wear, age, mileage), z = x / (S − 1) ∈ [0, 1]
    a = 0     keep:     x → min(x + j, S − 1),                r = −θ₁ z − θ₂ z²
    a = k     repair k  (1 ≤ k ≤ A − 2): x → max(x − d_k, 0) + j,   r = −c_k
    a = A − 1 replace (the anchor): x → j,                    r = −RC (a known constant)

with a random wear increment j ∈ {0, …, J} (J ≈ S/4, probabilities drawn from a seed) and the
reward linear in features, r = Φ θ, θ = (θ₁, θ₂, RC, c₁, …, c_{A−2}). Choices are logit in the
soft Q-function with temperature α (Rust's i.i.d. extreme-value shocks). The anchor makes the
reward identified (see `iqlib.tabular.anchor`): r(·, replace) = −RC is the one thing assumed known.

`make_garnet_anchored` takes a random Garnet MDP (`iqlib.problems.random_mdp`) and sets one action's
reward to 0, the anchor. `simulate_panel` draws a panel of n individuals × T periods from
the soft-optimal policy, starting from the policy's stationary distribution (p0 of the MDP).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from iqlib.problems.random_mdp import random_mdp
from iqlib.tabular.counterfactual import action_removed, reward_shift, transition_change
from iqlib.tabular.mdp import TabularMDP
from iqlib.tabular.sampling import sample_trajectories, state_action_counts
from iqlib.tabular.soft_bellman import policy_transition, solve_soft_bellman

__all__ = ["KnownTruth", "make_ddc", "make_garnet_anchored", "stationary_distribution", "simulate_panel",
           "q_basis", "wear_faster", "standard_interventions"]


class KnownTruth(NamedTuple):
    """A problem with a known reward.

    mdp: `TabularMDP` (true reward mdp.r: (S, A), p0 = stationary distribution of π*).
    features: (S, A, K) reward features, mdp.r = features @ theta (None if not linear).
    theta: (K,) true parameters. theta_names: their names. anchor_action: a₀.
    anchor_reward: (S,) the known r(·, a₀). Q, V, policy: the soft-optimal solution.
    action_names: names of the A actions. name: a short label.
    """

    mdp: TabularMDP
    features: np.ndarray | None
    theta: np.ndarray | None
    theta_names: tuple
    anchor_action: int
    anchor_reward: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    policy: np.ndarray
    action_names: tuple
    name: str


def stationary_distribution(policy, P, n_iter: int = 100_000, tol: float = 1e-13) -> np.ndarray:
    """Stationary distribution d = d P_π of the chain under π: (S, A), P: (S, A, S) -> (S,).

    Power iteration from the uniform distribution, averaged with the identity (lazy chain) so
    that periodic chains converge too; stops when the L1 change is below tol.
    """
    M = np.asarray(policy_transition(jnp.asarray(P), jnp.asarray(policy)), float)
    M = 0.5 * (M + np.eye(M.shape[0]))
    d = np.full(M.shape[0], 1.0 / M.shape[0])
    for _ in range(n_iter):
        d_new = d @ M
        if np.abs(d_new - d).sum() < tol:
            return d_new / d_new.sum()
        d = d_new
    return d / d.sum()


def _ddc_transitions(S, A, inc_probs, repair_steps):
    J = len(inc_probs) - 1
    P = np.zeros((S, A, S))
    for x in range(S):
        starts = [x] + [max(x - d, 0) for d in repair_steps] + [0]
        for a, x0 in enumerate(starts):
            for j, p in enumerate(inc_probs):
                P[x, a, min(x0 + j, S - 1)] += p
    assert J >= 1
    return P


def make_ddc(n_states: int = 21, n_actions: int = 3, discount: float = 0.95, *, entropy_temperature: float = 1.0,
             seed: int = 0, theta=None, max_increment: int | None = None) -> KnownTruth:
    """A Rust-style DDC problem with a "replace" anchor (module docstring).

    Args:
      n_states: S ≥ 5. n_actions: A in 2–6 (keep, A − 2 repairs, replace).
      discount: γ in [0, 1) (use float64 for γ > 0.99). entropy_temperature: the logit scale α > 0.
      seed: draws the wear-increment probabilities (and θ when theta is None).
      theta: (3 + A − 2,) = (θ₁, θ₂, RC, c₁, …) or None for a seeded draw around
        (2, 2, 5, 2.5, 3, …) that gives interior choice probabilities.
      max_increment: J, the largest wear increment per period (default max(2, S // 4)).

    Returns: `KnownTruth` with p0 the stationary distribution of the true policy.

    Raises: ValueError on sizes out of range or a theta of the wrong length.
    """
    S, A = int(n_states), int(n_actions)
    if S < 5 or not 2 <= A <= 6:
        raise ValueError(f"need n_states >= 5 and 2 <= n_actions <= 6, got {S}, {A}")
    rng = np.random.default_rng(seed)
    J = max(2, S // 4) if max_increment is None else int(max_increment)
    inc = rng.dirichlet(np.full(J + 1, 4.0))
    n_rep = A - 2
    repair_steps = [max(1, round((S - 1) * (k + 1) / (2 * (n_rep + 1)))) for k in range(n_rep)]
    K = 3 + n_rep
    if theta is None:
        theta = np.concatenate([[2.0, 2.0, 5.0], 2.0 + 0.5 * np.arange(1, n_rep + 1)]) * rng.uniform(0.9, 1.1, K)
    theta = np.asarray(theta, float)
    if theta.shape != (K,):
        raise ValueError(f"theta must have shape ({K},) = (θ1, θ2, RC, c_1..c_{n_rep}), got {theta.shape}")
    z = np.arange(S) / (S - 1)
    phi = np.zeros((S, A, K))
    phi[:, 0, 0], phi[:, 0, 1] = -z, -z**2
    phi[:, A - 1, 2] = -1.0
    for k in range(n_rep):
        phi[:, 1 + k, 3 + k] = -1.0
    r = phi @ theta
    P = _ddc_transitions(S, A, inc, repair_steps)
    names = ("keep",) + tuple(f"repair{k + 1}" for k in range(n_rep)) + ("replace",)
    theta_names = ("theta1", "theta2", "RC") + tuple(f"c{k + 1}" for k in range(n_rep))
    return _finish(P, r, discount, entropy_temperature, phi, theta, theta_names, A - 1, names,
                   f"ddc_S{S}_A{A}_g{discount:g}")


def make_garnet_anchored(key, n_states: int = 30, n_actions: int = 3, discount: float = 0.9, *,
                         entropy_temperature: float = 1.0, branching: int | None = None) -> KnownTruth:
    """A random Garnet MDP (`iqlib.problems.random_mdp.random_mdp`) whose last action has reward 0 (the anchor)."""
    m = random_mdp(key, n_states, n_actions, discount, entropy_temperature, branching=branching)
    r = np.array(m.r, float)
    r[:, -1] = 0.0
    names = tuple(f"a{i}" for i in range(n_actions))
    return _finish(np.asarray(m.P, float), r, discount, entropy_temperature, None, None, (), n_actions - 1, names,
                   f"garnet_S{n_states}_A{n_actions}_g{discount:g}")


def _finish(P, r, gamma, alpha, phi, theta, theta_names, anchor, names, label):
    sol = solve_soft_bellman(jnp.asarray(r), jnp.asarray(P), gamma, alpha)
    policy = np.asarray(sol.policy, float)
    p0 = stationary_distribution(policy, P)
    mdp = TabularMDP(P=P, r=r, p0=p0, discount=gamma, entropy_temperature=alpha)
    return KnownTruth(mdp, phi, theta, theta_names, anchor, np.asarray(r[:, anchor], float),
                      np.asarray(sol.Q, float), np.asarray(sol.V, float), policy, names, label)


def simulate_panel(key, truth: KnownTruth, n_obs: int, n_periods: int = 100) -> dict:
    """Panel of ⌈n_obs / T⌉ individuals × T periods from the true soft-optimal policy.

    Individuals start from mdp.p0 (the stationary distribution), so the panel is a draw from
    the stationary process. Returns the transitions dict of `iqlib.tabular.sampling` (N rows, N ≥ n_obs)
    plus `counts`: (S, A), the state-action counts of the first n_obs rows.
    """
    n_obs, T = int(n_obs), int(n_periods)
    if n_obs < 1 or T < 1:
        raise ValueError(f"n_obs and n_periods must be >= 1, got {n_obs}, {T}")
    T = min(T, n_obs)
    n_ind = -(-n_obs // T)
    m = truth.mdp
    data = sample_trajectories(key, np.asarray(m.P), np.asarray(m.p0), truth.policy, n_ind, T, r=np.asarray(m.r))
    data = {k: v[:n_obs] for k, v in data.items()}
    data["counts"] = np.asarray(state_action_counts(data["obs"], data["action"], m.n_states, m.n_actions), float)
    return data


def q_basis(n_states: int, n_actions: int, degree: int = 4, constant_actions=()) -> np.ndarray:
    """Features for linear-Q IQ-Learn: per action, Legendre polynomials of z up to `degree`.

    Returns Φ_Q: (S, A, A·(degree + 1)), Φ_Q[s, a, a·(d+1) + k] = L_k(2z − 1), z = s/(S − 1).
    Actions in `constant_actions` get only the constant L_0 (their other columns are zero):
    right for a "replace" action whose transition row is the same from every state and whose
    reward is constant, so that its soft Q is the same in every state.
    """
    z = 2 * np.arange(n_states) / (n_states - 1) - 1
    leg = np.polynomial.legendre.legvander(z, degree)  # (S, degree + 1)
    D = degree + 1
    out = np.zeros((n_states, n_actions, n_actions * D))
    for a in range(n_actions):
        out[:, a, a * D:(a + 1) * D] = leg
        if a in constant_actions:
            out[:, a, a * D + 1:(a + 1) * D] = 0.0
    return out


def wear_faster(truth: KnownTruth, shift: float = 0.5) -> np.ndarray:
    """A type-B counterfactual for `make_ddc` problems: wear increments shifted up.

    Each (s, a) row moves `shift` of the mass of P(·|s, a) one state further (capped at S − 1),
    so engines wear faster. Returns P_new: (S, A, S).
    """
    P = np.asarray(truth.mdp.P, float)
    moved = np.zeros_like(P)
    moved[:, :, 1:] = P[:, :, :-1]
    moved[:, :, -1] += P[:, :, -1]
    return (1 - shift) * P + shift * moved


def standard_interventions(truth: KnownTruth, tax: float = 1.0, wear_shift: float = 0.5):
    """The three counterfactuals of the checks for a `make_ddc` problem.

    A: a tax of `tax` reward units on the anchor action (replace); B: faster wear
    (`wear_faster(truth, wear_shift)`); C: the first repair action removed (the keep action
    when A = 2). Returns a list of three `iqlib.tabular.counterfactual.Intervention`s.
    """
    S, A = truth.mdp.n_states, truth.mdp.n_actions
    delta = np.zeros((S, A))
    delta[:, truth.anchor_action] = -float(tax)
    removed = 1 if A > 2 else 0
    return [reward_shift(delta, f"A: tax {tax:g} on {truth.action_names[truth.anchor_action]}"),
            transition_change(wear_faster(truth, wear_shift), f"B: wear {wear_shift:.0%} faster"),
            action_removed(removed, A, f"C: {truth.action_names[removed]} removed")]
