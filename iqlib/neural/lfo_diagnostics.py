"""Diagnostics of a trained LfO learner (:mod:`iqlib.neural.iq_learn_lfo`) on the demonstrations' own
transitions, with their actions held out: where the critic's preference is lost on its way to actions
(notebook 06, LunarLander)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.neural.iq_learn_lfo import LfONets, action_values, predicted_next_obs, prediction_distances

__all__ = ["demo_diagnostics"]


def demo_diagnostics(nets: LfONets, params, demos) -> dict:
    """How a trained LfO learner reads the demonstrations' own transitions, with their actions held out.

    The learner never sees the demonstrations' actions; this check uses them to ask where the
    critic's preference is lost on its way to actions.

    Args:
      nets: from :func:`init_lfo`; params: with a leading seed axis S (``carry.learner.train.params``
        of :func:`iqlib.neural.iq_learn_lfo_train.train_iq_learn_lfo`; one seed's params as ``tree_map(lambda x: x[None], params)``).
      demos: ``Transitions (N, ·)`` loaded *with* their actions (``load_demos(..., observations_only=False)``).

    Returns:
      ``{"action_agreement", "model_error", "model_action_id", "action_spread"}``, each (S,) numpy:
      the fraction of demo states where argmax Q̄(s, ·) is the expert's action (chance: 1/A), and
      ("dynamics" only; NaN for "regression"), on the demo rows, in Δs-std units summed over the state
      (the units of the training ``aux_loss`` on the replay):
      ``model_error`` the squared error of ŝ'(s, a_E) against the real s';
      ``model_action_id`` the fraction of rows whose real s' is nearest ŝ'(s, a_E) among ŝ'(s, ·), i.e.
      how often the model alone tells which action the expert took (chance: 1/A);
      ``action_spread`` the mean squared distance of ŝ'(s, a) from its mean over actions: how far apart
      the model puts the actions' next states, to set beside ``model_error``. Q̄ reads actions only
      through ŝ'(s, ·), so when the spread is small against the error it cannot rank them as the expert did.
    """
    obs, nxt = jnp.asarray(demos.obs, jnp.float32), jnp.asarray(demos.next_obs, jnp.float32)
    act = jnp.asarray(demos.action, jnp.int32)

    def one(p):
        agree = jnp.mean(jnp.argmax(action_values(nets, p, obs), axis=-1) == act)
        if nets.action_model != "dynamics":
            nan = jnp.asarray(jnp.nan)
            return agree, nan, nan, nan
        pred = predicted_next_obs(nets, p["dyn"], obs)  # (B, A, O)
        dist = prediction_distances(nets, pred, nxt)  # (B, A), in Δs-std units
        pred = pred / nets.stats[3]
        err = jnp.mean(jnp.take_along_axis(dist, act[:, None], axis=1))
        ident = jnp.mean(jnp.argmin(dist, axis=-1) == act)
        spread = jnp.mean(jnp.sum((pred - pred.mean(axis=1, keepdims=True)) ** 2, axis=-1))
        return agree, err, ident, spread

    agree, err, ident, spread = jax.jit(jax.vmap(one))(params)
    return {"action_agreement": np.asarray(agree), "model_error": np.asarray(err),
            "model_action_id": np.asarray(ident), "action_spread": np.asarray(spread)}
