"""Expert checkpoints: the one parameter layout and the I/O of every network under ``data/experts/``.

A checkpoint is an ``.npz`` of ``{"net/hidden/0/kernel": array, ...}`` ('/'-joined nnx paths)
beside a provenance record with its sha256 (:mod:`iqlib.data.files`). Two kinds live in
:data:`EXPERTS_DIR`, one file per environment ``<env_id>.npz``:

- Double-DQN Q-networks (discrete envs; :func:`save_dqn_expert` / :func:`load_dqn_expert`), each
  with an intermediate "medium" checkpoint under the key prefix ``medium/``;
- SAC tanh-Gaussian actors (continuous envs; :func:`save_actor` / :func:`load_actor`, and
  :func:`load_sac_expert` for the project's expert of an environment).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.envs import env_spec
from iqlib.core.nets import QNetwork, TanhGaussianActor, init_params
from iqlib.data.files import DATA_ROOT, load_npz_verified, load_provenance, save_npz_with_provenance

__all__ = ["EXPERTS_DIR", "flatten_params", "unflatten_params", "expert_path", "save_dqn_expert", "load_dqn_expert",
           "save_actor", "load_actor", "load_sac_expert"]

#: the one folder of expert checkpoints.
EXPERTS_DIR = DATA_ROOT / "experts"


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


def expert_path(env_id: str, directory=None) -> pathlib.Path:
    """``data/experts/<env_id>.npz`` (or under ``directory``)."""
    return pathlib.Path(directory or EXPERTS_DIR) / f"{env_id}.npz"


def save_dqn_expert(env_id: str, params, hidden, provenance: dict, directory=None, medium_params=None) -> str:
    """Write a Q-network's params and provenance (plus ``hidden``, ``obs_dim``, ``n_actions``) to
    :func:`expert_path`; return the sha256. ``medium_params`` (an intermediate checkpoint) is
    stored under the key prefix ``medium/``."""
    spec = env_spec(env_id)
    meta = {**provenance, "env_id": env_id, "network": "iqlib.core.nets.QNetwork",
            "hidden": [int(h) for h in hidden], "obs_dim": spec["obs_dim"], "n_actions": spec["n_actions"],
            "checkpoints": ["expert"] + (["medium"] if medium_params is not None else [])}
    arrays = flatten_params(params)
    if medium_params is not None:
        arrays.update({f"medium/{k}": v for k, v in flatten_params(medium_params).items()})
    return save_npz_with_provenance(expert_path(env_id, directory), arrays, meta)


def load_dqn_expert(env_id: str, directory=None, checkpoint: str = "expert"):
    """Rebuild a saved Double-DQN expert: ``(graphdef, params)`` of its QNetwork (checksum verified).

    ``checkpoint="medium"`` gives the intermediate checkpoint used for the mixed offline sets.

    Raises:
      FileNotFoundError: if no expert was saved (run ``make data-discrete``).
      ValueError: on a checksum mismatch, an unknown checkpoint or params that do not fit the network.
    """
    path = expert_path(env_id, directory)
    if not path.is_file():
        raise FileNotFoundError(f"no expert {str(path)!r}; train one with `make data-discrete`")
    meta = load_provenance(path)
    if checkpoint not in meta.get("checkpoints", ["expert"]):
        raise ValueError(f"checkpoint must be one of {meta.get('checkpoints', ['expert'])}, got {checkpoint!r}")
    arrays = load_npz_verified(path)
    prefix = "medium/"
    flat = ({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)} if checkpoint == "medium"
            else {k: v for k, v in arrays.items() if not k.startswith(prefix)})
    graphdef, template = init_params(lambda rngs: QNetwork(meta["obs_dim"], meta["n_actions"],
                                                           tuple(meta["hidden"]), rngs=rngs), jax.random.key(0))
    return graphdef, unflatten_params(template, flat)


def save_actor(path, params, provenance: dict) -> str:
    """Write SAC actor params (flattened) + provenance to ``path``; return the sha256.

    Raises:
      ValueError: if ``provenance`` lacks ``env_id`` or ``hidden`` (needed to rebuild the actor).
    """
    for k in ("env_id", "hidden"):
        if k not in provenance:
            raise ValueError(f"provenance must hold {k!r} to rebuild the actor")
    return save_npz_with_provenance(path, flatten_params(params), provenance)


def load_actor(path):
    """``(actor graphdef, params)`` of a TanhGaussianActor written by :func:`save_actor` (sha256 checked).

    Raises:
      ValueError: on a checksum mismatch or stored arrays that do not fit the actor.
    """
    prov = load_provenance(path)
    flat = load_npz_verified(path)
    spec = env_spec(prov["env_id"])
    actor_def, params = init_params(lambda r: TanhGaussianActor(spec["obs_dim"], spec["action_dim"],
                                                                 tuple(prov["hidden"]), rngs=r), jax.random.key(0))
    try:
        params = unflatten_params(params, flat)
    except ValueError as err:
        raise ValueError(f"{path}: stored arrays do not match a TanhGaussianActor with hidden={prov['hidden']}: "
                         f"{err}") from None
    return actor_def, params


def load_sac_expert(env_id: str, directory=None):
    """The project's SAC expert for ``env_id``: ``(actor graphdef, params)`` from :func:`expert_path`.

    Raises:
      FileNotFoundError: no expert file (the message names ``make data-locomotion``).
    """
    path = expert_path(env_id, directory)
    if not path.is_file():
        raise FileNotFoundError(f"no expert for {env_id!r} at {path}; run `make data-locomotion`")
    return load_actor(path)
