"""How notebook 06's learning-from-observations records are labelled: one home for the labels.

A record of ``06_iq_learn_online_continuous`` names its LfO settings in its parameters, each absent
from records made before the setting existed (absent means the notebook's default then and now).
Notebook 06's records table and ``scripts/readme_tables.py`` label rows with these functions, so
both show the same words.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

__all__ = ["action_model_label", "terminal_label", "metric"]


def action_model_label(parameters: Mapping[str, Any]) -> str:
    """How a run's LfO critic Q(s, s') became action values: ``lfo_action_model`` (default
    ``"dynamics"``), with ``" (critic on model)"`` appended when ``lfo_critic_on_model`` was set.

    >>> action_model_label({}), action_model_label({"lfo_action_model": "regression"})
    ('dynamics', 'regression')
    >>> action_model_label({"lfo_critic_on_model": True})
    'dynamics (critic on model)'
    """
    label = parameters.get("lfo_action_model") or "dynamics"
    return label + (" (critic on model)" if parameters.get("lfo_critic_on_model") else "")


def terminal_label(parameters: Mapping[str, Any]) -> str:
    """What a terminal row bootstrapped from: ``lfo_absorbing`` (default ``"value"``, the fixed V_abs).

    >>> terminal_label({}), terminal_label({"lfo_absorbing": "mask"})
    ('value', 'mask')
    """
    return parameters.get("lfo_absorbing") or "value"


def metric(metrics: Mapping[str, Any], key: str) -> float:
    """A record's number as a float: NaN where ``metrics.json`` stores null (NaN) or lacks the key
    (records made before the metric existed).

    >>> metric({"a": 1}, "a"), math.isnan(metric({"a": None}, "a")), math.isnan(metric({}, "b"))
    (1.0, True, True)
    """
    value = metrics.get(key)
    return math.nan if value is None else float(value)
