"""Tabular and linear IQ-Learn with known transitions (Garg et al., NeurIPS 2021): the copyable core.

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
so a step costs the same for 10³ or 10⁶ observations. Q is a free table (S, A) or linear in
features, Q = Φ w with Φ: (S, A, K). This module holds the config, the objective and one pure
L-BFGS step, `make_update(...) -> (init, update)` with `update(state, counts) -> (state, metrics)`;
the full solve with its convergence report is `iqlib.tabular.iq_learn_fit.fit_iq_learn`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from iqlib.tabular.soft_bellman import expected_next_value, soft_value

__all__ = ["IQLearnConfig", "IQLearnState", "iq_learn_objective", "q_of_params", "make_loss", "make_update"]


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
      max_iter: L-BFGS iteration cap of the full solve.
      tol: the solve stops when the gradient's L2 norm ≤ tol (objective units per parameter unit).
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


def iq_learn_objective(Q, rho, P, gamma, alpha, *, divergence="chi2", chi2_weight=0.5, init_term="value",
                       p0=None, chi2_rows="expert"):
    """The IQ-Learn objective J(Q) to be maximised (Garg et al. 2021, Eq. 9–10).

    Args:
      Q: (S, A) soft Q. rho: (S, A) expert state-action distribution (sums to 1).
      P: (S, A, S) transitions. gamma: discount γ. alpha: entropy temperature α.
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


def q_of_params(params, features=None):
    """Q from the parameters: the free table params (S, A) itself, or features (S, A, K) @ params (K,)."""
    return params if features is None else features @ params


def make_loss(config: IQLearnConfig, P, discount, entropy_temperature, *, features=None,
              p0=None) -> Callable[[Any, jax.Array], jax.Array]:
    """loss(params, counts) = −J(Q(params)) with ρ_E = counts / Σ counts (the quantity L-BFGS minimises).

    P: (S, A, S); features: optional (S, A, K) (linear Q); p0: (S,) for init_term "p0".
    counts: (S, A) expert state-action counts (any positive scale).
    """

    def loss(params, counts):
        rho = counts / jnp.sum(counts)
        return -iq_learn_objective(
            q_of_params(params, features), rho, P, discount, entropy_temperature, divergence=config.divergence,
            chi2_weight=config.chi2_weight, init_term=config.init_term, p0=p0, chi2_rows=config.chi2_rows,
        )

    return loss


class IQLearnState(NamedTuple):
    """params: the Q table (S, A) or linear weights (K,); opt_state: optax L-BFGS state
    (its `count` is the number of steps taken, its `grad` the gradient at params)."""

    params: jax.Array
    opt_state: Any


def make_update(config: IQLearnConfig, P, discount, entropy_temperature, *, features=None, p0=None):
    """One L-BFGS step on −J: returns (init, update).

    init(params) -> IQLearnState, params a (S, A) table (or (K,) weights with features).
    update(state, counts) -> (state, metrics): one optax L-BFGS step (zoom line search) on
    `make_loss(...)(params, counts)`, counts: (S, A) the demonstrations' state-action counts
    (the batch). metrics: {"objective": J at the incoming params, "grad_norm": ‖∇J‖₂ there}.
    Pure and jit-compatible; P, discount, entropy_temperature, features and p0 are constants.
    """
    loss = make_loss(config, P, discount, entropy_temperature, features=features, p0=p0)
    opt = optax.lbfgs(memory_size=config.memory_size)

    def init(params) -> IQLearnState:
        return IQLearnState(params, opt.init(params))

    def update(state: IQLearnState, counts):
        def value_fn(params):
            return loss(params, counts)

        value, grad = optax.value_and_grad_from_state(value_fn)(state.params, state=state.opt_state)
        updates, opt_state = opt.update(grad, state.opt_state, state.params, value=value, grad=grad,
                                        value_fn=value_fn)
        params = optax.apply_updates(state.params, updates)
        return IQLearnState(params, opt_state), {"objective": -value, "grad_norm": otu.tree_norm(grad)}

    return init, update
