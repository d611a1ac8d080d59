"""Gymnasium environments and batched policy evaluation.

:func:`make_env` builds an environment with continuous actions rescaled to [-1, 1]^A (the
box every actor in :mod:`iqlib.core.nets` outputs). :func:`evaluate` runs many episodes in
lockstep — one policy call per time step for all of them, so a jitted policy (and all
seeds at once) costs one dispatch per step, not one per episode.

The environment is only ever touched here and in the online learners; the offline
learners take arrays (tests check this with a counting wrapper).
"""

from __future__ import annotations

from typing import Callable

import gymnasium as gym
import jax
import numpy as np

__all__ = ["ENV_IDS", "PROJECT_ENVS", "make_env", "env_spec", "evaluate"]

#: Environments this project trains experts on and evaluates in.
ENV_IDS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3", "Pendulum-v1", "Hopper-v5", "HalfCheetah-v5")

#: The project's own environments: id -> (maze layout, episode steps). They are registered here
#: by entry-point string, so importing this module does not import :mod:`iqlib.problems`.
PROJECT_ENVS = {"iqlib/PointMazeMedium-v0": ("medium", 600), "iqlib/PointMazeUMaze-v0": ("umaze", 300)}
for _id, (_maze, _steps) in PROJECT_ENVS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point="iqlib.problems.pointmaze:PointMazeEval", kwargs={"maze": _maze},
                     max_episode_steps=_steps)


def make_env(env_id: str, **kwargs) -> gym.Env:
    """``gym.make(env_id)`` with Box actions rescaled to [-1, 1].

    Raises:
      ValueError: if ``env_id`` is not a registered gymnasium id (the message lists ours).

    Ids starting with ``iqlib/`` are the project's own (:mod:`iqlib.problems.pointmaze`).
    """
    if env_id not in gym.registry:
        raise ValueError(f"unknown env_id {env_id!r}; expected a gymnasium id such as {list(ENV_IDS)}")
    env = gym.make(env_id, **kwargs)
    if isinstance(env.action_space, gym.spaces.Box):
        ones = np.ones(env.action_space.shape, dtype=env.action_space.dtype)
        env = gym.wrappers.RescaleAction(env, -ones, ones)
    return env


def env_spec(env_id: str) -> dict:
    """``{"obs_dim", "discrete", "n_actions" | "action_dim", "max_episode_steps"}``."""
    env = make_env(env_id)
    spec = {"obs_dim": int(np.prod(env.observation_space.shape)),
            "discrete": isinstance(env.action_space, gym.spaces.Discrete),
            "max_episode_steps": env.spec.max_episode_steps}
    if spec["discrete"]:
        spec["n_actions"] = int(env.action_space.n)
    else:
        spec["action_dim"] = int(np.prod(env.action_space.shape))
    env.close()
    return spec


def evaluate(env_id: str, act: Callable, n_episodes: int, seed: int, *, batch_shape: tuple = (),
             key: jax.Array | None = None, return_lengths: bool = False, discount: float = 1.0):
    """Returns (undiscounted by default) of ``n_episodes`` episodes per policy, run in lockstep.

    Args:
      env_id: gymnasium id (see :func:`make_env`).
      act: ``act(obs, key) -> actions``; ``obs: (*batch_shape, n_episodes, O)`` float32,
        ``actions`` of shape ``(*batch_shape, n_episodes)`` (discrete) or
        ``(*batch_shape, n_episodes, A)`` in [-1, 1]. ``batch_shape=(n_seeds,)`` evaluates
        n_seeds policies (e.g. vmapped params) in one call per step.
      n_episodes: episodes per policy (≥ 1); episode i of every policy starts from
        ``reset(seed=seed + i)``, so policies are compared on the same initial states.
      seed: base seed of the resets.
      key: PRNG key passed to ``act`` (split every step); None uses ``PRNGKey(seed)``.
      return_lengths: also return episode lengths.
      discount: γ in [0, 1]; the return of an episode is Σ_t γ^t r_t (1.0: the plain sum). A
        Monte-Carlo estimate of V^π(s₀) to set beside a learner's Q(s₀, π(s₀)).

    Returns:
      ``returns: (*batch_shape, n_episodes)`` float64 (and ``lengths`` of the same shape).
    """
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if not 0.0 <= float(discount) <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    shape = tuple(batch_shape) + (int(n_episodes),)
    n = int(np.prod(shape))
    envs = [make_env(env_id) for _ in range(n)]
    obs = np.stack([env.reset(seed=seed + (i % n_episodes))[0] for i, env in enumerate(envs)]).astype(np.float32)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    key = jax.random.PRNGKey(seed) if key is None else key
    while alive.any():
        key, k = jax.random.split(key)
        actions = np.asarray(act(obs.reshape(*shape, -1), k)).reshape(n, *(() if envs[0].action_space.shape == () else (-1,)))
        for i in np.flatnonzero(alive):
            o, r, terminated, truncated, _ = envs[i].step(actions[i])
            obs[i] = o
            returns[i] += float(r) if discount == 1.0 else float(r) * float(discount) ** lengths[i]
            lengths[i] += 1
            if terminated or truncated:
                alive[i] = False
    for env in envs:
        env.close()
    out = returns.reshape(shape)
    return (out, lengths.reshape(shape)) if return_lengths else out
