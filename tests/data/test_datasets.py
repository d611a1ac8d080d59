"""D4RL-style datasets: validation errors, round trip with checksums, episode utilities."""


import numpy as np
import pytest

from iqlib.core.transitions import episode_bounds, episode_returns, normalized_score, scale_rewards_locomotion, select_episodes, shift_rewards, to_transitions, top_fraction_episodes, validate_arrays
from iqlib.data.datasets import load_dataset, save_dataset


def make_arrays(lengths=(3, 2, 4), obs_dim=2, discrete=False, last_timeout=True):
    """Episodes of the given lengths; episode e has reward e+1 on every step."""
    n = sum(lengths)
    rewards = np.concatenate([np.full(L, e + 1.0) for e, L in enumerate(lengths)])
    ends = np.cumsum(lengths) - 1
    terminals, timeouts = np.zeros(n, bool), np.zeros(n, bool)
    terminals[ends[:-1]] = True
    (timeouts if last_timeout else terminals)[ends[-1]] = True
    obs = np.arange(n * obs_dim, dtype=np.float32).reshape(n, obs_dim)
    actions = np.arange(n) % 3 if discrete else np.linspace(-1, 1, n * 2, dtype=np.float32).reshape(n, 2)
    return {"observations": obs, "actions": actions, "rewards": rewards, "terminals": terminals,
            "timeouts": timeouts, "next_observations": obs + 0.5}


def test_episode_utilities():
    t = to_transitions(make_arrays())
    np.testing.assert_array_equal(episode_bounds(t), [[0, 3], [3, 5], [5, 9]])
    np.testing.assert_allclose(episode_returns(t), [3.0, 4.0, 12.0])
    np.testing.assert_array_equal(t.episode_start, [1, 0, 0, 1, 0, 1, 0, 0, 0])
    sub = select_episodes(t, [2, 0])
    np.testing.assert_allclose(episode_returns(sub), [12.0, 3.0])
    best = top_fraction_episodes(t, 0.34)  # one of three episodes: the best
    np.testing.assert_allclose(episode_returns(best), [12.0])
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_episodes(t, 0.0)


def test_reward_conventions_and_normalised_score():
    t = to_transitions(make_arrays())
    scaled = scale_rewards_locomotion(t)  # span of returns 12 − 3 = 9
    np.testing.assert_allclose(scaled.reward, t.reward * 1000.0 / 9.0, rtol=1e-6)
    np.testing.assert_allclose(shift_rewards(t).reward, t.reward - 1.0)
    assert normalized_score(50.0, random_return=-50.0, expert_return=150.0) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        normalized_score(1.0, 2.0, 2.0)


def test_round_trip_with_checksum_and_provenance(tmp_path):
    path = tmp_path / "toy.npz"
    digest = save_dataset(path, make_arrays(discrete=True), {"env_id": "Toy-v0", "seed": 0})
    t, prov = load_dataset(path)
    assert prov["sha256"] == digest and prov["env_id"] == "Toy-v0"
    assert prov["n_episodes"] == 3 and prov["n_transitions"] == 9
    assert prov["return_max"] == pytest.approx(12.0)
    assert t.action.dtype == np.int32 and t.obs.dtype == np.float32
    np.testing.assert_array_equal(t.action, np.arange(9) % 3)
    # tampering is detected
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        load_dataset(path)


def test_missing_file_names_the_make_target(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        load_dataset(tmp_path / "absent.npz")


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.pop("rewards"), "missing keys \\['rewards'\\]"),
    (lambda a: a.__setitem__("rewards", np.r_[a["rewards"][:-1], np.nan]), "rewards has 1 NaN"),
    (lambda a: a.__setitem__("actions", a["actions"][:-1]), "actions has length"),
    (lambda a: a.__setitem__("terminals", a["terminals"] * 2), "terminals must hold only 0/1"),
    (lambda a: a.__setitem__("next_observations", a["next_observations"][:, :1]), "next_observations"),
    (lambda a: a.__setitem__("observations", a["observations"][:0]), "must both be|empty"),
])
def test_bad_inputs_raise_clear_errors(mutate, message):
    arrays = make_arrays()
    mutate(arrays)
    with pytest.raises(ValueError, match=message):
        validate_arrays(arrays, "mydata")
