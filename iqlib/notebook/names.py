"""Validators of names that must exist: env ids, offline datasets, demo files.

:class:`EnvId` checks gymnasium's registry (with the project's own ``iqlib/...`` ids, which
:mod:`iqlib.core.envs` registers) and optionally the action space and the demo file;
:class:`DatasetName` the offline registry and its files (or, for a Minari id, the local Minari
root); :func:`demo_episodes` counts the episodes of a demo file. A notebook's validation cell
uses them to refuse a bad name before any work, instead of failing minutes later inside a driver.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from iqlib.core.envs import ENV_IDS, env_spec
from iqlib.core.transitions import episode_bounds
from iqlib.data.datasets import load_dataset
from iqlib.data.demos import DEMOS_DIR
from iqlib.data.files import read_json
from iqlib.data.minari_io import is_minari_id, local_minari_ids, minari_root
from iqlib.data.registry import dataset_names, dataset_path
from iqlib.notebook.validators import _fail

__all__ = ["EnvId", "DatasetName", "demo_episodes"]


def demo_episodes(env_id: str, demos_dir: str | pathlib.Path | None = None) -> int | None:
    """Episodes in ``<demos_dir>/<env_id>.npz`` (default ``data/demos``), None if there is no file.

    Read from the provenance record's ``n_episodes`` when there is one (cheap), else from the file.
    """
    path = pathlib.Path(demos_dir or DEMOS_DIR) / f"{env_id}.npz"
    if not path.is_file():
        return None
    record = path.with_name(f"{env_id}.provenance.json")
    if record.is_file() and isinstance(read_json(record).get("n_episodes"), int):
        return int(read_json(record)["n_episodes"])
    return len(episode_bounds(load_dataset(path)[0]))


@dataclass(frozen=True)
class EnvId:
    """A registered gymnasium id (``iqlib.core.envs`` registers the project's ``iqlib/...`` ids).

    ``action="discrete"`` / ``"continuous"`` also checks the action space (by making the
    environment once); ``demos=True`` that ``data/demos/<id>.npz`` exists.

    >>> EnvId(action="discrete", demos=True)("env_id", "CartPole-v1")
    'CartPole-v1'
    >>> EnvId()("env_id", "Pendulum-v0")
    Traceback (most recent call last):
    ...
    ValueError: parameter 'env_id': expected a registered gymnasium id (ours: CartPole-v1, Acrobot-v1, LunarLander-v3, Pendulum-v1, Hopper-v5, HalfCheetah-v5), got 'Pendulum-v0'
    """

    action: str | None = None
    demos: bool = False

    def __call__(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in gym.registry:
            raise _fail(name, value, f"a registered gymnasium id (ours: {', '.join(ENV_IDS)})")
        if self.demos and demo_episodes(value) is None:
            raise ValueError(f"parameter {name!r}: no expert demonstrations for {value!r} in {DEMOS_DIR} "
                             f"(files there: {sorted(p.stem for p in DEMOS_DIR.glob('*.npz'))})")
        if self.action is not None:
            discrete = env_spec(value)["discrete"]
            if discrete != (self.action == "discrete"):
                raise _fail(name, value, f"a gymnasium id with {self.action} actions")
        return value


@dataclass(frozen=True)
class DatasetName:
    """A registered offline dataset (``iqlib.data.registry.dataset_names()``) whose files exist, or the id
    of a dataset in the local Minari root (a name with a ``/``, e.g. ``mujoco/hopper/medium-v0``; see
    :func:`iqlib.data.minari_io.local_minari_ids`: nothing is downloaded).

    >>> DatasetName()("dataset", "cartpole-mixed")
    'cartpole-mixed'
    """

    def __call__(self, name: str, value: Any) -> str:
        if is_minari_id(value):
            ids = local_minari_ids()
            if value not in ids:
                raise ValueError(f"parameter {name!r}: unknown Minari dataset {value!r}: not in the local Minari root "
                                 f"{minari_root()} (set MINARI_DATASETS_PATH to choose the root); local ids: {ids}. "
                                 f"Nothing is downloaded: `minari download {value}` fetches a remote one, "
                                 "`make minari` publishes the project's own")
            return value
        names = dataset_names()
        if not isinstance(value, str) or value not in names:
            raise _fail(name, value, f"one of {names!r} or the id of a local Minari dataset (with a '/')")
        parts = ([value[: -len("-expert")], value[: -len("-medium-expert")] + "-expert"]
                 if value.endswith("-medium-expert") else [value])
        for part in parts:
            path = dataset_path(part)
            if not path.is_file():
                raise ValueError(f"parameter {name!r}: dataset {value!r} needs {path}, which does not exist")
        return value
