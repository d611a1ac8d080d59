"""Offline neural IQ-Learn: hand-computed loss terms, the v0 initial states, χ² rows, the
gradient penalty, no environment access while training, recovery of a synthetic expert, bad inputs."""

import dataclasses
import json

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import iqlib.core.envs
from iqlib.core.transitions import Transitions
from iqlib.data.datasets import save_dataset
from iqlib.neural.acting import greedy_act, softmax_act
from iqlib.neural.iq_learn_offline import IQLearnOfflineConfig, iq_loss_terms, recovered_reward, soft_value
from iqlib.neural.iq_learn_offline_train import initial_observations, make_train
from iqlib.core.nets import QNetwork, apply, init_params
from iqlib.core.normalization import fold_obs_normalization
from iqlib.notebook.runner import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "notebooks" / "05_neural_iq_learn_offline.py"
W = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)  # linear Q(s, ·) = s @ W, O = A = 2


def q_lin(obs):
    return jnp.asarray(obs) @ W


def tiny_batch():
    """Three rows of one 2-step episode and a terminal row of a second one."""
    return Transitions(
        obs=np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], np.float32),
        action=np.array([0, 1, 1], np.int32),
        reward=np.zeros(3, np.float32),
        next_obs=np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], np.float32),
        terminal=np.array([0.0, 0.0, 1.0], np.float32),
        timeout=np.zeros(3, np.float32),
        episode_start=np.array([1.0, 0.0, 1.0], np.float32),
    )


def by_hand(b, alpha, gamma):
    """Q, V, V(s') and r of the linear Q, in float64 numpy."""
    q, qn = b.obs.astype(np.float64) @ W, b.next_obs.astype(np.float64) @ W
    v = alpha * np.log(np.exp(q / alpha).sum(-1))
    vn = alpha * np.log(np.exp(qn / alpha).sum(-1))
    r = q[np.arange(len(q)), b.action] - gamma * (1 - b.terminal) * vn
    return q, v, vn, r


@pytest.mark.parametrize("loss", ["value", "value_expert", "v0"])
@pytest.mark.parametrize("rows", ["expert", "all"])
def test_loss_terms_match_hand_computation(loss, rows):
    alpha, gamma, lam = 0.5, 0.9, 0.25
    cfg = IQLearnOfflineConfig(loss=loss, entropy_temperature=alpha, discount=gamma, chi2_weight=lam, chi2_rows=rows)
    e = tiny_batch()
    p = Transitions(*(x[[1, 2]] for x in e))  # "policy" batch: two other draws
    q, v, vn, r = by_hand(e, alpha, gamma)
    pq, pv, pvn, _ = by_hand(p, alpha, gamma)
    s0 = e.obs[[0, 2]]
    v0 = np.mean(alpha * np.log(np.exp((s0 @ W) / alpha).sum(-1)))
    expected_init = {
        "v0": (1 - gamma) * v0,
        "value_expert": np.mean(v - gamma * (1 - e.terminal) * vn),
        "value": np.mean(np.concatenate([v - gamma * (1 - e.terminal) * vn, pv - gamma * (1 - p.terminal) * pvn])),
    }[loss]
    sq = np.mean(r**2)
    if rows == "all":  # every action at the policy batch's states, with the data's s'
        r_all = pq - gamma * (1 - p.terminal)[:, None] * pvn[:, None]
        sq = 0.5 * sq + 0.5 * np.mean(r_all**2)
    t = iq_loss_terms(q_lin, e, p, s0, cfg)
    np.testing.assert_allclose(t["reward"], r.mean(), rtol=1e-5)
    np.testing.assert_allclose(t["init"], expected_init, rtol=1e-5)
    np.testing.assert_allclose(t["chi2"], lam * sq, rtol=1e-5)
    np.testing.assert_allclose(t["loss"], -r.mean() + lam * sq + expected_init, rtol=1e-5)
    assert float(t["grad_penalty"]) == 0.0
    np.testing.assert_allclose(t["accuracy"], np.mean(q.argmax(-1) == e.action))


def test_telescoped_objective_is_alpha_times_bc_log_likelihood():
    """With loss "value_expert": E[r] − E[V − γV'] = α E[log π(a|s)] (so λ = 0 is BC)."""
    alpha = 0.3
    cfg = IQLearnOfflineConfig(loss="value_expert", entropy_temperature=alpha, chi2=False)
    e = tiny_batch()
    t = iq_loss_terms(q_lin, e, None, e.obs[:1], cfg)
    log_pi = jax.nn.log_softmax(q_lin(e.obs) / alpha)[np.arange(3), e.action]
    np.testing.assert_allclose(-t["loss"], alpha * np.mean(log_pi), rtol=1e-5)


def test_v0_uses_only_episode_start_states():
    cfg = IQLearnOfflineConfig(loss="v0", entropy_temperature=0.5, discount=0.9, chi2=False)
    demos = tiny_batch()
    init = initial_observations(demos)
    np.testing.assert_array_equal(init, demos.obs[[0, 2]])

    def v0_term(d):
        # the same expert rows each time: only the initial states may move the v0 term
        return float(iq_loss_terms(q_lin, tiny_batch(), None, initial_observations(d), cfg)["init"])

    base = v0_term(demos)
    moved = demos._replace(obs=demos.obs.copy())
    moved.obs[1] = [5.0, -3.0]  # not an episode start
    assert v0_term(moved) == base
    moved.obs[0] = [5.0, -3.0]  # an episode start
    assert v0_term(moved) != base
    np.testing.assert_allclose(base, 0.1 * np.mean(soft_value(q_lin(demos.obs[[0, 2]]), 0.5)), rtol=1e-6)
    with pytest.raises(ValueError, match="episode_start"):
        initial_observations(demos._replace(episode_start=np.zeros(3, np.float32)))


def test_chi2_rows_select_expert_or_all_rows():
    e = tiny_batch()
    p = Transitions(*(x[[0]] for x in e))
    base = dict(entropy_temperature=0.5, discount=0.9, chi2_weight=1.0, loss="value_expert")
    t_exp = iq_loss_terms(q_lin, e, p, e.obs[:1], IQLearnOfflineConfig(chi2_rows="expert", **base))
    t_all = iq_loss_terms(q_lin, e, p, e.obs[:1], IQLearnOfflineConfig(chi2_rows="all", **base))
    _, _, vn, r = by_hand(e, 0.5, 0.9)
    r_all = (p.obs @ W)[0] - 0.9 * vn[0]  # both actions at s_0 with the demonstrated s'
    np.testing.assert_allclose(t_exp["chi2"], np.mean(r**2), rtol=1e-5)
    np.testing.assert_allclose(t_all["chi2"], 0.5 * np.mean(r**2) + 0.5 * np.mean(r_all**2), rtol=1e-5)
    # the expert-rows penalty ignores the policy batch entirely
    t_exp2 = iq_loss_terms(q_lin, e, None, e.obs[:1], IQLearnOfflineConfig(chi2_rows="expert", **base))
    assert float(t_exp2["chi2"]) == float(t_exp["chi2"])
    assert float(iq_loss_terms(q_lin, e, p, e.obs[:1], IQLearnOfflineConfig(chi2=False, **base))["chi2"]) == 0.0


def test_gradient_penalty_zero_for_constant_network_positive_otherwise():
    cfg = IQLearnOfflineConfig(grad_penalty=10.0, chi2=False)
    graphdef, params = init_params(lambda rngs: QNetwork(2, 2, (8,), rngs=rngs), jax.random.key(0))
    e = tiny_batch()

    def terms(prm):
        return iq_loss_terms(lambda o: apply(graphdef, prm, o), e, None, e.obs[:1], cfg)

    t = terms(params)
    assert float(t["grad_penalty"]) > 0
    np.testing.assert_allclose(t["loss"], -t["reward"] + t["init"] + 10.0 * t["grad_penalty"], rtol=1e-5)
    const = jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if "kernel" in jax.tree_util.keystr(path) else x + 0.1, params)
    assert float(terms(const)["grad_penalty"]) == 0.0
    # hand check on the linear Q: ∇_s Q(s, a) = W[:, a]
    t_lin = iq_loss_terms(q_lin, e, None, e.obs[:1], cfg)
    np.testing.assert_allclose(t_lin["grad_penalty"], np.mean(np.sum(W[:, e.action] ** 2, axis=0)), rtol=1e-6)


def test_fold_obs_normalization_is_exact():
    mean, std = np.array([1.0, -2.0, 0.5], np.float32), np.array([0.1, 3.0, 1.0], np.float32)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    for key in (jax.random.key(0), jax.random.split(jax.random.key(0), 2)):
        graphdef, params = init_params(lambda rngs: QNetwork(3, 2, (8, 8), rngs=rngs), key)
        folded = fold_obs_normalization(params, mean, std)
        if key.ndim == 0:
            want, got = apply(graphdef, params, (x - mean) / std), apply(graphdef, folded, x)
        else:
            want = jax.vmap(lambda p: apply(graphdef, p, (x - mean) / std))(params)
            got = jax.vmap(lambda p: apply(graphdef, p, x))(folded)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def synthetic_demos(n_episodes=4, length=40, seed=0):
    """A 1-D 'keep x near 0' task: the expert pushes left (0) when x > 0, right (1) otherwise."""
    rng = np.random.default_rng(seed)
    obs, act, nxt, start = [], [], [], []
    for _ in range(n_episodes):
        x = rng.uniform(-1, 1)
        for t in range(length):
            a = int(x <= 0)
            x2 = x + (0.1 if a else -0.1) + rng.normal(0, 0.02)
            obs.append([x, x**2])
            act.append(a)
            nxt.append([x2, x2**2])
            start.append(t == 0)
            x = x2
    n = len(act)
    timeout = np.zeros(n, np.float32)
    timeout[length - 1::length] = 1.0
    return Transitions(np.array(obs, np.float32), np.array(act, np.int32), np.ones(n, np.float32),
                       np.array(nxt, np.float32), np.zeros(n, np.float32), timeout, np.array(start, np.float32))


@pytest.mark.parametrize("loss", ["value_expert", "v0"])
def test_greedy_policy_recovers_expert_actions(loss):
    demos = synthetic_demos()
    cfg = IQLearnOfflineConfig(loss=loss, hidden=(32, 32), batch_size=64, critic_lr=3e-3, entropy_temperature=0.1)
    train = make_train(cfg, demos, 600, 200, n_actions=2)
    carry, metrics = train(jax.random.key(0))
    params = train.policy_params(carry)
    acts = greedy_act(train.policy_graphdef)(params, jnp.asarray(demos.obs), jax.random.key(1))
    assert np.mean(np.asarray(acts) == demos.action) >= 0.95
    assert metrics["loss"].shape == (600,)
    r = recovered_reward(train.policy_graphdef, params, demos, cfg.discount, cfg.entropy_temperature)
    assert r.shape == (len(demos.action),) and np.all(np.isfinite(r))


def test_vmapped_seeds_and_stochastic_act_shapes():
    demos = synthetic_demos(n_episodes=2, length=20)
    cfg = IQLearnOfflineConfig(hidden=(16,), batch_size=16)
    train = make_train(cfg, demos, 20, 10, n_actions=3)
    keys = jax.random.split(jax.random.key(0), 3)
    carry, metrics = train.run(keys)  # seeds vmapped in compiled chunks
    assert metrics["loss"].shape == (3, 20)
    _, metrics_p = jax.vmap(train)(keys)  # train(key) is pure: the same numbers through jax.vmap
    np.testing.assert_allclose(metrics_p["loss"], metrics["loss"], rtol=1e-4, atol=1e-6)
    params = train.policy_params(carry)
    obs = jnp.zeros((3, 5, 2))
    a = softmax_act(train.policy_graphdef, 0.01)(params, obs, jax.random.key(0))
    g = greedy_act(train.policy_graphdef)(params, obs, jax.random.key(0))
    assert a.shape == g.shape == (3, 5) and int(a.max()) < 3
    kernel = params["net"]["out"]["kernel"]
    assert not np.allclose(kernel[0], kernel[1]) and not np.allclose(kernel[0], kernel[2])


def test_training_never_steps_an_environment(monkeypatch):
    counts = {"make": 0, "step": 0, "reset": 0}

    class Counting(gym.Wrapper):
        def step(self, action):
            counts["step"] += 1
            return super().step(action)

        def reset(self, **kw):
            counts["reset"] += 1
            return super().reset(**kw)

    real_make, real_make_env = gym.make, iqlib.core.envs.make_env

    def counting_make(*a, **kw):
        counts["make"] += 1
        return Counting(real_make(*a, **kw))

    def counting_make_env(*a, **kw):
        counts["make"] += 1
        return Counting(real_make_env(*a, **kw))

    monkeypatch.setattr(gym, "make", counting_make)
    monkeypatch.setattr(iqlib.core.envs, "make_env", counting_make_env)
    # the wrapper counts: one real episode step through it registers
    env = iqlib.core.envs.make_env("CartPole-v1")
    env.reset(seed=0)
    env.step(0)
    assert counts["step"] >= 1 and counts["reset"] >= 1 and counts["make"] >= 1
    counts.update(make=0, step=0, reset=0)
    demos = synthetic_demos(n_episodes=2, length=20)
    for loss, key in (("value", jax.random.key(0)), ("v0", jax.random.split(jax.random.key(0), 2))):
        cfg = IQLearnOfflineConfig(loss=loss, chi2_rows="all", grad_penalty=1.0, hidden=(16,), batch_size=16)
        train = make_train(cfg, demos, 20, 10, n_actions=2)
        train(key) if key.ndim == 0 else train.run(key)
    assert counts == {"make": 0, "step": 0, "reset": 0}


@pytest.mark.parametrize("demos, kwargs, match", [
    (synthetic_demos()._replace(obs=np.zeros((0, 2), np.float32)), {}, "zero demonstrations"),
    (synthetic_demos()._replace(action=np.zeros(160, np.float32)), {}, "integers"),
    (synthetic_demos(), {"n_actions": 1}, "must lie in"),
    (synthetic_demos()._replace(episode_start=np.zeros(160, np.float32)), {}, "episode_start"),
    ("not transitions", {}, "Transitions"),
])
def test_bad_demos_raise(demos, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_train(IQLearnOfflineConfig(loss="v0"), demos, 10, 10, **kwargs)


@pytest.mark.parametrize("change, match", [({"loss": "telescope"}, "loss"), ({"chi2_rows": "some"}, "chi2_rows"),
                                           ({"discount": 1.0}, "discount"), ({"entropy_temperature": 0.0}, "entropy_temperature"),
                                           ({"grad_penalty": -1.0}, "grad_penalty"), ({"batch_size": 0}, "batch_size")])
def test_bad_config_raises(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(IQLearnOfflineConfig(), **change)


def test_num_steps_must_be_multiple_of_chunk():
    with pytest.raises(ValueError, match="multiple"):
        make_train(IQLearnOfflineConfig(), synthetic_demos(), 15, 10)


# ---------------------------------------------------------------- notebook (papermill) reruns

def cartpole_demos(path, n=3):
    """Small CartPole demonstrations from a hand-written linear controller (test data only)."""
    env = gym.make("CartPole-v1")
    rows = {k: [] for k in Transitions._fields}
    for ep in range(n):
        o, _ = env.reset(seed=ep)
        for t in range(150):
            a = int(o[2] + 0.3 * o[3] + 0.02 * o[0] + 0.1 * o[1] > 0)
            o2, r, term, trunc, _ = env.step(a)
            trunc = trunc or t == 149
            for k, v in zip(Transitions._fields, (o, a, r, o2, term, trunc and not term, t == 0)):
                rows[k].append(v)
            o = o2
            if term or trunc:
                break
    t = Transitions(*(np.asarray(rows[k]) for k in Transitions._fields))
    save_dataset(path, t._replace(action=t.action.astype(np.int64)),
                 {"env_id": "CartPole-v1", "generated_by": "tests/neural/test_iq_learn_offline.py", "seed": 0,
                  "policy": "hand-written linear controller, episodes cut at 150 steps"})


@pytest.mark.notebooks
def test_notebook_smoke_run_with_tiny_parameters(tmp_path):
    demos_dir = tmp_path / "demos"
    cartpole_demos(demos_dir / "CartPole-v1.npz")
    (tmp_path / "none").mkdir()  # an existing folder without the mixed dataset: that section is skipped
    out = tmp_path / "05"
    execute_notebook(NOTEBOOK, out, {"env_ids": ["CartPole-v1"], "n_demos": [2], "n_seeds": 2,
                                     "train_steps": 200, "chunk_size": 100, "eval_episodes": 2,
                                     "demos_dir": str(demos_dir), "time_to_expert_steps": 250,
                                     "mixed_dir": str(tmp_path / "none")})
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_seeds"] == 2 and m["train_steps"] == 200
    for k in ("CartPole-v1_iq_2_return_mean", "CartPole-v1_bc_2_return_mean", "CartPole-v1_expert_return",
              "CartPole-v1_iq_2_stochastic_return_std", "CartPole-v1_iq_2_best_return_mean", "CartPole-v1_iq_2_wall_s"):
        assert k in m and m[k] is not None
    assert m["n_demos"] == "2"
    assert "CartPole-v1_iq_v0_reward_mean_heldout" in m  # one held-out demonstration
    assert (out / "return_vs_demos.png").is_file()
    curves = json.loads((out / "curves_CartPole-v1_2.json").read_text())
    assert curves["x"] == [100, 200] and set(curves["series"]) == {"iq", "bc"}
    assert np.asarray(curves["series"]["iq"]).shape == (2, 2)
    record = REPO_ROOT / "results" / "05_neural_iq_learn_offline" / "default" / "metrics.json"
    if record.is_file():  # the record's claims are read off the record, exactly
        r = json.loads(record.read_text())
        assert m["headline_on"] == "record"
        assert m["claim_acrobot_1demo_expert_value"] == pytest.approx(r["Acrobot-v1_iq_1_normalized_score"])
        assert m["claim_cartpole_1demo_expert"] is (r["CartPole-v1_iq_1_normalized_score"] >= 95.0)
    assert "claim_cartpole_3demo_75pct" not in m  # no 3-demonstration run here


@pytest.mark.notebooks
@pytest.mark.parametrize("params, match", [
    ({"env_ids": ["CartPole-v7"]}, "env_ids"),
    ({"n_demos": [0, 1]}, "n_demos"),
    ({"demos_dir": "/nonexistent/demos"}, "demos_dir.*existing folder"),
    ({"alpha": 1.0}, "renamed to 'entropy_temperature'"),
])
def test_notebook_rejects_bad_parameters(tmp_path, params, match):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match=match):
        execute_notebook(NOTEBOOK, tmp_path / "bad", params)
