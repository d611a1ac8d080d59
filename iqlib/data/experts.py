"""Expert checkpoints: the one parameter layout of every network saved under ``data/experts/``.

A checkpoint is an ``.npz`` of ``{"net/hidden/0/kernel": array, ...}`` ('/'-joined nnx paths)
beside a provenance record with its sha256 (:mod:`iqlib.data.files`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["flatten_params", "unflatten_params"]


def _path_name(path) -> str:
    return "/".join(str(getattr(k, "key", getattr(k, "idx", None))) for k in path
                    if not isinstance(k, jax.tree_util.GetAttrKey))


def flatten_params(params) -> dict[str, np.ndarray]:
    """nnx State -> ``{"net/hidden/0/kernel": array, ...}`` ('/'-joined keys, numpy): the
    layout of every checkpoint under ``data/experts/`` (``np.savez`` keys)."""
    return {_path_name(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def unflatten_params(template, flat: dict[str, np.ndarray]):
    """Inverse of :func:`flatten_params`: the leaves of ``flat`` in the tree of ``template``.

    Raises:
      ValueError: if the keys or shapes of ``flat`` do not match ``template``.
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    names = [_path_name(p) for p, _ in leaves]
    if set(names) != set(flat):
        raise ValueError(f"param keys {sorted(flat)} do not match the network's {sorted(names)}")
    out = []
    for name, (_, ref) in zip(names, leaves):
        if tuple(np.shape(flat[name])) != tuple(ref.shape):
            raise ValueError(f"param {name!r} has shape {np.shape(flat[name])}, network expects {ref.shape}")
        out.append(jnp.asarray(flat[name], ref.dtype))
    return jax.tree_util.tree_unflatten(treedef, out)
