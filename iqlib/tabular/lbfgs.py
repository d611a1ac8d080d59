"""Deterministic minimisation with optax's L-BFGS inside one `lax.while_loop`.

The tabular estimators (IQ-Learn, the structural MLE, anchored IQ-Learn) all minimise a smooth
full-batch loss; this is the one loop they share, so that each reports convergence the same
way: stop when the gradient's L2 norm is ≤ tol or after `max_iter` L-BFGS steps (each with
optax's zoom line search).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import optax
import optax.tree_utils as otu

__all__ = ["LBFGSResult", "lbfgs_minimize"]


class LBFGSResult(NamedTuple):
    """params: the minimiser (same pytree as `init`); value: loss at params; grad_norm: ‖∇loss‖₂
    there; n_iter: L-BFGS steps taken; converged: grad_norm ≤ tol."""

    params: jax.Array
    value: jax.Array
    grad_norm: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def lbfgs_minimize(loss: Callable, init, *, max_iter: int, tol, memory_size: int = 10) -> LBFGSResult:
    """Minimise `loss(params) -> scalar` from `init` with optax L-BFGS; call inside `jax.jit`.

    Args:
      loss: a smooth scalar function of a pytree of arrays.
      init: the starting pytree. max_iter: iteration cap (Python int).
      tol: gradient-norm tolerance (loss units per parameter unit). memory_size: L-BFGS history.
    """
    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(params, updates), state

    def cond(carry):
        _, state = carry
        count = otu.tree_get(state, "count")
        gnorm = otu.tree_norm(otu.tree_get(state, "grad"))
        return (count == 0) | ((count < max_iter) & (gnorm > tol))

    params, state = jax.lax.while_loop(cond, step, (init, opt.init(init)))
    value, grad = jax.value_and_grad(loss)(params)
    gnorm = otu.tree_norm(grad)
    return LBFGSResult(params, value, gnorm, otu.tree_get(state, "count"), gnorm <= tol)
