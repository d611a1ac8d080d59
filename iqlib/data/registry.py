"""Registry of the project's offline datasets: name → file, environment, domain, reward convention.

``load_offline(name)`` reads ``data/offline/<name>.npz`` (checksum-verified, D4RL keys, raw
environment rewards), applies the learner-side reward convention of its domain and returns
``(Transitions, info)``:

- ``locomotion`` (``hopper-*``, ``halfcheetah-*``): rewards × 1000 / (max − min episode return)
  (IQL, Kostrikov et al. 2021, App. B: :func:`~iqlib.core.transitions.scale_rewards_locomotion`);
- ``maze`` (``pointmaze-*``): r − 1 (IQL's AntMaze convention, :func:`~iqlib.core.transitions.shift_rewards`):
  every step away from the goal costs 1, the goal is worth 0;
- ``discrete`` (``cartpole-mixed``, ``lunarlander-mixed``): our choice, the locomotion scaling,
  so that returns span 1000 as in locomotion and IQL's locomotion τ, β carry over
  (:meth:`iqlib.neural.iql.IQLConfig.discrete`). CartPole's +1 per step becomes ≈ +2.1.

``<env>-medium-expert`` is not stored: as in D4RL it is the concatenation of ``<env>-medium``
and ``<env>-expert`` (the scaling is then computed on the concatenation).

Normalised scores use ``info['ref_random_return']`` and ``info['ref_expert_return']`` (raw
returns measured by the data scripts, see each file's provenance) with
:func:`~iqlib.core.transitions.normalized_score`.
"""

from __future__ import annotations

import pathlib

import numpy as np

from iqlib.core.transitions import Transitions, scale_rewards_locomotion, shift_rewards
from iqlib.data.datasets import load_dataset
from iqlib.data.files import DATA_ROOT

__all__ = ["DATA_DIR", "DATASETS", "DOMAINS", "dataset_names", "dataset_path", "load_offline", "apply_reward_convention"]

DATA_DIR = DATA_ROOT / "offline"

#: name prefix → (gymnasium env id, domain, make target that writes the files)
_ENVS = {
    "hopper": ("Hopper-v5", "locomotion", "data-locomotion"),
    "halfcheetah": ("HalfCheetah-v5", "locomotion", "data-locomotion"),
    "pointmaze-medium": ("iqlib/PointMazeMedium-v0", "maze", "data-maze"),
    "cartpole": ("CartPole-v1", "discrete", "data-discrete"),
    "lunarlander": ("LunarLander-v3", "discrete", "data-discrete"),
}
#: env prefix → number of discrete actions (the loaded actions are checked against it)
_N_ACTIONS = {"cartpole": 2, "lunarlander": 4}
_LOCO_KINDS = ("random", "medium", "medium-replay", "medium-expert", "expert")

#: every registered dataset name → its env prefix
DATASETS = {
    **{f"{env}-{kind}": env for env in ("hopper", "halfcheetah") for kind in _LOCO_KINDS},
    "pointmaze-medium-stitch": "pointmaze-medium",
    "cartpole-mixed": "cartpole",
    "lunarlander-mixed": "lunarlander",
}

DOMAINS = {"locomotion": "rewards × 1000 / (max − min episode return) (IQL App. B)",
           "maze": "rewards − 1 (IQL's AntMaze convention)",
           "discrete": "rewards × 1000 / (max − min episode return) (our choice: the locomotion scaling)"}


def dataset_names() -> list[str]:
    """All registered names, sorted."""
    return sorted(DATASETS)


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown offline dataset {name!r}; expected one of {dataset_names()}")
    return DATASETS[name]


def dataset_path(name: str, data_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """Path of the stored file for ``name`` (not for ``*-medium-expert``, which is derived)."""
    _check_name(name)
    return pathlib.Path(data_dir or DATA_DIR) / f"{name}.npz"


def apply_reward_convention(t: Transitions, domain: str) -> Transitions:
    """The learner-side reward convention of ``domain`` (see the module docstring)."""
    if domain in ("locomotion", "discrete"):
        return scale_rewards_locomotion(t)
    if domain == "maze":
        return shift_rewards(t, -1.0)
    raise ValueError(f"unknown domain {domain!r}; expected one of {list(DOMAINS)}")


def _load_file(name: str, data_dir, target: str) -> tuple[Transitions, dict]:
    path = dataset_path(name, data_dir)
    if not path.is_file():
        raise FileNotFoundError(f"offline dataset {name!r} not found at {path}; generate it with "
                                f"`make {target}`")
    return load_dataset(path, _N_ACTIONS.get(DATASETS[name]))


def load_offline(name: str, *, raw: bool = False, data_dir: str | pathlib.Path | None = None
                 ) -> tuple[Transitions, dict]:
    """Load a registered offline dataset with its domain's reward convention applied.

    Args:
      name: e.g. ``"hopper-medium-replay"``, ``"pointmaze-medium-stitch"``, ``"cartpole-mixed"``
        (:func:`dataset_names` lists all).
      raw: skip the reward convention (raw environment rewards, as on disk).
      data_dir: folder of the ``.npz`` files (default ``data/offline``).

    Returns:
      ``(transitions, info)``: numpy :class:`Transitions` (obs (N, O), action (N,) int or
      (N, A) float in [-1, 1], reward (N,) after the convention, ...) and ``info`` with
      ``name, env_id, domain, reward_convention, reward_scale`` (factor applied, locomotion and
      discrete), ``reward_shift`` (maze), ``ref_random_return, ref_expert_return`` (raw
      undiscounted returns for normalised scores), ``n_transitions, n_episodes, files`` and
      ``provenance`` (the file's record, or a list of two for medium-expert).

    Raises:
      ValueError: unknown ``name``; medium and expert files with different reference returns;
        a broken file (named): provenance without ``sha256`` or invalid JSON, checksum mismatch,
        arrays that break :func:`iqlib.core.transitions.validate_arrays` (discrete actions
        outside the environment's action set included).
      FileNotFoundError: the file is missing (the message names the ``make data-...`` target).
    """
    env_id, domain, target = _ENVS[_check_name(name)]
    if name.endswith("-medium-expert"):
        base = name[: -len("-medium-expert")]
        (tm, pm), (te, pe) = (_load_file(f"{base}-{k}", data_dir, target) for k in ("medium", "expert"))
        for key in ("ref_random_return", "ref_expert_return"):
            if pm.get(key) != pe.get(key):
                raise ValueError(f"{name}: {base}-medium and {base}-expert disagree on {key} "
                                 f"({pm.get(key)} vs {pe.get(key)}); regenerate with `make {target}`")
        t = Transitions(*(np.concatenate([np.asarray(a), np.asarray(b)]) for a, b in zip(tm, te)))
        t = t._replace(episode_start=np.asarray(t.episode_start).copy())
        t.episode_start[len(tm.reward)] = 1.0  # the expert part starts a new episode
        prov, files = [pm, pe], [f"{base}-medium.npz", f"{base}-expert.npz"]
    else:
        t, prov = _load_file(name, data_dir, target)
        pm, files = prov, [f"{name}.npz"]
    for key in ("ref_random_return", "ref_expert_return"):
        if key not in pm:
            raise ValueError(f"{name}: provenance lacks {key}; regenerate with `make {target}`")
    info = {"name": name, "env_id": env_id, "domain": domain,
            "reward_convention": "none (raw)" if raw else DOMAINS[domain],
            "ref_random_return": float(pm["ref_random_return"]),
            "ref_expert_return": float(pm["ref_expert_return"]),
            "n_transitions": int(len(t.reward)), "n_episodes": int(np.sum(np.asarray(t.episode_start) > 0)),
            "files": files, "provenance": prov}
    if not raw:
        before = np.asarray(t.reward, np.float64)
        t = apply_reward_convention(t, domain)
        if domain == "maze":
            info["reward_shift"] = -1.0
        else:
            nz = np.flatnonzero(before != 0)
            info["reward_scale"] = float(np.asarray(t.reward)[nz[0]] / before[nz[0]]) if nz.size else 1.0
    return t, info
