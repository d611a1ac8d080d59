"""IQL offline-to-online fine-tuning (iqlib.neural.iql_finetune): buffer, reward convention, flags, runs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.neural.offline import sample_batch
from iqlib.core.transitions import Transitions
from iqlib.neural.iql import IQLConfig, td_target
from iqlib.neural.iql_finetune import finetune, init_buffer, reward_transform, train_from_scratch, uniform_view
from iqlib.neural.iql_train import make_train
from iqlib.neural.online import make_update_chunk
from iqlib.data.registry import load_offline
from iqlib.notebook.runner import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "notebooks" / "10_iql_offline_to_online.py"
TINY = IQLConfig.discrete(hidden=(16, 16), batch_size=32, cosine_actor_lr=False)
TINY_MAZE = IQLConfig.maze(hidden=(16, 16), batch_size=32, cosine_actor_lr=False)


def _subset(t: Transitions, n: int) -> Transitions:
    return Transitions(*(np.asarray(x)[:n] for x in t))


@pytest.fixture(scope="module")
def cartpole():
    data, info = load_offline("cartpole-mixed")
    return _subset(data, 2000), info


@pytest.fixture(scope="module")
def cartpole_run(cartpole):
    data, info = cartpole
    state, _ = make_train(TINY, data, 100, chunk_size=100)(jax.random.key(0))
    before = jax.tree_util.tree_map(np.array, state.actor.params)
    res = finetune(TINY, state, data, info["env_id"], 400, reward_fn=reward_transform(info), seed=1,
                   train_freq=200, eval_every=400, eval_episodes=1)
    return res, state, before


def test_buffer_starts_with_exactly_the_offline_data(cartpole):
    data, _ = cartpole
    buf = init_buffer(data, online_steps=123)
    assert buf.capacity == 2000 + 123 and buf.size == 2000
    for name, x, y in zip(Transitions._fields, buf.arrays(), data):
        np.testing.assert_array_equal(x, np.asarray(y), err_msg=name)


def test_reward_transform_applies_the_dataset_convention(cartpole):
    _, info = cartpole
    r = np.array([0.0, 1.0, 2.5])
    np.testing.assert_allclose(reward_transform({"reward_shift": -1.0})(r), [-1.0, 0.0, 1.5])
    np.testing.assert_allclose(reward_transform(info)(r), r * info["reward_scale"], rtol=1e-6)
    np.testing.assert_allclose(reward_transform(None)(r), r)
    with pytest.raises(ValueError, match="reward_shift"):
        reward_transform({"name": "raw"})


def test_online_chunk_samples_uniformly_from_the_filled_rows():
    cap, size = 1000, 50
    data = Transitions(obs=jnp.zeros((cap, 1)), action=jnp.zeros((cap, 1)), reward=jnp.arange(cap, dtype=jnp.float32),
                       next_obs=jnp.zeros((cap, 1)), terminal=jnp.zeros(cap), timeout=jnp.zeros(cap),
                       episode_start=jnp.zeros(cap))

    def update(key, view):  # draws a minibatch exactly as the IQL update does
        key, k = jax.random.split(key)
        return key, sample_batch(k, view, 256).reward

    chunk = make_update_chunk(update, uniform_view(256), 40)  # one seed: leading axes of length 1
    seeded = jax.tree_util.tree_map(lambda x: x[None], data)
    _, drawn = chunk((jax.random.split(jax.random.key(0), 1), jax.random.split(jax.random.key(1), 1)), seeded,
                     jnp.asarray([size]))
    drawn = np.asarray(drawn).ravel()  # 40 × 256 draws
    assert drawn.max() < size and drawn.min() >= 0  # never an unfilled row
    counts = np.bincount(drawn.astype(int), minlength=size)
    expected = drawn.size / size
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 100.0  # 49 dof: mean 49, sd ≈ 10 (one shared resample per chunk gave ≈ 370)


def test_finetune_stores_online_transitions_with_convention_and_flags(cartpole_run, cartpole):
    res, _, _ = cartpole_run
    data, info = cartpole
    n = len(data.reward)
    assert res.buffer.size == n + 400
    online = Transitions(*(x[n:] for x in res.buffer.arrays()))
    # CartPole pays +1 per step: every stored online reward is the dataset's scale, not 1
    np.testing.assert_allclose(online.reward, info["reward_scale"], rtol=1e-6)
    assert info["reward_scale"] != pytest.approx(1.0)
    # terminal exactly where the pole fell or the cart left the track (CartPole's termination)
    fell = (np.abs(online.next_obs[:, 0]) > 2.4) | (np.abs(online.next_obs[:, 2]) > 12 * 2 * np.pi / 360)
    np.testing.assert_array_equal(online.terminal, fell.astype(np.float32))
    assert online.terminal.sum() >= 1 and online.timeout.sum() == 0
    ends = np.flatnonzero(online.terminal)
    assert online.episode_start[0] == 1 and np.all(online.episode_start[ends[ends < 399] + 1] == 1)
    np.testing.assert_allclose(res.episode_steps, ends + 1)
    # terminals do not bootstrap: the TD target is the reward alone
    y = td_target(online.reward, online.terminal, np.full(400, 7.0, np.float32), 0.99)
    np.testing.assert_allclose(y[ends], online.reward[ends])


def test_finetune_changes_params_and_keeps_callers_state(cartpole_run):
    res, state, before = cartpole_run
    assert res.metrics["critic_loss"].shape == (400,)
    assert res.eval_steps.tolist() == [0, 400] and res.eval_returns.shape == (2, 1)
    diffs = [np.max(np.abs(np.asarray(a) - b)) for a, b in zip(jax.tree_util.tree_leaves(res.state.actor.params),
                                                               jax.tree_util.tree_leaves(before))]
    assert max(diffs) > 1e-4
    # the pre-trained state passed in is still valid (not donated to the compiled chunk)
    np.testing.assert_array_equal(np.asarray(jax.tree_util.tree_leaves(state.actor.params)[0]),
                                  jax.tree_util.tree_leaves(before)[0])
    assert int(res.state.step) == int(state.step) + 400


def test_maze_timeouts_bootstrap_and_rewards_are_shifted():
    data, info = load_offline("pointmaze-medium-stitch")
    data = _subset(data, 3000)
    state, _ = make_train(TINY_MAZE, data, 50, chunk_size=50)(jax.random.key(0))
    res = finetune(TINY_MAZE, state, data, info["env_id"], 600, reward_fn=reward_transform(info),
                   train_freq=300, eval_every=600, eval_episodes=1)
    online = Transitions(*(x[3000:] for x in res.buffer.arrays()))
    assert online.terminal.sum() == 0  # the maze never terminates
    np.testing.assert_array_equal(np.flatnonzero(online.timeout), [599])  # truncated by the 600-step limit
    # sparse reward 1[‖p' − g‖ ≤ 0.5] shifted by −1
    goal = np.array(info["provenance"]["eval_goal_xy"])
    at_goal = np.linalg.norm(online.next_obs[:, :2] - goal, axis=1) <= 0.5
    np.testing.assert_allclose(online.reward, at_goal.astype(np.float32) - 1.0)
    y = td_target(online.reward, online.terminal, np.full(600, 7.0, np.float32), 0.99)
    assert y[599] == pytest.approx(online.reward[599] + 0.99 * 7.0)  # timeout: bootstraps


def test_from_scratch_starts_empty_and_updates_after_learning_starts(cartpole):
    _, info = cartpole
    res = train_from_scratch(TINY, info["env_id"], 400, reward_fn=reward_transform(info), learning_starts=200,
                             train_freq=200, eval_every=200, eval_episodes=1)
    assert res.buffer.capacity == 400 and res.buffer.size == 400
    assert res.metrics["critic_loss"].shape == (200,)  # no updates during the random steps
    assert int(res.state.step) == 200 and res.eval_steps.tolist() == [0, 200, 400]


@pytest.mark.parametrize("kwargs, match", [
    ({"online_steps": 500}, "multiple of train_freq"),
    ({"eval_every": 300}, "multiple of train_freq"),
    ({"eval_episodes": 0}, "must be positive"),
])
def test_bad_arguments_raise(cartpole, cartpole_run, kwargs, match):
    data, info = cartpole
    _, state, _ = cartpole_run
    args = {"online_steps": 400, "train_freq": 200, "eval_every": 200, "eval_episodes": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        finetune(TINY, state, data, info["env_id"], **args)


def test_bad_state_data_or_env_raise(cartpole, cartpole_run):
    data, info = cartpole
    _, state, _ = cartpole_run
    seeds = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), state)
    with pytest.raises(ValueError, match="one seed"):
        finetune(TINY, seeds, data, info["env_id"], 200, train_freq=200, eval_every=200)
    with pytest.raises(ValueError, match="obs dim"):
        finetune(TINY, state, data, "iqlib/PointMazeMedium-v0", 200, train_freq=200, eval_every=200)
    with pytest.raises(ValueError, match="learning_starts"):
        train_from_scratch(TINY, info["env_id"], 400, learning_starts=400, train_freq=200, eval_every=200)
    with pytest.raises(ValueError, match="capacity"):
        train_from_scratch(TINY, info["env_id"], 400, learning_starts=200, train_freq=200, eval_every=200,
                           capacity=300)


@pytest.mark.notebooks
def test_notebook_reruns_with_tiny_parameters(tmp_path):
    out = tmp_path / "10"
    execute_notebook(NOTEBOOK, out, {"offline_steps": 200, "online_steps": 600, "train_freq": 300,
                                     "learning_starts": 300, "eval_every": 600, "eval_episodes": 1,
                                     "n_seeds": 1, "hidden": [16, 16], "batch_size": 32})
    m = json.loads((out / "metrics.json").read_text())
    assert m["online_steps"] == 600 and m["n_seeds"] == 1
    for k in ("offline", "finetuned", "scratch"):
        assert np.isfinite(m[f"pointmaze-medium-stitch_{k}_score_mean"])
        assert f"pointmaze-medium-stitch_{k}_score_std" in m
    assert (out / "offline_to_online.png").is_file()
    curves = json.loads((out / "curves_scores.json").read_text())
    assert curves["x"] == [0, 600] and np.asarray(curves["series"]["finetuned"]).shape == (1, 2)
    assert curves["series"]["finetuned"][0][-1] == pytest.approx(m["pointmaze-medium-stitch_finetuned_score_mean"])
    record = REPO_ROOT / "results" / "10_iql_offline_to_online" / "default" / "metrics.json"
    if record.is_file():  # the claims are read off the record, exactly
        r = json.loads(record.read_text())
        gain = r["pointmaze-medium-stitch_finetuned_score_mean"] - r["pointmaze-medium-stitch_offline_score_mean"]
        assert m["headline_on"] == "record" and m["claim_finetuning_gain_value"] == pytest.approx(gain)
        assert m["claim_offline_alone_good"] is False
        assert "claim_scratch_matches_record" not in m  # another train_freq: no agreement check
    else:
        assert m["headline_verdict"] in ("holds", "miss") and m["headline_on"] == "fresh"
