"""Seeds across devices (iqlib.core.sharding): the device count chosen for a number of seeds, the
one-device no-op, and IQL's ``train.run`` on two (forced host) devices against one device.

What the two-device run gives, measured on this CPU (jax 0.10.2): the same PRNG keys and step
counts bit for bit, and floats equal to float32 round-off, not bitwise: XLA's one-device program
rewrites Adam's division by its bias correction (a per-seed scalar, broadcast) into a multiplication
by its reciprocal, the partitioned program keeps the division, so the two differ by an ulp at some
elements after one update and, after 50, by at most 6.3 float32 epsilons of each seed's largest
entry in any leaf (the test allows 16, for other CPUs' kernels; a seed trained with the wrong key
or put in the wrong place is off by the order of the entries themselves).
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from iqlib.core.sharding import SEED_AXIS, replicate, seed_device_count, seed_mesh, shard_seeds

N_SEEDS = 4
EPS = float(np.finfo(np.float32).eps)

#: Trains IQL (4 seeds, 50 updates in 2 chunks) on a synthetic dataset, writes the final carry's
#: leaves and the metrics to argv[1] (npz) and what it saw of the devices to argv[1] + ".json".
SCRIPT = r"""
import json, sys
import jax, numpy as np
from iqlib.core.sharding import seed_device_count, seed_mesh, shard_seeds
from iqlib.core.transitions import Transitions
from iqlib.neural.iql import IQLConfig
from iqlib.neural.iql_train import make_train

rng, n = np.random.default_rng(0), 512
obs = rng.normal(size=(n, 3)).astype(np.float32)
ends = (np.arange(n) % 32 == 31).astype(np.float32)
data = Transitions(obs, np.tanh(rng.normal(size=(n, 2))).astype(np.float32), rng.normal(size=n).astype(np.float32),
                   np.roll(obs, -1, 0), ends, np.zeros(n, np.float32), np.concatenate([[1.0], ends[:-1]]).astype(np.float32))
train = make_train(IQLConfig(hidden=(32, 32), batch_size=64), data, 50, chunk_size=25)
carry, metrics = train.run(jax.random.split(jax.random.key(0), 4))
leaves = jax.tree_util.tree_leaves(carry)
raw = [np.asarray(jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x) for x in leaves]
np.savez(sys.argv[1], *raw, **{f"metric_{k}": v for k, v in metrics.items()})
try:
    shard_seeds(leaves[0], 3, mesh=seed_mesh(4))
    refused = False
except ValueError:
    refused = True
seen = {"device_count": jax.device_count(), "seed_devices": seed_device_count(4),
        "devices_per_leaf": sorted({len(x.sharding.device_set) for x in leaves}),
        "rows_per_shard": sorted({x.addressable_shards[0].data.shape[0] for x in leaves}),
        "refuses_a_mesh_not_dividing_the_seeds": refused}
open(sys.argv[1] + ".json", "w").write(json.dumps(seen))
"""


def _train_on(device_counts: tuple, folder: pathlib.Path) -> list[tuple[dict, dict]]:
    """Run SCRIPT in fresh CPU processes, one per entry of ``device_counts`` (its host device
    count), side by side; returns ``(arrays, seen)`` of each."""
    runs = []
    for n in device_counts:
        env = {**os.environ, "JAX_PLATFORMS": "cpu",
               "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}"}
        out = folder / f"{n}_devices.npz"
        runs.append((out, subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], env=env,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    logs = [proc.communicate(timeout=600)[0] for _, proc in runs]
    results = []
    for (out, proc), log in zip(runs, logs):
        assert proc.returncode == 0, log[-4000:]
        with np.load(out) as saved:
            results.append(({k: saved[k] for k in saved.files}, json.loads(pathlib.Path(f"{out}.json").read_text())))
    return results


@pytest.mark.parametrize("n_seeds, n_devices, expected", [
    (4, 1, 1), (4, 2, 2), (4, 8, 4), (6, 4, 3), (5, 4, 1), (8, 8, 8), (12, 8, 6), (1, 8, 1)])
def test_seeds_go_to_the_largest_device_count_dividing_them(n_seeds, n_devices, expected):
    assert seed_device_count(n_seeds, n_devices) == expected


@pytest.mark.parametrize("n_seeds", [0, -2, 2.0, True, None])
def test_bad_seed_counts_are_refused(n_seeds):
    with pytest.raises(ValueError, match="n_seeds"):
        seed_device_count(n_seeds, 2)
    with pytest.raises(ValueError, match="n_seeds"):
        shard_seeds({"a": np.zeros(2)}, n_seeds)


def test_bad_device_counts_are_refused():
    with pytest.raises(ValueError, match="n_devices"):
        seed_device_count(2, 0)
    with pytest.raises(ValueError, match="devices must not be empty"):
        seed_mesh(N_SEEDS, [])


def test_one_device_leaves_the_pytree_untouched():
    mesh = seed_mesh(N_SEEDS, jax.local_devices()[:1])
    assert mesh.axis_names == (SEED_AXIS,) and mesh.devices.size == 1
    tree = {"w": np.ones((N_SEEDS, 3)), "count": np.int32(0)}
    assert shard_seeds(tree, N_SEEDS, mesh) is tree and replicate(tree, N_SEEDS, mesh) is tree


def test_iql_on_two_devices_matches_one_device_to_float32_round_off(tmp_path):
    (one, seen_one), (two, seen_two) = _train_on((1, 2), tmp_path)
    assert seen_one["device_count"] == 1 and seen_one["seed_devices"] == 1
    # two devices: every carry leaf lives on both, each holding 2 of the 4 seeds
    assert seen_two["device_count"] == 2 and seen_two["seed_devices"] == 2
    assert seen_two["devices_per_leaf"] == [2] and seen_two["rows_per_shard"] == [N_SEEDS // 2]
    assert seen_two["refuses_a_mesh_not_dividing_the_seeds"]
    assert one.keys() == two.keys() and any(k.startswith("metric_") for k in one)
    for name, a in one.items():
        b = two[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert a.shape[0] == N_SEEDS, name
        if not np.issubdtype(a.dtype, np.floating):  # PRNG keys, step counters
            np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        # seeds in their places (a shuffled or re-keyed seed would differ by O(scale)), floats to round-off
        scale = np.max(np.abs(a), axis=tuple(range(1, a.ndim)), keepdims=True)
        assert np.all(np.abs(a - b) <= 16 * EPS * scale), (name, float(np.max(np.abs(a - b) / scale)) / EPS)
