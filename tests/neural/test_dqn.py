"""Double DQN (iqlib.neural.dqn) and the discrete experts, demonstrations and offline sets in data/."""

from __future__ import annotations

import functools
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.transitions import Transitions, episode_bounds
from iqlib.data.datasets import load_dataset
from iqlib.core.replay import sample
from iqlib.neural.acting import epsilon_greedy_act, greedy_act
from iqlib.neural.dqn import (DQNConfig, dqn_loss, double_dqn_target, make_optimizer, make_update, soft_q_target,
                              train_dqn)
from iqlib.data.experts import flatten_params, load_dqn_expert as load_expert, unflatten_params
from iqlib.core.envs import evaluate
from iqlib.data.files import DATA_ROOT, load_provenance
from iqlib.core.nets import QNetwork, apply, init_params
from iqlib.core.nets import create_train_state
from iqlib.core.training import make_chunk

DATA = DATA_ROOT
ENVS = ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")
#: the thresholds of the brief: CartPole solved, Acrobot about −100 or better, LunarLander ≥ 200
EXPERT_MIN_RETURN = {"CartPole-v1": 500.0, "Acrobot-v1": -100.0, "LunarLander-v3": 200.0}


def _batch(obs, action, reward, next_obs, terminal, timeout):
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transitions(f(obs), jnp.asarray(action, jnp.int32), f(reward), f(next_obs), f(terminal), f(timeout),
                       jnp.zeros(len(reward)))


def test_double_dqn_target_hand_computed():
    q_online = jnp.array([[1.0, 3.0], [2.0, 0.0], [0.0, 5.0]])
    q_target = jnp.array([[10.0, 20.0], [30.0, 40.0], [7.0, 8.0]])
    reward, terminal = jnp.array([1.0, 2.0, 3.0]), jnp.array([0.0, 0.0, 1.0])
    # online argmax = [1, 0, 1] -> target values [20, 30, 8]; last is terminal
    y = double_dqn_target(q_online, q_target, reward, terminal, 0.5)
    np.testing.assert_allclose(y, [1 + 0.5 * 20, 2 + 0.5 * 30, 3.0])
    # plain DQN takes the target network's max: [20, 40, 8]
    y = double_dqn_target(q_online, q_target, reward, terminal, 0.5, double=False)
    np.testing.assert_allclose(y, [11.0, 22.0, 3.0])
    # soft value α logsumexp(Q/α) -> max as α -> 0; α = 1 by hand
    y = soft_q_target(q_target, reward, terminal, 0.5, 1.0)
    np.testing.assert_allclose(y[0], 1 + 0.5 * np.log(np.exp(10.0) + np.exp(20.0)), rtol=1e-6)
    np.testing.assert_allclose(soft_q_target(q_target, reward, terminal, 0.5, 1e-3), [11.0, 22.0, 3.0], rtol=1e-4)


def test_dqn_loss_on_hand_batch_timeouts_bootstrap():
    cfg = DQNConfig(discount=0.9, huber_delta=1.0)
    graphdef, params = init_params(lambda r: QNetwork(3, 2, (8,), rngs=r), jax.random.key(0))
    _, target = init_params(lambda r: QNetwork(3, 2, (8,), rngs=r), jax.random.key(1))
    rng = np.random.default_rng(0)
    obs, next_obs = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    action, reward = np.array([0, 1, 1, 0]), np.array([1.0, -0.5, 2.0, 0.0])
    terminal, timeout = np.array([0.0, 1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, 0.0])
    loss, q_taken = dqn_loss(graphdef, params, target, _batch(obs, action, reward, next_obs, terminal, timeout), cfg)
    q = np.asarray(apply(graphdef, params, jnp.asarray(obs, jnp.float32)))
    qn_on = np.asarray(apply(graphdef, params, jnp.asarray(next_obs, jnp.float32)))
    qn_tg = np.asarray(apply(graphdef, target, jnp.asarray(next_obs, jnp.float32)))
    a_next = qn_on.argmax(1)
    # the timeout row (index 2) bootstraps; only the terminal row (index 1) does not
    y = reward + 0.9 * (1 - terminal) * qn_tg[np.arange(4), a_next]
    d = np.abs(y - q[np.arange(4), action])
    huber = np.where(d <= 1.0, 0.5 * d**2, d - 0.5)
    np.testing.assert_allclose(q_taken, q[np.arange(4), action], rtol=1e-5)
    np.testing.assert_allclose(float(loss), huber.mean(), rtol=1e-5)


def _carry(cfg, key=0):
    graphdef, params = init_params(lambda r: QNetwork(3, 2, (8,), rngs=r), jax.random.key(key))
    _, target = init_params(lambda r: QNetwork(3, 2, (8,), rngs=r), jax.random.key(key + 1))
    tx = make_optimizer(cfg)
    rng = np.random.default_rng(0)
    data = _batch(rng.normal(size=(16, 3)), rng.integers(0, 2, 16), rng.normal(size=16), rng.normal(size=(16, 3)),
                  np.zeros(16), np.zeros(16))
    return graphdef, tx, ((create_train_state(params, tx), target), jax.random.key(5)), data, jnp.int32(16)


def _chunk(graphdef, cfg, tx, data, size, k):
    """k updates of make_update on uniform minibatches of ``data`` in one compiled scan."""
    update = make_update(graphdef, cfg, tx)

    def step(carry):
        learner, key = carry
        key, kb = jax.random.split(key)
        learner, metrics = update(learner, sample(kb, data, size, cfg.batch_size))
        return (learner, key), metrics

    return make_chunk(step, k)


def test_polyak_moves_target_by_rate_every_update_inside_chunk():
    # learning rate ~0: the online net stays put, so after k updates in one compiled chunk
    # the target is online + (1 − ρ)^k (target0 − online): Polyak on every step, not once per chunk
    cfg = DQNConfig(target_rate=0.1, critic_lr=1e-30, max_grad_norm=0.0, batch_size=4)
    graphdef, tx, carry, data, size = _carry(cfg)
    online = jax.tree_util.tree_map(np.asarray, carry[0][0].params)
    target0 = jax.tree_util.tree_map(np.asarray, carry[0][1])
    chunk = _chunk(graphdef, cfg, tx, data, size, 3)
    ((state, target), _), metrics = chunk(carry)
    assert np.asarray(metrics["loss"]).shape == (3,)
    expected = jax.tree_util.tree_map(lambda t, o: o + 0.9**3 * (t - o), target0, online)
    for a, b in zip(jax.tree_util.tree_leaves(target), jax.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # with a real step size, one update: target1 = 0.9 target0 + 0.1 online1
    cfg = DQNConfig(target_rate=0.1, critic_lr=1e-2, batch_size=4)
    graphdef, tx, carry, data, size = _carry(cfg)
    target0 = jax.tree_util.tree_map(np.asarray, carry[0][1])
    online0 = jax.tree_util.tree_map(np.asarray, carry[0][0].params)
    ((state, target), _), _ = _chunk(graphdef, cfg, tx, data, size, 1)(carry)
    moved = [np.abs(a - b).max() for a, b in zip(jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(online0))]
    assert max(moved) > 1e-4
    for t1, t0, o1 in zip(*(jax.tree_util.tree_leaves(x) for x in (target, target0, state.params))):
        np.testing.assert_allclose(t1, 0.9 * t0 + 0.1 * np.asarray(o1), rtol=1e-5, atol=1e-7)


def test_epsilon_greedy_act_explores_with_probability_eps():
    graphdef, params = init_params(lambda r: QNetwork(3, 4, (8,), rngs=r), jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (4000, 3))
    greedy = np.asarray(greedy_act(graphdef)(params, obs, jax.random.key(2)))
    np.testing.assert_array_equal(greedy, np.asarray(apply(graphdef, params, obs)).argmax(-1))
    act = epsilon_greedy_act(graphdef)
    np.testing.assert_array_equal(act(params, obs, jax.random.key(3), 0.0), greedy)
    explored = np.asarray(act(params, obs, jax.random.key(3), 0.5))
    assert abs(np.mean(explored != greedy) - 0.5 * 3 / 4) < 0.03  # a uniform action is greedy w.p. 1/4
    seeds = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), params)  # (S, B, O) with seed-batched params
    both = np.asarray(act(seeds, jnp.stack([obs, obs]), jax.random.key(4), 0.0))
    assert both.shape == (2, 4000) and np.all(both == greedy)


def test_config_validation_and_epsilon_schedule():
    with pytest.raises(ValueError, match="discount"):
        DQNConfig(discount=1.0)
    with pytest.raises(ValueError, match="target_rate"):
        DQNConfig(target_rate=0.0)
    cfg = DQNConfig(total_steps=1000, eps_start=1.0, eps_end=0.1, eps_fraction=0.5)
    assert cfg.epsilon(0) == 1.0 and cfg.epsilon(250) == pytest.approx(0.55) and cfg.epsilon(900) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Discrete"):
        train_dqn("Pendulum-v1", DQNConfig(total_steps=8))


def test_train_dqn_runs_and_flatten_round_trip():
    # blocks of 8 lockstep steps × 2 envs = 16 transitions; updates after every block past the 48 random ones
    cfg = DQNConfig(total_steps=256, n_envs=2, hidden=(16,), learning_starts=48, train_freq=8,
                    updates_per_block=4, batch_size=16, eval_every=128, eval_episodes=2)
    graphdef, params, hist = train_dqn("CartPole-v1", cfg, seed=0)
    assert hist["step"] == [128, 256] and hist["steps_done"] == 256
    assert hist["updates"] == 4 * ((256 - 48) // 16)
    flat = flatten_params(params)
    assert set(flat) == {"net/hidden/0/kernel", "net/hidden/0/bias", "net/out/kernel", "net/out/bias"}
    back = unflatten_params(params, flat)
    for a, b in zip(jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(params)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shape"):
        unflatten_params(params, {**flat, "net/out/bias": np.zeros(3)})


@pytest.mark.parametrize("env_id", ENVS)
def test_demos_and_expert_files(env_id):
    t, prov = load_dataset(DATA / "demos" / f"{env_id}.npz")
    assert prov["n_episodes"] == 30 == len(episode_bounds(t))
    assert prov["env_id"] == env_id and prov["gymnasium_version"] and prov["generated_by"]
    # every episode ends exactly once, by termination or by timeout, at its last step
    ends = np.flatnonzero(t.terminal + t.timeout)
    np.testing.assert_array_equal(ends + 1, episode_bounds(t)[:, 1])
    assert prov["expert_eval_episodes"] == 50
    assert prov["expert_return_mean"] >= EXPERT_MIN_RETURN[env_id]
    expert = load_provenance(DATA / "experts" / f"{env_id}.npz")
    assert expert["expert_return_mean"] == prov["expert_return_mean"] and expert["training_steps"] > 0


def test_cartpole_demos_are_timeouts_and_expert_reproduces_them():
    t, _ = load_dataset(DATA / "demos" / "CartPole-v1.npz")
    assert t.timeout.sum() == 30 and t.terminal.sum() == 0 and len(t.reward) == 30 * 500
    graphdef, params = load_expert("CartPole-v1")
    act = functools.partial(greedy_act(graphdef), params)
    ep0 = slice(0, 500)  # demo episode 0 was reset with seed 0 + 1000
    actions = np.asarray(act(t.obs[ep0], jax.random.key(0)))
    assert np.mean(actions == t.action[ep0]) >= 0.99
    returns, lengths = evaluate("CartPole-v1", act, 1, seed=1000, return_lengths=True)
    assert returns[0] == 500.0 and lengths[0] == 500


def test_robust_cartpole_expert_tolerates_noise_that_breaks_the_default_one():
    """The robust expert (scripts/make_discrete_data.py --robust) keeps 500 at 5 % random actions
    where the default expert loses return, and its demonstrations name it and are its own actions."""
    t, prov = load_dataset(DATA / "demos" / "robust" / "CartPole-v1.npz")
    assert prov["expert_file"] == "data/experts/robust/CartPole-v1.npz"
    assert t.timeout.sum() == 30 and len(t.reward) == 30 * 500
    robust = load_expert("CartPole-v1", DATA / "experts" / "robust")
    default = load_expert("CartPole-v1")
    assert load_provenance(DATA / "experts" / "robust" / "CartPole-v1.npz")["noise_robustness"]["0.1"] == 500.0
    returns = {}
    for name, (graphdef, params) in (("robust", robust), ("default", default)):
        act = functools.partial(epsilon_greedy_act(graphdef), params, eps=0.05)
        returns[name] = evaluate("CartPole-v1", act, 10, seed=80_000).mean()
    assert returns["robust"] == 500.0 and returns["default"] < 450.0, returns
    greedy = np.asarray(greedy_act(robust[0])(robust[1], t.obs[:500], jax.random.key(0)))
    assert np.mean(greedy == t.action[:500]) >= 0.99


@pytest.mark.parametrize("name", ["cartpole-mixed", "lunarlander-mixed"])
def test_mixed_offline_sets(name):
    path = DATA / "offline" / f"{name}.npz"
    t, prov = load_dataset(path)
    assert 50_000 <= prov["n_transitions"] <= 100_000 and path.stat().st_size <= 10e6
    assert set(prov["mixture"]) == {"random", "medium", "expert_eps0.1", "expert_eps0.3"}
    assert prov["ref_random_return"] < prov["medium_return_mean"] < prov["ref_expert_return"]
    # mixed quality: episode returns span from about random to about expert
    rets = np.add.reduceat(t.reward, episode_bounds(t)[:, 0])
    assert rets.min() <= prov["ref_random_return"] and rets.max() >= 0.9 * prov["ref_expert_return"]


def test_tampered_copy_fails_checksum(tmp_path):
    src = DATA / "demos" / "CartPole-v1.npz"
    for f in (src, src.with_name("CartPole-v1.provenance.json")):
        shutil.copy(f, tmp_path / f.name)
    copy = tmp_path / src.name
    load_dataset(copy)  # an untouched copy loads
    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        load_dataset(copy)


def test_load_expert_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data-discrete"):
        load_expert("CartPole-v1", directory=tmp_path)
    with pytest.raises(ValueError, match="checkpoint"):
        load_expert("CartPole-v1", checkpoint="best")
