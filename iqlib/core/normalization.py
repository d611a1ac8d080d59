"""Observation standardisation for networks trained on few demonstrations, and folding it away.

A network trained on standardised observations (s − mean)/std can be rewritten exactly to take
raw s by rescaling its first layer (:func:`fold_obs_normalization`), so evaluation, acting and
saved checkpoints need no separate normaliser.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.transitions import Transitions

__all__ = ["obs_statistics", "standardize", "fold_obs_normalization"]


def obs_statistics(demos: Transitions, eps: float = 1e-3):
    """Per-dimension mean and std (+ eps, so a constant coordinate does not divide by 0) of
    ``demos.obs``: two (O,) float32 arrays."""
    obs = np.asarray(demos.obs, np.float64)
    return obs.mean(0).astype(np.float32), (obs.std(0) + eps).astype(np.float32)


def standardize(demos: Transitions, mean, std) -> Transitions:
    """``demos`` with obs and next_obs mapped to (x − mean)/std."""
    return demos._replace(obs=((np.asarray(demos.obs) - mean) / std).astype(np.float32),
                          next_obs=((np.asarray(demos.next_obs) - mean) / std).astype(np.float32))


def fold_obs_normalization(params, mean, std):
    """Params of an `iqlib.core.nets.MLP`-based module trained on (s − mean)/std, rewritten to
    take raw s: first layer kernel K: (O, H) → K/std, bias b → b − (mean/std) @ K (exact).
    Works for `QNetwork` and `CategoricalPolicy` params, with or without a leading seed axis."""
    mean, std = jnp.asarray(mean), jnp.asarray(std)
    first = params["net"]["hidden"][0]
    kernel, bias = first["kernel"][...], first["bias"][...]

    def fold(path, x):
        name = jax.tree_util.keystr(path)
        if name.startswith("['net']['hidden'][0]['kernel']"):
            return kernel / std[:, None]
        if name.startswith("['net']['hidden'][0]['bias']"):
            return bias - jnp.einsum("o,...oh->...h", mean / std, kernel)
        return x

    return jax.tree_util.tree_map_with_path(fold, params)
