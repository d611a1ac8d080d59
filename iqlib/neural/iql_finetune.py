"""IQL offline-to-online fine-tuning (Kostrikov, Nair, Levine 2021, §5.3 and Table 3).

Pre-train IQL offline on D (:func:`iqlib.neural.iql_train.make_train`), then keep running *the same*
update — V (Eq. 5), π (Eq. 7), twin Q (Eq. 6), Polyak target — while the agent acts and its
own transitions join the replay buffer:

  B₀ = D,   B_{k+1} = B_k ∪ {(s_t, a_t, c(r_t), s_{t+1}, terminal_t, timeout_t)}_{t in block k},
  a_t ∼ π_θ(·|s_t)  (Gaussian sample clipped to [−1, 1], or a categorical sample),

with c the dataset's reward convention (maze: r − 1; locomotion/discrete: r × the dataset's
scale, :func:`reward_transform`). Nothing in the losses changes: what changes is the data
distribution the expectations run over — uniform over B_k instead of D — so V's expectile,
Q's TD target and AWR's weights gradually follow the agent's own (on-policy) states and
actions. Terminals stop bootstrapping (target r + γ·0); truncations by a time limit do not
(timeout = 1, terminal = 0, target r + γ V(s')), as in the authors' ``train_finetune.py``.

Schedule: each block of ``train_freq`` environment steps is followed by ``train_freq``
updates compiled as one ``lax.scan`` chunk (one update per env step on average, as the
authors do step by step). The actor learning rate is **constant** online (and the notebook
also pre-trains with it constant): the authors' fine-tuning config (``antmaze_finetune_config``)
sets ``opt_decay_schedule = None`` for both phases, and a cosine over the offline steps would
have decayed to 0 by the time online training starts.

The "from scratch" baseline (:func:`train_from_scratch`) is the same loop started from freshly
initialised networks and an empty buffer, with ``learning_starts`` uniformly random actions
before the first update.

Both run in the online loop of every online learner (:func:`iqlib.neural.online.run_online`,
one seed, one env), with this learner's hooks: a policy sample to act, the reward convention
to store, an evaluation before the first online step. Sampling from the first ``size`` rows of a
capacity-sized buffer: the IQL update draws its minibatch uniformly from whatever array it is
given, so before each update it is handed a fresh view of M = 64·B rows drawn i.i.d. uniformly
from the filled rows (:func:`uniform_view`): every minibatch row is exactly uniform over the
buffer, and the compiled chunk never changes shape as the buffer fills.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.envs import env_spec, evaluate
from iqlib.core.replay import ReplayBuffer
from iqlib.core.transitions import Transitions
from iqlib.neural.acting import deterministic_act, stochastic_act
from iqlib.neural.iql import IQLConfig, IQLState
from iqlib.neural.iql_train import make_train
from iqlib.neural.offline import prepare_data
from iqlib.neural.online import make_update_chunk, run_online

__all__ = ["OnlineResult", "reward_transform", "init_buffer", "uniform_view", "finetune", "train_from_scratch"]


class OnlineResult(NamedTuple):
    """What one online run returns (one seed).

    Attributes:
      state: final :class:`~iqlib.neural.iql.IQLState` (no seed axis).
      eval_steps: (K,) online environment steps at each evaluation (0 = before any online step).
      eval_returns: (K, eval_episodes) raw undiscounted returns of the deterministic policy.
      episode_steps, episode_returns: (E,) env step at which each online (stochastic) training
        episode ended, and its raw return.
      metrics: IQL per-update metrics, each (num_updates,) (see :func:`iqlib.neural.iql_train.make_train`).
      buffer: the :class:`~iqlib.core.replay.ReplayBuffer` (offline rows first, then online ones).
      wall_s: wall-clock seconds of the online loop.
    """

    state: IQLState
    eval_steps: np.ndarray
    eval_returns: np.ndarray
    episode_steps: np.ndarray
    episode_returns: np.ndarray
    metrics: dict
    buffer: ReplayBuffer
    wall_s: float


def reward_transform(info: dict | None) -> Callable[[np.ndarray], np.ndarray]:
    """The dataset's reward convention as a function of raw environment rewards.

    Args:
      info: the ``info`` dict of :func:`iqlib.data.registry.load_offline` (uses ``reward_shift``
        for maze data, ``reward_scale`` for locomotion/discrete data); None → identity (raw).

    Returns:
      ``c(r)`` for raw rewards ``r`` (any shape), float32. The scale is the *dataset's*
      (fixed), not recomputed from online episodes.

    Raises:
      ValueError: ``info`` has neither ``reward_shift`` nor ``reward_scale`` (e.g. loaded raw).
    """
    if info is None:
        return lambda r: np.asarray(r, np.float32)
    if "reward_shift" in info:
        shift = float(info["reward_shift"])
        return lambda r: (np.asarray(r, np.float32) + shift).astype(np.float32)
    if "reward_scale" in info:
        scale = float(info["reward_scale"])
        return lambda r: (np.asarray(r, np.float32) * scale).astype(np.float32)
    raise ValueError("info has neither 'reward_shift' nor 'reward_scale'; pass the info of "
                     "load_offline(name) (not raw=True), or None for raw rewards")


def init_buffer(offline_data: Transitions | None, online_steps: int, obs_dim: int | None = None,
                action_shape: tuple | None = None, n_seeds: int | None = None) -> ReplayBuffer:
    """Replay buffer of capacity N + ``online_steps`` whose first N rows are ``offline_data``.

    Args:
      offline_data: dataset (N rows, reward convention already applied), or None for an empty
        buffer (then ``obs_dim`` and ``action_shape`` are required).
      online_steps: room for the online transitions (≥ 1); nothing is ever overwritten.
      n_seeds: None for a buffer without a seed axis; S for S identical copies (the online loop's layout).

    Raises:
      ValueError: ``online_steps`` < 1, or no data and no ``obs_dim``/``action_shape``.
    """
    if int(online_steps) < 1:
        raise ValueError(f"online_steps must be >= 1, got {online_steps}")
    if offline_data is None:
        if obs_dim is None or action_shape is None:
            raise ValueError("an empty buffer needs obs_dim and action_shape")
        return ReplayBuffer(int(online_steps), int(obs_dim), tuple(action_shape), n_seeds=n_seeds)
    d = prepare_data(offline_data, "offline_data")
    buf = ReplayBuffer(len(d.reward) + int(online_steps), d.obs.shape[1], tuple(d.action.shape[1:]), n_seeds=n_seeds)
    lead = () if n_seeds is None else (int(n_seeds),)
    buf.add(**{k: np.broadcast_to(v, lead + v.shape) for k, v in d._asdict().items()})
    return buf


def uniform_view(batch_size: int, view_factor: int = 64) -> Callable:
    """``sample_batch(key, data, size, _) -> view`` for :func:`iqlib.neural.online.make_update_chunk`:
    M = ``view_factor · batch_size`` rows drawn i.i.d. uniformly from the first ``size`` rows of the
    capacity-sized ``data`` (leaves (C, ...) -> (M, ...)).

    The IQL update then samples its B rows from the view: each minibatch row is exactly uniform
    over the filled rows, rows are independent except that two coincide with probability
    1/M + 1/size instead of 1/size (M = 16384 at B = 256), and nothing recompiles as the buffer fills.
    """
    m_rows = int(view_factor) * int(batch_size)

    def sample_batch(key, data: Transitions, size, _):
        idx = jax.random.randint(key, (m_rows,), 0, jnp.maximum(size, 1))
        return jax.tree_util.tree_map(lambda x: x[idx], data)

    return sample_batch


def _check_args(online_steps, train_freq, eval_every, eval_episodes, learning_starts=0):
    checks = {"online_steps": int(online_steps) >= 1, "train_freq": int(train_freq) >= 1,
              "eval_every": int(eval_every) >= 1, "eval_episodes": int(eval_episodes) >= 1,
              "learning_starts": int(learning_starts) >= 0}
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise ValueError(f"{bad} must be positive (learning_starts >= 0)")
    for name, v in (("online_steps", online_steps), ("eval_every", eval_every),
                     ("learning_starts", learning_starts)):
        if int(v) % int(train_freq):
            raise ValueError(f"{name} ({v}) must be a multiple of train_freq ({train_freq})")
    if int(learning_starts) >= int(online_steps):
        raise ValueError(f"learning_starts ({learning_starts}) must be < online_steps ({online_steps})")


@functools.lru_cache(maxsize=16)
def _online_programs(config: IQLConfig, obs_dim: int, action_dim: int | None, n_actions: int | None,
                     train_freq: int):
    """(trainer, chunk, deterministic head, stochastic head) for one (config, spaces, train_freq): compiled
    once, shared by every seed, fine-tuned or from scratch (the update takes the data as an argument)."""
    online = dataclasses.replace(config, cosine_actor_lr=False)  # constant actor LR online
    dummy = Transitions(obs=np.zeros((1, obs_dim), np.float32),
                        action=np.zeros((1,), np.int32) if n_actions else np.zeros((1, action_dim), np.float32),
                        reward=np.zeros(1, np.float32), next_obs=np.zeros((1, obs_dim), np.float32),
                        terminal=np.zeros(1, np.float32), timeout=np.zeros(1, np.float32),
                        episode_start=np.ones(1, np.float32))
    trainer = make_train(online, dummy, int(train_freq), chunk_size=int(train_freq), n_actions=n_actions)
    chunk = make_update_chunk(trainer.update, uniform_view(online.batch_size), int(train_freq))
    return trainer, chunk, deterministic_act(trainer.policy_graphdef), stochastic_act(trainer.policy_graphdef)


def _run(config, spec, state: IQLState, buffer: ReplayBuffer, env_id: str, online_steps: int, *, reward_fn, seed,
         train_freq, eval_every, eval_episodes, eval_seed, learning_starts, progress, desc) -> OnlineResult:
    """One seed through :func:`iqlib.neural.online.run_online`: policy samples, the dataset's reward
    convention stored, deterministic evaluations at step 0 and every ``eval_every`` steps."""
    trainer, chunk, det, sto = _online_programs(config, spec["obs_dim"], spec.get("action_dim"),
                                                spec.get("n_actions"), int(train_freq))

    def evaluate_det(step, ln, _):
        params = jax.tree_util.tree_map(lambda x: x[0], trainer.policy_params(ln))
        return evaluate(env_id, functools.partial(det, params), int(eval_episodes), int(eval_seed))

    key = jax.random.fold_in(jax.random.key(int(seed)), 7)
    learner, hist = run_online(
        env_id, jax.tree_util.tree_map(lambda x: jnp.copy(x)[None], state), buffer, chunk,
        act=lambda ln, obs, k, step: sto(trainer.policy_params(ln), obs, k), total_steps=int(online_steps),
        train_freq=int(train_freq), keys=jax.random.split(key)[:1], learning_starts=int(learning_starts),
        eval_every=int(eval_every), evaluate=evaluate_det, eval_at_start=True, reward_fn=reward_fn, seed=int(seed),
        reset_seeds=[[int(seed)]], act_key=jax.random.split(key)[1], progress=progress, desc=desc)
    ends = hist["train_returns"]
    return OnlineResult(jax.tree_util.tree_map(lambda x: x[0], learner), np.asarray(hist["eval_steps"]),
                        np.stack(hist["evals"]), np.asarray([t for t, _, _ in ends]),
                        np.asarray([r for _, _, r in ends]), {k: v[0] for k, v in hist["metrics"].items()},
                        buffer.of_seed(0), hist["wall_s"])


def finetune(config: IQLConfig, state: IQLState, offline_data: Transitions, env_id: str,
             online_steps: int, *, reward_fn: Callable | None = None, seed: int = 0,
             train_freq: int = 1000, eval_every: int = 5000, eval_episodes: int = 10,
             eval_seed: int = 10_000, progress: bool = False,
             desc: str | None = "fine-tune") -> OnlineResult:
    """Online fine-tuning of a pre-trained IQL agent (paper §5.3), one seed.

    Args:
      config: the :class:`~iqlib.neural.iql.IQLConfig` of pre-training (same τ, β, γ, nets); the
        actor learning rate is held constant at ``config.actor_lr`` online (module docstring).
      state: pre-trained :class:`~iqlib.neural.iql.IQLState` of ONE seed (no leading seed axis), e.g.
        ``make_train(config, data, n)(key)[0]``; its Adam moments carry on.
      offline_data: the pre-training dataset (N rows, reward convention applied): the buffer's
        first N rows.
      env_id: environment of the data (:func:`iqlib.core.envs.make_env`).
      online_steps: environment steps (= IQL updates); multiple of ``train_freq``.
      reward_fn: raw reward → stored reward; use ``reward_transform(info)`` of the data's
        ``load_offline`` info (None = raw rewards; then the data must be raw too).
      seed: env/action seed (the env's first reset and the policy's sampling key).
      train_freq: env steps per block; each block is followed by ``train_freq`` updates.
      eval_every: env steps between deterministic evaluations (multiple of ``train_freq``).
      eval_episodes, eval_seed: episodes per evaluation; their resets are ``eval_seed + i``.

    Returns:
      :class:`OnlineResult`; ``eval_returns[0]`` is the pre-trained policy's.

    Raises:
      ValueError: bad counts (non-positive, not multiples of ``train_freq``), a state with a
        seed axis, or data whose obs/action sizes do not match ``env_id``.
    """
    _check_args(online_steps, train_freq, eval_every, eval_episodes)
    if np.ndim(state.step) != 0:
        raise ValueError(f"state must be one seed (step has shape {np.shape(state.step)}); index the seed "
                         "axis first: jax.tree_util.tree_map(lambda x: x[i], state)")
    spec = env_spec(env_id)
    d = prepare_data(offline_data, "offline_data")
    act_shape = () if spec["discrete"] else (spec["action_dim"],)
    if d.obs.shape[1] != spec["obs_dim"] or tuple(d.action.shape[1:]) != act_shape:
        raise ValueError(f"offline_data has obs dim {d.obs.shape[1]} and action shape {d.action.shape[1:]}, "
                         f"but {env_id} has {spec['obs_dim']} and {act_shape}")
    return _run(config, spec, state, init_buffer(d, online_steps, n_seeds=1), env_id, online_steps,
                reward_fn=reward_fn or reward_transform(None), seed=seed, train_freq=train_freq, eval_every=eval_every,
                eval_episodes=eval_episodes, eval_seed=eval_seed, learning_starts=0, progress=progress, desc=desc)


def train_from_scratch(config: IQLConfig, env_id: str, online_steps: int, *, reward_fn: Callable | None = None,
                       seed: int = 0, learning_starts: int = 5000, train_freq: int = 1000,
                       eval_every: int = 5000, eval_episodes: int = 10, eval_seed: int = 10_000,
                       capacity: int | None = None, progress: bool = False,
                       desc: str | None = "from scratch") -> OnlineResult:
    """The baseline: the same online IQL loop from fresh networks and an empty buffer, one seed.

    The first ``learning_starts`` env steps take uniformly random actions with no updates;
    afterwards each block of ``train_freq`` steps (policy samples) is followed by ``train_freq``
    updates, so ``online_steps − learning_starts`` updates in all. Other arguments as
    :func:`finetune` (``config`` supplies τ, β, γ, nets; constant actor learning rate).
    ``capacity`` (default ``online_steps``, ≥ it) only pads the buffer: passing the fine-tuning
    buffer's N + ``online_steps`` lets both runs share one compiled update chunk.

    Raises:
      ValueError: as :func:`finetune`, and ``learning_starts`` not a multiple of ``train_freq``
        or ≥ ``online_steps``.
    """
    _check_args(online_steps, train_freq, eval_every, eval_episodes, learning_starts)
    spec = env_spec(env_id)
    act_shape = () if spec["discrete"] else (spec["action_dim"],)
    if capacity is not None and int(capacity) < int(online_steps):
        raise ValueError(f"capacity ({capacity}) must be >= online_steps ({online_steps})")
    buffer = init_buffer(None, capacity or online_steps, spec["obs_dim"], act_shape, n_seeds=1)
    state = jax.jit(_online_programs(config, spec["obs_dim"], spec.get("action_dim"), spec.get("n_actions"),
                                     int(train_freq))[0].init)(jax.random.key(int(seed)))
    return _run(config, spec, state, buffer, env_id, online_steps, reward_fn=reward_fn or reward_transform(None),
                seed=seed, train_freq=train_freq, eval_every=eval_every, eval_episodes=eval_episodes,
                eval_seed=eval_seed, learning_starts=learning_starts, progress=progress, desc=desc)
