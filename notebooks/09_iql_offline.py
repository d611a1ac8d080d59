# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Neural IQL on D4RL-style offline datasets, against BC and 10 %BC
#
# Notebook 08 ran IQL on a table, where every step is exact. Here the same three regressions
# are fitted by neural networks on our D4RL-style datasets (`data/offline/`, written by
# `make data-*`), for continuous control (Gaussian actor) and discrete control (categorical
# actor). Implicit Q-Learning (Kostrikov, Nair, Levine, ICLR 2022) learns, from dataset tuples
# $(s, a, r, s', d)$ only,
#
# * **V by expectile regression** (Eq. 5) toward the *minimum of the two target critics*:
#   $L_V(\psi) = \mathbb{E}\big[L_2^\tau(\min_i Q_{\hat\phi_i}(s,a) - V_\psi(s))\big]$ with
#   $L_2^\tau(u) = |\tau - \mathbb{1}(u<0)|\,u^2$ — an upper expectile of $Q$ over the *data's* actions,
#   a soft in-distribution maximum (notebook 07);
# * **Q by a TD regression** (Eq. 6): $L_Q(\phi) = \mathbb{E}\big[\sum_i (r + \gamma(1-d)V_\psi(s') - Q_{\phi_i}(s,a))^2\big]$,
#   where $d$ is the *terminal* flag (a timeout still bootstraps);
# * **the policy by advantage-weighted regression** (Eq. 7):
#   $L_\pi(\theta) = -\mathbb{E}\big[\min(e^{\beta(\min_i Q_{\hat\phi_i}(s,a) - V_\psi(s))}, 100)\,\log\pi_\theta(a|s)\big]$.
#
# No term ever evaluates $Q$ at an action the dataset does not contain. Each update does
# V → π → Q → Polyak target ($\rho = 0.005$) inside one compiled `lax.scan` chunk, the
# authors' order (`iqlib/neural/iql.py` explains how CORL's order differs), and every seed runs in
# parallel (`jax.vmap` over a leading seed axis); all seeds are evaluated together between
# chunks.
#
# **Baselines.** BC maximises $\mathbb{E}\log\pi_\theta(a|s)$ over all the data (Eq. 7 with
# $\beta = 0$); **10 %BC** (Chen et al. 2021) does the same on the 10 % of episodes with the
# highest returns. **Score**: D4RL's normalised return
# $100\,(R - R_\text{random})/(R_\text{expert} - R_\text{random})$ with the reference returns the
# data scripts measured (each file's provenance). **Reward conventions** at load time
# (`iqlib.data.registry`): locomotion and discrete rewards × 1000/(max − min episode return),
# maze rewards − 1.

# %% tags=["parameters"]
output_dir = "outputs/09_iql_offline"
seed = 0
datasets = ["cartpole-mixed"]
n_seeds = 5
train_steps = 3000
eval_every = 1000
eval_episodes = 5
hidden = 64
batch_size = 256
top_fraction = 0.1
seed_group = 0
expectile = None
awr_temperature = None
target_rate = None
max_backup = True

# %% [markdown]
# **Parameters.** `datasets`: names from `iqlib.data.registry.dataset_names()`, or ids of local Minari
# datasets (a name with a `/`, e.g. `mujoco/hopper/medium-v0`, read from `$MINARI_DATASETS_PATH` or
# `~/.minari/datasets`, never downloaded; `make minari` publishes ours as `iqlib/<env>/<kind>-v0`; README,
# "Minari"), evaluated on the dataset's `eval_env` spec, with its domain from the action space and its
# reference scores from its metadata, else ours for the same env; `n_seeds`
# independent trainings per method (vmapped); `train_steps` updates per method, evaluated every
# `eval_every` updates on `eval_episodes` episodes per seed (the same reset seeds every time);
# `hidden` is the width of the two hidden layers of every network (paper: 256; the default 64
# is 10× cheaper per update and enough for CartPole) and
# `batch_size` the minibatch (paper: 256). τ and β come from the dataset's domain
# (`IQLConfig.for_domain`: locomotion τ 0.7, β 3; maze τ 0.9, β 10 — the paper's AntMaze
# values; discrete τ 0.7, β 3, our choice); `expectile` / `awr_temperature`, when not None, override
# τ / β for every dataset (sweeps), and `target_rate`, when not None, the Polyak rate ρ of the target
# critics (paper: 0.005; it sets the values' clock, see "Reading the records"). `top_fraction` is the
# share of episodes 10 %BC keeps.
# `max_backup` also trains, on every dataset with the same budget, the learner IQL is built to avoid —
# offline DQN (discrete) or offline SAC (continuous), whose backups maximise over actions — and
# measures its overestimation (the overestimation trap section).
# `seed_group` = G > 0 vmaps the seeds in groups of G run one after another (0: all seeds in one
# vmap); same numbers, different speed: with 256-unit networks on the 2-core CPU, 8 seeds in
# groups of 2 ran 1.26× faster than one vmap of 8 (`benchmarks/bench_iql.py`).
#
# The defaults (CartPole only, 3,000 updates, 64-unit layers) fit the 90-second budget of
# `make run` on two CPU cores. **The full run** — every dataset, ≥ 5 seeds, the paper's 256-unit
# layers, ≥ 50k updates (the paper trains 10⁶) — is a papermill rerun of many hours on two
# cores (IQL at 256 units, summed over seeds: ≈ 500 updates/s on the idle 2-core machine of one
# session, 190–210 and about 187 on two others' — the same code; `benchmarks/bench_iql.py`), best with an even
# number of seeds in groups of 2 and one dataset per run (results are saved per run):
#
# ```bash
# .venv/bin/python -m iqlib.notebook.runner --notebooks 09 --output-dir outputs_full \
#     -p datasets '["hopper-medium-replay", "hopper-medium-expert", "halfcheetah-medium-replay", "pointmaze-medium-stitch", "cartpole-mixed", "lunarlander-mixed"]' \
#     -p n_seeds 6 -p seed_group 2 -p train_steps 50000 -p eval_every 10000 -p eval_episodes 10 -p hidden 256
# ```

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import (Bool, DatasetName, Float, Int, ListOf, Optional, OutputDir, check_parameters,
                                   require, require_distinct)

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "seed": Int(0),
    "datasets": ListOf(DatasetName(), min_len=1),
    "n_seeds": Int(1, 64),
    "train_steps": Int(1, 10_000_000),
    "eval_every": Int(1, 10_000_000),
    "eval_episodes": Int(1, 1000),
    "hidden": Int(1, 4096),
    "batch_size": Int(1, 1_000_000),
    "top_fraction": Float(0.0, 1.0, lo_open=True),
    "seed_group": Int(0, 64),
    "expectile": Optional(Float(0.0, 1.0, lo_open=True, hi_open=True)),
    "awr_temperature": Optional(Float(0.0)),
    "target_rate": Optional(Float(0.0, 1.0, lo_open=True)),
    "max_backup": Bool(),
})
require(P.seed_group == 0 or P.n_seeds % P.seed_group == 0,
        f"seed_group ({P.seed_group}) must divide n_seeds ({P.n_seeds})")
require(P.train_steps % P.eval_every == 0,
        f"train_steps ({P.train_steps}) must be a multiple of eval_every ({P.eval_every})")
require_distinct("datasets", P.datasets)

import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

T_START = time.perf_counter()
P

# %%
from iqlib.neural import bc
from iqlib.core.transitions import episode_returns, normalized_score, top_fraction_episodes
from iqlib.data.files import save_figure, save_metrics
from iqlib.neural.iql import (IQLConfig, awr_actor_loss, awr_weights, critic_loss, expectile_loss, make_update,
                              td_target, value_loss)
from iqlib.neural.iql_train import make_train
from iqlib.data.registry import load_offline
from iqlib.notebook.iql_records import run_config
from iqlib.notebook.curves import save_curves
from iqlib.notebook.plotting import bar_table, curves_with_bands
from iqlib.notebook.source import show_source

out = P.output_dir
HIDDEN = (P.hidden, P.hidden)
EVAL_SEED = 2_000_000 + 1000 * P.seed  # reset seeds seed + i, disjoint from the data scripts'

# %% [markdown]
# ## The equations in code
#
# The library's own losses (`iqlib.neural.iql`), the code the training below runs: Eq. 5 is
# `value_loss` (the mean of `expectile_loss` $L_2^\tau$ of $\min_i Q_{\hat\phi_i}(s,a) - V_\psi(s)$);
# Eq. 7 is `awr_weights` $\min(e^{\beta A}, 100)$ times $\log\pi_\theta(a|s)$ in `awr_actor_loss`;
# Eq. 6 is `critic_loss` toward `td_target` $r + \gamma(1-d)V_\psi(s')$:

# %%
show_source(expectile_loss, value_loss, awr_weights, awr_actor_loss, td_target, critic_loss);

# %% [markdown]
# One update, built by `make_update`: V → π → Q → target, with π and Q both reading the freshly
# updated V and the advantage computed from the target twins. `make_train` (`iqlib.neural.iql_train`)
# draws each minibatch and runs this `update` in compiled chunks.

# %%
show_source(make_update);

# %% [markdown]
# The pieces on toy inputs: at $\tau = 0.5$ the value loss is half the mean squared error; at
# $\tau = 0.7$ an under-estimate ($u = 1$) costs $0.7\,u^2$ and an over-estimate ($u = -2$) $0.3\,u^2$;
# AWR weights are $e^{\beta A}$ until they clip at `max_weight`; only a terminal stops the TD
# bootstrap; the twins' squared errors are summed; the actor loss is the weighted negative log-likelihood.

# %%
q_toy, v_toy = jnp.array([1.0, -2.0]), jnp.zeros(2)  # u = q − v = (1, −2)
assert np.isclose(value_loss(v_toy, q_toy, 0.5), 0.5 * np.mean((q_toy - v_toy) ** 2))
assert np.isclose(value_loss(v_toy, q_toy, 0.7), (0.7 * 1.0 + 0.3 * 4.0) / 2)
w_toy = awr_weights(jnp.array([0.0, 1.0, 10.0]), 3.0, max_weight=100.0)
assert np.allclose(w_toy, [1.0, np.exp(3.0), 100.0], rtol=1e-6)  # e^30 clips at 100
assert np.allclose(td_target(jnp.ones(2), jnp.array([0.0, 1.0]), jnp.full(2, 10.0), 0.9), [10.0, 1.0])
q_twins = jnp.array([[1.0, 2.0], [3.0, 4.0]])  # (2 critics, B = 2), target y = 1
assert np.isclose(critic_loss(q_twins, jnp.ones(2)), ((0**2 + 2**2) + (1**2 + 3**2)) / 2)
assert np.isclose(awr_actor_loss(jnp.array([-1.0, -2.0]), jnp.array([1.0, 2.0])), (1.0 + 4.0) / 2)
print("value loss (τ 0.5, 0.7):", float(value_loss(v_toy, q_toy, 0.5)), float(value_loss(v_toy, q_toy, 0.7)),
      "| AWR weights:", np.asarray(w_toy))

# %% [markdown]
# ## The datasets
#
# Raw returns are the environment's; the learners see the converted rewards. The 10 %BC subset
# keeps the best episodes by (raw) return.

# %%
data = {}
for name in P.datasets:
    t, info = load_offline(name)
    raw_ret = episode_returns(load_offline(name, raw=True)[0])
    top = top_fraction_episodes(t, P.top_fraction)
    data[name] = (t, info, top)
    print(f"{name:26s} {info['env_id']:26s} {info['domain']:10s} {info['n_transitions']:7d} transitions "
          f"{info['n_episodes']:5d} episodes; raw return mean {raw_ret.mean():8.1f} (max {raw_ret.max():7.1f}); "
          f"ref random {info['ref_random_return']:.1f}, expert {info['ref_expert_return']:.1f}; "
          f"data score {normalized_score(raw_ret.mean(), info['ref_random_return'], info['ref_expert_return']):.1f}; "
          f"10%BC keeps {len(top.reward)} transitions")

# %% [markdown]
# ## Training: IQL, BC and 10 %BC, all seeds at once
#
# `make_train(config, data, num_steps, chunk_size=eval_every)` builds a pure `train(key)`;
# `run_with_evaluation(keys, env_id, n_episodes)` runs the seeds vmapped in compiled chunks
# and evaluates all of them in lockstep between chunks (`iqlib.core.envs.evaluate` with
# `batch_shape=(n_seeds,)`). Policies act at their mode (Gaussian mean / argmax).

# %%
keys = jax.random.split(jax.random.key(P.seed), P.n_seeds)
results, timings, iql_metrics, iql_carry = {}, {}, {}, {}
for name, (t, info, top) in data.items():
    cfg = run_config(P, name, info["domain"], hidden=HIDDEN, batch_size=P.batch_size)  # τ, β, ρ: P's, else the preset
    bc_cfg = bc.BCConfig(hidden=HIDDEN, batch_size=P.batch_size)
    trainers = {"iql": make_train(cfg, t, P.train_steps, chunk_size=P.eval_every),
                "bc": bc.make_train(bc_cfg, t, P.train_steps, chunk_size=P.eval_every),
                "pctbc": bc.make_train(bc_cfg, top, P.train_steps, chunk_size=P.eval_every)}
    for method, trainer in trainers.items():
        t0 = time.perf_counter()
        carry, metrics, steps, returns = trainer.run_with_evaluation(
            keys, info["env_id"], P.eval_episodes, seed=EVAL_SEED, progress=True, desc=f"{name} {method}",
            seed_group=P.seed_group or None)
        timings[name, method] = time.perf_counter() - t0
        results[name, method] = normalized_score(returns, info["ref_random_return"], info["ref_expert_return"])
        if method == "iql":
            iql_metrics[name], iql_carry[name] = metrics, (trainer, carry)
    print(f"{name}: " + ", ".join(f"{m} {timings[name, m]:.1f} s" for m in trainers)
          + f"  (τ {cfg.expectile}, β {cfg.awr_temperature}, ρ {cfg.target_rate})")

# %% [markdown]
# ## Scores
#
# **last**: the normalised score after the final update (mean ± std over seeds) — the number
# to compare. **best**: the best evaluation along the run per seed, averaged: optimistic,
# because it selects on the evaluation episodes themselves (reported for comparison with papers
# that do so, not as a result).

# %%
METHODS = {"iql": "IQL", "bc": "BC", "pctbc": f"{round(100 * P.top_fraction)} %BC"}
summary = {}
print(f"{'dataset':26s} " + "  ".join(f"{v:>22s}" for v in METHODS.values()))
for name in data:
    row = []
    for m in METHODS:
        s = results[name, m]
        last, best = s[:, -1], s.max(axis=1)
        summary.update({f"{name}_{m}_score_mean": float(last.mean()), f"{name}_{m}_score_std": float(last.std()),
                        f"{name}_{m}_score_best_mean": float(best.mean()), f"{name}_{m}_wall_s": timings[name, m]})
        row.append(f"{last.mean():6.1f} ± {last.std():5.1f} (best {best.mean():5.1f})")
    print(f"{name:26s} " + "  ".join(f"{r:>22s}" for r in row))

for name in data:
    fig = bar_table({f"{METHODS[m]}": summary[f"{name}_{m}_score_mean"] for m in METHODS},
                    {f"{METHODS[m]}": summary[f"{name}_{m}_score_std"] for m in METHODS},
                    ylabel="normalised score (last)", title=f"{name}, {P.n_seeds} seeds, {P.train_steps} updates")
    save_figure(fig, out / f"scores_{name.replace('/', '--')}.png")

# %% [markdown]
# ## Learning curves (mean ± 1 std over seeds)
#
# The per-seed scores behind each figure are saved as `curves_<name>.json`
# (`iqlib.notebook.curves.save_curves`: `x` the update steps, per method a `(n_seeds, n_evaluations)`
# series), the format every recorded run keeps, and the means are printed.

# %%
for name in data:
    steps = np.arange(P.eval_every, P.train_steps + 1, P.eval_every)
    fig = curves_with_bands(steps, {METHODS[m]: results[name, m] for m in METHODS}, "updates",
                            "normalised score", title=name)
    save_figure(fig, out / f"learning_curves_{name.replace('/', '--')}.png")
    save_curves(out, name.replace("/", "--"), steps, {m: results[name, m] for m in METHODS}, x_label="updates",
                y_label="normalised score")
    print(f"{name} (mean over seeds at updates {', '.join(map(str, steps))})")
    for m in METHODS:
        print(f"  {METHODS[m]:8s} " + " ".join(f"{v:7.1f}" for v in np.mean(results[name, m], axis=0)))

# %% [markdown]
# ## What IQL's critics did
#
# Batch means per update, averaged over seeds and over ten windows of the run: V tracks an upper expectile
# of min Q̂, so the mean advantage Q̂ − V is negative (τ > 0.5); the share of AWR weights at the
# clip (100) shows how peaked the extracted policy's weighting is. The per-seed windows are saved as
# `curves_iql_critics_<name>.json` (x = the last update of each window), so a record keeps them.

# %%
for name, m in iql_metrics.items():
    w = max(1, P.train_steps // 10)
    def window(x):  # (n_seeds, n_windows)
        return np.asarray(x)[:, : (P.train_steps // w) * w].reshape(x.shape[0], -1, w).mean(-1)
    print(name)
    critics = {k: window(m[k]) for k in ("value_loss", "critic_loss", "v", "q", "advantage", "awr_weight",
                                         "clipped_fraction")}
    for k, per_seed in critics.items():
        print(f"  {k:17s} " + " ".join(f"{v:9.3f}" for v in per_seed.mean(0)))
    save_curves(out, f"iql_critics_{name.replace('/', '--')}", w * np.arange(1, critics["v"].shape[1] + 1),
                critics, x_label="updates (end of window)", y_label="batch mean over the window")
    summary[f"{name}_iql_final_clipped_fraction"] = float(np.mean(m["clipped_fraction"][:, -max(1, w):]))
    summary[f"{name}_iql_final_critic_loss"] = float(np.mean(m["critic_loss"][:, -max(1, w):]))

# %% [markdown]
# ## The overestimation trap, measured
#
# IQL never evaluates Q at an action outside the data. A learner whose backup *maximises* over
# actions does: offline DQN's target $r + \gamma \max_{a'} Q(s', a')$ on discrete data, offline SAC's
# $r + \gamma(\min_j \bar Q_j(s', a') - \alpha\log\pi(a'|s'))$ with $a' \sim \pi$, the actor climbing $Q$,
# on continuous data (`iqlib.neural.max_backup`; Fujimoto et al. 2019 call it extrapolation error).
# Nothing in the data corrects $Q$ at the actions the maximisation picks, so its errors enter the
# targets. We train that learner on the same data, with IQL's budget and network width, and read
# both learners' $Q$ at the initial states of `N_START` evaluation episodes, at the action their own
# policy takes, $Q(s_0, \pi(s_0))$, beside the **Monte-Carlo discounted return that policy earns**
# from the same states, $\sum_t \gamma^t r_t$ under the learners' reward convention (γ = 0.99). A
# faithful critic has the two close; the ratio $Q/\text{MC}$ measures the trap.

# %%
import functools

from iqlib.core.envs import evaluate, make_env
from iqlib.core.nets import apply
from iqlib.neural import max_backup as mb
from iqlib.neural.acting import deterministic_act, greedy_act, tanh_gaussian_act
from iqlib.neural.dqn import DQNConfig
from iqlib.neural.iql import make_nets
from iqlib.neural.offline import action_space
from iqlib.neural.sac import SACConfig
from iqlib.notebook.records import find_record, run_name

N_START = 5  # initial states read: resets EVAL_SEED + i, i < N_START (the evaluation's first episodes)
GAMMA = IQLConfig().discount  # every learner here uses the same γ (0.99)


def mc_discounted(env_id, act, info):
    """(n_seeds, N_START) discounted returns of `act` under the learners' reward convention."""
    ret, lengths = evaluate(env_id, act, N_START, EVAL_SEED, batch_shape=(P.n_seeds,), discount=GAMMA,
                            return_lengths=True)
    if "reward_shift" in info:  # maze: r - 1 per step
        return ret + info["reward_shift"] * (1 - GAMMA**lengths) / (1 - GAMMA)
    return ret * info.get("reward_scale", 1.0)


trap = {}
for name, (t, info, _) in (data.items() if P.max_backup else []):
    env_id, discrete = info["env_id"], info["domain"] == "discrete"
    s0 = jnp.asarray(np.stack([make_env(env_id).reset(seed=EVAL_SEED + i)[0] for i in range(N_START)]), jnp.float32)
    if discrete:
        learner = mb.make_dqn_train(DQNConfig(hidden=HIDDEN, batch_size=P.batch_size, critic_lr=3e-4, target_rate=0.005,
                                              double=False), t, P.train_steps, chunk_size=P.eval_every)
        act = greedy_act(learner.policy_graphdef)
        q_at_s0 = lambda c: apply(learner.policy_graphdef, c.q.params, s0).max(-1)  # noqa: E731
    else:
        learner, sac_nets = mb.make_sac_train(SACConfig(hidden=HIDDEN, batch_size=P.batch_size), t, P.train_steps,
                                              chunk_size=P.eval_every)
        act = tanh_gaussian_act(sac_nets.actor_def, True)

        def q_at_s0(c):
            a0 = jnp.tanh(apply(sac_nets.actor_def, c.actor.params, s0)[0])
            return jnp.minimum(*apply(sac_nets.critic_def, c.critic.params, s0, a0))
    q_curve, mc_curve = [], []

    def read(step, carry, _):
        q_curve.append(np.asarray(jax.vmap(q_at_s0)(carry)).mean(-1))
        mc_curve.append(mc_discounted(env_id, functools.partial(act, learner.policy_params(carry)), info).mean(-1))

    t0 = time.perf_counter()
    learner.run(keys, callback=read, progress=True, desc=f"{name} {'DQN' if discrete else 'SAC'} (max backup)")
    # IQL at the end of its run: min of the twin critics at the policy's action (mode / argmax)
    iql_train, iql_c = iql_carry[name]
    q_values = make_nets(action_space(t), IQLConfig(hidden=HIDDEN)).q_values

    def iql_q_at_s0(c):
        out_ = apply(iql_train.policy_graphdef, c.actor.params, s0)
        a0 = jnp.argmax(out_, -1) if discrete else out_[0]
        return jnp.min(q_values(c.critic.params, s0, a0), axis=0)
    iql_q = np.asarray(jax.vmap(iql_q_at_s0)(iql_c)).mean(-1)
    iql_act = deterministic_act(iql_train.policy_graphdef)
    iql_mc = mc_discounted(env_id, functools.partial(iql_act, iql_train.policy_params(iql_c)), info).mean(-1)
    q_curve, mc_curve = np.stack(q_curve, 1), np.stack(mc_curve, 1)  # (n_seeds, n_evals)
    trap[name] = dict(learner="DQN" if discrete else "SAC", q=q_curve, mc=mc_curve, iql_q=iql_q, iql_mc=iql_mc,
                      wall_s=time.perf_counter() - t0)
    steps_ = np.arange(P.eval_every, P.train_steps + 1, P.eval_every, dtype=float)
    save_curves(out, f"max_backup_{name.replace('/', '--')}", steps_, {"Q(s0, pi(s0))": q_curve, "MC return": mc_curve},
                x_label="updates", y_label="discounted return from s0")
    ratio = float(q_curve[:, -1].mean() / mc_curve[:, -1].mean()) if mc_curve[:, -1].mean() > 0 else float("nan")
    iql_ratio = float(iql_q.mean() / iql_mc.mean()) if iql_mc.mean() > 0 else float("nan")
    key = f"{name}_max_backup"
    summary.update({f"{key}_learner": trap[name]["learner"], f"{key}_q0_mean": float(q_curve[:, -1].mean()),
                    f"{key}_mc0_mean": float(mc_curve[:, -1].mean()), f"{key}_ratio": ratio,
                    f"{key}_q0_peak": float(q_curve.mean(0).max()), f"{name}_iql_q0_mean": float(iql_q.mean()),
                    f"{name}_iql_mc0_mean": float(iql_mc.mean()), f"{name}_iql_q_mc_ratio": iql_ratio,
                    f"{key}_wall_s": trap[name]["wall_s"]})
    print(f"{name}: {trap[name]['learner']} (max backup) after {P.train_steps} updates: Q(s0) {q_curve[:, -1].mean():8.1f} vs "
          f"its policy's MC return {mc_curve[:, -1].mean():8.1f} (ratio {ratio:.2f}); IQL: Q(s0) {iql_q.mean():8.1f} vs "
          f"MC {iql_mc.mean():8.1f} (ratio {iql_ratio:.2f}); {trap[name]['wall_s']:.0f} s")

# %% [markdown]
# Below: the record of this section at full width (`results/09_iql_offline/datasets=hopper-medium-replay,train_steps=20000/`,
# `sweeps/full.yaml --entry iql-overestimation`: hopper-medium-replay, 3 seeds, 20,000 updates, 256-unit
# layers) as full lines, and this run's datasets dashed: the max-backup learner's $Q(s_0,\pi(s_0))$
# and the discounted return its policy earns, per evaluation; IQL's two numbers at the end of its run
# as markers.

# %%
TRAP_RUN = run_name({"datasets": ["hopper-medium-replay"], "train_steps": 20000})
trap_record = find_record("09_iql_offline", TRAP_RUN)
panels = [("record", "hopper-medium-replay")] if trap_record is not None else []
panels += [("fresh", name) for name in trap]
if panels:
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False)
    for ax, (kind, name) in zip(axes[0], panels):
        if kind == "record":
            rc = trap_record[1][f"max_backup_{name}"]
            rm_ = trap_record[0].metrics
            x, q_, mc_, ls = rc.x, rc.series["Q(s0, pi(s0))"], rc.series["MC return"], "-"
            iq, im = rm_[f"{name}_iql_q0_mean"], rm_[f"{name}_iql_mc0_mean"]
            who = rm_[f"{name}_max_backup_learner"]
        else:
            x = np.arange(P.eval_every, P.train_steps + 1, P.eval_every)
            q_, mc_, ls = trap[name]["q"], trap[name]["mc"], "--"
            iq, im, who = trap[name]["iql_q"].mean(), trap[name]["iql_mc"].mean(), trap[name]["learner"]
        for series, style, label in ((q_, ls, f"{who}: Q(s0, π(s0))"), (mc_, ":", f"{who}: its MC return")):
            ax.plot(x, np.mean(series, 0), color="C3", ls=style, marker="o", ms=3, label=label)
            ax.fill_between(x, np.min(series, 0), np.max(series, 0), color="C3", alpha=0.12, lw=0)
        ax.scatter([x[-1]], [iq], color="C0", marker="s", zorder=3, label="IQL: Q(s0, π(s0))")
        ax.scatter([x[-1]], [im], color="C0", marker="x", zorder=3, label="IQL: its MC return")
        ax.set_xlabel("updates")
        ax.set_ylabel("discounted return from s0")
        ax.set_title(f"{name} ({'record' if kind == 'record' else 'this run'})", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "overestimation.png")
    plt.show()
if trap_record is not None:
    rm_ = trap_record[0].metrics
    print(f"record ({trap_record[0].parameters['n_seeds']} seeds, {trap_record[0].parameters['train_steps']} updates): "
          f"{rm_['hopper-medium-replay_max_backup_learner']} Q(s0) {rm_['hopper-medium-replay_max_backup_q0_mean']:.1f} vs MC "
          f"{rm_['hopper-medium-replay_max_backup_mc0_mean']:.1f} (ratio {rm_['hopper-medium-replay_max_backup_ratio']:.1f}); "
          f"IQL Q(s0) {rm_['hopper-medium-replay_iql_q0_mean']:.1f} vs MC {rm_['hopper-medium-replay_iql_mc0_mean']:.1f} "
          f"(ratio {rm_['hopper-medium-replay_iql_q_mc_ratio']:.2f})")

# %% [markdown]
# ## The maze: has V propagated from the goal?
#
# With rewards r − 1 and no terminal states, the optimal value of a state k controller steps
# from the goal is about $-(1-\gamma^k)/(1-\gamma)$: 0 at the goal, falling with the
# shortest-path distance. For each maze dataset in this run we evaluate the learned V at the
# centre of every free cell (at rest) and compare it with the cell's shortest-path distance to
# the evaluation goal (grid moves, `iqlib.problems.pointmaze.bfs_distances`): the rank correlation of V
# with −distance says whether the value has learned *where the goal is*; if V is ordered but
# the policy still fails, the fault is in the extraction, not the values.

# %%
from scipy.stats import spearmanr

from iqlib.problems import pointmaze

for name, (trainer, carry) in iql_carry.items():
    t, info, _ = data[name]
    if info["domain"] != "maze":
        continue
    maze_map = pointmaze.MEDIUM_MAP
    cells = pointmaze.free_cells(maze_map)
    goal_cell = tuple(info["provenance"]["eval_goal_cell"])
    dist = pointmaze.bfs_distances(maze_map, goal_cell)[cells[:, 0], cells[:, 1]]
    obs = np.zeros((len(cells), t.obs.shape[1]), np.float32)
    obs[:, :2] = pointmaze.cell_to_xy(cells, maze_map)
    v = np.asarray(trainer.value(carry, obs))  # (seeds, cells)
    rho = np.array([spearmanr(vi, -dist)[0] for vi in v])
    summary[f"{name}_iql_value_distance_spearman"] = float(rho.mean())
    print(f"{name}: Spearman(V, −distance to goal) per seed {np.round(rho, 2)}; "
          f"V at the goal cell {v[:, dist == 0].mean():.1f}, at the farthest cells {v[:, dist == dist.max()].mean():.1f}")
    grid = np.full(maze_map.shape, np.nan)
    grid[cells[:, 0], cells[:, 1]] = v.mean(0)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    im = axes[0].imshow(grid, cmap="viridis")
    axes[0].set_title("IQL's V at cell centres (mean over seeds)")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    axes[1].scatter(dist, v.mean(0), s=14)
    axes[1].set(xlabel="shortest-path distance to the goal [cells]", ylabel="V (mean over seeds)",
                title=f"Spearman(V, −distance) = {rho.mean():.2f}")
    for ax in axes[:1]:
        ax.plot(goal_cell[1], goal_cell[0], "r*", ms=12)
        ax.set_xticks([]), ax.set_yticks([])
    save_figure(fig, out / f"value_map_{name.replace('/', '--')}.png")

# %% [markdown]
# ## Every dataset in one table: the records, with this run drawn over them
#
# The defaults (CartPole only, 3,000 updates, 64-unit layers) cannot carry the paper's claims,
# which are about locomotion and maze data at 256-unit layers and many updates. The project records
# them with the sweep runner (`python -m iqlib.notebook.sweep <file>`): `sweeps/full.yaml` (entries
# `iql-offline-full`: 6 seeds in vmapped groups of 2, 5·10⁴ updates; `iql-offline-defaults-long`:
# this notebook's *default configuration* ten times longer, which the default run is drawn over),
# `sweeps/iql-hopper-medium-expert.yaml` (hopper-medium-expert at two target rates, and the other
# locomotion sets), `sweeps/iql-lunarlander.yaml` and `sweeps/iql-maze.yaml`. The table holds every
# record at ≥ 5 seeds at its domain's τ and β (`iqlib.notebook.iql_records.dataset_rows`; the README's
# table of every dataset is the same rows), with the updates per seed and the wall time of the whole
# record; a dataset without such a record says so. In every panel **full lines with shaded min–max
# bands are the record; dashed lines with dots are this run** (drawn on its datasets' panels).

# %%
from iqlib.notebook.curves import Curves, compare_at_common_x, plot_over_record
from iqlib.notebook.iql_records import ORDER, STEM, dataset_rows

rows = dataset_rows(min_seeds=5)
found = {row.folder.name: find_record(STEM, row.folder.name) for row in rows}  # (record, {name: curves})
print(f"{'dataset':26s} {'seeds':>5} {'updates':>7} {'τ/β/ρ':>14} {'hidden':>6} "
      + "  ".join(f"{v:>14s}" for v in METHODS.values()) + f" {'wall':>8}  record")
for row in rows:
    (rp, rm, prov), name = row.record, row.dataset
    cells = "  ".join(f"{rm[f'{name}_{m}_score_mean']:6.1f} ± {rm[f'{name}_{m}_score_std']:5.1f}" for m in METHODS)
    print(f"{name:26s} {rp['n_seeds']:>5} {rp['train_steps']:>7} "
          f"{f'{row.expectile:g}/{row.awr_temperature:g}/{row.target_rate:g}':>14} {rp['hidden']:>6} {cells} "
          f"{prov['wall_time_s'] / 60:6.1f} m  {row.folder.name}")
missing = [name for name in ORDER if name not in {row.dataset for row in rows}]
for name in missing:
    print(f"{name:26s} no record at ≥ 5 seeds")
# dataset -> (record, curves) the fresh run is compared with: its first row at this run's τ, β and ρ
records = {}
for row in rows:
    ran = run_config(P, row.dataset)
    if row.dataset not in records and (row.expectile, row.awr_temperature, row.target_rate) == (
            ran.expectile, ran.awr_temperature, ran.target_rate):
        records[row.dataset] = found[row.folder.name]

panels = [(row.dataset, row.folder.name, found[row.folder.name][1].get(row.dataset)) for row in rows]
panels += [(name, None, None) for name in P.datasets if name not in {row.dataset for row in rows}]
n_col = min(3, len(panels))
fig, axes = plt.subplots(-(-len(panels) // n_col), n_col, figsize=(4.6 * n_col, 3.6 * -(-len(panels) // n_col)),
                         squeeze=False)
for ax in axes.ravel()[len(panels):]:
    ax.set_visible(False)
drawn = set()
for ax, (name, folder, rec_curves) in zip(axes.ravel(), panels):
    fresh_here = name in data and name not in drawn
    drawn.add(name)
    fresh = (Curves(np.arange(P.eval_every, P.train_steps + 1, P.eval_every, dtype=float),
                    {m: results[name, m] for m in METHODS}, "updates", "normalised score")
             if fresh_here else Curves(rec_curves.x, {}, rec_curves.x_label, rec_curves.y_label))
    plot_over_record(ax, fresh, rec_curves, labels=METHODS)
    change = folder.split(",", 1)[1] if folder and "," in folder else ""
    ax.set_title(name + (f" ({change})" if change else "") + ("" if fresh_here else " (record only)"), fontsize=9)
fig.suptitle("Recorded runs (full lines, min–max band) and this run (dashed)", fontsize=11)
fig.tight_layout()
save_figure(fig, out / "records_with_this_run.png")
plt.show()

# %% [markdown]
# ### LunarLander: the AWR temperature and the expectile, one change at a time
#
# Discrete IQL's τ 0.7 and β 3 are our choice: the paper has no discrete experiments. Which setting
# does best on `lunarlander-mixed`, against BC and 10 %BC? `sweeps/iql-lunarlander.yaml` changes one
# at a time: β ∈ {0.3, 1, 3, 10} at τ 0.7, and τ ∈ {0.9, 0.5} at β 3. β changes only the policy step, so the
# critics (and their TD loss) are the same in every β run; τ changes the critics. Every run has 5
# seeds, 2·10⁴ updates, 256-unit layers and 10 evaluation episodes, with BC and 10 %BC beside it
# and no max-backup learner.
# Records: `results/09_iql_offline/datasets=lunarlander-mixed,<change>/`. The table lists the
# final normalised scores, and over the last tenth of the run the share of AWR weights at the clip
# and the critics' TD loss.

# %%
from iqlib.notebook.grid import sweep_records
from iqlib.notebook.runner import REPO_ROOT

LUNAR, LUNAR_SWEEP = "lunarlander-mixed", REPO_ROOT / "sweeps" / "iql-lunarlander.yaml"
lunar = {}
for run, found_ in sweep_records(LUNAR_SWEEP):
    if found_ is None:
        print(f"{run.name}: no record (python -m iqlib.notebook.sweep sweeps/{LUNAR_SWEEP.name})")
        continue
    rp_, rm_, prov_ = found_[0]
    cfg_ = run_config(rp_, LUNAR)
    lunar[run.name] = {"tau": cfg_.expectile, "beta": cfg_.awr_temperature, "seeds": rp_["n_seeds"],
                       **{m: (rm_[f"{LUNAR}_{m}_score_mean"], rm_[f"{LUNAR}_{m}_score_std"]) for m in METHODS},
                       "clipped": rm_[f"{LUNAR}_iql_final_clipped_fraction"],
                       "critic_loss": rm_[f"{LUNAR}_iql_final_critic_loss"], "wall_min": prov_["wall_time_s"] / 60}
if lunar:
    print(f"{'τ':>5} {'β':>5} " + " ".join(f"{v:>14s}" for v in METHODS.values())
          + f" {'at clip':>8} {'TD loss':>8} {'wall':>7}")
    for a in lunar.values():
        print(f"{a['tau']:5.2f} {a['beta']:5.1f} " + " ".join(f"{a[m][0]:6.1f} ± {a[m][1]:5.1f}" for m in METHODS)
              + f" {a['clipped']:8.3f} {a['critic_loss']:8.3f} {a['wall_min']:5.1f} m")
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    xs = np.arange(len(lunar))
    for i, (m, color) in enumerate((("iql", "C0"), ("bc", "C1"), ("pctbc", "C2"))):
        ax.bar(xs + (i - 1) * 0.27, [a[m][0] for a in lunar.values()], 0.27,
               yerr=[a[m][1] for a in lunar.values()], color=color, capsize=2, label=METHODS[m])
    ax.set_xticks(xs, [f"τ {a['tau']:g}, β {a['beta']:g}" for a in lunar.values()], rotation=20, fontsize=8)
    ax.set_ylabel(f"normalised score ({LUNAR})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "lunarlander_beta_tau.png")
    plt.show()

# %% [markdown]
# ### The maze: the expectile, and stitching against goal coverage
#
# No logged segment of `pointmaze-medium-stitch` is aimed at the goal. `pointmaze-medium-goal` is
# the same controller stream with those segments logged (`make_maze_data.py --keep-goal-segments`,
# D4RL's maze2d recipe; a test checks that dropping them gives the stitch set back, transition for
# transition). `sweeps/iql-maze.yaml` runs IQL on both at τ 0.9, and on the stitch set at τ 0.7 and
# 0.95; every run has β 10, 5 seeds, 2·10⁴ updates, 256-unit layers and 10 evaluation episodes, BC and
# 10 %BC beside it, no max-backup learner. Besides the score, the table gives the Spearman
# correlation of IQL's V with minus the shortest-path distance to the goal over the maze's free
# cells (1 = V ordered exactly as the distance), a measure of how far the values have stitched.
# Records: `results/09_iql_offline/datasets=<set>,expectile=<τ>/`.

# %%
MAZE_SWEEP = REPO_ROOT / "sweeps" / "iql-maze.yaml"
maze = {}
for run, found_ in sweep_records(MAZE_SWEEP):
    if found_ is None:
        print(f"{run.name}: no record (python -m iqlib.notebook.sweep sweeps/{MAZE_SWEEP.name})")
        continue
    rp_, rm_, prov_ = found_[0]
    set_ = rp_["datasets"][0]
    maze[run.name] = {"data": set_, "tau": rp_["expectile"], "seeds": rp_["n_seeds"],
                      **{m: (rm_[f"{set_}_{m}_score_mean"], rm_[f"{set_}_{m}_score_std"]) for m in METHODS},
                      "spearman": rm_[f"{set_}_iql_value_distance_spearman"], "wall_min": prov_["wall_time_s"] / 60}
    critics_ = found_[1].get(f"iql_critics_{set_}")  # batch-mean V per window (records made since it was saved)
    maze[run.name]["v_last"] = np.mean(critics_.series["v"], 0)[-2:] if critics_ is not None else None
if maze:
    print(f"{'data':24s} {'τ':>5} " + " ".join(f"{v:>14s}" for v in METHODS.values()) + f" {'V~-dist':>8} {'wall':>7}")
    for a in maze.values():
        print(f"{a['data']:24s} {a['tau']:5.2f} " + " ".join(f"{a[m][0]:6.1f} ± {a[m][1]:5.1f}" for m in METHODS)
              + f" {a['spearman']:8.2f} {a['wall_min']:5.1f} m")
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    xs = np.arange(len(maze))
    for i, (m, color) in enumerate((("iql", "C0"), ("bc", "C1"), ("pctbc", "C2"))):
        ax.bar(xs + (i - 1) * 0.27, [a[m][0] for a in maze.values()], 0.27,
               yerr=[a[m][1] for a in maze.values()], color=color, capsize=2, label=METHODS[m])
    ax.set_xticks(xs, [f"{a['data'].removeprefix('pointmaze-medium-')}, τ {a['tau']:g}\nV~−dist {a['spearman']:.2f}"
                       for a in maze.values()], fontsize=8)
    ax.set_ylabel("normalised score (maze)")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "maze_tau_goal_segments.png")
    plt.show()

# %% [markdown]
# **Reading the records.** IQL's targets are IQL ≥ BC on every medium-replay and maze dataset, and a
# normalised score ≥ 80 on hopper-medium-expert (the paper reports 91.5 on D4RL's
# hopper-medium-expert-v2 after 10⁶ updates). What stands behind the numbers above:
#
# * **Re-weighting pays most where the data are poor.** On the medium-replay sets BC imitates the
#   average (poor) behaviour, 10 %BC the best episodes, while IQL re-weights every transition by its
#   advantage under the learned Q, so it can use good *actions* inside poor episodes too.
# * **hopper-medium-expert: the target network sets a clock, and moving it helps only half the way.**
#   The critics regress on $r + \gamma V(s')$ and $V$ on the *Polyak-averaged* target critics, so the
#   values move toward their fixed point by about a fraction $\rho(1-\gamma)$ per update: at the paper's
#   $\rho = 0.005$ a time constant of $1/(\rho(1-\gamma)) = 20{,}000$ updates, so 5·10⁴ updates are 2.5 time
#   constants against the paper's 50 (10⁶ updates), and V is still rising at the end. The record at
#   $\rho = 0.02$ (`sweeps/iql-hopper-medium-expert.yaml`; time constant 5,000) tests that: in its run the
#   batch-mean V (the critic windows that run printed; not among the record's files) is 95.3 at 2·10⁴
#   updates and 96.2–96.3 from 3·10⁴ on, and IQL ends at 61.8 ± 24.5, up from 50.4 ± 26.2 in the record at
#   $\rho = 0.005$ with the same budget, whose seed mean is still rising at its end (33.2 at 4·10⁴ updates),
#   yet below 80. Its seeds split (the claim below
#   lists them): two end at the expert, the others between BC and 10 %BC. With the values settled, what is left is the policy extraction, whose actor
#   learning rate decays to zero over the 5·10⁴ updates (the paper: over 10⁶). 10 %BC, which needs no
#   values, is at the expert on this data. A sharper extraction, the AWR temperature β = 10 instead of
#   the paper's 3 (same ρ and budget; our medium half is weaker than D4RL's, so the advantage has a
#   wider gap to read), is the best recorded setting: 71.2 ± 21.1, three seeds at 88–90 and the others
#   at 63, 69 and 30 (7 % of its weights at the clip). Its seed mean reaches 81.6 at 2·10⁴ updates and
#   then stays at 71–75, while single seeds swing by up to 56 points between evaluations (one goes
#   85.8 → 37.7 → 29.7): the policy does not settle on the expert's mode within the run, the miss
#   the claim below states. The other locomotion sets were recorded at 2·10⁴ updates
#   (one time constant at ρ 0.005), where V is still climbing steeply (the windows those runs printed): IQL is
#   above BC on halfcheetah-medium-expert and on halfcheetah-medium (39.7 ± 2.2 against 37.5 ± 2.3, with
#   10 %BC at 33.6: on a single-policy set the top tenth is not better data; the paper: 47.4 on D4RL's
#   set) and below it on hopper-medium, whose data (25 % of the expert) are weaker than D4RL's
#   (≈ 44 %), although its snapshot was picked by D4RL's recipe (the SAC snapshot nearest a third of
#   the expert's return: the training curve jumped from 971 to 2,075 between two snapshots of 3,251).
# * **The maze: IQL stitches part of the way; BC cannot.** No episode in `pointmaze-medium-stitch` is
#   aimed at the goal, so imitating the best episodes cannot help, while IQL's Bellman backups carry the
#   reward of passing through the goal back along other segments. The value map above shows how far
#   that got (its Spearman correlation with −distance is printed there). The τ = 0.9 expectile is a
#   *soft* in-support maximum (notebook 07): when the good continuation is rare it lifts V only part of
#   the way toward it.
# * **LunarLander: IQL above BC, far below 10 %BC, at every β and τ tried.** The β/τ records (table
#   above, 5 seeds, 2·10⁴ updates) give IQL 24.7 / 35.8 / 43.9 / 34.0 at β 0.3 / 1 / 3 / 10, and
#   37.1 / 28.5 at τ 0.9 / 0.5, against BC 15.6 ± 18.7 and 10 %BC 95.5 ± 3.6. β = 3 is best. Smaller β
#   moves IQL toward BC, as the weights flatten (none at the clip at β 0.3). Larger β puts 28 % of the
#   weights at the clip.
#   The critics' squared TD error is 59 over the last tenth (RMS ≈ 7.7 in the scaled reward's units;
#   the landing and crash rewards are ±100-point spikes). So the advantages inside $e^{\beta A}$ are
#   mostly critic noise, and no β turns them into the clean ranking of episodes that 10 %BC reads off
#   the returns. τ 0.9 lowers the TD loss only to 53 and does not help. τ 0.5 (V the mean of Q over the
#   data's actions, as in one-step SARSA) raises it to 68 and scores lower.
# * **The trap IQL avoids.** In the overestimation record (hopper-medium-replay, 3 seeds, 2·10⁴
#   updates) offline SAC's Q at the initial states climbs at every evaluation while the return its
#   policy earns stays flat: the max over actions the data never took feeds Q's own errors back
#   into its targets. IQL's Q, regressed on dataset actions only, stays below what its policy earns
#   (its V is still converging, the clock above). On mixed discrete data, where every action is in
#   the data, offline DQN's error is small (the CartPole panel of the default run).
#
# ## Claims
#
# On the records: IQL ≥ BC on every recorded medium-replay dataset at ≥ 5 seeds (the headline: the
# smallest IQL − BC margin among them; on the maze, where IQL does not reach the goal at 2·10⁴
# updates, IQL ≥ BC is a stated miss per record of the maze sweep, while V's ordering by the distance to
# the goal rises with τ); every dataset of the table has a
# record at ≥ 5 seeds; on hopper-medium-expert at its best recorded setting IQL is ≥ BC, and ≥ 80 is a
# stated miss;
# on lunarlander-mixed (the β/τ records) IQL at τ 0.7, β 3 is ≥ BC, and IQL reaching 10 %BC at its
# best setting is a stated miss; on hopper-medium-replay the max-backup learner's Q at the initial
# states is at least 5× the discounted return its policy earns, IQL's at most 2×. On this run, where it
# is at least the defaults' budget: on `cartpole-mixed` IQL beats BC by at least 20 points. Where this run and a record share dataset and
# configuration, BC (constant learning rate) must give the recorded scores exactly at the updates both
# ran, seed for seed; IQL's actor learning rate follows a cosine over the run length, so its scores may
# differ and are only compared with the record's seed band.

# %%
import re

from iqlib.notebook.claims import Claims

claims = Claims()
margins = {}  # record -> IQL − BC on the medium-replay sets
for row in rows:
    rm = row.record.metrics
    if row.dataset.endswith("medium-replay"):
        margins[row.folder.name] = rm[f"{row.dataset}_iql_score_mean"] - rm[f"{row.dataset}_bc_score_mean"]
HME, HME_SWEEP = "hopper-medium-expert", REPO_ROOT / "sweeps" / "iql-hopper-medium-expert.yaml"
# every hopper-medium-expert configuration at >= 5 seeds: the table's rows and the sweep's other settings (β)
hme_cands = {row.folder.name: found[row.folder.name] for row in rows if row.dataset == HME}
for run, found_ in sweep_records(HME_SWEEP):
    if found_ is not None and found_[0].parameters.get("datasets") == [HME] and found_[0].parameters["n_seeds"] >= 5:
        hme_cands[run.name] = found_
for name, (rec_, curves_) in hme_cands.items():
    p_, m_, cfg_ = rec_.parameters, rec_.metrics, run_config(rec_.parameters, HME)
    print(f"{HME} {name}: ρ {cfg_.target_rate:g}, β {cfg_.awr_temperature:g}, "
          f"{p_['n_seeds']} seeds × {p_['train_steps']}: IQL {m_[f'{HME}_iql_score_mean']:.1f} ± "
          f"{m_[f'{HME}_iql_score_std']:.1f} (seeds {', '.join(f'{v:.0f}' for v in curves_[HME].series['iql'][:, -1])}), "
          f"BC {m_[f'{HME}_bc_score_mean']:.1f}, 10 %BC {m_[f'{HME}_pctbc_score_mean']:.1f}")
if hme_cands:
    best_name = max(hme_cands, key=lambda n_: hme_cands[n_][0].metrics[f"{HME}_iql_score_mean"])
    best_hme, best_curves = hme_cands[best_name]
    hme = best_hme.metrics[f"{HME}_iql_score_mean"]
    finals = np.asarray(best_curves[HME].series["iql"])[:, -1]  # per seed, last evaluation
    claims.add("hopper_medium_expert_ge_80", f"IQL reaches 80 on {HME} at its best recorded setting "
               f"({best_name}; paper: 91.5)", hme, ">= 80", hme >= 80.0, expected=False, on="record",
               reason=f"the seeds split: {np.sum(finals >= 80)} of {len(finals)} end at or above 80, the others at "
               f"{', '.join(f'{v:.0f}' for v in np.sort(finals[finals < 80]))}, after "
               f"{best_hme.parameters['train_steps']} of the paper's 10⁶ updates (the actor's cosine schedule "
               "ends with the run)")
    hme_gap = hme - best_hme.metrics[f"{HME}_bc_score_mean"]
    claims.add("hopper_medium_expert_iql_ge_bc", f"IQL >= BC on {HME} at its best recorded setting", hme_gap, ">= 0",
               hme_gap >= 0.0, on="record")
#: IQL >= BC on the other locomotion sets: asserted where it holds, stated where it misses (with the measured reason)
OTHER_LOCO = {"halfcheetah-medium-expert": "", "halfcheetah-medium": "",
              "hopper-medium": "at 2·10⁴ updates, one time constant of the values at ρ 0.005, V is still rising fast "
              "(batch mean 15 → 205 over the run's ten windows, printed by that run), and the data are 25 % of the expert "
              "(D4RL's hopper-medium: ≈ 44 %)"}
margins_other = {}
for row in rows:
    if row.dataset in OTHER_LOCO and row.dataset not in margins_other:
        gap_ = row.record.metrics[f"{row.dataset}_iql_score_mean"] - row.record.metrics[f"{row.dataset}_bc_score_mean"]
        why_ = OTHER_LOCO[row.dataset]
        margins_other[row.dataset] = gap_  # one claim per set: its first row
        claims.add(f"{row.dataset.replace('-', '_')}_iql_ge_bc", f"IQL >= BC on {row.dataset} ({row.folder.name})", gap_,
                   ">= 0", gap_ >= 0.0, expected=not why_, reason=why_, on="record")
claims.add("every_dataset_recorded", f"every dataset of the table has a record at >= 5 seeds ({len(ORDER)} sets; "
           f"missing: {', '.join(missing) or 'none'})", len(missing), "0 missing", not missing, on="record")
if lunar:
    base_ = next((a for a in lunar.values() if (a["tau"], a["beta"]) == (0.7, 3.0)), None)
    if base_ is not None:
        gap_ = base_["iql"][0] - base_["bc"][0]
        claims.add("lunarlander_sweep_iql_ge_bc", f"IQL (τ 0.7, β 3) >= BC on {LUNAR} ({base_['seeds']} seeds, "
                   "sweeps/iql-lunarlander.yaml)", gap_, ">= 0", gap_ >= 0.0, on="record")
    best_ = max(lunar, key=lambda n: lunar[n]["iql"][0])
    gap_ = lunar[best_]["iql"][0] - lunar[best_]["pctbc"][0]
    claims.add("lunarlander_sweep_iql_ge_pctbc", f"IQL at its best τ/β of the sweep ({best_}) >= 10 %BC on {LUNAR}",
               gap_, ">= 0", gap_ >= 0.0, expected=False, on="record",
               reason=f"the critics' TD loss is {lunar[best_]['critic_loss']:.0f} over the last tenth (RMS "
               f"{np.sqrt(lunar[best_]['critic_loss']):.1f} in the scaled reward's units), so the advantages inside "
               "e^(βA) are mostly critic noise, while 10 %BC only needs the episode returns")
for run_, a_ in maze.items():
    gap_ = a_["iql"][0] - a_["bc"][0]
    claims.add(f"maze_sweep_{a_['data'].removeprefix('pointmaze-medium-')}_tau{a_['tau']:g}_iql_ge_bc".replace(".", ""),
               f"IQL >= BC on {a_['data']} at τ {a_['tau']:g} ({a_['seeds']} seeds, sweeps/iql-maze.yaml)", gap_, ">= 0",
               gap_ >= 0.0, expected=False, on="record",
               reason=f"at 2·10⁴ updates IQL's policy never enters the goal radius (score {a_['iql'][0]:.1f} = return 0); "
               f"its V is only roughly ordered by the distance to the goal (Spearman {a_['spearman']:.2f})"
               + ("" if a_["v_last"] is None else f", and still moving (batch-mean V {a_['v_last'][0]:.1f} → "
                  f"{a_['v_last'][1]:.1f} over the last tenth of the run)"))
stitch_ = sorted((a_["tau"], a_["spearman"]) for a_ in maze.values() if a_["data"] == "pointmaze-medium-stitch")
if len(stitch_) >= 2:
    step_ = min(b[1] - a[1] for a, b in zip(stitch_, stitch_[1:]))
    claims.add("maze_value_order_rises_with_tau", "On pointmaze-medium-stitch IQL's V is ordered more closely by the "
               f"distance to the goal as τ rises (Spearman {' / '.join(f'{r:.2f}' for _, r in stitch_)} at τ "
               f"{' / '.join(f'{t:g}' for t, _ in stitch_)}; smallest step)", step_, "> 0", step_ > 0.0, on="record")
if margins:
    worst = min(margins, key=margins.get)
    claims.add("iql_ge_bc_medium_replay",
               f"IQL >= BC on every recorded medium-replay dataset at >= 5 seeds ({len(margins)}: {', '.join(margins)}; "
               f"smallest margin: {worst})", margins[worst], ">= 0", margins[worst] >= 0.0, on="record", headline=True)
if trap_record is not None:
    rm_, h = trap_record[0].metrics, "hopper-medium-replay"
    r_mb, r_iql = rm_[f"{h}_max_backup_ratio"], rm_[f"{h}_iql_q_mc_ratio"]
    claims.add("max_backup_overestimates", f"offline {rm_[f'{h}_max_backup_learner']} (max backup) on {h}: Q(s0, π(s0)) "
               "is >= 5x the discounted return its own policy earns", r_mb, ">= 5", r_mb >= 5.0, on="record")
    claims.add("iql_does_not_overestimate", f"IQL on {h}: Q(s0, π(s0)) is <= 2x the discounted return its policy earns",
               r_iql, "<= 2", r_iql <= 2.0, on="record")
full_size = P.train_steps >= 3000 and P.n_seeds >= 5 and P.eval_episodes >= 5 and P.hidden >= 64
if "cartpole-mixed" in data:
    gap = summary["cartpole-mixed_iql_score_mean"] - summary["cartpole-mixed_bc_score_mean"]
    claims.add("cartpole_iql_beats_bc", "IQL beats BC on cartpole-mixed by at least 20 points", gap, ">= 20",
               gap >= 20.0, expected=full_size, reason="" if full_size else "budget below the defaults",
               headline=not margins)
for name in data:
    if name not in records:
        continue
    rec, rec_curves = records[name]
    same = all(rec.parameters.get(k) == P[k] for k in ("seed", "hidden", "batch_size", "eval_episodes", "top_fraction",
                                                        "expectile", "awr_temperature", "target_rate"))
    if not same or name.replace("/", "--") not in rec_curves:
        print(f"{name}: this run's configuration differs from the record's; no agreement check")
        continue
    fresh = Curves(np.arange(P.eval_every, P.train_steps + 1, P.eval_every, dtype=float),
                   {m: results[name, m] for m in METHODS}, "updates", "normalised score")
    try:
        shared = min(P.n_seeds, rec.parameters["n_seeds"])
        bc_agree = compare_at_common_x(fresh, rec_curves[name.replace("/", "--")], "bc", shared_seeds=shared)
        iql_agree = compare_at_common_x(fresh, rec_curves[name.replace("/", "--")], "iql", tolerance=5.0)
    except ValueError as err:  # no evaluation step in common
        print(f"{name}: {err}")
        continue
    key = re.sub("[^a-z0-9]+", "_", name.lower())
    claims.add(f"{key}_bc_matches_record", f"BC on {name} gives the recorded scores at the updates both ran "
               f"({', '.join(str(int(x)) for x in bc_agree.x)}), seed for seed", bc_agree.max_abs_diff, "<= 1e-3",
               bc_agree.max_abs_diff <= 1e-3)
    claims.add(f"{key}_iql_inside_record_band", f"IQL on {name} lies inside the record's seed band (± 5) at the "
               "updates both ran", float(np.max(np.abs(iql_agree.fresh - iql_agree.record_mean))),
               "inside [min − 5, max + 5]", iql_agree.inside_band, expected=full_size,
               reason="" if full_size else "budget below the defaults")
for name in data:
    if name in records or name == "cartpole-mixed":
        continue
    gap = summary[f"{name}_iql_score_mean"] - summary[f"{name}_bc_score_mean"]
    key = f"{re.sub('[^a-z0-9]+', '_', name.lower())}_iql_ge_bc"
    key += "_this_run" if any(c.name == key for c in claims) else ""  # a record's claim may hold the plain name
    claims.add(key, f"IQL >= BC on {name} in this run", gap, ">= 0",
               gap >= 0.0, expected=False, reason="no record of this dataset: a measured comparison, not a claim")
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
summary.update(claims.metrics())
summary.update({f"{name}_ref_source": info_["ref_source"] for name, (_, info_, _) in data.items() if "ref_source" in info_})

# %%
runtime = time.perf_counter() - T_START
save_metrics(out, {**P.as_metrics(), **summary, "runtime_s": runtime})
print(f"runtime {runtime:.1f} s; wrote {out / 'metrics.json'}")
