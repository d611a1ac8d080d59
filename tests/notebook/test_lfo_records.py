"""Notebook 06's LfO record labels (iqlib.notebook.lfo_records): the defaults of records made before a
setting existed, and the critic-on-model suffix."""

import doctest
import math

import iqlib.notebook.lfo_records as lfo_records
from iqlib.notebook.lfo_records import action_model_label, metric, terminal_label


def test_labels_read_a_records_settings_and_fall_back_to_the_defaults():
    old = {"lfo_env_ids": ["LunarLander-v3"]}  # a record from before the settings existed
    assert (action_model_label(old), terminal_label(old)) == ("dynamics", "value")
    p = {"lfo_action_model": "dynamics", "lfo_absorbing": "learned", "lfo_critic_on_model": True}
    assert (action_model_label(p), terminal_label(p)) == ("dynamics (critic on model)", "learned")
    assert action_model_label({"lfo_action_model": "regression", "lfo_critic_on_model": False}) == "regression"


def test_metric_reads_null_and_missing_as_nan():
    assert metric({"a": 2}, "a") == 2.0 and isinstance(metric({"a": 2}, "a"), float)
    assert math.isnan(metric({"a": None}, "a")) and math.isnan(metric({}, "a"))


def test_docstring_examples_hold():
    assert doctest.testmod(lfo_records).failed == 0
