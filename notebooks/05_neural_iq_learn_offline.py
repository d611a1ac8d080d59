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
# # 05 · Neural IQ-Learn from demonstrations only (offline, discrete control)
#
# IQ-Learn (Garg, Chakraborty, Cundy, Song, Ermon, NeurIPS 2021) learns one soft Q-function from
# expert demonstrations; the policy is $\pi(a|s) = \mathrm{softmax}(Q(s,\cdot)/\alpha)$ and the reward
# is read off by the inverse soft Bellman operator. Notebooks 01–04 did this on tables with known
# transitions. Here $Q$ is a neural network (`iqlib.core.nets.QNetwork`, 256×256 ReLU MLP), the
# environments are CartPole-v1, Acrobot-v1 and LunarLander-v3, and learning is **offline**: the
# learner sees $k$ expert episodes and nothing else — no environment step during training (the
# environment is used only to *evaluate* the learned policies). We ask:
#
# 1. how the return of the greedy and the stochastic policy grows with the number of demonstrations,
#    against behavioural cloning (BC) with the same network size and number of updates;
# 2. whether the recovered reward $r = Q(s,a) - \gamma(1-d)V(s')$ correlates with the true reward
#    along trajectories the learner never saw;
# 3. how long (wall clock, compilation included) IQ-Learn needs to reach the expert's return on
#    CartPole from a single demonstration.

# %% tags=["parameters"]
output_dir = "outputs/05_neural_iq_learn_offline"
env_ids = ["CartPole-v1"]
n_demos = [1, 3]
n_seeds = 3
train_steps = 2000
chunk_size = 500
eval_episodes = 6
loss = "value_expert"
chi2_rows = "expert"
entropy_temperature = 1.0
grad_penalty = 0.0
demos_dir = "data/demos"
mixed_dir = "data/offline"
time_to_expert_steps = 4000
seed = 0

# %% [markdown]
# **Parameters.** `env_ids` from CartPole-v1, Acrobot-v1, LunarLander-v3; `n_demos` the numbers $k$
# of expert episodes learned from (the first $k$ of `data/demos/<env>.npz`); `n_seeds` network
# initialisations per setting (trained in parallel, vmapped); `train_steps` gradient updates in
# `chunk_size` compiled chunks, with a greedy evaluation of `eval_episodes` episodes after every
# chunk; `loss` the initial-state estimator of IQ-Learn (`value`, `value_expert`, `v0`, see §1);
# `chi2_rows` where the χ² penalty is taken; `entropy_temperature` the entropy temperature α (fixed);
# `grad_penalty` the weight of $\mathbb{E}\|\nabla_s Q\|^2$; `demos_dir`, `mixed_dir` where the
# demonstrations and the mixed-quality datasets are (relative paths are taken from the repository
# root; `data/demos/robust` holds CartPole demonstrations of a noise-robust expert, §6);
# `time_to_expert_steps` the update budget of the time-to-expert run (§5; 0 skips it, else a multiple of 250).
#
# **Why α = 1 and not the paper's 0.01 (0.001 for CartPole and LunarLander).** Offline, with a
# telescoped initial term, only two things set the solution: the product λα and the scale of the
# network's outputs. Rescaling $Q \to cQ$, $\alpha \to c\alpha$ leaves the policy unchanged and turns
# $J = \alpha\,\mathbb{E}[\log\pi] - \lambda\,\mathbb{E}[r^2]$ into $c\,(\alpha\,\mathbb{E}[\log\pi] - \lambda c\,\mathbb{E}[r^2])$.
# The paper's α belongs to its reward and network scale; ours has no reward scale at all. With
# α = 1 the logits $Q/\alpha$ start at the scale of BC's logits, so IQ-Learn differs from BC by the χ²
# term alone (weight λα = 0.5); with α = 0.01 the initial logits are 100× larger and the χ² weight
# in logit units is 100× smaller. In 3-seed pilot runs (1 demonstration, 3,000–5,000 updates)
# α = 1 gave CartPole 378 vs 269 (α = 0.01) and LunarLander 199 vs 98 (the full α = 0.01 run is in §6).
# The defaults are a small run (≤ 90 s on 2 cores); the full run is
# `python -m iqlib.notebook.runner --notebooks 05 -p env_ids '["CartPole-v1","Acrobot-v1","LunarLander-v3"]' -p n_demos '[1,3,10]' -p n_seeds 5 -p train_steps 5000 --output-dir outputs_full`.

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import (Choice, Float, Int, ListOf, OutputDir, Str, check_parameters, demo_episodes, require,
                                   require_distinct)

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "env_ids": ListOf(Choice(["CartPole-v1", "Acrobot-v1", "LunarLander-v3"]), min_len=1),
    "n_demos": ListOf(Int(1, 1000), min_len=1),
    "n_seeds": Int(1, 64),
    "train_steps": Int(1, 10_000_000),
    "chunk_size": Int(1, 1_000_000),
    "eval_episodes": Int(1, 1000),
    "loss": Choice(["value", "value_expert", "v0"]),
    "chi2_rows": Choice(["expert", "all"]),
    "entropy_temperature": Float(0.0, 100.0, lo_open=True),
    "grad_penalty": Float(0.0, 1e6),
    "demos_dir": Str(),
    "mixed_dir": Str(),
    "time_to_expert_steps": Int(0, 10_000_000),
    "seed": Int(0),
})
TTE_EVERY = 250  # updates between the evaluations of the time-to-expert run (§5)
require(P.train_steps % P.chunk_size == 0,
        f"train_steps ({P.train_steps}) must be a multiple of chunk_size ({P.chunk_size})")
require_distinct("n_demos", P.n_demos)
require_distinct("env_ids", P.env_ids)
require(P.time_to_expert_steps % TTE_EVERY == 0,
        f"parameter 'time_to_expert_steps': expected 0 (skip §5) or a multiple of {TTE_EVERY} (it evaluates every "
        f"{TTE_EVERY} updates), got {P.time_to_expert_steps}")

import dataclasses
import functools
import pathlib
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from iqlib.notebook.runner import REPO_ROOT

for _name in ("demos_dir", "mixed_dir"):  # relative paths are taken from the repository root
    _dir = REPO_ROOT / P[_name]
    require(_dir.is_dir(), f"parameter {_name!r}: expected an existing folder, got {P[_name]!r} ({_dir})")
for _env in P.env_ids:
    _held = demo_episodes(_env, REPO_ROOT / P.demos_dir)
    require(_held is not None and max(P.n_demos) <= _held,
            f"n_demos (max {max(P.n_demos)}) must be <= the episodes of {_env} in demos_dir ({P.demos_dir!r}): "
            + ("no demo file there" if _held is None else f"it holds {_held}"))
T_START = time.perf_counter()
P

# %%
from iqlib.neural import bc
from iqlib.core.transitions import Transitions, episode_bounds, episode_returns, normalized_score, select_episodes
from iqlib.data.datasets import load_dataset
from iqlib.data.experts import load_dqn_expert
from iqlib.core.envs import env_spec, evaluate
from iqlib.data.files import save_figure, save_metrics
from iqlib.notebook.curves import save_curves
from iqlib.neural.acting import deterministic_act, epsilon_greedy_act, greedy_act, softmax_act, stochastic_act
from iqlib.neural.iq_learn_offline import IQLearnOfflineConfig, iq_loss_terms, recovered_reward
from iqlib.neural.iq_learn_offline_train import make_train
from iqlib.core.nets import apply
from iqlib.neural import offline
from iqlib.notebook.plotting import STYLE
from iqlib.notebook.runner import REPO_ROOT
from iqlib.notebook.source import show_source
from iqlib.tabular.metrics import reward_correlation

out = P.output_dir


def repo_path(p):
    p = pathlib.Path(p)
    return p if p.is_absolute() else REPO_ROOT / p


MIXED = {"CartPole-v1": "cartpole-mixed", "LunarLander-v3": "lunarlander-mixed"}
config = IQLearnOfflineConfig(loss=P.loss, chi2_rows=P.chi2_rows, entropy_temperature=P.entropy_temperature,
                              grad_penalty=P.grad_penalty)
bc_config = bc.BCConfig(hidden=config.hidden, actor_lr=config.critic_lr, batch_size=config.batch_size,
                        normalize_obs=config.normalize_obs)
config

# %% [markdown]
# ## 1. The objective, offline
#
# With $V(s) = \alpha\log\sum_a e^{Q(s,a)/\alpha}$ and the implicit reward
# $r(s,a,s') = Q(s,a) - \gamma(1-d)V(s')$ (inverse soft Bellman, Eq. 4, $d$ = `terminal`),
# IQ-Learn maximises (Eq. 9–10, χ² divergence of §5.1)
#
# $$J(Q) = \mathbb{E}_{\rho_E}\big[\phi(r)\big] - (1-\gamma)\,\mathbb{E}_{\rho_0}\big[V(s_0)\big],\qquad \phi(x) = x - \lambda x^2 ,$$
#
# with $\lambda = 1/(4\alpha_{\chi^2})$ in the paper's notation ($\alpha_{\chi^2}=0.5$ offline, so $\lambda = 0.5$).
# The initial-state term has three estimators (`loss`):
#
# * `v0`: $(1-\gamma)\,\mathrm{mean}_{s_0} V(s_0)$ over the demonstrations' true initial states (rows with `episode_start`);
# * `value_expert`: the telescoped form $\mathbb{E}_{\rho_E}[V(s) - \gamma(1-d)V(s')]$ (Eq. 10), expert rows;
# * `value`: the same over the expert batch *and* a second "policy" batch — offline that is another
#   draw from the same demonstrations, so it equals `value_expert` in expectation.
#
# With a telescoped term the linear part collapses: $\mathbb{E}[r] - \mathbb{E}[V(s)-\gamma V(s')] = \mathbb{E}_{\rho_E}[Q(s,a) - V(s)] = \alpha\,\mathbb{E}_{\rho_E}[\log\pi(a|s)]$.
# Offline IQ-Learn is then BC (scaled by α) plus the χ² penalty $\lambda\,\mathbb{E}[r^2]$, which ties $Q(s,a)$ to
# $\gamma V(s')$ along the demonstrated transitions — the only place dynamics enter, because the
# learner never sees the consequence of a non-demonstrated action. The χ² penalty on "all" rows
# adds every action at demonstrated states, with the demonstrated $s'$ as proxy next state
# (`iqlib/neural/iq_learn_offline.py` states the approximation). Both learners standardise observations with
# the demonstrations' mean and standard deviation (folded into the first layer afterwards).
#
# The library's code of $-J(Q)$ on one batch, `iqlib.neural.iq_learn_offline.iq_loss_terms` — the function
# every update differentiates:

# %%
show_source(iq_loss_terms);

# %% [markdown]
# On a toy input — a linear $Q(s,\cdot) = sW$ with two actions and three expert rows — the telescoped
# loss without χ² is exactly $-\alpha\,\mathbb{E}_{\rho_E}[\log\pi(a|s)]$ (the collapse above), and the χ²
# term is $\lambda\,\mathbb{E}[r^2]$ with $r = Q(s,a) - \gamma(1-d)V(s')$ computed by hand.

# %%
W_toy = jnp.array([[1.0, -1.0], [0.5, 2.0]])
toy = Transitions(obs=jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]]), action=jnp.array([0, 1, 1]),
                  reward=jnp.zeros(3), next_obs=jnp.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
                  terminal=jnp.array([0.0, 0.0, 1.0]), timeout=jnp.zeros(3), episode_start=jnp.array([1.0, 0.0, 1.0]))
toy_cfg = IQLearnOfflineConfig(loss="value_expert", entropy_temperature=0.3, discount=0.9, chi2=False)
t_toy = iq_loss_terms(lambda o: o @ W_toy, toy, None, toy.obs[:1], toy_cfg)
log_pi = jax.nn.log_softmax(toy.obs @ W_toy / 0.3)[jnp.arange(3), toy.action]
assert np.isclose(-t_toy["loss"], 0.3 * np.mean(log_pi), rtol=1e-5)
t_chi2 = iq_loss_terms(lambda o: o @ W_toy, toy, None, toy.obs[:1], dataclasses.replace(toy_cfg, chi2=True))
r_toy = (toy.obs @ W_toy)[jnp.arange(3), toy.action] - 0.9 * (1 - toy.terminal) * 0.3 * jax.nn.logsumexp(
    toy.next_obs @ W_toy / 0.3, axis=-1)
assert np.isclose(t_chi2["chi2"], toy_cfg.chi2_weight * np.mean(r_toy**2), rtol=1e-5)
print(f"-J = {float(t_toy['loss']):.4f} = -α·mean log π = {-0.3 * float(np.mean(log_pi)):.4f};  "
      f"χ² term {float(t_chi2['chi2']):.4f}")


# %%
def evaluate_both(env_id, act_greedy, act_stoch, params, n_seeds, n_episodes, seed):
    """Greedy and stochastic mean returns per seed: two (n_seeds,) arrays."""
    g = evaluate(env_id, functools.partial(act_greedy, params), n_episodes, seed, batch_shape=(n_seeds,))
    s = evaluate(env_id, functools.partial(act_stoch, params), n_episodes, seed,
                 batch_shape=(n_seeds,), key=jax.random.key(seed + 1))
    return g.mean(-1), s.mean(-1)


def run_learner(kind, env_id, demos, n_actions, keys):
    """Train IQ-Learn or BC on `demos` for all seeds; greedy evaluation after every chunk."""
    if kind == "iq":
        train = make_train(config, demos, P.train_steps, P.chunk_size, n_actions=n_actions)
        params_of = train.policy_params
        act_g, act_s = greedy_act(train.policy_graphdef), softmax_act(train.policy_graphdef, config.entropy_temperature)
    else:  # BC on the same standardised observations (bc_config.normalize_obs), folded back the same way
        train = bc.make_train(bc_config, demos, P.train_steps, chunk_size=P.chunk_size, n_actions=n_actions)
        params_of = train.policy_params
        act_g, act_s = deterministic_act(train.policy_graphdef), stochastic_act(train.policy_graphdef)
    curve = []

    def callback(step, carry, _):
        r = evaluate(env_id, functools.partial(act_g, params_of(carry)), max(1, P.eval_episodes // 2),
                     10_000 + P.seed, batch_shape=(len(keys),))
        curve.append(r.mean(-1))

    t0 = time.perf_counter()
    carry, metrics = train.run(keys, callback=callback, progress=True, desc=f"{kind} {env_id} k={len(episode_bounds(demos))}")
    wall = time.perf_counter() - t0
    params = params_of(carry)
    greedy, stoch = evaluate_both(env_id, act_g, act_s, params, len(keys), P.eval_episodes, 20_000 + P.seed)
    curve = np.stack(curve, axis=1)  # (n_seeds, n_chunks)
    return {"params": params, "graphdef": train.policy_graphdef, "metrics": metrics, "curve": curve,
            "greedy": greedy, "stochastic": stoch, "best": curve.max(axis=1), "wall_s": wall}


# %% [markdown]
# ## 2. Demonstrations, and training by number of demonstrations
#
# For each environment: the expert's return is the provenance record's evaluation of the expert
# (greedy, 50 episodes), and a uniform random policy is evaluated here; "% of expert" below is the
# normalised score $100\,(R - R_\text{random})/(R_\text{expert} - R_\text{random})$, which stays
# meaningful for Acrobot's negative returns (for CartPole and LunarLander it is close to $R/R_\text{expert}$
# only when $R_\text{random}$ is small). Learners train on the first $k$ demonstrations for every $k$ in `n_demos`,
# all seeds on the same $k$ episodes. **last** = the policy after the final update, evaluated on
# `eval_episodes` fresh episodes (reset seeds 20000+); **best** = the best of the per-chunk greedy
# evaluations (`eval_episodes // 2` episodes, reset seeds 10000+), an optimistic number because it selects on evaluation episodes —
# a learner from demonstrations alone could not make that choice.

# %%
metrics, results, data = {}, {}, {}
keys = jax.random.split(jax.random.key(P.seed), P.n_seeds)
for env_id in P.env_ids:
    demos, prov = load_dataset(repo_path(P.demos_dir) / f"{env_id}.npz")
    n_episodes = len(episode_bounds(demos))
    if max(P.n_demos) > n_episodes:
        raise ValueError(f"parameter 'n_demos': {env_id} has {n_episodes} demonstrations, asked for {max(P.n_demos)}")
    spec = env_spec(env_id)
    expert_return = float(prov.get("expert_return_mean", episode_returns(demos).mean()))
    n_act = spec["n_actions"]
    random_return = float(evaluate(env_id, lambda o, key: jax.random.randint(key, o.shape[:-1], 0, n_act),
                                   P.eval_episodes, 50_000 + P.seed).mean())
    metrics[f"{env_id}_expert_return"] = expert_return
    metrics[f"{env_id}_random_return"] = random_return
    metrics[f"{env_id}_demos_return_mean"] = float(episode_returns(demos).mean())
    data[env_id] = {"demos": demos, "expert_return": expert_return, "random_return": random_return,
                    "n_episodes": n_episodes, "expert_file": prov.get("expert_file", f"data/experts/{env_id}.npz")}
    print(f"{env_id}: {n_episodes} demonstrations, {len(demos.reward)} transitions, expert return "
          f"{expert_return:.1f}, uniform random policy {random_return:.1f}")
    for k in P.n_demos:
        d = select_episodes(demos, np.arange(k))
        for kind in ("iq", "bc"):
            res = run_learner(kind, env_id, d, spec["n_actions"], keys)
            results[(env_id, kind, k)] = res
            pre = f"{env_id}_{kind}_{k}"
            for name, v in (("", res["greedy"]), ("stochastic_", res["stochastic"]), ("best_", res["best"])):
                metrics[f"{pre}_{name}return_mean"] = float(np.mean(v))
                metrics[f"{pre}_{name}return_std"] = float(np.std(v))
            metrics[f"{pre}_wall_s"] = res["wall_s"]
            metrics[f"{pre}_normalized_score"] = float(normalized_score(np.mean(res["greedy"]), random_return,
                                                                        expert_return))
            print(f"  {kind} k={k}: greedy {np.mean(res['greedy']):7.1f} ± {np.std(res['greedy']):5.1f}   "
                  f"stochastic {np.mean(res['stochastic']):7.1f} ± {np.std(res['stochastic']):5.1f}   "
                  f"best {np.mean(res['best']):7.1f}   ({res['wall_s']:.1f} s)")

# %% [markdown]
# ## 3. Return vs number of demonstrations
#
# Mean ± standard deviation over seeds of the final greedy and stochastic policies; the dashed line
# is the expert.

# %%
with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, len(P.env_ids), figsize=(5.2 * len(P.env_ids), 3.8), squeeze=False)
    for ax, env_id in zip(axes[0], P.env_ids):
        ks = np.array(P.n_demos)
        for kind, color in (("iq", "C0"), ("bc", "C1")):
            for mode, ls in (("greedy", "-"), ("stochastic", ":")):
                m = np.array([np.mean(results[(env_id, kind, k)][mode]) for k in ks])
                s = np.array([np.std(results[(env_id, kind, k)][mode]) for k in ks])
                label = f"{'IQ-Learn' if kind == 'iq' else 'BC'} {mode}"
                ax.errorbar(ks, m, yerr=s, color=color, ls=ls, marker="o", capsize=3, label=label)
        ax.axhline(data[env_id]["expert_return"], color="k", ls="--", lw=1, label="expert")
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("demonstrations (episodes)")
        ax.set_ylabel("return")
        ax.set_title(env_id)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
save_figure(fig, out / "return_vs_demos.png")

# %% [markdown]
# Learning curves (greedy return after each chunk of updates, mean and range over seeds):

# %%
with plt.rc_context(STYLE):
    fig, axes = plt.subplots(len(P.env_ids), len(P.n_demos), figsize=(3.6 * len(P.n_demos), 3.0 * len(P.env_ids)),
                             squeeze=False)
    steps = np.arange(P.chunk_size, P.train_steps + 1, P.chunk_size)
    for i, env_id in enumerate(P.env_ids):
        for j, k in enumerate(P.n_demos):
            ax = axes[i][j]
            for kind, color in (("iq", "C0"), ("bc", "C1")):
                c = results[(env_id, kind, k)]["curve"]
                ax.plot(steps, c.mean(0), color=color, label="IQ-Learn" if kind == "iq" else "BC")
                ax.fill_between(steps, c.min(0), c.max(0), color=color, alpha=0.2)
            ax.axhline(data[env_id]["expert_return"], color="k", ls="--", lw=1)
            ax.set_title(f"{env_id}, k = {k}", fontsize=9)
            ax.set_xlabel("updates")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
save_figure(fig, out / "learning_curves.png")
for env_id in P.env_ids:
    for k in P.n_demos:
        save_curves(out, f"{env_id}_{k}", steps, {kind: results[(env_id, kind, k)]["curve"] for kind in ("iq", "bc")},
                    x_label="updates", y_label="greedy return")

# %% [markdown]
# ### Why a single demonstration can fall short: how forgiving is the expert?
#
# The expert here is the one that made the demonstrations (named by their provenance, e.g.
# `data/experts/CartPole-v1.npz`, or the robust expert of `demos_dir = "data/demos/robust"`).
# An imitator that picks a different action than the expert on a fraction of steps behaves like
# a perturbed expert. How much the expert's own return suffers from random perturbations
# (ε-greedy: a uniform action with probability ε) bounds what an imperfect imitation can
# expect. We also measure how often the learned greedy policies disagree with the expert (a) on
# the training states and (b) on the states they visit themselves — covariate shift, the classic
# failure of imitation from few demonstrations.

# %%
def visited_states(env_id, act, params, n_seeds, n_episodes, seed):
    """States the policy visits: list over seeds of (T_i, O) arrays (stale obs of finished episodes dropped)."""
    seen = []

    def recording_act(obs, key):
        seen.append(np.array(obs))
        return act(params, obs, key)

    evaluate(env_id, recording_act, n_episodes, seed, batch_shape=(n_seeds,))
    obs = np.stack(seen)  # (T, n_seeds, n_episodes, O)
    fresh = np.concatenate([np.ones((1,) + obs.shape[1:3], bool), np.any(obs[1:] != obs[:-1], axis=-1)])
    return [obs[:, i][fresh[:, i]] for i in range(n_seeds)]


kmin = min(P.n_demos)
for env_id in P.env_ids:
    try:  # the expert that made the demonstrations (their provenance names its file)
        e_graph, e_params = load_dqn_expert(env_id, repo_path(data[env_id]["expert_file"]).parent)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"{env_id}: no expert network to compare with ({err})")
        continue
    e_q = jax.jit(lambda o: apply(e_graph, e_params, o))
    line = []
    for eps in (0.0, 0.01, 0.03, 0.1):
        r = evaluate(env_id, functools.partial(epsilon_greedy_act(e_graph), e_params, eps=eps), P.eval_episodes, 30_000 + P.seed)
        metrics[f"{env_id}_expert_eps{eps:g}_return"] = float(r.mean())
        line.append(f"ε={eps:g}: {r.mean():7.1f}")
    print(f"{env_id} expert under ε-greedy perturbation: " + ",  ".join(line))
    train_obs = select_episodes(data[env_id]["demos"], np.arange(kmin)).obs
    for kind in ("iq", "bc"):
        res = results[(env_id, kind, kmin)]
        act = greedy_act(res["graphdef"]) if kind == "iq" else deterministic_act(res["graphdef"])
        on_train = np.mean([np.mean(np.asarray(act(jax.tree_util.tree_map(lambda x: x[i], res["params"]), train_obs,
                                                    jax.random.key(0))) != np.argmax(e_q(train_obs), -1))
                            for i in range(P.n_seeds)])
        visited = visited_states(env_id, act, res["params"], P.n_seeds, max(1, P.eval_episodes // 2), 40_000 + P.seed)
        on_visit = np.mean([np.mean(np.asarray(act(jax.tree_util.tree_map(lambda x: x[i], res["params"]), v,
                                                    jax.random.key(0))) != np.argmax(e_q(v), -1))
                            for i, v in enumerate(visited)])
        metrics[f"{env_id}_{kind}_{kmin}_disagree_train"] = float(on_train)
        metrics[f"{env_id}_{kind}_{kmin}_disagree_visited"] = float(on_visit)
        print(f"  {kind} k={kmin}: disagrees with the expert on {100 * on_train:4.1f} % of training states, "
              f"{100 * on_visit:4.1f} % of the states it visits")

# %% [markdown]
# ## 4. The recovered reward along held-out trajectories
#
# For IQ-Learn networks trained on the most demonstrations, we compute
# $\hat r = Q(s,a) - \gamma(1-d)V(s')$ on trajectories the learner never saw: the demonstrations not
# used for training, and — for reward variety — the episodes of `data/offline/<env>-mixed.npz`
# (random, intermediate and noisy-expert behaviour) where that file exists. We report the Pearson
# correlation (`iqlib.tabular.metrics.reward_correlation`: undefined, NaN, for fewer than 3 points or a
# constant input) with the true reward per step, and per episode: the episode's sum of $\hat r$, and its
# per-step mean, against the true return — averaged over seeds, for the `loss` of this run and for
# `v0` (trained here for the comparison). The sum and the mean answer different questions when
# episodes differ in length: the sum is what a policy optimising $\hat r$ would collect, so its
# sign decides whether $\hat r$ rewards surviving; the mean asks whether the *kind* of behaviour
# in better episodes earns more recovered reward per step.
#
# **CartPole's reward is the constant 1**, so a per-step correlation is undefined (reported as
# `null`), and so is the episode-level one on the demonstrations (every return is 500). On the mixed
# data the episode-level correlation asks whether longer episodes collect more recovered reward,
# i.e. whether $\hat r$ is positive while the pole stays up — the only thing a reward can get right
# when the truth is "+1 per step". The IQ-Learn reward is defined only up to potential shaping
# (notebook 04), so per-step correlations can be low even when the reward is right up to shaping.
#
# What to expect from the objective: with a telescoped initial term the χ² penalty pulls $\hat r$
# towards 0 on the demonstrations (the linear term $\mathbb{E}[r]$ cancels against the initial term,
# §1), so $\hat r$ carries little signal; with `v0` the maximiser of $\phi(r) = r - \lambda r^2$ is
# $r = 1/(2\lambda) = 1$ on demonstrated transitions, a positive reward for doing what the expert does.

# %%
kmax = max(P.n_demos)
corr_rows, reward_models = [], {}
for env_id in P.env_ids:
    reward_models[(env_id, P.loss)] = results[(env_id, "iq", kmax)]
    if P.loss != "v0":
        cfg_v0 = dataclasses.replace(config, loss="v0")
        tr = make_train(cfg_v0, select_episodes(data[env_id]["demos"], np.arange(kmax)), P.train_steps, P.chunk_size,
                        n_actions=env_spec(env_id)["n_actions"])
        carry, _ = tr.run(keys, progress=True, desc=f"v0 {env_id} k={kmax}")
        reward_models[(env_id, "v0")] = {"params": tr.policy_params(carry), "graphdef": tr.policy_graphdef}
    demos = data[env_id]["demos"]
    sets = {}
    if data[env_id]["n_episodes"] > kmax:
        sets["heldout"] = select_episodes(demos, np.arange(kmax, data[env_id]["n_episodes"]))
    mixed_path = repo_path(P.mixed_dir) / f"{MIXED.get(env_id, '-')}.npz"
    if env_id in MIXED and mixed_path.is_file():
        sets["mixed"] = load_dataset(mixed_path)[0]
    for variant in dict.fromkeys([P.loss, "v0"]):
        res = reward_models[(env_id, variant)]
        for tag, t in sets.items():
            r_hat = np.asarray(jax.vmap(lambda p: recovered_reward(res["graphdef"], p, t, config.discount,
                                                               config.entropy_temperature))(res["params"]))
            b = episode_bounds(t)
            step_c = float(np.mean([reward_correlation(r, t.reward)["pearson"] for r in r_hat]))
            ep_c = float(np.mean([reward_correlation(np.add.reduceat(r, b[:, 0]), episode_returns(t))["pearson"]
                                  for r in r_hat]))
            ep_m = float(np.mean([reward_correlation(np.add.reduceat(r, b[:, 0]) / (b[:, 1] - b[:, 0]),
                                                     episode_returns(t))["pearson"] for r in r_hat]))
            pre = f"{env_id}_iq_{variant}_reward"
            metrics[f"{pre}_pearson_step_{tag}"], metrics[f"{pre}_pearson_episode_{tag}"] = step_c, ep_c
            metrics[f"{pre}_pearson_episode_mean_{tag}"] = ep_m
            metrics[f"{pre}_mean_{tag}"] = float(r_hat.mean())
            corr_rows.append((env_id, variant, tag, len(b), float(r_hat.mean()), step_c, ep_c, ep_m))
            data[env_id][f"rhat_{variant}_{tag}"] = (r_hat[0], t)
print(f"{'env':15s} {'loss':13s} {'data':8s} {'episodes':>8s} {'mean r^':>8s} {'step':>7s} {'ep. sum':>8s} {'ep. mean':>8s}")
for row in corr_rows:
    print(f"{row[0]:15s} {row[1]:13s} {row[2]:8s} {row[3]:8d} {row[4]:8.3f} {row[5]:7.3f} {row[6]:8.3f} {row[7]:8.3f}")

# %%
panels = [(e, v) for e in P.env_ids for v in dict.fromkeys([P.loss, "v0"]) if f"rhat_{v}_mixed" in data[e]]
if panels:
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
        for ax, (env_id, variant) in zip(axes[0], panels):
            r_hat, t = data[env_id][f"rhat_{variant}_mixed"]
            b = episode_bounds(t)
            ax.scatter(episode_returns(t), np.add.reduceat(r_hat, b[:, 0]), s=6, alpha=0.5)
            ax.set_xlabel("true episode return")
            ax.set_ylabel("sum of recovered reward")
            ax.set_title(f"{env_id}, loss {variant}, mixed data (seed 0)", fontsize=9)
        fig.tight_layout()
    save_figure(fig, out / "recovered_reward.png")

# %% [markdown]
# ## 5. Wall time to the expert's return from one demonstration (CartPole-v1)
#
# One seed, one demonstration, a fresh trainer (so JAX compiles from scratch): greedy evaluation
# (5 episodes) after every 250 updates; the clock stops at the first evaluation whose mean return
# reaches the expert's. Compilation and evaluation time are included. Target: < 30 s on this CPU.

# %%
if "CartPole-v1" in P.env_ids and P.time_to_expert_steps > 0:
    tte_train = make_train(config, select_episodes(data["CartPole-v1"]["demos"], [0]), P.time_to_expert_steps, TTE_EVERY,
                           n_actions=2)
    tte = offline.wall_time_to_return(tte_train, jax.random.key(P.seed + 7), "CartPole-v1",
                              data["CartPole-v1"]["expert_return"], n_episodes=5)
    metrics["CartPole-v1_iq_1_time_to_expert_s"] = tte["seconds"] if tte["reached"] else None
    metrics["CartPole-v1_iq_1_time_to_expert_steps"] = tte["steps"]
    metrics["CartPole-v1_iq_1_time_to_expert_reached"] = tte["reached"]
    print(tte)

# %% [markdown]
# ## 6. Results, and the recorded full run with this run drawn over it
#
# The defaults are a small run. The project keeps the **full run** as a record
# (`results/05_neural_iq_learn_offline/default/`, made by `python -m iqlib.notebook.sweep
# sweeps/full.yaml --entry iq-learn-offline-full`: 3 environments, 1/3/10 demonstrations, 5 seeds,
# 5,000 updates, 10 evaluation episodes, α = 1). Below: this run's table, then the record's, then
# return vs demonstrations with **the record as full lines and ±1 std bands and this run dashed with
# dots** (on the environments this run used). The two differ in budget (the defaults train 2,000
# updates, the record 5,000) and seeds, and on CartPole the greedy return swings from one chunk of
# updates to the next (the learning curves above), so there the two need not agree; the claims below
# take each on its own terms.

# %%
from iqlib.notebook.records import find_record


def table_rows(get, env_ids, ks):
    """get(env_id, kind, k) -> (mean, std, % of expert) of the final greedy return."""
    for env_id in env_ids:
        for k in ks:
            (iq_m, iq_s, iq_p), (bc_m, bc_s, bc_p) = get(env_id, "iq", k), get(env_id, "bc", k)
            print(f"{env_id:15s} k={k:2d}  IQ-Learn {iq_m:7.1f} ± {iq_s:5.1f} ({iq_p:5.1f} % of expert)   "
                  f"BC {bc_m:7.1f} ± {bc_s:5.1f} ({bc_p:5.1f} %)")


def fresh_row(env_id, kind, k):
    g = results[(env_id, kind, k)]["greedy"]
    return np.mean(g), np.std(g), normalized_score(np.mean(g), data[env_id]["random_return"],
                                                   data[env_id]["expert_return"])


print("this run:")
table_rows(fresh_row, P.env_ids, P.n_demos)
found = find_record("05_neural_iq_learn_offline", "default")
record = found[0] if found is not None else None
if record is not None:
    rm, rp, prov = record.metrics, record.parameters, record.provenance
    print(f"\nrecord ({rp['n_seeds']} seeds, {rp['train_steps']} updates, {rp['eval_episodes']} evaluation episodes, "
          f"α = {rp['entropy_temperature']}; commit {prov['git'].get('commit', '?')[:7]}, "
          f"{prov['wall_time_s'] / 60:.1f} min):")
    table_rows(lambda e, kind, k: tuple(rm[f"{e}_{kind}_{k}_{x}"] for x in ("return_mean", "return_std",
                                                                           "normalized_score")),
               rp["env_ids"], rp["n_demos"])
    for e in rp["env_ids"]:
        print(f"{e}: expert under ε-greedy noise " + ", ".join(
            f"ε {eps}: {rm[f'{e}_expert_eps{eps}_return']:.1f}" for eps in ("0", "0.01", "0.03", "0.1")
            if f"{e}_expert_eps{eps}_return" in rm)
              + f";  1 demo: disagreement with the expert on its own states IQ-Learn "
              f"{rm.get(f'{e}_iq_1_disagree_train', float('nan')):.3f} / BC {rm.get(f'{e}_bc_1_disagree_train', float('nan')):.3f}, "
              f"on the states they visit {rm.get(f'{e}_iq_1_disagree_visited', float('nan')):.3f} / "
              f"{rm.get(f'{e}_bc_1_disagree_visited', float('nan')):.3f}")

envs_shown = list(record.parameters["env_ids"]) if record is not None else list(P.env_ids)
with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, len(envs_shown), figsize=(5.2 * len(envs_shown), 3.8), squeeze=False)
    for ax, env_id in zip(axes[0], envs_shown):
        for kind, color in (("iq", "C0"), ("bc", "C1")):
            name = "IQ-Learn" if kind == "iq" else "BC"
            if record is not None:
                ks = np.array(record.parameters["n_demos"])
                m = np.array([rm[f"{env_id}_{kind}_{k}_return_mean"] for k in ks])
                sd = np.array([rm[f"{env_id}_{kind}_{k}_return_std"] for k in ks])
                ax.plot(ks, m, color=color, lw=2, label=f"{name}: record (n={record.parameters['n_seeds']})")
                ax.fill_between(ks, m - sd, m + sd, color=color, alpha=0.18, lw=0)
            if env_id in P.env_ids:
                ks = np.array(P.n_demos)
                m = np.array([np.mean(results[(env_id, kind, k)]["greedy"]) for k in ks])
                ax.plot(ks, m, color=color, ls="--", marker="o", ms=4, label=f"{name}: this run (n={P.n_seeds})")
        ax.set_xscale("log")
        ticks = sorted(set(P.n_demos) | set(record.parameters["n_demos"] if record is not None else []))
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.set_xlabel("demonstrations (episodes)")
        ax.set_ylabel("greedy return")
        ax.set_title(env_id + ("" if env_id in P.env_ids else " (record only)"))
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
save_figure(fig, out / "return_vs_demos_with_record.png")
plt.show()

# %% [markdown]
# ### One CartPole demonstration, one change at a time
#
# Why does IQ-Learn from one CartPole demonstration stop short of the expert? `sweeps/cartpole-one-demo.yaml`
# changes one thing at a time against the base configuration (loss `value_expert`, χ² on the expert
# rows, α = 1, 5,000 updates, no gradient penalty; CartPole only, 1 demonstration, 5 seeds, 10
# evaluation episodes, BC beside every run), each run a record in
# `results/05_neural_iq_learn_offline/<change>/`. The table lists, per record: IQ-Learn's final
# greedy return and its share of the expert, BC's in the same run, the best per-chunk evaluation (an
# optimistic number), and how often the final IQ-Learn policy disagrees with the expert on the
# demonstrated states and on the states it visits itself.

# %%
from iqlib.notebook.grid import sweep_records

ABLATION_SWEEP = REPO_ROOT / "sweeps" / "cartpole-one-demo.yaml"
ablation = {}
for run, found_ in sweep_records(ABLATION_SWEEP):
    if found_ is None:
        print(f"{run.name}: no record (python -m iqlib.notebook.sweep sweeps/cartpole-one-demo.yaml)")
        continue
    m_ = found_[0].metrics
    ablation[run.name] = {k: m_[f"CartPole-v1_{k}"] for k in (
        "iq_1_return_mean", "iq_1_return_std", "iq_1_normalized_score", "bc_1_return_mean", "bc_1_return_std",
        "iq_1_best_return_mean", "iq_1_disagree_train", "iq_1_disagree_visited")}
    ablation[run.name]["wall_min"] = found_[0].provenance["wall_time_s"] / 60
    ablation[run.name]["expert"] = m_["CartPole-v1_expert_return"]
    ablation[run.name]["sweep"] = run.sweep
if ablation:
    print(f"{'change':28s} {'IQ-Learn':>15s} {'% expert':>8s} {'BC':>15s} {'best':>6s} {'disagree: demo':>14s} "
          f"{'visited':>7s} {'wall':>6s}")
    for run_, a in ablation.items():
        print(f"{run_:28s} {a['iq_1_return_mean']:7.1f} ± {a['iq_1_return_std']:5.1f} {a['iq_1_normalized_score']:8.1f} "
              f"{a['bc_1_return_mean']:7.1f} ± {a['bc_1_return_std']:5.1f} {a['iq_1_best_return_mean']:6.1f} "
              f"{a['iq_1_disagree_train']:14.3f} {a['iq_1_disagree_visited']:7.3f} {a['wall_min']:5.1f}m")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        names_ = list(ablation)
        xs = np.arange(len(names_))
        ax.bar(xs - 0.2, [ablation[n]["iq_1_return_mean"] for n in names_], 0.4,
               yerr=[ablation[n]["iq_1_return_std"] for n in names_], color="C0", capsize=2, label="IQ-Learn")
        ax.bar(xs + 0.2, [ablation[n]["bc_1_return_mean"] for n in names_], 0.4,
               yerr=[ablation[n]["bc_1_return_std"] for n in names_], color="C1", capsize=2, label="BC")
        ax.axhline(0.95 * ablation[names_[0]]["expert"], color="k", ls="--", lw=1, label="95 % of the expert")
        ax.set_xticks(xs, names_, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("final greedy return (CartPole, 1 demo)")
        ax.legend(fontsize=8)
        fig.tight_layout()
    save_figure(fig, out / "cartpole_one_demo_ablation.png")
    plt.show()

# %% [markdown]
# **Against the targets (1 demonstration: ≥ 95 % of the expert on CartPole and Acrobot, ≥ 90 % on
# LunarLander, and above BC).** The claims cell below measures each on the record and states the
# misses with their numbers. What stands behind them:
#
# **Why CartPole misses with the default expert: the expert is brittle, not the objective.** The
# record's ε-greedy line (printed above) shows how much the default Double-DQN expert loses when a few
# per cent of its actions are random, far more than the Acrobot expert. Both learners reproduce the
# expert on its own states but disagree with it on a large share of the states they visit themselves
# (printed above): small differences in the pole's trajectory take them off the single demonstrated
# path, where nothing constrains the policy. The table above tests this one change at a time. No
# change to the objective (loss, χ² rows, α, gradient penalty) or to the budget (1k or 20k updates)
# gets near 95 %: the best, 20k updates, reaches 74.7 %. The one change that does is the expert.
# The robust expert (`scripts/make_discrete_data.py --robust`: trained 150k transitions, checkpoint
# chosen for its return under 5 % random actions) still earns 500 with 10 % random actions. From one of
# *its* demonstrations, with the base settings, IQ-Learn earns 500 on every seed, and BC earns 495.
# The imitators still disagree with their expert on about a fifth of the states they visit, about as
# often as with the default expert. Those errors stop mattering when the expert's own behaviour
# tolerates them. On LunarLander the expert is not brittle (the same ε-greedy line: it keeps most of
# its return with 10 % random actions), yet the learners disagree with it on most of their own states:
# with one demonstration they fly through regions the demonstration never visited, and the score
# rises with every added demonstration (the table above). Coverage, not the expert, sets that miss.
#
# **Why IQ-Learn is not much better than BC here.** Offline and with the telescoped initial term,
# IQ-Learn's objective *is* α·(BC log-likelihood) − λ E[r²] (§1): the only information beyond BC is the
# χ² penalty tying Q(s, a) to γV(s') along demonstrated transitions. It regularises (a smaller seed
# spread than BC's with one demonstration on Acrobot and LunarLander), but it cannot tell the learner
# what a non-demonstrated action leads to — no offline method can from expert data alone. The paper's
# offline experiments report larger gains; we do not reproduce them with these experts, whole-episode
# demonstrations and 5,000 updates. (A run at the paper's α = 0.01 is not recorded.)
#
# **Recovered reward.** §4 prints this run's correlations; on the record the episode sum of $\hat r$
# correlates with the true return on held-out Acrobot demonstrations but not per step — the per-step
# reward is not identified beyond shaping, the episode total is. On CartPole the true reward is the
# constant 1, so per step and on the all-500 demonstrations the correlation is undefined (null in the
# metrics); $\hat r$ is negative on average on the mixed data, the known weak point of implicit rewards
# at absorbing states.
#
# **Wall time to the expert's return from one demonstration (CartPole)** is printed in §5 (target:
# under 30 s, compilation and evaluation included). Because the CartPole policies swing from chunk to
# chunk, "first reaches 500" is a statement about the first evaluation that happens to hit 500, not
# about a policy that stays there.
#
# ## 7. Claims
#
# On the record: with one demonstration IQ-Learn reaches ≥ 95 % of the expert on Acrobot and is above
# BC there. On CartPole it reaches ≥ 95 % and is above BC from one demonstration of the robust expert.
# No change to the objective or the budget (the ablation table) gets the default expert's one-demo
# CartPole to 95 %. With the default expert the CartPole target (≥ 95 %) is a stated miss, and so is
# LunarLander's (≥ 90 %). With 10
# demonstrations IQ-Learn is within 10 % of the expert on LunarLander. On this run (at least the
# defaults' budget): IQ-Learn's greedy CartPole policy from three demonstrations reaches ≥ 75 % of the
# expert, and from one it reproduces the expert on the demonstrated states (disagreement ≤ 10 %). The
# record's time to the expert's return from one CartPole demonstration is under 30 s (§5).

# %%
from iqlib.notebook.claims import Claims

claims = Claims()
if record is not None:
    def pct(env_id, kind, k):
        return rm[f"{env_id}_{kind}_{k}_normalized_score"]
    if "Acrobot-v1" in rp["env_ids"] and 1 in rp["n_demos"]:
        claims.add("acrobot_1demo_expert", "IQ-Learn reaches >= 95 % of the expert on Acrobot from 1 demonstration",
                   pct("Acrobot-v1", "iq", 1), ">= 95 %", pct("Acrobot-v1", "iq", 1) >= 95.0, on="record", headline=True)
        claims.add("acrobot_1demo_above_bc", "IQ-Learn's Acrobot return from 1 demonstration is above BC's",
                   rm["Acrobot-v1_iq_1_return_mean"] - rm["Acrobot-v1_bc_1_return_mean"], "> 0",
                   rm["Acrobot-v1_iq_1_return_mean"] > rm["Acrobot-v1_bc_1_return_mean"], on="record")
    if "CartPole-v1" in rp["env_ids"] and 1 in rp["n_demos"]:
        claims.add("cartpole_1demo_expert", "IQ-Learn reaches >= 95 % of the expert on CartPole from 1 demonstration",
                   pct("CartPole-v1", "iq", 1), ">= 95 %", pct("CartPole-v1", "iq", 1) >= 95.0, expected=False,
                   on="record", reason="a brittle expert and covariate shift: the imitator disagrees with the expert "
                   f"on {100 * rm['CartPole-v1_iq_1_disagree_visited']:.0f} % of the states it visits, and this expert "
                   "does not tolerate the errors (from the robust expert's demonstrations it reaches the target: "
                   "claim cartpole_1demo_robust_expert)")
    if "LunarLander-v3" in rp["env_ids"]:
        claims.add("lunarlander_1demo_expert", "IQ-Learn reaches >= 90 % of the expert on LunarLander from 1 "
                   "demonstration", pct("LunarLander-v3", "iq", 1), ">= 90 %", pct("LunarLander-v3", "iq", 1) >= 90.0,
                   expected=False, on="record", reason="one demonstration covers too little of the state space: "
                   f"disagreement on {100 * rm['LunarLander-v3_iq_1_disagree_visited']:.0f} % of visited states; "
                   "the score grows with the demonstrations ("
                   + " / ".join(f"{pct('LunarLander-v3', 'iq', k):.1f}" for k in sorted(rp["n_demos"]))
                   + f" % with {' / '.join(map(str, sorted(rp['n_demos'])))}), while the expert is not brittle "
                   f"({rm['LunarLander-v3_expert_eps0.03_return']:.0f} with 3 % and "
                   f"{rm['LunarLander-v3_expert_eps0.1_return']:.0f} with 10 % random actions, "
                   f"{rm['LunarLander-v3_expert_eps0_return']:.0f} greedy)")
        if 10 in rp["n_demos"]:
            claims.add("lunarlander_10demo_expert", "IQ-Learn is within 10 % of the expert on LunarLander from 10 "
                       "demonstrations", pct("LunarLander-v3", "iq", 10), ">= 90 %",
                       pct("LunarLander-v3", "iq", 10) >= 90.0, on="record")
    if rm.get("CartPole-v1_iq_1_time_to_expert_reached"):
        tte_s = rm["CartPole-v1_iq_1_time_to_expert_s"]
        claims.add("cartpole_1demo_time_to_expert", "From 1 CartPole demonstration IQ-Learn's greedy policy first "
                   f"earns the expert's return within 30 s, compilation and evaluation included "
                   f"({rm['CartPole-v1_iq_1_time_to_expert_steps']} updates)", tte_s, "< 30 s", tte_s < 30.0,
                   on="record")
ROBUST_ENTRY = "cartpole-one-demo-robust-expert"
robust_ = next((a for a in ablation.values() if a["sweep"] == ROBUST_ENTRY), None)
if robust_ is not None:
    claims.add("cartpole_1demo_robust_expert", "From 1 demonstration of the noise-robust expert, IQ-Learn reaches "
               ">= 95 % of the expert on CartPole", robust_["iq_1_normalized_score"], ">= 95 %",
               robust_["iq_1_normalized_score"] >= 95.0, on="record")
    claims.add("cartpole_1demo_robust_above_bc", "From 1 demonstration of the noise-robust expert, IQ-Learn's "
               "CartPole return is above BC's", robust_["iq_1_return_mean"] - robust_["bc_1_return_mean"], "> 0",
               robust_["iq_1_return_mean"] > robust_["bc_1_return_mean"], on="record")
    others_ = {n: a for n, a in ablation.items() if a["sweep"] != ROBUST_ENTRY}
    if others_:
        best_name_ = max(others_, key=lambda n: others_[n]["iq_1_normalized_score"])
        best_other_ = others_[best_name_]["iq_1_normalized_score"]
        claims.add("cartpole_1demo_objective_not_the_limit", "With the default expert, no change to the objective or "
                   f"the budget reaches 95 % from 1 CartPole demonstration (best: {best_name_})", best_other_,
                   "< 95 %", best_other_ < 95.0, on="record")
full_size = P.train_steps >= 2000 and P.n_seeds >= 3 and P.eval_episodes >= 6
# the ablation runs of sweeps/cartpole-one-demo.yaml change the objective: its claims are the defaults'
default_objective = (P.loss, P.chi2_rows, P.entropy_temperature, P.grad_penalty) == ("value_expert", "expert", 1.0, 0.0)
if "CartPole-v1" in P.env_ids and 3 in P.n_demos:
    iq3 = float(np.mean(results[("CartPole-v1", "iq", 3)]["greedy"]))
    iq3_pct = float(normalized_score(iq3, data["CartPole-v1"]["random_return"], data["CartPole-v1"]["expert_return"]))
    claims.add("cartpole_3demo_75pct", "IQ-Learn's greedy CartPole policy from 3 demonstrations reaches >= 75 % of "
               "the expert", iq3_pct, ">= 75 %", iq3_pct >= 75.0, expected=full_size and default_objective,
               reason="" if full_size and default_objective else
               ("budget below the defaults" if not full_size else "an ablation of the default objective"),
               headline=record is None)
if "CartPole-v1_iq_1_disagree_train" in metrics:
    d = metrics["CartPole-v1_iq_1_disagree_train"]
    claims.add("cartpole_1demo_reproduces_demo", "IQ-Learn (1 demonstration) picks the expert's action on >= 90 % "
               "of the demonstrated states", d, "<= 0.10", d <= 0.10, expected=full_size and default_objective,
               reason="" if full_size and default_objective else
               ("budget below the defaults" if not full_size else "an ablation of the default objective"))
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())

# %%
metrics["total_wall_s"] = time.perf_counter() - T_START
save_metrics(out, {**P.as_metrics(), **metrics})
print(f"total {metrics['total_wall_s']:.1f} s")
