"""Tests for iqlib.tabular.mdp.TabularMDP validation and iqlib.problems.random_mdp (small and fast)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.tabular.mdp import TabularMDP
from iqlib.problems.random_mdp import random_mdp

S, A = 4, 2


@pytest.fixture(autouse=True)
def _x64():
    """float64 inside each test only, so nothing leaks into other test files."""
    with jax.enable_x64(True):
        yield


def valid_inputs():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(S), size=(S, A))  # (S, A, S)
    return dict(P=P, r=rng.normal(size=(S, A)), p0=np.full(S, 1.0 / S), discount=0.9, entropy_temperature=0.5)


def test_valid_mdp_is_stored_as_arrays():
    mdp = TabularMDP(**valid_inputs())
    assert (mdp.n_states, mdp.n_actions) == (S, A)
    assert isinstance(mdp.P, jax.Array) and mdp.P.shape == (S, A, S) and mdp.P.dtype == jnp.float64
    assert mdp.r.shape == (S, A) and mdp.p0.shape == (S,)
    assert isinstance(mdp.discount, float) and isinstance(mdp.entropy_temperature, float)


def _bad_P(kind):
    P = valid_inputs()["P"]
    if kind == "2d":
        return P[:, :, 0]
    if kind == "not square":
        return P[:, :, :-1]
    if kind == "negative":
        P = P.copy()
        P[1, 0, 0] -= 2.0
        P[1, 0, 1] += 2.0  # still sums to 1
        return P
    if kind == "row sum":
        P = P.copy()
        P[2, 1] *= 1.1
        return P
    if kind == "nan":
        P = P.copy()
        P[0, 0, 0] = np.nan
        return P
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("2d", r"P must have shape \(S, A, S\)"),
        ("not square", r"P must have shape \(S, A, S\)"),
        ("negative", r"P must be non-negative; P\[1, 0, 0\]"),
        ("row sum", r"P\[s, a, :\] must sum to 1 .*P\[2, 1, :\] sums to 1\.1"),
        ("nan", r"P has non-finite entries"),
    ],
)
def test_bad_transitions_raise_naming_P(kind, message):
    with pytest.raises(ValueError, match=message):
        TabularMDP(**{**valid_inputs(), "P": _bad_P(kind)})


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("r", np.zeros((S, A + 1)), r"r must have shape \(S, A\) = \(4, 2\)"),
        ("r", np.zeros(S), r"r must have shape"),
        ("r", np.full((S, A), np.inf), r"r has non-finite entries"),
        ("p0", np.full(S + 1, 1.0 / (S + 1)), r"p0 must have shape \(S,\) = \(4,\)"),
        ("p0", np.full(S, 0.5), r"p0 must be a probability vector.*sum = 2"),
        ("p0", np.array([1.5, -0.5, 0.0, 0.0]), r"p0 must be a probability vector"),
        ("discount", 1.0, r"discount must satisfy 0 <= discount < 1, got 1\.0"),
        ("discount", 1.5, r"discount must satisfy"),
        ("discount", -0.1, r"discount must satisfy"),
        ("discount", float("nan"), r"discount must satisfy"),
        ("entropy_temperature", 0.0, r"entropy_temperature must be a finite number > 0, got 0\.0"),
        ("entropy_temperature", -1.0, r"entropy_temperature must be"),
        ("entropy_temperature", float("nan"), r"entropy_temperature must be.*nan"),
        ("entropy_temperature", float("inf"), r"entropy_temperature must be"),
    ],
)
def test_bad_inputs_raise_naming_the_input(field, value, message):
    with pytest.raises(ValueError, match=message):
        TabularMDP(**{**valid_inputs(), field: value})


def test_discount_zero_is_allowed():
    assert TabularMDP(**{**valid_inputs(), "discount": 0.0}).discount == 0.0


def test_replace_round_trips_and_revalidates():
    inputs = valid_inputs()
    mdp = TabularMDP(**inputs)
    same = mdp.replace()
    for name in ("P", "r", "p0"):
        np.testing.assert_array_equal(getattr(same, name), getattr(mdp, name))
    assert (same.discount, same.entropy_temperature) == (mdp.discount, mdp.entropy_temperature)

    r_new = inputs["r"] + 1.0
    changed = mdp.replace(r=r_new, discount=0.5)
    np.testing.assert_array_equal(changed.r, r_new)
    np.testing.assert_array_equal(changed.P, mdp.P)
    assert changed.discount == 0.5 and changed.entropy_temperature == mdp.entropy_temperature
    np.testing.assert_array_equal(mdp.r, inputs["r"])  # the original is untouched (frozen)
    back = changed.replace(r=mdp.r, discount=mdp.discount)
    np.testing.assert_array_equal(back.r, mdp.r)
    assert back.discount == mdp.discount

    with pytest.raises(ValueError, match="discount"):
        mdp.replace(discount=1.0)
    with pytest.raises(ValueError, match="r must have shape"):
        mdp.replace(r=np.zeros((A, S)))


def test_frozen():
    mdp = TabularMDP(**valid_inputs())
    with pytest.raises(AttributeError):
        mdp.discount = 0.5


# ---------------------------------------------------------------- random_mdp


def test_random_mdp_shapes_rows_and_branching():
    mdp = random_mdp(jax.random.key(0), 7, 3, 0.95, 0.2, branching=2)
    P = np.asarray(mdp.P)
    assert P.shape == (7, 3, 7) and mdp.r.shape == (7, 3) and mdp.p0.shape == (7,)
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    assert np.all((P > 0).sum(-1) == 2)
    np.testing.assert_allclose(mdp.p0, 1.0 / 7)
    assert (mdp.discount, mdp.entropy_temperature) == (0.95, 0.2)


def test_random_mdp_is_seeded_and_independent_of_x64():
    a = random_mdp(jax.random.key(3), 5, 2, 0.9)
    b = random_mdp(jax.random.key(3), 5, 2, 0.9)
    c = random_mdp(jax.random.key(4), 5, 2, 0.9)
    np.testing.assert_array_equal(a.P, b.P)
    np.testing.assert_array_equal(a.r, b.r)
    assert not np.allclose(a.r, c.r)
    with jax.enable_x64(False):
        d = random_mdp(jax.random.key(3), 5, 2, 0.9)
    np.testing.assert_allclose(np.asarray(d.P), np.asarray(a.P), atol=1e-7)
    np.testing.assert_allclose(np.asarray(d.r), np.asarray(a.r), atol=1e-6)


def test_random_mdp_random_p0():
    mdp = random_mdp(jax.random.key(1), 6, 2, 0.9, p0_concentration=1.0)
    assert abs(float(mdp.p0.sum()) - 1.0) < 1e-12 and float(mdp.p0.std()) > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_states=0), "n_states"),
        (dict(n_actions=1.5), "n_actions"),
        (dict(branching=5), r"branching must be in \[1, n_states\]"),
        (dict(reward_scale=-1.0), "reward_scale"),
        (dict(p0_concentration=0.0), "p0_concentration"),
        (dict(discount=1.0), "discount"),
        (dict(entropy_temperature=0.0), "entropy_temperature"),
    ],
)
def test_random_mdp_errors(kwargs, message):
    args = dict(n_states=4, n_actions=2, discount=0.9, entropy_temperature=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        random_mdp(jax.random.key(0), **args)
