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
# # 06 · Online IQ-Learn with a soft actor-critic, and learning from observations only
#
# IQ-Learn (Garg et al., NeurIPS 2021) learns **one soft Q-function** from demonstrations; the
# reward is implicit, $r_Q(s,a) = Q(s,a) - \gamma\,V^\pi(s')$ (the inverse soft Bellman operator,
# Eq. 4). With continuous actions the policy cannot be read off $Q$ in closed form, so a SAC actor
# tracks it, and the soft value is estimated with one sample of that actor,
# $V^\pi(s) = Q(s,\tilde a) - \alpha \log \pi(\tilde a|s)$, $\tilde a \sim \pi(\cdot|s)$.
# *Online*, the agent also acts in the environment: its own transitions enter the objective, but
# the environment's **reward is never used** — only to score the agent here.
#
# Part 1 runs this on `Pendulum-v1` against our SAC expert's demonstrations; Part 2 drops the
# expert's **actions** altogether (learning from observations, the paper's Table 8) on CartPole.

# %% tags=["parameters"]
output_dir = "outputs/06_iq_learn_online_continuous"
seed = 0
env_id = "Pendulum-v1"
n_demos = 10
n_seeds = 2
total_steps = 10000
learning_starts = 1000
train_freq = 100
eval_every = 1000
eval_episodes = 5
hidden = 64
batch_size = 128
actor_lr = 0.0003
critic_lr = 0.0003
entropy_temperature = 0.01
chi2_weight = 0.5
init_term = "value"
absorbing = True
sac_reference = False
lfo_env_ids = ["CartPole-v1"]
lfo_demos = [1, 10]
lfo_seeds = 1
lfo_steps = 8192
lfo_eval_every = 1024
lfo_critic_lr = 0.0003
lfo_batch_size = 64
lfo_action_model = "dynamics"
lfo_absorbing = "value"
lfo_critic_on_model = False
lfo_demos_dir = "data/demos"

# %% [markdown]
# **Parameters.** `env_id` is any continuous-control id with demonstrations in `data/demos/`;
# `n_demos` expert episodes are used, `n_seeds` independent learners run in parallel (vmapped),
# each for `total_steps` environment steps (the first `learning_starts` with uniform random
# actions, then one gradient update per step). Networks are two hidden layers of width `hidden`.
# The paper's MuJoCo settings (App. D) are 2×256 networks, batch 256 from each source, actor step
# 3e-5, critic 3e-4, fixed $\alpha = 0.01$, $\chi^2$ weight $\lambda = 0.5$; our defaults shrink the
# networks and batch and raise the actor step so that Pendulum trains in a minute on two CPU cores.
# `sac_reference` also trains SAC from scratch **with** the true reward (one seed) as a yardstick.
# The LfO part runs each of `lfo_env_ids` with each demo count in `lfo_demos`, the demonstrations
# taken from `lfo_demos_dir` (relative to the repository root; `data/demos/robust` holds CartPole
# demonstrations of a noise-robust expert, see notebook 05). `lfo_action_model` picks how the
# LfO critic Q(s, s') is turned into action values (§3), and `lfo_absorbing` how a terminal row is
# bootstrapped there: from the fixed absorbing value V_abs ("value", ours), from 0 ("mask", the
# paper's), or from a learned absorbing state's value ("learned", with absorbing self-loop rows).
# `lfo_critic_on_model` (dynamics model only) reads Q(s, s') at the model's predicted next state on
# every row, the demonstrations' at the prediction nearest their real s' (§3's LunarLander account).
#
# **Full run** (a papermill rerun; about 10 minutes for Pendulum and CartPole):
# `-p n_seeds 5 -p total_steps 20000 -p eval_every 2000 -p sac_reference True -p lfo_seeds 3
#  -p lfo_steps 16384`. LunarLander's LfO record is `sweeps/iq-learn-lfo-lunarlander.yaml` (`-p lfo_env_ids
#  '["LunarLander-v3"]' -p lfo_seeds 3 -p lfo_steps 102400 -p lfo_eval_every 4096`: 15 min for 1 and 10 demos).
# **Hopper** from one demo (paper: 3546): `-p env_id Hopper-v5 -p n_demos 1 -p total_steps 500000
# -p hidden 256 -p batch_size 256 -p actor_lr 3e-5 -p init_term v0 -p eval_every 5000 -p lfo_env_ids '[]'`
# (the paper's Hopper settings, except twin critics and `absorbing`, ours, see §3; `-p absorbing False`
# gives the paper's terminal mask). `benchmarks/bench_iq_learn_online.py` measured about 58 updates/s at
# these sizes on the shared 2-core CPU, so 500k steps take hours per seed there; with
# `-p total_steps 100000 -p n_seeds 3` two of the three seeds end at the expert's return (71 min, §4).

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import (Bool, Choice, EnvId, Float, Int, ListOf, OutputDir, Str, check_parameters,
                                   demo_episodes, require, require_distinct)

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "seed": Int(0),
    "env_id": EnvId(action="continuous", demos=True),
    "n_demos": Int(1, 1000),
    "n_seeds": Int(1, 64),
    "total_steps": Int(100, 10_000_000),
    "learning_starts": Int(0, 1_000_000),
    "train_freq": Int(1, 100_000),
    "eval_every": Int(1, 1_000_000),
    "eval_episodes": Int(1, 1000),
    "hidden": Int(4, 4096),
    "batch_size": Int(1, 65_536),
    "actor_lr": Float(0.0, 1.0, lo_open=True),
    "critic_lr": Float(0.0, 1.0, lo_open=True),
    "entropy_temperature": Float(0.0, 100.0, lo_open=True),
    "chi2_weight": Float(0.0, 1e6),
    "init_term": Choice(["value", "v0"]),
    "absorbing": Bool(),
    "sac_reference": Bool(),
    "lfo_env_ids": ListOf(EnvId(action="discrete", demos=True)),
    "lfo_demos": ListOf(Int(1, 1000), min_len=1),
    "lfo_seeds": Int(1, 64),
    "lfo_steps": Int(64, 10_000_000),
    "lfo_eval_every": Int(1, 1_000_000),
    "lfo_critic_lr": Float(0.0, 1.0, lo_open=True),
    "lfo_batch_size": Int(1, 65_536),
    "lfo_action_model": Choice(["dynamics", "regression"]),
    "lfo_absorbing": Choice(["value", "mask", "learned"]),
    "lfo_critic_on_model": Bool(),
    "lfo_demos_dir": Str(),
})
require(P.learning_starts < P.total_steps,
        f"learning_starts ({P.learning_starts}) must be < total_steps ({P.total_steps}): at least one update")
require(P.total_steps % P.eval_every == 0 and P.eval_every % P.train_freq == 0,
        f"total_steps ({P.total_steps}) must be a multiple of eval_every ({P.eval_every}), itself a multiple of "
        f"train_freq ({P.train_freq})")
require(not P.absorbing or P.chi2_weight > 0,
        f"absorbing=True needs chi2_weight > 0 (V_abs = −1/(2λ(1 − γ))), got chi2_weight {P.chi2_weight}")
require(not P.lfo_critic_on_model or P.lfo_action_model == "dynamics",
        f"lfo_critic_on_model=True needs lfo_action_model 'dynamics', got {P.lfo_action_model!r}")
require_distinct("lfo_env_ids", P.lfo_env_ids)
require_distinct("lfo_demos", P.lfo_demos, "the LfO rows are keyed by demo count")

import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from iqlib.neural.iq_learn_lfo import IQLearnLfOConfig

_lfo = IQLearnLfOConfig()  # the LfO schedule the notebook keeps at its defaults
require(P.lfo_steps > _lfo.learning_starts,
        f"lfo_steps ({P.lfo_steps}) must be > the LfO learner's learning_starts ({_lfo.learning_starts}): "
        "at least one update")
require(P.lfo_steps % P.lfo_eval_every == 0 and P.lfo_eval_every % _lfo.train_freq == 0,
        f"lfo_steps ({P.lfo_steps}) must be a multiple of lfo_eval_every ({P.lfo_eval_every}), itself a multiple "
        f"of the LfO learner's train_freq ({_lfo.train_freq})")
_held = demo_episodes(P.env_id)
require(P.n_demos <= _held, f"n_demos ({P.n_demos}) must be <= the {_held} demo episodes of env_id ({P.env_id!r})")
from iqlib.notebook.runner import REPO_ROOT

LFO_DEMOS = REPO_ROOT / P.lfo_demos_dir  # relative paths are taken from the repository root
require(LFO_DEMOS.is_dir(),
        f"parameter 'lfo_demos_dir': expected an existing folder, got {P.lfo_demos_dir!r} ({LFO_DEMOS})")
for _env in P.lfo_env_ids:
    _held = demo_episodes(_env, LFO_DEMOS)
    require(_held is not None, f"parameter 'lfo_demos_dir': no demonstrations of {_env} in {P.lfo_demos_dir!r}")
    require(max(P.lfo_demos) <= _held,
            f"lfo_demos (max {max(P.lfo_demos)}) must be <= the {_held} demo episodes of lfo_env_ids entry {_env!r}")
T_START = time.perf_counter()
P

# %%
from iqlib.core.envs import env_spec
from iqlib.core.transitions import Transitions
from iqlib.data.demos import load_demos
from iqlib.data.files import save_figure, save_metrics
from iqlib.neural.iq_learn_lfo import IQLearnLfOConfig
from iqlib.neural.iq_learn_lfo_train import train_iq_learn_lfo
from iqlib.neural.lfo_diagnostics import demo_diagnostics
from iqlib.neural.iq_learn_online import (IQBatch, IQLearnOnlineConfig, init_sac, iq_critic_loss, iq_critic_terms,
                                          make_update)
from iqlib.neural.iq_learn_online_train import train_iq_learn_online
from iqlib.neural.online import late_episodes
from iqlib.neural.sac import SACConfig, train_sac
from iqlib.notebook.curves import save_curves
from iqlib.notebook.plotting import STYLE, curves_with_bands, mean_with_range
from iqlib.notebook.source import show_source

out = P.output_dir
metrics = {}

# %% [markdown]
# ## 1. The critic objective, term by term
#
# With $r_Q = Q(s,a) - \gamma(1-\text{terminal})V^\pi(s')$ and the $\chi^2$ divergence written as
# $\phi(x) = x - \lambda x^2$ (the paper's $\lambda = 1/(4\alpha)$; see the README's design notes), the
# critic **minimises** the negated objective of Eq. 10 on a batch of $B$ demonstration rows
# ($\rho_E$) and $B$ rows of the agent's replay ($\rho_\pi$):
#
# $$\mathcal L(Q) = -\mathbb E_{\rho_E}[r_Q] + \mathbb E_{\frac12\rho_E+\frac12\rho_\pi}\big[V^\pi(s) - \gamma(1-\text{terminal})V^\pi(s')\big] + \lambda\,\mathbb E_{\frac12\rho_E+\frac12\rho_\pi}[r_Q^2].$$
#
# The middle term is the telescoped initial-state term $(1-\gamma)\mathbb E_{p_0}[V(s_0)]$ (§5.1:
# it may be taken under any occupancy; online, the mixture); the $\chi^2$ penalty is taken over
# expert **and** policy rows, the paper's online regulariser. The first term pushes $Q$ up on the
# expert's transitions, the middle one pushes $V$ (so $Q$ at the actor's actions) down everywhere.
# The library's code of exactly this: the terms from per-row values (`iq_critic_terms`), the loss of the
# twin critics with the one-sample $V^\pi$ (`iq_critic_loss`), and the one pure `update` that runs it
# inside the soft actor-critic step (critic, then actor, then temperature, then Polyak targets):

# %%
show_source(iq_critic_terms, iq_critic_loss, make_update)

# %% [markdown]
# A hand-checkable batch (rows 0–1 expert, 2–3 replay, row 1 terminal, $\gamma = 0.5$, $\lambda=0.25$),
# then one `update` on a toy batch: its critic loss is `iq_critic_loss` at the state it started from,
# and the target critics moved by exactly the Polyak rate $\rho$ towards the new critics:

# %%
loss, terms = iq_critic_terms(jnp.array([2.0, 1.0, 0.0, 3.0]), jnp.array([1.0, 2.0, 0.5, 1.0]),
                              jnp.array([2.0, 4.0, 1.0, 2.0]), jnp.array([0.0, 1.0, 0.0, 0.0]),
                              jnp.array([1.0, 1.0, 0.0, 0.0]), discount=0.5, chi2_weight=0.25)
print({k: round(float(v), 6) for k, v in terms.items()}, "loss", float(loss))
assert abs(float(loss) - (-1.0 + 0.5 + 0.25 * 6.25 / 4)) < 1e-6  # r = [1, 1, -0.5, 2]

toy_cfg = IQLearnOnlineConfig(hidden=(8,), batch_size=2, target_rate=0.1)
toy_nets, toy_state = init_sac(jax.random.key(0), 3, 1, toy_cfg)
k_rows = jax.random.split(jax.random.key(1), 3)
toy_rows = Transitions(jax.random.normal(k_rows[0], (4, 3)), jax.random.uniform(k_rows[1], (4, 1), minval=-1.0),
                       jnp.zeros(4), jax.random.normal(k_rows[2], (4, 3)), jnp.array([0.0, 1.0, 0.0, 0.0]),
                       jnp.zeros(4), jnp.zeros(4))
toy_batch = IQBatch(toy_rows, jnp.array([1.0, 1.0, 0.0, 0.0]), toy_rows.obs[:2])
new_state, toy_metrics = make_update(toy_nets, toy_cfg)(toy_state, toy_batch)
_, k_critic, _ = jax.random.split(toy_state.key, 3)  # the update's split of its key
expected_loss, _ = iq_critic_loss(toy_state.critic.params, toy_state, toy_batch, k_critic, toy_nets, toy_cfg)
assert abs(float(toy_metrics["critic_loss"]) - float(expected_loss)) < 1e-5 and int(new_state.step) == 1
for t_new, t_old, c_new in zip(*(jax.tree_util.tree_leaves(x) for x in (new_state.target_critic, toy_state.target_critic,
                                                                         new_state.critic.params))):
    assert np.allclose(t_new, 0.9 * t_old + 0.1 * c_new, atol=1e-6)
print({k: round(float(v), 4) for k, v in toy_metrics.items()})

# %% [markdown]
# Each twin critic $Q_1, Q_2$ gets this loss with the shared $V$ from $\min(Q_1,Q_2)$ (the SAC
# convention; the paper's Hopper run used a single critic), and $V^\pi(s')$ comes from the
# Polyak-averaged target critics. The actor and (if learned) the temperature take SAC's own steps
# (`iqlib.neural.iq_learn_online.sac_update`, SAC's own step with the critic loss swapped), on the
# states of the mixed batch.
#
# ## 2. Pendulum from demonstrations: return vs environment steps

# %%
config = IQLearnOnlineConfig(hidden=(P.hidden, P.hidden), batch_size=P.batch_size, actor_lr=P.actor_lr,
                             critic_lr=P.critic_lr, entropy_temperature=P.entropy_temperature, chi2_weight=P.chi2_weight,
                             init_term=P.init_term, absorbing=P.absorbing, learning_starts=P.learning_starts, train_freq=P.train_freq,
                             eval_every=P.eval_every, eval_episodes=P.eval_episodes)
t0 = time.perf_counter()
nets, carry, hist, demo_info = train_iq_learn_online(P.env_id, config, n_demos=P.n_demos, seed=P.seed,
                                                     n_seeds=P.n_seeds, total_steps=P.total_steps, progress=True)
iq_wall = time.perf_counter() - t0
expert_return = demo_info["expert_return_mean"]
print(f"{P.n_seeds} seeds × {P.total_steps} env steps, {hist['update_steps']} updates per seed, {iq_wall:.1f} s; "
      f"expert return over the {P.n_demos} demos: {expert_return:.1f} "
      f"(all {demo_info['provenance']['n_episodes']} demo episodes: {demo_info['file_return_mean']:.1f})")

# %%
sac_hist = None
if P.sac_reference:
    sac_cfg = SACConfig(hidden=(P.hidden, P.hidden), batch_size=P.batch_size, learning_starts=P.learning_starts,
                        train_freq=P.train_freq, eval_every=P.eval_every, eval_episodes=P.eval_episodes)
    _, _, sac_hist, _ = train_sac(P.env_id, sac_cfg, seed=P.seed, total_steps=P.total_steps)


# %%
def summary(returns):
    """returns: (S, T, n) -> per-seed means of the last and the best evaluation."""
    per_eval = returns.mean(axis=-1)  # (S, T)
    return per_eval[:, -1], per_eval.max(axis=1)


steps = hist["step"]
curves = {"IQ-Learn, deterministic": hist["eval_deterministic"].mean(-1),
          "IQ-Learn, stochastic": hist["eval_stochastic"].mean(-1)}
if sac_hist is not None:
    curves["SAC with true reward (1 seed)"] = np.asarray(sac_hist["eval_mean"])[None]
fig = curves_with_bands(steps, curves, "environment steps", "return (mean of episodes)",
                        title=f"{P.env_id}: online IQ-Learn from {P.n_demos} demo(s)")
ax = fig.axes[0]
ax.axhline(expert_return, color="k", ls="--", lw=1, label=f"expert ({expert_return:.0f})")
ax.legend(fontsize=8)
save_figure(fig, out / "returns_vs_steps.png")
save_curves(out, "returns", steps, {"iq_deterministic": hist["eval_deterministic"].mean(-1),
                                    "iq_stochastic": hist["eval_stochastic"].mean(-1),
                                    **({"sac": np.asarray(sac_hist["eval_mean"])[None]} if sac_hist is not None else {})},
            x_label="environment steps", y_label="return (mean of episodes)")
plt.show()

rows = []
for kind in ("deterministic", "stochastic"):
    last, best = summary(hist[f"eval_{kind}"])
    rows.append((kind, last, best))
    print(f"{kind:>13}: last {last.mean():8.1f} ± {last.std():6.1f}   best {best.mean():8.1f} ± {best.std():6.1f}"
          f"   (per seed last: {np.round(last, 1).tolist()})")
print(f"{'expert':>13}: {expert_return:8.1f}")
key = P.env_id
det_last, det_best = summary(hist["eval_deterministic"])
sto_last, sto_best = summary(hist["eval_stochastic"])
metrics.update({f"{key}_iq_return_mean": det_last.mean(), f"{key}_iq_return_std": det_last.std(),
                f"{key}_iq_best_return_mean": det_best.mean(), f"{key}_iq_best_return_std": det_best.std(),
                f"{key}_iq_stochastic_return_mean": sto_last.mean(), f"{key}_iq_stochastic_return_std": sto_last.std(),
                f"{key}_iq_stochastic_best_return_mean": sto_best.mean(),
                f"{key}_expert_return": expert_return, f"{key}_iq_wall_s": iq_wall,
                f"{key}_iq_update_steps": hist["update_steps"],
                f"{key}_iq_normalized_last": (det_last.mean() - demo_info["provenance"].get("ref_random_return", np.nan))
                / (expert_return - demo_info["provenance"].get("ref_random_return", np.nan))})
if sac_hist is not None:
    metrics[f"{key}_sac_return_last"] = sac_hist["eval_mean"][-1]
    metrics[f"{key}_sac_return_best"] = max(sac_hist["eval_mean"])

# %% [markdown]
# "Deterministic" acts with $\tanh(\mu(s))$, "stochastic" samples the squashed Gaussian; "last" is the
# final evaluation, "best" the best one during training (an optimistic number: it selects on the
# same evaluation episodes). ± is the standard deviation **across seeds** of the per-seed mean return.
#
# **The implicit reward.** The replay also stored the environment's reward (never used in training),
# so we can ask how the implicit reward $r_Q(s,a) = Q(s,a) - \gamma V^\pi(s')$ of the learned critic
# relates to it on the agent's own transitions (the paper reports such correlations for its tasks).

# %%
from iqlib.neural.iq_learn_online import sampled_soft_value
from iqlib.core.nets import apply


def implicit_reward(i, n=4000):
    """r_Q on the last n replay rows of seed i, and their true rewards."""
    ln = jax.tree_util.tree_map(lambda x: x[i], carry.learner)
    size = int(carry.size[i])
    sl = slice(max(0, size - n), size)
    rows = jax.tree_util.tree_map(lambda x: x[i, sl], carry.replay)
    q = jnp.minimum(*apply(nets.critic_def, ln.critic.params, rows.obs, rows.action))
    alpha = jnp.exp(ln.log_alpha.params)
    nv, _ = sampled_soft_value(nets.actor_def, ln.actor.params, nets.critic_def, ln.critic.params, rows.next_obs,
                               jax.random.key(0), alpha)
    r_q = q - config.discount * (1 - rows.terminal) * nv
    return np.asarray(r_q), np.asarray(rows.reward)


corrs = []
for i in range(P.n_seeds):
    r_q, r_true = implicit_reward(i)
    corrs.append(np.corrcoef(r_q, r_true)[0, 1])
print("Pearson(r_Q, true reward) on the last replay rows, per seed:", np.round(corrs, 3).tolist())
metrics[f"{key}_implicit_reward_pearson"] = float(np.mean(corrs))

# %% [markdown]
# ## 3. Learning from observations only (CartPole)
#
# Now the demonstrations keep only states: $(s, s', \text{terminal})$; the expert's actions are zeroed
# when loaded and never read (a unit test permutes them). The critic becomes a state/next-state
# function $Q(s, s')$ with the state-only implicit reward $r(s,s') = Q(s,s') - \gamma V(s')$. To act,
# the agent needs action values $\bar Q(s,a) = \mathbb E_{s'\sim P(\cdot|s,a)}[Q(s,s')]$, which give
# $\pi = \mathrm{softmax}(\bar Q/\alpha)$ and $V(s) = \alpha\log\sum_a e^{\bar Q(s,a)/\alpha}$. The
# dynamics $P$ are unknown, so the agent learns them from its **own** transitions: a model
# $\hat s'(s,a)$ fitted by least squares on its replay, and $\bar Q(s,a) = Q(s, \hat s'(s,a))$ (exact
# for CartPole's deterministic dynamics). $Q(s,s')$ then minimises the same online $\chi^2$ objective
# as in Part 1 with $Q(s,s')$ in place of $Q(s,a)$ (`iqlib.neural.iq_learn_lfo`; `lfo_action_model =
# "regression"` instead fits an action-value network to $Q(s,s')$, whose minimiser is the conditional
# mean $\bar Q$ for any dynamics). The paper states the objective with $Q(s,s')$; how it is turned into
# actions is our choice, not its code.
#
# **Absorbing states.** With the paper's $(1-\text{terminal})$ mask the value after a terminal is 0,
# while the learned values of the agent's other states are negative (they are pushed down by the
# $V(s)$ term): ending an episode then looks *good*. In our first runs the CartPole agent learned to
# drop the pole at once (returns ≈ 9, below the random policy's ≈ 22, with either action model).
# Bootstrapping terminal rows from $V_{\text{abs}} = -1/(2\lambda(1-\gamma))$ — the $\chi^2$ objective's
# value of an absorbing state that only the policy reaches — removes that incentive (`absorbing`,
# on by default here; cf. LS-IQ's treatment of absorbing states). Pendulum never terminates, so
# Part 1 is unaffected; for Hopper, which terminates when it falls, it matters.

# %%
lfo_cfg = IQLearnLfOConfig(critic_lr=P.lfo_critic_lr, batch_size=P.lfo_batch_size, eval_every=P.lfo_eval_every,
                           eval_episodes=P.eval_episodes, action_model=P.lfo_action_model,
                           absorbing=P.lfo_absorbing != "mask", learned_absorbing=P.lfo_absorbing == "learned",
                           critic_on_model=P.lfo_critic_on_model)
PAPER_TABLE8 = {("CartPole-v1", 1): (452, 50), ("CartPole-v1", 10): (485, 25),
                ("LunarLander-v3", 1): (20, 102), ("LunarLander-v3", 10): (220, 69)}
lfo_curves, lfo_rows, lfo_hist = {}, [], {}
for lfo_env in P.lfo_env_ids:
    for k in P.lfo_demos:
        t0 = time.perf_counter()
        lnets, lcarry, lh, linfo = train_iq_learn_lfo(lfo_env, lfo_cfg, n_demos=k, seed=P.seed, n_seeds=P.lfo_seeds,
                                                      total_steps=P.lfo_steps, progress=True, demos_dir=LFO_DEMOS)
        wall = time.perf_counter() - t0
        last, best = summary(lh["eval_deterministic"])
        s_last, _ = summary(lh["eval_stochastic"])
        lfo_curves[f"{lfo_env}, {k} demo(s)"] = (lh["step"], lh["eval_deterministic"].mean(-1))
        lfo_hist[lfo_env, k] = lh
        save_curves(out, f"lfo_{lfo_env}_{k}", lh["step"], {"lfo_deterministic": lh["eval_deterministic"].mean(-1)},
                    x_label="environment steps", y_label="return (mean of episodes)")
        paper = PAPER_TABLE8.get((lfo_env, k), (np.nan, np.nan))
        lfo_rows.append((lfo_env, k, last.mean(), last.std(), best.mean(), s_last.mean(), linfo["expert_return_mean"],
                         paper, wall))
        pre = f"{lfo_env}_lfo_{k}"
        metrics.update({f"{pre}_return_mean": last.mean(), f"{pre}_return_std": last.std(),
                        f"{pre}_best_return_mean": best.mean(), f"{pre}_stochastic_return_mean": s_last.mean(),
                        f"{pre}_expert_return": linfo["expert_return_mean"], f"{pre}_paper_return": paper[0],
                        f"{pre}_wall_s": wall})
        tail = {name: np.asarray(v)[:, -max(1, np.asarray(v).shape[1] // 10):].mean()
                for name, v in lh["metrics"].items()}
        # over the last tenth of the chunks, seed mean: the action model's loss (dynamics: the squared error of
        # ŝ'(s, a) in units of the demonstrations' Δs std, summed over dimensions) and the implicit-reward gap
        metrics.update({f"{pre}_final_aux_loss": float(tail["aux_loss"]),
                        f"{pre}_final_reward_gap": float(tail["expert_reward"] - tail["policy_reward"]),
                        # the learned absorbing state's value (lfo_absorbing "learned"; else the fixed −100 or 0)
                        f"{pre}_final_absorbing_value": float(tail.get("absorbing_value", np.nan))})
        # how the learner's own (softmax) episodes end over the last tenth of the steps, all seeds pooled
        ends = late_episodes(lh["train_episodes"], P.lfo_steps)
        metrics.update({f"{pre}_final_episode_length": ends["length"],
                        f"{pre}_final_terminated_fraction": ends["terminated"]})
        # the demonstrations' held-out actions (never seen by the learner): does argmax Q̄ pick them, and how
        # well does the dynamics model predict the expert's own next states?
        diag = demo_diagnostics(lnets, lcarry.learner.train.params, load_demos(lfo_env, k, demos_dir=LFO_DEMOS)[0])
        # (dynamics model) how often the model alone names the expert's action from (s, s'), and how far apart it
        # puts the actions' next states, beside its error (all in Δs-std units)
        metrics.update({f"{pre}_demo_action_agreement": float(diag["action_agreement"].mean()),
                        f"{pre}_demo_model_error": float(diag["model_error"].mean()),
                        f"{pre}_demo_model_action_id": float(diag["model_action_id"].mean()),
                        f"{pre}_demo_action_spread": float(diag["action_spread"].mean()),
                        f"{pre}_chance_agreement": 1.0 / env_spec(lfo_env)["n_actions"]})
        print(f"{lfo_env}, {k} demo(s): the greedy action is the expert's held-out action on "
              f"{diag['action_agreement'].mean():.2f} of its states (chance {1 / env_spec(lfo_env)['n_actions']:.2f}); "
              f"the dynamics model's error on the expert's transitions {diag['model_error'].mean():.3f}, the spread "
              f"of its next states over actions {diag['action_spread'].mean():.3f}; the model alone names the "
              f"expert's action on {diag['model_action_id'].mean():.2f} of the expert's transitions")

print(f"{'env':>15} {'demos':>5} {'last (det.)':>16} {'best':>7} {'last (stoch.)':>13} {'expert':>7} "
      f"{'paper Table 8':>14} {'wall [s]':>8}")
for env_, k, m, s, b, sm, ex, paper, wall in lfo_rows:
    print(f"{env_:>15} {k:>5} {m:>9.1f} ± {s:>5.1f} {b:>7.1f} {sm:>13.1f} {ex:>7.1f} "
          f"{paper[0]:>8} ± {paper[1]:<4} {wall:>8.1f}")

if lfo_curves:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
        for name, (x, y) in lfo_curves.items():
            ax.plot(x, y.mean(0), marker="o", ms=3, label=f"{name} (n={y.shape[0]})")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(r"return (greedy, argmax $\bar Q$)")
        ax.set_title("IQ-Learn from observations only")
        ax.legend(fontsize=8)
        fig.tight_layout()
    save_figure(fig, out / "lfo_returns_vs_steps.png")
    plt.show()

# %% [markdown]
# ## 4. The recorded full run, with this run drawn over it
#
# The defaults (2 seeds, 10,000 steps, 1 LfO seed) are a small run, and at two seeds the random
# streams alone move the result a lot. The project keeps the **full run** as a record
# (`results/06_iq_learn_online_continuous/default/`, made by `python -m iqlib.notebook.sweep
# sweeps/full.yaml --entry iq-learn-online-full`: Pendulum 5 seeds × 20,000 steps with the SAC
# reference trained on the true reward; LfO CartPole 3 seeds × 16,384 steps). In the figure **full lines
# with shaded min–max bands are the record; dashed lines with dots are this run**.

# %%
from iqlib.notebook.curves import Curves, compare_at_common_x, plot_over_record
from iqlib.notebook.records import find_record

found = find_record("06_iq_learn_online_continuous", "default")
if found is not None and found[0].parameters.get("env_id") != P.env_id:
    found = None  # a record of another environment says nothing about this one
record, record_curves = found if found is not None else (None, {})
fresh = Curves(np.asarray(steps, float), {"iq_deterministic": hist["eval_deterministic"].mean(-1),
                                          **({"sac": np.asarray(sac_hist["eval_mean"])[None]} if sac_hist is not None else {})},
               "environment steps", "return (mean of episodes)")
LABELS = {"iq_deterministic": "IQ-Learn, deterministic", "sac": "SAC with the true reward",
          "lfo_deterministic": "LfO, greedy"}
lfo_keys = [f"lfo_{e}_{k}" for e in P.lfo_env_ids for k in P.lfo_demos]
rec_lfo = {k[4:]: v for k, v in record_curves.items() if k.startswith("lfo_")}
fig, axes = plt.subplots(1, 1 + len(rec_lfo or lfo_keys), figsize=(5.2 * (1 + len(rec_lfo or lfo_keys)), 3.8),
                         squeeze=False)
rec_main = record_curves.get("returns")
plot_over_record(axes[0][0], fresh, None if rec_main is None else Curves(
    rec_main.x, {k: v for k, v in rec_main.series.items() if k != "iq_stochastic"}, rec_main.x_label,
    rec_main.y_label), labels=LABELS)
axes[0][0].axhline(expert_return, color="k", ls=":", lw=1)
axes[0][0].set_title(f"{P.env_id}, {P.n_demos} demos")
for ax, name in zip(axes[0][1:], rec_lfo or [k[4:] for k in lfo_keys]):
    env_name, k = name.rsplit("_", 1)
    fresh_lfo = (Curves(np.asarray(lfo_hist[env_name, int(k)]["step"], float),
                        {"lfo_deterministic": lfo_hist[env_name, int(k)]["eval_deterministic"].mean(-1)},
                        "environment steps", "return (greedy)")
                 if (env_name, int(k)) in lfo_hist else Curves(rec_lfo[name].x, {}, "environment steps",
                                                               "return (greedy)"))
    plot_over_record(ax, fresh_lfo, rec_lfo.get(name), labels=LABELS)
    ax.set_title(f"LfO {env_name}, {k} demo(s)")
fig.tight_layout()
save_figure(fig, out / "returns_with_record.png")
plt.show()
if record is not None:
    rm, rp, prov = record.metrics, record.parameters, record.provenance
    print(f"record: {rp['n_seeds']} seeds × {rp['total_steps']} steps, LfO {rp['lfo_seeds']} seeds × "
          f"{rp['lfo_steps']} steps; commit {prov['git'].get('commit', '?')[:7]}, {prov['wall_time_s'] / 60:.1f} min")
    print(f"  {P.env_id}: IQ-Learn last {rm[f'{P.env_id}_iq_return_mean']:.1f} ± {rm[f'{P.env_id}_iq_return_std']:.1f} "
          f"(best {rm[f'{P.env_id}_iq_best_return_mean']:.1f}), expert {rm[f'{P.env_id}_expert_return']:.1f}, "
          f"SAC with the true reward last {rm.get(f'{P.env_id}_sac_return_last', float('nan')):.1f}; "
          f"Pearson(r_Q, r) {rm[f'{P.env_id}_implicit_reward_pearson']:.2f}")
    for e in rp["lfo_env_ids"]:
        for k in rp["lfo_demos"]:
            pre = f"{e}_lfo_{k}"
            print(f"  LfO {e}, {k} demo(s): last {rm[f'{pre}_return_mean']:.1f} ± {rm[f'{pre}_return_std']:.1f} "
                  f"(best {rm[f'{pre}_best_return_mean']:.1f}); paper Table 8: {rm[f'{pre}_paper_return']}")

# %% [markdown]
# **LfO on LunarLander, recorded.** `sweeps/iq-learn-lfo-lunarlander.yaml` runs the same LfO learner on
# LunarLander-v3 from 1 and 10 demonstrations of its Double-DQN expert (`data/demos`), 3 seeds ×
# 102,400 environment steps (record `results/06_iq_learn_online_continuous/lfo_env_ids=LunarLander-v3/`;
# its Pendulum part is a token 2,000-step run). Beside the returns it keeps, over the last tenth of
# the updates, the dynamics model's loss (squared error of $\hat s'(s,a)$ in units of the
# demonstrations' $\Delta s$ std, summed over the state's dimensions) and the implicit-reward gap
# $\mathbb E_{\rho_E}[r] - \mathbb E_{\rho_\pi}[r]$, for LunarLander and for CartPole (the full record),
# and how the learner's own training episodes end over the last tenth of the steps: their mean
# length and the fraction ended by a terminal (crash or landing) rather than the 1,000-step limit
# ("ended"; records made before these were kept show nan). "terminal" is `lfo_absorbing`, what a
# terminal row bootstraps from: the fixed $V_{\text{abs}}$ ("value", §3), 0 ("mask", the paper's) or a
# learned absorbing value ("learned"; the "V_abs" column is its final value); "agree" is the fraction of
# the demonstrations' states where the greedy action is the expert's own, held out from training
# (chance: 1/4), and "demo model err" the dynamics model's error on the expert's transitions.

# %%
from iqlib.notebook.grid import sweep_records
from iqlib.notebook.lfo_records import action_model_label, metric, terminal_label
from iqlib.notebook.runner import REPO_ROOT

LUNAR_LFO = "LunarLander-v3"
lunar_lfo = {}
for run, found_ in sweep_records(REPO_ROOT / "sweeps" / "iq-learn-lfo-lunarlander.yaml"):
    if found_ is None:
        print(f"{run.name}: no record (python -m iqlib.notebook.sweep sweeps/iq-learn-lfo-lunarlander.yaml)")
        continue
    lrec, lcurves = found_
    for k in lrec.parameters["lfo_demos"]:
        pre, model_, end_ = f"{LUNAR_LFO}_lfo_{k}", action_model_label(lrec.parameters), terminal_label(lrec.parameters)
        lunar_lfo[model_, end_, k] = {f: lrec.metrics[f"{pre}_{f}"] for f in (
            "return_mean", "return_std", "best_return_mean", "stochastic_return_mean", "expert_return",
            "paper_return", "final_aux_loss", "final_reward_gap")}
        for f in ("final_episode_length", "final_terminated_fraction", "final_absorbing_value",  # records from before
                  "demo_action_agreement", "demo_model_error",  # these were kept lack them (nan)
                  "demo_model_action_id", "demo_action_spread"):
            lunar_lfo[model_, end_, k][f] = metric(lrec.metrics, f"{pre}_{f}")
        lunar_lfo[model_, end_, k]["curve"] = lcurves.get(f"lfo_{LUNAR_LFO}_{k}")
if lunar_lfo:
    rows_ = [(LUNAR_LFO, model_, end_, k, a) for (model_, end_, k), a in lunar_lfo.items()]
    if record is not None and "CartPole-v1" in rp["lfo_env_ids"]:
        rows_ += [("CartPole-v1", action_model_label(rp), terminal_label(rp), k,
                   {f: metric(rm, f"CartPole-v1_lfo_{k}_{f}") for f in next(iter(lunar_lfo.values())) if f != "curve"})
                  for k in rp["lfo_demos"]]
    width_ = max(12, *(len(r_[1]) for r_ in rows_))  # the action model's label
    print(f"{'env':>15} {'action model':>{width_}} {'terminal':>8} {'demos':>5} {'last (greedy)':>16} {'best':>7} "
          f"{'sampled':>8} {'expert':>7} {'paper':>6} {'aux loss':>9} {'reward gap':>10} {'ep. length':>10} "
          f"{'ended':>6} {'V_abs':>7} {'agree':>6} {'demo model err':>14} {'spread':>7} {'model id':>8}")
    for env_, model_, end_, k, a in rows_:
        print(f"{env_:>15} {model_:>{width_}} {end_:>8} {k:>5} {a['return_mean']:>8.1f} ± {a['return_std']:>5.1f} "
              f"{a['best_return_mean']:>7.1f} {a['stochastic_return_mean']:>8.1f} {a['expert_return']:>7.1f} "
              f"{a['paper_return']:>6.0f} {a['final_aux_loss']:>9.3f} {a['final_reward_gap']:>10.3f} "
              f"{a['final_episode_length']:>10.0f} {a['final_terminated_fraction']:>6.2f} "
              f"{a['final_absorbing_value']:>7.1f} {a['demo_action_agreement']:>6.2f} {a['demo_model_error']:>14.2f} "
              f"{a['demo_action_spread']:>7.3f} {a['demo_model_action_id']:>8.2f}")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for (model_, end_, k), a in lunar_lfo.items():
            if a["curve"] is not None:
                y = a["curve"].series["lfo_deterministic"]
                mean_with_range(ax, a["curve"].x, y, f"{k} demo(s), {model_}, {end_}, {y.shape[0]} seeds")
        ax.axhline(next(iter(lunar_lfo.values()))["expert_return"], color="k", ls=":", lw=1, label="expert")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("return (greedy)")
        ax.set_title(f"LfO on {LUNAR_LFO} (record)")
        ax.legend(fontsize=8)
        fig.tight_layout()
    save_figure(fig, out / "lfo_lunarlander_record.png")
    plt.show()

# %% [markdown]
# **MuJoCo from one demonstration, recorded.** `sweeps/iq-learn-mujoco-one-demo.yaml` runs this
# notebook's online IQ-Learn (Part 1) on HalfCheetah-v5 and Hopper-v5 from a single demonstration at
# the paper's MuJoCo settings (2×256 networks, batch 256, actor step 3e-5; the initial-state term v0 for
# Hopper and "value" for HalfCheetah, the authors' per-task choice; the first, smaller HalfCheetah record
# used v0); the paper's Table 3 has HalfCheetah 5,077 against its expert's 5,098 and Hopper 3,546. Each record's
# learning curve is drawn below with its seed band (min–max) and the demonstration's return.

# %%
MUJOCO_SWEEP = REPO_ROOT / "sweeps" / "iq-learn-mujoco-one-demo.yaml"
mujoco = {}
for run, found_ in sweep_records(MUJOCO_SWEEP):
    if found_ is None:
        print(f"{run.name}: no record (python -m iqlib.notebook.sweep {MUJOCO_SWEEP.relative_to(REPO_ROOT)} "
              f"--entry {run.sweep})")
        continue
    mrec, mcurves = found_
    e_, mm = mrec.parameters["env_id"], mrec.metrics
    mujoco[run.name] = {"env": e_, "seeds": mrec.parameters["n_seeds"], "steps": mrec.parameters["total_steps"],
                        "init": mrec.parameters["init_term"],
                        "last": mm[f"{e_}_iq_return_mean"], "std": mm[f"{e_}_iq_return_std"],
                        "best": mm[f"{e_}_iq_best_return_mean"], "expert": mm[f"{e_}_expert_return"],
                        "wall_min": mrec.provenance["wall_time_s"] / 60, "curve": mcurves.get("returns")}
if mujoco:
    print(f"{'record':>42} {'init':>5} {'seeds × steps':>14} {'last (det.)':>17} {'best':>8} {'demo':>7} {'last/demo':>9} "
          f"{'wall':>9}")
    for name, a in mujoco.items():
        print(f"{name:>42} {a['init']:>5} {a['seeds']:>4} × {a['steps']:<7} {a['last']:>8.1f} ± {a['std']:>6.1f} {a['best']:>8.1f} "
              f"{a['expert']:>7.0f} {a['last'] / a['expert']:>9.2f} {a['wall_min']:>6.1f} min")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(mujoco), figsize=(5.4 * len(mujoco), 3.6), squeeze=False)
        for ax, (name, a) in zip(axes[0], mujoco.items()):
            if a["curve"] is not None:
                y = a["curve"].series["iq_deterministic"]
                mean_with_range(ax, a["curve"].x, y, f"IQ-Learn, 1 demo, {a['init']} ({y.shape[0]} seeds)")
            ax.axhline(a["expert"], color="k", ls=":", lw=1, label=f"demonstration ({a['expert']:.0f})")
            ax.set_xlabel("environment steps")
            ax.set_ylabel("return (deterministic)")
            ax.set_title(f"{a['env']} (record)")
            ax.legend(fontsize=8)
        fig.tight_layout()
    save_figure(fig, out / "mujoco_one_demo_record.png")
    plt.show()

# %% [markdown]
# **What the numbers say.**
#
# - **Pendulum.** The return climbs from the random policy's level (about −1200 to −1500) to the
#   expert's neighbourhood; the record (printed above) says whether and how closely at 5 seeds, and how
#   it compares with SAC trained **with** the true reward on the same networks. The stochastic policy is
#   worse than the deterministic one early on (the table in §2).
# - **Implicit reward.** The correlation of $r_Q$ with the true reward on the agent's last transitions
#   (§2, and the record's) is positive but weak: $r_Q$ is identified only up to potential shaping
#   (notebook 04), and the one-sample $V$ adds noise, so we report it, not assert it.
# - **LfO on CartPole.** The record learns from the robust expert's demonstrations
#   (`lfo_demos_dir = "data/demos/robust"`, notebook 05). From observations only it reaches the
#   issue's target of 400 with 1 and with 10 demonstrations: 407.7 ± 98.8 and 450.0 ± 70.7 at the last
#   evaluation, 3 seeds. The paper's Table 8 has 452 ± 50 and 485 ± 25. With the default expert's
#   demonstrations the same learner stopped at 248.9 ± 149.2 and 233.0 ± 56.1 (the record at commit
#   `06ad460`). Its curves oscillated between evaluations, and more demonstrations did not help. That
#   expert loses most of its return under 10 % random actions, so its states sit on a narrow path that
#   the learner's own noisy policy cannot hold. Without the absorbing value (the paper's mask) the
#   agent learned to drop the pole with either action model.
# - **LfO on LunarLander: not learned; the learner crashes, and the critic's preference does not reach
#   its actions.** From 1 and 10 demonstrations (3 seeds, 102,400 steps) the greedy return ends at
#   −394.7 ± 50.2 and −438.9 ± 37.4, below a uniform random policy (−178.9); the paper's Table 8 has
#   20 ± 102 and 220 ± 69. What the records rule out, one change at a time (10 demos):
#   - *The terminal rows.* Every LunarLander demonstration ends in a terminal (29 of 30 land), so the
#     fixed $V_{\text{abs}}$ (−100, the value of a state only the policy reaches) prices the expert's
#     landing like a crash. The paper's mask (0) and a learned absorbing value (DAC's absorbing state; it
#     settles at −17) end at −477.0 ± 81.0 and −493.2 ± 126.9, no better. Under all three, the learner's
#     late training episodes all end in a terminal, after 98–126 steps: it crashes, it does not hover.
#   - *The dynamics model alone.* Its loss on the learner's own transitions is 59–88 (CartPole: < 0.01),
#     but without it (`lfo_action_model = "regression"`) the return also ends at −389.6 ± 115.0.
#   What the records show instead: the critic does rank the expert's transitions above the learner's
#   own (implicit-reward gap $\mathbb E_{\rho_E}[r] - \mathbb E_{\rho_\pi}[r]$ of 2.0–2.9), yet on the
#   expert's own states the greedy action is the expert's (held out from training) only 36 % of the
#   time, against 25 % by chance. So the preference is lost between $Q(s, s')$ and the action values
#   $\bar Q(s, a)$. Not in the model's reading of actions: on the expert's transitions the real $s'$
#   lies nearest the model's $\hat s'(s, a_E)$ for 84 % of them (chance 25 %), so the model alone
#   names the expert's action far more often than the greedy action does. The loss is in the critic at
#   the predicted next states: they lie 6.7 (squared, in $\Delta s$-std units summed over the state)
#   from the real ones, farther than the actions' predictions lie from their mean (2.4), so
#   $Q(s, \hat s'(s, \cdot))$ is read where the critic never saw a real transition, and its ranking
#   there is not the one it gives the expert's real next states. The record with
#   `lfo_critic_on_model = True` (the critic reads every row at the model's prediction, the
#   demonstrations' at the one nearest their real $s'$) tests this: the greedy agreement rises from
#   0.36 to 0.67 and the return from −438.9 to −328.7 ± 64.8, still below random, every late episode
#   still a crash (after 169 steps). (Each rerun at the
#   fixed $V_{\text{abs}}$ gave the first record's numbers exactly.)
# - **Hopper from one demonstration, 3 seeds × 10⁵ steps (the sweep's full size, 71.3 min): two seeds at
#   the expert, one fallen away.** The demonstration returns 3,248 (the paper's Table 3: 3,546). The
#   deterministic return ends at 2,245 ± 1,344: seeds 0 and 1 end at 3,235 and 3,154 (100 % and 97 %),
#   seed 2 at 345 after reaching 2,804 at 40k steps and 2,648 at 85k. The best evaluation averages
#   3,086 (95 %). Single seeds swing by up to 2,800 between evaluations 5k steps apart (seed 0: 3,176
#   at 55k, 376 at 60k): a Hopper policy that falls once ends its episode early. The 90 % claim on the
#   seed mean is a stated miss for that reason; the two seeds that end at the expert reproduce the
#   paper's one-demonstration result on their own.
# - **HalfCheetah from one demonstration: far from the expert at the budget this CPU allows.**
#   From 1 demonstration (return 5,407), 2 seeds × 5·10⁴ steps with Hopper's initial term v0 (21.6 min):
#   the deterministic return ends at 303 ± 522 (best evaluation 759); one seed climbs to about 800 by
#   25k steps, the other stays near zero. The authors run HalfCheetah with the initial term "value"
#   instead; one change, and a third seed (3 × 5·10⁴, 39.7 min): 427 ± 122 (seeds 433, 275, 573; the
#   stochastic policy 445 ± 260), 8 % of the demonstration. Steadier, not faster: the seed mean climbs,
#   unevenly, from 11 at 15k steps to 427 at 50k (about 60 per 5k steps) and is still rising at the end
#   (343 → 427 over the last 5k). So the initial term is not why HalfCheetah stays far from the expert here; the sweep's full
#   size (3 × 10⁵, about 80 min for 3 seeds here) remains, a GPU session's work. The budget's yardstick (entry
#   `iq-learn-halfcheetah-sac-reference`, one seed, 3·10⁴ steps, 13.5 min): SAC **with the true reward**
#   on the same networks (the step sizes and learned entropy temperature our experts were trained with)
#   ends at −43 (best −32), beside IQ-Learn's −4 (deterministic) and 545 (stochastic): at this budget
#   not even RL from the reward moves HalfCheetah, whose SAC expert needed 1.5·10⁵ steps for its 5,442.
#
# ## 5. Claims
#
# On the record: online IQ-Learn reaches the expert's return on Pendulum without ever seeing the
# reward (normalised last return ≥ 0.9, the headline) and ends within 50 of SAC trained on the true
# reward. LfO on CartPole, from the robust expert's demonstrations, reaches 400 with 1 and with 10
# demonstrations, and 90 % of the paper's Table 8 with 1. LfO on LunarLander (stated misses of the
# paper's Table 8) ends below random under every terminal treatment, the learner crashing, and its
# greedy actions match the expert's held-out actions on fewer than half of the expert's states. On
# each MuJoCo one-demo record: 90 % of the demonstration's return on the seed mean (a stated miss below
# the paper's scale of 3 seeds × 10⁵ steps, with the budget and the curve's last rise; at that scale
# asserted, or a stated miss when the seeds split, some at the expert and others fallen from their best,
# as Hopper's do). On this run (at least
# the defaults' budget): IQ-Learn climbs to ≥ 0.7 of the random-to-expert range within 10,000 steps,
# and its mean curve stays within the record's seed band (widened by 150) at the steps both ran.

# %%
from iqlib.data.files import load_provenance
from iqlib.notebook.claims import Claims

claims = Claims()
if record is not None:
    norm = rm[f"{P.env_id}_iq_normalized_last"]
    claims.add("pendulum_reaches_expert", f"Online IQ-Learn reaches the expert's return on {P.env_id} without the "
               "reward (normalised last return)", norm, ">= 0.9", norm >= 0.9, on="record", headline=True)
    if f"{P.env_id}_sac_return_last" in rm:
        gap = rm[f"{P.env_id}_iq_return_mean"] - rm[f"{P.env_id}_sac_return_last"]
        claims.add("within_50_of_sac", "IQ-Learn's last return is within 50 of SAC trained on the true reward",
                   gap, ">= -50", gap >= -50.0, on="record")
    # robust = the expert behind the record's CartPole demonstrations keeps >= 95 % of its greedy return at 5 %
    # random actions (its provenance's noise_robustness; the default expert has no such record)
    _demo_prov = load_provenance(REPO_ROOT / rp.get("lfo_demos_dir", "data/demos") / "CartPole-v1.npz")
    _noise = load_provenance(REPO_ROOT / _demo_prov.get("expert_file", "data/experts/CartPole-v1.npz")).get(
        "noise_robustness", {})
    robust_lfo = _noise.get("0.05", 0.0) >= 0.95 * _noise.get("0", np.inf)
    why_not = ("" if robust_lfo else "the default expert's demonstrations (a brittle expert, notebook 05): the greedy "
               "return oscillates and its mean plateaus near half the expert's")
    if "CartPole-v1" in rp["lfo_env_ids"]:
        for k in (1, 10):
            if k not in rp["lfo_demos"]:
                continue
            lfo_k = rm[f"CartPole-v1_lfo_{k}_return_mean"]
            claims.add(f"lfo_cartpole_{k}_demo_400", f"LfO on CartPole from {k} demonstration(s) reaches a greedy "
                       f"return of 400 ({rp['lfo_seeds']} seeds, last evaluation)", lfo_k, ">= 400", lfo_k >= 400.0,
                       expected=robust_lfo, on="record", reason=why_not)
        if 1 in rp["lfo_demos"]:
            lfo1, paper1 = rm["CartPole-v1_lfo_1_return_mean"], rm["CartPole-v1_lfo_1_paper_return"]
            claims.add("lfo_cartpole_paper", "LfO on CartPole from 1 demonstration reaches 90 % of the paper's "
                       f"Table 8 ({paper1})", lfo1, f">= {0.9 * paper1:.1f}", lfo1 >= 0.9 * paper1,
                       expected=robust_lfo, on="record", reason=why_not)
# the measured account of LunarLander (10 demonstrations, dynamics model): the three terminal treatments
ends_ = {end_: a for (model_, end_, k), a in lunar_lfo.items() if model_ == "dynamics" and k == 10}
lunar_random = load_provenance(REPO_ROOT / "data" / "offline" / "lunarlander-mixed.npz")["ref_random_return"]
if {"value", "mask", "learned"} <= set(ends_):
    worst_end = min(a["final_terminated_fraction"] for a in ends_.values())
    best_ret = max(a["return_mean"] for a in ends_.values())
    claims.add("lfo_lunarlander_terminal_not_the_cause", f"On {LUNAR_LFO} (10 demos) every terminal treatment (fixed "
               "V_abs, the paper's mask, a learned absorbing value) ends below the uniform random policy "
               f"({lunar_random:.1f}), its late training episodes all ending in a terminal (smallest fraction "
               f"{worst_end:.2f})", best_ret, f"< {lunar_random:.1f}", best_ret < lunar_random and worst_end >= 0.95,
               on="record")
agree_ = ends_.get("value", {}).get("demo_action_agreement", np.nan)
if np.isfinite(agree_):
    claims.add("lfo_lunarlander_actions_miss_the_expert", f"On {LUNAR_LFO} (10 demos, fixed V_abs) the greedy action "
               "is the expert's own (held out from training) on fewer than half of the expert's states (chance: 0.25)",
               agree_, "< 0.5", agree_ < 0.5, on="record")
ident_ = ends_.get("value", {}).get("demo_model_action_id", np.nan)
if np.isfinite(ident_) and np.isfinite(agree_):
    err_, spread_ = ends_["value"]["demo_model_error"], ends_["value"]["demo_action_spread"]
    claims.add("lfo_lunarlander_model_knows_the_action", f"On {LUNAR_LFO} (10 demos, fixed V_abs) the dynamics model "
               "alone names the expert's action (the real s' nearest ŝ'(s, a_E)) on at least half of the expert's "
               f"transitions, while the greedy action agrees on {agree_:.2f}: the preference is lost in the critic at "
               f"the predicted next states, which lie farther from the real ones (error {err_:.1f}) than from each other "
               f"(spread over actions {spread_:.1f}, both in Δs-std units)", ident_, ">= 0.5",
               ident_ >= 0.5 and agree_ < 0.5 and err_ > spread_, on="record")
for (model_, end_, k), a in lunar_lfo.items():
    if not np.isfinite(a["paper_return"]) or model_ != "dynamics" or end_ != "value":
        continue
    target_ = 0.9 * a["paper_return"]
    claims.add(f"lfo_lunarlander_{k}_demo_paper", f"LfO on {LUNAR_LFO} from {k} demonstration(s) reaches 90 % of the "
               f"paper's Table 8 ({a['paper_return']:.0f})", a["return_mean"], f">= {target_:.0f}",
               a["return_mean"] >= target_, expected=False, on="record",
               reason="the learner crashes: with each terminal treatment its late episodes all end in a terminal "
               "within about 100–130 steps; the critic ranks the expert's transitions above its own (reward gap > 0), "
               f"but the greedy action is the expert's on only {agree_:.0%} of the expert's states at 10 demonstrations "
               "(chance 25 %), while the dynamics model alone names it on "
               f"{ends_.get('value', {}).get('demo_model_action_id', np.nan):.0%}: the preference is lost in the "
               "critic Q(s, ŝ') at the model's predicted next states, off the real transitions it was trained on "
               "(and the regression model loses it too)")
def rise_(curve) -> str:
    """How much the seed-mean deterministic return moved over the last fifth of a recorded curve."""
    if curve is None:
        return ""
    y, x = curve.series["iq_deterministic"].mean(0), np.asarray(curve.x)
    i = int(np.searchsorted(x, 0.8 * x[-1]))
    return f"; the seed-mean return moved {y[-1] - y[i]:+.0f} over the last fifth of the steps ({x[i]:.0f} → {x[-1]:.0f})"


def split_(a) -> str:
    """Why a paper-scale record misses while some of its seeds end at the demonstration: the seeds' last
    returns, and each missing seed's fall from its best evaluation ("" when no seed reaches 90 %)."""
    y = a["curve"].series["iq_deterministic"] if a["curve"] is not None else np.zeros((0, 1))
    ok = y[:, -1] >= 0.9 * a["expert"]
    if not ok.any():
        return ""
    falls = "; ".join(f"seed {i}: best {y[i].max():.0f} ({y[i].max() / a['expert']:.0%}) at "
                      f"{a['curve'].x[int(y[i].argmax())]:.0f} steps, last {y[i, -1]:.0f}" for i in np.flatnonzero(~ok))
    return (f"the seeds split: {ok.sum()} of {len(ok)} end at ≥ 90 % of the demonstration (last "
            f"{', '.join(f'{v:.0f}' for v in y[:, -1])}), the rest fall from their best evaluation ({falls}); "
            f"single seeds swing by up to {np.max(np.abs(np.diff(y, axis=1))):.0f} between evaluations "
            f"{np.diff(a['curve'].x)[0]:.0f} steps apart")


for name, a in mujoco.items():  # the paper's Table 3: within ~1 % of its expert from one demonstration
    paper_scale = a["seeds"] >= 3 and a["steps"] >= 100_000
    frac_ = a["last"] / a["expert"]
    # a paper-scale record is asserted, unless its seeds split (some at the expert, others fallen away):
    # then it is a stated miss with the seeds' numbers as its reason
    split = split_(a) if paper_scale and frac_ < 0.9 else ""
    claims.add(f"{a['env'].split('-')[0].lower()}_one_demo_90pct_{a['init']}_{a['steps']}",
               f"Online IQ-Learn on {a['env']} from 1 demonstration reaches 90 % of the demonstration's return "
               f"({a['seeds']} seeds × {a['steps']} steps, initial term {a['init']}, last evaluation; {name})",
               frac_, ">= 0.9", frac_ >= 0.9, expected=paper_scale and not split, on="record",
               reason=split if paper_scale else (f"budget: {a['seeds']} seeds × {a['steps']} steps, "
                                                 f"{a['seeds'] * a['steps'] / 3e5:.0%} of the sweep's 3 × 100k, what "
                                                 "one session of the 2-core CPU allowed" + rise_(a["curve"])))
full_size = P.total_steps >= 10_000 and P.n_seeds >= 2 and P.n_demos >= 10
fresh_norm = metrics[f"{key}_iq_normalized_last"]
claims.add("fresh_climbs", f"IQ-Learn's deterministic return on {P.env_id} reaches >= 0.7 of the random-to-expert "
           "range in this run", fresh_norm, ">= 0.7", fresh_norm >= 0.7, expected=full_size,
           reason="" if full_size else "budget below the defaults", headline=record is None)
same = record is not None and all(rp.get(k) == P[k] for k in ("seed", "n_demos", "hidden", "batch_size", "train_freq",
                                                               "learning_starts", "critic_lr", "actor_lr"))
if same and rec_main is not None:
    agree = compare_at_common_x(fresh, rec_main, "iq_deterministic", tolerance=150.0)
    claims.add("fresh_inside_record_band", "This run's mean IQ-Learn curve lies inside the record's seed band "
               f"(± 150) at the steps both ran ({', '.join(str(int(x)) for x in agree.x)})",
               float(np.max(np.abs(agree.fresh - agree.record_mean))), "inside [min − 150, max + 150]",
               agree.inside_band, expected=full_size, reason="" if full_size else "budget below the defaults")
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())

# %%
metrics["runtime_s"] = time.perf_counter() - T_START
save_metrics(out, {**P.as_metrics(), **metrics})
print(f"total {metrics['runtime_s']:.1f} s")
