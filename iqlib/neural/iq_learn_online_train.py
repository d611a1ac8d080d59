"""The online IQ-Learn driver: demonstrations, mixed minibatches, the env loop and evaluation.

:mod:`iqlib.neural.iq_learn_online` holds the algorithm (config, losses, the pure ``update``);
this module runs it in an environment with :func:`iqlib.neural.online.run_online`, S seeds
vmapped. Every minibatch is B demo rows then B replay rows (:func:`mix_demos`), plus B demo
initial states for ``init_term="v0"``; the learner acts with a policy sample and is evaluated
every ``eval_every`` steps with its deterministic and stochastic policy. :func:`run_imitation`
is shared with the learning-from-observations variant (:mod:`iqlib.neural.iq_learn_lfo`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.envs import env_spec, evaluate
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.core.transitions import Transitions
from iqlib.neural.acting import tanh_gaussian_act
from iqlib.neural.iq_learn_online import IQBatch, IQLearnOnlineConfig, init_sac, make_update
from iqlib.data.demos import load_demos
from iqlib.neural.online import check_schedule, make_update_chunk, run_online

__all__ = ["OnlineCarry", "demo_data", "mix_demos", "run_imitation", "train_iq_learn_online"]


class OnlineCarry(NamedTuple):
    """The end of an imitation run (leading seed axis S): ``learner``, ``replay: Transitions (S, C, ·)``
    (capacity-sized), ``size: (S,)`` rows filled."""

    learner: Any
    replay: Transitions
    size: jax.Array


def demo_data(demos: Transitions) -> tuple[Transitions, jax.Array]:
    """``(demos on device, init_obs: (N0, O))``: the demo rows and the initial states of their episodes."""
    starts = np.asarray(demos.obs)[np.asarray(demos.episode_start) > 0]
    starts = starts if len(starts) else np.asarray(demos.obs)[:1]
    return jax.tree_util.tree_map(jnp.asarray, demos), jnp.asarray(starts, jnp.float32)


def mix_demos(batch_size: int) -> Callable:
    """``sample_batch(key, data, size, shared) -> IQBatch`` for :func:`iqlib.neural.online.make_update_chunk`:
    B rows of the demos and B of the replay (expert rows first, cast to the replay's dtypes) and B demo
    initial states; ``shared`` is :func:`demo_data`'s pair."""
    b = int(batch_size)

    def sample_batch(key, data, size, shared):
        (demos, init_obs), (k_e, k_p, k_0) = shared, jax.random.split(key, 3)
        expert = sample(k_e, demos, demos.obs.shape[0], b)
        policy = sample(k_p, data, size, b)
        rows = jax.tree_util.tree_map(lambda x, y: jnp.concatenate([x.astype(y.dtype), y]), expert, policy)
        init = init_obs[jax.random.randint(k_0, (b,), 0, init_obs.shape[0])]
        return IQBatch(rows, jnp.concatenate([jnp.ones(b), jnp.zeros(b)]), init)

    return sample_batch


def run_imitation(env_id: str, learner, update: Callable, demos: Transitions, config, *, policy_params: Callable,
                  deterministic: Callable, stochastic: Callable, total_steps: int, seed: int, progress: bool, desc: str):
    """The online loop of an imitation learner (S seeds, one env each); ``(carry, history)``.

    Args:
      learner: state with a leading seed axis S; update: pure one-seed ``update(state, IQBatch)``.
      config: reads ``batch_size, buffer_capacity, train_freq, learning_starts, eval_every, eval_episodes``.
      policy_params: ``learner -> params`` of the acting network; deterministic, stochastic:
        ``act(params, obs, key)`` heads (:mod:`iqlib.neural.acting`); the learner acts stochastically.

    Returns:
      :class:`OnlineCarry` and ``history``: ``step (T,)``, ``eval_deterministic``, ``eval_stochastic``
      ``(S, T, eval_episodes)`` returns (episode resets ``seed + 10_000 + step``, the same for every
      seed), ``train_returns`` (list of ``(step, seed index, return)``), ``train_episodes`` (list of
      ``(step, seed index, return, length, terminated)``), ``metrics`` (per-chunk means
      ``{name: (S, n_chunks)}``), ``update_steps``, ``wall_s``.

    Raises:
      ValueError: if ``total_steps`` is not a positive multiple of ``eval_every``, itself a multiple
        of ``train_freq``.
    """
    check_schedule(total_steps, config.train_freq, config.eval_every)
    spec, n_seeds = env_spec(env_id), int(jax.tree_util.tree_leaves(learner)[0].shape[0])
    action_shape = () if spec["discrete"] else (spec["action_dim"],)
    buffer = ReplayBuffer(min(config.buffer_capacity, total_steps), spec["obs_dim"], action_shape, n_seeds=n_seeds)
    chunk = make_update_chunk(update, mix_demos(config.batch_size), config.train_freq)
    shared = demo_data(demos)
    policies = {"deterministic": deterministic, "stochastic": stochastic}

    def evaluate_all(step, ln, _):
        return {name: evaluate(env_id, lambda o, k, h=head: h(policy_params(ln), jnp.asarray(o), k), config.eval_episodes,
                               seed=seed + 10_000 + step, batch_shape=(n_seeds,), key=jax.random.key(seed + step))
                for name, head in policies.items()}

    learner, hist = run_online(
        env_id, learner, buffer, lambda c, d, s: chunk(c, d, s, shared),
        act=lambda ln, obs, key, step: stochastic(policy_params(ln), obs, key), total_steps=total_steps,
        train_freq=config.train_freq, keys=jax.random.split(jax.random.key(seed + 1), n_seeds),
        learning_starts=config.learning_starts, eval_every=config.eval_every, evaluate=evaluate_all, seed=seed,
        progress=progress, desc=desc)
    metrics = {k: v.reshape(n_seeds, -1, config.train_freq).mean(-1) for k, v in hist["metrics"].items()}
    out = {"step": np.asarray(hist["eval_steps"]), "train_returns": hist["train_returns"],
           "train_episodes": hist["train_episodes"], "metrics": metrics,
           "update_steps": hist["update_steps"], "wall_s": hist["wall_s"]}
    for name in policies:
        out[f"eval_{name}"] = np.stack([np.asarray(r[name]) for r in hist["evals"]], axis=1)
    data, size = buffer.device_view()
    return OnlineCarry(learner, data, size), out


def train_iq_learn_online(env_id: str, config: IQLearnOnlineConfig = IQLearnOnlineConfig(), *, n_demos: int = 1,
                          seed: int = 0, n_seeds: int = 1, total_steps: int = 10_000, progress: bool = False,
                          demos_dir=None):
    """Online IQ-Learn on a continuous-control gymnasium task, ``n_seeds`` seeds vmapped.

    Args:
      env_id: gymnasium id with a Box action space (rescaled to [-1, 1]), e.g. "Pendulum-v1", "Hopper-v5".
      n_demos: expert episodes from ``data/demos/<env_id>.npz`` (actions used).
      seed: base seed (params of seed i from ``jax.random.key(seed)`` split n_seeds ways).
      total_steps: env steps per seed (multiple of ``config.eval_every``).

    Returns:
      ``(nets, carry, history, demo_info)``: :class:`OnlineCarry` and the history of
      :func:`run_imitation` (``eval_deterministic``: tanh of the mean; ``eval_stochastic``: a ~ π).

    Raises:
      ValueError: unknown/discrete env id, bad n_demos or step counts. FileNotFoundError: no demo file.
    """
    demos, info = load_demos(env_id, n_demos, demos_dir=demos_dir)
    spec = env_spec(env_id)
    if spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has discrete actions; online IQ-Learn with SAC needs a Box action space "
                         "(use iqlib.neural.iq_learn_lfo for the discrete learning-from-observations learner)")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    k_init = jax.random.split(jax.random.key(seed))[0]
    nets, _ = init_sac(k_init, spec["obs_dim"], spec["action_dim"], config)
    learner = jax.vmap(lambda k: init_sac(k, spec["obs_dim"], spec["action_dim"], config)[1])(
        jax.random.split(k_init, n_seeds))
    carry, hist = run_imitation(
        env_id, learner, make_update(nets, config), demos, config, policy_params=lambda ln: ln.actor.params,
        deterministic=tanh_gaussian_act(nets.actor_def, True), stochastic=tanh_gaussian_act(nets.actor_def, False),
        total_steps=total_steps, seed=seed, progress=progress, desc=f"IQ-Learn {env_id}")
    return nets, carry, hist, info
