"""Behaviour cloning: recovers known policies, pure/vmappable training, act shapes, bad inputs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.nets import apply, log_likelihood
from iqlib.core.normalization import fold_obs_normalization, obs_statistics, standardize
from iqlib.neural.bc import BCConfig, make_train
from iqlib.neural.acting import deterministic_act, stochastic_act
from iqlib.neural.offline import prepare_data, wall_time_to_return
from iqlib.core.transitions import Transitions
from iqlib.core.envs import evaluate


def synthetic(n=2000, obs_dim=3, action_dim=2, discrete=False, seed=0):
    """Transitions whose actions are a fixed function of obs: tanh(W s) or argmax(W s)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    W = rng.normal(size=(obs_dim, action_dim)).astype(np.float32)
    if discrete:
        action = np.argmax(obs @ W, axis=1).astype(np.int32)
    else:
        action = np.tanh(obs @ W).astype(np.float32)
    term = np.zeros(n, np.float32)
    term[49::50] = 1.0
    return Transitions(obs, action, rng.normal(size=n).astype(np.float32), obs[::-1].copy(), term,
                       np.zeros(n, np.float32), np.concatenate([[1.0], term[:-1]]).astype(np.float32)), W


def test_bc_recovers_continuous_policy():
    data, W = synthetic()
    train = make_train(BCConfig(hidden=(64, 64), actor_lr=3e-3), data, 1500, chunk_size=500)
    carry, metrics = train(jax.random.key(0))
    assert metrics["bc_loss"].shape == (1500,)
    assert float(metrics["bc_loss"][-100:].mean()) < float(metrics["bc_loss"][:100].mean()) - 1.0
    test_obs = np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)
    act = deterministic_act(train.policy_graphdef)(train.policy_params(carry), test_obs, jax.random.key(0))
    err = np.abs(np.asarray(act) - np.tanh(test_obs @ W))
    assert act.shape == (500, 2) and float(err.mean()) < 0.05


def test_bc_recovers_discrete_policy():
    data, W = synthetic(discrete=True, action_dim=3)
    train = make_train(BCConfig(hidden=(64, 64), actor_lr=3e-3), data, 1000, chunk_size=500)
    carry, _ = train(jax.random.key(1))
    test_obs = np.random.default_rng(2).normal(size=(1000, 3)).astype(np.float32)
    act = deterministic_act(train.policy_graphdef)(train.policy_params(carry), test_obs, jax.random.key(0))
    assert act.shape == (1000,) and jnp.issubdtype(act.dtype, jnp.integer)
    assert float(np.mean(np.asarray(act) == np.argmax(test_obs @ W, axis=1))) > 0.95


def test_categorical_log_likelihood_is_log_softmax_entry():
    data, _ = synthetic(n=10, discrete=True, action_dim=3)
    train = make_train(BCConfig(hidden=(8,)), data, 1, chunk_size=1)
    params = train.policy_params(train.init(jax.random.key(0)))
    logits = np.asarray(apply(train.policy_graphdef, params, data.obs), np.float64)
    expected = logits[np.arange(10), data.action] - np.log(np.exp(logits).sum(1))
    np.testing.assert_allclose(log_likelihood(train.policy_graphdef, params, data.obs, data.action),
                               expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("discrete", [False, True])
def test_normalize_obs_trains_on_standardised_obs_and_folds_them_into_layer_one(discrete):
    data, _ = synthetic(n=300, discrete=discrete, action_dim=3)
    data = data._replace(obs=data.obs * np.array([100.0, 0.01, 1.0], np.float32) + 5.0)  # badly scaled
    cfg = BCConfig(hidden=(16,), normalize_obs=True)
    train = make_train(cfg, data, 20, chunk_size=10)
    mean, std = obs_statistics(data)
    # the same numbers as BC without normalisation on data standardised by hand, folded by hand
    by_hand = make_train(BCConfig(hidden=(16,)), standardize(data, mean, std), 20, chunk_size=10)
    carry, m = train(jax.random.key(0))
    carry_h, m_h = by_hand(jax.random.key(0))
    np.testing.assert_allclose(m["bc_loss"], m_h["bc_loss"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(train.data.obs, data.obs) and abs(float(np.mean(train.data.obs))) < 0.1
    # policy_params act on raw obs exactly as the trained params act on standardised obs
    raw = np.random.default_rng(3).normal(size=(7, 3)).astype(np.float32) * 50.0
    want = apply(train.policy_graphdef, carry.policy.params, (raw - mean) / std)
    got = apply(train.policy_graphdef, train.policy_params(carry), raw)
    for w, g in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    folded = fold_obs_normalization(carry_h.policy.params, mean, std)
    for a, b in zip(jax.tree_util.tree_leaves(train.policy_params(carry)), jax.tree_util.tree_leaves(folded)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the default keeps raw observations (IQL's BC baselines)
    assert not BCConfig().normalize_obs
    np.testing.assert_array_equal(make_train(BCConfig(hidden=(8,)), data, 1, chunk_size=1).data.obs, data.obs)


def test_training_is_pure_and_vmaps_over_seeds():
    data, _ = synthetic(n=300)
    train = make_train(BCConfig(hidden=(16,)), data, 20, chunk_size=10)
    keys = jax.random.split(jax.random.key(3), 3)
    carry_v, metrics_v = jax.vmap(train)(keys)
    assert metrics_v["bc_loss"].shape == (3, 20)
    carry_1, metrics_1 = train(keys[1])
    np.testing.assert_allclose(metrics_v["bc_loss"][1], metrics_1["bc_loss"], rtol=1e-4, atol=1e-5)
    assert not np.allclose(metrics_v["bc_loss"][0], metrics_v["bc_loss"][1])  # seeds differ
    # the chunked driver gives the same numbers and calls back between chunks
    calls = []
    carry_r, metrics_r = train.run(keys, callback=lambda step, carry, m: calls.append((step, m["bc_loss"].shape)))
    assert calls == [(10, (3, 10)), (20, (3, 10))]
    np.testing.assert_allclose(metrics_r["bc_loss"], metrics_v["bc_loss"], rtol=1e-4, atol=1e-5)
    keys4 = jax.random.split(jax.random.key(3), 4)  # seeds vmapped in groups of 2, groups in sequence
    np.testing.assert_allclose(train.run(keys4, seed_group=2)[1]["bc_loss"], train.run(keys4)[1]["bc_loss"],
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="seed_group"):
        train.run(keys, seed_group=2)
    # jit(vmap) with the data passed explicitly, not baked in
    _, metrics_j = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, train.data)
    np.testing.assert_allclose(metrics_j["bc_loss"], metrics_v["bc_loss"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("discrete", [False, True])
def test_act_shapes_with_seed_axis(discrete):
    data, _ = synthetic(n=100, discrete=discrete, action_dim=3)
    train = make_train(BCConfig(hidden=(8,)), data, 1, chunk_size=1)
    params = train.policy_params(jax.jit(jax.vmap(train.init))(jax.random.split(jax.random.key(0), 4)))
    obs = np.zeros((4, 5, 3), np.float32)
    tail = () if discrete else (3,)
    for make in (deterministic_act, stochastic_act):
        a = make(train.policy_graphdef)(params, obs, jax.random.key(1))
        assert a.shape == (4, 5, *tail)
        if not discrete:
            assert float(jnp.max(jnp.abs(a))) <= 1.0
    one = jax.tree_util.tree_map(lambda x: x[0], params)
    assert deterministic_act(train.policy_graphdef)(one, obs[0], jax.random.key(1)).shape == (5, *tail)


def test_act_plugs_into_evaluate_for_all_seeds():
    data, _ = synthetic(n=100, obs_dim=4, discrete=True, action_dim=2)
    train = make_train(BCConfig(hidden=(8,)), data, 1, chunk_size=1)
    carry, _ = train.run(jax.random.split(jax.random.key(0), 2))
    returns = evaluate("CartPole-v1", train.act(carry), n_episodes=2, seed=0, batch_shape=(2,))
    assert returns.shape == (2, 2) and np.all(returns >= 1)
    same = evaluate("CartPole-v1", functools.partial(deterministic_act(train.policy_graphdef),
                                                     train.policy_params(carry)), 2, 0, batch_shape=(2,))
    np.testing.assert_array_equal(returns, same)


def test_wall_time_to_return_stops_at_the_first_chunk_that_reaches_the_target():
    data, _ = synthetic(n=100, obs_dim=4, discrete=True, action_dim=2)
    train = make_train(BCConfig(hidden=(8,)), data, 3, chunk_size=1)
    easy = wall_time_to_return(train, jax.random.key(0), "CartPole-v1", 1.0, n_episodes=2)  # every episode ≥ 1
    assert easy["reached"] and easy["steps"] == 1 and easy["seconds"] >= easy["eval_seconds"] > 0
    never = wall_time_to_return(train, jax.random.key(0), "CartPole-v1", 501.0, n_episodes=2)  # above the cap
    assert not never["reached"] and never["steps"] == -1 and np.isnan(never["seconds"])


def test_bad_inputs_give_clear_errors():
    data, _ = synthetic(n=20)
    with pytest.raises(ValueError, match="missing keys"):
        prepare_data({"observations": data.obs, "actions": data.action})
    with pytest.raises(ValueError, match=r"missing keys \['next_obs'"):
        prepare_data({k: v for k, v in data._asdict().items() if k != "next_obs"})
    with pytest.raises(ValueError, match="rewards has 1 NaN"):
        make_train(BCConfig(), data._replace(reward=np.where(np.arange(20) == 3, np.nan, data.reward)), 10)
    with pytest.raises(ValueError, match="different lengths"):
        make_train(BCConfig(), data._replace(action=data.action[:-1]), 10)
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        make_train(BCConfig(), data, 15, chunk_size=10)
    d, _ = synthetic(n=20, discrete=True, action_dim=3)
    with pytest.raises(ValueError, match="n_actions"):
        make_train(BCConfig(), d, 10, chunk_size=10, n_actions=int(d.action.max()))
    with pytest.raises(ValueError, match="batch_size"):
        BCConfig(batch_size=0)
    with pytest.raises(ValueError, match="Transitions or a dict"):
        prepare_data([1, 2, 3])
    # D4RL-keyed dicts and Transitions-keyed dicts are both accepted
    from iqlib.core.transitions import to_arrays
    assert prepare_data(to_arrays(data)).obs.shape == (20, 3)
    assert prepare_data(data._asdict()).obs.shape == (20, 3)
