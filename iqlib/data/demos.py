"""Expert demonstrations on disk: whole episodes of ``data/demos/<env_id>.npz``, checksummed."""

from __future__ import annotations

import pathlib

import numpy as np

from iqlib.core.envs import ENV_IDS, make_env
from iqlib.core.transitions import episode_bounds, episode_returns, select_episodes
from iqlib.data.datasets import load_dataset
from iqlib.data.files import DATA_ROOT

__all__ = ["DEMOS_DIR", "load_demos"]

DEMOS_DIR = DATA_ROOT / "demos"
_MAKE_TARGET = {"CartPole-v1": "data-discrete", "LunarLander-v3": "data-discrete", "Acrobot-v1": "data-discrete"}


def load_demos(env_id: str, n_demos: int, *, observations_only: bool = False, demos_dir=None):
    """First ``n_demos`` expert episodes of ``<demos_dir>/<env_id>.npz``.

    Args:
      env_id: gymnasium id (must be registered). n_demos: whole episodes to keep (≥ 1).
      observations_only: zero the actions (LfO: the learner may use only obs, next_obs, terminal).
      demos_dir: folder of the demo files (default ``data/demos``).

    Returns:
      ``(demos: Transitions (N, ·), info)``; ``info`` holds ``expert_return_mean/std`` of the
      kept episodes (undiscounted, environment units) and of all episodes in the file, and the
      file's provenance record.

    Raises:
      ValueError: unknown env id, ``n_demos < 1`` or more than the file holds.
      FileNotFoundError: no demo file (the message names the make target that writes it).
    """
    if env_id not in ENV_IDS:
        make_env(env_id).close()  # raises ValueError for an unregistered id
    if isinstance(n_demos, bool) or int(n_demos) != n_demos or n_demos < 1:
        raise ValueError(f"n_demos must be an integer >= 1 (whole expert episodes), got {n_demos!r}")
    path = pathlib.Path(demos_dir or DEMOS_DIR) / f"{env_id}.npz"
    if not path.is_file():
        target = _MAKE_TARGET.get(env_id, "data-locomotion")
        raise FileNotFoundError(f"no expert demonstrations for {env_id!r} at {path}; run `make {target}`")
    data, prov = load_dataset(path)
    n_eps = len(episode_bounds(data))
    if n_demos > n_eps:
        raise ValueError(f"n_demos={n_demos} but {path} holds only {n_eps} episodes")
    demos = select_episodes(data, np.arange(int(n_demos)))
    if observations_only:
        demos = demos._replace(action=np.zeros_like(demos.action), reward=np.zeros_like(demos.reward))
    kept, every = episode_returns(select_episodes(data, np.arange(int(n_demos)))), episode_returns(data)
    info = {"expert_return_mean": float(kept.mean()), "expert_return_std": float(kept.std()),
            "file_return_mean": float(every.mean()), "file_return_std": float(every.std()),
            "n_transitions": int(demos.obs.shape[0]), "provenance": prov}
    return demos, info
