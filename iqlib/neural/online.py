"""Online imitation plumbing shared by online IQ-Learn (continuous) and its LfO variant.

- :func:`load_demos`: the first ``n_demos`` whole episodes of ``data/demos/<EnvId>.npz``
  (checksummed by :func:`iqlib.data.datasets.load_dataset`), optionally with the actions dropped
  (learning from observations: only ``(s, s', terminal)`` survive).
- A replay buffer *on device with a leading seed axis* (``(S, C, ...)`` arrays): every seed
  adds the same number of rows per block, so one jitted scatter writes all seeds and the
  compiled update chunk samples with :func:`iqlib.core.replay.sample` under ``jax.vmap``.
- :func:`run_online`: S environments (one per seed) stepped in lockstep on the host, one
  batched act call per step; after each block of ``train_freq`` steps, ``train_freq`` updates
  run as one compiled ``lax.scan`` chunk vmapped over seeds (update-to-data ratio 1); the
  policy is evaluated every ``eval_every`` steps with :func:`iqlib.core.envs.evaluate`.

The environment is used for the agent's own transitions and for evaluation only; the learner
never sees an environment reward (rewards in the replay are stored but unused).
"""

from __future__ import annotations

import pathlib
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.transitions import Transitions, episode_bounds, episode_returns, select_episodes
from iqlib.data.datasets import load_dataset
from iqlib.core.envs import ENV_IDS, env_spec, evaluate, make_env
from iqlib.core.training import make_chunk

__all__ = ["DEMOS_DIR", "load_demos", "replay_init", "replay_add", "OnlineCarry", "make_carry", "run_online"]

DEMOS_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "demos"
_MAKE_TARGET = {"CartPole-v1": "data-discrete", "LunarLander-v3": "data-discrete", "Acrobot-v1": "data-discrete"}


def load_demos(env_id: str, n_demos: int, *, observations_only: bool = False, demos_dir=None):
    """First ``n_demos`` expert episodes of ``<demos_dir>/<env_id>.npz``.

    Args:
      env_id: gymnasium id (must be registered). n_demos: whole episodes to keep (≥ 1).
      observations_only: zero the actions (LfO: the learner may use only obs, next_obs, terminal).
      demos_dir: folder of the demo files (default ``data/demos``).

    Returns:
      ``(demos: Transitions (N, ·), info)``; ``info`` holds ``expert_return_mean/std`` of the
      kept episodes (undiscounted, environment units) and of all episodes in the file, and the
      file's provenance record.

    Raises:
      ValueError: unknown env id, ``n_demos < 1`` or more than the file holds.
      FileNotFoundError: no demo file (the message names the make target that writes it).
    """
    if env_id not in ENV_IDS:
        make_env(env_id).close()  # raises ValueError for an unregistered id
    if isinstance(n_demos, bool) or int(n_demos) != n_demos or n_demos < 1:
        raise ValueError(f"n_demos must be an integer >= 1 (whole expert episodes), got {n_demos!r}")
    path = pathlib.Path(demos_dir or DEMOS_DIR) / f"{env_id}.npz"
    if not path.is_file():
        target = _MAKE_TARGET.get(env_id, "data-locomotion")
        raise FileNotFoundError(f"no expert demonstrations for {env_id!r} at {path}; run `make {target}`")
    data, prov = load_dataset(path)
    n_eps = len(episode_bounds(data))
    if n_demos > n_eps:
        raise ValueError(f"n_demos={n_demos} but {path} holds only {n_eps} episodes")
    demos = select_episodes(data, np.arange(int(n_demos)))
    if observations_only:
        demos = demos._replace(action=np.zeros_like(demos.action), reward=np.zeros_like(demos.reward))
    kept, every = episode_returns(select_episodes(data, np.arange(int(n_demos)))), episode_returns(data)
    info = {"expert_return_mean": float(kept.mean()), "expert_return_std": float(kept.std()),
            "file_return_mean": float(every.mean()), "file_return_std": float(every.std()),
            "n_transitions": int(demos.obs.shape[0]), "provenance": prov}
    return demos, info


def replay_init(n_seeds: int, capacity: int, obs_dim: int, action_shape: tuple = ()) -> Transitions:
    """Zeroed replay ``Transitions`` with arrays ``(n_seeds, capacity, ...)`` (int32 actions if discrete)."""
    s, c = int(n_seeds), int(capacity)
    act_dtype = jnp.int32 if tuple(action_shape) == () else jnp.float32
    z = lambda *shape: jnp.zeros((s, c, *shape), jnp.float32)  # noqa: E731
    return Transitions(z(obs_dim), jnp.zeros((s, c, *action_shape), act_dtype), z(), z(obs_dim), z(), z(), z())


@jax.jit
def _scatter(data, rows, idx):
    return jax.tree_util.tree_map(lambda d, r: d.at[:, idx].set(r.astype(d.dtype)), data, rows)


def replay_add(data: Transitions, rows: Transitions, pos: int) -> Transitions:
    """Write ``rows`` (arrays ``(S, K, ...)``) at ring positions ``pos … pos+K−1`` (mod capacity)."""
    cap, k = data.obs.shape[1], rows.obs.shape[1]
    return _scatter(data, rows, jnp.asarray((pos + np.arange(k)) % cap, jnp.int32))


class OnlineCarry(NamedTuple):
    """Carry of an online update (every leaf has a leading seed axis S).

    learner: the algorithm's state; replay: ``Transitions (S, C, ·)``; size: ``(S,)`` rows
    filled; expert: ``Transitions (S, N_E, ·)`` (the same demos broadcast to every seed);
    expert_init: ``(S, N0, O)`` initial states of the demo episodes; key: ``(S,)`` PRNG keys.
    """

    learner: Any
    replay: Transitions
    size: jax.Array
    expert: Transitions
    expert_init: jax.Array
    key: jax.Array


def run_online(env_id: str, carry: OnlineCarry, update: Callable, *, sample_action: Callable,
               eval_policies: dict, total_steps: int, train_freq: int, learning_starts: int,
               eval_every: int, eval_episodes: int, seed: int, progress: bool = False, desc: str | None = None):
    """The online loop shared by the learners (host envs, compiled update chunks, evaluation).

    Args:
      carry: :class:`OnlineCarry` (S seeds). update: pure ``carry -> (carry, metrics)`` for ONE seed
        (vmapped here). sample_action: jitted ``(learner (S,·), obs (S, O), key) -> actions (S, ·)``.
      eval_policies: ``{name: learner -> act(obs (S, n, O), key) -> actions}`` evaluated every
        ``eval_every`` env steps (e.g. deterministic and stochastic).
      total_steps: env steps per seed (multiple of ``train_freq`` and of ``eval_every``).
      learning_starts: env steps of uniform random actions (and no updates) at the start.
      seed: seed s of seed index i resets env i with ``seed + 1000 i``; evaluation episodes
        restart from ``seed + 10_000 + step`` (the same initial states for every seed).

    Returns:
      ``(carry, history)``: ``history["step"]: (T,)``, ``history[f"eval_{name}"]: (S, T, eval_episodes)``
      returns, ``history["train_returns"]``: list of ``(step, seed index, return)``,
      ``history["metrics"]``: per-chunk means of the update metrics ``{name: (S, n_chunks)}``,
      ``history["update_steps"]`` and ``history["wall_s"]``.

    Raises:
      ValueError: if ``total_steps`` is not a positive multiple of ``train_freq`` and ``eval_every``.
    """
    if total_steps < 1 or total_steps % train_freq or total_steps % eval_every or eval_every % train_freq:
        raise ValueError(f"total_steps ({total_steps}) must be a positive multiple of eval_every ({eval_every}), "
                         f"itself a multiple of train_freq ({train_freq})")
    t0 = time.perf_counter()
    spec = env_spec(env_id)
    n_seeds, cap = carry.size.shape[0], carry.replay.obs.shape[1]
    envs = [make_env(env_id) for _ in range(n_seeds)]
    obs = np.stack([e.reset(seed=seed + 1000 * i)[0] for i, e in enumerate(envs)]).astype(np.float32)
    rng = np.random.default_rng(seed)
    act_key = jax.random.key(seed + 7)
    chunk = make_chunk(update, train_freq, vmap_seeds=True)
    ep_ret, ep_start = np.zeros(n_seeds), np.ones(n_seeds, np.float32)
    hist = {"step": [], "train_returns": [], "metrics": [], **{f"eval_{k}": [] for k in eval_policies}}
    pos, filled, n_updates = 0, 0, 0
    blocks = range(train_freq, total_steps + 1, train_freq)
    if progress:
        from tqdm.auto import tqdm

        blocks = tqdm(blocks, desc=desc or env_id, unit="block", mininterval=2.0)
    for t_end in blocks:
        rows = {k: [] for k in Transitions._fields}
        for t in range(t_end - train_freq + 1, t_end + 1):
            if t <= learning_starts:
                a = (rng.integers(0, spec["n_actions"], n_seeds) if spec["discrete"]
                     else rng.uniform(-1.0, 1.0, (n_seeds, spec["action_dim"])).astype(np.float32))
            else:
                act_key, k = jax.random.split(act_key)
                a = np.asarray(sample_action(carry.learner, jnp.asarray(obs), k))
            nxt, rew, term, trunc = np.empty_like(obs), np.zeros(n_seeds), np.zeros(n_seeds), np.zeros(n_seeds)
            for i, e in enumerate(envs):
                o, rew[i], te, tr, _ = e.step(a[i])
                nxt[i], term[i], trunc[i] = o, float(te), float(tr and not te)
            for k_, v in zip(Transitions._fields, (obs, a, rew, nxt, term, trunc, ep_start.copy())):
                rows[k_].append(v)
            ep_ret += rew
            obs, ep_start = nxt.copy(), np.zeros(n_seeds, np.float32)
            for i in np.flatnonzero(term + trunc):
                hist["train_returns"].append((t, int(i), float(ep_ret[i])))
                ep_ret[i], ep_start[i] = 0.0, 1.0
                obs[i] = envs[i].reset()[0]
        block = Transitions(*(jnp.asarray(np.stack(rows[k_], axis=1)) for k_ in Transitions._fields))
        replay = replay_add(carry.replay, block, pos)
        pos, filled = (pos + train_freq) % cap, min(filled + train_freq, cap)
        carry = carry._replace(replay=replay, size=jnp.full((n_seeds,), filled, jnp.int32))
        if t_end > learning_starts:
            carry, metrics = chunk(carry)
            n_updates += train_freq
            hist["metrics"].append(jax.tree_util.tree_map(lambda m: np.asarray(m).mean(axis=1), metrics))
        if t_end % eval_every == 0:
            hist["step"].append(t_end)
            for name, policy in eval_policies.items():
                rets = evaluate(env_id, policy(carry.learner), eval_episodes, seed=seed + 10_000 + t_end,
                                batch_shape=(n_seeds,), key=jax.random.key(seed + t_end))
                hist[f"eval_{name}"].append(np.asarray(rets))
    for e in envs:
        e.close()
    for name in eval_policies:
        hist[f"eval_{name}"] = np.stack(hist[f"eval_{name}"], axis=1)
    hist["step"] = np.asarray(hist["step"])
    ms = hist["metrics"]
    hist["metrics"] = {k: np.stack([m[k] for m in ms], axis=1) for k in ms[0]} if ms else {}
    hist["update_steps"], hist["wall_s"] = n_updates, time.perf_counter() - t0
    return carry, hist


def make_carry(learner, n_seeds: int, capacity: int, spec: dict, demos: Transitions, key) -> OnlineCarry:
    """Assemble an :class:`OnlineCarry`: empty replay, demos (and their initial states) per seed."""
    action_shape = () if spec["discrete"] else (spec["action_dim"],)
    starts = np.asarray(demos.obs)[np.asarray(demos.episode_start) > 0]
    starts = starts if len(starts) else np.asarray(demos.obs)[:1]
    bcast = lambda x: jnp.broadcast_to(jnp.asarray(x), (n_seeds, *np.shape(x)))  # noqa: E731
    return OnlineCarry(learner, replay_init(n_seeds, capacity, spec["obs_dim"], action_shape),
                       jnp.zeros((n_seeds,), jnp.int32), jax.tree_util.tree_map(bcast, demos), bcast(starts),
                       jax.random.split(key, n_seeds))
