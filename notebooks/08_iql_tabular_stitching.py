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
# # 08 · Tabular IQL: value propagation stitches trajectories that behaviour cloning cannot
#
# Offline RL can do better than the data when it *stitches*: one trajectory leads from the start
# to some midpoint, another from that midpoint to the goal, and no single trajectory does both.
# Copying the data (behavioural cloning, BC) cannot find the combination; propagating values
# through the states the trajectories share can. IQL (Kostrikov, Nair, Levine, ICLR 2022) does
# this with in-sample backups only: an expectile value (Eq. 5), a Bellman regression for $Q$
# (Eq. 6), and advantage-weighted policy extraction (Eq. 7) — never a query of $Q$ at an
# action the data does not contain. On a table all three are exact (`iqlib.tabular.iql`), so we can
# watch values propagate and evaluate the policies exactly.
#
# Two more sections show what IQL's in-sample backups buy. §6 runs the standard alternative,
# offline Q-learning with $\max_{a'}$ over *all* actions, on the same data: the actions the data
# never contain keep whatever value they started with, the max picks them up and the backup
# spreads them — the overestimation trap (IQL §3–4). §7 changes only the data, so that the
# behaviour walks *away* from the goal on the goal branch: there IQL still reaches the goal and
# one-step AWR (SARSA or Monte-Carlo evaluation) does not.

# %% tags=["parameters"]
output_dir = "outputs/08_iql_tabular_stitching"
seed = 0
expectile = 0.9
awr_temperature = 10.0
discount = 0.99
n_trajectories = 200
data_horizon = 40
epsilon = 0.2
eval_horizon = 100
expectiles = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
walk_away_goal_fraction = 0.05

# %% [markdown]
# **Parameters.** `expectile` τ = 0.9 and `awr_temperature` β = 10 are the IQL paper's AntMaze
# settings (its maze-navigation tasks; App. C), `discount` γ = 0.99 its discount. `n_trajectories` scripted
# episodes of at most `data_horizon` steps are generated with exploration noise `epsilon`;
# policies are scored by their exact probability of reaching the goal within `eval_horizon`
# steps. `expectiles` is the expectile sweep of §5 and §7. `walk_away_goal_fraction` is the
# fraction of §7's episodes that walk from the midpoint to the goal (`WALK_AWAY_MIX`: 0.05); the
# walk-away episodes take the rest of their joint 0.6 share.

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import Float, Int, ListOf, OutputDir, check_parameters, require_distinct

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "seed": Int(0),
    "expectile": Float(0.0, 1.0, lo_open=True, hi_open=True),
    "awr_temperature": Float(0.0, 1e4),
    "discount": Float(0.0, 1.0, hi_open=True),
    "n_trajectories": Int(5, 100_000),
    "data_horizon": Int(2, 10_000),
    "epsilon": Float(0.0, 1.0),
    "eval_horizon": Int(1, 100_000),
    "expectiles": ListOf(Float(0.0, 1.0, lo_open=True, hi_open=True), min_len=1),
    "walk_away_goal_fraction": Float(0.0, 0.6, lo_open=True, hi_open=True),
})
require_distinct("expectiles", P.expectiles, "the sweep of §5 is keyed by τ")

import dataclasses
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

T_START = time.perf_counter()
P

# %%
from iqlib.data.files import save_figure, save_metrics
from iqlib.tabular.iql import (IQLTabularConfig, awr_policy, behaviour_cloning, fit_iql_tabular, iql_backup,
                               iql_values, onestep_awr)
from iqlib.tabular.q_learning import fit_offline_q_learning, max_backup, offline_q_learning
from iqlib.problems.maze import (STITCHING_LAYOUT, STITCHING_MIX, WALK_AWAY_LAYOUT, WALK_AWAY_MIX, distances_to,
                                 optimal_values, parse_maze, policy_values, stitching_dataset, success_probability)
from iqlib.notebook.plotting import STYLE, bar_table
from iqlib.notebook.source import show_source

out = P.output_dir
rng = np.random.default_rng(P.seed)

# %% [markdown]
# ## 1. The maze, its rewards, and a dataset in which no trajectory goes from start to goal
#
# A deterministic grid maze (`iqlib.problems.maze`): a start room **S** (with a corner **R**) whose exit
# leads down to a corridor with a midpoint **M**; off the corridor lie a dead-end pocket **D**, a
# dead-end room **E**, and the goal **G**. Actions: up, down, left, right, stay.
#
# **Rewards: D4RL AntMaze's sparse reward shifted by −1**, as the IQL authors do for AntMaze:
# $r = 0$ on the transition into the goal (which ends the episode, `terminal`) and $r=-1$ on every
# other step. We use this convention, rather than $+1$ at the goal and 0 elsewhere, because AWR's
# $\beta$ multiplies *advantages in reward units*: with $-1$ per step, neighbouring cells on a
# shortest path differ in value by about one unit, so $\beta = 10$ separates a good move from a bad
# one by a factor up to $e^{10}$ (clipped at 100). With a $+1$ goal reward and $\gamma = 0.99$ the same
# difference is about $0.01\,\gamma^d$ and $\beta = 10$ would barely move the policy away from the
# behaviour. Optimal values are $V^*(s) = -(1-\gamma^{d-1})/(1-\gamma)$ for a cell $d$ moves from the goal.
#
# **Data** (`stitching_dataset`): scripted episodes that follow a noisy shortest path (probability
# $\varepsilon$ of a random action) to a target region and then *stay* there until the time limit
# (`timeout`, bootstrapped), or end on entering the goal (`terminal`):

# %%
maze = parse_maze(STITCHING_LAYOUT)
S, A = maze.n_states, maze.n_actions
data = stitching_dataset(rng, maze, P.n_trajectories, P.data_horizon, P.epsilon)
starts, goal = maze.region("S"), maze.regions["G"]
print("\n".join(STITCHING_LAYOUT))
n_by_kind = {}
for kind, (a, b, frac) in enumerate(STITCHING_MIX):
    ids = np.unique(data["episode_id"][data["kind"] == kind])
    n_by_kind[f"{a}->{b}"] = len(ids)
    print(f"{a} → {b}: {len(ids):4d} episodes")
start_episodes = np.unique(data["episode_id"][np.isin(data["obs"], starts)])
goal_episodes = np.unique(data["episode_id"][data["terminal"]])
n_start_to_goal = int(np.isin(start_episodes, goal_episodes).sum())
print(f"{len(data['obs'])} transitions; {len(goal_episodes)} episodes reach the goal; "
      f"episodes that visit the start room AND reach the goal: {n_start_to_goal}")

# %%
counts_s = np.bincount(data["obs"], minlength=S)
with plt.rc_context(STYLE):
    fig, ax = plt.subplots(figsize=(6, 4.5))
    im = ax.imshow(maze.to_image(np.log10(1 + counts_s)), cmap="viridis")
    for r, row in enumerate(STITCHING_LAYOUT):
        for c, ch in enumerate(row):
            if ch.isalpha():
                ax.text(c, r, ch, ha="center", va="center", color="white", fontsize=9, weight="bold")
    ax.set_title("Dataset coverage: log10(1 + visits) per cell")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
save_figure(fig, out / "maze_coverage.png")

# %% [markdown]
# ## 2. Four ways to extract a policy from the same data
#
# * **IQL** (τ, β): iterate $V(s) = \text{expectile}_\tau\{Q(s,a) : a \text{ in the data at } s\}$ and
#   $Q(s,a) = \overline{r + \gamma(1-d)V(s')}$ (the average over the data's transitions from $(s,a)$)
#   to their fixed point, then $\pi(a|s) \propto N(s,a)\min(e^{\beta(Q-V)}, 100)$.
# * **BC**: $\pi(a|s) = N(s,a)/N(s)$.
# * **One-step AWR (SARSA)**: the same with $\tau = 0.5$: $V$ is the *mean* of $Q$ over the data's
#   actions, so $Q = Q^{\hat\pi_\beta}$ is the behaviour policy's value (Bellman backups, but no
#   max-like backup), followed by one AWR improvement step.
# * **One-step AWR (Monte Carlo)**: $Q(s,a)$ = average discounted return-to-go of the data's own
#   episodes through $(s,a)$ — no Bellman backup at all, so no value crosses from one episode to another.
#
# Each policy is scored exactly: $p_H(s)$, the probability of entering the goal within $H$ =
# `eval_horizon` steps, by dynamic programming on the known moves ($p_{t+1}(s) = \sum_a \pi(a|s)\,p_t(f(s,a))$);
# the success rate is its mean over the start cells. We also report the policy's exact discounted
# value from the start cells, between $-1/(1-\gamma) = -100$ (never arrives) and $V^*$.

# %% [markdown]
# **The code that runs.** One sweep of the two regressions on the table is `iql_backup`: the TD
# target $Q = \bar r + \gamma\hat P V$ (Eq. 6; `P_cont` already carries $1-d$) and the count-weighted
# expectile $V(s) = \text{expectile}_\tau Q(s,\cdot)$ (Eq. 5); `iql_values` iterates it to its fixed
# point (a γ-contraction); `awr_policy` is the AWR extraction (Eq. 7) with the clipped weight.

# %%
show_source(iql_backup, iql_values, awr_policy);

# %% [markdown]
# **A toy check, by hand.** One state with two terminal actions, seen $N = (3, 1)$ times with rewards
# $(0, 1)$. Then $Q = (0, 1)$ and the expectile solves $\tau\cdot 1\cdot(1 - V) = (1-\tau)\cdot 3\cdot V$,
# $V = \tau / (\tau + 3(1-\tau))$: the mean 0.25 at τ = 0.5, 0.75 at τ = 0.9. With β = 0 AWR is
# BC, $(0.75, 0.25)$; with β = 10 the weights are $e^{10(Q - V)}$. A second state with no data keeps
# `unseen_value` and the uniform policy. A bootstrapped pair checks the TD target $\bar r + \gamma\hat P V$.

# %%
toy_counts = jnp.array([[3.0, 1.0], [0.0, 0.0]])
toy_r = jnp.array([[0.0, 1.0], [0.0, 0.0]])
toy_P = jnp.zeros((2, 2, 2))  # both actions end the episode (terminal): no bootstrap
for t, v_expected in ((0.5, 0.25), (0.9, 0.75)):
    Q_toy, V_toy = iql_backup(jnp.zeros(2), toy_counts, toy_r, toy_P, t, 0.9, -7.0)
    assert np.allclose(Q_toy[0], [0.0, 1.0]) and abs(float(V_toy[0]) - v_expected) < 1e-6, (t, V_toy)
    assert float(V_toy[1]) == -7.0  # no data at state 1
pi_bc_toy, _ = awr_policy(Q_toy, V_toy, toy_counts, 0.0)
assert np.allclose(pi_bc_toy, [[0.75, 0.25], [0.5, 0.5]])
pi_awr_toy, w_toy = awr_policy(Q_toy, V_toy, toy_counts, 10.0)
w_expected = np.exp(10.0 * (np.array([0.0, 1.0]) - 0.75))
assert np.allclose(w_toy[0], w_expected, rtol=1e-5)
assert np.allclose(pi_awr_toy[0], toy_counts[0] * w_expected / np.sum(toy_counts[0] * w_expected), rtol=1e-5)
# bootstrapping: from (state 1, action 0) the data continues to state 0 (P̂ = 1, r̄ = −1)
P_boot = toy_P.at[1, 0, 0].set(1.0)
counts_boot, r_boot = toy_counts.at[1, 0].set(2.0), toy_r.at[1, 0].set(-1.0)
Q_b, V_b = iql_backup(jnp.array([0.75, 0.0]), counts_boot, r_boot, P_boot, 0.9, 0.9, -7.0)
assert abs(float(Q_b[1, 0]) - (-1.0 + 0.9 * 0.75)) < 1e-6 and abs(float(V_b[1]) - float(Q_b[1, 0])) < 1e-6
Q_fix, V_fix, _, _ = iql_values(counts_boot, r_boot, P_boot, 0.9, 0.9, -7.0, 1e-8, max_iter=100)
assert abs(float(V_fix[1]) - (-1.0 + 0.9 * float(V_fix[0]))) < 1e-5
print(f"toy: V(τ=0.9) = {float(V_toy[0]):.4f}, AWR(β=10) π = {np.asarray(pi_awr_toy[0])}, "
      f"bootstrapped Q = {float(Q_b[1, 0]):.4f}")

# %%
cfg = IQLTabularConfig(expectile=P.expectile, awr_temperature=P.awr_temperature, discount=P.discount)
iql = fit_iql_tabular(data, S, A, cfg)
onestep = onestep_awr(data, S, A, cfg, evaluation="sarsa")
onestep_mc = onestep_awr(data, S, A, cfg, evaluation="monte_carlo")
pi_bc = behaviour_cloning(data, S, A)
print(f"IQL fixed point: converged {bool(iql.converged)} after {int(iql.n_iter)} iterations "
      f"(last sup-norm change {float(iql.residual):.1e}); one-step SARSA: converged {bool(onestep.converged)} "
      f"after {int(onestep.n_iter)} iterations")

V_star = optimal_values(maze, P.discount)


def evaluate(policy, m=maze):
    """(success rate, exact policy value), both averaged over the start cells of maze `m`."""
    p = success_probability(policy, m.next_state, m.regions["G"], P.eval_horizon)
    v = policy_values(policy, m, P.discount)
    s0 = m.region("S")
    return float(p[s0].mean()), float(v[s0].mean())


policies = {"IQL": iql.policy, "BC": pi_bc, "one-step (SARSA)": onestep.policy, "one-step (MC)": onestep_mc.policy}
results = {name: evaluate(pi) for name, pi in policies.items()}
for name, (succ, val) in results.items():
    print(f"{name:18s} success rate {succ:.3f}   policy value from start {val:8.3f}")
print(f"{'optimal':18s} success rate 1.000   policy value from start {V_star[starts].mean():8.3f}")

fig = bar_table({k: v[0] for k, v in results.items()}, ylabel=f"P(goal within {P.eval_horizon} steps)",
                title="Success rate from the start room (exact)")
save_figure(fig, out / "success_rates.png")

# %% [markdown]
# ## 3. Value propagation
#
# The value maps explain the success rates. IQL's $V$ (τ = 0.9) rises smoothly from the start room
# to the goal: the value of the goal has flowed back through the midpoint, which both kinds of
# trajectories visit. The SARSA value is the behaviour's own value: it also flows back through
# the shared states, but it averages over what the data *did* (mostly stay at the midpoint, or
# head for a dead end), so it sits near $-100$ almost everywhere outside the last corridor. The
# Monte-Carlo value never leaves the goal-reaching episodes: in the start room it only measures how
# many steps were left before the time limit.

# %%
def value_image(V):
    """Values on the maze image; goal cells shown as 0 (the episode has ended there)."""
    return maze.to_image(np.where(goal, 0.0, np.asarray(V)))


maps = {
    f"IQL V (τ = {P.expectile:g})": value_image(iql.V),
    "one-step SARSA V (behaviour)": value_image(onestep.V),
    "one-step MC V": value_image(onestep_mc.V),
    "optimal V*": value_image(V_star),
}
with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, len(maps), figsize=(3.6 * len(maps), 3.4))
    for ax, (name, image) in zip(axes, maps.items()):
        im = ax.imshow(image, cmap="viridis", vmin=-1.0 / (1.0 - P.discount), vmax=0.0)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for r, row in enumerate(STITCHING_LAYOUT):
            for c, ch in enumerate(row):
                if ch in "SMG":
                    ax.text(c, r, ch, ha="center", va="center", color="white" if ch != "G" else "black", fontsize=8)
    fig.colorbar(im, ax=axes, fraction=0.015, pad=0.02, label="V (reward units)")
    fig.suptitle(f"State values, one colour scale (−{1 / (1 - P.discount):g} = never reaches the goal)")
save_figure(fig, out / "value_propagation.png")

# %% [markdown]
# ## 4. Why BC and Monte-Carlo one-step fail here, and why one-step SARSA does not
#
# Look at the midpoint cell where the start-room episodes arrive (the left end of M), and at a
# start cell.

# %%
junction = int(maze.state_of[5, 3])
names = ("up", "down", "left", "right", "stay")
np.set_printoptions(precision=3, suppress=True)
print(f"midpoint cell (5, 3): data counts N(s, ·) = {np.asarray(iql.counts[junction]).astype(int)}  ({names})")
for name, res in (("IQL", iql), ("SARSA", onestep), ("MC", onestep_mc)):
    print(f"  {name:5s} Q = {np.asarray(res.Q[junction])}, V = {float(res.V[junction]):.2f}, "
          f"π = {np.asarray(res.policy[junction])}")
print(f"  BC    π = {np.asarray(pi_bc[junction])}")
bc_stay_at_junction = float(pi_bc[junction, 4])
mc_prefers_stay = bool(np.nanargmax(np.asarray(onestep_mc.Q[junction])) == 4)

# %% [markdown]
# * **BC** copies the data: the start-room episodes *stay* at the midpoint until their time limit,
#   so staying dominates the counts there and BC rarely walks on (and in the start room it also
#   follows the episodes that go to the corner R).
# * **Monte-Carlo one-step** sees, at the midpoint, returns of episodes that stay there until a
#   *time limit*: a truncated return of $-1$ per remaining step, which is *higher* than the return of
#   walking 10 steps to the goal when few steps were left. Without bootstrapping, truncation
#   makes staying look best. (With bootstrapped targets this artefact disappears.)
# * **One-step SARSA** does Bellman backups through the shared states, so it stitches as well:
#   on a deterministic maze with a −1 step reward, the improved policy moves to the neighbour with
#   the highest behaviour value, and the behaviour value strictly increases along that path
#   ($\max_a Q^\beta(s,a) > V^\beta(s)$ wherever $V^\beta > -100$), so it cannot cycle and ends at the goal. Its
#   values are far below optimal (previous figure), so the advantages it acts on are differences
#   between poor options. Does a smaller β (a softer extraction) hurt it more than IQL? Measured
#   below; at the default parameters both still succeed, so in this maze the behaviour value's
#   advantages point the right way strongly enough even at β = 1. §7 builds data where they do not.

# %%
awr_temperature_small = 1.0
small_cfg = dataclasses.replace(cfg, awr_temperature=awr_temperature_small)
small = {
    "IQL": evaluate(fit_iql_tabular(data, S, A, small_cfg).policy)[0],
    "SARSA": evaluate(onestep_awr(data, S, A, small_cfg).policy)[0],
}
print(f"β = {awr_temperature_small:g}: IQL success {small['IQL']:.3f}, one-step SARSA success {small['SARSA']:.3f}")

# %% [markdown]
# ## 5. The expectile τ: from behaviour value (τ = 0.5) towards the in-support optimum
#
# τ = 0.5 is exactly one-step SARSA; as τ grows, $V$ approaches the best value achievable with
# actions *in the data* (batch-constrained Q-learning), here close to $V^*$ because the data covers
# a shortest route. At τ = 0.9 the learned $V$(start) is still well below $V^*$: at the midpoint
# almost all of the data *stays*, and an expectile of a distribution dominated by poor actions is
# only a soft maximum (notebook 07). The advantages' signs are already right, though, so the
# extracted policy's true value is close to optimal at every τ we tried — compare the learned value
# with the true value of the extracted policy.

# %%
sweep = {}
for t in P.expectiles:
    res = fit_iql_tabular(data, S, A, dataclasses.replace(cfg, expectile=t))
    succ, val = evaluate(res.policy)
    sweep[t] = {"success_rate": succ, "policy_value": val, "v_start": float(res.V[starts].mean()),
                "converged": bool(res.converged), "n_iter": int(res.n_iter)}
    print(f"τ = {t:<5g} success {succ:.3f}  learned V(start) {sweep[t]['v_start']:8.3f}  "
          f"policy value {val:8.3f}  (converged {sweep[t]['converged']}, {sweep[t]['n_iter']} iterations)")

with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ts = np.array(P.expectiles)
    axes[0].plot(ts, [sweep[t]["success_rate"] for t in P.expectiles], "o-")
    axes[0].set(xlabel="τ", ylabel="success rate", ylim=(-0.05, 1.05), title="Success rate vs τ")
    axes[1].plot(ts, [sweep[t]["v_start"] for t in P.expectiles], "o-", label="learned V(start)")
    axes[1].plot(ts, [sweep[t]["policy_value"] for t in P.expectiles], "s--", label="true value of the extracted policy")
    axes[1].axhline(V_star[starts].mean(), color="C3", ls=":", label="V*(start)")
    axes[1].set(xlabel="τ", ylabel="value (reward units)", title="Value at the start vs τ")
    axes[1].legend(frameon=False)
    fig.tight_layout()
save_figure(fig, out / "expectile_sweep.png")

# %% [markdown]
# ## 6. The overestimation trap: a max over actions the data never contain
#
# The standard off-policy backup, run on the dataset alone, is offline Q-learning:
#
# $$Q(s,a) \leftarrow \bar r(s,a) + \gamma \sum_{s'} \hat P(s' \mid s,a)\,\max_{a'} Q(s',a')
# \qquad \text{for the pairs } (s,a) \text{ in the data.}$$
#
# The max runs over *all* actions, including those the data never took at $s'$. On a table such a
# pair gets no regression target, so it keeps its initial value for ever (a network would
# extrapolate to it instead, with nothing to correct it). Once that value is the largest at $s'$,
# the max reads it and the backup copies it, discounted, into every state whose data lead to
# $s'$. The learner's greedy policy then walks to the cell where the unseen action sits and takes
# it, expecting a return it will never earn. This extrapolation error is what IQL is built to
# avoid (paper §3–4): its value $V(s) = \text{expectile}_\tau\{Q(s,a) : (s,a) \in \mathcal D\}$ (Eq. 5)
# is a soft maximum over the data's actions only, so an unseen action's value is never queried.
#
# We solve the max backup exactly on the table (`iqlib.tabular.q_learning`: the fixed point of
# `max_backup`, unseen pairs held at their initial value) from three initialisations:
#
# * $Q_\text{init} = \max r / (1-\gamma) = 0$: the largest discounted return any policy can earn
#   here (every reward is ≤ 0) — optimistic, but a value a state could have;
# * $Q_\text{init} \sim U[\min r/(1-\gamma),\, \max r/(1-\gamma)]$ (seeded): arbitrary values inside
#   the range of possible returns, the tabular stand-in for a network's outputs at inputs it never
#   trained on;
# * $Q_\text{init} = \min r / (1-\gamma) = -100$: a control. No unseen action can then beat a seen
#   one, and the max backup becomes the in-support max (batch-constrained Q-learning).
#
# Each learner's $V$(start) $= \max_a Q$ is set beside the true value of its own greedy policy
# (exact policy evaluation on the known moves, and a Monte-Carlo estimate from simulated episodes),
# beside $V^*$ from exact Q-iteration on the known MDP (the same iteration with every pair seen and
# the true tables), and beside IQL.

# %%
show_source(max_backup, offline_q_learning);

# %%
into_goal = goal[maze.next_state]  # (S, A): the move enters the goal (reward 0, terminal)
r_true = np.where(into_goal, 0.0, -1.0) * ~goal[:, None]  # goal cells: the episode has ended there
P_true = maze.transition_tensor() * ~into_goal[..., None] * ~goal[:, None, None]
Q_star, n_iter_star, _ = offline_q_learning(jnp.ones((S, A)), jnp.asarray(r_true), jnp.asarray(P_true),
                                            P.discount, 0.0)
Q_star = np.asarray(Q_star)
q_iteration_gap = float(np.max(np.abs(np.where(goal, 0.0, Q_star.max(1)) - V_star)))
assert q_iteration_gap < 1e-3, q_iteration_gap  # exact Q-iteration reproduces the closed-form V*
counts = np.asarray(iql.counts)
unseen = counts == 0
print(f"Q-iteration on the known MDP: {int(n_iter_star)} sweeps, max |max_a Q* − V*| = {q_iteration_gap:.1e}")
print(f"data: {int(unseen.sum())} of {S * A} state-action pairs never occur; {int((counts.sum(1) == 0).sum())} "
      f"cells have no data at all; {int(unseen[starts].sum())} unseen pairs on the start cells")

v_hi = float(np.max(data["reward"])) / (1.0 - P.discount)  # the largest discounted return (0 here)
v_lo = float(np.min(data["reward"])) / (1.0 - P.discount)  # the smallest (−100)
init_rng = np.random.default_rng([P.seed, 1])  # its own stream: §7's data do not depend on it
inits = {"optimistic": v_hi, "random": init_rng.uniform(v_lo, v_hi, (S, A)), "pessimistic": v_lo}
init_labels = {"optimistic": f"Q_init = {v_hi:g}", "random": f"Q_init ~ U[{v_lo:g}, {v_hi:g}]",
               "pessimistic": f"Q_init = {v_lo:g}"}
max_fits = {k: fit_offline_q_learning(data, S, A, P.discount, q0) for k, q0 in inits.items()}
assert all(bool(f.converged) for f in max_fits.values())


def monte_carlo_value(policy, n_per_start=100, horizon=1000, seed=0):
    """(mean, standard error) of the discounted return of `policy` from the start cells, by simulation
    (n_per_start episodes from each start cell; γ^horizon · 100 bounds the truncation error)."""
    sim_rng = np.random.default_rng([P.seed, 2, seed])
    cdf = np.cumsum(np.asarray(policy, dtype=float), axis=1)
    s = np.repeat(starts, n_per_start)
    G, disc, alive = np.zeros(len(s)), 1.0, np.ones(len(s), bool)
    for _ in range(horizon):
        a = np.minimum((sim_rng.random(len(s))[:, None] > cdf[s] / cdf[s, -1:]).sum(1), A - 1)
        s = maze.next_state[s, a]
        G += disc * np.where(alive & ~goal[s], -1.0, 0.0)
        alive &= ~goal[s]
        disc *= P.discount
    return float(G.mean()), float(G.std() / np.sqrt(len(G)))


trap = {}
for k, f in max_fits.items():
    trap[init_labels[k]] = (float(f.V[starts].mean()), f.policy)
trap[f"IQL (τ = {P.expectile:g})"] = (float(iql.V[starts].mean()), iql.policy)
v_star_start = float(V_star[starts].mean())
trap_rows = {}
print(f"\n{'learner':24s} {'learned V(start)':>16s} {'its policy: exact':>18s} {'Monte Carlo':>16s} {'success':>8s}")
for i, (name, (v_learned, pi)) in enumerate(trap.items()):
    succ, v_true = evaluate(pi)
    mc, se = monte_carlo_value(pi, seed=i)
    assert abs(mc - v_true) <= 4 * se + 0.05, (name, mc, v_true, se)  # simulation agrees with the exact value
    trap_rows[name] = {"v_learned": v_learned, "v_policy": v_true, "v_policy_mc": mc, "success_rate": succ}
    print(f"{name:24s} {v_learned:16.2f} {v_true:18.2f} {mc:10.2f} ± {se:4.2f} {succ:8.3f}")
print(f"{'optimal (Q-iteration)':24s} {v_star_start:16.2f} {v_star_start:18.2f} {'':>16s} {1.0:8.3f}")
over = {k: trap_rows[init_labels[k]]["v_learned"] - trap_rows[init_labels[k]]["v_policy"] for k in inits}
iql_row = trap_rows[f"IQL (τ = {P.expectile:g})"]
iql_error = iql_row["v_learned"] - iql_row["v_policy"]
print(f"\nlearned V(start) − its policy's true value: " + ", ".join(f"{k} {v:+.2f}" for k, v in over.items())
      + f"; IQL {iql_error:+.2f}")

# %% [markdown]
# **Where the optimistic learner's policy goes.** Follow its greedy action (first of any ties) from a
# start cell until a cell repeats, and look at the data's count of the action it takes there.

# %%
q_opt = np.asarray(max_fits["optimistic"].Q)
s, path = int(starts[0]), []
while s not in path:
    path.append(s)
    s = int(maze.next_state[s, np.argmax(q_opt[s])])
loop = path[path.index(s):]
cell = lambda x: tuple(int(v) for v in maze.cells[x])
print("greedy path:", " → ".join(str(cell(x)) for x in path), f"→ back to {cell(s)}")
for x in loop:
    a = int(np.argmax(q_opt[x]))
    print(f"  in the loop at {cell(x)}: action {names[a]!r}, data count N = {int(counts[x, a])}, "
          f"learned Q = {q_opt[x, a]:.2f}, Q* = {Q_star[x, a]:.2f}")
trap_loop_unseen = bool(any(counts[x, int(np.argmax(q_opt[x]))] == 0 for x in loop))

# %%
with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    labels = list(trap_rows)
    xs = np.arange(len(labels))
    axes[0].bar(xs - 0.2, [trap_rows[k]["v_learned"] for k in labels], 0.4, label="learned V(start)")
    axes[0].bar(xs + 0.2, [trap_rows[k]["v_policy"] for k in labels], 0.4, label="true value of its policy")
    axes[0].axhline(v_star_start, color="C3", ls=":", label="V*(start)")
    axes[0].set_xticks(xs, [k.replace(" ~ ", "\n~ ").replace(" (", "\n(") for k in labels], fontsize=8)
    axes[0].set(ylabel="value (reward units)", title="Max backup vs IQL at the start")
    axes[0].legend(frameon=False, fontsize=8)
    v_opt_policy = policy_values(max_fits["optimistic"].policy, maze, P.discount)
    for ax, (title, vals) in zip(axes[1:], ((f"max-backup V ({init_labels['optimistic']})", max_fits["optimistic"].V),
                                            ("true value of its greedy policy", v_opt_policy))):
        im = ax.imshow(value_image(vals), cmap="viridis", vmin=v_lo, vmax=v_hi)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    for x in range(S):  # the number of unseen actions per cell
        if unseen[x].any() and not goal[x]:
            axes[1].text(maze.cells[x, 1], maze.cells[x, 0], str(int(unseen[x].sum())), ha="center", va="center",
                         color="white", fontsize=7)
    fig.colorbar(im, ax=axes[1:], fraction=0.02, pad=0.02, label="V (reward units)")
    fig.suptitle("The overestimation trap (numbers on the middle map: actions the data never took there)")
save_figure(fig, out / "overestimation_trap.png")

# %% [markdown]
# With the optimistic or the random initial values the max backup's $V$(start) sits near the top of
# the value range, above even $V^*$(start) — a value no policy can earn — while its own greedy policy
# earns far less (the table's two columns, exact and simulated, agree). The loop above shows
# the mechanism: the policy settles at a cell where it takes an action the data never took there,
# whose value is still the initial one, and the backup has carried that value, discounted, to the
# start room. The right-hand map is what the policy really earns. With the pessimistic control the
# same backup is the in-support max and lands at or below $V^*$: the trap is the unseen actions'
# values, not the max over the seen ones. IQL's error has the other sign: the τ = 0.9 expectile is a
# soft maximum over the data's actions, at most their max, so its $V$ never exceeds $V^*$ and it
# *under*estimates its policy's value (by the printed gap), while its policy reaches the goal.

# %% [markdown]
# ## 7. Data that walk away from the goal: a maze that separates IQL from one-step methods
#
# One-step SARSA stitched in §2–4 because the behaviour's own values carried a signal from the
# goal back to the start room: enough of the data's actions on the way to the goal head towards
# it. Now keep the maze and its moves and change only the data (`WALK_AWAY_MIX`; `WALK_AWAY_LAYOUT`
# just labels the goal branch **C**, the corridor from the right end of M round to the cell beside
# the goal): start-room episodes as before, but most of the other episodes *start on the goal branch
# and walk away from the goal*, back past M to the pocket D; only `walk_away_goal_fraction` of the
# episodes walk from M to the goal. Still no episode goes from the start room to the goal.
#
# On the branch the data's majority action now points away from the goal. The behaviour policy
# reaches the goal from M only if it picks the rare goal-ward action at every cell of the branch —
# a product of small probabilities (printed below) — so its value is within a hair of
# $-1/(1-\gamma)$ at M and everywhere upstream. The behaviour $Q$'s differences between actions
# there are of the order of that hair: the advantages in the start room vanish (to float32
# resolution), the AWR weights are all 1, and one-step AWR *is* BC there, which walks to M and
# stays. No choice of β fixes this (measured below with β = 1000 and no clip). Monte-Carlo one-step
# has no backups and fails as in §4. IQL's expectile at τ = 0.9 weighs each cell's rare goal-ward
# action by τ against 1 − τ for the rest, so $V$ is pulled towards the best action in the data at
# every cell of the branch; values grow along the branch towards the goal, and the advantages in the
# start room are of order one.

# %%
maze_w = parse_maze(WALK_AWAY_LAYOUT)
assert np.array_equal(maze_w.next_state, maze.next_state)  # the same cells and moves; only the labels differ
# the goal-ward (M → G) and walk-away (C → D) episodes split their joint share (0.6; the parameter is < 0.6)
walk_away_share = sum(frac for _, target, frac in WALK_AWAY_MIX if target in "GD")
mix_w = tuple((a, b, P.walk_away_goal_fraction if b == "G" else walk_away_share - P.walk_away_goal_fraction
               if b == "D" else frac) for a, b, frac in WALK_AWAY_MIX)
data_w = stitching_dataset(np.random.default_rng([P.seed, 3]), maze_w, P.n_trajectories, P.data_horizon,
                           P.epsilon, mix=mix_w)
print("\n".join(WALK_AWAY_LAYOUT))
for kind, (a, b, frac) in enumerate(mix_w):
    print(f"{a} → {b}: {len(np.unique(data_w['episode_id'][data_w['kind'] == kind])):4d} episodes")
start_episodes_w = np.unique(data_w["episode_id"][np.isin(data_w["obs"], starts)])
n_start_to_goal_w = int(np.isin(start_episodes_w, data_w["episode_id"][data_w["terminal"]]).sum())
print(f"{len(data_w['obs'])} transitions; episodes that visit the start room AND reach the goal: {n_start_to_goal_w}")

iql_w = fit_iql_tabular(data_w, S, A, cfg)
sarsa_w = onestep_awr(data_w, S, A, cfg, evaluation="sarsa")
mc_w = onestep_awr(data_w, S, A, cfg, evaluation="monte_carlo")
pi_bc_w = behaviour_cloning(data_w, S, A)
assert bool(iql_w.converged) and bool(sarsa_w.converged)
results_w = {name: evaluate(pi, maze_w) for name, pi in
             {"IQL": iql_w.policy, "BC": pi_bc_w, "one-step (SARSA)": sarsa_w.policy,
              "one-step (MC)": mc_w.policy}.items()}
for name, (succ, val) in results_w.items():
    print(f"{name:18s} success rate {succ:.3f}   policy value from start {val:8.3f}")

# %% [markdown]
# **Why, in numbers.** The fraction of the data's actions on the branch that move towards the goal;
# the probability that the behaviour policy (BC) reaches the goal from the midpoint cell where the
# start-room episodes arrive; the behaviour value there; and the largest |advantage| over the data's
# actions on the start cells, for one-step SARSA and for IQL (AWR's weight is $e^{\beta A}$).

# %%
dist_goal = distances_to(maze_w, maze_w.region("G"))
goalward = dist_goal[maze_w.next_state] < dist_goal[:, None]  # (S, A) the move gets closer to the goal
branch = maze_w.region("C")
counts_w = np.asarray(iql_w.counts)
goalward_fraction = float((counts_w[branch] * goalward[branch]).sum() / counts_w[branch].sum())
p_behaviour = float(success_probability(pi_bc_w, maze_w.next_state, goal, P.eval_horizon)[junction])


def max_abs_advantage(res):
    adv = np.where(np.asarray(res.counts) > 0, np.asarray(res.Q) - np.asarray(res.V)[:, None], 0.0)
    return float(np.max(np.abs(adv[starts])))


adv_sarsa_w, adv_iql_w = max_abs_advantage(sarsa_w), max_abs_advantage(iql_w)
greedy_cfg = dataclasses.replace(cfg, awr_temperature=1000.0, max_weight=1e30)
sarsa_greedy_w = evaluate(onestep_awr(data_w, S, A, greedy_cfg).policy, maze_w)[0]
print(f"goal-ward fraction of the data's actions on the branch C: {goalward_fraction:.3f}")
print(f"behaviour (BC) P(goal within {P.eval_horizon} steps) from the midpoint cell {cell(junction)}: {p_behaviour:.2e}")
print(f"behaviour value there V^β = {float(sarsa_w.V[junction]):.5f}; IQL V = {float(iql_w.V[junction]):.2f}; "
      f"V* = {float(V_star[junction]):.2f}")
print(f"max |A| over the data's actions on the start cells: one-step SARSA {adv_sarsa_w:.2e}, IQL {adv_iql_w:.3f}")
print(f"one-step SARSA with β = 1000 and no weight clip: success {sarsa_greedy_w:.4f}")

fig = bar_table({k: v[0] for k, v in results_w.items()}, ylabel=f"P(goal within {P.eval_horizon} steps)",
                title="Walk-away data: success rate from the start room (exact)")
save_figure(fig, out / "walk_away_success_rates.png")

with plt.rc_context(STYLE):
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    frac_img = np.where(counts_w.sum(1) > 0, (counts_w * goalward).sum(1) / np.maximum(counts_w.sum(1), 1), np.nan)
    panels = ((axes[0], maze_w.to_image(np.where(goal, np.nan, frac_img)), "goal-ward fraction of the data's actions",
               "magma", 0.0, 1.0),
              (axes[1], value_image(iql_w.V), f"IQL V (τ = {P.expectile:g})", "viridis", v_lo, v_hi),
              (axes[2], value_image(sarsa_w.V), "one-step SARSA V (behaviour)", "viridis", v_lo, v_hi))
    for ax, image, title, cmap, lo, hi in panels:
        im = ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
        for r, row in enumerate(WALK_AWAY_LAYOUT):
            for c, ch in enumerate(row):
                if ch in "SMCG":
                    ax.text(c, r, ch, ha="center", va="center", color="white" if ch != "G" else "black", fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle("Walk-away data: the branch C is walked away from the goal")
    fig.tight_layout()
save_figure(fig, out / "walk_away_values.png")

# %% [markdown]
# **The expectile's effect.** The same τ sweep as §5, on the walk-away data. τ = 0.5 is one-step
# SARSA; as τ grows the expectile weighs the branch's rare goal-ward actions more, until the value
# signal reaches the start room and the policy follows it. On the first data set (§5) the curve is
# flat: there even τ = 0.5 already succeeds, and τ only changes the values. As in §5 the learned
# $V$(start) stays below what the extracted policy earns (the expectile is a soft maximum, and on
# the branch the goal-ward actions are the minority); what the policy needs is the advantages' sign.

# %%
sweep_w = {}
for t in P.expectiles:
    res = fit_iql_tabular(data_w, S, A, dataclasses.replace(cfg, expectile=t))
    succ, val = evaluate(res.policy, maze_w)
    sweep_w[t] = {"success_rate": succ, "policy_value": val, "v_start": float(res.V[starts].mean()),
                  "converged": bool(res.converged)}
    print(f"τ = {t:<5g} success {succ:.3f}  learned V(start) {sweep_w[t]['v_start']:8.3f}  policy value {val:8.3f}")

with plt.rc_context(STYLE):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ts = sorted(P.expectiles)
    ax.plot(ts, [sweep_w[t]["success_rate"] for t in ts], "o-", label="IQL, walk-away data (§7)")
    ax.plot(ts, [sweep[t]["success_rate"] for t in ts], "s--", label="IQL, stitching data (§5)")
    ax.axhline(results_w["one-step (MC)"][0], color="C2", ls=":", label="one-step MC, walk-away")
    ax.axhline(results_w["BC"][0], color="C3", ls="-.", label="BC, walk-away")
    ax.set(xlabel="expectile τ", ylabel=f"P(goal within {P.eval_horizon} steps)", ylim=(-0.05, 1.05),
           title="Success rate vs τ (τ = 0.5 is one-step SARSA)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
save_figure(fig, out / "walk_away_expectile_sweep.png")

# %% [markdown]
# ## Summary
#
# In the first data set no episode goes from the start room to the goal, yet IQL's policy reaches
# the goal from the start room; BC does not, because the data at the midpoint mostly stays;
# Monte-Carlo one-step does not, because it has no backups and truncated returns reward staying.
# One-step SARSA *does* succeed there — a tabular, deterministic maze with full behaviour-value
# backups is a friendly case for it — but its values are the behaviour's, far from optimal. Larger τ
# moves the learned value from the behaviour value (τ = 0.5) towards the in-support optimum.
#
# Offline Q-learning with the max over all actions (§6) turns the same data into a trap: the
# actions the data never took keep their initial values, the max reads them, and with an
# optimistic or random initialisation the learned start value exceeds even $V^*$ while the greedy
# policy it implies never reaches the goal. IQL's expectile over the data's actions never reads
# them; its error is a bounded underestimate.
#
# When the behaviour walks away from the goal on the goal branch (§7), the behaviour's values carry
# no usable signal to the start room, and both one-step methods fail with BC; IQL's expectile
# recovers the rare goal-ward actions and reaches the goal, and the τ sweep shows the switch. The
# numbers are this run's: the printed tables above, `metrics.json`, and the claims below.

# %%
METRIC_KEYS = {"IQL": "iql", "BC": "bc", "one-step (SARSA)": "onestep", "one-step (MC)": "onestep_mc"}
params = P.as_metrics()
metrics = {
    **params,
    "n_states": S,
    "n_transitions": int(len(data["obs"])),
    **{f"n_episodes_{k.replace('->', '_to_')}": v for k, v in n_by_kind.items()},
    "episodes_start_room_to_goal": n_start_to_goal,
    **{f"{key}_success_rate": results[m][0] for m, key in METRIC_KEYS.items()},
    **{f"{key}_policy_value_start": results[m][1] for m, key in METRIC_KEYS.items()},
    "optimal_value_start": float(V_star[starts].mean()),
    "iql_v_start": float(iql.V[starts].mean()),
    "onestep_v_start": float(onestep.V[starts].mean()),
    "iql_converged": bool(iql.converged),
    "iql_n_iter": int(iql.n_iter),
    "iql_residual": float(iql.residual),
    "bc_stay_prob_at_midpoint": bc_stay_at_junction,
    "mc_prefers_stay_at_midpoint": mc_prefers_stay,
    "awr_temperature_small": awr_temperature_small,
    "awr_temperature_small_iql_success_rate": small["IQL"],
    "awr_temperature_small_onestep_success_rate": small["SARSA"],
    **{f"expectile_{t:g}_{k}".replace(".", "p"): v for t, d in sweep.items() for k, v in d.items()},
    # §6: the overestimation trap
    "n_unseen_pairs": int(unseen.sum()),
    "q_iteration_gap": q_iteration_gap,
    **{f"trap_{k}_{q}": trap_rows[init_labels[k]][q] for k in inits for q in trap_rows[init_labels[k]]},
    "trap_iql_v_learned": iql_row["v_learned"],
    "trap_iql_v_policy": iql_row["v_policy"],
    "trap_iql_v_policy_mc": iql_row["v_policy_mc"],
    "trap_loop_takes_unseen_action": trap_loop_unseen,
    # §7: walk-away data
    "walk_away_n_transitions": int(len(data_w["obs"])),
    "walk_away_episodes_start_room_to_goal": n_start_to_goal_w,
    **{f"walk_away_{key}_success_rate": results_w[m][0] for m, key in METRIC_KEYS.items()},
    "walk_away_iql_policy_value_start": results_w["IQL"][1],
    "walk_away_onestep_v_start": float(sarsa_w.V[starts].mean()),
    "walk_away_goalward_fraction_on_branch": goalward_fraction,
    "walk_away_behaviour_success_from_midpoint": p_behaviour,
    "walk_away_onestep_max_abs_advantage_start": adv_sarsa_w,
    "walk_away_iql_max_abs_advantage_start": adv_iql_w,
    "walk_away_onestep_greedy_success_rate": sarsa_greedy_w,
    **{f"walk_away_expectile_{t:g}_{k}".replace(".", "p"): v for t, d in sweep_w.items() for k, v in d.items()},
}

# %% [markdown]
# ## 8. Claims
#
# Headline: on the walk-away data (§7) IQL's exact success rate from the start room beats the best
# of BC, one-step AWR with SARSA evaluation and one-step AWR with Monte-Carlo evaluation by at least
# 0.5 — single-step methods cannot stitch through a branch the behaviour walks away on. Further
# claims:
#
# - the stitching data (§1–5): IQL's success beats BC's by at least 0.5; no episode visits the start
#   room and reaches the goal (the premise; also for the walk-away data); IQL's policy value from
#   the start is within 0.25 of $V^*$; Monte-Carlo one-step AWR reaches the goal with probability at
#   most 0.05; IQL at τ = 0.5 is one-step SARSA (the same $V$(start)); the learned $V$(start) rises
#   strictly with τ and stays below $V^*$(start);
# - the walk-away τ sweep: success at τ = 0.9 beats success at τ = 0.5 by at least 0.5 (when both
#   are in the sweep);
# - the trap (§6): with $Q_\text{init}$ = the largest return, and with random initial values, the
#   max backup's $V$(start) exceeds the true value of its own greedy policy by at least 50 and
#   exceeds $V^*$(start); IQL's $V$(start) stays at or below $V^*$(start) and within 30 of its own
#   policy's true value; the max backup's $V$ is at least $V^*$ on every start cell with the
#   optimistic initialisation and at most $V^*$ with the pessimistic one (monotonicity of the
#   backup: the data's moves are the true ones, so the unseen pairs' values alone decide the sign).
#
# Identities of the method are asserted at any size (τ = 0.5 is SARSA, V rising with τ, the
# bracketing of $V^*$ by the two initialisations, exact Q-iteration = $V^*$). The rest are asserted
# at the defaults' budget or more (`n_trajectories` ≥ 200, `data_horizon` ≥ 40, `eval_horizon` ≥ 100)
# and in the range of settings this notebook measured (τ ≥ 0.5, β ≥ 1, ε ≤ 0.2; for the walk-away
# and trap claims about IQL, τ ≥ 0.9 and 0.02 ≤ `walk_away_goal_fraction` ≤ 0.08, measured at
# seeds 0–2); otherwise they are stated with their numbers. The premises are asserted whenever
# ε ≤ 0.2.

# %%
from iqlib.notebook.claims import Claims

full_size = P.n_trajectories >= 200 and P.data_horizon >= 40 and P.eval_horizon >= 100
measured_settings = P.expectile >= 0.5 and P.awr_temperature >= 1.0 and P.epsilon <= 0.2
asserted = full_size and measured_settings
why = "" if asserted else ("budget below the defaults" if not full_size else "τ < 0.5, β < 1 or ε > 0.2: outside the "
                           "settings this notebook measured")
measured_w = measured_settings and P.expectile >= 0.9 and 0.02 <= P.walk_away_goal_fraction <= 0.08
asserted_w = full_size and measured_w
why_w = "" if asserted_w else ("budget below the defaults" if not full_size else "τ < 0.9, β < 1, ε > 0.2 or a "
                               "walk_away_goal_fraction outside [0.02, 0.08]: outside the settings this notebook measured")
iql_succ, bc_succ = results["IQL"][0], results["BC"][0]
optimality_gap = float(V_star[starts].mean()) - results["IQL"][1]
ts_sorted = sorted(P.expectiles)
v_sweep = np.array([sweep[t]["v_start"] for t in ts_sorted])
v_rise = float(np.min(np.diff(v_sweep))) if len(ts_sorted) > 1 else float("nan")
best_single_step_w = max(results_w[k][0] for k in ("BC", "one-step (SARSA)", "one-step (MC)"))
separation_w = results_w["IQL"][0] - best_single_step_w
v_max_opt = np.asarray(max_fits["optimistic"].V)[starts]
v_max_pes = np.asarray(max_fits["pessimistic"].V)[starts]
bracket = float(max(np.max(V_star[starts] - v_max_opt), np.max(v_max_pes - V_star[starts])))

claims = Claims()
claims.add("iql_beats_single_step_walk_away", "On the walk-away data IQL's success rate from the start room beats "
           "the best of BC, one-step SARSA-AWR and one-step Monte-Carlo-AWR by at least 0.5", separation_w, ">= 0.5",
           separation_w >= 0.5, expected=asserted_w, reason=why_w, headline=True)
claims.add("iql_beats_bc", "IQL's success rate from the start room beats BC's by at least 0.5 (stitching)",
           iql_succ - bc_succ, ">= 0.5", iql_succ - bc_succ >= 0.5, expected=asserted, reason=why)
for name, n, what in (("no_start_to_goal_episode", n_start_to_goal, "the stitching data"),
                      ("walk_away_no_start_to_goal_episode", n_start_to_goal_w, "the walk-away data")):
    claims.add(name, f"No episode in {what} visits the start room and reaches the goal", n, "== 0", n == 0,
               expected=P.epsilon <= 0.2, reason="" if P.epsilon <= 0.2 else
               "more exploration noise than the defaults can carry an episode to the goal")
claims.add("iql_near_optimal", "IQL's policy value from the start is within 0.25 of V* (gap)", optimality_gap,
           "<= 0.25", optimality_gap <= 0.25, expected=asserted, reason=why)
claims.add("mc_onestep_fails", "Monte-Carlo one-step AWR (no backups) reaches the goal with probability at most 0.05",
           results["one-step (MC)"][0], "<= 0.05", results["one-step (MC)"][0] <= 0.05, expected=asserted, reason=why)
if 0.5 in P.expectiles:
    sarsa_gap = abs(sweep[0.5]["v_start"] - float(onestep.V[starts].mean()))
    claims.add("tau_half_is_sarsa", "IQL at τ = 0.5 learns one-step SARSA's V(start) (|difference|)", sarsa_gap,
               "<= 1e-3", sarsa_gap <= 1e-3)
if len(ts_sorted) > 1:
    claims.add("value_rises_with_tau", "The learned V(start) rises strictly with τ (smallest step) and stays below "
               "V*(start)", v_rise, "> 0, and V(start) < V*(start)",
               v_rise > 0 and bool(np.all(v_sweep < v_star_start)))
if 0.5 in P.expectiles and 0.9 in P.expectiles:
    tau_effect = sweep_w[0.9]["success_rate"] - sweep_w[0.5]["success_rate"]
    claims.add("walk_away_tau_effect", "On the walk-away data the success rate at τ = 0.9 beats the rate at τ = 0.5 "
               "(one-step SARSA) by at least 0.5", tau_effect, ">= 0.5", tau_effect >= 0.5, expected=asserted_w,
               reason=why_w)
for k in ("optimistic", "random"):
    claims.add(f"max_backup_overestimates_{k}", f"With {init_labels[k]} the max backup's V(start) exceeds the true "
               "value of its own greedy policy by at least 50, and exceeds V*(start)", over[k],
               ">= 50, and V(start) > V*(start)", over[k] >= 50 and trap_rows[init_labels[k]]["v_learned"] > v_star_start,
               expected=asserted, reason=why)
claims.add("iql_error_bounded", f"IQL's V(start) (τ = {P.expectile:g}) is at most V*(start) and within 30 of its own "
           "policy's true value (V − V^π)", iql_error, "|·| <= 30, and V(start) <= V*(start)",
           abs(iql_error) <= 30 and iql_row["v_learned"] <= v_star_start + 1e-3, expected=asserted_w, reason=why_w)
claims.add("max_backup_brackets_v_star", "On every start cell the max backup's V is >= V* with the optimistic "
           "initialisation and <= V* with the pessimistic one (largest violation)", bracket, "<= 1e-3",
           bracket <= 1e-3)
claims.add("q_iteration_is_v_star", "Exact Q-iteration on the known MDP reproduces the closed-form V* (max gap)",
           q_iteration_gap, "<= 1e-3", q_iteration_gap <= 1e-3)
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())
metrics["runtime_s"] = time.perf_counter() - T_START
save_metrics(out, metrics)
print(f"runtime {metrics['runtime_s']:.1f} s")
metrics
