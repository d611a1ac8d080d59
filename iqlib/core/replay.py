"""A replay buffer for the online learners (DQN / soft Q, SAC, online IQ-Learn).

Transitions are appended on the host (numpy ring buffer, capacity fixed) and handed to
the compiled update as a capacity-sized :class:`~iqlib.core.transitions.Transitions` plus the
current size, so the jitted chunk never recompiles as the buffer fills:
:func:`sample` draws uniform indices below ``size`` inside jit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.transitions import Transitions

__all__ = ["ReplayBuffer", "sample"]


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions (numpy, host memory).

    Args:
      capacity: maximum number of transitions kept (oldest overwritten first).
      obs_dim: observation size O.
      action_shape: ``()`` for discrete actions (int32), ``(A,)`` for continuous (float32).
    """

    def __init__(self, capacity: int, obs_dim: int, action_shape: tuple = ()):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.size, self.pos = int(capacity), 0, 0
        act_dtype = np.int32 if action_shape == () else np.float32
        self.data = Transitions(
            obs=np.zeros((capacity, obs_dim), np.float32),
            action=np.zeros((capacity, *action_shape), act_dtype),
            reward=np.zeros(capacity, np.float32),
            next_obs=np.zeros((capacity, obs_dim), np.float32),
            terminal=np.zeros(capacity, np.float32),
            timeout=np.zeros(capacity, np.float32),
            episode_start=np.zeros(capacity, np.float32),
        )

    def add(self, **fields) -> None:
        """Append one transition or a batch (leading axis) given by field name."""
        first = np.asarray(fields["obs"])
        k = 1 if first.ndim == self.data.obs.ndim - 1 else first.shape[0]
        idx = (self.pos + np.arange(k)) % self.capacity
        for name, value in fields.items():
            getattr(self.data, name)[idx] = np.asarray(value).reshape((k,) + getattr(self.data, name).shape[1:])
        self.pos = int((self.pos + k) % self.capacity)
        self.size = int(min(self.size + k, self.capacity))

    def device_view(self) -> tuple[Transitions, jax.Array]:
        """``(transitions at full capacity on device, size)`` for :func:`sample`."""
        return jax.tree_util.tree_map(jnp.asarray, self.data), jnp.asarray(self.size, jnp.int32)

    def arrays(self) -> Transitions:
        """The filled part, oldest first (numpy copies)."""
        if self.size < self.capacity:
            return Transitions(*(x[: self.size].copy() for x in self.data))
        order = (self.pos + np.arange(self.capacity)) % self.capacity
        return Transitions(*(x[order] for x in self.data))


def sample(key: jax.Array, data: Transitions, size, batch_size: int) -> Transitions:
    """Uniform minibatch of ``batch_size`` transitions from the first ``size`` rows (jit-safe)."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(size, 1))
    return jax.tree_util.tree_map(lambda x: x[idx], data)
