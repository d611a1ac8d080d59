"""The one online loop of every online learner (DQN, SAC, online IQ-Learn, its LfO variant, IQL fine-tuning).

S seeds × E environments are stepped in lockstep on the host, with one batched act call per step
for all of them; the transitions of a block of ``train_freq`` lockstep steps go into the
:class:`iqlib.core.replay.ReplayBuffer` (one ring per seed) in one write; then a compiled chunk of
updates (:func:`make_update_chunk`: a ``lax.scan`` vmapped over seeds) runs on the buffer; every
``eval_every`` transitions the driver's ``evaluate`` hook runs. Counting is in transitions per
seed (lockstep steps × E): the first ``learning_starts`` take uniformly random actions and the
update chunks start with the first block past them, so with E = 1 and one update per step a run
of T steps makes T − learning_starts updates.

What differs between learners comes in as arguments: the update and its minibatch sampler
(uniform replay rows; demos mixed in for IQ-Learn; a view of the buffer for IQL), the act function
(ε-greedy for DQN, a policy sample otherwise), the reward stored (IQL's dataset convention) and
evaluation (``evaluate``, ``on_chunk`` and ``stop_when`` hooks).
:func:`iqlib.data.demos.load_demos` reads the expert demonstrations of the imitation learners.

With several local devices the learner, its keys and the replay rings are split over them along
the seed axis (:mod:`iqlib.core.sharding`: the same keys and operations per seed, equal to the
one-device run up to float32 round-off); the environments stay on the host.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import numpy as np
from tqdm.auto import tqdm

from iqlib.core.envs import env_spec, make_env
from iqlib.core.replay import ReplayBuffer
from iqlib.core.sharding import shard_seeds
from iqlib.core.training import stack_metrics
from iqlib.core.transitions import Transitions

__all__ = ["make_update_chunk", "check_schedule", "run_online", "late_episodes"]

def make_update_chunk(update: Callable, sample_batch: Callable, n_updates: int) -> Callable:
    """Jitted ``chunk((learner, key), data, size, shared=None) -> ((learner, key), metrics)``.

    Args:
      update: pure one-seed ``update(learner, batch) -> (learner, metrics)``.
      sample_batch: ``sample_batch(key, data, size, shared) -> batch``: the minibatch from one
        seed's replay ``data`` (capacity-sized, first ``size`` rows filled) and ``shared`` (data
        every seed sees, e.g. the demonstrations; None if unused).
      n_updates: updates per call, one ``lax.scan``.

    Every leaf of ``learner``, ``key`` (PRNG keys), ``data`` and ``size`` has a leading seed axis
    S (vmapped); each update splits the seed's key for its minibatch. Metrics leaves ``(S,
    n_updates)``. The carry is donated.
    """
    if int(n_updates) < 1:
        raise ValueError(f"n_updates must be >= 1, got {n_updates}")

    def one_seed(carry, data, size, shared):
        def step(c, _):
            learner, key = c
            key, k = jax.random.split(key)
            learner, metrics = update(learner, sample_batch(k, data, size, shared))
            return (learner, key), metrics

        return jax.lax.scan(step, carry, None, length=int(n_updates))

    chunk = jax.jit(jax.vmap(one_seed, in_axes=(0, 0, 0, None)), donate_argnums=0)
    return lambda carry, data, size, shared=None: chunk(carry, data, size, shared)


def check_schedule(total_steps: int, train_freq: int, eval_every: int) -> None:
    """Raise ValueError unless ``total_steps`` is a positive multiple of ``eval_every``, itself a
    multiple of ``train_freq`` (the imitation learners' schedule)."""
    if total_steps < 1 or total_steps % train_freq or total_steps % eval_every or eval_every % train_freq:
        raise ValueError(f"total_steps ({total_steps}) must be a positive multiple of eval_every ({eval_every}), "
                         f"itself a multiple of train_freq ({train_freq})")


def _random_actions(rng, spec: dict, shape: tuple) -> np.ndarray:
    if spec["discrete"]:
        return rng.integers(0, spec["n_actions"], shape)
    return rng.uniform(-1.0, 1.0, (*shape, spec["action_dim"])).astype(np.float32)


def run_online(env_id: str, learner: Any, buffer: ReplayBuffer, chunk: Callable, *, act: Callable,
               total_steps: int, train_freq: int, keys: jax.Array, n_envs: int = 1, learning_starts: int = 0,
               eval_every: int | None = None, evaluate: Callable | None = None, eval_at_start: bool = False,
               on_chunk: Callable | None = None, stop_when: Callable | None = None,
               reward_fn: Callable | None = None, seed: int = 0, reset_seeds=None, act_key: jax.Array | None = None,
               progress: bool = False, desc: str | None = None):
    """Act, store, update, evaluate: the online loop (module docstring), S seeds × E envs.

    Args:
      learner: the algorithm's state, every leaf with a leading seed axis S.
      buffer: :class:`ReplayBuffer` with ``n_seeds=S`` (may hold rows already, e.g. offline data).
      chunk: from :func:`make_update_chunk` (``shared`` bound), run after every block past
        ``learning_starts``; keys: ``(S,)`` PRNG keys of the minibatches.
      act: ``act(learner, obs: (S, E, O), key, step) -> actions (S, E)`` or ``(S, E, A)``; ``step``
        counts transitions per seed so far (e.g. DQN's ε schedule).
      total_steps: transitions per seed; the loop runs blocks of ``train_freq · n_envs`` until it
        has at least this many (the last block may overshoot).
      learning_starts: transitions per seed of uniformly random actions, before the first update.
      eval_every, evaluate: ``evaluate(step, learner, history) -> record`` after the block that
        crosses each multiple of ``eval_every``, after the last block, and at step 0 if
        ``eval_at_start``; ``stop_when(record) -> bool`` ends the run after an evaluation.
      on_chunk: ``on_chunk(step, learner, metrics) -> bool`` after each update chunk; True stops the
        run after a final evaluation (e.g. a wall-clock budget).
      reward_fn: raw rewards -> stored rewards (default: raw); training returns stay raw.
      seed: seeds the random warm-up actions (numpy) and, by default, the resets: env e of seed s
        first resets with ``reset_seeds[s][e]`` (default ``seed + 1000 s + e``), later unseeded.
      act_key: PRNG key of the act calls (default ``jax.random.key(seed + 7)``), split every step.

    Returns:
      ``(learner, history)``: ``history["eval_steps"]`` and ``["evals"]`` (lists: the step and
      record of each evaluation), ``["train_returns"]`` (list of ``(step, seed index, raw return)``
      of finished training episodes), ``["train_episodes"]`` (the same episodes as ``(step, seed index,
      raw return, length in env steps, terminated)``, terminated False = cut by the time limit),
      ``["metrics"]`` (``{name: (S, n_updates_in_all)}`` numpy),
      ``["update_steps"]`` (updates per seed), ``["steps"]`` (transitions per seed) and ``["wall_s"]``.
    """
    t0 = time.perf_counter()
    spec, s_n, e_n = env_spec(env_id), buffer.n_seeds, int(n_envs)
    reset_seeds = np.asarray(reset_seeds if reset_seeds is not None else
                             seed + 1000 * np.arange(s_n)[:, None] + np.arange(e_n)[None], np.int64)
    envs = [[make_env(env_id) for _ in range(e_n)] for _ in range(s_n)]
    obs = np.stack([[env.reset(seed=int(reset_seeds[s, e]))[0] for e, env in enumerate(row)]
                    for s, row in enumerate(envs)]).astype(np.float32)
    rng, act_key = np.random.default_rng(seed), jax.random.key(seed + 7) if act_key is None else act_key
    reward_fn = reward_fn or (lambda r: np.asarray(r, np.float32))
    carry, block = shard_seeds((learner, keys), s_n), int(train_freq) * e_n
    buffer.data = shard_seeds(buffer.data, s_n)  # each device keeps the rings of its own seeds
    ep_ret, ep_start, ep_len = np.zeros((s_n, e_n)), np.ones((s_n, e_n), np.float32), np.zeros((s_n, e_n), np.int64)
    hist = {"eval_steps": [], "evals": [], "train_returns": [], "train_episodes": [], "metrics": []}

    def run_eval(step):
        hist["eval_steps"].append(step)
        hist["evals"].append(evaluate(step, carry[0], hist))
        return stop_when is not None and bool(stop_when(hist["evals"][-1]))

    stop = eval_at_start and evaluate is not None and run_eval(0)
    t, n_updates = 0, 0
    bar = tqdm(total=int(total_steps), desc=desc or env_id, unit="step", mininterval=2.0, disable=not progress)
    while t < total_steps and not stop:
        rows = {k: [] for k in Transitions._fields}
        for _ in range(int(train_freq)):
            t += e_n
            if t <= learning_starts:
                a = _random_actions(rng, spec, (s_n, e_n))
            else:
                act_key, k = jax.random.split(act_key)
                a = np.asarray(act(carry[0], obs, k, t))
            nxt, rew = np.empty_like(obs), np.zeros((s_n, e_n))
            term, trunc = np.zeros((s_n, e_n), np.float32), np.zeros((s_n, e_n), np.float32)
            for s, e in np.ndindex(s_n, e_n):
                o, rew[s, e], te, tr, _ = envs[s][e].step(a[s, e])
                nxt[s, e], term[s, e], trunc[s, e] = o, float(te), float(tr and not te)
            for k_, v in zip(Transitions._fields, (obs, a, reward_fn(rew), nxt, term, trunc, ep_start.copy())):
                rows[k_].append(v)
            ep_ret += rew
            ep_len += 1
            obs, ep_start = nxt.copy(), np.zeros((s_n, e_n), np.float32)
            for s, e in zip(*np.nonzero(term + trunc)):
                hist["train_returns"].append((t, int(s), float(ep_ret[s, e])))
                hist["train_episodes"].append((t, int(s), float(ep_ret[s, e]), int(ep_len[s, e]), bool(term[s, e])))
                ep_ret[s, e], ep_start[s, e], ep_len[s, e] = 0.0, 1.0, 0
                obs[s, e] = envs[s][e].reset()[0]
        # (S, train_freq, E, ...) -> (S, train_freq · E, ...): rows in (step, env) order
        buffer.add(**{k_: np.stack(v, axis=1).reshape(s_n, block, *np.shape(v[0])[2:]) for k_, v in rows.items()})
        bar.update(block)
        halt = False
        if t > learning_starts:
            data, size = buffer.device_view()
            carry, metrics = chunk(carry, data, size)
            n_updates += int(jax.tree_util.tree_leaves(metrics)[0].shape[1]) if jax.tree_util.tree_leaves(metrics) else 0
            hist["metrics"].append(jax.device_get(metrics))
            halt = on_chunk is not None and bool(on_chunk(t, carry[0], hist["metrics"][-1]))
        due = eval_every is not None and (t // eval_every > (t - block) // eval_every)
        if evaluate is not None and (due or halt or t >= total_steps):
            stop = run_eval(t)
        stop = stop or halt
    bar.close()
    for row in envs:
        for env in row:
            env.close()
    hist["metrics"] = stack_metrics(hist["metrics"], axis=1)
    hist.update(update_steps=n_updates, steps=t, wall_s=time.perf_counter() - t0)
    return carry[0], hist


def late_episodes(train_episodes, total_steps: int, fraction: float = 0.1) -> dict:
    """How the training episodes that end in the last ``fraction`` of a run end, all seeds pooled.

    Args:
      train_episodes: :func:`run_online`'s ``history["train_episodes"]``, rows ``(step, seed index,
        return, length, terminated)``; total_steps: the run's transitions per seed.
      fraction: the tail of the run, in (0, 1].

    Returns:
      ``{"episodes": n, "length": mean length (env steps), "terminated": fraction ended by a terminal
      rather than the time limit}`` over episodes ending after ``(1 − fraction) · total_steps``
      (NaN for both when none did).

    Raises:
      ValueError: ``fraction`` outside (0, 1].
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    late = [e for e in train_episodes if e[0] > (1.0 - fraction) * total_steps]
    if not late:
        return {"episodes": 0, "length": float("nan"), "terminated": float("nan")}
    return {"episodes": len(late), "length": float(np.mean([e[3] for e in late])),
            "terminated": float(np.mean([bool(e[4]) for e in late]))}
