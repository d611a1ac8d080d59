"""Log-densities and samplers for the policies in :mod:`iqlib.core.networks`.

- Diagonal Gaussian log-density (IQL's AWR actor loss, Kostrikov et al. 2021, Eq. 7,
  evaluates log π(a|s) of dataset actions under a Gaussian with tanh'd mean).
- Tanh-squashed Gaussian (SAC, Haarnoja et al. 2018, Appendix C, Eq. 21): sample
  u ~ N(μ, σ²), a = tanh(u), log π(a|s) = log N(u; μ, σ²) − Σ log(1 − tanh(u)²).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["gaussian_log_prob", "tanh_gaussian_sample", "tanh_gaussian_mode"]

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
