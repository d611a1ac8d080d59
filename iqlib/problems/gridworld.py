"""A tabular GridWorld with five actions and a state-only reward.

This is the setting of the GridWorld experiments of IQ-Learn (Garg, Chakraborty, Cundy,
Song, Ermon, "IQ-Learn: Inverse soft-Q Learning for Imitation", NeurIPS 2021; poster
Fig. 4, true vs recovered reward heatmaps): an agent on a `size × size` grid, random
starting cells, and a reward that depends on the cell only.

    states   s = row * size + col,  row 0 at the top,  S = size²
    actions  a ∈ {0: up, 1: down, 2: left, 3: right, 4: stay},  A = 5
    moves    a move that would leave the grid leaves the agent in place (walls)
    slip     with probability `slip` the intended action is replaced by one of the five
             actions drawn uniformly (possibly the intended one), so

             P[s, a, s'] = (1 − slip) · 1{s' = f(s, a)} + (slip / 5) · Σ_b 1{s' = f(s, b)}

             where f(s, a) is the deterministic successor cell.
    reward   r(s, a) = R(s) for every action a.

The MDP is infinite-horizon and discounted (γ), with entropy temperature α (see
`iqlib.tabular.mdp.TabularMDP`).
"""

from __future__ import annotations

import numpy as np

from iqlib.tabular.mdp import TabularMDP

__all__ = [
    "ACTIONS",
    "MOVES",
    "make_gridworld",
    "default_reward_map",
    "transition_tensor",
    "to_grid",
    "state_index",
]

ACTIONS = ("up", "down", "left", "right", "stay")
"""Action names; the index in this tuple is the action index a."""

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))
"""(d_row, d_col) of each action, in the order of `ACTIONS` (row 0 is the top row)."""

STEP_COST = -0.05
"""Reward of an ordinary cell in `default_reward_map` (a small per-step cost)."""


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    return int(size)


def state_index(row: int, col: int, size: int) -> int:
    """The state index s = row * size + col of cell (row, col); row 0 is the top row.

    Raises:
      ValueError: if size < 2, row or col is not an integer (floats are not truncated), or
        (row, col) is outside the grid.
    """
    size = _check_size(size)
    for name, v in (("row", row), ("col", col)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {v!r} ({type(v).__name__})")
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"(row, col) = ({row}, {col}) is outside a {size}x{size} grid")
    return int(row) * size + int(col)


def to_grid(values) -> np.ndarray:
    """Reshape per-state values `(..., S)` to `(..., size, size)`, with S = size².

    Row i of the result is grid row i (row 0 at the top), so `plt.imshow(to_grid(v))`
    draws the grid as the agent sees it.

    Raises:
      ValueError: if the last axis length S is not a perfect square ≥ 4.
    """
    values = np.asarray(values)
    if values.ndim == 0:
        raise ValueError("values must have a last axis of length S = size**2, got a scalar")
    S = values.shape[-1]
    size = int(round(np.sqrt(S)))
    if size * size != S or size < 2:
        raise ValueError(f"values' last axis must have length size**2 with size >= 2, got {S}")
    return values.reshape(values.shape[:-1] + (size, size))


def _successors(size: int) -> np.ndarray:
    """f: (S, 5) int array, the deterministic successor f(s, a) of each (s, a)."""
    rows, cols = np.divmod(np.arange(size * size), size)
    nxt = np.empty((size * size, len(ACTIONS)), dtype=np.int64)
    for a, (dr, dc) in enumerate(MOVES):
        r2, c2 = rows + dr, cols + dc
        inside = (r2 >= 0) & (r2 < size) & (c2 >= 0) & (c2 < size)
        nxt[:, a] = np.where(inside, r2 * size + c2, rows * size + cols)
    return nxt


def transition_tensor(size: int, slip: float = 0.0) -> np.ndarray:
    """Transition probabilities of the GridWorld.

    Args:
      size: grid side length (≥ 2); S = size².
      slip: probability in [0, 1) that the intended action is replaced by one of the
        five actions drawn uniformly at random.

    Returns:
      P: (S, 5, S) float64 NumPy array, P[s, a, s'] (formula in the module docstring);
        every row P[s, a, :] sums to 1.

    Raises:
      ValueError: naming `size` or `slip` if out of range.
    """
    size = _check_size(size)
    slip = float(slip)
    if not (0.0 <= slip < 1.0):
        raise ValueError(f"slip must satisfy 0 <= slip < 1, got {slip}")
    S, A = size * size, len(ACTIONS)
    nxt = _successors(size)
    onehot = np.zeros((S, A, S))
    onehot[np.arange(S)[:, None], np.arange(A)[None, :], nxt] = 1.0
    uniform = onehot.mean(axis=1, keepdims=True)  # (S, 1, S): successor of a random action
    return (1.0 - slip) * onehot + slip * uniform


def default_reward_map(size: int) -> np.ndarray:
    """A deterministic, structured state reward R for a `size × size` grid.

    Construction (all in reward units):
      1. every cell gets the step cost −0.05;
      2. a Gaussian "hill" of cost centred at the grid centre c = ((size−1)/2, (size−1)/2)
         with width σ = size/5 is added: R −= 0.95 · exp(−‖(row, col) − c‖² / (2σ²)),
         so the centre cell is ≈ −1 and the penalty fades smoothly towards the edges;
      3. the goal, the bottom-right cell (size−1, size−1), is set to +1.
    Values lie in [−1, 1]. A shortest path from the top-left corner through the centre
    pays the hill, so the optimal policy bends around it along the edges.

    Returns:
      R: (size, size) float64 array, R[row, col].

    Raises:
      ValueError: if size < 2.
    """
    size = _check_size(size)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    centre = (size - 1) / 2.0
    sigma = size / 5.0
    d2 = (rows - centre) ** 2 + (cols - centre) ** 2
    R = STEP_COST - 0.95 * np.exp(-d2 / (2.0 * sigma**2))
    R[size - 1, size - 1] = 1.0
    return R


def make_gridworld(
    size: int,
    reward_map=None,
    slip: float = 0.0,
    discount: float = 0.9,
    entropy_temperature: float = 0.1,
    start="uniform",
) -> TabularMDP:
    """Build the GridWorld as a `TabularMDP` with a state-only reward.

    Args:
      size: grid side length (≥ 2); S = size², A = 5 (`ACTIONS`).
      reward_map: state reward R, shape (size, size) or (S,), reward units; r(s, a) = R(s)
        for every action. None uses `default_reward_map(size)`.
      slip: probability in [0, 1) that the intended move is replaced by a uniform action.
      discount: γ in [0, 1).
      entropy_temperature: α > 0 (reward units).
      start: "uniform" for p0 uniform over all S cells (random starts), or an int state
        index s0 for p0 = one-hot at s0.

    Returns:
      A `TabularMDP` with P: (S, 5, S), r: (S, 5), p0: (S,).

    Raises:
      ValueError: naming `size`, `slip`, `reward_map` or `start` if invalid (and `discount`
        or `entropy_temperature` via `TabularMDP`).
    """
    size = _check_size(size)
    S = size * size
    P = transition_tensor(size, slip)
    R = default_reward_map(size) if reward_map is None else np.asarray(reward_map, dtype=np.float64)
    if R.shape not in ((size, size), (S,)):
        raise ValueError(f"reward_map must have shape ({size}, {size}) or ({S},), got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError("reward_map has non-finite entries")
    r = np.repeat(R.reshape(S, 1), len(ACTIONS), axis=1)
    if isinstance(start, str):
        if start != "uniform":
            raise ValueError(f"start must be 'uniform' or an int state index, got {start!r}")
        p0 = np.full(S, 1.0 / S)
    elif isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        if not (0 <= start < S):
            raise ValueError(f"start must be a state index in [0, {S}), got {start}")
        p0 = np.zeros(S)
        p0[int(start)] = 1.0
    else:
        raise ValueError(f"start must be 'uniform' or an int state index, got {start!r}")
    return TabularMDP(P=P, r=r, p0=p0, discount=discount, entropy_temperature=entropy_temperature)
