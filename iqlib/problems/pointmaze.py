"""PointMaze: grid planner, waypoint PD controller, and the fixed-goal evaluation task.

The task of D4RL's maze2d (Fu et al. 2020, "D4RL", §5 and App. C) on gymnasium-robotics'
``PointMaze_Medium-v3`` (same map, same MuJoCo point mass: force-actuated ball,
dt = 0.01 s, |v| clipped to 5). A cell ``(i, j)`` (row, column) of the map has centre

    x = (j + ½)·s − W·s/2,    y = H·s/2 − (i + ½)·s          (s = 1, H × W map)

Controller (D4RL's waypoint controller, re-derived): breadth-first search on the grid gives
the shortest cell path to the goal cell; the waypoint is the centre of the next cell on that
path (the goal point itself once in the goal cell), and a PD law steers to it:

    a = clip(k_p (w − p) − k_d v, −1, 1),    k_p = 10, k_d = 1        (p = (x, y), v = (vx, vy))

Evaluation task ``iqlib/PointMazeMedium-v0``: obs (x, y, vx, vy) float32, actions in [−1, 1]²,
fixed goal at the centre of cell (6, 6) (D4RL maze2d-medium's ``eval_target``), sparse reward

    r_t = 1[‖p_{t+1} − g‖ ≤ 0.5]                                      (D4RL maze2d sparse)

computed on the position after the step. Never terminates (continuing task: the agent
collects reward for every step it stays within 0.5 of g); truncated after 600 steps by
TimeLimit (D4RL maze2d-medium). Start: a uniformly random free cell other than the goal cell
(D4RL also allowed the goal cell), plus uniform ±0.25 position noise (gymnasium-robotics).
``iqlib/PointMazeUMaze-v0`` is the same on the U-maze (goal cell (1, 1), 300 steps).
"""

from __future__ import annotations

import collections

import gymnasium as gym
import numpy as np

__all__ = ["MEDIUM_MAP", "UMAZE_MAP", "MAZES", "GOAL_RADIUS", "KP", "KD", "free_cells", "cell_to_xy",
           "xy_to_cell", "locate_cell", "bfs_distances", "shortest_path", "next_cell", "plan_waypoint",
           "waypoint_action", "controller_action", "PointMazeEval"]

#: gymnasium-robotics ``maps.MEDIUM_MAZE`` (1 = wall, 0 = free), rows i top to bottom.
MEDIUM_MAP = np.array([[1, 1, 1, 1, 1, 1, 1, 1],
                       [1, 0, 0, 1, 1, 0, 0, 1],
                       [1, 0, 0, 1, 0, 0, 0, 1],
                       [1, 1, 0, 0, 0, 1, 1, 1],
                       [1, 0, 0, 1, 0, 0, 0, 1],
                       [1, 0, 1, 0, 0, 1, 0, 1],
                       [1, 0, 0, 0, 1, 0, 0, 1],
                       [1, 1, 1, 1, 1, 1, 1, 1]], dtype=np.int8)
#: gymnasium-robotics ``maps.U_MAZE``.
UMAZE_MAP = np.array([[1, 1, 1, 1, 1],
                      [1, 0, 0, 0, 1],
                      [1, 1, 1, 0, 1],
                      [1, 0, 0, 0, 1],
                      [1, 1, 1, 1, 1]], dtype=np.int8)
#: name → (map, inner gymnasium-robotics id, evaluation goal cell, max episode steps); goals
#: and limits are D4RL maze2d-{medium, umaze}'s.
MAZES = {"medium": (MEDIUM_MAP, "PointMaze_Medium-v3", (6, 6), 600),
         "umaze": (UMAZE_MAP, "PointMaze_UMaze-v3", (1, 1), 300)}
GOAL_RADIUS = 0.5  #: sparse-reward radius (D4RL maze2d; gymnasium-robotics uses 0.45)
KP, KD = 10.0, 1.0  #: PD gains of D4RL's waypoint controller


def _check_map(maze_map) -> np.ndarray:
    m = np.asarray(maze_map)
    if m.ndim != 2 or not np.isin(m, (0, 1)).all():
        raise ValueError(f"maze_map must be a 2-D grid of 0 (free) / 1 (wall), got shape {m.shape}")
    return m


def free_cells(maze_map) -> np.ndarray:
    """``(C, 2)`` int array of the free cells ``(i, j)`` in row-major order."""
    return np.argwhere(_check_map(maze_map) == 0)


def cell_to_xy(cell, maze_map, scale: float = 1.0) -> np.ndarray:
    """Centre ``(..., 2)`` (x, y) of cells ``(..., 2)`` (i, j); gymnasium-robotics' convention."""
    h, w = _check_map(maze_map).shape
    c = np.asarray(cell, dtype=np.float64)
    return np.stack([(c[..., 1] + 0.5) * scale - w * scale / 2, h * scale / 2 - (c[..., 0] + 0.5) * scale], -1)


def xy_to_cell(xy, maze_map, scale: float = 1.0) -> np.ndarray:
    """Cell ``(..., 2)`` int (i, j) containing the points ``xy: (..., 2)``."""
    h, w = _check_map(maze_map).shape
    p = np.asarray(xy, dtype=np.float64)
    return np.stack([np.floor((h * scale / 2 - p[..., 1]) / scale), np.floor((p[..., 0] + w * scale / 2) / scale)],
                    -1).astype(np.int64)


def bfs_distances(maze_map, goal_cell) -> np.ndarray:
    """``(H, W)`` int grid of shortest-path lengths (4-neighbour moves) to ``goal_cell``;
    −1 on walls and cells that cannot reach it.

    Raises:
      ValueError: if ``goal_cell`` is outside the map or a wall.
    """
    m = _check_map(maze_map)
    g = tuple(int(v) for v in goal_cell)
    if not (0 <= g[0] < m.shape[0] and 0 <= g[1] < m.shape[1]) or m[g] != 0:
        raise ValueError(f"goal_cell {g} must be a free cell of the {m.shape} map")
    dist = -np.ones(m.shape, dtype=np.int64)
    dist[g] = 0
    queue = collections.deque([g])
    while queue:
        i, j = queue.popleft()
        for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            a, b = i + di, j + dj
            if 0 <= a < m.shape[0] and 0 <= b < m.shape[1] and m[a, b] == 0 and dist[a, b] < 0:
                dist[a, b] = dist[i, j] + 1
                queue.append((a, b))
    return dist


def next_cell(dist: np.ndarray, cell) -> tuple[int, int]:
    """The neighbour of ``cell`` one step closer to the goal of ``dist`` (:func:`bfs_distances`);
    ``cell`` itself at the goal. Ties go to the first of up, down, left, right.

    Raises:
      ValueError: if ``cell`` is a wall or cannot reach the goal.
    """
    i, j = int(cell[0]), int(cell[1])
    if not (0 <= i < dist.shape[0] and 0 <= j < dist.shape[1]) or dist[i, j] < 0:
        raise ValueError(f"cell {(i, j)} is a wall, outside the map, or cannot reach the goal")
    if dist[i, j] == 0:
        return i, j
    for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        a, b = i + di, j + dj
        if 0 <= a < dist.shape[0] and 0 <= b < dist.shape[1] and dist[a, b] == dist[i, j] - 1:
            return a, b
    raise AssertionError("unreachable: BFS distances always have a predecessor")


def shortest_path(maze_map, start_cell, goal_cell) -> list[tuple[int, int]]:
    """Shortest cell path ``[start, …, goal]`` by BFS (each step to a 4-neighbouring free cell).

    Raises:
      ValueError: if either cell is a wall/outside the map or the goal is unreachable.
    """
    dist = bfs_distances(maze_map, goal_cell)
    path = [tuple(int(v) for v in start_cell)]
    next_cell(dist, path[0])  # validates the start
    while dist[path[-1]] > 0:
        path.append(next_cell(dist, path[-1]))
    return path


def locate_cell(maze_map, xy) -> tuple[int, int]:
    """The free cell ``(i, j)`` containing the point ``xy: (2,)``, or the nearest free cell
    (by centre distance) if ``xy`` lies in a wall or outside the map."""
    m = _check_map(maze_map)
    i, j = (int(v) for v in xy_to_cell(xy, m))
    if 0 <= i < m.shape[0] and 0 <= j < m.shape[1] and m[i, j] == 0:
        return i, j
    cells = free_cells(m)  # a contact can put the centre a hair inside a wall cell: snap back
    best = cells[np.argmin(np.linalg.norm(cell_to_xy(cells, m) - np.asarray(xy)[:2], axis=-1))]
    return int(best[0]), int(best[1])


def plan_waypoint(maze_map, xy, goal_xy, dist: np.ndarray | None = None) -> np.ndarray:
    """Waypoint ``(2,)`` for a point at ``xy: (2,)`` heading to ``goal_xy: (2,)``: the centre of
    the next cell on the shortest grid path, or ``goal_xy`` once in the goal's cell.
    ``dist`` (:func:`bfs_distances` to the goal's cell) may be passed to skip the BFS."""
    goal_cell = xy_to_cell(goal_xy, maze_map)
    dist = bfs_distances(maze_map, goal_cell) if dist is None else dist
    cell = locate_cell(maze_map, xy)
    if dist[cell] == 0:
        return np.asarray(goal_xy, dtype=np.float64)
    return cell_to_xy(next_cell(dist, cell), maze_map)


def waypoint_action(obs, waypoint, kp: float = KP, kd: float = KD) -> np.ndarray:
    """PD action ``clip(kp·(waypoint − p) − kd·v, −1, 1)``.

    Args:
      obs: ``(..., 4)`` (x, y, vx, vy); position in maze units, velocity in units/s.
      waypoint: ``(..., 2)`` target (x, y).
    Returns:
      ``(..., 2)`` float32 action in [−1, 1]² (D4RL's waypoint controller law).
    """
    o = np.asarray(obs, dtype=np.float64)
    if o.shape[-1] != 4:
        raise ValueError(f"obs must end in (x, y, vx, vy) of size 4, got shape {o.shape}")
    a = kp * (np.asarray(waypoint, dtype=np.float64) - o[..., :2]) - kd * o[..., 2:4]
    return np.clip(a, -1.0, 1.0).astype(np.float32)


def controller_action(maze_map, obs, goal_xy, dist: np.ndarray | None = None) -> np.ndarray:
    """Planner + PD: ``waypoint_action(obs, plan_waypoint(maze_map, obs[:2], goal_xy))``;
    ``obs: (4,)`` → ``(2,)``."""
    return waypoint_action(obs, plan_waypoint(maze_map, np.asarray(obs)[:2], goal_xy, dist))


class PointMazeEval(gym.Env):
    """Fixed-goal, sparse-reward PointMaze (see the module header); wraps the unwrapped
    gymnasium-robotics env, whose own goal and reward are ignored.

    ``reset(seed=s)`` draws the start cell from this env's ``np_random`` (seeded by s) and
    reseeds the inner env from it, so equal seeds give equal starts. ``info`` carries
    ``distance`` (to the goal) and ``success`` (distance ≤ 0.5). ``start_cell`` fixes the start
    cell (D4RL's fixed-start option); None draws it at random.
    """

    metadata = {"render_modes": []}

    def __init__(self, maze: str = "medium", goal_cell=None, start_cell=None):
        if maze not in MAZES:
            raise ValueError(f"maze must be one of {list(MAZES)}, got {maze!r}")
        import gymnasium_robotics  # heavy (MuJoCo): imported only when a maze env is built
        gym.register_envs(gymnasium_robotics)
        self.maze_map, self.inner_id, default_goal, _ = MAZES[maze]
        self.goal_cell = tuple(default_goal if goal_cell is None else (int(goal_cell[0]), int(goal_cell[1])))
        self.dist = bfs_distances(self.maze_map, self.goal_cell)  # validates goal_cell
        self.goal_xy = cell_to_xy(self.goal_cell, self.maze_map)
        cells = [tuple(c) for c in free_cells(self.maze_map) if tuple(c) != self.goal_cell]
        if start_cell is not None:
            cells = [tuple(int(v) for v in start_cell)]
            if self.dist[cells[0]] <= 0:
                raise ValueError(f"start_cell {cells[0]} must be a free cell other than the goal {self.goal_cell}")
        self.start_cells = np.array(cells)
        self._inner = gym.make(self.inner_id, continuing_task=True, reset_target=False).unwrapped
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def _out(self, o: dict) -> tuple[np.ndarray, float]:
        d = float(np.linalg.norm(o["achieved_goal"] - self.goal_xy))
        return o["observation"].astype(np.float32), d

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        start = self.start_cells[self.np_random.integers(len(self.start_cells))]
        o, _ = self._inner.reset(seed=int(self.np_random.integers(2**31 - 1)),
                                 options={"goal_cell": np.array(self.goal_cell), "reset_cell": start})
        obs, d = self._out(o)
        return obs, {"start_cell": tuple(int(v) for v in start), "distance": d, "success": d <= GOAL_RADIUS}

    def step(self, action):
        o, _, _, _, _ = self._inner.step(np.asarray(action, dtype=np.float64).reshape(2))
        obs, d = self._out(o)
        return obs, float(d <= GOAL_RADIUS), False, False, {"distance": d, "success": d <= GOAL_RADIUS}

    def close(self):
        self._inner.close()

