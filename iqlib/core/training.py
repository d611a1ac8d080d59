"""Training-loop plumbing shared by every neural algorithm in iqlib.

The pattern (``../shared/DESIGN.md``, purejaxrl): an algorithm supplies a pure
``update(carry) -> (carry, metrics)``; :func:`run_chunks` compiles ``chunk_size`` updates
as one ``lax.scan`` and calls it from a Python loop (progress bar, evaluation and logging
between chunks). Seeds run in parallel by vmapping the update over a leading seed axis of
the carry (``vmap_seeds=True``).

Polyak targets and the Optax train state live in :mod:`iqlib.core.nets`; they are updated
inside the compiled update, so a target moves on every step, not once per chunk.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


__all__ = ["make_chunk", "run_chunks", "stack_metrics"]


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


def run_chunks(update, carry, num_steps: int, chunk_size: int, *, vmap_seeds: bool = False,
               callback: Callable[[int, Any, Any], None] | None = None, progress: bool = False,
               desc: str | None = None):
    """Run ``num_steps`` updates as ``ceil(num_steps / chunk_size)`` compiled chunks.

    Args:
      update, chunk_size, vmap_seeds: as :func:`make_chunk`.
      carry: initial carry (donated).
      num_steps: total updates; must be a multiple of ``chunk_size``.
      callback: ``callback(step, carry, chunk_metrics)`` after each chunk, with ``step``
        the number of updates done so far (e.g. evaluate in an environment).
      progress: show a tqdm progress bar.

    Returns:
      ``(carry, metrics)`` where metrics are the per-update metrics of every chunk,
      concatenated on the step axis, as numpy arrays.

    Raises:
      ValueError: if ``num_steps`` is not a positive multiple of ``chunk_size``.
    """
    if num_steps < 1 or num_steps % chunk_size:
        raise ValueError(f"num_steps ({num_steps}) must be a positive multiple of chunk_size ({chunk_size})")
    chunk = make_chunk(update, chunk_size, vmap_seeds)
    history = []
    steps = range(chunk_size, num_steps + 1, chunk_size)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc, unit="chunk")
    for done in steps:
        carry, metrics = chunk(carry)
        metrics = jax.device_get(metrics)
        history.append(metrics)
        if callback is not None:
            callback(done, carry, metrics)
    return carry, stack_metrics(history, axis=1 if vmap_seeds else 0)


def stack_metrics(history: list, axis: int = 0):
    """Concatenate a list of metrics pytrees along ``axis`` (numpy)."""
    if not history:
        return {}
    return jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs], axis=axis), *history)
