"""Seeds across devices: the vmapped seed axis sharded over every local device.

Every trainer in iqlib runs its seeds by vmapping the update over a leading seed axis of the
carry (:func:`iqlib.core.training.make_chunk`, :func:`iqlib.neural.online.make_update_chunk`).
Placing that carry with ``NamedSharding(mesh, PartitionSpec("seed"))`` on a 1-D mesh of the
local devices is all it takes to run the seeds on several devices: a jitted function called
with sharded inputs is partitioned by XLA, each device computing its own seeds, and the seeds
never talk to each other, so nothing is communicated inside a chunk.

Numbers: each seed gets the same keys and the same operations as on one device, so PRNG keys,
step counts and every sampled index are identical; floats agree to float32 round-off, not bit
for bit. Measured on a CPU (jax 0.10.2, ``tests/core/test_sharding.py``): XLA's one-device
program turns Adam's division by its bias correction (a per-seed scalar) into a multiplication
by the reciprocal, the partitioned program keeps the division; after 50 IQL updates on two
host devices every leaf of every seed is within 6.3 float32 epsilons of its largest entry.

How many devices: the largest count ``d <= len(jax.local_devices())`` that divides the number
of seeds (:func:`seed_device_count`), so that every device holds the same number of seeds
(e.g. 6 seeds on 4 devices run on 3 of them; 5 seeds on 4 devices on 1). With one device,
:func:`shard_seeds` and :func:`replicate` return their input unchanged: the single-device run is
today's, with no copy and no new compilation.

To try it on a CPU, start Python with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
(set before jax is imported): jax then sees two host devices.

API (shapes: S seeds):

* :func:`seed_device_count` ``(n_seeds, n_devices=None) -> int``: the devices S seeds use;
* :func:`seed_mesh` ``(n_seeds) -> Mesh`` with the one axis ``"seed"``;
* :func:`shard_seeds` ``(tree, n_seeds)``: leaves ``(S, ...)`` split over the mesh's devices
  along axis 0, every other leaf (scalars, leaves without the seed axis) replicated;
* :func:`replicate` ``(tree, n_seeds)``: every leaf copied to every device of the mesh (data
  that all seeds read, e.g. an offline dataset).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["SEED_AXIS", "seed_device_count", "seed_mesh", "shard_seeds", "replicate"]

#: Name of the mesh axis the seeds are split over.
SEED_AXIS = "seed"


def _check_n_seeds(n_seeds: int) -> int:
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    return int(n_seeds)


def seed_device_count(n_seeds: int, n_devices: int | None = None) -> int:
    """The number of devices ``n_seeds`` seeds are split over: the largest ``d <= n_devices``
    that divides ``n_seeds`` (1 when none larger does).

    Args:
      n_seeds: seeds S (≥ 1).
      n_devices: devices available (default ``len(jax.local_devices())``).

    Raises:
      ValueError: if ``n_seeds`` or ``n_devices`` is not a positive integer.
    """
    n_seeds = _check_n_seeds(n_seeds)
    n_devices = len(jax.local_devices()) if n_devices is None else n_devices
    if isinstance(n_devices, bool) or not isinstance(n_devices, (int, np.integer)) or int(n_devices) < 1:
        raise ValueError(f"n_devices must be a positive integer, got {n_devices!r}")
    return next(d for d in range(min(int(n_devices), n_seeds), 0, -1) if n_seeds % d == 0)


@functools.lru_cache(maxsize=None)
def _mesh(devices: tuple) -> Mesh:
    return Mesh(np.array(devices, dtype=object), (SEED_AXIS,))


def seed_mesh(n_seeds: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """1-D :class:`jax.sharding.Mesh`, axis ``"seed"``, over the first
    ``seed_device_count(n_seeds, len(devices))`` of ``devices`` (default ``jax.local_devices()``).

    The same devices give the same (cached) mesh object, so repeated calls hit jit's cache.

    Raises:
      ValueError: if ``n_seeds`` is not a positive integer or ``devices`` is empty.
    """
    devices = tuple(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices must not be empty")
    return _mesh(devices[: seed_device_count(n_seeds, len(devices))])


def _leading(leaf) -> int | None:
    shape = np.shape(leaf)
    return shape[0] if shape else None


def shard_seeds(tree: Any, n_seeds: int, mesh: Mesh | None = None) -> Any:
    """Place a seed-leading pytree with its seed axis split over the devices of ``mesh``.

    Args:
      tree: pytree of arrays (jax or numpy, PRNG key arrays included); leaves ``(S, ...)``
        with ``S = n_seeds`` get ``NamedSharding(mesh, PartitionSpec("seed"))``, every other
        leaf (scalars, leading axis ≠ S) is replicated (``PartitionSpec()``). A leaf without a
        seed axis whose first dimension happens to be S is split too: placement only, the
        numbers do not depend on it.
      n_seeds: the number of seeds S.
      mesh: default ``seed_mesh(n_seeds)``; its device count must divide S.

    Returns:
      the same pytree structure with jax arrays placed on the mesh; ``tree`` itself,
      unchanged, when the mesh has one device.

    Raises:
      ValueError: if ``n_seeds`` is not a positive integer or the mesh's device count does
        not divide it.
    """
    n_seeds = _check_n_seeds(n_seeds)
    mesh = seed_mesh(n_seeds) if mesh is None else mesh
    if n_seeds % mesh.devices.size:
        raise ValueError(f"the mesh's {mesh.devices.size} devices do not divide n_seeds={n_seeds}")
    if mesh.devices.size == 1:
        return tree
    split, whole = NamedSharding(mesh, PartitionSpec(SEED_AXIS)), NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(
        lambda x: jax.device_put(x, split if _leading(x) == n_seeds else whole), tree)


def replicate(tree: Any, n_seeds: int, mesh: Mesh | None = None) -> Any:
    """Copy every leaf of ``tree`` to every device of ``mesh`` (default ``seed_mesh(n_seeds)``).

    For what every seed reads (an offline dataset, shared demonstrations), so that a chunk
    that takes it as an argument does not move it between devices on every call. Returns
    ``tree`` unchanged when the mesh has one device.

    Raises:
      ValueError: if ``n_seeds`` is not a positive integer.
    """
    mesh = seed_mesh(_check_n_seeds(n_seeds)) if mesh is None else mesh
    if mesh.devices.size == 1:
        return tree
    whole = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda x: jax.device_put(x, whole), tree)
