"""Scan-chunk training plumbing: Polyak inside compiled chunks, vmapped seeds, step counts
(through :func:`make_chunk` and the offline driver :class:`OfflineTrainer`)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from iqlib.core.nets import apply_gradients, create_train_state, polyak_update
from iqlib.core.training import make_chunk, stack_metrics
from iqlib.neural.offline import OfflineTrainer


def test_polyak_update_is_convex_combination():
    out = polyak_update({"w": jnp.array([0.0, 10.0])}, {"w": jnp.array([1.0, 0.0])}, 0.1)
    np.testing.assert_allclose(out["w"], [0.1, 9.0], rtol=1e-6)


def test_target_moves_by_polyak_rate_every_step_inside_a_chunk():
    """Online params fixed at 1, target starts at 0: after n compiled steps target = 1 − (1 − ρ)^n."""
    rate, n = 0.005, 40

    def update(carry):
        online, target = carry
        target = polyak_update(target, online, rate)
        return (online, target), target

    _, traj = make_chunk(update, n)((jnp.ones(3), jnp.zeros(3)))
    expected = 1.0 - (1.0 - rate) ** np.arange(1, n + 1)
    np.testing.assert_allclose(np.asarray(traj)[:, 0], expected, rtol=1e-5)


def _sgd_to_target_trainer(num_steps, chunk_size):
    """Per seed: a scalar parameter drawn from the key, SGD on (p − target)², a step counter;
    the target 3 is the trainer's data (an argument of every compiled chunk)."""
    tx = optax.sgd(0.1)

    def init(key):
        return create_train_state(jax.random.uniform(key, (), minval=-2.0, maxval=2.0), tx), jnp.zeros((), jnp.int32)

    def update(carry, target):
        state, n = carry
        grads = jax.grad(lambda p: jnp.sum((p - target) ** 2))(state.params)
        return (apply_gradients(state, grads, tx), n + 1), {"param": state.params}

    return OfflineTrainer(init, update, jnp.asarray(3.0), num_steps, chunk_size, None, lambda c: c[0].params)


def test_chunked_driver_counts_steps_and_vmaps_seeds():
    train = _sgd_to_target_trainer(60, 20)
    keys = jax.random.split(jax.random.key(0), 3)  # three seeds, one scalar each
    params = np.asarray(jax.vmap(train.init)(keys)[0].params)
    assert len(set(params.tolist())) == 3
    seen = []
    (state, n), metrics = train.run(keys, callback=lambda step, c, m: seen.append(step))
    assert seen == [20, 40, 60]
    np.testing.assert_array_equal(n, [60, 60, 60])
    assert metrics["param"].shape == (3, 60)  # seeds first, then steps
    np.testing.assert_allclose(state.params, 3.0, atol=1e-4)
    np.testing.assert_allclose(metrics["param"][:, 0], params)


def test_make_chunk_with_vmapped_seeds_puts_seeds_first_and_chunks_concatenate():
    """What the driver composes: make_chunk(vmap_seeds=True) called chunk after chunk, joined
    by stack_metrics on the step axis, gives the same numbers as one long chunk."""
    tx = optax.sgd(0.1)

    def update(carry):
        state, n = carry
        grads = jax.grad(lambda p: jnp.sum((p - 3.0) ** 2))(state.params)
        return (apply_gradients(state, grads, tx), n + 1), {"param": state.params}

    params = np.array([0.0, 1.0, 2.0], np.float32)

    def fresh():  # make_chunk donates its carry: build it from copies
        return jax.vmap(lambda p: create_train_state(p, tx))(jnp.asarray(params)), jnp.zeros(3, jnp.int32)

    chunk, carry, history = make_chunk(update, 20, vmap_seeds=True), fresh(), []
    for _ in range(3):
        carry, m = chunk(carry)
        history.append(jax.device_get(m))
    (state, n), metrics = carry, stack_metrics(history, axis=1)
    np.testing.assert_array_equal(n, [60, 60, 60])
    assert metrics["param"].shape == (3, 60)
    np.testing.assert_allclose(state.params, 3.0, atol=1e-4)
    np.testing.assert_allclose(metrics["param"][:, 0], params)
    _, long = make_chunk(update, 60, vmap_seeds=True)(fresh())
    np.testing.assert_allclose(metrics["param"], long["param"], rtol=1e-6)


def test_ragged_step_counts_are_rejected():
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        _sgd_to_target_trainer(50, 20)
    with pytest.raises(ValueError, match="chunk_size"):
        make_chunk(lambda c: (c, c), 0)
