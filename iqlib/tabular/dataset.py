"""Empirical tables of a tabular transitions dataset: counts, mean rewards, continuation kernel, returns.

A dataset is a dict of (N,) arrays obs, action, reward, next_obs, terminal, timeout
(`iqlib.tabular.sampling` makes them; `episode_id` optional). On a table every regression
of offline RL is solved by these sufficient statistics:

    N(s, a)         number of transitions from (s, a)
    r̄(s, a)        their mean reward
    P̂[s, a, s']    #{(s, a) → s', not terminal} / N(s, a)   (rows sum to the non-terminal fraction)

`terminal` ends the bootstrap; a `timeout` is a truncation and still bootstraps.
`monte_carlo_returns` gives each transition's discounted return-to-go within its episode.
"""

from __future__ import annotations

import numpy as np

__all__ = ["REQUIRED_KEYS", "check_dataset", "dataset_tables", "monte_carlo_returns"]

REQUIRED_KEYS = ("obs", "action", "reward", "next_obs", "terminal", "timeout")


def check_dataset(dataset, n_states: int, n_actions: int) -> dict:
    """Validate a transitions dict and return NumPy copies of its required keys.

    Raises:
      ValueError: naming the problem — n_states / n_actions not positive integers, a missing
        key, a non-1-D array or lengths that differ, an empty dataset, a non-integer (a float
        index is refused, never truncated) or out-of-range obs / next_obs / action, a non-finite
        reward, a terminal / timeout that is not boolean (or 0/1), or a step marked both
        terminal and timeout.
    """
    for k, n in (("n_states", n_states), ("n_actions", n_actions)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{k} must be a positive integer, got {n!r}")
    if not isinstance(dataset, dict):
        raise ValueError(f"dataset must be a dict of arrays, got {type(dataset).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in dataset]
    if missing:
        raise ValueError(f"dataset is missing key(s) {missing}; required: {list(REQUIRED_KEYS)}")
    data = {k: np.asarray(dataset[k]) for k in REQUIRED_KEYS}
    lengths = {k: v.shape for k, v in data.items()}
    if any(v.ndim != 1 for v in data.values()) or len({v.shape for v in data.values()}) != 1:
        raise ValueError(f"dataset arrays must be 1-D of equal length (mismatched lengths): {lengths}")
    if data["obs"].size == 0:
        raise ValueError("dataset is empty")
    for k, hi in (("obs", n_states), ("next_obs", n_states), ("action", n_actions)):
        v = data[k]
        if not np.issubdtype(v.dtype, np.integer):
            raise ValueError(f"dataset[{k!r}] must hold integers, got dtype {v.dtype}")
        if v.min() < 0 or v.max() >= hi:
            raise ValueError(f"dataset[{k!r}] must lie in [0, {hi}), got range [{v.min()}, {v.max()}]")
    if not np.all(np.isfinite(data["reward"].astype(float))):
        raise ValueError("dataset['reward'] has NaN or infinite entries")
    for k in ("terminal", "timeout"):
        v = data[k]
        if v.dtype != bool and not np.all((v == 0) | (v == 1)):
            raise ValueError(f"dataset[{k!r}] must be boolean (or 0/1)")
        data[k] = v.astype(bool)
    both = data["terminal"] & data["timeout"]
    if np.any(both):
        raise ValueError(f"dataset['terminal'] and dataset['timeout'] are both set at step {int(np.argmax(both))}: "
                         "a step either ends the episode (terminal) or truncates it (timeout)")
    data["reward"] = data["reward"].astype(float)
    return data


def dataset_tables(dataset, n_states: int, n_actions: int):
    """Empirical tables of a validated dataset (see the module docstring).

    Returns:
      counts: (S, A) N(s, a);  r_bar: (S, A) mean reward (0 where N = 0);
      P_cont: (S, A, S) P̂[s, a, s'] = #{(s, a) → s', not terminal} / N(s, a) (rows sum to the
      non-terminal fraction; 0 where N = 0);  seen: (S,) bool, state has outgoing data.
    """
    d = check_dataset(dataset, n_states, n_actions)
    counts = np.zeros((n_states, n_actions))
    np.add.at(counts, (d["obs"], d["action"]), 1.0)
    r_sum = np.zeros((n_states, n_actions))
    np.add.at(r_sum, (d["obs"], d["action"]), d["reward"])
    P_cont = np.zeros((n_states, n_actions, n_states))
    np.add.at(P_cont, (d["obs"], d["action"], d["next_obs"]), (~d["terminal"]).astype(float))
    safe = np.maximum(counts, 1.0)
    return counts, r_sum / safe, P_cont / safe[..., None], counts.sum(1) > 0


def monte_carlo_returns(dataset, discount: float) -> np.ndarray:
    """(N,) discounted return-to-go of each transition within its own episode, no bootstrapping.

    G_i = r_i + γ G_{i+1} (γ = discount), restarted after a terminal, a timeout, or a change of `episode_id`
    (if present). Truncated episodes are *not* bootstrapped (a pure Monte-Carlo estimate).
    """
    r = np.asarray(dataset["reward"], dtype=float)
    end = np.asarray(dataset["terminal"], bool) | np.asarray(dataset["timeout"], bool)
    if "episode_id" in dataset:
        ids = np.asarray(dataset["episode_id"])
        end = end | np.r_[ids[1:] != ids[:-1], True]
    end[-1] = True
    G = np.empty_like(r)
    g = 0.0
    for i in range(len(r) - 1, -1, -1):
        g = r[i] + (0.0 if end[i] else discount * g)
        G[i] = g
    return G
