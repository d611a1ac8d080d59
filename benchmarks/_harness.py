"""Timing helpers shared by the benchmarks (not a benchmark itself: ``make bench`` skips ``_*.py``).

Every benchmark measures the same way: the first call (compilation included) separately, then
the median of ``repeats`` further calls, each blocked until its outputs are ready; peak memory
is the process's ``ru_maxrss``.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Any, Callable


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``; monotone)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0**2 if sys.platform == "darwin" else 1024.0)


def timed_call(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``(fn(*args), seconds)``, timed until every output array is ready."""
    import jax

    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - t0


def time_steps(step: Callable[[Any], tuple[Any, Any]], carry: Any,
               repeats: int) -> tuple[Any, Any, float, list[float]]:
    """Run ``carry, metrics = step(carry)`` once (compile + warm-up), then ``repeats`` times.

    Returns:
      ``(carry, metrics, first_s, times)``: the last call's outputs, the first call's seconds
      (compilation included) and the seconds of each later call.
    """
    (carry, metrics), first = timed_call(step, carry)
    times = []
    for _ in range(repeats):
        (carry, metrics), t = timed_call(step, carry)
        times.append(t)
    return carry, metrics, first, times


def median(times: list[float]) -> float:
    """Median of a list of timings (seconds)."""
    return float(statistics.median(times))
