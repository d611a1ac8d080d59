"""Minari in and out: local Minari datasets through ``load_offline``, ours published as Minari datasets.

Every test works in its own temporary ``MINARI_DATASETS_PATH``; nothing is downloaded.
"""

import warnings

import gymnasium as gym
import gymnasium_robotics
import h5py
import jax
import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer

from iqlib.core.envs import evaluate
from iqlib.core.transitions import Transitions, episode_bounds, episode_returns, to_arrays
from iqlib.data.files import load_npz_verified, load_provenance
from iqlib.data.minari_io import diff_arrays, local_minari_ids, read_minari, write_minari
from iqlib.data.registry import DATA_DIR, dataset_path, load_offline, minari_id, publish_minari
from iqlib.neural import bc
from iqlib.neural.iql import IQLConfig
from iqlib.neural.iql_train import make_train
from iqlib.notebook.names import DatasetName

LIMIT = 100  # the collected CartPole's episode limit: balancing episodes are truncated there
N_GOOD, N_RANDOM = 6, 12
ENDS_ID = "test/cartpole/ends-v0"


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


def _balance(obs) -> int:
    """A linear rule that keeps CartPole's pole up for 500 steps from the resets used here."""
    return int(0.5 * obs[1] + obs[2] + obs[3] > 0)


def _collect_cartpole(dataset_id=ENDS_ID, seed=0):
    """CartPole with a LIMIT-step limit through Minari's DataCollector: N_GOOD episodes of the balancing
    rule (truncated at LIMIT), then N_RANDOM uniform-random ones (terminated when the pole falls)."""
    env = minari.DataCollector(gym.make("CartPole-v1", max_episode_steps=LIMIT))
    rng = np.random.default_rng(seed)
    for e in range(N_GOOD + N_RANDOM):
        obs, _ = env.reset(seed=seed + e)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(_balance(obs) if e < N_GOOD else int(rng.integers(2)))
            done = terminated or truncated
    with warnings.catch_warnings():  # Minari warns about every metadata field left out
        warnings.simplefilter("ignore", UserWarning)
        ds = env.create_dataset(dataset_id, algorithm_name="balancing rule, then uniform random",
                                ref_min_score=20.0, ref_max_score=float(LIMIT), description="test data")
    env.close()
    return ds


def _episodes(env, n, seed=0):
    """n uniform-random episodes of ``env`` as dicts of EpisodeBuffer fields (numpy arrays)."""
    env.action_space.seed(seed)
    out = []
    for e in range(n):
        obs, _ = env.reset(seed=seed + e)
        ep = {"observations": [obs], "actions": [], "rewards": [], "terminations": [], "truncations": []}
        while not (ep["terminations"] and (ep["terminations"][-1] or ep["truncations"][-1])):
            a = env.action_space.sample()
            obs, r, terminated, truncated, _ = env.step(a)
            for k, v in zip(("observations", "actions", "rewards", "terminations", "truncations"),
                            (obs, a, r, terminated, truncated)):
                ep[k].append(v)
        out.append({k: np.asarray(v) for k, v in ep.items()})
    return out


def _write(dataset_id, episodes, env, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return minari.create_dataset_from_buffers(dataset_id, [EpisodeBuffer(**ep) for ep in episodes], env=env,
                                                  **kwargs)


def test_terminal_and_timeout_come_from_terminations_and_truncations():
    _collect_cartpole()
    raw, info = load_offline(ENDS_ID, raw=True)
    episodes = list(minari.load_dataset(ENDS_ID).iterate_episodes())
    bounds = episode_bounds(raw)
    assert len(bounds) == len(episodes) == info["n_episodes"] == N_GOOD + N_RANDOM
    for (s, e), ep in zip(bounds, episodes):
        np.testing.assert_array_equal(raw.obs[s:e], ep.observations[:-1])
        np.testing.assert_array_equal(raw.next_obs[s:e], ep.observations[1:])
        np.testing.assert_array_equal(raw.action[s:e], ep.actions)
        np.testing.assert_array_equal(raw.reward[s:e], ep.rewards)
        np.testing.assert_array_equal(raw.terminal[s:e], ep.terminations)
        np.testing.assert_array_equal(raw.timeout[s:e], ep.truncations)
    lengths, last = bounds[:, 1] - bounds[:, 0], bounds[:, 1] - 1
    # The balancing episodes run into the limit (timeout: bootstrap), the random ones fall (terminal).
    assert np.all(lengths[:N_GOOD] == LIMIT) and np.all(lengths[N_GOOD:] < LIMIT)
    assert np.all(raw.timeout[last[:N_GOOD]] == 1) and np.all(raw.terminal[last[:N_GOOD]] == 0)
    assert np.all(raw.terminal[last[N_GOOD:]] == 1) and np.all(raw.timeout[last[N_GOOD:]] == 0)
    assert raw.terminal.sum() == N_RANDOM and raw.timeout.sum() == N_GOOD  # no flag inside an episode
    assert raw.episode_start.sum() == N_GOOD + N_RANDOM and np.all(raw.episode_start[bounds[:, 0]] == 1)


def test_collected_dataset_trains_iql_and_bc_evaluated_on_the_recovered_env():
    _collect_cartpole()
    t, info = load_offline(ENDS_ID)
    # The recovered spec (CartPole with a LIMIT-step limit) is not CartPole-v1's: it is registered anew.
    assert info["env_id"] == "minari/test-cartpole-ends-v0" and gym.spec(info["env_id"]).max_episode_steps == LIMIT
    assert info["domain"] == "discrete" and info["domain_source"] == "Discrete actions"
    assert (info["ref_random_return"], info["ref_expert_return"]) == (20.0, float(LIMIT))
    assert info["ref_source"].startswith("the dataset's Minari metadata")
    assert np.ptp(episode_returns(t)) == pytest.approx(1000.0, rel=1e-5)  # the discrete reward convention
    _, lengths = evaluate(info["env_id"], lambda obs, key: np.array([_balance(o) for o in obs]), 3, seed=500,
                          return_lengths=True)
    assert np.all(lengths == LIMIT)  # the rule survives: the episodes end at the recovered limit, not at 500

    keys = jax.random.split(jax.random.key(0), 2)
    cfg = IQLConfig.for_domain(info["domain"], hidden=(32, 32), batch_size=64)
    _, metrics, steps, iql_returns = make_train(cfg, t, 400, chunk_size=400).run_with_evaluation(
        keys, info["env_id"], 3, seed=1000)
    _, _, _, bc_returns = bc.make_train(bc.BCConfig(hidden=(32, 32), batch_size=64), t, 400, chunk_size=400
                                        ).run_with_evaluation(keys, info["env_id"], 3, seed=1000)
    assert steps.tolist() == [400] and iql_returns.shape == bc_returns.shape == (2, 1)
    assert np.all(np.isfinite(np.asarray(metrics["critic_loss"])))
    # A third of the data is the balancing rule: both learners act far better than the random reference (20).
    for returns in (iql_returns, bc_returns):
        assert np.all(returns >= 2 * info["ref_random_return"]) and np.all(returns <= LIMIT)


@pytest.mark.parametrize("case, match", [
    ("missing key", r"Minari dataset 'test/bad-v0': episode 1 cannot be read .*rewards"),
    ("short actions", r"Minari dataset 'test/bad-v0': episode 0 has (\d+) rewards but actions \d+ \(expected \1\)"),
    ("short observations", r"'test/bad-v0': episode 2 has (\d+) rewards but observations \1 \(expected \d+\)"),
    ("nan reward", r"Minari dataset 'test/bad-v0': rewards has 1 NaN/inf values"),
    ("early end", r"'test/bad-v0': episode 0 ends \(termination or truncation\) at step 1 of"),
    ("action out of the set", r"'test/bad-v0': actions must lie in \[0, 2\)"),
])
def test_bad_layouts_get_errors_naming_the_dataset_and_the_fault(minari_root, case, match):
    eps = _episodes(gym.make("CartPole-v1"), 3)
    if case == "short actions":
        eps[0]["actions"] = eps[0]["actions"][:-1]
    elif case == "short observations":
        eps[2]["observations"] = eps[2]["observations"][:-1]
    elif case == "nan reward":
        eps[1]["rewards"][2] = np.nan
    elif case == "early end":
        eps[0]["terminations"][1] = True
    elif case == "action out of the set":
        eps[1]["actions"][0] = 2
    _write("test/bad-v0", eps, "CartPole-v1")
    if case == "missing key":
        with h5py.File(minari_root / "test/bad-v0/data/main_data.hdf5", "a") as f:
            del f["episode_1/rewards"]
    with pytest.raises(ValueError, match=match):
        load_offline("test/bad-v0")


def test_unknown_or_malformed_ids_are_refused_by_the_loader_and_the_notebook_validator():
    _write("test/good-v0", _episodes(gym.make("CartPole-v1"), 2), "CartPole-v1")
    assert local_minari_ids() == ["test/good-v0"]
    assert DatasetName()("dataset", "test/good-v0") == "test/good-v0"
    with pytest.raises(ValueError, match=r"unknown Minari dataset 'test/absent-v0'.*local ids: \['test/good-v0'\]"):
        load_offline("test/absent-v0")
    with pytest.raises(ValueError, match=r"parameter 'datasets\[0\]': unknown Minari dataset 'mujoco/hopper/x-v0'"):
        DatasetName()("datasets[0]", "mujoco/hopper/x-v0")
    with pytest.raises(ValueError, match=r"Minari dataset 'test/good': not a Minari id"):
        load_offline("test/good")
    with pytest.raises(ValueError, match="Minari ids only"):
        load_offline("cartpole-mixed", rescale_actions=True)


def test_box_actions_outside_the_unit_box_are_refused_or_rescaled_on_request():
    env = gym.make("Pendulum-v1", max_episode_steps=30)  # actions in [-2, 2]
    eps = _episodes(env, 2)
    _write("test/pendulum/random-v0", eps, env)
    with pytest.raises(ValueError, match=r"'test/pendulum/random-v0': the Box action space is \[\[-2.0\], \[2.0\]\], "
                                         r"not \[-1, 1\].*rescale_actions=True"):
        load_offline("test/pendulum/random-v0")
    with pytest.raises(ValueError, match=r"no reference returns.*pass ref_scores"):
        load_offline("test/pendulum/random-v0", rescale_actions=True)
    t, info = load_offline("test/pendulum/random-v0", rescale_actions=True, ref_scores=(-1200.0, -150.0), raw=True)
    np.testing.assert_allclose(t.action, np.concatenate([e["actions"] for e in eps]) / 2.0, rtol=1e-6)
    assert info["minari"]["actions_rescaled"] and info["domain"] == "locomotion"
    assert info["ref_source"] == "the ref_scores argument" and info["ref_random_return"] == -1200.0
    # make_env rescales the recovered env (limit 30) back: [-1, 1] → [-2, 2], as the rescaled data assume.
    _, lengths = evaluate(info["env_id"], lambda obs, key: np.ones((len(obs), 1)), 2, seed=0, return_lengths=True)
    assert np.all(lengths == 30)
    eps[0]["actions"][0] = 3.0  # outside the dataset's own space
    _write("test/pendulum/broken-v0", eps, env)
    with pytest.raises(ValueError, match=r"'test/pendulum/broken-v0': actions .* inside their space"):
        load_offline("test/pendulum/broken-v0", rescale_actions=True, ref_scores=(0.0, 1.0))


def test_dict_observations_are_refused_unless_flattened_like_gymnasium():
    gym.register_envs(gymnasium_robotics)
    env = minari.DataCollector(gym.make("PointMaze_UMaze-v3", max_episode_steps=15))  # Dict obs, as D4RL/pointmaze
    env.action_space.seed(0)
    firsts = []
    for e in range(2):
        firsts.append(env.reset(seed=e)[0])
        done = False
        while not done:
            done = any(env.step(env.action_space.sample())[2:4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        env.create_dataset("test/pointmaze/umaze-v0", algorithm_name="uniform random")
    with pytest.raises(ValueError, match=r"'test/pointmaze/umaze-v0': observations of Dict.* are not a Box; "
                                         r"pass flatten_obs=True"):
        load_offline("test/pointmaze/umaze-v0")
    t, info = load_offline("test/pointmaze/umaze-v0", flatten_obs=True, ref_scores=(0.0, 1.0), raw=True)
    starts = np.flatnonzero(t.episode_start)
    for start, first in zip(starts, firsts):  # the order of gymnasium.spaces.flatten (keys sorted)
        np.testing.assert_array_equal(t.obs[start], gym.spaces.flatten(env.observation_space, first).astype(np.float32))
    assert t.obs.shape == (30, 8) and len(starts) == 2
    assert info["domain"] == "maze" and info["minari"]["observations_flattened"]
    assert info["env_id"] == "minari/test-pointmaze-umaze-flat-v0"
    env.close()
    _, lengths = evaluate(info["env_id"], lambda obs, key: np.zeros((len(obs), 2)), 1, seed=0, return_lengths=True)
    assert lengths.tolist() == [15]  # the registered env flattens its observations as the data were


@pytest.mark.parametrize("name", ["halfcheetah-medium-replay", "lunarlander-mixed"])  # continuous, discrete
def test_round_trip_of_a_committed_set_through_minari_is_bit_identical(name):
    if not dataset_path(name).is_file():
        pytest.skip(f"{name} not generated yet")
    mid = publish_minari(name)
    assert mid == minari_id(name) == f"iqlib/{name.split('-')[0]}/{name.split('-', 1)[1]}-v0"
    assert mid in local_minari_ids()
    back, meta = read_minari(mid)
    assert diff_arrays(load_npz_verified(dataset_path(name)), to_arrays(back)) == []
    (ours, info_ours), (theirs, info_theirs) = load_offline(name), load_offline(mid)
    assert diff_arrays(to_arrays(ours), to_arrays(theirs)) == []  # the same after the reward convention
    for key in ("env_id", "domain", "ref_random_return", "ref_expert_return", "reward_scale", "n_episodes"):
        assert info_theirs[key] == info_ours[key], key
    prov = load_provenance(dataset_path(name))
    assert info_theirs["provenance"] == prov
    ds = minari.load_dataset(mid)
    assert ds.recover_environment(eval_env=True).spec.id == info_ours["env_id"]
    assert float(minari.get_normalized_score(ds, np.float64(prov["ref_expert_return"]))) == 1.0
    description = ds.storage.metadata["description"]
    assert prov["generated_by"] in description and f"seed {prov['seed']}" in description


def test_diff_arrays_sees_one_flipped_bit_and_a_dtype_change():
    arrays = load_npz_verified(DATA_DIR / "halfcheetah-medium-replay.npz") if dataset_path(
        "halfcheetah-medium-replay").is_file() else {"rewards": np.arange(10, dtype=np.float32)}
    other = {k: v.copy() for k, v in arrays.items()}
    other["rewards"].view(np.uint32)[5] ^= 1  # the last bit of one float32
    assert diff_arrays(arrays, other) == ["rewards: 1 bytes differ"]
    other["rewards"] = arrays["rewards"].astype(np.float64)
    assert diff_arrays(arrays, other)[0].startswith("rewards: float32")


def test_write_refuses_an_episode_minari_cannot_hold_exactly():
    obs = np.arange(12, dtype=np.float32).reshape(4, 3)
    nxt = obs + 3.0
    nxt[1] += 0.5  # next_obs[1] != obs[2]
    t = Transitions(obs, np.zeros(4, np.int32), np.ones(4, np.float32), nxt, np.zeros(4, np.float32),
                    np.array([0, 0, 0, 1], np.float32), np.array([1, 0, 0, 0], np.float32))
    with pytest.raises(ValueError, match=r"test/x-v0: episode 0 \(steps 0..3\) has next_obs\[t\] != obs\[t \+ 1\]"):
        write_minari(t, "test/x-v0", "CartPole-v1", ref_min_score=0.0, ref_max_score=1.0, description="",
                     algorithm_name="")


@pytest.mark.notebooks
def test_notebook_09_runs_from_a_minari_id(tmp_path):
    """`-p datasets '["test/cartpole/ends-v0"]'`: the notebook validates, trains, evaluates and writes its curves."""
    import json

    from iqlib.notebook.runner import REPO_ROOT, execute_notebook

    _collect_cartpole()
    out = tmp_path / "09"
    execute_notebook(REPO_ROOT / "notebooks" / "09_iql_offline.py", out,
                     {"datasets": [ENDS_ID], "n_seeds": 2, "train_steps": 100, "eval_every": 50, "eval_episodes": 1,
                      "hidden": 16})
    m = json.loads((out / "metrics.json").read_text())
    assert "Minari metadata" in m[f"{ENDS_ID}_ref_source"]
    gap = m[f"{ENDS_ID}_iql_score_mean"] - m[f"{ENDS_ID}_bc_score_mean"]
    assert m["claim_test_cartpole_ends_v0_iql_ge_bc_value"] == pytest.approx(gap)
    curves = json.loads((out / "curves_test--cartpole--ends-v0.json").read_text())
    assert curves["x"] == [50, 100] and np.asarray(curves["series"]["iql"]).shape == (2, 2)
