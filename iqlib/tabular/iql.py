"""Tabular Implicit Q-Learning (IQL) and one-step AWR from a dataset of transitions.

IQL (Kostrikov, Nair, Levine, "Offline Reinforcement Learning with Implicit Q-Learning",
ICLR 2022, arXiv:2110.06169) never evaluates Q at an action outside the dataset. It
alternates two regressions on the dataset D:

    V(s)    ← argmin_V E_{(s,a)∼D}[ L₂^τ(Q(s, a) − V(s)) ]                 (Eq. 5)
    Q(s, a) ← argmin_Q E_{(s,a,s')∼D}[ (r + γ (1 − d) V(s') − Q(s, a))² ]   (Eq. 6)

with L₂^τ(u) = |τ − 1(u < 0)| u² and d the `terminal` flag (a `timeout` is a truncation and
still bootstraps). On a table both are solved exactly: V(s) is the τ-expectile of Q(s, ·)
weighted by the dataset's action counts N(s, a) (`iqlib.tabular.expectile.expectile`), and Q(s, a) is
the average target over the N(s, a) transitions from (s, a) (`iqlib.tabular.dataset.dataset_tables`):

    Q = r̄ + γ P̂ V,   r̄(s, a) = mean reward,   P̂[s, a, s'] = #{(s, a) → s', not terminal} / N(s, a).

The expectile is monotone and shifts with its argument, so it is non-expansive in the sup
norm, and the map V ↦ expectile_τ(r̄ + γ P̂ V) is a γ-contraction: iterating it from any start
converges to the unique fixed point (a `lax.while_loop`, with the iteration count and the
final sup-norm change reported). τ = 0.5 gives the behaviour policy's value (SARSA / fitted
Q evaluation of π̂_β, "one-step"); τ → 1 gives the in-support max (batch-constrained Q-learning).

Policy extraction by advantage-weighted regression (AWR; IQL Eq. 7):
    max_π E_{(s,a)∼D}[ exp(β (Q(s, a) − V(s))) log π(a|s) ],
whose tabular maximiser is π(a|s) ∝ N(s, a) · w(s, a): the behaviour policy reweighted and
restricted to the dataset's support. Following the authors' code (ikostrikov/implicit_q_learning,
`actor.py`: `jnp.minimum(exp_a, 100.0)`) the weight is clipped, w = min(exp(β A), 100).
States with no data get the uniform policy (as `iqlib.tabular.bc.bc_tabular`).

Q at pairs (s, a) outside the dataset is undefined and returned as NaN; V at states with no
outgoing data (seen only as `next_obs`) is `unseen_value` (default: the pessimistic
min(reward) / (1 − γ)).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.bc import bc_tabular
from iqlib.tabular.dataset import check_dataset, dataset_tables, monte_carlo_returns
from iqlib.tabular.expectile import expectile

__all__ = ["IQLTabularConfig", "IQLTabularResult", "iql_backup", "iql_values", "awr_policy", "fit_iql_tabular", "onestep_awr",
           "behaviour_cloning"]

@dataclasses.dataclass(frozen=True)
class IQLTabularConfig:
    """Tabular IQL settings (defaults: the IQL paper's AntMaze settings, App. C / Table 5).

    Attributes:
      expectile: τ in (0, 1) of the value regression (Eq. 5); 0.9 for AntMaze.
      awr_temperature: the AWR inverse temperature β ≥ 0 (Eq. 7); 10 for AntMaze (with rewards r − 1).
      discount: γ in [0, 1); 0.99.
      max_weight: clip of the AWR weight exp(β A); 100 in the authors' code.
      tol: relative tolerance: stop when max |V_new − V| ≤ tol · max(1, max |V|) (float32 reaches
        about 1e-6; the fixed point is then within tol · max(1, |V|) / (1 − γ) of the iterate).
      max_iter: iteration cap of the fixed-point loop.
      unseen_value: V of states with no outgoing data; None → min(reward) / (1 − γ).
    """

    expectile: float = 0.9
    awr_temperature: float = 10.0
    discount: float = 0.99
    max_weight: float = 100.0
    tol: float = 1e-6
    max_iter: int = 20_000
    unseen_value: float | None = None

    def __post_init__(self):
        if not (0.0 < self.expectile < 1.0):
            raise ValueError(f"expectile must lie in (0, 1), got {self.expectile}")
        if not (self.awr_temperature >= 0.0 and np.isfinite(self.awr_temperature)):
            raise ValueError(f"awr_temperature must be a finite number >= 0, got {self.awr_temperature}")
        if not (0.0 <= self.discount < 1.0):
            raise ValueError(f"discount must lie in [0, 1), got {self.discount}")
        if not (self.max_weight >= 1.0):
            raise ValueError(f"max_weight must be >= 1, got {self.max_weight}")
        if not (self.tol > 0.0):
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.unseen_value is not None and not np.isfinite(self.unseen_value):
            raise ValueError(f"unseen_value must be finite or None, got {self.unseen_value}")


class IQLTabularResult(NamedTuple):
    """Q: (S, A) (NaN outside the data); V: (S,); policy: (S, A); weights: (S, A) clipped AWR
    weights (0 outside the data); counts: (S, A) N(s, a); converged: bool; n_iter: int;
    residual: final sup-norm change of V."""

    Q: jnp.ndarray
    V: jnp.ndarray
    policy: jnp.ndarray
    weights: jnp.ndarray
    counts: jnp.ndarray
    converged: jnp.ndarray
    n_iter: jnp.ndarray
    residual: jnp.ndarray


def iql_backup(V, counts, r_bar, P_cont, tau, gamma, unseen_value):
    """One sweep of IQL's two tabular regressions: the TD target for Q, then the expectile for V.

    Q(s, a) = r̄(s, a) + γ Σ_s' P̂[s, a, s'] V(s')           (Eq. 6, solved exactly per (s, a))
    V(s)    = expectile_τ of Q(s, ·) weighted by N(s, ·)     (Eq. 5); unseen_value where N(s) = 0

    V: (S,); counts: (S, A) N(s, a); r_bar: (S, A); P_cont: (S, A, S) (`dataset_tables`);
    tau: expectile τ in (0, 1); gamma: discount γ. Returns (Q: (S, A), V_new: (S,)).
    """
    seen = counts.sum(1) > 0
    weights = jnp.where(seen[:, None], counts, 1.0)  # dummy weights on unseen states (masked below)
    Q = r_bar + gamma * P_cont @ V
    return Q, jnp.where(seen, expectile(Q, tau, weights, axis=-1), unseen_value)


@partial(jax.jit, static_argnames=("max_iter",))
def iql_values(counts, r_bar, P_cont, tau, gamma, unseen_value, tol, max_iter: int):
    """Fixed point of IQL's two tabular regressions (Eqs. 5–6): `iql_backup` iterated from V = unseen_value.

    Args:
      counts: (S, A) N(s, a);  r_bar: (S, A);  P_cont: (S, A, S) (from `dataset_tables`).
      tau: expectile τ in (0, 1);  gamma: γ;  unseen_value: V where a state has no data.
      tol: stop when max |V_new − V| ≤ tol · max(1, max |V|);  max_iter: iteration cap (static).

    Returns:
      (Q: (S, A) (arbitrary where N = 0), V: (S,), n_iter, residual).
    """

    def backup(V):
        return iql_backup(V, counts, r_bar, P_cont, tau, gamma, unseen_value)

    def cond(carry):
        _, V, i, delta = carry
        return (delta > tol * jnp.maximum(1.0, jnp.max(jnp.abs(V)))) & (i < max_iter)

    def body(carry):
        _, V, i, _ = carry
        Q, V_new = backup(V)
        return Q, V_new, i + 1, jnp.max(jnp.abs(V_new - V))

    V0 = jnp.full(counts.shape[0], unseen_value, dtype=r_bar.dtype)
    Q0 = jnp.zeros_like(r_bar)
    Q, V, n_iter, residual = jax.lax.while_loop(cond, body, (Q0, V0, jnp.asarray(0), jnp.asarray(jnp.inf, r_bar.dtype)))
    return Q, V, n_iter, residual


def awr_policy(Q, V, counts, beta, max_weight=100.0):
    """AWR extraction on a table: π(a|s) ∝ N(s, a) · min(exp(β (Q(s, a) − V(s))), max_weight).

    Args:
      Q: (S, A) (values where N = 0 are ignored, NaN allowed);  V: (S,);  counts: (S, A) N(s, a).
      beta: inverse temperature β ≥ 0;  max_weight: clip of the exponentiated advantage.

    Returns:
      (policy: (S, A), weights: (S, A) clipped weights, 0 where N = 0). States without data
      get the uniform policy.
    """
    counts = jnp.asarray(counts)
    adv = jnp.where(counts > 0, jnp.asarray(Q) - jnp.asarray(V)[:, None], 0.0)
    w = jnp.where(counts > 0, jnp.exp(jnp.minimum(beta * adv, jnp.log(max_weight))), 0.0)
    return bc_tabular(counts * w), w


def _fit(counts, r_bar, P_cont, config: IQLTabularConfig, tau: float) -> IQLTabularResult:
    f = jnp.asarray
    unseen = config.unseen_value
    if unseen is None:
        unseen = float(np.min(r_bar[counts > 0])) / (1.0 - config.discount)
    Q, V, n_iter, residual = iql_values(f(counts), f(r_bar), f(P_cont), tau, config.discount, unseen, config.tol,
                                        max_iter=config.max_iter)
    policy, w = awr_policy(Q, V, counts, config.awr_temperature, config.max_weight)
    Q = jnp.where(f(counts) > 0, Q, jnp.nan)
    converged = ((residual <= config.tol * jnp.maximum(1.0, jnp.max(jnp.abs(V)))) & jnp.isfinite(residual)
                 & jnp.all(jnp.isfinite(V)))
    return IQLTabularResult(Q, V, policy, w, f(counts), converged, n_iter, residual)


def fit_iql_tabular(dataset, n_states: int, n_actions: int, config: IQLTabularConfig = IQLTabularConfig()):
    """Tabular IQL: the fixed point of Eqs. 5–6 on the dataset, then AWR extraction (Eq. 7).

    Args:
      dataset: transitions dict with obs, action, reward, next_obs, terminal, timeout (N,).
      n_states, n_actions: S and A.
      config: `IQLTabularConfig`.

    Returns:
      `IQLTabularResult`.

    Raises:
      ValueError: from `check_dataset` for a malformed dataset.
    """
    counts, r_bar, P_cont, _ = dataset_tables(dataset, n_states, n_actions)
    return _fit(counts, r_bar, P_cont, config, config.expectile)


def onestep_awr(dataset, n_states: int, n_actions: int, config: IQLTabularConfig = IQLTabularConfig(),
                evaluation: str = "sarsa") -> IQLTabularResult:
    """One-step AWR: evaluate the behaviour policy (no max-like backup), then AWR extraction.

    evaluation:
      "sarsa": Q = Q^{π̂_β}, the fixed point of Eqs. 5–6 with τ = 0.5 (V = mean of Q over the
        dataset's actions = the behaviour value); Bellman backups, but no max.
      "monte_carlo": Q(s, a) = mean return-to-go of the dataset transitions from (s, a)
        (`monte_carlo_returns`), V(s) = its count-weighted mean; no Bellman backups at all,
        so no value crosses from one episode to another.
    `config.expectile` is ignored. Raises ValueError for an unknown `evaluation` or a bad dataset.
    """
    if evaluation == "sarsa":
        counts, r_bar, P_cont, _ = dataset_tables(dataset, n_states, n_actions)
        return _fit(counts, r_bar, P_cont, config, 0.5)
    if evaluation != "monte_carlo":
        raise ValueError(f"evaluation must be 'sarsa' or 'monte_carlo', got {evaluation!r}")
    d = check_dataset(dataset, n_states, n_actions)
    G = monte_carlo_returns({**d, **({"episode_id": dataset["episode_id"]} if "episode_id" in dataset else {})},
                            config.discount)
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (d["obs"], d["action"]), 1.0)
    g_sum = np.zeros((n_states, n_actions))
    np.add.at(g_sum, (d["obs"], d["action"]), G)
    Q = g_sum / np.maximum(counts, 1.0)
    n = counts.sum(1)
    V = (counts * Q).sum(1) / np.maximum(n, 1.0)
    policy, w = awr_policy(Q, V, counts, config.awr_temperature, config.max_weight)
    f = jnp.asarray
    return IQLTabularResult(jnp.where(f(counts) > 0, f(Q), jnp.nan), f(V), policy, w, f(counts),
                            jnp.asarray(True), jnp.asarray(0), jnp.asarray(0.0))


def behaviour_cloning(dataset, n_states: int, n_actions: int):
    """Tabular BC, π(a|s) = N(s, a) / N(s) (`iqlib.tabular.bc.bc_tabular`); (S, A)."""
    counts, _, _, _ = dataset_tables(dataset, n_states, n_actions)
    return bc_tabular(jnp.asarray(counts))
