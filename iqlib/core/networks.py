"""Neural networks for IQ-Learn, SAC and IQL, written with Flax NNX.

Every network is a small MLP. Training code never calls the modules directly: it keeps
them as ``(graphdef, params)`` pairs (``nnx.split``) and rebuilds the module inside the
jitted function (``nnx.merge``), so that params are a plain pytree that ``lax.scan`` can
carry and ``jax.vmap`` can batch over seeds (the pattern Flax's performance guide
recommends for small models). :func:`init_params` does the split; :func:`apply` the merge.

Modules (shapes use B for batch, O for obs_dim, A for the action count or action_dim):

- :class:`MLP` — ``x: (B, in) -> (B, out)``, ReLU hidden layers.
- :class:`QNetwork` — discrete soft Q: ``obs: (B, O) -> Q(s, ·): (B, A)``.
- :class:`ValueNetwork` — ``obs: (B, O) -> V(s): (B,)`` (IQL's V).
- :class:`DoubleCritic` — twin continuous critics ``(obs, action) -> (q1, q2)``, each
  ``(B,)`` (Fujimoto et al. 2018's clipped double-Q, used by SAC and IQL).
- :class:`TanhGaussianActor` — SAC's squashed Gaussian with state-dependent log-std
  (Haarnoja et al. 2018, Appendix C): ``obs -> (mean, log_std)`` of the pre-tanh Gaussian.
- :class:`GaussianPolicy` — IQL's continuous policy: a Gaussian with tanh'd mean and a
  state-independent log-std (Kostrikov et al. 2021, Appendix B; evaluated at the mean).
- :class:`CategoricalPolicy` — ``obs -> logits: (B, A)`` (discrete AWR / BC).

Continuous actions live in [-1, 1]^A; environments are rescaled to that box
(:func:`iqlib.core.envs.make_env`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = [
    "MLP",
    "QNetwork",
    "ValueNetwork",
    "DoubleCritic",
    "TanhGaussianActor",
    "GaussianPolicy",
    "CategoricalPolicy",
    "init_params",
    "apply",
    "count_params",
    "flatten_params",
    "unflatten_params",
    "LOG_STD_MIN",
    "LOG_STD_MAX",
]

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


class MLP(nnx.Module):
    """ReLU MLP ``x: (B, in_dim) -> (B, out_dim)``; the last layer is linear.

    ``out_scale`` multiplies the default init of the last layer's kernel (a small value
    such as 1e-2 starts a policy near uniform / near zero mean).
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, *, rngs: nnx.Rngs,
                 out_scale: float = 1.0):
        dims = [int(in_dim), *[int(h) for h in hidden]]
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
        init = nnx.initializers.variance_scaling(out_scale**2 / 3.0, "fan_in", "uniform")
        self.out = nnx.Linear(dims[-1], int(out_dim), kernel_init=init, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.hidden:
            x = jax.nn.relu(layer(x))
        return self.out(x)


class QNetwork(nnx.Module):
    """Discrete soft Q-network ``obs: (B, O) -> Q: (B, A)``."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (256, 256), *,
                 rngs: nnx.Rngs):
        self.net = MLP(obs_dim, hidden, n_actions, rngs=rngs)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return self.net(obs)


class ValueNetwork(nnx.Module):
    """State value ``obs: (B, O) -> V: (B,)``."""

    def __init__(self, obs_dim: int, hidden: Sequence[int] = (256, 256), *, rngs: nnx.Rngs):
        self.net = MLP(obs_dim, hidden, 1, rngs=rngs)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return self.net(obs)[..., 0]


class DoubleCritic(nnx.Module):
    """Twin Q-functions ``(obs: (B, O), action: (B, A)) -> (q1: (B,), q2: (B,))``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256), *,
                 rngs: nnx.Rngs):
        self.q1 = MLP(obs_dim + action_dim, hidden, 1, rngs=rngs)
        self.q2 = MLP(obs_dim + action_dim, hidden, 1, rngs=rngs)

    def __call__(self, obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = jnp.concatenate([obs, action], axis=-1)
        return self.q1(x)[..., 0], self.q2(x)[..., 0]


class TanhGaussianActor(nnx.Module):
    """SAC actor: pre-tanh Gaussian ``obs: (B, O) -> (mean: (B, A), log_std: (B, A))``.

    ``log_std`` is squashed into [LOG_STD_MIN, LOG_STD_MAX]. Sample and log-probability
    with :func:`iqlib.core.distributions.tanh_gaussian_sample`.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256), *,
                 rngs: nnx.Rngs):
        self.net = MLP(obs_dim, hidden, 2 * action_dim, rngs=rngs)

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean, raw = jnp.split(self.net(obs), 2, axis=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class GaussianPolicy(nnx.Module):
    """IQL actor: ``obs: (B, O) -> (mean: (B, A), log_std: (A,) broadcast to (B, A))``.

    The mean is ``tanh`` of the network output, so it lies in (-1, 1); the log-std is one
    learned vector, independent of the state, clipped to [LOG_STD_MIN, LOG_STD_MAX]
    (Kostrikov et al. 2021, Appendix B). Actions are evaluated at the mean.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (256, 256), *,
                 rngs: nnx.Rngs):
        self.net = MLP(obs_dim, hidden, action_dim, rngs=rngs)
        self.log_std = nnx.Param(jnp.zeros((action_dim,)))

    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = jnp.tanh(self.net(obs))
        log_std = jnp.clip(self.log_std[...], LOG_STD_MIN, LOG_STD_MAX)
        return mean, jnp.broadcast_to(log_std, mean.shape)


class CategoricalPolicy(nnx.Module):
    """Discrete policy ``obs: (B, O) -> logits: (B, A)``."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (256, 256), *,
                 rngs: nnx.Rngs):
        self.net = MLP(obs_dim, hidden, n_actions, rngs=rngs)

    def __call__(self, obs: jax.Array) -> jax.Array:
        return self.net(obs)


def init_params(module_fn: Callable[[nnx.Rngs], nnx.Module], key: jax.Array) -> tuple[Any, Any]:
    """Build a module and split it into ``(graphdef, params)``.

    Args:
      module_fn: ``rngs -> module``, e.g. ``lambda rngs: QNetwork(4, 2, rngs=rngs)``.
      key: PRNG key; a batch of keys ``(n, ...)`` gives params with a leading seed axis
        ``n`` (the graphdef is the same for all seeds).

    Returns:
      ``(graphdef, params)``; params is an ``nnx.State`` pytree.
    """
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: module_fn(nnx.Rngs(0))))

    def one(k):
        return nnx.split(module_fn(nnx.Rngs(k)))[1]

    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    batched = key.ndim > (0 if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else 1)
    params = jax.vmap(one)(key) if batched else one(key)
    return graphdef, params


def apply(graphdef: Any, params: Any, *args: Any) -> Any:
    """Call the module ``nnx.merge(graphdef, params)`` on ``args`` (pure; jit/vmap-safe)."""
    return nnx.merge(graphdef, params)(*args)


def count_params(params: Any) -> int:
    """Number of scalars in a params pytree (all seeds together if batched)."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


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
