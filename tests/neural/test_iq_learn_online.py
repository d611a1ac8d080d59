"""Online IQ-Learn (SAC critic objective) and its learning-from-observations variant."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import integrate

from iqlib.notebook.runner import REPO_ROOT
from iqlib.core.transitions import Transitions
from iqlib.data.datasets import save_dataset
from iqlib.neural.iq_learn_lfo import (IQLearnLfOConfig, action_values, init_lfo, lfo_loss, predicted_next_obs,
                                qss_input)
from iqlib.neural.iq_learn_lfo_train import train_iq_learn_lfo
from iqlib.neural.lfo_diagnostics import demo_diagnostics
from iqlib.neural.iq_learn_online import (IQLearnOnlineConfig, absorbing_value, init_sac, iq_critic_terms, make_update,
                                          sampled_soft_value)
from iqlib.neural.iq_learn_online_train import demo_data, mix_demos, train_iq_learn_online
from iqlib.core.nets import DoubleCritic, TanhGaussianActor, init_params
from iqlib.core.replay import ReplayBuffer
from iqlib.data.demos import load_demos
from iqlib.neural.online import make_update_chunk
from iqlib.notebook.runner import execute_notebook

NOTEBOOK = REPO_ROOT / "notebooks" / "06_iq_learn_online_continuous.py"

# Hand-computed batch: γ = 0.5, λ = 0.25; rows 0, 1 expert, rows 2, 3 replay; row 1 terminal.
Q = jnp.array([2.0, 1.0, 0.0, 3.0])
V = jnp.array([1.0, 2.0, 0.5, 1.0])
NV = jnp.array([2.0, 4.0, 1.0, 2.0])
TERM = jnp.array([0.0, 1.0, 0.0, 0.0])
EXPERT = jnp.array([1.0, 1.0, 0.0, 0.0])
# r = Q − γ(1 − d)V' = [1, 1, −0.5, 2]; E_E[r] = 1; E_π[r] = 0.75; E_rows[V − γ(1 − d)V'] = 0.5.


def terms(**kw):
    base = dict(discount=0.5, chi2_weight=0.25)
    return iq_critic_terms(kw.pop("q", Q), V, kw.pop("nv", NV), TERM, EXPERT, **base, **kw)


def test_critic_terms_hand_computed_mixture_penalty():
    loss, t = terms()
    assert float(t["expert_reward"]) == pytest.approx(1.0)
    assert float(t["policy_reward"]) == pytest.approx(0.75)
    assert float(t["init_term"]) == pytest.approx(0.5)
    assert float(t["chi2_penalty"]) == pytest.approx(0.25 * (1 + 1 + 0.25 + 4) / 4)  # χ² on expert AND policy rows
    assert float(loss) == pytest.approx(-1.0 + 0.5 + 0.390625)


def test_critic_terms_expert_only_penalty_and_v0():
    loss, t = terms(chi2_rows="expert")
    assert float(t["chi2_penalty"]) == pytest.approx(0.25 * 1.0)
    assert float(loss) == pytest.approx(-0.25)
    loss, t = terms(init_term="v0", v_init=jnp.array([2.0, 4.0]))
    assert float(t["init_term"]) == pytest.approx((1 - 0.5) * 3.0)
    assert float(loss) == pytest.approx(-1.0 + 1.5 + 0.390625)
    with pytest.raises(ValueError, match="v_init"):
        terms(init_term="v0")
    with pytest.raises(ValueError, match="chi2_rows"):
        terms(chi2_rows="policy")


def test_terminal_mask_stops_bootstrap_and_expert_rows_drive_the_linear_term():
    loss, _ = terms()
    assert float(terms(nv=NV.at[1].set(1e3))[0]) == pytest.approx(float(loss))  # terminal row: V(s') unused
    assert float(terms(nv=NV.at[0].set(1e3))[0]) != pytest.approx(float(loss))
    # d loss / d q: expert rows −1/2 + 2λ r/4; policy rows 2λ r/4 only.
    g = jax.grad(lambda q: terms(q=q)[0])(Q)
    np.testing.assert_allclose(g, [-0.5 + 0.125, -0.5 + 0.125, 0.125 * -0.5, 0.125 * 2.0], rtol=1e-6)


def _constant_critics(params, c1, c2):
    """All weights zero, output biases c1 and c2: Q₁ ≡ c1, Q₂ ≡ c2."""
    pure = jax.tree_util.tree_map(jnp.zeros_like, nnx.to_pure_dict(params))
    pure["q1"]["out"]["bias"], pure["q2"]["out"]["bias"] = jnp.full((1,), c1), jnp.full((1,), c2)
    nnx.replace_by_pure_dict(params, pure)
    return params


def test_sampled_soft_value_matches_tanh_gaussian_entropy():
    """Q₁ ≡ 1, Q₂ ≡ 3 and a zero actor (mean 0, log σ = −1.5): V = min Q + α H(tanh N(0, σ²))."""
    obs_dim, alpha, n = 3, 0.2, 40_000
    c_def, c_p = init_params(lambda r: DoubleCritic(obs_dim, 1, (8,), rngs=r), jax.random.key(0))
    c_p = _constant_critics(c_p, 1.0, 3.0)
    a_def, a_p = init_params(lambda r: TanhGaussianActor(obs_dim, 1, (8,), rngs=r), jax.random.key(1))
    a_p = jax.tree_util.tree_map(jnp.zeros_like, a_p)
    obs = jax.random.normal(jax.random.key(2), (n, obs_dim))
    v1, v2 = sampled_soft_value(a_def, a_p, c_def, c_p, obs, jax.random.key(3), alpha, "min")
    sigma = math.exp(-1.5)
    log_jac, _ = integrate.quad(lambda u: math.log1p(-math.tanh(u) ** 2) * math.exp(-0.5 * (u / sigma) ** 2)
                                / (sigma * math.sqrt(2 * math.pi)), -12 * sigma, 12 * sigma)
    entropy = 0.5 * math.log(2 * math.pi * math.e * sigma**2) + log_jac
    assert float(jnp.mean(v1)) == pytest.approx(1.0 + alpha * entropy, abs=4e-3)
    np.testing.assert_array_equal(v1, v2)
    w1, w2 = sampled_soft_value(a_def, a_p, c_def, c_p, obs, jax.random.key(3), alpha, "independent")
    assert float(jnp.mean(w2 - w1)) == pytest.approx(2.0, abs=1e-5)


def _bandit_carry(config, n_rows=256, expert_action=0.5, seed=0, n_seeds=6):
    """One state, one step (terminal): demos always take `expert_action`, the replay is uniform.

    Returns ``(carry, buffer, demos)``: the (learner, key) carry of ``n_seeds`` seeds and their replay."""
    rng = np.random.default_rng(seed)
    obs = np.ones((n_rows, 2), np.float32)
    ones, zeros = np.ones(n_rows, np.float32), np.zeros(n_rows, np.float32)
    demos = Transitions(obs, np.full((n_rows, 1), expert_action, np.float32), zeros, obs, ones, zeros, ones)
    learner = jax.vmap(lambda k: init_sac(k, 2, 1, config)[1])(jax.random.split(jax.random.key(seed), n_seeds))
    buffer = ReplayBuffer(n_rows, 2, (1,), n_seeds=n_seeds)
    replay = Transitions(obs, rng.uniform(-1, 1, (n_rows, 1)).astype(np.float32), zeros, obs, ones, zeros, ones)
    buffer.add(**{k: np.broadcast_to(v, (n_seeds, *v.shape)) for k, v in replay._asdict().items()})
    return (learner, jax.random.split(jax.random.key(seed + 1), n_seeds)), buffer, demos


def test_iq_update_recovers_the_expert_action_on_a_bandit():
    """One state, terminal after one step: the actor (mean) must move from ~0 to the demo action 0.5,
    and the implicit reward of demo rows must exceed that of uniform replay rows. Six seeds vmapped,
    1,000 updates: one seed's action after 400 updates scatters by ±0.2 or more around 0.5 (an
    occasional seed is still far off), so the seed mean is checked, and every seed loosely."""
    config = IQLearnOnlineConfig(hidden=(32, 32), actor_lr=3e-3, critic_lr=3e-3, batch_size=64)
    nets, _ = init_sac(jax.random.key(0), 2, 1, config)
    carry, buffer, demos = _bandit_carry(config)
    chunk = make_update_chunk(make_update(nets, config), mix_demos(config.batch_size), 1000)
    (learner, _), metrics = chunk(carry, *buffer.device_view(), demo_data(demos))
    assert np.all(metrics["expert_reward"][:, -1] > metrics["policy_reward"][:, -1])
    mean, _ = jax.vmap(lambda p: nnx.merge(nets.actor_def, p)(jnp.ones((1, 2))))(learner.actor.params)
    assert float(jnp.tanh(mean).mean()) == pytest.approx(0.5, abs=0.15)
    assert np.all(np.abs(np.tanh(np.asarray(mean)).ravel() - 0.5) < 0.35)


def test_absorbing_value_is_the_chi2_optimum_of_a_policy_only_self_loop():
    lam, gamma = 0.5, 0.99
    assert absorbing_value(lam, gamma) == pytest.approx(-100.0)
    r = np.linspace(-3, 3, 60001)  # self-loop: r = (1 − γ) V; policy-only rows contribute r + λ r²
    assert r[np.argmin(r + lam * r**2)] == pytest.approx((1 - gamma) * absorbing_value(lam, gamma), abs=1e-4)
    with pytest.raises(ValueError):
        absorbing_value(0.0, gamma)


def test_dynamics_model_predicts_every_action_and_scales_inputs():
    config = IQLearnLfOConfig(hidden=(8,), action_model="dynamics")
    stats = (jnp.ones(3), 2 * jnp.ones(3), jnp.full(3, 0.5), jnp.ones(3))
    nets, state = init_lfo(jax.random.key(0), 3, 4, config, stats)
    zero = jax.tree_util.tree_map(jnp.zeros_like, state.train.params["dyn"])
    obs = jnp.arange(6.0).reshape(2, 3)
    nxt = predicted_next_obs(nets, zero, obs)  # f ≡ 0: ŝ' = s + μ_Δ for every action
    assert nxt.shape == (2, 4, 3)
    np.testing.assert_allclose(nxt, jnp.broadcast_to(obs[:, None] + 0.5, (2, 4, 3)))
    np.testing.assert_allclose(qss_input(stats, obs, obs + 0.5), jnp.concatenate([(obs - 1) / 2, jnp.zeros((2, 3))], -1))


@pytest.mark.parametrize("action_model", ["regression", "dynamics"])
def test_lfo_loss_ignores_demo_actions_but_not_replay_actions(action_model):
    config = IQLearnLfOConfig(hidden=(16,), action_model=action_model)
    nets, state = init_lfo(jax.random.key(0), 4, 2, config)
    k = jax.random.split(jax.random.key(1), 3)
    n = 16
    rows = Transitions(jax.random.normal(k[0], (n, 4)), jax.random.randint(k[1], (n,), 0, 2), jnp.zeros(n),
                       jax.random.normal(k[2], (n, 4)), jnp.zeros(n).at[3].set(1.0), jnp.zeros(n), jnp.zeros(n))
    is_expert = jnp.arange(n) < n // 2
    base, _ = lfo_loss(state.train.params, state.target, rows, is_expert, nets, config)
    flipped = rows.action.at[: n // 2].set(1 - rows.action[: n // 2])
    permuted = rows.action.at[: n // 2].set(rows.action[: n // 2][::-1])
    for actions in (flipped, permuted):
        same, _ = lfo_loss(state.train.params, state.target, rows._replace(action=actions), is_expert, nets, config)
        assert float(same) == float(base)
    other = rows.action.at[n // 2:].set(1 - rows.action[n // 2:])
    changed, _ = lfo_loss(state.train.params, state.target, rows._replace(action=other), is_expert, nets, config)
    assert float(changed) != pytest.approx(float(base))
    moved = rows.next_obs.at[0].add(1.0)  # the critic reads the demo's (s, s')
    assert float(lfo_loss(state.train.params, state.target, rows._replace(next_obs=moved), is_expert, nets,
                          config)[0]) != pytest.approx(float(base))


def test_lfo_learned_absorbing_value_starts_at_the_mask_and_adds_one_self_loop_per_terminal_row():
    """θ = 0 is the paper's mask (V_abs = 0, no self-loop reward); at θ = −1 the terminal rows bootstrap
    from the fixed V_abs and the self-loop rows add −f_E r + f r + λ f r² with r = −1/(2λ) (known numbers)."""
    learned = IQLearnLfOConfig(hidden=(16,), learned_absorbing=True)
    mask, fixed = IQLearnLfOConfig(hidden=(16,), absorbing=False), IQLearnLfOConfig(hidden=(16,))
    nets, state = init_lfo(jax.random.key(0), 4, 2, learned)
    k = jax.random.split(jax.random.key(1), 3)
    n = 16
    terminal = jnp.zeros(n).at[0].set(1.0).at[12].set(1.0)  # one expert row and one replay row end
    rows = Transitions(jax.random.normal(k[0], (n, 4)), jax.random.randint(k[1], (n,), 0, 2), jnp.zeros(n),
                       jax.random.normal(k[2], (n, 4)), terminal, jnp.zeros(n), jnp.zeros(n))
    is_expert = jnp.arange(n) < n // 2
    params = state.train.params
    assert float(params["abs"]) == 0.0
    at_zero, terms = lfo_loss(params, state.target, rows, is_expert, nets, learned)
    assert float(at_zero) == pytest.approx(float(lfo_loss(params, None, rows, is_expert, nets, mask)[0]), rel=1e-6)
    assert float(terms["absorbing_value"]) == 0.0
    low = {**params, "abs": jnp.asarray(-1.0)}
    at_low, terms = lfo_loss(low, low, rows, is_expert, nets, learned)
    at_fixed, _ = lfo_loss(params, None, rows, is_expert, nets, fixed)
    r, f_e, f = -1.0, 1 / 8, 2 / 16  # r_abs = −1/(2λ), λ = 0.5; terminal fractions of the expert rows, of all rows
    assert float(at_low - at_fixed) == pytest.approx(-f_e * r + f * r + 0.5 * f * r**2, abs=1e-4)
    assert float(terms["absorbing_value"]) == pytest.approx(-100.0)
    with pytest.raises(ValueError, match="learned_absorbing=True needs absorbing=True"):
        IQLearnLfOConfig(absorbing=False, learned_absorbing=True)


@pytest.mark.parametrize("action_model", ["regression", "dynamics"])
def test_demo_diagnostics_score_the_held_out_actions(action_model):
    """Demo actions equal to argmax Q̄ agree on every row, their flips (2 actions) on none; the model's error
    is its squared error at the expert's action in Δs-std units (NaN without a model)."""
    config = IQLearnLfOConfig(hidden=(16,), action_model=action_model)
    stats = (jnp.zeros(4), jnp.ones(4), jnp.full(4, 0.1), jnp.full(4, 0.5))
    nets, state = init_lfo(jax.random.key(0), 4, 2, config, stats)
    obs = jax.random.normal(jax.random.key(1), (32, 4))
    best = jnp.argmax(action_values(nets, state.train.params, obs), axis=-1)
    nxt = obs + 1.0
    demos = Transitions(obs, best, jnp.zeros(32), nxt, jnp.zeros(32), jnp.zeros(32), jnp.zeros(32))
    stacked = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), state.train.params)  # 2 identical seeds
    out = demo_diagnostics(nets, stacked, demos)
    np.testing.assert_array_equal(out["action_agreement"], [1.0, 1.0])
    flipped = demo_diagnostics(nets, stacked, demos._replace(action=1 - best))
    np.testing.assert_array_equal(flipped["action_agreement"], [0.0, 0.0])
    if action_model == "regression":
        for key in ("model_error", "model_action_id", "action_spread"):
            assert np.all(np.isnan(out[key]))
    else:
        both = predicted_next_obs(nets, state.train.params["dyn"], obs)  # (32, 2, 4)
        pred = both[jnp.arange(32), best]
        want = float(jnp.mean(jnp.sum(((pred - nxt) / 0.5) ** 2, axis=-1)))
        np.testing.assert_allclose(out["model_error"], [want, want], rtol=1e-5)
        # two actions: each lies half their gap from the mean, so the spread is |ŝ'(s,0) − ŝ'(s,1)|²/4 (σ_Δ 0.5)
        gap = float(jnp.mean(jnp.sum(((both[:, 0] - both[:, 1]) / 0.5) ** 2, axis=-1))) / 4
        np.testing.assert_allclose(out["action_spread"], [gap, gap], rtol=1e-5)
        # s' exactly the model's prediction at the demo's action: identified on every row, zero error;
        # s' at the other action's prediction: identified on none
        exact = demo_diagnostics(nets, stacked, demos._replace(next_obs=pred))
        np.testing.assert_array_equal(exact["model_action_id"], [1.0, 1.0])
        np.testing.assert_allclose(exact["model_error"], [0.0, 0.0], atol=1e-8)
        other = demo_diagnostics(nets, stacked, demos._replace(next_obs=both[jnp.arange(32), 1 - best]))
        np.testing.assert_array_equal(other["model_action_id"], [0.0, 0.0])


def test_replay_add_wraps_around():
    buffer = ReplayBuffer(5, 3, (), n_seeds=2)
    block = lambda n, x: Transitions(*(jnp.broadcast_to(x.reshape(1, n, *([1] * k)), (2, n, *([3] * k)))  # noqa: E731
                                       for k in (1, 0, 0, 1, 0, 0, 0)))
    buffer.add(**block(3, jnp.zeros(3))._asdict())  # the next write starts at ring position 3
    buffer.add(**block(4, jnp.arange(4.0))._asdict())
    data = buffer.data
    np.testing.assert_array_equal(data.reward[0], [2, 3, 0, 0, 1])
    assert data.action.dtype == jnp.int32 and data.obs.shape == (2, 5, 3)
    assert buffer.size == 5 and np.asarray(buffer.device_view()[1]).tolist() == [5, 5]
    np.testing.assert_array_equal(buffer.arrays().reward[1], [0, 0, 1, 2, 3])  # oldest first
    np.testing.assert_array_equal(buffer.of_seed(1).arrays().reward, [0, 0, 1, 2, 3])


@pytest.fixture(scope="module")
def cartpole_demos(tmp_path_factory):
    """3 CartPole episodes of a hand-written linear controller (returns 500), saved like `data/demos`."""
    import gymnasium as gym

    folder = tmp_path_factory.mktemp("demos")
    env, rows = gym.make("CartPole-v1"), {k: [] for k in Transitions._fields}
    for ep in range(3):
        o, _ = env.reset(seed=ep)
        start, done = 1.0, False
        while not done:
            a = int(10 * o[2] + 2 * o[3] + 0.3 * o[0] + o[1] > 0)
            n, r, te, tr, _ = env.step(a)
            for k, v in zip(Transitions._fields, (o, a, r, n, float(te), float(tr and not te), start)):
                rows[k].append(v)
            o, start, done = n, 0.0, te or tr
    t = Transitions(*(np.asarray(rows[k]) for k in Transitions._fields))
    save_dataset(folder / "CartPole-v1.npz", t._replace(action=t.action.astype(np.int32)),
                 {"env_id": "CartPole-v1", "policy": "linear controller (test)", "seed": 0, "generated_by": "test"})
    return folder


def test_load_demos_drops_actions_for_lfo_and_checks_inputs(cartpole_demos, tmp_path):
    demos, info = load_demos("CartPole-v1", 2, demos_dir=cartpole_demos)
    assert demos.obs.shape[0] == 1000 and info["expert_return_mean"] == 500.0 and demos.action.any()
    lfo, _ = load_demos("CartPole-v1", 2, observations_only=True, demos_dir=cartpole_demos)
    assert not lfo.action.any()
    np.testing.assert_array_equal(lfo.next_obs, demos.next_obs)
    with pytest.raises(ValueError, match="unknown env_id"):
        load_demos("NoSuchEnv-v0", 1, demos_dir=cartpole_demos)
    with pytest.raises(ValueError, match="n_demos"):
        load_demos("CartPole-v1", 0, demos_dir=cartpole_demos)
    with pytest.raises(ValueError, match="holds only 3"):
        load_demos("CartPole-v1", 4, demos_dir=cartpole_demos)
    with pytest.raises(FileNotFoundError, match="make data-discrete"):
        load_demos("CartPole-v1", 1, demos_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="make data-locomotion"):
        train_iq_learn_online("Hopper-v5", n_demos=1, demos_dir=tmp_path)


def test_learners_reject_the_wrong_action_space_and_bad_configs(cartpole_demos):
    with pytest.raises(ValueError, match="discrete actions"):
        train_iq_learn_online("CartPole-v1", n_demos=1, demos_dir=cartpole_demos)
    with pytest.raises(ValueError, match="chi2_rows"):
        IQLearnOnlineConfig(chi2_rows="policy")
    with pytest.raises(ValueError, match="batch_size"):
        IQLearnLfOConfig(batch_size=0)


def test_lfo_training_loop_shapes(cartpole_demos):
    config = IQLearnLfOConfig(hidden=(16,), learning_starts=64, train_freq=32, eval_every=128, eval_episodes=1)
    _, carry, hist, info = train_iq_learn_lfo("CartPole-v1", config, n_demos=1, n_seeds=2, total_steps=256,
                                              demos_dir=cartpole_demos)
    assert hist["eval_deterministic"].shape == (2, 2, 1) and hist["eval_stochastic"].shape == (2, 2, 1)
    assert list(hist["step"]) == [128, 256] and hist["update_steps"] == 192
    assert hist["metrics"]["expert_reward"].shape == (2, 6)
    assert int(carry.size[0]) == 256 and np.all(hist["eval_deterministic"] >= 8)


@pytest.mark.notebooks
def test_notebook_06_small_run(tmp_path):
    out = tmp_path / "06"
    execute_notebook(NOTEBOOK, out, {"total_steps": 800, "learning_starts": 200, "eval_every": 400,
                                     "train_freq": 100, "hidden": 32, "n_seeds": 1, "eval_episodes": 1,
                                     "lfo_steps": 1408, "lfo_eval_every": 704, "sac_reference": False})  # 128 LfO updates past its 1280 random steps
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["total_steps"] == 800
    for key in ("Pendulum-v1_iq_return_mean", "Pendulum-v1_iq_return_std", "Pendulum-v1_expert_return",
                "CartPole-v1_lfo_1_return_mean", "CartPole-v1_lfo_10_return_mean"):
        assert key in metrics and metrics[key] is not None
    assert (out / "returns_vs_steps.png").is_file()
    curves = json.loads((out / "curves_returns.json").read_text())
    assert curves["x"] == [400, 800] and np.asarray(curves["series"]["iq_deterministic"]).shape == (1, 2)
    assert np.mean(curves["series"]["iq_deterministic"][0][-1]) == pytest.approx(metrics["Pendulum-v1_iq_return_mean"])
    assert metrics["claim_fresh_climbs_value"] == pytest.approx(metrics["Pendulum-v1_iq_normalized_last"])
    record = REPO_ROOT / "results" / "06_iq_learn_online_continuous" / "default" / "metrics.json"
    if record.is_file():  # the headline is read off the record, exactly
        r = json.loads(record.read_text())
        assert metrics["headline_on"] == "record"
        assert metrics["headline_value"] == pytest.approx(r["Pendulum-v1_iq_normalized_last"])


def test_lfo_critic_on_model_reads_q_at_the_models_predicted_next_states():
    """Rows whose s' is the model's own prediction (replay: at its action; demos: at any action) give the same
    loss with and without ``critic_on_model``; a small shift of s' moves the plain critic's Q but not the
    projected one (the nearest prediction is unchanged); the demos' actions stay unread."""
    on = IQLearnLfOConfig(hidden=(16,), critic_on_model=True)
    off = IQLearnLfOConfig(hidden=(16,))
    stats = (jnp.zeros(4), jnp.ones(4), jnp.zeros(4), jnp.full(4, 0.5))
    nets, state = init_lfo(jax.random.key(0), 4, 3, on, stats)
    params, n = state.train.params, 12
    k = jax.random.split(jax.random.key(2), 3)
    obs, act = jax.random.normal(k[0], (n, 4)), jax.random.randint(k[1], (n,), 0, 3)
    pred = predicted_next_obs(nets, params["dyn"], obs)
    rows = Transitions(obs, act, jnp.zeros(n), pred[jnp.arange(n), act], jnp.zeros(n), jnp.zeros(n), jnp.zeros(n))
    is_expert = jnp.arange(n) < n // 2
    loss_on, terms_on = lfo_loss(params, None, rows, is_expert, nets, on)
    loss_off, terms_off = lfo_loss(params, None, rows, is_expert, nets, off)
    assert float(terms_on["q_mean"]) == pytest.approx(float(terms_off["q_mean"]), rel=1e-5)
    assert float(terms_on["iq_loss"]) == pytest.approx(float(terms_off["iq_loss"]), rel=1e-5)
    gaps = jnp.sort(jnp.sum(((pred[:, :, None] - pred[:, None]) / 0.5) ** 2, -1).reshape(n, -1), axis=-1)[:, 3]
    shift = 0.05 * jnp.sqrt(float(jnp.min(gaps))) * 0.5  # far below half the closest pair of predictions
    shifted = rows._replace(next_obs=rows.next_obs + shift)
    assert float(lfo_loss(params, None, shifted, is_expert, nets, on)[1]["q_mean"]) == pytest.approx(
        float(terms_on["q_mean"]), rel=1e-5)
    assert float(lfo_loss(params, None, shifted, is_expert, nets, off)[1]["q_mean"]) != pytest.approx(
        float(terms_off["q_mean"]), rel=1e-5)
    flipped = rows._replace(action=act.at[: n // 2].set((act[: n // 2] + 1) % 3))
    assert float(lfo_loss(params, None, flipped, is_expert, nets, on)[0]) == pytest.approx(float(loss_on), rel=1e-6)
    with pytest.raises(ValueError, match="critic_on_model=True needs action_model='dynamics'"):
        IQLearnLfOConfig(action_model="regression", critic_on_model=True)
