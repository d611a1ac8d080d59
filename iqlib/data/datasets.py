"""Datasets on disk: a D4RL-layout ``.npz`` beside its provenance record, checked by sha256.

``save_dataset`` validates the arrays (:func:`iqlib.core.transitions.to_transitions`), adds
episode statistics to the provenance and writes both atomically; ``load_dataset`` checks the
digest and the arrays and returns :class:`~iqlib.core.transitions.Transitions`.
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

from iqlib.core.transitions import Transitions, episode_returns, to_arrays, to_transitions
from iqlib.data.files import load_npz_verified, load_provenance, save_npz_with_provenance

__all__ = ["save_dataset", "load_dataset"]


def save_dataset(path, t: Transitions | Mapping[str, Any], provenance: Mapping[str, Any],
                 n_actions: int | None = None) -> str:
    """Validate and write a dataset and its provenance record atomically (mode 0644); return sha256.

    The provenance gains ``n_transitions``, ``n_episodes`` and return statistics
    (``return_mean/std/min/max``, over complete and truncated episodes alike).

    Raises:
      ValueError: naming ``path`` and the key, for arrays that break a rule of
        :func:`iqlib.core.transitions.validate_arrays` (discrete actions checked against
        ``n_actions`` when given), or a provenance that sets ``file`` / ``sha256``.
    """
    arrays = to_arrays(t) if isinstance(t, Transitions) else dict(t)
    tr = to_transitions(arrays, str(path), n_actions)
    rets = episode_returns(tr)
    stats = {"n_transitions": int(tr.obs.shape[0]), "n_episodes": int(rets.size),
             "return_mean": float(rets.mean()), "return_std": float(rets.std()),
             "return_min": float(rets.min()), "return_max": float(rets.max())}
    return save_npz_with_provenance(path, to_arrays(tr), {**provenance, **stats})


def load_dataset(path, n_actions: int | None = None) -> tuple[Transitions, dict]:
    """Load ``path`` (npz) after checking its sha256; return ``(transitions, provenance)``.

    ``n_actions``: the number of discrete actions, when known (actions are checked against it).

    Raises:
      FileNotFoundError: if the npz or its provenance record is missing (the message names the
        file and the make target that regenerates data).
      ValueError: naming the file, on a broken provenance record (invalid JSON, no ``sha256``),
        a checksum mismatch, an unreadable npz or arrays that break a rule of
        :func:`iqlib.core.transitions.validate_arrays`.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {str(path)!r} not found; regenerate data with `make data`")
    arrays = load_npz_verified(path)
    return to_transitions(arrays, str(path), n_actions), load_provenance(path)
