"""Scan-chunk training plumbing: Polyak inside compiled chunks, vmapped seeds, step counts."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from iqlib.core.nets import apply_gradients, create_train_state, polyak_update
from iqlib.core.training import make_chunk, run_chunks


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


def test_run_chunks_counts_steps_and_vmaps_seeds():
    tx = optax.sgd(0.1)

    def update(carry):
        state, n = carry
        grads = jax.grad(lambda p: jnp.sum((p - 3.0) ** 2))(state.params)
        return (apply_gradients(state, grads, tx), n + 1), {"param": state.params}

    params = np.array([0.0, 1.0, 2.0], np.float32)  # three seeds, one scalar each
    # run_chunks donates its carry: build it from copies
    carry = (jax.vmap(lambda p: create_train_state(p, tx))(jnp.asarray(params)), jnp.zeros(3, jnp.int32))
    seen = []
    (state, n), metrics = run_chunks(update, carry, 60, 20, vmap_seeds=True,
                                     callback=lambda step, c, m: seen.append(step))
    assert seen == [20, 40, 60]
    np.testing.assert_array_equal(n, [60, 60, 60])
    assert metrics["param"].shape == (3, 60)  # seeds first, then steps
    np.testing.assert_allclose(state.params, 3.0, atol=1e-4)
    np.testing.assert_allclose(metrics["param"][:, 0], params)


def test_run_chunks_rejects_ragged_step_counts():
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        run_chunks(lambda c: (c, c), jnp.zeros(()), 50, 20)
    with pytest.raises(ValueError, match="chunk_size"):
        make_chunk(lambda c: (c, c), 0)
