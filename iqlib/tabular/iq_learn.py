"""Tabular and linear IQ-Learn with known transitions (Garg et al., NeurIPS 2021).

IQ-Learn replaces the min-max of inverse RL by one maximisation over a soft Q-function.
With V_Q(s) = α logsumexp(Q(s, ·)/α), π_Q = softmax(Q/α) and the inverse soft Bellman
reward r_Q = Q − γ P V_Q (Eq. 4), the objective is (Eq. 9 / Eq. 10)

    J(Q) = E_{(s,a)∼ρ_E}[ φ(r_Q(s, a)) ] − (1 − γ) E_{s0∼p0}[ V_Q(s0) ]

with φ the concave conjugate of the divergence's regulariser:
    χ²:           φ(x) = x − λ x²      (the paper writes λ = 1/(4α_χ²); λ = 0.5 ⇔ α_χ² = 0.5)
    simple / TV:  φ(x) = x             (with "value": exactly BC; with "p0" on sampled counts:
                                        unbounded on a free table, Q runs off to infinity)

The initial-state term has two estimators (Sec. 5.1, "telescoping"):
    "p0":    (1 − γ) Σ_s p0(s) V_Q(s)                   needs the true p0
    "value": E_{(s,a)∼ρ_E}[ V_Q(s) − γ (P V_Q)(s, a) ]  needs only the demonstrations
They agree in expectation when ρ_E is the expert's occupancy from p0.

Where the χ² penalty is taken matters on a free table. On expert rows only (the paper's offline
form) a never-demonstrated action's Q is untouched by the penalty, and the likelihood term pushes
it to −∞: the objective converges but the table does not. Taking the penalty on all rows,
E_{½ρ_E + ½U}[r_Q²] with U uniform over (S, A) — the tabular counterpart of the paper's
regularisation on expert *and* policy samples (Sec. 5.1) — keeps every r_Q finite. With "value" and λ = 0
the two V terms cancel and J(Q) = E_ρE[Q − V_Q] = α E_ρE[log π_Q(a|s)]: behavioural cloning
(maximum likelihood) is the zero-penalty limit of IQ-Learn.

Here ρ_E enters only through the empirical state-action counts (S, A) of the demonstrations,
so the solve costs the same for 10³ or 10⁶ observations. Q is a free table (S, A) or linear in
features, Q = Φ w with Φ: (S, A, K). The maximisation runs optax's L-BFGS inside one
jit-compiled `lax.while_loop`, with an honest convergence report.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.lbfgs import lbfgs_minimize
from iqlib.tabular.soft_bellman import expected_next_value, inverse_soft_bellman, soft_value

__all__ = ["IQLearnConfig", "IQLearnResult", "iq_learn_objective", "fit_iq_learn", "bc_tabular", "log_likelihood"]


@dataclasses.dataclass(frozen=True)
class IQLearnConfig:
    """Configuration of tabular/linear IQ-Learn.

    Attributes:
      divergence: "chi2" (φ(x) = x − λx², Garg et al. 2021 Eq. 10 with χ² regulariser) or
        "simple" (φ(x) = x, total-variation; with init_term "p0" on sampled counts it is
        unbounded on a free table, with "value" it is exactly BC).
      chi2_weight: λ ≥ 0, the χ² penalty weight; λ = 1/(4 α_χ²) in the paper's notation.
        λ → 0 recovers behavioural cloning (with init_term "value").
      init_term: "value" (telescoped over the demonstrations) or "p0" (needs p0).
      chi2_rows: "expert" (penalty over ρ_E, the paper's offline form) or "all" (penalty
        over ½ρ_E + ½ uniform(S × A): finite Q on never-demonstrated actions).
      max_iter: L-BFGS iteration cap.
      tol: stop when the gradient's L2 norm ≤ tol (objective units per parameter unit).
      memory_size: L-BFGS history length.
    """

    divergence: Literal["chi2", "simple"] = "chi2"
    chi2_weight: float = 0.5
    init_term: Literal["value", "p0"] = "value"
    chi2_rows: Literal["expert", "all"] = "expert"
    max_iter: int = 2000
    tol: float = 1e-6
    memory_size: int = 20

    def __post_init__(self):
        if self.divergence not in ("chi2", "simple"):
            raise ValueError(f"divergence must be 'chi2' or 'simple', got {self.divergence!r}")
        if not (np.isfinite(self.chi2_weight) and self.chi2_weight >= 0):
            raise ValueError(f"chi2_weight must be a finite number >= 0, got {self.chi2_weight}")
        if self.init_term not in ("value", "p0"):
            raise ValueError(f"init_term must be 'value' or 'p0', got {self.init_term!r}")
        if self.chi2_rows not in ("expert", "all"):
            raise ValueError(f"chi2_rows must be 'expert' or 'all', got {self.chi2_rows!r}")
        if int(self.max_iter) < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")


class IQLearnResult(NamedTuple):
    """Output of `fit_iq_learn`.

    Q: (S, A) soft Q; V: (S,) soft value α logsumexp(Q/α); policy: (S, A) = softmax(Q/α);
    reward: (S, A) = Q − γ P V (inverse soft Bellman); params: the table (S, A) or weights (K,);
    objective: J(Q) at the solution; loglik: Σ counts · log π (nats); converged: gradient
    norm ≤ tol; n_iter: L-BFGS iterations; grad_norm: final gradient L2 norm.
    """

    Q: jax.Array
    V: jax.Array
    policy: jax.Array
    reward: jax.Array
    params: jax.Array
    objective: jax.Array
    loglik: jax.Array
    converged: jax.Array
    n_iter: jax.Array
    grad_norm: jax.Array


def log_likelihood(counts, Q, alpha):
    """Log-likelihood Σ_{s,a} counts(s, a) log π_Q(a|s) of demonstrations, in nats.  counts, Q: (S, A)."""
    log_pi = jax.nn.log_softmax(Q / alpha, axis=-1)
    return jnp.sum(jnp.where(counts > 0, counts * log_pi, 0.0))


def iq_learn_objective(Q, rho, P, gamma, alpha, *, divergence="chi2", chi2_weight=0.5, init_term="value",
                       p0=None, chi2_rows="expert"):
    """The IQ-Learn objective J(Q) to be maximised (Garg et al. 2021, Eq. 9–10).

    Args:
      Q: (S, A) soft Q. rho: (S, A) expert state-action distribution (sums to 1).
      P: (S, A, S) transitions. gamma: discount. alpha: entropy temperature.
      divergence, chi2_weight, init_term, chi2_rows: see `IQLearnConfig`. p0: (S,), needed for "p0".

    Returns: scalar J(Q), in reward units.
    """
    V = soft_value(Q, alpha)
    PV = expected_next_value(P, V)
    r_Q = Q - gamma * PV
    linear = jnp.sum(rho * r_Q)
    if divergence == "chi2":
        rows = rho if chi2_rows == "expert" else 0.5 * rho + 0.5 / rho.size
        linear = linear - chi2_weight * jnp.sum(rows * r_Q**2)
    if init_term == "value":
        init = jnp.sum(rho * (V[:, None] - gamma * PV))
    else:
        init = (1.0 - gamma) * jnp.dot(p0, V)
    return linear - init


def _check_inputs(counts, P, features, p0, config):
    counts = np.asarray(counts, dtype=np.float64)
    P = np.asarray(P)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
    if counts.shape != P.shape[:2]:
        raise ValueError(f"counts must have shape (S, A) = {P.shape[:2]}, got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)) or counts.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero (no demonstrations?)")
    if features is not None:
        f = np.asarray(features)
        if f.ndim != 3 or f.shape[:2] != P.shape[:2]:
            raise ValueError(f"features must have shape (S, A, K) with (S, A) = {P.shape[:2]}, got {f.shape}")
    if config.init_term == "p0":
        if p0 is None:
            raise ValueError("init_term='p0' needs p0: (S,)")
        if np.asarray(p0).shape != (P.shape[0],):
            raise ValueError(f"p0 must have shape (S,) = ({P.shape[0]},), got {np.asarray(p0).shape}")


def fit_iq_learn(counts, P, gamma, alpha, config: IQLearnConfig = IQLearnConfig(), *, features=None, p0=None, init=None):
    """Fit IQ-Learn to demonstrations given as state-action counts, with known transitions.

    Args:
      counts: (S, A) number of expert visits to (s, a) (e.g. `sampling.state_action_counts`).
      P: (S, A, S) transitions. gamma: discount in [0, 1). alpha: entropy temperature α > 0.
      config: `IQLearnConfig`.
      features: optional (S, A, K); then Q = features @ w (linear IQ-Learn), else a free table.
      p0: (S,) initial distribution, required for init_term "p0".
      init: optional initial parameters ((S, A) table or (K,) weights); zeros by default.

    Returns:
      `IQLearnResult`. `converged` is False when L-BFGS hits `max_iter` before the gradient
      norm reaches `tol` — e.g. for the simple objective (or χ² with chi2_rows "expert") with
      init_term "p0" on sampled counts, which violate the occupancy flow constraint so that J is
      unbounded above. With chi2_rows "expert", the Q of actions never demonstrated in a visited
      state drifts towards −∞ (the objective converges, that part of the table does not).

    Raises:
      ValueError: on wrong shapes, negative or empty counts, or a missing p0.
    """
    _check_inputs(counts, P, features, p0, config)
    dtype = jnp.asarray(P).dtype
    counts = jnp.asarray(counts, dtype)
    P = jnp.asarray(P, dtype)
    feats = None if features is None else jnp.asarray(features, dtype)
    p0 = None if p0 is None else jnp.asarray(p0, dtype)
    if init is None:
        init = jnp.zeros(counts.shape if feats is None else feats.shape[-1:], dtype)
    return _fit(counts, P, jnp.asarray(gamma, dtype), jnp.asarray(alpha, dtype), feats, p0, jnp.asarray(init, dtype), config)


@partial(jax.jit, static_argnames=("config",))
def _fit(counts, P, gamma, alpha, feats, p0, init, config):
    rho = counts / jnp.sum(counts)

    def q_of(params):
        return params if feats is None else feats @ params

    def loss(params):  # minimise −J
        return -iq_learn_objective(
            q_of(params), rho, P, gamma, alpha, divergence=config.divergence,
            chi2_weight=config.chi2_weight, init_term=config.init_term, p0=p0, chi2_rows=config.chi2_rows,
        )

    opt = lbfgs_minimize(loss, init, max_iter=config.max_iter, tol=config.tol, memory_size=config.memory_size)
    params, value, gnorm = opt.params, opt.value, opt.grad_norm
    Q = q_of(params)
    V = soft_value(Q, alpha)
    return IQLearnResult(
        Q=Q, V=V, policy=jax.nn.softmax(Q / alpha, axis=-1),
        reward=inverse_soft_bellman(Q, P, gamma, alpha), params=params, objective=-value,
        loglik=log_likelihood(counts, Q, alpha), converged=opt.converged,
        n_iter=opt.n_iter, grad_norm=gnorm,
    )


def bc_tabular(counts, prior=0.0):
    """Tabular behavioural cloning: the maximum-likelihood policy π(a|s) = counts(s, a)/counts(s).

    counts: (S, A). prior: pseudo-count added to every (s, a) (Laplace smoothing); states with
    no data get the uniform policy. Returns π: (S, A).
    """
    c = jnp.asarray(counts) + prior
    n = c.sum(-1, keepdims=True)
    return jnp.where(n > 0, c / jnp.where(n > 0, n, 1.0), 1.0 / c.shape[-1])
