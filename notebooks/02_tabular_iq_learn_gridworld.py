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
# # 02 · Tabular IQ-Learn on a GridWorld: true vs recovered reward
#
# IQ-Learn (Garg, Chakraborty, Cundy, Song, Ermon, NeurIPS 2021) learns a single soft
# Q-function from demonstrations and reads *both* the policy and the reward off it. Its poster
# (Fig. 4) shows this on a GridWorld: heatmaps of the true reward next to the reward that
# IQ-Learn recovers from a handful of expert demonstrations. This notebook redoes that
# experiment in the tabular case, with the transitions known, and measures how close the
# recovered policy, reward and value are to the truth, and where they differ and why.
#
# Setting (`iqlib.problems.gridworld`): an $n\times n$ grid, 5 actions (up, down, left, right, stay),
# walls at the border, a *slip* probability that the intended action is replaced by a
# uniformly drawn one, a state-only reward $R(s)$ (step cost, a costly hill in the centre, a
# $+1$ goal in the bottom-right corner), uniform random starts, discount $\gamma$ and entropy
# temperature $\alpha$.

# %% tags=["parameters"]
output_dir = "outputs/02_tabular_iq_learn_gridworld"
grid_size = 8
n_demos = 30
horizon = 30
slip = 0.1
discount = 0.9
entropy_temperature = 0.1
chi2_weight = 0.5
chi2_sweep = [0.0, 0.03, 0.1, 0.5, 2.0, 10.0]
demo_counts = [3, 10, 30, 100, 300]
init_term = "p0"
chi2_rows = "all"
divergence_max_iter = 1000
seed = 0

# %% [markdown]
# **Parameters.** `entropy_temperature = 0.1` ($\alpha$) makes the soft-optimal expert near-deterministic but still
# stochastic on this reward scale (rewards in $[-1, 1]$): its most likely action has on average
# probability ≈ 0.8 (printed below), so demonstrations are informative about the best action
# while the expert still takes every action sometimes, as the max-entropy model assumes.
# `chi2_weight` is the $\chi^2$ penalty $\lambda$ of the main fit: $\lambda = 0.5$ is the paper's
# $\alpha_{\chi^2} = 0.5$ (since $\lambda = 1/(4\alpha_{\chi^2})$), not tuned on this seed; the sweep in §6
# shows the trade-off. `init_term` and `chi2_rows` choose the form of the objective (§2): the
# defaults (`"p0"`, `"all"`) are the occupancy-matching form that recovers a reward; `"value"`,
# `"expert"` is the paper's offline form, fitted alongside for comparison. `demo_counts` is only
# used in §7, `divergence_max_iter` only in §5.
#
# **float64.** The expert is solved with Newton's method to a relative tolerance of $10^{-10}$
# and IQ-Learn's L-BFGS stops at a gradient norm of $10^{-6}$. Neither is reachable in float32
# (the expert solve stops unconverged and L-BFGS stalls at its iteration cap), so this
# notebook enables 64-bit floats.

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import Choice, Float, Int, ListOf, OutputDir, check_parameters, require, require_distinct

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "grid_size": Int(2, 20),
    "n_demos": Int(1, 10_000),
    "horizon": Int(1, 10_000),
    "slip": Float(0.0, 1.0, hi_open=True),
    "discount": Float(0.0, 1.0, hi_open=True),
    "entropy_temperature": Float(0.0, 100.0, lo_open=True),
    "chi2_weight": Float(0.0, 1e6),
    "chi2_sweep": ListOf(Float(0.0, 1e6), min_len=1),
    "demo_counts": ListOf(Int(1, 10_000), min_len=1),
    "init_term": Choice(("p0", "value")),
    "chi2_rows": Choice(("all", "expert")),
    "divergence_max_iter": Int(10, 100_000),
    "seed": Int(0),
})
DIVERGENCE_CHUNK = 25  # L-BFGS iterations per restart in §5
require_distinct("chi2_sweep", P.chi2_sweep, "the sweep of §6 is keyed by λ")
require_distinct("demo_counts", P.demo_counts, "the curve of §7 and the metrics are keyed by k")
require(P.divergence_max_iter % DIVERGENCE_CHUNK == 0,
        f"parameter 'divergence_max_iter': expected a multiple of {DIVERGENCE_CHUNK} (§5 runs L-BFGS in chunks "
        f"of {DIVERGENCE_CHUNK} iterations), got {P.divergence_max_iter}")

import time

import jax

jax.config.update("jax_enable_x64", True)  # tight solves: see the markdown above

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

T_START = time.perf_counter()
P

# %%
from iqlib.problems.gridworld import ACTIONS, make_gridworld, to_grid
from iqlib.data.files import save_figure, save_metrics
from iqlib.tabular.bc import bc_tabular
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.mle import fit_structural_mle
from iqlib.tabular.projection import state_only_reward
from iqlib.notebook.plotting import STYLE, grid_heatmaps, line_plot, policy_arrows
from iqlib.tabular.sampling import episodes_from_transitions, sample_trajectories, state_action_counts
from iqlib.tabular.soft_bellman import expected_return, inverse_soft_bellman, occupancy, solve_soft_bellman
from iqlib.notebook.source import show_source
from iqlib.tabular.metrics import policy_tv, reward_correlation, state_reward

out = P.output_dir
key = jax.random.key(P.seed)
key, demo_key, curve_key = jax.random.split(key, 3)

# %% [markdown]
# ## 1. The GridWorld, its soft-optimal expert, and 30 demonstrations
#
# The expert is soft-optimal: $Q^*$ is the fixed point of the soft Bellman operator
# $$Q(s,a) = r(s,a) + \gamma \sum_{s'} P(s'|s,a)\, V(s'), \qquad V(s) = \alpha \log \sum_a e^{Q(s,a)/\alpha},$$
# and it acts with $\pi_E(a|s) = \exp\big((Q^*(s,a) - V^*(s))/\alpha\big)$. A demonstration is one episode
# of `horizon` steps from a uniformly random start; $\hat\rho_E(s,a)$ is the normalised count of
# $(s,a)$ pairs over all demonstrations.

# %%
mdp = make_gridworld(P.grid_size, slip=P.slip, discount=P.discount, entropy_temperature=P.entropy_temperature,
                     start="uniform")
S, A = mdp.n_states, mdp.n_actions
R_true = np.asarray(mdp.r[:, 0])  # state-only reward R(s)
expert = solve_soft_bellman(mdp.r, mdp.P, mdp.discount, mdp.entropy_temperature)
assert bool(expert.converged), "expert solve did not converge"
pi_E = np.asarray(expert.policy)
d_E = np.asarray(occupancy(expert.policy, mdp.P, mdp.p0, mdp.discount)).sum(1)  # (S,) expert state occupancy

demos = sample_trajectories(demo_key, mdp.P, mdp.p0, expert.policy, P.n_demos, P.horizon, r=mdp.r)
counts = state_action_counts(demos["obs"], demos["action"], S, A)  # (S, A)
counts_np = np.asarray(counts)
visited = counts_np.sum(1) > 0
print(f"S = {S} states, A = {A} actions {ACTIONS}")
print(f"expert: Newton converged in {int(expert.n_iter)} steps; mean max_a π_E(a|s) = {pi_E.max(1).mean():.3f} "
      f"(min {pi_E.max(1).min():.3f})")
print(f"{P.n_demos} demos × {P.horizon} steps = {int(counts_np.sum())} (s, a) pairs; "
      f"{visited.sum()} / {S} states visited; {(counts_np > 0).sum()} / {S * A} (s, a) pairs seen")
print(f"visited states where only one action was seen: {int(((counts_np > 0).sum(1) == 1).sum())}")

# %% [markdown]
# ## 2. Fit tabular IQ-Learn
#
# IQ-Learn maximises over a free table $Q$ (Eq. 9–10 of the paper)
# $$J(Q) = \mathbb{E}_{\hat\rho_E}\big[\phi(r_Q(s,a))\big] - (1-\gamma)\,\mathbb{E}_{p_0}[V_Q(s_0)], \qquad r_Q = Q - \gamma P V_Q,$$
# with $\phi(x) = x - \lambda x^2$ for the $\chi^2$ divergence. Only demonstrations are assumed
# known, so the initial-state term is estimated by telescoping over the demonstrations
# (`init_term="value"`): $(1-\gamma)\mathbb{E}_{p_0}[V] \approx \mathbb{E}_{\hat\rho_E}[V(s) - \gamma (PV)(s,a)]$.
# Then $J(Q) = \alpha\,\mathbb{E}_{\hat\rho_E}[\log \pi_Q(a|s)] - \lambda\,\mathbb{E}_{\hat\rho_E}[r_Q^2]$: the
# log-likelihood of behavioural cloning (BC) plus a penalty that keeps the implied reward small
# on the demonstrated pairs. This is the paper's offline form; on a free table it fixes the policy
# (≈ BC) and then picks the *flattest* reward consistent with it — a poor reward estimate.
#
# **The occupancy-matching form.** Here $p_0$ is known (uniform random starts), so we can keep the
# exact initial-state term, and take the χ² penalty over all rows, $\tfrac12\hat\rho_E + \tfrac12 U$
# (`chi2_rows="all"`, $U$ uniform over $S\times A$). Since $Q \leftrightarrow r_Q$ is a bijection (inverse soft
# Bellman), $J$ can be read as a function of the reward:
# $$J(r) = \mathbb{E}_{\hat\rho_E}[r] - (1-\gamma)\,\mathbb{E}_{p_0}[V^*_r] - \lambda\,\mathbb{E}_{\frac12\hat\rho_E + \frac12 U}[r^2],$$
# and $\partial J/\partial r = \hat\rho_E - \rho_{\pi_r} - 2\lambda w\, r$ (the gradient of $(1-\gamma)\mathbb{E}_{p_0}[V^*_r]$
# is the occupancy $\rho_{\pi_r}$ of the soft-optimal policy). So this is max-entropy IRL's occupancy
# matching with a χ² (ridge) regulariser: strongly concave in $r$, a unique maximiser, and at the
# optimum $r = (\hat\rho_E - \rho_{\pi_r})/(2\lambda w)$ — reward where the expert goes more than the
# learnt policy would. It is our main fit; the paper's offline form and the exact term with
# expert-only penalty are fitted alongside.
#
# The heatmaps of §3 read the reward off the fitted $Q$ with the library's inverse soft-Bellman
# operator $r_Q = Q - \gamma P V_Q$, $V_Q = \alpha\log\sum_a e^{Q/\alpha}$ (paper Eq. 4; the objective
# itself is shown and checked in notebook 01):

# %%
show_source(inverse_soft_bellman);

# %% [markdown]
# **Checked on this GridWorld:** the soft-optimal $Q^*$ of the true reward gives back the true
# reward, and adding a constant $c$ to $Q$ changes $r_Q$ by $c(1-\gamma)$ (on every row, since each
# row of $P$ sums to 1) — the first sign of the shaping ambiguity §4 measures.

# %%
q_true = expert.Q  # the soft-optimal Q* of §1
r_back = inverse_soft_bellman(q_true, mdp.P, mdp.discount, mdp.entropy_temperature)
round_trip = float(jnp.max(jnp.abs(r_back - mdp.r)))
shift = inverse_soft_bellman(q_true + 1.0, mdp.P, mdp.discount, mdp.entropy_temperature) - r_back
assert round_trip < 1e-8, round_trip
assert float(jnp.max(jnp.abs(shift - (1.0 - mdp.discount)))) < 1e-10
print(f"max |r(Q*) − r| = {round_trip:.1e}; a +1 shift of Q shifts r_Q by {float(shift.mean()):.4f} = 1 − γ")

# %%
def fit(cnt, lam=P.chi2_weight, init_term=P.init_term, divergence="chi2", max_iter=3000, init=None,
        chi2_rows=P.chi2_rows):
    """IQ-Learn on counts `cnt` (S, A) in this GridWorld."""
    cfg = IQLearnConfig(divergence=divergence, chi2_weight=float(lam), init_term=init_term, max_iter=max_iter,
                        chi2_rows=chi2_rows)
    return fit_iq_learn(cnt, mdp.P, mdp.discount, mdp.entropy_temperature, cfg, p0=mdp.p0, init=init)


def report(name, res):
    print(f"{name:>28}: converged={bool(res.converged)}, iterations={int(res.n_iter)}, "
          f"|grad|={float(res.grad_norm):.2e}, J={float(res.objective):.4g}, max|Q|={float(jnp.abs(res.Q).max()):.3g}")


iq = fit(counts)
iq_value = fit(counts, init_term="value", chi2_rows="expert")
iq_p0 = fit(counts, init_term="p0", chi2_rows="expert")
report(f"main: '{P.init_term}', χ² on {P.chi2_rows}", iq)
report("paper offline: 'value', expert", iq_value)
report("'p0', χ² on expert rows", iq_p0)

# %% [markdown]
# The main fit and the paper's offline form converge. The exact `p0` term with the penalty on
# expert rows only does not: the
# objective is unbounded above. The exact term $-(1-\gamma)\sum_s p_0(s) V_Q(s)$ puts weight on
# every start state, but a state that is neither demonstrated nor a possible successor of a
# demonstrated pair appears *only* in that term, so sending its $V_Q(s) \to -\infty$ raises $J$
# without limit. In other words, the empirical $\hat\rho_E$ (30 finite-horizon episodes, counted
# without discounting) is not the discounted occupancy of any policy from $p_0$: it violates the
# flow constraint $\rho(s) = (1-\gamma)p_0(s) + \gamma\sum_{s',a'} P(s|s',a')\rho(s',a')$ that makes the two
# estimators agree. The penalty on all rows closes that hole (every $r_Q$ is penalised).

# %%
support = (counts_np.sum(1) > 0) | (np.einsum("sa,sat->t", counts_np, np.asarray(mdp.P)) > 0)
print(f"states outside the support of ρ̂_E and of its successors (only in the p0 term): {int((~support).sum())}")

# %% [markdown]
# ## 3. Heatmaps: true vs recovered
#
# IQ-Learn's reward is $\hat r(s,a) = \hat Q(s,a) - \gamma (P\hat V)(s,a)$ (inverse soft Bellman). The
# true reward depends on the state only, so we reduce $\hat r$ to a state reward by the recovered
# policy's average $\hat R(s) = \sum_a \hat\pi(a|s)\,\hat r(s,a)$: the reward the learnt policy expects to
# collect in $s$. It is defined at every state and gives almost no weight to actions the fit has
# pushed to probability ≈ 0, whose $\hat r$ is not constrained by any data. The "stay" column
# $\hat r(s, \text{stay})$ is shown too: a potential shaping $c(s) - \gamma\mathbb{E}[c(s')|s,a]$ nearly cancels
# for "stay" (≈ $(1-\gamma)c(s)$), but stay is almost never demonstrated away from the goal, so
# that column is mostly unconstrained. Two caveats frame every comparison below: a reward is
# identified only up to potential shaping (Ng et al. 1999), and only on states with data, so
# the state visitation counts are shown as well. Cells without demonstrations are left blank in
# the recovered maps: there the table is constrained only through its predecessors' rewards, if
# at all (the arrows drawn there are whatever the unconstrained row's argmax happens to be).

# %%
R_hat = state_reward(iq.reward, policy=iq.policy)
R_stay = state_reward(iq.reward, action=ACTIONS.index("stay"))
fig_reward = grid_heatmaps({
    "true reward R(s)": to_grid(R_true),
    "recovered Σ_a π̂ r̂(s,a) (blank: no demos)": to_grid(np.where(visited, R_hat, np.nan)),
    "recovered r̂(s, stay) (blank: no demos)": to_grid(np.where(visited, R_stay, np.nan)),
    "log10(1 + demo visits)": to_grid(np.log10(1.0 + counts_np.sum(1))),
}, title=f"IQ-Learn (χ², λ={P.chi2_weight}) from {P.n_demos} demos")
save_figure(fig_reward, out / "reward_heatmaps.png")

tv_state = 0.5 * np.abs(pi_E - np.asarray(iq.policy)).sum(1)
fig_value = grid_heatmaps({
    "true V*(s), expert arrows": to_grid(np.asarray(expert.V)),
    "IQ-Learn V̂(s), its arrows (blank: no demos)": to_grid(np.where(visited, np.asarray(iq.V), np.nan)),
    "TV(π_E, π̂) per state": to_grid(tv_state),
}, title="soft values and greedy actions (dot = stay)")
policy_arrows(fig_value.axes[0], pi_E, P.grid_size)
policy_arrows(fig_value.axes[1], np.asarray(iq.policy), P.grid_size)
save_figure(fig_value, out / "value_policy_heatmaps.png")
plt.show()

# %% [markdown]
# ## 4. Metrics
#
# * **policy TV** $= \frac1{|S|}\sum_s \tfrac12\sum_a|\pi_E(a|s) - \hat\pi(a|s)|$ over all states (the headline);
#   also over visited states, and weighted by the expert's state occupancy $d_E$ (what matters for return).
# * **returns** are exact expected discounted returns from $p_0$ under the *true* reward with
#   $\alpha = 0$ (no entropy bonus), computed by policy evaluation with the known transitions
#   (`expected_return`), not by sampling.
# * **reward correlation**: Pearson and Spearman between $\hat R$ and $R$. The headline is over the
#   *visited* states (the reward is not identified elsewhere); over all states is also reported.
# * BC is the count-based policy $\pi(a|s) = n(s,a)/n(s)$, uniform on unvisited states.

# %%
def evaluate(pi, reward=None):
    """Policy TV (all / visited / d_E-weighted), return, and reward correlations of a fit."""
    m = {
        "policy_tv": policy_tv(pi_E, pi),
        "policy_tv_visited": policy_tv(pi_E, pi, mask=visited),
        "policy_tv_expert_weighted": policy_tv(pi_E, pi, weights=d_E),
        "return": float(expected_return(jnp.asarray(pi), mdp.r, mdp.P, mdp.p0, mdp.discount, 0.0)),
    }
    if reward is not None:
        R_fit = state_reward(reward, policy=pi)
        all_, vis = reward_correlation(R_fit, R_true), reward_correlation(R_fit, R_true, mask=visited)
        m.update(reward_pearson=all_["pearson"], reward_spearman=all_["spearman"],
                 reward_pearson_visited=vis["pearson"], reward_spearman_visited=vis["spearman"])
    return m


pi_bc = np.asarray(bc_tabular(counts))
ev_iq, ev_value, ev_p0, ev_bc = (evaluate(np.asarray(iq.policy), iq.reward), evaluate(np.asarray(iq_value.policy), iq_value.reward),
                                 evaluate(np.asarray(iq_p0.policy), iq_p0.reward), evaluate(pi_bc))
expert_return = float(expected_return(expert.policy, mdp.r, mdp.P, mdp.p0, mdp.discount, 0.0))
uniform_return = float(expected_return(jnp.full((S, A), 1.0 / A), mdp.r, mdp.P, mdp.p0, mdp.discount, 0.0))
stay_corr = reward_correlation(R_stay, R_true, mask=visited)
V_corr = reward_correlation(np.asarray(iq.V), np.asarray(expert.V), mask=visited)

print(f"{'':>30}{'TV all':>8}{'TV vis':>8}{'TV d_E':>8}{'return':>9}{'r corr vis':>11}{'r corr all':>11}")
for name, ev in [("IQ-Learn main (occupancy)", ev_iq), ("IQ-Learn paper offline", ev_value),
                 ("IQ-Learn 'p0', expert rows", ev_p0), ("BC", ev_bc)]:
    print(f"{name:>30}{ev['policy_tv']:8.3f}{ev['policy_tv_visited']:8.3f}{ev['policy_tv_expert_weighted']:8.3f}"
          f"{ev['return']:9.3f}{ev.get('reward_pearson_visited', np.nan):11.3f}{ev.get('reward_pearson', np.nan):11.3f}")
print(f"expert return {expert_return:.3f}, uniform-policy return {uniform_return:.3f}")
print(f"IQ-Learn r̂(s, stay) vs R on visited states: Pearson {stay_corr['pearson']:.3f}; "
      f"V̂ vs V* on visited states: Pearson {V_corr['pearson']:.3f}")

# %% [markdown]
# ## 5. The simple (TV) objective, and the `p0` term, on a free table
#
# With $\phi(x) = x$ ("simple", the total-variation divergence) and the telescoped init term,
# $J(Q) = \mathbb{E}_{\hat\rho_E}[Q - V_Q] = \alpha\,\mathbb{E}_{\hat\rho_E}[\log\pi_Q(a|s)]$: exactly BC's
# log-likelihood. Its supremum is *not attained* whenever a visited state shows only one action:
# $\log\pi_Q(a|s) \to 0$ needs $Q(s,a) - Q(s,b) \to \infty$. The climb is only logarithmic, so L-BFGS
# stops at its gradient tolerance with a large but finite $|Q|$. With the exact `p0` term the
# objective is unbounded (§2) and $|Q|$ runs off linearly, for χ² (penalty on expert rows, as in
# the paper) as well as for the simple objective. We run L-BFGS in chunks of 25 iterations (restarting its memory each chunk, one
# compilation per setting) and record $\max|Q|$ and $J$ after each chunk. (The restarted χ²/`value`
# run ends with a much smaller $\max|Q|$ than the single run of §2 at the same $J$: the objective is
# flat along the $Q$ of never-demonstrated actions, so *which* table the solver returns depends
# on the path it took.)

# %%
chunk = DIVERGENCE_CHUNK
n_chunks = max(1, P.divergence_max_iter // chunk)
trace = {}
for divergence in ("simple", "chi2"):
    for init_term in ("value", "p0"):
        Q = jnp.zeros((S, A))
        maxq, obj, its = [], [], []
        for i in range(n_chunks):
            res = fit(counts, init_term=init_term, divergence=divergence, max_iter=chunk, init=Q, chi2_rows="expert")
            Q = res.params
            its.append((its[-1] if its else 0) + int(res.n_iter))
            maxq.append(float(jnp.abs(Q).max()))
            obj.append(float(res.objective))
            if bool(res.converged):
                break
        trace[f"{divergence}, init '{init_term}'"] = (np.array(its), np.array(maxq), np.array(obj), bool(res.converged))

with plt.rc_context(STYLE):
    fig_div, (ax_q, ax_j) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, (its, maxq, obj, conv) in trace.items():
        ax_q.plot(its, maxq, marker="o", markersize=2, label=name)
        ax_j.plot(its, obj, marker="o", markersize=2, label=name)
    ax_q.set(xscale="log", yscale="log", xlabel="L-BFGS iterations", ylabel="max |Q| (reward units)")
    ax_j.set_yscale("symlog", linthresh=0.1)
    ax_j.set(xscale="log", xlabel="L-BFGS iterations", ylabel="objective J(Q)")
    ax_q.legend(frameon=False)
    fig_div.tight_layout()
save_figure(fig_div, out / "simple_vs_chi2_divergence.png")
for name, (its, maxq, obj, conv) in trace.items():
    print(f"{name:>22}: after {its[-1]:5d} iterations max|Q| = {maxq[-1]:.3g}, J = {obj[-1]:.4g}, converged = {conv}")
plt.show()

# %% [markdown]
# ## 6. The χ² weight λ
#
# Both forms over the same λ grid. In the paper's offline form (telescoped term, penalty on expert
# rows) $\lambda = 0$ is exactly BC's log-likelihood, so its first point must reproduce BC (up to BC's
# uniform policy on unvisited states, which the IQ-Learn table also keeps). In the occupancy-matching
# form $\lambda = 0$ removes the only thing that bounds the objective (unconverged, printed), and
# large λ shrinks the reward towards 0, i.e. the policy towards uniform: λ trades reward shrinkage
# against overfitting the finite-sample occupancy.

# %%
sweep = {lam: evaluate(np.asarray((r := fit(counts, lam=lam)).policy), r.reward) | {"converged": bool(r.converged)}
         for lam in P.chi2_sweep}
sweep_value = {lam: evaluate(np.asarray((r := fit(counts, lam=lam, init_term="value", chi2_rows="expert")).policy), r.reward)
               | {"converged": bool(r.converged)} for lam in P.chi2_sweep}
lams = np.array(P.chi2_sweep, dtype=float)
with plt.rc_context(STYLE):
    fig_sweep, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (k, label) in zip(axes, [("policy_tv", "policy TV (all states)"),
                                     ("reward_pearson_visited", "reward Pearson (visited)"),
                                     ("return", "expected return (true r, α=0)")]):
        ax.plot(lams, [sweep[l][k] for l in P.chi2_sweep], marker="o", label="IQ-Learn, occupancy form")
        ax.plot(lams, [sweep_value[l][k] for l in P.chi2_sweep], marker="s", label="IQ-Learn, paper offline form")
        if k == "policy_tv":
            ax.axhline(ev_bc["policy_tv"], color="gray", ls="--", label="BC")
        if k == "return":
            ax.axhline(expert_return, color="k", ls=":", label="expert")
            ax.axhline(ev_bc["return"], color="gray", ls="--", label="BC")
        ax.set(xscale="symlog", xlabel="χ² weight λ", title=label)
        ax.set_xscale("symlog", linthresh=0.01)
        ax.legend(frameon=False)
    fig_sweep.tight_layout()
save_figure(fig_sweep, out / "chi2_sweep.png")
for lam, ev in sweep.items():
    print(f"occupancy form λ = {lam:6g}: TV {ev['policy_tv']:.3f}  TV(d_E) {ev['policy_tv_expert_weighted']:.3f}  "
          f"return {ev['return']:.3f}  r Pearson vis {ev['reward_pearson_visited']:.3f}  converged {ev['converged']}")
for lam, ev in sweep_value.items():
    print(f"paper offline  λ = {lam:6g}: TV {ev['policy_tv']:.3f}  TV(d_E) {ev['policy_tv_expert_weighted']:.3f}  "
          f"return {ev['return']:.3f}  r Pearson vis {ev['reward_pearson_visited']:.3f}  converged {ev['converged']}")
plt.show()

# %% [markdown]
# ## 7. How many demonstrations?
#
# One larger sample of episodes (a separate key), of which the first $k$ are used for each $k$ in
# `demo_counts`; same λ and form as the main fit. BC's TV is shown for reference.

# %%
pool = sample_trajectories(curve_key, mdp.P, mdp.p0, expert.policy, max(P.demo_counts), P.horizon, r=mdp.r)
by_k, fits_k = {}, {}
for k in P.demo_counts:
    sub = episodes_from_transitions(pool, k)
    c_k = state_action_counts(sub["obs"], sub["action"], S, A)
    r_k = fit(c_k)
    fits_k[k] = (np.asarray(c_k), r_k)  # kept for the state-only rewards of §8
    vis_k = np.asarray(c_k).sum(1) > 0
    corr = reward_correlation(state_reward(r_k.reward, policy=r_k.policy), R_true, mask=vis_k if vis_k.sum() >= 3 else None)
    by_k[k] = {"tv": policy_tv(pi_E, r_k.policy), "tv_bc": policy_tv(pi_E, bc_tabular(c_k)),
               "corr": corr["pearson"], "visited": int(vis_k.sum())}
ks = np.array(P.demo_counts)
fig_k = line_plot(ks, {"IQ-Learn policy TV": [by_k[k]["tv"] for k in ks], "BC policy TV": [by_k[k]["tv_bc"] for k in ks],
                       "IQ-Learn reward Pearson (visited)": [by_k[k]["corr"] for k in ks]},
                  xlabel="number of demonstrations", ylabel="TV / correlation", logx=True)
save_figure(fig_k, out / "by_n_demos.png")
for k in ks:
    print(f"{k:4d} demos: visited {by_k[k]['visited']:3d}/{S}, TV IQ {by_k[k]['tv']:.3f}, TV BC {by_k[k]['tv_bc']:.3f}, "
          f"reward Pearson (visited) {by_k[k]['corr']:.3f}")
plt.show()

# %% [markdown]
# ## 8. A state-only reward: removing the shaping
#
# The true reward depends on the state only. A reward read off a policy is identified only up to
# potential shaping, $\hat r(s,a) = R(s) + \gamma (P_a\Phi)(s) - \Phi(s)$ for some $\Phi$ (§3–4), so fit
# exactly that model: `iqlib.tabular.projection.state_only_reward` finds $(R, \Phi)$ by weighted least
# squares and keeps $R$ (centred: $R + (1-\gamma)c$ with $\Phi + c$ fits alike). It sees $\hat r$ only up to
# shaping, so IQ-Learn's $\hat r = \hat Q - \gamma P\hat V$ and its $\alpha\log\hat\pi$ give the same $R$. For the
# expert's own policy $\alpha\log\pi_E = R + \gamma P V^* - V^*$ exactly, so the fit must return the true $R$
# (checked below).
#
# Weights: $n(s)\,\hat\pi(a|s)$ on the visited states, the number of times the fit's own policy would take
# $a$ in the demonstrated states. The demonstration counts alone would leave $R(s)$ free at every
# state where only one action was seen (the count of such undetermined directions is printed).
# Two references: the same fit on BC's smoothed log-frequencies (pseudo-count `BC_PRIOR`, the
# Hotz–Miller inversion), and the structural MLE of a state-only reward (`fit_structural_mle`
# with one indicator feature per state, $R(0) = 0$ fixing the constant), which uses the model
# exactly and shows how much the data pin down.

# %%
BC_PRIOR = 0.1  # pseudo-count of the BC reference: the log of a never-seen action must be finite
P_np = np.asarray(mdp.P)
alpha = mdp.entropy_temperature


def state_only(reward, policy, cnt):
    """`state_only_reward` of a fit's r̂ (S, A), weighted by n(s)·π̂(a|s) on the visited states of counts cnt."""
    return state_only_reward(np.asarray(reward), P_np, mdp.discount, np.asarray(cnt).sum(1, keepdims=True) * np.asarray(policy))


def pearson_visited(R, cnt=counts_np):
    return reward_correlation(R, R_true, mask=np.asarray(cnt).sum(1) > 0)["pearson"]


so_exact = state_only_reward(alpha * np.log(pi_E), P_np, mdp.discount)
so_exact_err = float(np.max(np.abs(so_exact.reward - (R_true - R_true.mean()))))
so_iq = state_only(iq.reward, iq.policy, counts_np)
n_free_counts = state_only_reward(np.asarray(iq.reward), P_np, mdp.discount, counts_np).n_free
pi_bc_prior = np.asarray(bc_tabular(counts_np, BC_PRIOR))
so_bc = state_only(alpha * np.log(pi_bc_prior), pi_bc_prior, counts_np)
t_mle = time.perf_counter()
F_state = np.repeat(np.eye(S)[:, None, 1:], A, axis=1)  # (S, A, S − 1): R(s) for s ≥ 1, R(0) = 0
mle_so = fit_structural_mle(counts_np, mdp.P, F_state, mdp.discount, alpha)
R_mle = np.concatenate([[0.0], np.asarray(mle_so.theta)])
so_pearson, so_bc_pearson, mle_pearson = (pearson_visited(R) for R in (so_iq.reward, so_bc.reward, R_mle))
print(f"expert's log-policy: max |R̂ − (R − mean R)| = {so_exact_err:.1e} (residual {so_exact.residual_rms:.1e})")
print(f"directions left free with the demonstration counts as weights: {n_free_counts}; with n(s)·π̂(a|s): {so_iq.n_free}")
print(f"Pearson with the true R on the {int(visited.sum())} visited states, {P.n_demos} demos:")
print(f"  policy average Σ_a π̂ r̂ of the main fit (§3)        {ev_iq['reward_pearson_visited']:.3f}")
print(f"  state-only fit of the main fit's r̂                  {so_pearson:.3f} (residual RMS {so_iq.residual_rms:.3f})")
print(f"  state-only fit of BC's log-frequencies (prior {BC_PRIOR:g})  {so_bc_pearson:.3f}")
print(f"  structural MLE of a state-only reward              {mle_pearson:.3f} (converged {bool(mle_so.converged)}, "
      f"{time.perf_counter() - t_mle:.1f} s)")
so_by_k = {}
for k, (c_k, r_k) in fits_k.items():
    pi_k = np.asarray(bc_tabular(c_k, BC_PRIOR))
    so_by_k[k] = (pearson_visited(state_only(r_k.reward, r_k.policy, c_k).reward, c_k),
                  pearson_visited(state_only(alpha * np.log(pi_k), pi_k, c_k).reward, c_k))
    print(f"{k:4d} demos: state-only Pearson (visited), main fit {so_by_k[k][0]:.3f}, BC {so_by_k[k][1]:.3f}")
fig_so = grid_heatmaps({
    "true reward R(s)": to_grid(R_true),
    "state-only fit of the main fit's r̂ (blank: no demos)": to_grid(np.where(visited, so_iq.reward, np.nan)),
    "state-only fit of BC's log-frequencies": to_grid(np.where(visited, so_bc.reward, np.nan)),
    "structural MLE, state-only reward": to_grid(np.where(visited, R_mle, np.nan)),
}, title=f"state-only rewards from {P.n_demos} demos (each up to a constant)")
save_figure(fig_so, out / "state_only_rewards.png")
plt.show()

# %% [markdown]
# **Reading it.** The identity line shows the fit removes shaping exactly when the policy is
# exact. On the demonstrations it is limited twice. By the data: a state-only reward is pinned by
# the log-probabilities of the actions the expert rarely takes (their differences carry the
# differences of $V^*$ between neighbours), and a few dozen visits per state see few of those;
# the structural MLE, which uses the model exactly, sets the bar the printed numbers are read
# against. By the estimator: the main fit's policy is shrunk towards uniform by the χ² penalty
# (§6), a bias that is not shaping, so removing the shaping cannot undo it and more
# demonstrations do not remove it; compare how the two state-only columns printed above move with
# the number of demonstrations (the demonstrations of that curve are a separate sample, so its
# row at the default number differs from the main fit's).
#
# ## 9. What the numbers say
#
# The cells above print every number; the summary below is generated from them.

# %%
runtime_s = time.perf_counter() - T_START
norm_return = (ev_iq["return"] - uniform_return) / (expert_return - uniform_return)
print(f"""Main fit: IQ-Learn (χ², λ={P.chi2_weight}, init '{P.init_term}', penalty on {P.chi2_rows} rows) is {ev_iq['policy_tv']:.3f} TV from the expert over all states
({ev_iq['policy_tv_visited']:.3f} on visited states, {ev_iq['policy_tv_expert_weighted']:.3f} weighted by the expert's occupancy);
BC is {ev_bc['policy_tv']:.3f}. Return {ev_iq['return']:.3f} (normalised: {norm_return:.3f}; 0 = uniform, 1 = expert) vs expert {expert_return:.3f}, BC {ev_bc['return']:.3f}, uniform {uniform_return:.3f}.
Reward: Pearson(R̂, R) = {ev_iq['reward_pearson_visited']:.3f} on visited states, {ev_iq['reward_pearson']:.3f} on all;
soft value: Pearson(V̂, V*) = {V_corr['pearson']:.3f} on visited states.
Paper's offline form: TV {ev_value['policy_tv']:.3f}, return {ev_value['return']:.3f}, reward Pearson {ev_value['reward_pearson_visited']:.3f} (visited).
Runtime {runtime_s:.1f} s.""")

# %% [markdown]
# **Reading the result honestly.**
#
# * *Two estimators, two answers.* The paper's offline form (telescoped initial term, χ² on expert
#   rows) is BC plus a penalty on the implied reward. On a free table the penalty barely moves the
#   policy, and among all rewards consistent with that policy it picks the flattest on the demonstrated
#   pairs: the recovered reward map is uncorrelated with the truth (printed above). This is the
#   failure the seeds and econirl report; it is an identification effect, not a solver bug.
# * The occupancy-matching form (exact $p_0$ term, χ² on all rows) is a ridge-regularised max-entropy
#   IRL: its reward is high where the expert goes more than the learnt policy would, which is where
#   the true reward is high. Its reward correlation is clearly positive, with a policy and return
#   close to BC's. Its price is bias towards uniform as λ grows (§6), and it needs $p_0$.
# * *Policy.* Most of the TV over all states comes from states without demonstrations, where no
#   method has information; weighted by the states the expert occupies the imitation is much
#   closer, and the return covers most of the gap between the uniform policy and the expert.
# * *Limits.* A reward is identified only up to potential shaping, and only where there are data:
#   even the better map is a correlation, not an equality. Notebook 04 shows how to make reward
#   recovery pass quantitative gates (anchoring the shaping with one action's known reward).
# * *Objective.* The simple/TV objective is BC with the telescoped term and diverges with the exact
#   $p_0$ term; χ² with the exact $p_0$ term and the penalty on expert rows diverges too when the
#   demonstrations leave some start states uncovered. The solver reports `converged=False` in those
#   cases rather than returning a silently wrong table.

# %%
params = P.as_metrics()
metrics = {
    **params,
    "n_states": S,
    "n_visited_states": int(visited.sum()),
    "n_transitions": int(counts_np.sum()),
    "expert_mean_max_prob": float(pi_E.max(1).mean()),
    "expert_return": expert_return,
    "uniform_return": uniform_return,
    "imitation_return": ev_iq["return"],
    "imitation_return_normalised": norm_return,
    "policy_tv": ev_iq["policy_tv"],
    "policy_tv_visited": ev_iq["policy_tv_visited"],
    "policy_tv_expert_weighted": ev_iq["policy_tv_expert_weighted"],
    "reward_pearson": ev_iq["reward_pearson"],
    "reward_spearman": ev_iq["reward_spearman"],
    "reward_pearson_visited": ev_iq["reward_pearson_visited"],
    "reward_spearman_visited": ev_iq["reward_spearman_visited"],
    "reward_stay_pearson_visited": stay_corr["pearson"],
    "value_pearson_visited": V_corr["pearson"],
    "iq_converged": bool(iq.converged),
    "iq_iterations": int(iq.n_iter),
    "iq_grad_norm": float(iq.grad_norm),
    "paper_form_policy_tv": ev_value["policy_tv"],
    "paper_form_return": ev_value["return"],
    "paper_form_reward_pearson_visited": ev_value["reward_pearson_visited"],
    "paper_form_reward_pearson": ev_value["reward_pearson"],
    "paper_form_converged": bool(iq_value.converged),
    "iq_p0_converged": bool(iq_p0.converged),
    "iq_p0_policy_tv": ev_p0["policy_tv"],
    "iq_p0_return": ev_p0["return"],
    "bc_return": ev_bc["return"],
    "bc_policy_tv": ev_bc["policy_tv"],
    "bc_policy_tv_expert_weighted": ev_bc["policy_tv_expert_weighted"],
    "simple_value_max_abs_q": trace["simple, init 'value'"][1][-1],
    "simple_p0_max_abs_q": trace["simple, init 'p0'"][1][-1],
    "chi2_value_max_abs_q": trace["chi2, init 'value'"][1][-1],
    "runtime_s": runtime_s,
}
metrics |= {f"sweep_lambda_{lam:g}_policy_tv": ev["policy_tv"] for lam, ev in sweep.items()}
metrics |= {f"sweep_lambda_{lam:g}_reward_pearson_visited": ev["reward_pearson_visited"] for lam, ev in sweep.items()}
metrics |= {f"sweep_lambda_{lam:g}_return": ev["return"] for lam, ev in sweep.items()}
metrics |= {f"demos_{k}_reward_pearson_visited": by_k[k]["corr"] for k in P.demo_counts}
metrics |= {f"demos_{k}_policy_tv": by_k[k]["tv"] for k in P.demo_counts}
metrics |= {f"demos_{k}_state_only_pearson_visited": so_by_k[k][0] for k in P.demo_counts}
metrics |= {f"demos_{k}_state_only_bc_pearson_visited": so_by_k[k][1] for k in P.demo_counts}
metrics |= {"state_only_pearson_visited": so_pearson, "state_only_bc_pearson_visited": so_bc_pearson,
            "state_only_mle_pearson_visited": mle_pearson, "state_only_mle_converged": bool(mle_so.converged),
            "state_only_exact_err": so_exact_err, "state_only_residual_rms": so_iq.residual_rms,
            "state_only_n_free": so_iq.n_free, "state_only_n_free_counts_weights": n_free_counts}

# %% [markdown]
# ## 10. Claims
#
# Headline (the poster's Fig. 4, read as a number): the reward that the main fit (occupancy-matching
# form) recovers from 30 demonstrations correlates with the true reward on the visited states,
# Pearson ≥ 0.3. The paper's offline form on the same table gives a correlation near 0 (§4), so a
# method that only imitates the policy fails this claim. Further claims:
#
# - the occupancy-matching form's reward correlation beats the paper's offline form's by ≥ 0.25;
# - the main fit's policy earns at least 0.8 of the way from the uniform policy's return to the
#   expert's (true reward, exact evaluation);
# - its soft value $\hat V$ correlates with $V^*$ on visited states, Pearson ≥ 0.9;
# - the paper's offline form at λ = 0 is BC: the same policy on every visited state, to $10^{-3}$
#   (the maximum-likelihood policy is approached, not attained, where one action was seen);
# - removing the potential shaping from the expert's own log-policy gives back the true state
#   reward up to a constant, to $10^{-8}$ (§8);
# - the state-only reward fitted to the main fit's $\hat r$ (§8) correlates with the true reward on
#   the visited states, Pearson ≥ 0.9: **a stated miss**, with the measured reason (the
#   structural MLE's correlation from the same data is in the reason).
#
# The λ = 0 and shaping identities are asserted at any parameters. The others are measured on this
# GridWorld and this form of the objective: they are asserted with at least the defaults' data
# (`n_demos` ≥ 30, `horizon` ≥ 30) on the default GridWorld (8 × 8, slip 0.1, γ = 0.9, α = 0.1)
# and the default main fit (λ = 0.5, `"p0"`, `"all"`), and stated with their numbers otherwise.
# The thresholds leave a margin below the measured values (six seeds of this setting gave reward
# correlations from 0.45 to 0.67).

# %%
from iqlib.notebook.claims import Claims

full_size = P.n_demos >= 30 and P.horizon >= 30
default_setting = ((P.grid_size, P.slip, P.discount, P.entropy_temperature) == (8, 0.1, 0.9, 0.1)
                   and (P.chi2_weight, P.init_term, P.chi2_rows) == (0.5, "p0", "all"))
asserted = full_size and default_setting
why = "" if asserted else ("data below the defaults" if not full_size else "another GridWorld or form of the main fit "
                           "than the one these thresholds were measured on")
bc_limit = fit(counts, lam=0.0, init_term="value", chi2_rows="expert")
bc_limit_gap = float(np.max(np.abs(np.asarray(bc_limit.policy) - pi_bc)[visited]))
r_main, r_paper = ev_iq["reward_pearson_visited"], ev_value["reward_pearson_visited"]

claims = Claims()
claims.add("reward_recovered", "The main fit's recovered reward correlates with the true reward on visited states "
           "(Pearson)", r_main, ">= 0.3", r_main >= 0.3, expected=asserted, reason=why, headline=True)
claims.add("occupancy_form_beats_paper_form", "The occupancy-matching form's reward correlation beats the paper's "
           "offline form's (difference)", r_main - r_paper, ">= 0.25", r_main - r_paper >= 0.25,
           expected=asserted, reason=why)
claims.add("return_near_expert", "The main fit's policy earns most of the expert's return over the uniform policy "
           "(normalised return)", norm_return, ">= 0.8", norm_return >= 0.8, expected=asserted, reason=why)
claims.add("value_recovered", "The main fit's soft value correlates with V* on visited states (Pearson)",
           V_corr["pearson"], ">= 0.9", V_corr["pearson"] >= 0.9, expected=asserted, reason=why)
claims.add("paper_form_at_zero_is_bc", "The paper's offline form at λ = 0 gives BC's policy on visited states "
           "(largest |difference|)", bc_limit_gap, "<= 1e-3", bc_limit_gap <= 1e-3)
claims.add("state_only_exact", "Removing the shaping from the expert's own log-policy gives back the true state "
           "reward up to a constant (max |error|)", so_exact_err, "<= 1e-8", so_exact_err <= 1e-8)
claims.add("state_only_reward_recovered", "The state-only reward fitted to the main fit's reward correlates with the "
           "true reward on visited states (Pearson)", so_pearson, ">= 0.9", so_pearson >= 0.9, expected=False,
           reason=f"the data do not pin it: even the structural MLE of a state-only reward reaches {mle_pearson:.2f} "
           f"from these {P.n_demos} demonstrations (the rarely taken actions' log-probabilities identify R), and the "
           f"χ² penalty's shrinkage of the main fit's policy is not shaping (BC's frequencies give {so_bc_pearson:.2f})")
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())
metrics["runtime_s"] = time.perf_counter() - T_START
save_metrics(out, metrics)
print(f"wrote {out / 'metrics.json'} ({len(metrics)} keys) and {len(list(out.glob('*.png')))} figures")
