"""Minari datasets in and out: a local Minari dataset as :class:`Transitions`, and ours as Minari datasets.

Minari (Farama's successor of D4RL, PyPI ``minari``) stores episodes: ``observations`` (T + 1:
the reset observation, then one per step), ``actions``, ``rewards``, ``terminations`` and
``truncations`` (T each). :func:`read_minari` reads a *local* dataset (under
``$MINARI_DATASETS_PATH``, else Minari's default ``~/.minari/datasets``; nothing is downloaded):

- ``obs`` = an episode's observations[:-1], ``next_obs`` = observations[1:];
- ``terminal`` = terminations (a true end: no bootstrap), ``timeout`` = truncations (bootstrap);
  an end flag before an episode's last step is refused; ``episode_start`` marks each first step;
- Discrete actions (start 0) are checked against ``n``. Box actions must lie in [-1, 1]^A, the box
  every learner acts in and the box :func:`iqlib.core.envs.make_env` rescales the evaluation
  environment's actions to; a Box space other than [-1, 1]^A is refused unless
  ``rescale_actions=True``, which maps [low, high] affinely onto [-1, 1];
- Dict / Tuple / Discrete observations are refused unless ``flatten_obs=True``: parts are
  concatenated in the space's order as ``gymnasium.spaces.flatten`` does (Discrete one-hot) and the
  evaluation environment gets ``FlattenObservation``.

The evaluation environment is the dataset's ``eval_env`` spec (``recover_environment(eval_env=True)``).
The project evaluates by gymnasium id (:func:`iqlib.core.envs.evaluate`), so :func:`eval_env_id` uses
the spec's own id when the registry holds the same spec, and otherwise registers it (in this process)
as ``minari/<dataset id, '/' → '-'>``.

:func:`write_minari` writes our transitions as a Minari dataset (one Minari episode per episode;
``next_obs[t] == obs[t + 1]`` inside each, as in every committed set) and :func:`diff_arrays`
compares two D4RL dicts bit for bit (keys, dtypes, shapes, bytes).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import warnings
from typing import Any, Mapping

import gymnasium as gym
import minari
import numpy as np
from gymnasium.envs.registration import WrapperSpec
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_dataset import parse_dataset_id

from iqlib.core.envs import make_env
from iqlib.core.transitions import Transitions, episode_bounds, to_transitions

__all__ = ["minari_root", "is_minari_id", "local_minari_ids", "read_minari", "eval_env_id", "write_minari",
           "diff_arrays"]

EPISODE_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")
_FLATTEN = WrapperSpec("FlattenObservation", "gymnasium.wrappers:FlattenObservation", {})


def minari_root() -> pathlib.Path:
    """Minari's local root: ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets`` (Minari's default)."""
    path = os.environ.get("MINARI_DATASETS_PATH")
    return pathlib.Path(path) if path else pathlib.Path.home() / ".minari" / "datasets"


def is_minari_id(name: Any) -> bool:
    """Minari ids have a namespace (``mujoco/hopper/medium-v0``); the project's names have no ``/``."""
    return isinstance(name, str) and "/" in name


def local_minari_ids() -> list[str]:
    """The ids in the local root, sorted ([] when the root does not exist). Never downloads."""
    return sorted(minari.list_local_datasets()) if minari_root().is_dir() else []


def _open(dataset_id: str) -> minari.MinariDataset:
    where = f"Minari dataset {dataset_id!r}"
    try:
        parse_dataset_id(dataset_id)
    except (ValueError, TypeError) as e:  # TypeError: no version
        raise ValueError(f"{where}: not a Minari id of the form namespace/name-v<N> ({e})") from e
    if not (minari_root() / dataset_id / "data").is_dir():
        raise ValueError(f"unknown {where}: not in the local Minari root {minari_root()} (MINARI_DATASETS_PATH); "
                         f"local ids: {local_minari_ids()}. Nothing is downloaded: `minari download {dataset_id}` "
                         "fetches a remote one, `make minari` publishes the project's own")
    try:
        return minari.load_dataset(dataset_id)
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as e:
        raise ValueError(f"{where} at {minari_root() / dataset_id}: cannot be opened ({type(e).__name__}: {e})") from e


def _flatten(x: Any, space: gym.Space, where: str) -> np.ndarray:
    """(T, D) array of the observations ``x`` of ``space`` (the order of ``gymnasium.spaces.flatten``)."""
    if isinstance(space, gym.spaces.Box):
        return np.asarray(x).reshape(len(x), -1)
    if isinstance(space, gym.spaces.Discrete):
        x = np.asarray(x, np.int64)
        out = np.zeros((len(x), int(space.n)), np.float32)
        out[np.arange(len(x)), x - int(space.start)] = 1.0
        return out
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        keys = list(space.spaces) if isinstance(space, gym.spaces.Dict) else list(range(len(space.spaces)))
        missing = [k for k in keys if isinstance(space, gym.spaces.Dict) and k not in x]
        if missing:
            raise ValueError(f"{where}: observations lack the keys {missing} of the space {space}")
        parts = [_flatten(x[k], space.spaces[k], where) for k in keys]
        if len({len(p) for p in parts}) > 1:
            raise ValueError(f"{where}: the observation parts {keys} have different lengths {[len(p) for p in parts]}")
        return np.concatenate(parts, axis=1)
    raise ValueError(f"{where}: observation space {space} is not supported (Box, Discrete, Dict or Tuple of them)")


def _action_rule(space: gym.Space, where: str, rescale: bool) -> tuple[Any, int | None, bool]:
    """(convert(actions) -> array, n_actions or None, rescaled?) for the dataset's action space."""
    if isinstance(space, gym.spaces.Discrete):
        if int(space.start) != 0:
            raise ValueError(f"{where}: the Discrete action space starts at {space.start}; the learners' "
                             "discrete actions are 0 .. n-1")
        return (lambda a: np.asarray(a)), int(space.n), False
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
        raise ValueError(f"{where}: action space {space} is not supported (Discrete or a 1-D Box)")
    lo, hi = space.low.astype(np.float64), space.high.astype(np.float64)
    if np.all(lo == -1.0) and np.all(hi == 1.0):
        return (lambda a: np.asarray(a)), None, False
    if not rescale:
        raise ValueError(f"{where}: the Box action space is [{lo.tolist()}, {hi.tolist()}], not [-1, 1]; the learners "
                         "act in [-1, 1] (iqlib.core.envs.make_env rescales the evaluation env to it): pass "
                         "rescale_actions=True to map the dataset's actions affinely onto [-1, 1]")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi > lo)):
        raise ValueError(f"{where}: cannot rescale actions of the unbounded or empty box "
                         f"[{lo.tolist()}, {hi.tolist()}]")

    def rescaled(a):
        a = np.asarray(a, np.float64)
        if a.ndim != 2 or np.any(a < lo) or np.any(a > hi):
            raise ValueError(f"{where}: actions of shape {a.shape} are not (T, {lo.size}) inside their space "
                             f"[{lo.tolist()}, {hi.tolist()}]")
        return np.clip(2.0 * (a - lo) / (hi - lo) - 1.0, -1.0, 1.0)

    return rescaled, None, True


def _episode(ep: Any, idx: int, obs_of, act_of, where: str) -> dict[str, np.ndarray]:
    """One episode's D4RL arrays, after checking its lengths and end flags."""
    rewards = np.asarray(ep.rewards)
    n = len(rewards)
    obs = obs_of(ep.observations)
    got = {"observations": len(obs), "actions": len(ep.actions), "terminations": len(ep.terminations),
           "truncations": len(ep.truncations)}
    want = {"observations": n + 1, "actions": n, "terminations": n, "truncations": n}
    bad = [f"{k} {got[k]} (expected {want[k]})" for k in want if got[k] != want[k]]
    if n == 0 or bad:
        raise ValueError(f"{where}: episode {idx} has {n} rewards but " + (", ".join(bad) or "no steps")
                         + "; an episode holds T + 1 observations and T actions, rewards, terminations, truncations")
    term, trunc = np.asarray(ep.terminations, bool), np.asarray(ep.truncations, bool)
    early = np.flatnonzero((term | trunc)[:-1])
    if early.size:
        raise ValueError(f"{where}: episode {idx} ends (termination or truncation) at step {int(early[0])} of {n}; "
                         "an episode's only end is its last step")
    starts = np.zeros(n, bool)
    starts[0] = True
    return {"observations": obs[:-1], "next_observations": obs[1:], "actions": act_of(ep.actions),
            "rewards": rewards, "terminals": term, "timeouts": trunc, "episode_starts": starts}


def eval_env_id(dataset: minari.MinariDataset, dataset_id: str, flatten: bool = False) -> str:
    """A gymnasium id for the dataset's evaluation env spec (see the module docstring)."""
    try:
        env = dataset.recover_environment(eval_env=True)
    except Exception as e:  # noqa: BLE001 - any failure to build the env is the dataset's
        raise ValueError(f"Minari dataset {dataset_id!r}: its evaluation environment cannot be recovered "
                         f"({type(e).__name__}: {e})") from e
    spec = env.spec
    env.close()
    if spec is None:
        raise ValueError(f"Minari dataset {dataset_id!r}: its evaluation environment has no spec")
    if not flatten and spec.id in gym.registry and gym.spec(spec.id) == spec:
        return spec.id
    namespace, name, version = parse_dataset_id(dataset_id)
    new_id = f"minari/{(namespace or '').replace('/', '-')}{'-' if namespace else ''}{name}" \
             f"{'-flat' if flatten else ''}-v{version}"
    wrappers = tuple(spec.additional_wrappers) + ((_FLATTEN,) if flatten else ())
    fields = dict(entry_point=spec.entry_point, reward_threshold=spec.reward_threshold,
                  nondeterministic=spec.nondeterministic, max_episode_steps=spec.max_episode_steps,
                  order_enforce=spec.order_enforce, disable_env_checker=spec.disable_env_checker,
                  additional_wrappers=wrappers, vector_entry_point=spec.vector_entry_point, kwargs=dict(spec.kwargs))
    known = gym.registry.get(new_id)
    if known is None or any(getattr(known, k) != v for k, v in fields.items()):
        gym.register(id=new_id, **fields)
    return new_id


def read_minari(dataset_id: str, *, flatten_obs: bool = False, rescale_actions: bool = False
                ) -> tuple[Transitions, dict]:
    """Load the local Minari dataset ``dataset_id`` as raw :class:`Transitions` and a description.

    Returns ``(transitions, meta)``: ``meta`` holds ``minari_id, path, eval_env_id, ref_min_score,
    ref_max_score`` (None when the dataset has none), ``actions_rescaled, observations_flattened``,
    the spaces (as text) and ``metadata`` (the dataset's Minari metadata, JSON types).

    Raises ``ValueError`` naming the dataset and what is wrong: an unknown id (with the local ids), an
    unreadable episode or missing key, wrong lengths, an early end flag, an unsupported space, Box
    actions outside [-1, 1] (or a non-unit box without ``rescale_actions``), dict observations
    without ``flatten_obs``, NaN/inf values and the other rules of
    :func:`iqlib.core.transitions.validate_arrays`, an evaluation env that cannot be made or whose
    spaces differ from the dataset's.
    """
    where = f"Minari dataset {dataset_id!r}"
    ds = _open(dataset_id)
    obs_space = ds.observation_space
    flat = not isinstance(obs_space, gym.spaces.Box)
    if flat and not flatten_obs:
        raise ValueError(f"{where}: observations of {obs_space} are not a Box; pass flatten_obs=True to "
                         "concatenate them into one vector (the evaluation env then gets FlattenObservation)")
    act_of, n_actions, rescaled = _action_rule(ds.action_space, where, rescale_actions)
    obs_of = lambda x: _flatten(x, obs_space, where)  # noqa: E731
    parts, it = [], iter(ds.iterate_episodes())
    for idx in ds.episode_indices:
        try:
            ep = next(it)
        except (KeyError, OSError, ValueError, TypeError) as e:
            raise ValueError(f"{where}: episode {int(idx)} cannot be read ({type(e).__name__}: {e}); an episode "
                             f"holds {', '.join(EPISODE_KEYS)}") from e
        parts.append(_episode(ep, int(idx), obs_of, act_of, where))
    if not parts:
        raise ValueError(f"{where}: the dataset holds no episodes")
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    t = to_transitions(arrays, where, n_actions)
    env_id = eval_env_id(ds, dataset_id, flat)
    env = make_env(env_id)
    env_obs, space = int(np.prod(env.observation_space.shape)), env.action_space
    env.close()
    same = (isinstance(space, gym.spaces.Discrete) and int(space.n) == n_actions if n_actions is not None
            else isinstance(space, gym.spaces.Box) and space.shape == t.action.shape[1:])
    if env_obs != t.obs.shape[1] or not same:
        raise ValueError(f"{where}: its evaluation env {env_id!r} has observations of size {env_obs} and actions "
                         f"{space}; the dataset's are of size {t.obs.shape[1]} and {ds.action_space}")
    md = ds.storage.metadata
    metadata = {k: sorted(v) if isinstance(v, set) else v for k, v in md.items()
                if k not in ("observation_space", "action_space")}
    meta = {"minari_id": dataset_id, "path": str(minari_root() / dataset_id), "eval_env_id": env_id,
            "ref_min_score": md.get("ref_min_score"), "ref_max_score": md.get("ref_max_score"),
            "actions_rescaled": rescaled, "observations_flattened": flat,
            "observation_space": str(obs_space), "action_space": str(ds.action_space), "metadata": metadata}
    return t, meta


def write_minari(t: Transitions, dataset_id: str, env_id: str, *, ref_min_score: float, ref_max_score: float,
                 description: str, algorithm_name: str, extra_metadata: Mapping[str, Any] | None = None,
                 replace: bool = False) -> minari.MinariDataset:
    """Write ``t`` (raw rewards) into the local Minari root as ``dataset_id``, evaluated on ``env_id``.

    The action space written is the one the learners act in (``make_env(env_id)``'s, Box actions
    in [-1, 1]); ``extra_metadata`` keys are added to the Minari metadata (JSON values).

    Raises:
      ValueError: ``dataset_id`` exists already and not ``replace`` (which deletes it first), or an episode whose
        ``next_obs[t]`` differs from ``obs[t + 1]`` or that ends before its last step (Minari's
        layout could not hold it exactly).
    """
    obs, nxt = np.asarray(t.obs), np.asarray(t.next_obs)
    ends = np.logical_or(np.asarray(t.terminal) > 0, np.asarray(t.timeout) > 0)
    buffers = []
    for i, (s, e) in enumerate(episode_bounds(t)):
        if obs[s + 1:e].tobytes() != nxt[s:e - 1].tobytes() or ends[s:e - 1].any():
            raise ValueError(f"{dataset_id}: episode {i} (steps {s}..{e - 1}) has next_obs[t] != obs[t + 1] or ends "
                             "before its last step; Minari's one observation sequence per episode cannot hold it")
        buffers.append(EpisodeBuffer(observations=np.concatenate([obs[s:e], nxt[e - 1:e]]),
                                     actions=np.asarray(t.action)[s:e], rewards=np.asarray(t.reward)[s:e],
                                     terminations=np.asarray(t.terminal)[s:e] > 0,
                                     truncations=np.asarray(t.timeout)[s:e] > 0))
    if replace and (minari_root() / dataset_id).is_dir():
        shutil.rmtree(minari_root() / dataset_id)
    env = make_env(env_id)
    with warnings.catch_warnings():  # author_email and code_permalink are not ours to give
        warnings.filterwarnings("ignore", message=".*is set to None", category=UserWarning)
        ds = minari.create_dataset_from_buffers(
            dataset_id, buffers, env=gym.spec(env_id), eval_env=gym.spec(env_id), algorithm_name=algorithm_name,
            author="the iqlib authors", action_space=env.action_space, observation_space=env.observation_space,
            ref_min_score=float(ref_min_score), ref_max_score=float(ref_max_score), description=description)
    env.close()
    if extra_metadata:
        ds.storage.update_metadata(dict(extra_metadata))
    return ds


def diff_arrays(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What differs between two dicts of arrays, bit for bit ([] when identical): keys, dtypes, shapes, bytes."""
    out = [f"{k}: only in the {'first' if k in a else 'second'}" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        x, y = np.ascontiguousarray(a[k]), np.ascontiguousarray(b[k])
        if x.dtype != y.dtype or x.shape != y.shape:
            out.append(f"{k}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
        elif x.tobytes() != y.tobytes():
            out.append(f"{k}: {int(np.sum(x.view(np.uint8) != y.view(np.uint8)))} bytes differ")
    return out
