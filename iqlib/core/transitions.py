"""Transitions: the in-memory form of offline datasets and demonstrations, with their checks.

The arrays use D4RL's keys (:data:`D4RL_KEYS`, written to disk by :mod:`iqlib.data.datasets`): a compressed ``.npz`` with D4RL's keys — ``observations: (N, O)``,
``actions: (N,)`` int (discrete) or ``(N, A)`` float in [-1, 1], ``rewards: (N,)``,
``terminals: (N,)`` (true ends: no bootstrap), ``timeouts: (N,)`` (truncations: bootstrap),
``next_observations: (N, O)`` — plus optional ``episode_starts: (N,)`` bools, beside a
provenance record (``foo.provenance.json``: environment, command, seed, policy, returns,
reference returns for normalised scores, sha256). :func:`to_transitions` checks the arrays
and returns :class:`Transitions` (``obs, action, reward, next_obs, terminal, timeout``,
``episode_start``).

Reward conventions (IQL, Kostrikov et al. 2021, Appendix B; D4RL, Fu et al. 2020):
locomotion rewards are scaled by ``1000 / (max episode return − min episode return)``
(:func:`scale_rewards_locomotion`); maze rewards are shifted by −1 (:func:`shift_rewards`).
Normalised score = 100·(R − R_random)/(R_expert − R_random) (:func:`normalized_score`).
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import numpy as np

__all__ = [
    "Transitions",
    "D4RL_KEYS",
    "validate_arrays",
    "to_transitions",
    "to_arrays",
    "episode_bounds",
    "episode_returns",
    "select_episodes",
    "top_fraction_episodes",
    "scale_rewards_locomotion",
    "shift_rewards",
    "normalized_score",
]

D4RL_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


class Transitions(NamedTuple):
    """A batch of N transitions (arrays with a leading axis N).

    Fields: ``obs: (N, O)`` float32, ``action: (N,)`` int32 or ``(N, A)`` float32,
    ``reward: (N,)`` float32, ``next_obs: (N, O)``, ``terminal: (N,)`` float32 in {0, 1}
    (bootstrapping mask = 1 − terminal), ``timeout: (N,)`` float32 in {0, 1},
    ``episode_start: (N,)`` float32 in {0, 1} (1 on the first step of an episode).
    """

    obs: Any
    action: Any
    reward: Any
    next_obs: Any
    terminal: Any
    timeout: Any
    episode_start: Any


_INT32_MAX = np.iinfo(np.int32).max


def validate_arrays(arrays: Mapping[str, Any], name: str = "dataset", n_actions: int | None = None
                    ) -> dict[str, np.ndarray]:
    """Check a D4RL-style dict and return it as numpy arrays (copies of the right dtypes).

    Rules (each error is a ``ValueError`` naming ``name`` and the key):

    * every key of :data:`D4RL_KEYS` is present, the dataset is not empty, and every array has
      length N = len(observations) (``episode_starts`` too, when present);
    * ``observations`` and ``next_observations`` are (N, obs_dim); observations, rewards and
      continuous actions are finite (no NaN/inf);
    * ``terminals``, ``timeouts`` (and ``episode_starts``) hold only 0/1 or booleans, and no step
      is marked both terminal and timeout (a step ends an episode *or* truncates it);
    * discrete actions (an integer dtype) are (N,), non-negative, below ``n_actions`` when it is
      given, and fit in int32 (they are cast to int32, which would wrap larger values);
    * continuous actions (a float dtype) are (N, action_dim) and lie in [−1, 1] (the action
      space of every environment here, after rescaling);
    * any other action dtype (bool, object, ...) is refused.

    Args:
      arrays: the D4RL-style dict. name: used in every message (e.g. the file).
      n_actions: the number of discrete actions, when known (None: only the int32 bound).
    """
    missing = [k for k in D4RL_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{name}: missing keys {missing}; expected all of {list(D4RL_KEYS)}")
    out = {k: np.asarray(arrays[k]) for k in arrays}
    n = out["observations"].shape[0] if out["observations"].ndim else -1
    if out["observations"].ndim != 2 or out["next_observations"].shape != out["observations"].shape:
        raise ValueError(f"{name}: observations and next_observations must both be (N, obs_dim); got "
                         f"{out['observations'].shape} and {out['next_observations'].shape}")
    if n == 0:
        raise ValueError(f"{name}: dataset is empty")
    flags = ("terminals", "timeouts") + (("episode_starts",) if "episode_starts" in out else ())
    for k in ("actions", "rewards") + flags:
        if out[k].shape[:1] != (n,):
            raise ValueError(f"{name}: {k} has length {out[k].shape[:1]}, expected {n} (len(observations))")
    kind = out["actions"].dtype.kind
    for k in ("observations", "next_observations", "rewards") + (("actions",) if kind == "f" else ()):
        if out[k].dtype.kind not in "fiu":
            raise ValueError(f"{name}: {k} must be numeric, got dtype {out[k].dtype}")
        if not np.all(np.isfinite(out[k])):
            bad = int(np.sum(~np.isfinite(out[k])))
            raise ValueError(f"{name}: {k} has {bad} NaN/inf values")
    for k in flags:
        if not np.all(np.isin(out[k], (0, 1))):
            raise ValueError(f"{name}: {k} must hold only 0/1 (or booleans)")
    both = np.logical_and(out["terminals"], out["timeouts"])
    if np.any(both):
        raise ValueError(f"{name}: terminals and timeouts are both set at {int(both.sum())} step(s) (first: "
                         f"{int(np.argmax(both))}); a step ends its episode (terminal) or truncates it (timeout)")
    _check_actions(out["actions"], name, n_actions)
    return out


def _check_actions(a: np.ndarray, name: str, n_actions: int | None) -> None:
    if a.dtype.kind in "iu":
        if a.ndim != 1 or a.min() < 0:
            raise ValueError(f"{name}: discrete actions must be (N,) non-negative ints, got shape "
                             f"{a.shape}, min {a.min()}")
        if n_actions is not None and a.max() >= n_actions:
            raise ValueError(f"{name}: actions must lie in [0, {n_actions}) (the discrete action set), "
                             f"got max {a.max()}")
        if a.max() > _INT32_MAX:
            raise ValueError(f"{name}: actions up to {a.max()} do not fit in int32 (max {_INT32_MAX})")
    elif a.dtype.kind == "f":
        if a.ndim != 2:
            raise ValueError(f"{name}: continuous actions must be (N, action_dim), got {a.shape}")
        lo, hi = float(a.min()), float(a.max())
        if lo < -1.0 or hi > 1.0:
            raise ValueError(f"{name}: continuous actions must lie in [-1, 1], got range [{lo:.6g}, {hi:.6g}]")
    else:
        raise ValueError(f"{name}: actions must be integers (discrete) or floats (continuous), got dtype {a.dtype}")


def _episode_starts(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    if "episode_starts" in arrays:
        return np.asarray(arrays["episode_starts"], dtype=bool)
    ends = np.logical_or(arrays["terminals"], arrays["timeouts"]).astype(bool)
    return np.concatenate([[True], ends[:-1]])


def to_transitions(arrays: Mapping[str, Any], name: str = "dataset", n_actions: int | None = None) -> Transitions:
    """Validate a D4RL-style dict (:func:`validate_arrays`, whose rules apply; ``ValueError`` naming
    ``name`` and the key) and convert it to :class:`Transitions` (numpy)."""
    a = validate_arrays(arrays, name, n_actions)
    discrete = a["actions"].dtype.kind in "iu"
    return Transitions(
        obs=a["observations"].astype(np.float32),
        action=a["actions"].astype(np.int32 if discrete else np.float32),
        reward=a["rewards"].astype(np.float32),
        next_obs=a["next_observations"].astype(np.float32),
        terminal=a["terminals"].astype(np.float32),
        timeout=a["timeouts"].astype(np.float32),
        episode_start=_episode_starts(a).astype(np.float32),
    )


def to_arrays(t: Transitions) -> dict[str, np.ndarray]:
    """:class:`Transitions` back to the on-disk D4RL dict (booleans for the flags)."""
    return {
        "observations": np.asarray(t.obs, np.float32),
        "actions": np.asarray(t.action),
        "rewards": np.asarray(t.reward, np.float32),
        "terminals": np.asarray(t.terminal).astype(bool),
        "timeouts": np.asarray(t.timeout).astype(bool),
        "next_observations": np.asarray(t.next_obs, np.float32),
        "episode_starts": np.asarray(t.episode_start).astype(bool),
    }


def episode_bounds(t: Transitions) -> np.ndarray:
    """``(E, 2)`` array of ``[start, stop)`` indices of the episodes in ``t`` (in order)."""
    starts = np.flatnonzero(np.asarray(t.episode_start) > 0)
    if starts.size == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    stops = np.concatenate([starts[1:], [len(t.reward)]])
    return np.stack([starts, stops], axis=1)


def episode_returns(t: Transitions) -> np.ndarray:
    """``(E,)`` undiscounted return of each episode (sum of rewards)."""
    b = episode_bounds(t)
    csum = np.concatenate([[0.0], np.cumsum(np.asarray(t.reward, np.float64))])
    return csum[b[:, 1]] - csum[b[:, 0]]


def select_episodes(t: Transitions, episodes) -> Transitions:
    """The transitions of the given episode indices (in the given order)."""
    b = episode_bounds(t)
    idx = np.concatenate([np.arange(*b[e]) for e in np.atleast_1d(episodes)])
    return Transitions(*(np.asarray(x)[idx] for x in t))


def top_fraction_episodes(t: Transitions, fraction: float) -> Transitions:
    """The best ``fraction`` of episodes by return (at least one): the data of %BC
    (Chen et al. 2021, "Decision Transformer", 10 %BC)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rets = episode_returns(t)
    k = max(1, int(round(fraction * rets.size)))
    return select_episodes(t, np.sort(np.argsort(-rets, kind="stable")[:k]))


def scale_rewards_locomotion(t: Transitions) -> Transitions:
    """Rewards × 1000 / (max − min episode return): IQL's locomotion convention."""
    rets = episode_returns(t)
    span = float(rets.max() - rets.min())
    if span <= 0:
        raise ValueError("cannot scale rewards: all episodes have the same return")
    return t._replace(reward=(np.asarray(t.reward) * (1000.0 / span)).astype(np.float32))


def shift_rewards(t: Transitions, shift: float = -1.0) -> Transitions:
    """Rewards + ``shift``: IQL's AntMaze/maze convention is r − 1."""
    return t._replace(reward=(np.asarray(t.reward) + shift).astype(np.float32))


def normalized_score(ret, random_return: float, expert_return: float):
    """D4RL normalised score ``100 · (R − R_random) / (R_expert − R_random)``."""
    if expert_return == random_return:
        raise ValueError("expert_return must differ from random_return")
    return 100.0 * (np.asarray(ret, dtype=np.float64) - random_return) / (expert_return - random_return)
