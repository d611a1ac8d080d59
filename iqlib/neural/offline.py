"""The chunked driver shared by iqlib's offline learners (BC, IQL, offline IQ-Learn).

An offline learner is a pure ``init(key) -> carry`` and ``update(carry, data) -> (carry,
metrics)``; :class:`OfflineTrainer` wraps them: ``train(key) -> (carry, metrics)`` is pure, so
``jax.vmap(train)(keys)`` runs seeds in parallel, and ``train.run(keys, callback=...)`` runs all
seeds in compiled ``lax.scan`` chunks (:func:`iqlib.core.training.make_chunk`), calling back between
chunks (evaluation → learning curves). The dataset is an *argument* of the compiled chunk, never
a closed-over constant, so a large dataset is not baked into the executable. With several local
devices, ``run`` splits the seeds over them (:mod:`iqlib.core.sharding`; the same keys, floats
equal to float32 round-off).

Also here: dataset preparation (:func:`prepare_data`, :func:`action_space`, :func:`sample_batch`)
and acting with a Gaussian or categorical policy head (:func:`deterministic_act`,
:func:`stochastic_act`), which every offline learner shares.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from iqlib.core.envs import evaluate
from iqlib.core.sharding import replicate, shard_seeds
from iqlib.core.training import make_chunk, stack_metrics
from iqlib.core.transitions import Transitions, to_arrays, to_transitions
from iqlib.neural.acting import deterministic_act, stochastic_act

__all__ = ["OfflineTrainer", "prepare_data", "action_space", "sample_batch",
           "wall_time_to_return"]


def prepare_data(data: Transitions | Mapping[str, Any], name: str = "data") -> Transitions:
    """Validate a dataset and return it as numpy :class:`Transitions`.

    Args:
      data: :class:`Transitions`, or a dict with D4RL keys (``observations, actions, rewards,
        terminals, timeouts, next_observations``) or with the Transitions field names.
      name: how errors name the input.

    Raises:
      ValueError: naming ``name``: missing keys, lengths that differ, NaN/inf values, flags
        not in {0, 1}, malformed actions (see :func:`iqlib.core.transitions.validate_arrays`).
    """
    if isinstance(data, Transitions):
        arrays = to_arrays(data)
    elif isinstance(data, Mapping):
        if set(Transitions._fields) - {"episode_start"} <= set(data):
            fields = {f: data[f] for f in Transitions._fields if f in data}
            fields.setdefault("episode_start", None)
            lengths = {f: np.shape(v)[:1] for f, v in fields.items() if v is not None}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"{name}: fields have different lengths {lengths}")
            if fields["episode_start"] is None:
                ends = np.logical_or(fields["terminal"], fields["timeout"])
                fields["episode_start"] = np.concatenate([[True], np.asarray(ends, bool)[:-1]])
            arrays = to_arrays(Transitions(**fields))
        elif set(Transitions._fields) & set(data):
            missing = sorted(set(Transitions._fields) - {"episode_start"} - set(data))
            raise ValueError(f"{name}: missing keys {missing}; expected the Transitions fields "
                             f"{list(Transitions._fields)[:-1]} (or D4RL keys)")
        else:
            arrays = dict(data)
    else:
        raise ValueError(f"{name}: expected Transitions or a dict of arrays, got {type(data).__name__}")
    if isinstance(data, Transitions):
        lengths = {f: np.shape(v)[:1] for f, v in zip(Transitions._fields, data)}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{name}: fields have different lengths {lengths}")
    return to_transitions(arrays, name)


def action_space(data: Transitions, n_actions: int | None = None) -> dict:
    """``{"discrete", "obs_dim", "n_actions" | "action_dim"}`` of a (validated) dataset.

    Discrete when actions are integers ``(N,)``; ``n_actions`` defaults to max(action) + 1.

    Raises:
      ValueError: if ``n_actions`` is given but not larger than every dataset action.
    """
    obs_dim = int(np.shape(data.obs)[1])
    if np.issubdtype(np.asarray(data.action).dtype, np.integer):
        seen = int(np.max(data.action)) + 1
        n = seen if n_actions is None else int(n_actions)
        if n < seen:
            raise ValueError(f"n_actions={n_actions} but the data contain action {seen - 1}")
        return {"discrete": True, "obs_dim": obs_dim, "n_actions": n}
    return {"discrete": False, "obs_dim": obs_dim, "action_dim": int(np.shape(data.action)[1])}


def sample_batch(key: jax.Array, data: Transitions, batch_size: int) -> Transitions:
    """``batch_size`` transitions drawn uniformly with replacement (jit-safe); leaves ``(B, ...)``."""
    idx = jax.random.randint(key, (batch_size,), 0, data.reward.shape[0])
    return jax.tree_util.tree_map(lambda x: x[idx], data)


@dataclasses.dataclass(frozen=True, eq=False)
class OfflineTrainer:
    """A compiled offline learner: ``train(key)`` (pure) and ``train.run(keys)`` (chunked driver).

    Attributes:
      init: ``key -> carry`` (pure).
      update: ``(carry, data) -> (carry, metrics)``, one gradient step (pure).
      data: the dataset (device :class:`Transitions`), passed to every compiled chunk.
      num_steps, chunk_size: updates in all, and per compiled ``lax.scan`` chunk.
      policy_graphdef: graphdef of the policy network.
      policy_params: ``carry -> policy params`` (keeps a leading seed axis if the carry has one).
    """

    init: Callable
    update: Callable
    data: Transitions
    num_steps: int
    chunk_size: int
    policy_graphdef: Any
    policy_params: Callable

    def __post_init__(self):
        if int(self.chunk_size) < 1 or int(self.num_steps) < 1 or int(self.num_steps) % int(self.chunk_size):
            raise ValueError(f"num_steps ({self.num_steps}) must be a positive multiple of chunk_size "
                             f"({self.chunk_size})")

    @functools.cached_property
    def _init(self):
        return jax.jit(self.init)

    @functools.cached_property
    def _chunk(self):
        return self._compile_chunk(False)

    @functools.cached_property
    def _chunk_traced(self):  # no donation: under an outer vmap some carry leaves are unbatched
        return self._compile_chunk(False, donate=False)

    @functools.cached_property
    def _chunk_seeds(self):
        return self._compile_chunk(True)

    def _grouped_chunk(self, group: int):
        """Seeds vmapped in groups of ``group``, the groups one after another (``lax.map``)."""
        cache = self.__dict__.setdefault("_groups", {})
        if group not in cache:
            def chunk(carry, data):
                inner = make_chunk(lambda c: self.update(c, data), self.chunk_size, vmap_seeds=True)
                n = jax.tree_util.tree_leaves(carry)[0].shape[0]
                carry, metrics = jax.lax.map(inner, jax.tree_util.tree_map(
                    lambda x: x.reshape(n // group, group, *x.shape[1:]), carry))
                return jax.tree_util.tree_map(lambda x: x.reshape(n, *x.shape[2:]), (carry, metrics))
            cache[group] = jax.jit(chunk, donate_argnums=0)
        return cache[group]

    def _compile_chunk(self, vmap_seeds: bool, donate: bool = True):
        def chunk(carry, data):
            return make_chunk(lambda c: self.update(c, data), self.chunk_size, vmap_seeds)(carry)
        return jax.jit(chunk, donate_argnums=0 if donate else ())

    def __call__(self, key: jax.Array, data: Transitions | None = None):
        """Train one seed: ``(carry, metrics)``, metrics leaves ``(num_steps,)``.

        Pure in ``key``: ``jax.vmap(train)(keys)`` trains ``len(keys)`` seeds (leaves gain a
        leading seed axis). Under an outer ``jax.jit`` pass the data explicitly,
        ``jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, train.data)``, so it is not
        compiled in as a constant.
        """
        data = self.data if data is None else data
        carry, history = self._init(key), []
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((carry, data)))
        chunk = self._chunk_traced if traced else self._chunk
        for _ in range(self.num_steps // self.chunk_size):
            carry, metrics = chunk(carry, data)
            history.append(metrics)
        return carry, jax.tree_util.tree_map(lambda *m: jnp.concatenate(m, axis=0), *history)

    def run(self, keys: jax.Array, *, callback: Callable | None = None, progress: bool = False,
            desc: str | None = None, seed_group: int | None = None):
        """Train ``len(keys)`` seeds at once in compiled chunks; evaluate between chunks.

        Args:
          keys: ``(n_seeds,)`` PRNG keys (``jax.random.split(key, n_seeds)``).
          callback: ``callback(step, carry, chunk_metrics)`` after every chunk (``step`` =
            updates done so far; the carry has a leading seed axis).
          progress: tqdm progress bar over chunks.
          seed_group: vmap the seeds in groups of this size and run the groups one after
            another inside the compiled chunk (same numbers; on a CPU, groups whose training
            state fits in the cache can be faster than vmapping all seeds, see
            ``benchmarks/bench_iql.py``). None: all seeds vmapped together. Keep None with
            several devices: grouped seeds are not divided between them (XLA runs every group
            on every device; the carry comes back replicated; same numbers).

        With several local devices the carry's seed axis is split over as many of them as divide
        the number of seeds and the dataset is copied to each (:mod:`iqlib.core.sharding`); the
        compiled chunks then run each device's seeds there (the same keys and operations as on
        one device; floats equal to float32 round-off, see the module).

        Returns:
          ``(carry, metrics)``: metrics as numpy arrays ``(n_seeds, num_steps)``.

        Raises:
          ValueError: if ``seed_group`` does not divide the number of seeds.
        """
        n = len(keys)
        if seed_group is not None and (int(seed_group) < 1 or n % int(seed_group)):
            raise ValueError(f"seed_group ({seed_group}) must be a positive divisor of the number of seeds ({n})")
        chunk = self._chunk_seeds if seed_group in (None, n) else self._grouped_chunk(int(seed_group))
        carry = shard_seeds(jax.jit(jax.vmap(self.init))(keys), n)
        data = replicate(self.data, n)
        steps = range(self.chunk_size, self.num_steps + 1, self.chunk_size)
        if progress:
            steps = tqdm(steps, desc=desc, unit="chunk")
        history = []
        for done in steps:
            carry, metrics = chunk(carry, data)
            metrics = jax.device_get(metrics)
            history.append(metrics)
            if callback is not None:
                callback(done, carry, metrics)
        return carry, stack_metrics(history, axis=1)

    def run_with_evaluation(self, keys: jax.Array, env_id: str, n_episodes: int, *, seed: int = 0,
                            deterministic: bool = True, progress: bool = False, desc: str | None = None,
                            seed_group: int | None = None):
        """:meth:`run` with the policies of all seeds evaluated after every chunk (learning curves).

        Each evaluation is one :func:`iqlib.core.envs.evaluate` call with ``batch_shape=(n_seeds,)``
        and the same reset seeds (``seed + i``) every time, so curves differ only by the policy.

        Returns:
          ``(carry, metrics, steps: (K,), returns: (n_seeds, K))``: ``returns`` holds the mean
          undiscounted return over ``n_episodes`` episodes after ``steps[k]`` updates.
        """
        steps, returns = [], []

        def callback(done, carry, _):
            r = evaluate(env_id, self.act(carry, deterministic), n_episodes, seed, batch_shape=(len(keys),))
            steps.append(done)
            returns.append(r.mean(axis=-1))

        carry, metrics = self.run(keys, callback=callback, progress=progress, desc=desc, seed_group=seed_group)
        return carry, metrics, np.asarray(steps), np.stack(returns, axis=1)

    def act(self, carry: Any, deterministic: bool = True) -> Callable:
        """``act(obs, key)`` of the current policy (for :func:`iqlib.core.envs.evaluate`)."""
        fn = deterministic_act if deterministic else stochastic_act
        return functools.partial(fn(self.policy_graphdef), self.policy_params(carry))


def wall_time_to_return(train: OfflineTrainer, key, env_id: str, target_return: float, *, n_episodes: int = 5,
                        seed: int = 10_000) -> dict:
    """Wall time until one seed's policy, at its mode, first reaches ``target_return`` (compilation included).

    Trains one seed chunk by chunk (``train.chunk_size`` updates each, up to ``train.num_steps``)
    and after each chunk evaluates ``n_episodes`` episodes at the policy's mode (argmax of the
    logits or Q-values, Gaussian mean) (`iqlib.core.envs.evaluate`, resets
    ``seed + i``); the clock starts before the first compilation and stops when the mean return
    ≥ ``target_return``. Evaluation time is counted too (it is part of "reaching" the return).

    Returns:
      ``{"seconds": float or nan if never reached, "steps": updates done or -1, "reached": bool,
      "eval_seconds": time spent evaluating}``.
    """
    start = time.perf_counter()
    carry, act, eval_s = train._init(key), deterministic_act(train.policy_graphdef), 0.0
    for done in range(train.chunk_size, train.num_steps + 1, train.chunk_size):
        carry, _ = train._chunk(carry, train.data)
        t_eval = time.perf_counter()
        ret = evaluate(env_id, functools.partial(act, train.policy_params(carry)), n_episodes, seed).mean()
        eval_s += time.perf_counter() - t_eval
        if ret >= target_return:
            return {"seconds": time.perf_counter() - start, "steps": done, "reached": True, "eval_seconds": eval_s}
    return {"seconds": float("nan"), "steps": -1, "reached": False, "eval_seconds": eval_s}
