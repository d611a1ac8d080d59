"""Generate ``data/offline/pointmaze-medium-stitch.npz``: a D4RL-maze2d-style stitching dataset.

As D4RL's maze2d (Fu et al. 2020, §5): the waypoint controller of :mod:`iqlib.problems.pointmaze` (BFS on
the grid + PD, k_p = 10, k_d = 1) drives the point mass of gymnasium-robotics
``PointMaze_Medium-v3`` to a random free goal cell (goal point = cell centre + U(−0.1, 0.1)²),
with Gaussian action noise N(0, 0.5²) clipped to [−1, 1]; when the point is within ``--reach``
of the goal point (or after ``--max-segment`` steps) a new random goal cell (≠ the current one)
is drawn. The simulation is one continuous stream, never reset. Each controller segment is an
episode (timeout = 1 on its last step; terminals all 0, as maze2d).

Stitching: segments aimed at the evaluation goal cell (6, 6) are simulated but NOT logged
(D4RL logged them; ``--keep-goal-segments`` restores that), so no logged trajectory is aimed
at the evaluation goal. Rewards are relabelled for that goal, sparse as in D4RL:
``r = 1[‖next_obs[:2] − g‖ ≤ 0.5]`` computed from the stored float32 ``next_observations``
(raw on disk; IQL's maze convention r − 1 is applied at load time).

Reference returns (for normalised scores, measured in ``iqlib/PointMazeMedium-v0`` with
``iqlib.core.envs.evaluate``): uniform random actions, and the noiseless controller aimed at g.

Usage: ``.venv/bin/python scripts/make_maze_data.py --seed 0 --steps 200000``
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import time

import gymnasium as gym
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from iqlib.problems import pointmaze as pm  # noqa: E402
from iqlib.data.datasets import save_dataset  # noqa: E402
from iqlib.core.envs import evaluate  # noqa: E402

EVAL_ID = "iqlib/PointMazeMedium-v0"


def generate(seed: int, steps: int, noise: float, reach: float, max_segment: int, keep_goal_segments: bool):
    """Run the controller stream; return the D4RL arrays and per-segment records."""
    import gymnasium_robotics
    gym.register_envs(gymnasium_robotics)
    maze_map, inner_id, eval_cell, _ = pm.MAZES["medium"]
    g = pm.cell_to_xy(eval_cell, maze_map)
    rng = np.random.default_rng(seed)
    cells = [tuple(int(v) for v in c) for c in pm.free_cells(maze_map)]
    dists = {c: pm.bfs_distances(maze_map, c) for c in cells}
    env = gym.make(inner_id, continuing_task=True, reset_target=False).unwrapped
    start = cells[rng.integers(len(cells))]
    o, _ = env.reset(seed=seed, options={"goal_cell": np.array(start), "reset_cell": np.array(start)})
    obs = o["observation"].copy()
    keys = ("observations", "actions", "next_observations", "timeouts")
    out = {k: [] for k in keys}
    segments, n_kept, n_sim = [], 0, 0
    while n_kept < steps:
        cur = pm.locate_cell(maze_map, obs[:2])
        goal = cells[rng.integers(len(cells))]
        while goal == cur:
            goal = cells[rng.integers(len(cells))]
        goal_xy = pm.cell_to_xy(goal, maze_map) + rng.uniform(-0.1, 0.1, 2)
        seg = {k: [] for k in keys}
        for t in range(max_segment):
            a = pm.controller_action(maze_map, obs, goal_xy, dists[goal]) + noise * rng.standard_normal(2)
            a = np.clip(a, -1.0, 1.0)
            o, *_ = env.step(a)
            seg["observations"].append(obs)
            seg["actions"].append(a)
            seg["next_observations"].append(o["observation"].copy())
            obs = o["observation"].copy()
            done = np.linalg.norm(obs[:2] - goal_xy) <= reach
            seg["timeouts"].append(done or t == max_segment - 1)
            if done:
                break
        n_sim += len(seg["actions"])
        kept = keep_goal_segments or goal != tuple(eval_cell)
        segments.append({"start": cur, "goal": goal, "length": len(seg["actions"]), "kept": kept,
                         "reached": bool(done)})
        if kept:
            for k in keys:
                out[k].extend(seg[k])
            n_kept += len(seg["actions"])
    env.close()
    arrays = {k: np.asarray(v[:steps]) for k, v in out.items()}
    arrays["observations"] = arrays["observations"].astype(np.float32)
    arrays["next_observations"] = arrays["next_observations"].astype(np.float32)
    arrays["actions"] = arrays["actions"].astype(np.float32)
    arrays["timeouts"] = arrays["timeouts"].astype(bool)
    arrays["timeouts"][-1] = True
    arrays["terminals"] = np.zeros(steps, bool)
    d = np.linalg.norm(arrays["next_observations"][:, :2].astype(np.float64) - g, axis=-1)
    arrays["rewards"] = (d <= pm.GOAL_RADIUS).astype(np.float32)
    arrays["episode_starts"] = np.concatenate([[True], arrays["timeouts"][:-1]])
    return arrays, segments, n_sim


def stitching_stats(arrays, segments) -> dict:
    """How much of the data touches the evaluation goal (within 0.5 of g, or its cell)."""
    maze_map, _, eval_cell, limit = pm.MAZES["medium"]
    g = pm.cell_to_xy(eval_cell, maze_map)
    starts = np.flatnonzero(arrays["episode_starts"])
    stops = np.append(starts[1:], len(arrays["rewards"]))
    nxt = arrays["next_observations"][:, :2].astype(np.float64)
    in_cell = np.all(pm.xy_to_cell(nxt, maze_map) == np.asarray(eval_cell), axis=-1)
    r = arrays["rewards"]
    ep_reward = np.array([r[a:b].sum() for a, b in zip(starts, stops)])
    ep_cell = np.array([in_cell[a:b].any() for a, b in zip(starts, stops)])
    dist_goal = pm.bfs_distances(maze_map, eval_cell)
    start_cells = [pm.locate_cell(maze_map, p) for p in arrays["observations"][starts, :2]]
    far = np.array([dist_goal[c] >= 4 for c in start_cells])
    kept = [s for s in segments if s["kept"]]
    goals = collections.Counter(f"{s['goal'][0]},{s['goal'][1]}" for s in kept)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, r, 0])))[::2] if r.any() else np.array([0])
    return {
        "n_segments_simulated": len(segments),
        "n_segments_excluded_goal_cell": sum(not s["kept"] for s in segments),
        "n_segments_not_reached": sum(not s["reached"] for s in kept),
        "segment_length_mean": float(np.mean([s["length"] for s in kept])),
        "segment_goal_cell_counts": dict(sorted(goals.items())),
        "fraction_transitions_reward1": float(r.mean()),
        "fraction_segments_within_goal_radius": float(np.mean(ep_reward > 0)),
        "fraction_segments_entering_goal_cell": float(np.mean(ep_cell)),
        "fraction_segments_from_4plus_cells_away_within_goal_radius": float(np.mean(ep_reward[far] > 0)),
        "max_segment_return": float(ep_reward.max()),
        "longest_consecutive_steps_within_goal_radius": int(runs.max()),
        "episode_limit_eval": int(limit),
    }


def reference_returns(n_episodes: int, seed: int) -> dict:
    """Mean ± std returns of uniform random actions and of the controller aimed at g."""
    import jax

    env = pm.PointMazeEval("medium")

    def act_random(obs, key):
        return jax.random.uniform(key, obs.shape[:-1] + (2,), minval=-1.0, maxval=1.0)

    def act_expert(obs, key):
        o = np.asarray(obs).reshape(-1, 4)
        return np.stack([pm.controller_action(env.maze_map, x, env.goal_xy, env.dist) for x in o])

    out = {}
    for name, act in (("random", act_random), ("expert", act_expert)):
        rets = evaluate(EVAL_ID, act, n_episodes, seed)
        out[f"ref_{name}_return"] = float(rets.mean())
        out[f"ref_{name}_return_std"] = float(rets.std())
    env.close()
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=200_000, help="logged transitions")
    p.add_argument("--noise", type=float, default=0.5, help="std of Gaussian action noise (D4RL: 0.5)")
    p.add_argument("--reach", type=float, default=0.2, help="distance to the goal point that ends a segment")
    p.add_argument("--max-segment", type=int, default=600, help="steps after which a segment is cut")
    p.add_argument("--keep-goal-segments", action="store_true", help="also log segments aimed at the eval goal")
    p.add_argument("--ref-episodes", type=int, default=100)
    p.add_argument("--out", default=str(ROOT / "data/offline/pointmaze-medium-stitch.npz"))
    args = p.parse_args(argv)
    if args.steps < 1 or args.max_segment < 1 or args.noise < 0 or args.reach <= 0 or args.ref_episodes < 1:
        raise ValueError(f"need steps, max_segment, ref_episodes >= 1, noise >= 0, reach > 0; got {vars(args)}")
    import gymnasium_robotics
    import mujoco

    t0 = time.time()
    arrays, segments, n_sim = generate(args.seed, args.steps, args.noise, args.reach, args.max_segment,
                                       args.keep_goal_segments)
    t_gen = time.time() - t0
    stats = stitching_stats(arrays, segments)
    t1 = time.time()
    refs = reference_returns(args.ref_episodes, seed=1_000_000 + args.seed)
    maze_map, inner_id, eval_cell, limit = pm.MAZES["medium"]
    provenance = {
        "env_id": EVAL_ID, "data_env_id": inner_id,
        "gymnasium_version": gym.__version__, "gymnasium_robotics_version": gymnasium_robotics.__version__,
        "mujoco_version": mujoco.__version__,
        "generated_by": "python scripts/make_maze_data.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "seed": args.seed, "simulated_steps": n_sim,
        "policy": (f"waypoint controller (BFS on the grid, waypoint = next cell centre, PD a = clip(10(w-p) - 1 v)) "
                   f"to random free goal cells (centre + U(-0.1,0.1)^2), action noise N(0,{args.noise}^2) clipped "
                   f"to [-1,1]; new goal when within {args.reach} of it or after {args.max_segment} steps; one "
                   f"continuous stream, each segment one episode (timeout on its last step)"),
        "goal_segments": "logged" if args.keep_goal_segments else
        f"segments aimed at the eval goal cell {tuple(eval_cell)} simulated but not logged",
        "eval_goal_cell": list(eval_cell), "eval_goal_xy": pm.cell_to_xy(eval_cell, maze_map).tolist(),
        "reward": "raw sparse 1[||next_obs[:2] - eval_goal_xy|| <= 0.5] from the stored float32 next_observations; "
                  "IQL uses r - 1 at load time",
        "terminals": "all 0 (maze2d never terminates)",
        **refs,
        "ref_returns_measured": (f"iqlib.core.envs.evaluate({EVAL_ID!r}, act, n_episodes={args.ref_episodes}, "
                                 f"seed={1_000_000 + args.seed}); random = uniform actions in [-1,1]^2, expert = "
                                 f"noiseless waypoint controller aimed at the eval goal; undiscounted "
                                 f"{limit}-step returns, random start cell != goal cell"),
        **stats,
    }
    sha = save_dataset(args.out, arrays, provenance)
    print(f"wrote {args.out} sha256={sha[:12]} generation {t_gen:.1f}s, references {time.time() - t1:.1f}s")
    for k in ("ref_random_return", "ref_expert_return", "n_segments_simulated", "n_segments_excluded_goal_cell",
              "fraction_transitions_reward1", "fraction_segments_within_goal_radius",
              "fraction_segments_entering_goal_cell", "fraction_segments_from_4plus_cells_away_within_goal_radius",
              "max_segment_return", "longest_consecutive_steps_within_goal_radius", "segment_length_mean"):
        print(f"  {k}: {provenance[k]}")


if __name__ == "__main__":
    main()
