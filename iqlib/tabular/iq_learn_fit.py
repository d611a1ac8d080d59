"""The full tabular IQ-Learn solve: validated inputs, the L-BFGS loop to convergence, a report.

`fit_iq_learn` runs the core's step (`iqlib.tabular.iq_learn.make_update`: one optax L-BFGS
step on −J) inside one jit-compiled `lax.while_loop` until the gradient's L2 norm is ≤ tol
or `max_iter` steps were taken, then reads Q, V, the policy, the inverse-Bellman reward and
the demonstrations' log-likelihood off the solution, with an honest convergence flag.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax.tree_utils as otu

from iqlib.tabular.bc import log_likelihood
from iqlib.tabular.checks import check_discount, check_positive
from iqlib.tabular.iq_learn import IQLearnConfig, make_loss, make_update, q_of_params
from iqlib.tabular.mdp import check_transitions
from iqlib.tabular.soft_bellman import inverse_soft_bellman, soft_value

__all__ = ["IQLearnResult", "check_iq_learn_inputs", "fit_iq_learn"]


class IQLearnResult(NamedTuple):
    """Output of `fit_iq_learn` (and `iqlib.tabular.anchor.fit_iq_learn_anchored`).

    Q: (S, A) soft Q; V: (S,) soft value α logsumexp(Q/α); policy: (S, A) = softmax(Q/α);
    reward: (S, A) = Q − γ P V (inverse soft Bellman); params: the table (S, A) or weights (K,);
    objective: J(Q) at the solution; loglik: Σ counts · log π (nats); converged: gradient
    norm ≤ tol at a finite objective; n_iter: L-BFGS iterations; grad_norm: final gradient L2 norm.
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


def check_iq_learn_inputs(counts, P, features, p0, config: IQLearnConfig, discount=None,
                          entropy_temperature=None, init=None) -> None:
    """Check the inputs of `fit_iq_learn`; every error names the argument and what was expected.

    Raises:
      ValueError: P not (S, A, S) with non-negative rows summing to 1; counts not (S, A), negative,
        non-finite or all zero; features not (S, A, K) or non-finite; a missing p0 (init_term
        "p0") or one that is not a probability vector (S,); discount not in [0, 1);
        entropy_temperature not a finite number > 0; init of the wrong shape or non-finite.
    """
    if discount is not None:
        check_discount(discount, "discount")
    if entropy_temperature is not None:
        check_positive(entropy_temperature, "entropy_temperature")
    P = check_transitions(P, "P", atol=1e-4)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != P.shape[:2]:
        raise ValueError(f"counts must have shape (S, A) = {P.shape[:2]}, got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)) or counts.sum() <= 0:
        raise ValueError("counts must be finite, non-negative and not all zero (no demonstrations?)")
    n_params = counts.shape
    if features is not None:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 3 or f.shape[:2] != P.shape[:2]:
            raise ValueError(f"features must have shape (S, A, K) with (S, A) = {P.shape[:2]}, got {f.shape}")
        if not np.all(np.isfinite(f)):
            raise ValueError("features has NaN or infinite entries")
        n_params = f.shape[-1:]
    if config.init_term == "p0" and p0 is None:
        raise ValueError("init_term='p0' needs p0: (S,)")
    if p0 is not None:
        p = np.asarray(p0, dtype=np.float64)
        if p.shape != (P.shape[0],):
            raise ValueError(f"p0 must have shape (S,) = ({P.shape[0]},), got {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1.0) > 1e-4:
            raise ValueError(f"p0 must be a probability vector (finite, non-negative, sums to 1), sum = {p.sum():.6g}")
    if init is not None:
        i = np.asarray(init, dtype=np.float64)
        if i.shape != n_params or not np.all(np.isfinite(i)):
            raise ValueError(f"init must be a finite array of shape {n_params}, got shape {i.shape}")


def fit_iq_learn(counts, P, discount, entropy_temperature, config: IQLearnConfig = IQLearnConfig(), *,
                 features=None, p0=None, init=None) -> IQLearnResult:
    """Fit IQ-Learn to demonstrations given as state-action counts, with known transitions.

    Maximises J(Q) (Garg et al. 2021, Eq. 9–10; `iqlib.tabular.iq_learn.iq_learn_objective`).

    Args:
      counts: (S, A) number of expert visits to (s, a) (e.g. `sampling.state_action_counts`).
      P: (S, A, S) transitions. discount: γ in [0, 1). entropy_temperature: α > 0.
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
      ValueError: naming the argument (`check_iq_learn_inputs`): discount not in [0, 1),
        entropy_temperature not > 0, transition rows that do not sum to 1, wrong shapes,
        negative, non-finite or empty counts, a missing or invalid p0, a bad init.
    """
    check_iq_learn_inputs(counts, P, features, p0, config, discount, entropy_temperature, init)
    dtype = jnp.asarray(P).dtype
    counts = jnp.asarray(counts, dtype)
    P = jnp.asarray(P, dtype)
    feats = None if features is None else jnp.asarray(features, dtype)
    p0 = None if p0 is None else jnp.asarray(p0, dtype)
    if init is None:
        init = jnp.zeros(counts.shape if feats is None else feats.shape[-1:], dtype)
    return _fit(counts, P, jnp.asarray(discount, dtype), jnp.asarray(entropy_temperature, dtype), feats, p0,
                jnp.asarray(init, dtype), config)


@partial(jax.jit, static_argnames=("config",))
def _fit(counts, P, gamma, alpha, feats, p0, init, config):
    init_state, update = make_update(config, P, gamma, alpha, features=feats, p0=p0)
    loss = make_loss(config, P, gamma, alpha, features=feats, p0=p0)

    def cond(state):
        count = otu.tree_get(state.opt_state, "count")
        gnorm = otu.tree_norm(otu.tree_get(state.opt_state, "grad"))
        return (count == 0) | ((count < config.max_iter) & (gnorm > config.tol))

    state = jax.lax.while_loop(cond, lambda s: update(s, counts)[0], init_state(init))
    params = state.params
    value, grad = jax.value_and_grad(loss)(params, counts)
    gnorm = otu.tree_norm(grad)
    Q = q_of_params(params, feats)
    return IQLearnResult(
        Q=Q, V=soft_value(Q, alpha), policy=jax.nn.softmax(Q / alpha, axis=-1),
        reward=inverse_soft_bellman(Q, P, gamma, alpha), params=params, objective=-value,
        loglik=log_likelihood(counts, Q, alpha), converged=(gnorm <= config.tol) & jnp.isfinite(value),
        n_iter=otu.tree_get(state.opt_state, "count"), grad_norm=gnorm,
    )
