"""The replay buffer of every online learner (DQN / soft Q, SAC, online IQ-Learn, LfO, IQL fine-tuning).

One mechanism: a fixed-capacity ring of :class:`~iqlib.core.transitions.Transitions` kept **on
device**, optionally with a leading seed axis (arrays ``(S, C, ...)``, every seed adding the same
number of rows at once). Rows are written by one jitted scatter per :meth:`ReplayBuffer.add`; the
compiled update receives the capacity-sized arrays plus the current size (:meth:`device_view`),
so it never recompiles as the buffer fills, and :func:`sample` draws uniform indices below
``size`` inside jit.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.transitions import Transitions

__all__ = ["ReplayBuffer", "sample"]


@functools.partial(jax.jit, static_argnums=3, donate_argnums=0)
def _scatter(columns: dict, rows: dict, idx: jax.Array, axis: int) -> dict:
    at = (slice(None),) * axis + (idx,)
    return {k: columns[k].at[at].set(rows[k].astype(columns[k].dtype)) for k in columns}


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions on device (oldest overwritten first).

    Args:
      capacity: transitions kept (per seed).
      obs_dim: observation size O.
      action_shape: ``()`` for discrete actions (int32), ``(A,)`` for continuous (float32).
      n_seeds: None for arrays ``(C, ...)``; S for arrays ``(S, C, ...)`` (one ring per seed, all
        filled in lockstep).

    Attributes:
      data: the capacity-sized :class:`Transitions` (jax arrays); size, pos: rows filled, next
        write position (the same for every seed). Arrays handed out by :meth:`device_view` stay
        valid until the next :meth:`add` (the write donates them).

    Raises:
      ValueError: if ``capacity < 1`` or ``n_seeds < 1``.
    """

    def __init__(self, capacity: int, obs_dim: int, action_shape: tuple = (), n_seeds: int | None = None):
        if int(capacity) < 1 or (n_seeds is not None and int(n_seeds) < 1):
            raise ValueError(f"capacity and n_seeds must be >= 1, got {capacity}, {n_seeds}")
        self.capacity, self.size, self.pos = int(capacity), 0, 0
        self.n_seeds = None if n_seeds is None else int(n_seeds)
        lead = () if n_seeds is None else (int(n_seeds),)
        act_dtype = jnp.int32 if tuple(action_shape) == () else jnp.float32
        z = lambda *shape, dtype=jnp.float32: jnp.zeros((*lead, self.capacity, *shape), dtype)  # noqa: E731
        self.data = Transitions(z(obs_dim), z(*action_shape, dtype=act_dtype), z(), z(obs_dim), z(), z(), z())

    @property
    def _axis(self) -> int:
        return 0 if self.n_seeds is None else 1

    def add(self, **fields) -> None:
        """Append one transition or a block of K, given by field name (every field of the rows).

        Shapes: one row ``obs: (O,)`` or K rows ``(K, O)`` without a seed axis; ``(S, O)`` or
        ``(S, K, O)`` with one (likewise for the other fields).
        """
        first = np.asarray(fields["obs"])
        k = 1 if first.ndim == self.data.obs.ndim - 1 else first.shape[self._axis]
        lead = self.data.obs.shape[: self._axis]
        rows = {name: np.asarray(v).reshape(lead + (k,) + getattr(self.data, name).shape[self._axis + 1:])
                for name, v in fields.items()}
        columns = {name: getattr(self.data, name) for name in rows}
        idx = jnp.asarray((self.pos + np.arange(k)) % self.capacity, jnp.int32)
        self.data = self.data._replace(**_scatter(columns, rows, idx, self._axis))
        self.pos = int((self.pos + k) % self.capacity)
        self.size = int(min(self.size + k, self.capacity))

    def device_view(self) -> tuple[Transitions, jax.Array]:
        """``(transitions at full capacity, size)`` for :func:`sample`; size is ``(S,)`` with seeds."""
        size = jnp.asarray(self.size, jnp.int32)
        return self.data, size if self.n_seeds is None else jnp.full((self.n_seeds,), size)

    def arrays(self) -> Transitions:
        """The filled part, oldest first (numpy copies; ``(S, n, ...)`` with seeds)."""
        order = np.arange(self.size) if self.size < self.capacity else (self.pos + np.arange(self.capacity)) % self.capacity
        return Transitions(*(np.take(np.asarray(x), order, axis=self._axis) for x in self.data))

    def of_seed(self, i: int) -> "ReplayBuffer":
        """Seed ``i``'s ring as a buffer without a seed axis (shares nothing: a copy)."""
        if self.n_seeds is None:
            raise ValueError("this buffer has no seed axis")
        out = ReplayBuffer.__new__(ReplayBuffer)
        out.capacity, out.size, out.pos, out.n_seeds = self.capacity, self.size, self.pos, None
        out.data = jax.tree_util.tree_map(lambda x: jnp.array(x[i]), self.data)
        return out


def sample(key: jax.Array, data: Transitions, size, batch_size: int) -> Transitions:
    """Uniform minibatch of ``batch_size`` transitions from the first ``size`` rows (jit-safe)."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(size, 1))
    return jax.tree_util.tree_map(lambda x: x[idx], data)
