"""Act heads: one jitted ``act(params, obs, key) -> action`` per kind of network output.

Every head is built by :func:`seed_batched_act` from a network's graphdef and a function of its
output: ``obs: (B, O)`` with unbatched params gives ``(B,)`` int or ``(B, A)`` float actions;
``obs: (S, B, O)`` with params carrying a leading seed axis S gives ``(S, B)`` / ``(S, B, A)``,
with an independent key per seed. For :func:`iqlib.core.envs.evaluate` bind the params:
``functools.partial(head(graphdef), params)`` is the ``act(obs, key)`` it wants
(``batch_shape=(S,)`` for seed-batched params).

| network output | deterministic | stochastic |
|---|---|---|
| Gaussian ``(mean, log_std)`` (IQL, BC) | the mean | mean + σ·ε, clipped to [-1, 1] |
| categorical logits (IQL, BC) | argmax | a ∼ softmax(logits) |
| tanh-Gaussian ``(mean, log_std)`` (SAC, online IQ-Learn) | tanh(mean) | tanh(u), u ∼ N(mean, σ²) |
| discrete Q (IQ-Learn offline, DQN, LfO) | argmax_a Q | a ∼ softmax(Q/α) (IQ-Learn Eq. 3) |

Heads are cached per graphdef (and α), so repeated evaluation reuses one compiled function.
A network that is not one graphdef (LfO's action values Q̄(s, ·) through a dynamics model) gets
the same heads from :func:`batched_act` with ``net(params, obs) -> output``; DQN's ε-greedy
exploration is :func:`epsilon_greedy_act` around a greedy or softmax head.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

from iqlib.core.nets import apply, tanh_gaussian_mode, tanh_gaussian_sample

__all__ = ["batched_act", "seed_batched_act", "deterministic_act", "stochastic_act", "tanh_gaussian_act",
           "greedy_act", "softmax_act", "greedy_head", "softmax_head", "epsilon_greedy_act"]


def batched_act(net: Callable[[Any, jax.Array], Any], fn: Callable[[Any, jax.Array], jax.Array]) -> Callable:
    """Jitted ``act(params, obs, key)`` from ``net(params, obs: (B, O)) -> output`` and a head
    ``fn(output, key) -> action``.

    ``obs: (B, O)`` with unbatched params, or ``obs: (S, B, O)`` with params carrying a leading
    seed axis S (one key per seed).
    """

    def one(params, obs, key):
        return fn(net(params, jnp.asarray(obs, jnp.float32)), key)

    @jax.jit
    def act(params, obs, key):
        if obs.ndim == 2:
            return one(params, obs, key)
        return jax.vmap(one)(params, obs, jax.random.split(key, obs.shape[0]))

    return act


def seed_batched_act(graphdef: Any, fn: Callable[[Any, jax.Array], jax.Array]) -> Callable:
    """:func:`batched_act` of the network ``graphdef`` (``apply(graphdef, params, obs)``)."""
    return batched_act(functools.partial(apply, graphdef), fn)


def greedy_head(q: jax.Array, key: jax.Array) -> jax.Array:
    """argmax_a Q(s, a) of ``q: (..., A)``, int32 (``key`` unused)."""
    return jnp.argmax(q, axis=-1).astype(jnp.int32)


def softmax_head(entropy_temperature: float) -> Callable:
    """``head(q: (..., A), key) -> a ∼ softmax(q/α)``, int32 (the soft-optimal policy at α > 0).

    Raises:
      ValueError: if ``entropy_temperature`` is not > 0.
    """
    if not entropy_temperature > 0:
        raise ValueError(f"entropy_temperature must be > 0, got {entropy_temperature}")
    return lambda q, key: jax.random.categorical(key, q / entropy_temperature, axis=-1).astype(jnp.int32)


def _policy_head(deterministic: bool) -> Callable:
    def head(out, key):
        if isinstance(out, tuple):  # Gaussian (mean, log_std); actions stay in [-1, 1]
            mean, log_std = out
            if deterministic:
                return mean
            return jnp.clip(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape), -1.0, 1.0)
        return jnp.argmax(out, -1) if deterministic else jax.random.categorical(key, out, axis=-1)

    return head


@functools.lru_cache(maxsize=64)
def deterministic_act(graphdef: Any) -> Callable:
    """A Gaussian or categorical policy at its mode (the mean / the argmax)."""
    return seed_batched_act(graphdef, _policy_head(True))


@functools.lru_cache(maxsize=64)
def stochastic_act(graphdef: Any) -> Callable:
    """A Gaussian or categorical policy sampled: a ∼ π(·|s) (Gaussian clipped to [-1, 1])."""
    return seed_batched_act(graphdef, _policy_head(False))


@functools.lru_cache(maxsize=64)
def tanh_gaussian_act(graphdef: Any, deterministic: bool = True) -> Callable:
    """SAC's squashed Gaussian: tanh(mean), or a reparameterised sample (SAC App. C)."""
    if deterministic:
        return seed_batched_act(graphdef, lambda out, key: tanh_gaussian_mode(out[0]))
    return seed_batched_act(graphdef, lambda out, key: tanh_gaussian_sample(key, *out)[0])


@functools.lru_cache(maxsize=64)
def greedy_act(graphdef: Any) -> Callable:
    """A discrete Q-network's greedy action argmax_a Q(s, a), int32."""
    return seed_batched_act(graphdef, greedy_head)


@functools.lru_cache(maxsize=64)
def softmax_act(graphdef: Any, entropy_temperature: float) -> Callable:
    """a ∼ softmax(Q(s, ·)/α): the soft-optimal policy of Q at temperature α > 0, int32.

    Raises:
      ValueError: if ``entropy_temperature`` is not > 0.
    """
    return seed_batched_act(graphdef, softmax_head(entropy_temperature))


@functools.lru_cache(maxsize=64)
def epsilon_greedy_act(graphdef: Any, entropy_temperature: float = 0.0) -> Callable:
    """Jitted ``act(params, obs, key, eps) -> actions`` int32: with probability ``eps`` a uniform
    action, else argmax Q (``entropy_temperature = 0``) or a ∼ softmax(Q/α) (α > 0, soft
    Q-learning's exploration, Haarnoja et al. 2017, Eq. 10). Shapes as :func:`batched_act`."""
    base = greedy_act(graphdef) if entropy_temperature == 0 else softmax_act(graphdef, entropy_temperature)

    @jax.jit
    def act(params, obs, key, eps):
        obs = jnp.asarray(obs, jnp.float32)
        k_base, k_rand, k_explore = jax.random.split(key, 3)
        chosen = base(params, obs, k_base)
        one = params if obs.ndim == 2 else jax.tree_util.tree_map(lambda x: x[0], params)
        q_width = jax.eval_shape(functools.partial(apply, graphdef), one, obs.reshape(-1, obs.shape[-1])).shape[-1]
        rand = jax.random.randint(k_rand, chosen.shape, 0, q_width)
        return jnp.where(jax.random.uniform(k_explore, chosen.shape) < eps, rand, chosen).astype(jnp.int32)

    return act
