"""Shapes and invariants of the NNX networks, distributions and the functional split."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.nets import gaussian_log_prob, tanh_gaussian_mode, tanh_gaussian_sample
from iqlib.core.nets import LOG_STD_MAX, LOG_STD_MIN, CategoricalPolicy, DoubleCritic, GaussianPolicy, QNetwork, TanhGaussianActor, ValueNetwork, apply, count_params, init_params

OBS = jnp.linspace(-1, 1, 5 * 4).reshape(5, 4)


@pytest.mark.parametrize("make, shapes", [
    (lambda r: QNetwork(4, 3, hidden=(8, 8), rngs=r), [(5, 3)]),
    (lambda r: ValueNetwork(4, hidden=(8,), rngs=r), [(5,)]),
    (lambda r: CategoricalPolicy(4, 3, hidden=(8,), rngs=r), [(5, 3)]),
    (lambda r: GaussianPolicy(4, 2, hidden=(8,), rngs=r), [(5, 2), (5, 2)]),
    (lambda r: TanhGaussianActor(4, 2, hidden=(8,), rngs=r), [(5, 2), (5, 2)]),
])
def test_output_shapes(make, shapes):
    graphdef, params = init_params(make, jax.random.key(0))
    out = apply(graphdef, params, OBS)
    out = out if isinstance(out, tuple) else (out,)
    assert [o.shape for o in out] == shapes


def test_double_critic_heads_differ_and_have_batch_shape():
    graphdef, params = init_params(lambda r: DoubleCritic(4, 2, hidden=(8,), rngs=r), jax.random.key(0))
    q1, q2 = apply(graphdef, params, OBS, jnp.zeros((5, 2)))
    assert q1.shape == q2.shape == (5,)
    assert not np.allclose(q1, q2)  # independently initialised twins


def test_batched_keys_give_independent_seeds_with_leading_axis():
    make = lambda r: QNetwork(4, 2, hidden=(8,), rngs=r)
    graphdef, params = init_params(make, jax.random.split(jax.random.key(0), 3))
    _, single = init_params(make, jax.random.key(0))
    assert count_params(params) == 3 * count_params(single)
    q = jax.vmap(lambda p: apply(graphdef, p, OBS))(params)
    assert q.shape == (3, 5, 2)
    assert not np.allclose(q[0], q[1])


def test_gaussian_policy_mean_in_box_and_log_std_state_independent():
    graphdef, params = init_params(lambda r: GaussianPolicy(4, 2, hidden=(8,), rngs=r), jax.random.key(1))
    mean, log_std = apply(graphdef, params, 100.0 * OBS)
    assert np.all(np.abs(mean) <= 1.0)
    np.testing.assert_array_equal(log_std, np.broadcast_to(log_std[0], log_std.shape))


def test_tanh_actor_log_std_is_bounded():
    graphdef, params = init_params(lambda r: TanhGaussianActor(4, 2, hidden=(8,), rngs=r), jax.random.key(2))
    _, log_std = apply(graphdef, params, 1e4 * OBS)
    assert np.all(log_std >= LOG_STD_MIN) and np.all(log_std <= LOG_STD_MAX)


def test_gaussian_log_prob_matches_closed_form():
    mean, log_std, x = jnp.array([0.5, -1.0]), jnp.array([0.0, math.log(2.0)]), jnp.array([1.5, 1.0])
    expected = (-0.5 * 1.0 - 0.5 * math.log(2 * math.pi)) + (-0.5 * 1.0 - math.log(2.0) - 0.5 * math.log(2 * math.pi))
    assert float(gaussian_log_prob(mean, log_std, x)) == pytest.approx(expected, rel=1e-6)


def test_tanh_gaussian_log_prob_is_change_of_variables():
    """1-D: log π(a) = log N(u) − log(1 − tanh(u)²), checked against a numerical density."""
    mean, log_std = jnp.array([[0.3]]), jnp.array([[-0.5]])
    a, logp = tanh_gaussian_sample(jax.random.key(3), mean, log_std)
    u = float(jnp.arctanh(a[0, 0]))
    # density of a = tanh(u) by finite differences of the CDF of u
    from scipy.stats import norm

    eps = 1e-5
    cdf = lambda av: norm.cdf(np.arctanh(av), loc=0.3, scale=math.exp(-0.5))
    numeric = (cdf(math.tanh(u) + eps) - cdf(math.tanh(u) - eps)) / (2 * eps)
    assert float(logp[0]) == pytest.approx(math.log(numeric), abs=1e-3)
    assert float(tanh_gaussian_mode(mean)[0, 0]) == pytest.approx(math.tanh(0.3))
