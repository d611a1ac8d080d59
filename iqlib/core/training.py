"""Training-loop plumbing shared by every neural algorithm in iqlib.

The pattern (as in purejaxrl): an algorithm supplies a pure ``update(carry) -> (carry,
metrics)``; :func:`make_chunk` compiles ``chunk_size`` updates as one ``lax.scan``, and a driver
(e.g. :class:`iqlib.neural.offline.OfflineTrainer`) calls the chunk from a Python loop, with
progress bar, evaluation and logging between chunks. Seeds run in parallel by vmapping the update
over a leading seed axis of the carry (``vmap_seeds=True``); :func:`stack_metrics` joins the
chunks' metrics.

Polyak targets and the Optax train state live in :mod:`iqlib.core.nets`; they are updated
inside the compiled update, so a target moves on every step, not once per chunk.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["make_chunk", "stack_metrics"]


def make_chunk(update: Callable[[Any], tuple[Any, Any]], chunk_size: int, vmap_seeds: bool = False):
    """Compile ``chunk_size`` calls of ``update`` into one jitted ``lax.scan``.

    Args:
      update: pure ``carry -> (carry, metrics)``.
      chunk_size: number of updates per compiled call (≥ 1).
      vmap_seeds: vmap ``update`` over a leading seed axis of the carry.

    Returns:
      jitted ``carry -> (carry, metrics)`` where each metrics leaf gains an axis of length
      ``chunk_size`` (after the seed axis when ``vmap_seeds``). The input carry is donated.
    """
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    step = jax.vmap(update) if vmap_seeds else update

    def chunk(carry):
        carry, metrics = jax.lax.scan(lambda c, _: step(c), carry, None, length=int(chunk_size))
        if vmap_seeds:  # scan stacks on axis 0; put seeds first
            metrics = jax.tree_util.tree_map(lambda m: jnp.swapaxes(m, 0, 1), metrics)
        return carry, metrics

    return jax.jit(chunk, donate_argnums=0)


def stack_metrics(history: list, axis: int = 0):
    """Concatenate a list of metrics pytrees along ``axis`` (numpy)."""
    if not history:
        return {}
    return jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs], axis=axis), *history)
