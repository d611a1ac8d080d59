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
:func:`~iqlib.core.transitions.normalized_score`; ``info['ref_source']`` says where they come from.

**Minari.** ``load_offline`` also takes the id of a local Minari dataset (any name with a ``/``,
e.g. ``"mujoco/hopper/medium-v0"``; read by :func:`iqlib.data.minari_io.read_minari`, never
downloaded). Its ``env_id`` is the dataset's evaluation env (:func:`~iqlib.data.minari_io.eval_env_id`);
its domain is ``discrete`` for Discrete actions, else ``maze`` when the dataset or env id contains
"maze", else ``locomotion`` (``domain=`` overrides); its reference returns are the dataset's
``ref_min_score`` / ``ref_max_score`` where present, else ours for the same env id (the provenance of
our stored set on it), else ``ref_scores=`` must give them. :func:`publish_minari` writes a stored set
of ours into the local Minari root as ``iqlib/<env>/<kind>-v0`` (:func:`minari_id`).
"""

from __future__ import annotations

import pathlib

import numpy as np

from iqlib.core.transitions import Transitions, scale_rewards_locomotion, shift_rewards
from iqlib.data.datasets import load_dataset
from iqlib.data.files import DATA_ROOT, load_provenance
from iqlib.data.minari_io import is_minari_id, read_minari, write_minari

__all__ = ["DATA_DIR", "DATASETS", "DOMAINS", "dataset_names", "dataset_domain", "stored_names", "dataset_path",
           "load_offline", "apply_reward_convention", "minari_id", "publish_minari", "reference_returns"]

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
    "pointmaze-medium-goal": "pointmaze-medium",
    "cartpole-mixed": "cartpole",
    "lunarlander-mixed": "lunarlander",
}

DOMAINS = {"locomotion": "rewards × 1000 / (max − min episode return) (IQL App. B)",
           "maze": "rewards − 1 (IQL's AntMaze convention)",
           "discrete": "rewards × 1000 / (max − min episode return) (our choice: the locomotion scaling)"}


def dataset_names() -> list[str]:
    """All registered names, sorted."""
    return sorted(DATASETS)


def dataset_domain(name: str) -> str:
    """The domain of a registered name (``'locomotion'``, ``'maze'`` or ``'discrete'``), without loading it.

    Raises ``ValueError`` for an unregistered name (a Minari id's domain comes from its data: :func:`load_offline`).
    """
    return _ENVS[_check_name(name)][1]


def stored_names() -> list[str]:
    """The names stored as files (all but the derived ``*-medium-expert``), sorted."""
    return [n for n in dataset_names() if not n.endswith("-medium-expert")]


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


def load_offline(name: str, *, raw: bool = False, data_dir: str | pathlib.Path | None = None,
                 flatten_obs: bool = False, rescale_actions: bool = False, domain: str | None = None,
                 ref_scores: tuple[float, float] | None = None) -> tuple[Transitions, dict]:
    """Load a registered offline dataset, or a local Minari dataset, with its domain's reward convention applied.

    Args:
      name: e.g. ``"hopper-medium-replay"``, ``"pointmaze-medium-stitch"``, ``"cartpole-mixed"``
        (:func:`dataset_names` lists all), or a local Minari id such as ``"mujoco/hopper/medium-v0"``.
      raw: skip the reward convention (raw environment rewards, as on disk).
      data_dir: folder of the ``.npz`` files (default ``data/offline``).
      flatten_obs, rescale_actions: Minari ids only (:func:`iqlib.data.minari_io.read_minari`).
      domain, ref_scores: Minari ids only: the domain (default from the action space and id, see
        the module docstring) and ``(random_return, expert_return)`` overriding the references.

    Returns:
      ``(transitions, info)``: numpy :class:`Transitions` (obs (N, O), action (N,) int or
      (N, A) float in [-1, 1], reward (N,) after the convention, ...) and ``info`` with
      ``name, env_id, domain, reward_convention, reward_scale`` (factor applied, locomotion and
      discrete), ``reward_shift`` (maze), ``ref_random_return, ref_expert_return`` (raw
      undiscounted returns for normalised scores), ``ref_source``, ``n_transitions, n_episodes, files``
      and ``provenance`` (the file's record, or a list of two for medium-expert; for a Minari id
      the record we published with it, else its Minari metadata); Minari ids add ``domain_source``
      and ``minari`` (:func:`~iqlib.data.minari_io.read_minari`'s description).

    Raises:
      ValueError: unknown ``name`` (or Minari id, with the local ids); medium and expert files with
        different reference returns; a broken file (named): provenance without ``sha256`` or invalid
        JSON, checksum mismatch, arrays that break :func:`iqlib.core.transitions.validate_arrays`
        (discrete actions outside the environment's action set included); a Minari dataset with a bad
        layout or no reference returns; Minari options given for one of our names.
      FileNotFoundError: the file is missing (the message names the ``make data-...`` target).
    """
    if is_minari_id(name):
        t, info = _load_minari(name, flatten_obs, rescale_actions, domain, ref_scores)
        return _with_convention(t, info, raw)
    if flatten_obs or rescale_actions or domain is not None or ref_scores is not None:
        raise ValueError(f"{name}: flatten_obs, rescale_actions, domain and ref_scores apply to Minari ids only")
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
            "ref_random_return": float(pm["ref_random_return"]),
            "ref_expert_return": float(pm["ref_expert_return"]),
            "ref_source": f"iqlib's own (provenance of {files[0]})", "files": files, "provenance": prov}
    return _with_convention(t, info, raw)


def _with_convention(t: Transitions, info: dict, raw: bool) -> tuple[Transitions, dict]:
    domain = info["domain"]
    info = {**info, "reward_convention": "none (raw)" if raw else DOMAINS[domain],
            "n_transitions": int(len(t.reward)), "n_episodes": int(np.sum(np.asarray(t.episode_start) > 0))}
    if not raw:
        before = np.asarray(t.reward, np.float64)
        t = apply_reward_convention(t, domain)
        if domain == "maze":
            info["reward_shift"] = -1.0
        else:
            nz = np.flatnonzero(before != 0)
            info["reward_scale"] = float(np.asarray(t.reward)[nz[0]] / before[nz[0]]) if nz.size else 1.0
    return t, info


def reference_returns(env_id: str) -> tuple[float, float, str] | None:
    """Our reference returns ``(random, expert, source)`` for ``env_id``: those of our first stored set
    on it (its provenance); None when we have no set on ``env_id``."""
    for name in stored_names():
        path = dataset_path(name)
        if _ENVS[DATASETS[name]][0] == env_id and path.is_file():
            rec = load_provenance(path)
            return float(rec["ref_random_return"]), float(rec["ref_expert_return"]), \
                f"iqlib's own for {env_id} (provenance of {path.name})"
    return None


def _load_minari(name, flatten_obs, rescale_actions, domain, ref_scores) -> tuple[Transitions, dict]:
    t, meta = read_minari(name, flatten_obs=flatten_obs, rescale_actions=rescale_actions)
    env_id = meta["eval_env_id"]
    if domain is not None:
        if domain not in DOMAINS:
            raise ValueError(f"{name}: unknown domain {domain!r}; expected one of {list(DOMAINS)}")
        why = "the domain argument"
    elif np.asarray(t.action).dtype.kind in "iu":
        domain, why = "discrete", "Discrete actions"
    elif "maze" in f"{name} {env_id}".lower():
        domain, why = "maze", "Box actions, 'maze' in the dataset or env id"
    else:
        domain, why = "locomotion", "Box actions, no 'maze' in the dataset or env id"
    if ref_scores is not None:
        refs = (*map(float, ref_scores), "the ref_scores argument")
    elif meta["ref_min_score"] is not None and meta["ref_max_score"] is not None:
        refs = (float(meta["ref_min_score"]), float(meta["ref_max_score"]),
                "the dataset's Minari metadata (ref_min_score, ref_max_score)")
    else:
        refs = reference_returns(env_id)
        if refs is None:
            ours = sorted({_ENVS[DATASETS[n]][0] for n in stored_names()})
            raise ValueError(f"Minari dataset {name!r}: no reference returns: its metadata has no ref_min_score / "
                             f"ref_max_score and this project has none for its evaluation env {env_id!r} (ours: "
                             f"{ours}); pass ref_scores=(random_return, expert_return)")
    info = {"name": name, "env_id": env_id, "domain": domain, "domain_source": why,
            "ref_random_return": refs[0], "ref_expert_return": refs[1], "ref_source": refs[2],
            "files": [meta["path"]], "provenance": meta["metadata"].get("iqlib_provenance", meta["metadata"]),
            "minari": {k: v for k, v in meta.items() if k != "metadata"}}
    return t, info


def minari_id(name: str, version: int = 0) -> str:
    """The Minari id our stored set ``name`` is published as: ``hopper-medium-replay`` →
    ``iqlib/hopper/medium-replay-v0``, ``cartpole-mixed`` → ``iqlib/cartpole/mixed-v0``."""
    env = _check_name(name)
    if name not in stored_names():
        raise ValueError(f"{name} is derived, not stored; only {stored_names()} are published")
    return f"iqlib/{env}/{name[len(env) + 1:]}-v{version}"


def publish_minari(name: str, *, data_dir: str | pathlib.Path | None = None, version: int = 0,
                   replace: bool = True) -> str:
    """Write our stored set ``name`` (raw rewards, checksum-verified) into the local Minari root; return its id.

    The Minari dataset carries the reference returns as ``ref_min_score`` / ``ref_max_score``, the
    evaluation env spec, a description with the generating command and seed, and our provenance
    record (metadata ``iqlib_provenance``). ``replace``: delete an existing dataset of that id first.
    """
    env_id, domain, target = _ENVS[_check_name(name)]
    mid = minari_id(name, version)
    t, prov = _load_file(name, data_dir, target)
    how = {k: prov.get(f"ref_{k}_how", prov.get("ref_returns_measured", "see iqlib_provenance"))
           for k in ("random", "expert")}
    source = f"data/offline/{name}.npz" if data_dir is None else str(dataset_path(name, data_dir))
    description = (
        f"iqlib's offline dataset {name} on {env_id} ({prov.get('n_episodes')} episodes, {prov.get('n_transitions')} "
        f"transitions): {str(prov.get('policy', 'see iqlib_provenance')).rstrip('.')}. Generated by "
        f"`{prov.get('generated_by')}` (seed {prov.get('seed')}); published from {source} (sha256 {prov['sha256']}) by "
        f"scripts/publish_minari.py (`make minari`). Rewards are the environment's; iqlib's learners apply the "
        f"{domain} convention at load time: {DOMAINS[domain]}. Reference returns (ref_min_score, ref_max_score): "
        f"random {prov['ref_random_return']} ({how['random']}); expert {prov['ref_expert_return']} ({how['expert']}).")
    write_minari(t, mid, env_id, ref_min_score=prov["ref_random_return"], ref_max_score=prov["ref_expert_return"],
                 description=description, algorithm_name=str(prov.get("generated_by", "iqlib")), replace=replace,
                 extra_metadata={"iqlib_name": name, "iqlib_domain": domain, "iqlib_provenance": prov})
    return mid
