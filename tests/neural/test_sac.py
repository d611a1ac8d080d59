"""SAC: tanh-Gaussian density, hand-computed critic target, temperature gradient sign, Polyak
inside the compiled chunk, a tiny Pendulum run, and the committed locomotion data files."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.stats import norm

from iqlib.core.transitions import Transitions, episode_returns
from iqlib.data.datasets import load_dataset
from iqlib.core.nets import tanh_gaussian_sample
from iqlib.core.envs import evaluate
from iqlib.data.experts import load_sac_expert
from iqlib.data.files import load_npz_verified, load_provenance
from iqlib.notebook.runner import REPO_ROOT
from iqlib.neural.acting import tanh_gaussian_act
from iqlib.neural.iq_learn_online import init_sac, sac_update, temperature_loss
from iqlib.neural.sac import SACConfig, critic_loss, train_sac
from iqlib.core.training import make_chunk


def deterministic_act(actor_def, params):
    """tanh(mean) of a SAC actor as the ``act(obs, key)`` of :func:`iqlib.core.envs.evaluate`."""
    return lambda obs, key: tanh_gaussian_act(actor_def, True)(params, obs, key)


def test_tanh_gaussian_log_prob_matches_numerical_change_of_variables(x64):
    mean = jnp.array([[0.3, -1.2], [1.5, 0.0]])
    log_std = jnp.array([[-0.5, 0.2], [0.1, -1.0]])
    action, logp = tanh_gaussian_sample(jax.random.key(3), mean, log_std)
    a, m, s = np.asarray(action), np.asarray(mean), np.exp(np.asarray(log_std))
    eps = 1e-6  # P(a − ε < tanh(u) < a + ε) / 2ε per dimension, from the Gaussian CDF of atanh
    mass = norm.cdf((np.arctanh(a + eps) - m) / s) - norm.cdf((np.arctanh(a - eps) - m) / s)
    expected = np.sum(np.log(mass / (2 * eps)), axis=-1)
    np.testing.assert_allclose(np.asarray(logp), expected, rtol=1e-5)


def _set(params, path, value):
    """Replace one leaf (path of keys into nnx.to_pure_dict) of an nnx State in place."""
    pure = nnx.to_pure_dict(params)
    d = pure
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = jnp.asarray(value, jnp.float32).reshape(d[path[-1]].shape)
    nnx.replace_by_pure_dict(params, pure)


def _constant_nets(c1, c2, t1, t2, mean, raw, obs_dim=3, action_dim=1, alpha=0.5):
    """Critics Q1 ≡ c1, Q2 ≡ c2, targets ≡ t1, t2; actor with constant mean and raw log-std."""
    nets, state = init_sac(jax.random.key(0), obs_dim, action_dim, SACConfig(entropy_temperature=alpha))
    for params, (a, b) in ((state.critic.params, (c1, c2)), (state.target_critic, (t1, t2))):
        for q, c in (("q1", a), ("q2", b)):
            _set(params, (q, "out", "kernel"), np.zeros((256, 1)))
            _set(params, (q, "out", "bias"), [c])
    _set(state.actor.params, ("net", "out", "kernel"), np.zeros((256, 2 * action_dim)))
    _set(state.actor.params, ("net", "out", "bias"), [mean] * action_dim + [raw] * action_dim)
    return nets, state


def test_critic_target_hand_computed():
    cfg = SACConfig(discount=0.9, entropy_temperature=0.5)
    nets, state = _constant_nets(c1=1.0, c2=3.0, t1=2.0, t2=1.5, mean=0.2, raw=0.0)
    batch = Transitions(obs=jnp.ones((3, 3)), action=jnp.zeros((3, 1)), reward=jnp.array([1.0, -2.0, 0.5]),
                        next_obs=jnp.zeros((3, 3)), terminal=jnp.array([0.0, 1.0, 0.0]),
                        timeout=jnp.array([0.0, 0.0, 1.0]), episode_start=jnp.zeros(3))
    key = jax.random.key(7)
    loss, _ = critic_loss(state.critic.params, state, batch, key, nets, cfg)
    log_std = -5.0 + 0.5 * 7.0 * (math.tanh(0.0) + 1.0)  # networks.py squashing of raw = 0
    _, logp = tanh_gaussian_sample(key, jnp.full((3, 1), 0.2), jnp.full((3, 1), log_std))
    soft_v = 1.5 - 0.5 * np.asarray(logp)  # min of twin targets − α log π
    y = np.array([1.0, -2.0, 0.5]) + 0.9 * np.array([1.0, 0.0, 1.0]) * soft_v  # the timeout bootstraps
    expected = 0.5 * np.mean((1.0 - y) ** 2) + 0.5 * np.mean((3.0 - y) ** 2)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


@pytest.mark.parametrize("logp, alpha_grows", [(2.0, True), (-3.0, False)])
def test_temperature_gradient_sign(logp, alpha_grows):
    target_entropy = -1.0  # entropy −E[log π] = −2 < −1 → α must grow; 3 > −1 → α must shrink
    log_alpha = jnp.log(0.7)
    value, grad = jax.value_and_grad(temperature_loss)(log_alpha, jnp.full(8, logp), target_entropy)
    np.testing.assert_allclose(float(value), -0.7 * (logp + target_entropy), rtol=1e-6)
    assert (float(grad) < 0) == alpha_grows  # gradient descent moves log α against the gradient


def test_polyak_runs_inside_the_compiled_chunk():
    cfg = SACConfig(target_rate=0.1)
    nets, state = _constant_nets(c1=1.0, c2=3.0, t1=2.0, t2=1.5, mean=0.0, raw=0.0)
    frozen = lambda p, st, b, k, n, c: (0.0 * sum(jnp.sum(x) for x in jax.tree_util.tree_leaves(p)), {})
    batch = Transitions(jnp.ones((4, 3)), jnp.zeros((4, 1)), jnp.zeros(4), jnp.ones((4, 3)), jnp.zeros(4),
                        jnp.zeros(4), jnp.zeros(4))

    def update(st):
        return sac_update(st, batch, nets, cfg, critic_loss_fn=frozen)

    k = 5
    out, _ = make_chunk(update, k)(state)
    q1 = nnx.to_pure_dict(out.target_critic)["q1"]["out"]["bias"]
    q2 = nnx.to_pure_dict(out.target_critic)["q2"]["out"]["bias"]
    # critic params stay fixed, so after k per-update averagings: target = c + (1 − τ)^k (t0 − c)
    np.testing.assert_allclose(float(q1[0]), 1.0 + 0.9**k * (2.0 - 1.0), rtol=1e-5)
    np.testing.assert_allclose(float(q2[0]), 3.0 + 0.9**k * (1.5 - 3.0), rtol=1e-5)
    assert int(out.step) == k


def test_tiny_pendulum_run_beats_random():
    # 1,800 updates (one per env step after the 200 random ones) at a higher learning rate than
    # the paper's, to keep the test tiny
    cfg = SACConfig(actor_lr=1e-3, critic_lr=1e-3, entropy_temperature_lr=1e-3, learning_starts=200, train_freq=100,
                    eval_every=2000, eval_episodes=2)
    nets, state, history, buffer = train_sac("Pendulum-v1", cfg, seed=0, total_steps=2000)
    assert buffer.size == 2000 and history["step"] == [2000] and int(state.step) == 1800
    trained = evaluate("Pendulum-v1", deterministic_act(nets.actor_def, state.actor.params), 5, seed=123)
    rng = np.random.default_rng(0)
    random = evaluate("Pendulum-v1", lambda o, k: rng.uniform(-1, 1, o.shape[:-1] + (1,)), 5, seed=123)
    assert trained.mean() > random.mean() + 200.0, (trained.mean(), random.mean())


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="discount"):
        SACConfig(discount=1.0)
    with pytest.raises(ValueError, match="discrete"):
        train_sac("CartPole-v1", SACConfig(), total_steps=100)
    with pytest.raises(ValueError, match="multiple of train_freq"):
        train_sac("Pendulum-v1", SACConfig(train_freq=100), total_steps=150)


# ---- committed data files -------------------------------------------------------------------
DATA = REPO_ROOT / "data"
OFFLINE = [f"{env}-{kind}" for env in ("hopper", "halfcheetah")
           for kind in ("random", "medium", "medium-replay", "expert")]
REQUIRED = {"hopper"}  # halfcheetah is optional (trained only when time allows)


def _offline(name):
    path = DATA / "offline" / f"{name}.npz"
    if not path.is_file() and name.split("-")[0] not in REQUIRED:
        pytest.skip(f"{path.name} not generated (optional)")
    return load_dataset(path)  # raises if missing or the sha256 does not match


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_files_keys_checksums_and_references(name):
    t, prov = _offline(name)
    with np.load(DATA / "offline" / f"{name}.npz") as f:
        assert {"observations", "actions", "rewards", "terminals", "timeouts", "next_observations"} <= set(f.files)
    assert 1000 <= len(t.reward) <= 100_000 and t.action.ndim == 2 and np.abs(t.action).max() <= 1.0
    assert (DATA / "offline" / f"{name}.npz").stat().st_size <= 15 * 2**20
    rets = episode_returns(t)
    np.testing.assert_allclose(rets.mean(), prov["return_mean"], rtol=1e-4)
    lo, hi = prov["ref_random_return"], prov["ref_expert_return"]
    assert hi > lo + 500
    kind = name.split("-", 1)[1]
    if kind == "random":  # same policy as the reference, other resets
        assert abs(rets.mean() - lo) < 3 * prov["ref_random_return_std"] / np.sqrt(20) + 5
    elif kind == "expert":  # stochastic actions: near (typically a little below) the deterministic reference
        assert 0.8 * hi < rets.mean() < 1.1 * hi
    else:  # medium policy: about a third of the expert; medium-replay: mostly worse data
        assert lo < rets.mean() < 0.8 * hi
    # consecutive transitions chain within an episode
    inside = (t.episode_start[1:] == 0)
    np.testing.assert_array_equal(t.next_obs[:-1][inside], t.obs[1:][inside])


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Hopper-v5"])
def test_demos_and_experts(env_id):
    demos, prov = load_dataset(DATA / "demos" / f"{env_id}.npz")
    rets = episode_returns(demos)
    assert rets.size == 25
    assert abs(rets.mean() - prov["ref_expert_return"]) < 0.1 * abs(prov["ref_expert_return"]) + 20
    flat = load_npz_verified(DATA / "experts" / f"{env_id}.npz")
    assert all("/" in k for k in flat)
    exp_prov = load_provenance(DATA / "experts" / f"{env_id}.npz")
    assert exp_prov["ref_expert_return"] == prov["ref_expert_return"] and exp_prov["hidden"] == [256, 256]
    actor_def, params = load_sac_expert(env_id)
    # the loaded expert replays the first demonstration exactly (deterministic policy, same reset seed)
    first = evaluate(env_id, deterministic_act(actor_def, params), 1, seed=prov["seed"] + 1000)
    np.testing.assert_allclose(first[0], rets[0], rtol=1e-3, atol=1e-2)
