"""Vectorised trajectory sampling in a tabular MDP, and small statistics of the samples.

An episode of length H (the horizon) from policy π in the MDP (P, p0):

    s_0 ~ p0,   a_t ~ π(· | s_t),   s_{t+1} ~ P(· | s_t, a_t),   r_t = r(s_t, a_t)

`sample_trajectories` runs one `lax.scan` over t per episode and `jax.vmap`s it over
episodes, under `jax.jit`. The result is the project's transitions pytree
(`iqlib.core.transitions`): one dict of arrays with a leading axis N = n_episodes * horizon,
episode-major (episode 0's H steps first), with keys

    obs (N,) int32, action (N,) int32, reward (N,) float, next_obs (N,) int32,
    terminal (N,) bool   all False: these MDPs never end, so always bootstrap,
    timeout (N,) bool    True on the last step of each episode (truncation),
    episode_id (N,) int32.

"k demos" means k whole episodes: `episodes_from_transitions(transitions, k)`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.tabular.checks import check_indices
from iqlib.tabular.mdp import check_transitions

__all__ = [
    "sample_trajectories",
    "state_action_counts",
    "discounted_returns",
    "undiscounted_returns",
    "episodes_from_transitions",
]


def _check_positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def _check_distribution_rows(x, shape, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    bad = np.abs(x.sum(axis=-1) - 1.0) > 1e-4
    if np.any(bad):
        raise ValueError(f"{name} must sum to 1 along its last axis; first bad index {np.argwhere(bad)[0].tolist()}")
    return x


@partial(jax.jit, static_argnames=("n_episodes", "horizon"))
def _sample(key, P, p0, policy, r, n_episodes: int, horizon: int):
    log_P, log_p0, log_pi = jnp.log(P), jnp.log(p0), jnp.log(policy)

    def episode(ep_key):
        init_key, steps_key = jax.random.split(ep_key)
        s0 = jax.random.categorical(init_key, log_p0)

        def step(s, step_key):
            action_key, transition_key = jax.random.split(step_key)
            a = jax.random.categorical(action_key, log_pi[s])
            s_next = jax.random.categorical(transition_key, log_P[s, a])
            return s_next, (s, a, r[s, a], s_next)

        _, (obs, action, reward, next_obs) = jax.lax.scan(step, s0, jax.random.split(steps_key, horizon))
        return obs, action, reward, next_obs

    obs, action, reward, next_obs = jax.vmap(episode)(jax.random.split(key, n_episodes))  # each (n_ep, H)
    N = n_episodes * horizon
    t = jnp.tile(jnp.arange(horizon), n_episodes)
    return {
        "obs": obs.reshape(N).astype(jnp.int32),
        "action": action.reshape(N).astype(jnp.int32),
        "reward": reward.reshape(N),
        "next_obs": next_obs.reshape(N).astype(jnp.int32),
        "terminal": jnp.zeros(N, dtype=bool),
        "timeout": t == horizon - 1,
        "episode_id": jnp.repeat(jnp.arange(n_episodes, dtype=jnp.int32), horizon),
    }


def sample_trajectories(key, P, p0, policy, n_episodes: int, horizon: int, r=None) -> dict:
    """Sample `n_episodes` episodes of length `horizon` from `policy` in the MDP (P, p0).

    Args:
      key: a `jax.random.key` (consumed here; split it beforehand if you need it again).
      P: (S, A, S) transition probabilities P[s, a, s'].
      p0: (S,) initial-state distribution.
      policy: (S, A) action probabilities π(a | s); rows sum to 1.
      n_episodes: number of episodes (≥ 1).
      horizon: steps per episode H (≥ 1).
      r: optional (S, A) reward r(s, a) written into `reward`; zeros if None.

    Returns:
      The transitions dict of the module docstring, N = n_episodes * horizon rows,
      episode-major. The same key gives the same sample.

    Raises:
      ValueError: naming the argument, for a wrong shape, a negative or non-normalised
        probability, or a non-positive `n_episodes` / `horizon`.
    """
    P = check_transitions(P, "P", atol=1e-4)
    S, A, _ = P.shape
    p0 = _check_distribution_rows(p0, (S,), "p0")
    policy = _check_distribution_rows(policy, (S, A), "policy")
    n_episodes = _check_positive_int(n_episodes, "n_episodes")
    horizon = _check_positive_int(horizon, "horizon")
    if r is None:
        r = np.zeros((S, A))
    r = np.asarray(r, dtype=np.float64)
    if r.shape != (S, A):
        raise ValueError(f"r must have shape (S, A) = ({S}, {A}), got {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("r has NaN or infinite entries")
    f = jnp.asarray  # default float dtype (float32 unless x64 is enabled)
    return _sample(key, f(P), f(p0), f(policy), f(r), n_episodes=n_episodes, horizon=horizon)


def state_action_counts(obs, action, n_states: int, n_actions: int) -> jnp.ndarray:
    """Visit counts of each (s, a) pair.

    Args:
      obs: (N,) int state indices in [0, n_states).
      action: (N,) int action indices in [0, n_actions).
      n_states, n_actions: S and A.

    Returns:
      counts: (S, A) float array, counts[s, a] = #{i : obs[i] = s, action[i] = a}; sums to N.

    Raises:
      ValueError: if shapes differ, an index is not an integer (a float index is refused, never
        truncated) or is out of range, or n_states / n_actions is not a positive integer
        (checked eagerly, so this function is not meant to be called under `jit`).
    """
    n_states = _check_positive_int(n_states, "n_states")
    n_actions = _check_positive_int(n_actions, "n_actions")
    obs_np, act_np = np.asarray(obs), np.asarray(action)
    if obs_np.ndim != 1 or obs_np.shape != act_np.shape:
        raise ValueError(f"obs and action must be 1-D of equal length, got {obs_np.shape} and {act_np.shape}")
    obs_np = check_indices(obs_np, n_states, "obs")
    act_np = check_indices(act_np, n_actions, "action")
    flat = jnp.asarray(obs_np, jnp.int32) * n_actions + jnp.asarray(act_np, jnp.int32)
    counts = jnp.bincount(flat, length=n_states * n_actions)
    return counts.reshape(n_states, n_actions).astype(jnp.result_type(float))


def _episode_layout(episode_id):
    """(unique ids in order of appearance, per-row episode position, per-row step t)."""
    ids = np.asarray(episode_id)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"episode_id must be a non-empty 1-D array, got shape {ids.shape}")
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    block = np.cumsum(np.r_[True, ids[1:] != ids[:-1]]) - 1  # (N,) block index per row
    if len(np.unique(ids)) != len(starts):
        raise ValueError("each episode's transitions must be contiguous (episode-major order)")
    t = np.arange(ids.size) - starts[block]
    return ids[starts], block, t


def discounted_returns(transitions: dict, discount: float) -> jnp.ndarray:
    """Discounted return G = Σ_t γ^t r_t of each episode, t counted from its first row.

    Args:
      transitions: dict with `reward` (N,) and `episode_id` (N,); episodes contiguous.
      discount: γ in [0, 1].

    Returns:
      (n_episodes,) returns in reward units, in order of first appearance of each episode.

    Raises:
      ValueError: if discount is out of range or episodes are not contiguous.
    """
    if isinstance(discount, (bool, str)) or not (0.0 <= float(discount) <= 1.0):
        raise ValueError(f"discount must satisfy 0 <= discount <= 1, got {discount}")
    uniq, block, t = _episode_layout(transitions["episode_id"])
    reward = jnp.asarray(transitions["reward"])
    weights = jnp.asarray(float(discount) ** t, dtype=reward.dtype)
    return jax.ops.segment_sum(weights * reward, jnp.asarray(block), num_segments=len(uniq))


def undiscounted_returns(transitions: dict) -> jnp.ndarray:
    """Undiscounted return Σ_t r_t of each episode: `discounted_returns` with γ = 1.

    Returns:
      (n_episodes,) returns in reward units. Raises ValueError as `discounted_returns`.
    """
    return discounted_returns(transitions, 1.0)


def episodes_from_transitions(transitions: dict, k: int) -> dict:
    """The first k whole episodes (in order of appearance): "k demos".

    Args:
      transitions: the transitions dict (every value has leading axis N).
      k: number of episodes to keep, 1 ≤ k ≤ number of episodes.

    Returns:
      The same dict restricted to those episodes' rows (k * horizon rows for equal-length
      episodes); `episode_id` values are kept unchanged.

    Raises:
      ValueError: if k is not an integer in [1, number of episodes].
    """
    uniq, block, _ = _episode_layout(transitions["episode_id"])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not (1 <= k <= len(uniq)):
        raise ValueError(f"k must be an integer in [1, {len(uniq)}] (the number of episodes), got {k!r}")
    keep = np.flatnonzero(block < k)
    return {name: value[keep] for name, value in transitions.items()}
