"""Diagnostics of a trained LfO learner (:mod:`iqlib.neural.iq_learn_lfo`) on the demonstrations' own
transitions, with their actions held out: where the critic's preference is lost on its way to actions
(notebook 06, LunarLander)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.neural.iq_learn_lfo import LfONets, action_values, predicted_next_obs

__all__ = ["demo_diagnostics"]


def demo_diagnostics(nets: LfONets, params, demos) -> dict:
    """How a trained LfO learner reads the demonstrations' own transitions, with their actions held out.

    The learner never sees the demonstrations' actions; this check uses them to ask where the
    critic's preference is lost on its way to actions.

    Args:
      nets: from :func:`init_lfo`; params: with a leading seed axis S (``carry.learner.train.params``
        of :func:`train_iq_learn_lfo`; one seed's params as ``tree_map(lambda x: x[None], params)``).
      demos: ``Transitions (N, ·)`` loaded *with* their actions (``load_demos(..., observations_only=False)``).

    Returns:
      ``{"action_agreement": (S,), "model_error": (S,)}`` numpy: the fraction of demo states where
      argmax Q̄(s, ·) is the expert's action (chance: 1/A), and ("dynamics" only; NaN for "regression")
      the dynamics model's squared error of ŝ'(s, a_E) on the demo rows, in Δs-std units summed over
      the state (the same units as the training ``aux_loss`` on the replay).
    """
    obs, nxt = jnp.asarray(demos.obs, jnp.float32), jnp.asarray(demos.next_obs, jnp.float32)
    act = jnp.asarray(demos.action, jnp.int32)

    def one(p):
        agree = jnp.mean(jnp.argmax(action_values(nets, p, obs), axis=-1) == act)
        if nets.action_model != "dynamics":
            return agree, jnp.asarray(jnp.nan)
        pred = jnp.take_along_axis(predicted_next_obs(nets, p["dyn"], obs), act[:, None, None], axis=1)[:, 0]
        return agree, jnp.mean(jnp.sum(((pred - nxt) / nets.stats[3]) ** 2, axis=-1))

    agree, err = jax.jit(jax.vmap(one))(params)
    return {"action_agreement": np.asarray(agree), "model_error": np.asarray(err)}
