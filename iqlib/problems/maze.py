"""A deterministic tabular maze from a text layout, scripted datasets in it, and exact success rates.

Layout: a list of equal-length strings, one per grid row (row 0 at the top). '#' is a wall;
every other character is a free cell, and a letter labels a region ('S' start, 'G' goal, any
other letter a named region such as 'M' midpoint or 'D' dead end; '.' is unlabelled).

    states   the free cells, numbered row by row; S = number of free cells
    actions  the five GridWorld actions of `iqlib.problems.gridworld.ACTIONS` (up, down, left, right, stay)
    moves    deterministic; a move into a wall or off the grid leaves the agent in place
    reward   D4RL AntMaze convention after IQL's shift r − 1 (IQL code: `rewards -= 1` for
             AntMaze): a transition into a goal cell has reward 0 and ends the episode
             (terminal); every other transition has reward −1. The optimal value of a cell
             d moves from the goal is therefore V*(s) = −(1 − γ^(d−1)) / (1 − γ).

Datasets are scripted, as in D4RL: an episode starts in one region and follows a noisy
shortest-path policy towards a target region (with probability ε a uniformly random action),
then *stays* there until the data horizon (timeout), unless the target is the goal, where it
ends (terminal). `success_probability` evaluates a policy exactly by dynamic programming on
the known deterministic moves: the probability of entering the goal within H steps.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.problems.gridworld import ACTIONS, MOVES
from iqlib.tabular.checks import check_indices

__all__ = ["Maze", "parse_maze", "distances_to", "navigation_policy", "generate_episodes", "optimal_values",
           "success_probability", "policy_values",
           "STITCHING_LAYOUT", "STITCHING_MIX", "stitching_dataset", "WALK_AWAY_LAYOUT", "WALK_AWAY_MIX"]

STAY = ACTIONS.index("stay")


@dataclasses.dataclass(frozen=True, eq=False)
class Maze:
    """A parsed maze layout (see the module docstring).

    Attributes:
      layout: tuple of row strings.
      state_of: (H, W) int array, state index of each cell, −1 for walls.
      cells: (S, 2) int array, (row, col) of each state.
      next_state: (S, 5) int array, deterministic successor f(s, a).
      regions: {letter: (S,) bool mask} for every letter in the layout.
    """

    layout: tuple
    state_of: np.ndarray
    cells: np.ndarray
    next_state: np.ndarray
    regions: dict

    @property
    def n_states(self) -> int:
        return self.cells.shape[0]

    @property
    def n_actions(self) -> int:
        return len(ACTIONS)

    def region(self, letter: str) -> np.ndarray:
        """(k,) int state indices of the cells labelled `letter`; ValueError if there are none."""
        if letter not in self.regions:
            raise ValueError(f"the layout has no region {letter!r}; regions: {sorted(self.regions)}")
        return np.flatnonzero(self.regions[letter])

    def to_image(self, values) -> np.ndarray:
        """Per-state values (S,) -> (H, W) float image, NaN on walls (for `imshow`)."""
        values = np.asarray(values, dtype=float)
        if values.shape != (self.n_states,):
            raise ValueError(f"values must have shape ({self.n_states},), got {values.shape}")
        image = np.full(self.state_of.shape, np.nan)
        image[self.cells[:, 0], self.cells[:, 1]] = values
        return image

    def transition_tensor(self) -> np.ndarray:
        """P: (S, 5, S) one-hot transition tensor of the deterministic moves."""
        P = np.zeros((self.n_states, self.n_actions, self.n_states))
        P[np.arange(self.n_states)[:, None], np.arange(self.n_actions)[None, :], self.next_state] = 1.0
        return P


def parse_maze(layout) -> Maze:
    """Parse a text layout into a `Maze`.

    Raises:
      ValueError: if rows differ in length, there is no free cell, or there is no 'S' or no 'G'.
    """
    layout = tuple(layout)
    if not layout or len({len(row) for row in layout}) != 1:
        raise ValueError("layout must be a non-empty list of equal-length strings")
    grid = np.array([list(row) for row in layout])
    free = grid != "#"
    if not free.any():
        raise ValueError("layout has no free cell")
    state_of = np.full(grid.shape, -1, dtype=np.int64)
    cells = np.argwhere(free)
    state_of[cells[:, 0], cells[:, 1]] = np.arange(len(cells))
    H, W = grid.shape
    nxt = np.empty((len(cells), len(ACTIONS)), dtype=np.int64)
    for a, (dr, dc) in enumerate(MOVES):
        r2, c2 = cells[:, 0] + dr, cells[:, 1] + dc
        ok = (r2 >= 0) & (r2 < H) & (c2 >= 0) & (c2 < W)
        target = np.where(ok, state_of[np.clip(r2, 0, H - 1), np.clip(c2, 0, W - 1)], -1)
        nxt[:, a] = np.where(target >= 0, target, np.arange(len(cells)))
    labels = grid[cells[:, 0], cells[:, 1]]
    regions = {ch: labels == ch for ch in sorted(set(labels)) if ch.isalpha()}
    for needed in ("S", "G"):
        if needed not in regions:
            raise ValueError(f"layout must contain a region {needed!r}")
    return Maze(layout, state_of, cells, nxt, regions)


def distances_to(maze: Maze, targets) -> np.ndarray:
    """(S,) shortest-path number of moves from each state to the nearest target (BFS); inf if unreachable."""
    targets = check_indices(np.atleast_1d(targets), maze.n_states, "targets")  # ValueError: floats, out of range
    if targets.size == 0:
        raise ValueError("targets must name at least one state")
    dist = np.full(maze.n_states, np.inf)
    queue = deque()
    for t in targets:
        dist[t] = 0
        queue.append(int(t))
    pred = [[] for _ in range(maze.n_states)]  # reverse edges
    for s in range(maze.n_states):
        for s2 in set(maze.next_state[s].tolist()) - {s}:
            pred[s2].append(s)
    while queue:
        s = queue.popleft()
        for p in pred[s]:
            if dist[p] == np.inf:
                dist[p] = dist[s] + 1
                queue.append(p)
    return dist


def navigation_policy(maze: Maze, targets, epsilon: float) -> np.ndarray:
    """(S, 5) noisy shortest-path policy towards `targets`, staying once there.

    Outside the targets: (1 − ε) uniform over the moves that reduce the distance, plus ε
    uniform over all five actions. On a target cell: "stay" with probability 1.
    """
    if not (0.0 <= epsilon <= 1.0):
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    dist = distances_to(maze, targets)
    better = dist[maze.next_state] < dist[:, None]  # (S, 5)
    greedy = better / np.maximum(better.sum(1, keepdims=True), 1)
    pi = (1 - epsilon) * greedy + epsilon / maze.n_actions
    at_target = dist == 0
    pi[at_target] = np.eye(maze.n_actions)[STAY]
    stuck = ~at_target & (better.sum(1) == 0)  # cannot reach the targets: random moves
    pi[stuck] = 1.0 / maze.n_actions
    return pi


def generate_episodes(rng: np.random.Generator, maze: Maze, starts, targets, n_episodes: int, horizon: int,
                      epsilon: float, first_episode_id: int = 0) -> dict:
    """Scripted episodes: start uniformly in `starts`, follow `navigation_policy(targets, ε)`.

    An episode ends with `terminal` when it enters a goal cell ('G'), else with `timeout` after
    `horizon` steps. Rewards follow the module docstring (0 into the goal, −1 otherwise).

    Returns:
      A transitions dict (`iqlib.core.transitions`: obs, action, reward, next_obs, terminal, timeout,
      episode_id), NumPy arrays, episode-major.

    Raises: ValueError naming `starts` / `targets` (not integer states in range) or `n_episodes` / `horizon`.
    """
    pi = navigation_policy(maze, targets, epsilon)
    goal = maze.regions["G"]
    starts = check_indices(np.atleast_1d(starts), maze.n_states, "starts")
    for name, v in (("n_episodes", n_episodes), ("horizon", horizon), ("starts size", starts.size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    rows = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminal", "timeout", "episode_id")}
    for e in range(n_episodes):
        s = int(rng.choice(starts))
        for t in range(horizon):
            a = int(rng.choice(maze.n_actions, p=pi[s]))
            s2 = int(maze.next_state[s, a])
            done = bool(goal[s2])
            for k, v in zip(rows, (s, a, 0.0 if done else -1.0, s2, done, (t == horizon - 1) and not done,
                                   first_episode_id + e)):
                rows[k].append(v)
            s = s2
            if done:
                break
    dtypes = {"obs": np.int32, "action": np.int32, "reward": np.float32, "next_obs": np.int32,
              "terminal": bool, "timeout": bool, "episode_id": np.int32}
    return {k: np.asarray(v, dtype=dtypes[k]) for k, v in rows.items()}


def optimal_values(maze: Maze, discount: float) -> np.ndarray:
    """(S,) optimal value V*(s) = −(1 − γ^(d−1))/(1 − γ) with d the distance to the goal (module
    docstring) and γ = discount; 0 on goal cells, −1/(1 − γ) where the goal is unreachable."""
    gamma = float(discount)
    d = distances_to(maze, maze.region("G"))
    with np.errstate(invalid="ignore"):
        v = np.where(np.isfinite(d), -(1 - gamma ** np.maximum(d - 1, 0)) / (1 - gamma), -1 / (1 - gamma))
    return np.where(d == 0, 0.0, v)


def success_probability(policy, next_state, goal_mask, horizon: int):
    """Exact probability of entering a goal cell within `horizon` steps, from every state.

    p_0(s) = 1{s ∈ goal};  p_{t+1}(s) = 1 if s ∈ goal else Σ_a π(a|s) p_t(f(s, a)).

    Args:
      policy: (S, A) action probabilities π(a|s).
      next_state: (S, A) int deterministic successors f(s, a).
      goal_mask: (S,) bool.
      horizon: H ≥ 0 steps.

    Returns:
      (S,) p_H(s) in [0, 1] (1 on goal cells).
    """
    policy, next_state = jnp.asarray(policy), jnp.asarray(next_state)
    goal = jnp.asarray(goal_mask, dtype=policy.dtype)
    if policy.shape != next_state.shape or goal.shape != policy.shape[:1]:
        raise ValueError(f"policy {policy.shape}, next_state {next_state.shape} and goal_mask {goal.shape} disagree")

    def step(_, p):
        return jnp.clip(jnp.maximum(goal, jnp.sum(policy * p[next_state], axis=1)), 0.0, 1.0)

    return jax.lax.fori_loop(0, int(horizon), step, goal)


def policy_values(policy, maze: Maze, discount: float):
    """(S,) exact discounted value V^π of a policy in the maze (rewards of the module docstring), γ = discount.

    V^π = (I − γ P_π)⁻¹ r_π with r_π(s) = Σ_a π(a|s) r(s, a), r(s, a) = 0 if f(s, a) is a goal
    cell else −1, and goal cells absorbing with value 0 (the episode has ended there).
    Between −1/(1 − γ) (never reaching the goal) and `optimal_values`.
    """
    policy = jnp.asarray(policy)
    if policy.shape != (maze.n_states, maze.n_actions):
        raise ValueError(f"policy must have shape ({maze.n_states}, {maze.n_actions}), got {policy.shape}")
    goal = jnp.asarray(maze.regions["G"])
    nxt = jnp.asarray(maze.next_state)
    r = jnp.where(goal[nxt], 0.0, -1.0)  # (S, A)
    alive = (~goal).astype(policy.dtype)  # no reward, no continuation after the goal
    P_pi = jnp.zeros((maze.n_states, maze.n_states), policy.dtype).at[
        jnp.arange(maze.n_states)[:, None], nxt].add(policy) * alive[:, None]
    r_pi = jnp.sum(policy * r, axis=1) * alive
    return jnp.linalg.solve(jnp.eye(maze.n_states, dtype=policy.dtype) - discount * P_pi, r_pi)


STITCHING_LAYOUT = (
    "###########",
    "#SS...#EEE#",
    "#SS..R#...#",
    "#.....#...#",
    "###.#####.#",
    "#..MMM....#",
    "#.#######.#",
    "#DD#GG....#",
    "###########",
)
"""A start room (S, with a corner R) whose exit leads down to a corridor with a midpoint M; from the
corridor a pocket D (left), a room E (up, right) and the goal G (down, right, then left)."""

STITCHING_MIX = (("S", "M", 0.30), ("S", "R", 0.20), ("M", "G", 0.15), ("M", "D", 0.175), ("M", "E", 0.175))
"""(start region, target region, fraction of episodes): start→midpoint and start→corner episodes
never leave the start side; midpoint→goal episodes start at M, not in the start room; the rest
go from M to the dead ends D and E. No episode both starts in S and reaches G."""

WALK_AWAY_LAYOUT = STITCHING_LAYOUT[:5] + ("#..MMMCCCC#", "#.#######C#", "#DD#GGCCCC#", STITCHING_LAYOUT[-1])
"""`STITCHING_LAYOUT` (the same cells and moves) with its goal branch labelled C: the corridor from
the right end of M round to the cell beside the goal."""

WALK_AWAY_MIX = (("S", "M", 0.30), ("S", "R", 0.10), ("M", "G", 0.05), ("C", "D", 0.55))
"""Data whose behaviour walks away from the goal: most episodes start on the goal branch C and walk
back past M to the pocket D; only 5 % go from M to G. No episode both starts in S and reaches G."""


def stitching_dataset(rng: np.random.Generator, maze: Maze, n_trajectories: int, horizon: int, epsilon: float,
                      mix=STITCHING_MIX) -> dict:
    """The stitching dataset: `generate_episodes` for each (start, target, fraction) of `mix`.

    Each kind gets round(fraction · n_trajectories) episodes (at least one). Returns one
    transitions dict (episode ids are consecutive across kinds) with an extra key `kind`
    (N,) int, the index of the episode's entry in `mix`.
    """
    if n_trajectories < len(mix):
        raise ValueError(f"n_trajectories must be >= {len(mix)} (one episode per kind), got {n_trajectories}")
    parts, first = [], 0
    for kind, (start, target, frac) in enumerate(mix):
        k = max(1, int(round(frac * n_trajectories)))
        part = generate_episodes(rng, maze, maze.region(start), maze.region(target), k, horizon, epsilon, first)
        part["kind"] = np.full(part["obs"].shape, kind, dtype=np.int32)
        parts.append(part)
        first += k
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
