"""Validators accept good values, reject bad ones naming the parameter; the notebook check."""

import math
import pathlib

import pytest

from iqlib.notebook.params import (
    Bool,
    Choice,
    Float,
    Int,
    ListOf,
    Optional,
    OutputDir,
    Params,
    Str,
    check_parameters,
)


@pytest.mark.parametrize(
    "validator, value, expected",
    [
        (Int(), 0, 0),
        (Int(lo=1, hi=10), 1, 1),
        (Int(lo=1, hi=10), 10, 10),
        (Float(), 3, 3.0),
        (Float(lo=0.0, hi=1.0), 0.0, 0.0),
        (Float(lo=0.0, hi=1.0, hi_open=True), 0.99, 0.99),
        (Float(allow_inf=True), math.inf, math.inf),
        (Float(lo=0.0, allow_inf=True), math.inf, math.inf),
        (Choice(["chi2", "tv"]), "tv", "tv"),
        (Choice([1, 2]), 2, 2),
        (Str(), "x", "x"),
        (Str(nonempty=False), "", ""),
        (Bool(), False, False),
        (ListOf(Int(lo=0)), (1, 2), [1, 2]),
        (ListOf(Float(), min_len=1, max_len=2), [1], [1.0]),
        (Optional(Float(lo=0.0)), 3, 3.0),
        (Optional(Int()), 0, 0),
    ],
)
def test_validators_accept(validator, value, expected):
    out = validator("p", value)
    assert out == expected
    assert type(out) is type(expected)


@pytest.mark.parametrize(
    "validator, value",
    [
        (Int(), True),
        (Int(), 1.0),
        (Int(), "3"),
        (Int(lo=1), 0),
        (Int(hi=10), 11),
        (Float(), math.nan),
        (Float(allow_inf=True), math.nan),
        (Float(), math.inf),
        (Float(), -math.inf),
        (Float(lo=0.0), math.inf),
        (Optional(Float(lo=0.0)), math.inf),
        (Float(), False),
        (Float(), "0.1"),
        (Float(lo=0.0), -0.1),
        (Float(lo=0.0, lo_open=True), 0.0),
        (Float(hi=1.0, hi_open=True), 1.0),
        (Float(hi=1.0), math.inf),
        (Choice(["chi2", "tv"]), "chi"),
        (Choice([1, 2]), True),
        (Choice([1, 2]), 1.0),
        (Str(), ""),
        (Str(), 3),
        (Bool(), 1),
        (Bool(), "True"),
        (ListOf(Int()), 3),
        (ListOf(Int(), min_len=2), [1]),
        (ListOf(Int(), max_len=1), [1, 2]),
        (OutputDir(), ""),
        (OutputDir(), 3),
        (Optional(Float(lo=0.0)), -1.0),
        (Optional(Int()), "none"),
    ],
)
def test_validators_reject_naming_parameter(validator, value):
    with pytest.raises(ValueError, match="'my_param'") as info:
        validator("my_param", value)
    assert "expected" in str(info.value)


def test_int_message_names_value_and_range():
    with pytest.raises(ValueError) as info:
        Int(lo=1, hi=10)("n_demos", 0)
    message = str(info.value)
    assert "'n_demos'" in message and "0" in message and "[1, 10]" in message


def test_list_item_error_names_index():
    with pytest.raises(ValueError, match=r"'seeds\[1\]'"):
        ListOf(Int(lo=0))("seeds", [0, -1])


def test_output_dir_creates_directory(tmp_path):
    target = tmp_path / "a" / "b"
    out = OutputDir()("output_dir", str(target))
    assert isinstance(out, pathlib.Path)
    assert out == target and target.is_dir()


def test_validators_are_frozen():
    with pytest.raises(AttributeError):
        Int().lo = 3


SPEC = {"output_dir": OutputDir(), "n": Int(lo=1), "gamma": Float(lo=0.0, hi=1.0)}


def test_check_parameters_returns_validated(tmp_path):
    ns = {"output_dir": str(tmp_path / "o"), "n": 3, "gamma": 1, "math": math, "f": len,
          "_private": 5, "__name__": "__main__"}
    P = check_parameters(ns, SPEC)
    assert isinstance(P, Params)
    assert P.n == 3 and P.gamma == 1.0 and isinstance(P.gamma, float)
    assert P.output_dir == tmp_path / "o"
    assert P.to_dict() == {"output_dir": str(tmp_path / "o"), "n": 3, "gamma": 1.0}
    with pytest.raises(AttributeError):
        P.n = 4
    with pytest.raises(AttributeError):
        P.missing


def test_unknown_literal_parameter_is_rejected(tmp_path):
    # What papermill's injected cell looks like after `-p typo 3`.
    ns = {"output_dir": str(tmp_path), "n": 3, "gamma": 0.5, "typo": 3}
    with pytest.raises(ValueError, match=r"unknown parameter 'typo'; known parameters: .*gamma"):
        check_parameters(ns, SPEC)


@pytest.mark.parametrize("value", [None, "s", [1], (1,), {"a": 1}, True, 1.5])
def test_unknown_parameter_any_literal_type(tmp_path, value):
    ns = {"output_dir": str(tmp_path), "n": 3, "gamma": 0.5, "extra": value}
    with pytest.raises(ValueError, match="unknown parameter 'extra'"):
        check_parameters(ns, SPEC)


def test_non_literal_objects_are_ignored(tmp_path):
    class Config:
        pass

    ns = {"output_dir": str(tmp_path), "n": 3, "gamma": 0.5, "Config": Config,
          "cfg": Config(), "pathlib": pathlib}
    assert check_parameters(ns, SPEC).n == 3


def test_missing_parameter(tmp_path):
    with pytest.raises(ValueError, match="missing parameter.*'gamma'"):
        check_parameters({"output_dir": str(tmp_path), "n": 3}, SPEC)


def test_invalid_value_names_parameter(tmp_path):
    with pytest.raises(ValueError, match="'n'"):
        check_parameters({"output_dir": str(tmp_path), "n": 0, "gamma": 0.5}, SPEC)


def test_params_copy_and_pickle():
    import copy
    import pickle

    P = Params({"n": 1, "output_dir": pathlib.Path("o")})
    assert copy.deepcopy(P) == P
    assert pickle.loads(pickle.dumps(P)) == P


def test_as_metrics_is_flat_and_drops_output_dir(tmp_path):
    ns = {"output_dir": str(tmp_path / "o"), "n": 3, "taus": [0.5, 0.9]}
    P = check_parameters(ns, {"output_dir": OutputDir(), "n": Int(1), "taus": ListOf(Float(0.0, 1.0))})
    assert P.as_metrics() == {"n": 3, "taus": "0.5,0.9"}


def test_optional_passes_none_and_says_none_is_allowed():
    assert Optional(Float(lo=0.0))("beta", None) is None
    with pytest.raises(ValueError, match=r"'beta': expected None or a finite number in \[0.0, inf\), got -2"):
        Optional(Float(lo=0.0))("beta", -2)


def test_renamed_parameter_names_its_replacement():
    from iqlib.notebook.params import RENAMED, Float, check_parameters

    assert RENAMED["gamma"] == "discount" and RENAMED["temperature"] == "awr_temperature"
    with pytest.raises(ValueError, match="'gamma' was renamed to 'discount'; pass -p discount 0.5"):
        check_parameters({"discount": 0.9, "gamma": 0.5}, {"discount": Float()})
    # an old name whose new name the notebook does not have is just unknown
    with pytest.raises(ValueError, match="unknown parameter 'gamma'"):
        check_parameters({"n": 0.9, "gamma": 0.5}, {"n": Float()})


def test_docstring_examples_of_the_parameter_kit_hold():
    import doctest

    from iqlib.notebook import names, params, validators

    for module in (params, validators, names):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_float_refuses_infinity_naming_finite():
    with pytest.raises(ValueError, match=r"'chi2_weight': expected a finite number in \[0.0, inf\), got inf"):
        Float(lo=0.0)("chi2_weight", math.inf)
    with pytest.raises(ValueError, match=r"'awr_temperature': expected None or a finite number"):
        Optional(Float(0.0))("awr_temperature", math.inf)
    assert Float(hi=0.0, allow_inf=True)("x", -math.inf) == -math.inf
    with pytest.raises(ValueError, match=r"'chi2_sweep\[1\]': expected a finite number"):
        ListOf(Float())("chi2_sweep", [1.0, math.nan])


def test_require_raises_its_message_and_passes_silently():
    from iqlib.notebook.params import require, require_distinct

    assert require(True, "never") is None
    with pytest.raises(ValueError, match=r"^learning_starts \(5\) must be < total_steps \(3\)$"):
        require(5 < 3, "learning_starts (5) must be < total_steps (3)")
    require_distinct("xs", [1, 2, [3]])
    with pytest.raises(ValueError, match=r"parameter 'xs': expected distinct values .*got \[1, 2, 1\]"):
        require_distinct("xs", [1, 2, 1])


def test_literal_cell_names_reads_parameter_cells_only():
    from iqlib.notebook.params import literal_cell_names

    cells = ["output_dir = 'o'\nn = -3\nxs = [1, 2]", "# Parameters\nx = float('nan')\n",
             "import time\nP = 1", "y = f(2)", "get_ipython().run_line_magic('load_ext', 'autoreload')", "a ="]
    assert literal_cell_names(cells) == {"output_dir", "n", "xs", "x"}


def test_injected_name_overwritten_before_the_check_is_refused(tmp_path, monkeypatch):
    from iqlib.notebook import params

    # `-p time 5` injected, then `import time` ran before check_parameters.
    history = [f"output_dir = {str(tmp_path)!r}\nn = 3\ngamma = 0.5", "time = 5"]
    monkeypatch.setattr(params, "_earlier_cells", lambda: history)
    ns = {"output_dir": str(tmp_path), "n": 3, "gamma": 0.5, "time": math}
    with pytest.raises(ValueError, match=r"unknown parameter 'time' \(set in the parameters or injected cell, "
                                         r"then overwritten"):
        check_parameters(ns, SPEC)
    # a spec name re-assigned by a later literal cell is fine, and so is a module nobody injected
    monkeypatch.setattr(params, "_earlier_cells", lambda: history[:1])
    assert check_parameters(ns, SPEC).n == 3


def test_env_id_checks_registry_action_space_and_demos():
    from iqlib.notebook.params import EnvId

    assert EnvId()("env_id", "iqlib/PointMazeMedium-v0") == "iqlib/PointMazeMedium-v0"
    assert EnvId(action="continuous", demos=True)("env_id", "Pendulum-v1") == "Pendulum-v1"
    with pytest.raises(ValueError, match=r"'env_id': expected a registered gymnasium id .*got 'CartPol-v1'"):
        EnvId()("env_id", "CartPol-v1")
    with pytest.raises(ValueError, match=r"'env_id': expected a gymnasium id with continuous actions"):
        EnvId(action="continuous")("env_id", "CartPole-v1")
    with pytest.raises(ValueError, match=r"'lfo_env_ids\[0\]': expected a gymnasium id with discrete actions"):
        ListOf(EnvId(action="discrete"))("lfo_env_ids", ["Pendulum-v1"])
    with pytest.raises(ValueError, match=r"'env_id': no expert demonstrations for 'MountainCar-v0'"):
        EnvId(demos=True)("env_id", "MountainCar-v0")


def test_dataset_name_and_demo_episodes(tmp_path):
    from iqlib.data.registry import dataset_names
    from iqlib.notebook.params import DatasetName, demo_episodes

    assert DatasetName()("dataset", "hopper-medium-expert") == "hopper-medium-expert"  # derived: two files
    with pytest.raises(ValueError, match=r"'dataset': expected one of .*got 'cartpole-mix'"):
        DatasetName()("dataset", "cartpole-mix")
    assert "cartpole-mixed" in dataset_names()
    assert demo_episodes("CartPole-v1") == 30 and demo_episodes("CartPole-v1", tmp_path) is None
