"""The neural pieces every learner shares, written with Flax NNX: networks, densities, train state.

Networks are kept as ``(graphdef, params)`` pairs (``nnx.split``) and rebuilt inside jitted
code (``nnx.merge``), so params are a plain pytree that ``lax.scan`` can carry and
``jax.vmap`` can batch over seeds (the pattern Flax's performance guide recommends for small
models). :func:`init_params` splits; :func:`apply` merges and calls. Shapes: B batch, O
obs_dim, A the action count or action_dim.

- :class:`MLP` ``x: (B, in) -> (B, out)``; :class:`QNetwork` ``obs -> Q(s, ·): (B, A)``;
  :class:`ValueNetwork` ``obs -> V(s): (B,)``; :class:`DoubleCritic` twin continuous critics
  ``(obs, action) -> (q1, q2)`` (Fujimoto et al. 2018).
- :class:`TanhGaussianActor` SAC's squashed Gaussian (Haarnoja et al. 2018, App. C);
  :class:`GaussianPolicy` IQL's Gaussian with tanh'd mean and state-independent log-std
  (Kostrikov et al. 2021, App. B); :class:`CategoricalPolicy` logits ``(B, A)``.
- Densities: :func:`gaussian_log_prob`; the tanh-Gaussian :func:`tanh_gaussian_sample`
  (SAC Eq. 21) and :func:`tanh_gaussian_mode`; :func:`log_likelihood` of dataset actions
  under a Gaussian or categorical policy (BC, and IQL's AWR, Eq. 7).
- Training state: :class:`TrainState`, :func:`apply_gradients` (optax), :func:`polyak_update`.

Continuous actions live in [-1, 1]^A (:func:`iqlib.core.envs.make_env` rescales the box).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax
from flax import nnx

__all__ = ["MLP", "QNetwork", "ValueNetwork", "DoubleCritic", "TanhGaussianActor", "GaussianPolicy",
           "CategoricalPolicy", "init_params", "apply", "count_params", "make_policy", "LOG_STD_MIN",
           "LOG_STD_MAX", "gaussian_log_prob", "tanh_gaussian_sample", "tanh_gaussian_mode", "log_likelihood",
           "TrainState", "create_train_state", "apply_gradients", "polyak_update", "check_finite"]

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
    with :func:`tanh_gaussian_sample`.
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


_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, x: jax.Array) -> jax.Array:
    """Diagonal Gaussian log-density summed over the last axis.

    Args:
      mean, log_std, x: (..., A).

    Returns:
      (...,) log N(x; mean, exp(log_std)²) in nats.
    """
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)


def tanh_gaussian_sample(key: jax.Array, mean: jax.Array, log_std: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Reparameterised sample of a tanh-squashed Gaussian and its log-probability.

    Args:
      key: PRNG key.
      mean, log_std: (..., A) parameters of the pre-tanh Gaussian.

    Returns:
      ``(action: (..., A) in (-1, 1), log_prob: (...,))``. The Jacobian term uses the
      stable identity log(1 − tanh(u)²) = 2 (log 2 − u − softplus(−2u)).
    """
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    log_det = 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), gaussian_log_prob(mean, log_std, u) - jnp.sum(log_det, axis=-1)


def tanh_gaussian_mode(mean: jax.Array) -> jax.Array:
    """Deterministic action of a tanh-Gaussian policy: ``tanh(mean)``, shape of ``mean``."""
    return jnp.tanh(mean)


def make_policy(space: dict, hidden: tuple) -> Callable:
    """``rngs -> policy module``: CategoricalPolicy if ``space["discrete"]``, else GaussianPolicy.

    ``space``: ``{"discrete", "obs_dim", "n_actions" | "action_dim"}`` (as
    :func:`iqlib.neural.offline.action_space` returns).
    """
    if space["discrete"]:
        return lambda rngs: CategoricalPolicy(space["obs_dim"], space["n_actions"], tuple(hidden), rngs=rngs)
    return lambda rngs: GaussianPolicy(space["obs_dim"], space["action_dim"], tuple(hidden), rngs=rngs)


def log_likelihood(graphdef: Any, params: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
    """log π(a | s) of dataset actions, in nats.

    Args:
      graphdef, params: a CategoricalPolicy or GaussianPolicy (:func:`init_params`).
      obs: (B, O). action: (B,) int (categorical) or (B, A) float (Gaussian).

    Returns:
      (B,) log-probabilities (log-softmax entry, or the diagonal Gaussian log-density).
    """
    out = apply(graphdef, params, obs)
    if isinstance(out, tuple):  # Gaussian: (mean, log_std)
        return gaussian_log_prob(out[0], out[1], action)
    return jnp.take_along_axis(jax.nn.log_softmax(out, axis=-1), action[:, None].astype(jnp.int32), axis=-1)[:, 0]


class TrainState(NamedTuple):
    """Params and Optax state of one network."""

    params: Any
    opt_state: Any


def create_train_state(params: Any, tx: optax.GradientTransformation) -> TrainState:
    """A :class:`TrainState` with ``tx.init(params)``."""
    return TrainState(params, tx.init(params))


def apply_gradients(state: TrainState, grads: Any, tx: optax.GradientTransformation) -> TrainState:
    """One optimiser step: ``params ← params + tx.update(grads)``."""
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), opt_state)


def polyak_update(target: Any, online: Any, rate: float) -> Any:
    """Polyak averaging ``target ← (1 − rate)·target + rate·online`` (leafwise).

    ``rate`` is the paper's τ_target (0.005 in SAC and IQL).
    """
    return jax.tree_util.tree_map(lambda t, o: (1.0 - rate) * t + rate * o, target, online)


def check_finite(config: Any) -> None:
    """Refuse a dataclass config whose float fields hold inf or nan (every learner's config calls it).

    Raises:
      ValueError: naming the config class, the fields and their values.
    """
    bad = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
           if isinstance(getattr(config, f.name), float) and not math.isfinite(getattr(config, f.name))}
    if bad:
        raise ValueError(f"{type(config).__name__}: {', '.join(bad)} must be finite (not inf or nan), got {bad}")
