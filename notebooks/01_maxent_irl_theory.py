# ---
# jupyter:
#   jupytext:
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
# # 01 · Max-entropy RL and inverse soft-Q learning, checked numerically
#
# IQ-Learn (Garg et al., NeurIPS 2021, "IQ-Learn: Inverse soft-Q Learning for Imitation")
# rests on a handful of facts about max-entropy RL. This notebook states each one and checks
# it on a small random MDP, to machine precision where it is an identity:
#
# | § | fact | check |
# |---|---|---|
# | a | the policy maximising $\mathbb{E}_\pi[Q] + \alpha H(\pi)$ is $\mathrm{softmax}(Q/\alpha)$, with value $V = \alpha\log\sum_a e^{Q/\alpha}$ | Gibbs variational identity; random policies never beat it |
# | b | the soft Bellman operator is a $\gamma$-contraction | soft value iteration and Newton reach the same fixed point |
# | c | the inverse soft Bellman operator $\mathcal{T}$ is a bijection $Q \leftrightarrow r$ | $r \to Q^* \to r$ and $Q \to r \to Q^*$ round trips |
# | d | potential shaping leaves the optimal policy unchanged | same policy from $r$ and $r + \gamma P\Phi - \Phi$ |
# | e | the IQ-Learn objective $\mathcal{J}(Q)$; its two initial-state terms; its concavity | telescoping identity; second differences along random lines |
# | f | maximising $\mathcal{J}$ on the expert's exact occupancy recovers the expert | policy TV vs the χ² weight $\lambda$ |
# | g | behavioural cloning is the $\lambda = 0$ limit | $\mathcal{J} = \alpha\,\mathbb{E}_{\rho}[\log\pi_Q]$; fitted policy = counts / counts |
#
# Everything is imported from `iqlib`; the notebook only glues, checks and plots.

# %% tags=["parameters"]
output_dir = "outputs/01_maxent_irl_theory"
seed = 0
n_states = 12
n_actions = 3
discount = 0.9
entropy_temperature = 0.5
n_directions = 20
chi2_weight = 0.5
n_demos = 20
horizon = 30
n_sample_sets = 5

# %% [markdown]
# **Environment.** We turn on float64 before any array is made: the identities below are
# exact, and we check them to $10^{-10}$, far below float32's resolution
# ($\approx 10^{-7}$ relative). The solvers' own relative tolerance is $10^{-12}$ ($10^{-13}$
# for value iteration, whose error can be $\gamma/(1-\gamma)$ times its residual).

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import Float, Int, OutputDir, check_parameters

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "seed": Int(lo=0),
    "n_states": Int(lo=2, hi=500),
    "n_actions": Int(lo=2, hi=50),
    "discount": Float(lo=0.0, hi=1.0, hi_open=True),
    "entropy_temperature": Float(lo=0.0, lo_open=True),
    "n_directions": Int(lo=1, hi=10_000),
    "chi2_weight": Float(lo=0.0, lo_open=True),
    "n_demos": Int(lo=1),
    "horizon": Int(lo=1),
    "n_sample_sets": Int(lo=1, hi=100),
})

import jax

jax.config.update("jax_enable_x64", True)  # identities are checked to 1e-10: float32 cannot

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from iqlib.notebook import plotting
from iqlib.tabular import sampling
from iqlib.data.files import save_figure, save_metrics
from iqlib.tabular.bc import bc_tabular
from iqlib.tabular.iq_learn import IQLearnConfig, iq_learn_objective, make_update
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.mdp import TabularMDP
from iqlib.tabular.metrics import policy_tv
from iqlib.notebook.source import show_source
from iqlib.problems.random_mdp import random_mdp
from iqlib.tabular.soft_bellman import (
    inverse_soft_bellman,
    occupancy,
    soft_bellman,
    soft_value,
    softmax_policy,
    solve_soft_bellman,
)

metrics = P.as_metrics()
TOL = 1e-12  # solver tolerance (relative, see solve_soft_bellman)
P


# %%
def max_abs(x, y):
    return float(jnp.max(jnp.abs(x - y)))


key = jax.random.key(P.seed)
(mdp_key, gibbs_key, contraction_key, bijection_key, shaping_key,
 telescope_key, line_key, bc_key, sample_key) = jax.random.split(key, 9)
mdp = random_mdp(mdp_key, P.n_states, P.n_actions, P.discount, P.entropy_temperature)
S, A = mdp.n_states, mdp.n_actions
Pm, r, p0, g, a = mdp.P, mdp.r, mdp.p0, mdp.discount, mdp.entropy_temperature
print(f"random MDP: S={S}, A={A}, γ={g}, α={a}, dtype={Pm.dtype}; "
      f"3 successors per (s, a), r ~ N(0, 1), uniform p0")

# %% [markdown]
# ## a. Soft value and soft-greedy policy: the Gibbs variational identity
#
# Max-entropy RL adds $\alpha H(\pi(\cdot|s))$ to the reward. In one state, with action values
# $Q(s,\cdot)$, the best distribution solves
# $$\max_{\pi\in\Delta_A}\; \sum_a \pi(a)\,Q(s,a) - \alpha\sum_a \pi(a)\log\pi(a).$$
# Writing $\pi^*(a) = e^{Q(s,a)/\alpha}/Z$ with $V(s)=\alpha\log Z$, for every $\pi$
# $$\sum_a \pi Q - \alpha\sum_a\pi\log\pi \;=\; V(s) - \alpha\,\mathrm{KL}(\pi\,\|\,\pi^*),$$
# so the maximum is $V(s) = \alpha\log\sum_a e^{Q(s,a)/\alpha}$ (`soft_value`), attained only
# at $\pi^* = \mathrm{softmax}(Q/\alpha)$ (`softmax_policy`). We check the identity at
# $\pi^*$ and at random policies, and that none of 2 000 random policies per state beats $\pi^*$.

# %%
def entropy_objective(pi, Q, alpha):
    """Σ_a π Q − α Σ_a π log π per state.  pi, Q: (S, A) -> (S,)."""
    return jnp.sum(pi * Q, -1) - alpha * jnp.sum(pi * jnp.log(pi), -1)


q_key, pi_key = jax.random.split(gibbs_key)
Q_rand = 2.0 * jax.random.normal(q_key, (S, A))
V_soft = soft_value(Q_rand, a)
pi_star = softmax_policy(Q_rand, a)
n_random_policies = 2000
pis = jax.random.dirichlet(pi_key, jnp.ones(A), shape=(n_random_policies, S))  # (N, S, A)
F = jax.vmap(entropy_objective, (0, None, None))(pis, Q_rand, a)  # (N, S)
kl = jnp.sum(pis * (jnp.log(pis) - jnp.log(pi_star)), -1)
metrics["gibbs_identity_max_abs_err"] = max_abs(entropy_objective(pi_star, Q_rand, a), V_soft)
metrics["gibbs_kl_identity_max_abs_err"] = max_abs(F, V_soft - a * kl)
metrics["gibbs_best_random_policy_gap"] = float(jnp.max(F - V_soft))  # < 0: none beats softmax
for k in ["gibbs_identity_max_abs_err", "gibbs_kl_identity_max_abs_err", "gibbs_best_random_policy_gap"]:
    print(f"{k:34s} {metrics[k]: .3e}")
assert metrics["gibbs_identity_max_abs_err"] < 1e-10 and metrics["gibbs_kl_identity_max_abs_err"] < 1e-10
assert metrics["gibbs_best_random_policy_gap"] < 0

# %% [markdown]
# ## b. The soft Bellman operator is a γ-contraction
#
# $(\mathcal{B}Q)(s,a) = r(s,a) + \gamma\sum_{s'}P(s'|s,a)\,V_Q(s')$. Log-sum-exp is
# 1-Lipschitz in the sup norm ($|V_{Q_1}(s) - V_{Q_2}(s)| \le \max_a|Q_1 - Q_2|$), so
# $\|\mathcal{B}Q_1 - \mathcal{B}Q_2\|_\infty \le \gamma\|Q_1 - Q_2\|_\infty$ and $Q^* = \mathcal{B}Q^*$
# is unique. Soft value iteration converges linearly at rate $\gamma$; Newton's method on
# $V = \Phi(V)$ (= soft policy iteration) converges quadratically. Both must give the same $Q^*$.

# %%
ratios = []
for k in jax.random.split(contraction_key, P.n_directions):
    k1, k2 = jax.random.split(k)
    Q1, Q2 = 3.0 * jax.random.normal(k1, (S, A)), 3.0 * jax.random.normal(k2, (S, A))
    ratios.append(max_abs(soft_bellman(Q1, r, Pm, g, a), soft_bellman(Q2, r, Pm, g, a)) / max_abs(Q1, Q2))
metrics["contraction_max_ratio"] = max(ratios)

vi = solve_soft_bellman(r, Pm, g, a, method="iteration", tol=TOL / 10)
nt = solve_soft_bellman(r, Pm, g, a, method="newton", tol=TOL)
Q_star, V_star, pi_E = nt.Q, nt.V, nt.policy
metrics.update(
    vi_iterations=int(vi.n_iter), vi_residual=float(vi.residual), vi_converged=bool(vi.converged),
    newton_iterations=int(nt.n_iter), newton_residual=float(nt.residual), newton_converged=bool(nt.converged),
    vi_newton_max_abs_diff=max_abs(vi.Q, nt.Q),
    fixed_point_max_abs_err=max_abs(soft_bellman(Q_star, r, Pm, g, a), Q_star),
)
for k in ["contraction_max_ratio", "vi_iterations", "vi_residual", "newton_iterations", "newton_residual",
          "vi_newton_max_abs_diff", "fixed_point_max_abs_err"]:
    print(f"{k:26s} {metrics[k]: .3e}" if isinstance(metrics[k], float) else f"{k:26s} {metrics[k]}")
assert metrics["contraction_max_ratio"] <= g + 1e-12
# Contraction bound: ‖Q_VI − Q*‖∞ ≤ γ ‖V_VI − V*‖∞ ≤ γ · residual / (1 − γ).
# The bound is tight (P_π has the eigenvalue 1), hence the 1 % slack for rounding.
vi_bound = 1.01 * g * float(vi.residual) / (1 - g) + 1e-13
print(f"VI error bound γ·residual/(1−γ) = {vi_bound:.1e}")
assert vi.converged and nt.converged and metrics["vi_newton_max_abs_diff"] <= vi_bound

# %% [markdown]
# The Bellman residual $\|\mathcal{B}Q_k - Q_k\|_\infty$ of the iterates: value iteration
# follows the $\gamma^k$ line; Newton reaches machine precision in a few steps.

# %%
bellman = jax.jit(soft_bellman)
Q_k, vi_res = r, []  # Q_0 = r is the solver's start (V_0 = 0)
for _ in range(int(vi.n_iter)):
    Q_next = bellman(Q_k, r, Pm, g, a)
    vi_res.append(max_abs(Q_next, Q_k))
    Q_k = Q_next
newton_res = []
for k in range(int(nt.n_iter) + 1):
    Q_k = solve_soft_bellman(r, Pm, g, a, method="newton", tol=0.0, max_iter=max(k, 1)).Q if k else r
    newton_res.append(max_abs(bellman(Q_k, r, Pm, g, a), Q_k))
with plt.rc_context(plotting.STYLE):
    fig, ax = plt.subplots()
    ax.semilogy(np.arange(len(vi_res)), vi_res, label="soft value iteration")
    ax.semilogy(np.arange(len(newton_res)), newton_res, "o-", label="Newton (soft policy iteration)")
    ax.semilogy(np.arange(len(vi_res)), vi_res[0] * g ** np.arange(len(vi_res)), "k:", label=r"$\gamma^k$")
    ax.set(xlabel="iteration k", ylabel=r"$\|\mathcal{B}Q_k - Q_k\|_\infty$ (reward units)",
           title="Soft Bellman: contraction and Newton")
    ax.legend(frameon=False)
save_figure(fig, P.output_dir / "bellman_residuals.png")
plt.show()

# %% [markdown]
# ## c. The inverse soft Bellman operator is a bijection between Q and r
#
# $(\mathcal{T}Q)(s,a) = Q(s,a) - \gamma\sum_{s'}P(s'|s,a)V_Q(s')$ (Garg et al. 2021, Eq. 4).
# For $Q^*$ of a reward $r$, $\mathcal{T}Q^* = r$ is just the Bellman equation rearranged. The
# converse makes IQ-Learn work: for *any* $Q$, $Q$ is the soft-optimal Q of the reward
# $r = \mathcal{T}Q$ (it satisfies that reward's Bellman equation, whose solution is unique).
# So optimising over $Q$ is optimising over rewards, with the policy $\mathrm{softmax}(Q/\alpha)$ for free.

# %%
Q_arb = 3.0 * jax.random.normal(bijection_key, (S, A))
r_arb = inverse_soft_bellman(Q_arb, Pm, g, a)
metrics["round_trip_max_abs_err"] = max_abs(inverse_soft_bellman(Q_star, Pm, g, a), r)
metrics["bijection_max_abs_err"] = max_abs(solve_soft_bellman(r_arb, Pm, g, a, tol=TOL).Q, Q_arb)
print(f"r -> Q* -> r:      max |T Q* − r|          = {metrics['round_trip_max_abs_err']:.2e}")
print(f"Q -> r = TQ -> Q*: max |Q*(T Q) − Q|       = {metrics['bijection_max_abs_err']:.2e}")
assert metrics["round_trip_max_abs_err"] < 1e-10 and metrics["bijection_max_abs_err"] < 1e-10

# %% [markdown]
# ## d. Shaping: many rewards, one policy
#
# For any potential $\Phi: S\to\mathbb{R}$, $r'(s,a) = r(s,a) + \gamma\sum_{s'}P(s'|s,a)\Phi(s') - \Phi(s)$
# has $Q'^* = Q^* - \Phi(s)$ (Ng, Harada & Russell 1999): a per-state shift, which
# $\mathrm{softmax}$ ignores. Demonstrations therefore pin down the reward only up to shaping —
# notebook 04 deals with the consequences.

# %%
phi = 2.0 * jax.random.normal(shaping_key, (S,))
r_shaped = r + g * jnp.einsum("sat,t->sa", Pm, phi) - phi[:, None]
sol_shaped = solve_soft_bellman(r_shaped, Pm, g, a, tol=TOL)
metrics["shaping_reward_max_abs_diff"] = max_abs(r_shaped, r)
metrics["shaping_policy_max_abs_diff"] = max_abs(sol_shaped.policy, pi_E)
metrics["shaping_q_shift_max_abs_err"] = max_abs(sol_shaped.Q, Q_star - phi[:, None])
print(f"rewards differ by up to {metrics['shaping_reward_max_abs_diff']:.2f}; policies by "
      f"{metrics['shaping_policy_max_abs_diff']:.1e}; Q'* = Q* − Φ to {metrics['shaping_q_shift_max_abs_err']:.1e}")

# %% [markdown]
# ## e. The IQ-Learn objective
#
# With $r_Q = \mathcal{T}Q$ and the expert's normalised occupancy $\rho_E(s,a)$, IQ-Learn
# maximises (Garg et al. 2021, Eq. 9–10)
# $$\mathcal{J}(Q) = \mathbb{E}_{\rho_E}\big[\phi(r_Q(s,a))\big] - (1-\gamma)\,\mathbb{E}_{p_0}\big[V_Q(s_0)\big],$$
# with $\phi(x) = x - \lambda x^2$ for the χ² divergence ($\lambda$ = `chi2_weight`) and
# $\phi(x) = x$ for the "simple" (total-variation) objective.
#
# **Telescoping.** If $\rho_E$ is the occupancy of a policy started from $p_0$, the flow
# equation $d(s') = (1-\gamma)p_0(s') + \gamma\sum_{s,a}\rho(s,a)P(s'|s,a)$ gives, for every $V$,
# $$(1-\gamma)\,\mathbb{E}_{p_0}[V] = \mathbb{E}_{\rho_E}\big[V(s) - \gamma\,(PV)(s,a)\big],$$
# so the initial-state term can be estimated from the demonstrations alone (`init_term="value"`)
# instead of needing $p_0$ (`"p0"`). At the exact $\rho_E$ the two must agree for *any* $Q$.
# On a finite sample they differ.

# %% [markdown]
# **The code that runs.** `iq_learn_objective` is $\mathcal{J}$ line by line: `r_Q` is
# $\mathcal{T}Q$, `linear` is $\mathbb{E}_{\rho_E}[\phi(r_Q)]$ (with the χ² penalty on the chosen
# rows), `init` is one of the two initial-state estimators. `make_update` is the copyable core's
# step: one L-BFGS step on $-\mathcal{J}$ with the demonstrations' counts as the batch;
# `fit_iq_learn` (§f) repeats it until $\|\nabla\mathcal{J}\|_2 \le$ `tol`.

# %%
show_source(iq_learn_objective, make_update);

# %% [markdown]
# **A toy check, by hand.** Two states, two actions, $\gamma = 0.5$, $\alpha = 1$, every action
# moving to state 0. With $\lambda = 0$ and the "value" term, $\mathcal{J}(Q) = \alpha\sum\rho\log\pi_Q$
# (§g); with "p0" and $Q = 0$: $V_Q = \log 2$, $r_Q = -\gamma\log 2$, so
# $\mathcal{J}(0) = -\gamma\log 2 - (1-\gamma)\log 2 = -\log 2$ for the simple objective and
# $-\log 2 - \lambda\gamma^2\log^2 2$ for χ². One `update` step from $Q = 0$ raises $\mathcal{J}$.

# %%
toy = TabularMDP(P=np.tile(np.array([1.0, 0.0]), (2, 2, 1)), r=np.zeros((2, 2)), p0=np.array([0.5, 0.5]),
                 discount=0.5, entropy_temperature=1.0)
rho_toy = jnp.array([[0.4, 0.1], [0.3, 0.2]])
Q_toy = jnp.array([[1.0, 0.0], [0.0, 2.0]])
J_bc = iq_learn_objective(Q_toy, rho_toy, toy.P, 0.5, 1.0, chi2_weight=0.0, init_term="value")
assert abs(float(J_bc) - float(jnp.sum(rho_toy * jax.nn.log_softmax(Q_toy, -1)))) < 1e-12
Q0 = jnp.zeros((2, 2))
J_simple = iq_learn_objective(Q0, rho_toy, toy.P, 0.5, 1.0, divergence="simple", init_term="p0", p0=toy.p0)
J_chi2 = iq_learn_objective(Q0, rho_toy, toy.P, 0.5, 1.0, chi2_weight=0.5, init_term="p0", p0=toy.p0)
assert abs(float(J_simple) + np.log(2)) < 1e-12
assert abs(float(J_chi2) - (-np.log(2) - 0.5 * 0.25 * np.log(2) ** 2)) < 1e-12
toy_init, toy_update = make_update(IQLearnConfig(chi2_weight=0.5), toy.P, 0.5, 1.0)
state, step_metrics = toy_update(toy_init(Q0), rho_toy)
J_after = iq_learn_objective(state.params, rho_toy, toy.P, 0.5, 1.0, chi2_weight=0.5)
assert float(J_after) > float(step_metrics["objective"])
print(f"J_BC = {float(J_bc):.6f}; J_simple(0) = {float(J_simple):.6f} = −log 2; "
      f"J_χ²(0) = {float(J_chi2):.6f}; one update: {float(step_metrics['objective']):.4f} → {float(J_after):.4f}")

# %%
rho_E = occupancy(pi_E, Pm, p0, g)


def objective(Q, rho, divergence="chi2", lam=P.chi2_weight, init_term="p0"):
    return iq_learn_objective(Q, rho, Pm, g, a, divergence=divergence, chi2_weight=lam,
                              init_term=init_term, p0=p0)


demo_keys = jax.random.split(sample_key, P.n_sample_sets)


def sampled_counts(k):
    demos = sampling.sample_trajectories(k, Pm, p0, pi_E, P.n_demos, P.horizon)
    return sampling.state_action_counts(demos["obs"], demos["action"], S, A)


counts = sampled_counts(demo_keys[0])
rho_hat = counts / counts.sum()
tele_exact, tele_sampled = [], []
for k in jax.random.split(telescope_key, P.n_directions):
    Q = 3.0 * jax.random.normal(k, (S, A))
    for div in ("chi2", "simple"):
        tele_exact.append(abs(float(objective(Q, rho_E, div, init_term="p0") - objective(Q, rho_E, div, init_term="value"))))
        tele_sampled.append(abs(float(objective(Q, rho_hat, div, init_term="p0") - objective(Q, rho_hat, div, init_term="value"))))
metrics["telescoping_max_abs_diff"] = max(tele_exact)
metrics["telescoping_sampled_max_abs_diff"] = max(tele_sampled)
print(f"|J_p0 − J_value| at exact ρ_E, {P.n_directions} random Q × 2 divergences: max {max(tele_exact):.2e}")
print(f"|J_p0 − J_value| at the empirical ρ of {P.n_demos} demos:               max {max(tele_sampled):.2e}")
assert metrics["telescoping_max_abs_diff"] < 1e-10

# %% [markdown]
# **Concavity.** $V_Q$ is convex in $Q$ (log-sum-exp), so $r_Q = Q - \gamma PV_Q$ is concave and
# $-(1-\gamma)\mathbb{E}_{p_0}[V_Q]$ is concave. $\phi\circ r_Q$ is concave when $\phi$ is concave
# **and non-decreasing** (the paper's condition). For χ², $\phi'(x) = 1 - 2\lambda x$, so the
# argument covers only points where $r_Q \le 1/(2\lambda)$ on the support of $\rho_E$. Along
# the line $Q_0 + tD$, the second derivative is
# $\mathbb{E}_{\rho_E}[\phi''(r_Q)(\partial_t r_Q)^2 + \phi'(r_Q)\,\partial_t^2 r_Q] - (1-\gamma)\,\mathbb{E}_{p_0}[\partial_t^2 V_Q]$:
# the first and last terms are always $\le 0$, the middle one only when $\phi' \ge 0$.
# We take `n_directions` random lines through random points, $t\in[-1,1]$, step $h = 0.05$,
# and look at second differences $\mathcal{J}(t+h) - 2\mathcal{J}(t) + \mathcal{J}(t-h)$ ("p0" term, exact $\rho_E$).

# %%
ts = jnp.linspace(-1.0, 1.0, 41)
lam = P.chi2_weight
J_lines, second_diffs, monotone = [], [], []
for k in jax.random.split(line_key, P.n_directions):
    k1, k2 = jax.random.split(k)
    Q0, D = jax.random.normal(k1, (S, A)), jax.random.normal(k2, (S, A))
    Js = jax.vmap(lambda t: objective(Q0 + t * D, rho_E))(ts)
    r_line = jax.vmap(lambda t: inverse_soft_bellman(Q0 + t * D, Pm, g, a))(ts)  # (T, S, A)
    ok = jnp.all((1.0 - 2.0 * lam * r_line >= 0) | (rho_E == 0), axis=(1, 2))  # φ' ≥ 0 on supp ρ_E
    J_lines.append((Js, jax.vmap(lambda t: objective(Q0 + t * D, rho_E, "simple"))(ts)))
    second_diffs.append(Js[2:] - 2 * Js[1:-1] + Js[:-2])
    monotone.append(ok[2:] & ok[1:-1] & ok[:-2])
second_diffs, monotone = jnp.concatenate(second_diffs), jnp.concatenate(monotone)
metrics["concavity_max_second_diff"] = float(second_diffs.max())
metrics["concavity_fraction_phi_nondecreasing"] = float(np.mean(np.asarray(monotone)))
metrics["concavity_max_second_diff_phi_nondecreasing"] = (
    float(second_diffs[monotone].max()) if bool(monotone.any()) else None)
print(f"{second_diffs.size} second differences; max = {metrics['concavity_max_second_diff']:.3e} "
      f"(≤ 0 means concave along every line)")
print(f"fraction of points with φ'(r_Q) ≥ 0 on supp ρ_E: {metrics['concavity_fraction_phi_nondecreasing']:.2f}; "
      f"max second difference there: {metrics['concavity_max_second_diff_phi_nondecreasing']}")
if metrics["concavity_max_second_diff"] <= 1e-12:
    print("concave along all sampled lines, also where φ' < 0: the paper's condition is sufficient, not necessary")
else:
    print("NOT concave somewhere on the sampled lines; max second difference where φ' < 0: "
          f"{float(second_diffs[~monotone].max()):.3e}")

# %%
with plt.rc_context(plotting.STYLE):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for i, (J_chi2, J_simple) in enumerate(J_lines[:4]):
        axes[0].plot(ts, J_chi2, label=f"line {i}")
        axes[1].plot(ts, J_simple, label=f"line {i}")
    axes[0].set(xlabel="t", ylabel=r"$\mathcal{J}(Q_0 + tD)$", title=rf"χ², $\lambda$ = {lam}")
    axes[1].set(xlabel="t", ylabel=r"$\mathcal{J}(Q_0 + tD)$", title="simple (TV), φ(x) = x")
    axes[0].legend(frameon=False)
    fig.tight_layout()
save_figure(fig, P.output_dir / "objective_along_lines.png")
plt.show()

# %% [markdown]
# The simple objective is linear plus concave along each line, with no χ² curvature: on a free
# table its supremum need not be attained (see the tests), which is why the χ² form is used.
#
# ## f. Fitting IQ-Learn on the exact occupancy
#
# `fit_iq_learn` maximises $\mathcal{J}$ over a free $Q$ table with L-BFGS. Fed the expert's
# exact $\rho_E$ and $\lambda \to 0$, it must return the expert policy: at $\lambda = 0$ the
# objective is $\alpha\,\mathbb{E}_{\rho_E}[\log\pi_Q]$ (see g), maximised by $\pi_Q = \pi_E$
# wherever $\rho_E > 0$ (here every state, since $p_0$ is uniform). A positive $\lambda$
# trades this for a penalty on $r_Q^2$: a bias at the exact occupancy, a shrinkage that can
# lower the variance on a finite sample. We sweep $\lambda$ on both.

# %%
lambdas = [1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0]
sampled = [counts] + [sampled_counts(k) for k in demo_keys[1:]]


def fit(c, lam, init_term="value"):
    cfg = IQLearnConfig(divergence="chi2", chi2_weight=lam, init_term=init_term, tol=1e-9, max_iter=5000)
    return fit_iq_learn(c, Pm, g, a, cfg, p0=p0)


exact0 = fit(rho_E, 0.0, "p0")  # the "p0" term here; the sweep below uses "value" (equal at ρ_E, §e)
metrics["iq_policy_tv_exact_occupancy"] = policy_tv(exact0.policy, pi_E)
metrics["iq_converged_exact_occupancy"] = bool(exact0.converged)
metrics["iq_n_iter_exact_occupancy"] = int(exact0.n_iter)
metrics["iq_reward_max_abs_err_exact_occupancy"] = max_abs(exact0.reward, r)
print(f"λ = 0, exact ρ_E: policy TV = {metrics['iq_policy_tv_exact_occupancy']:.2e}, converged = "
      f"{bool(exact0.converged)} in {int(exact0.n_iter)} L-BFGS steps; "
      f"but max |r_Q − r| = {metrics['iq_reward_max_abs_err_exact_occupancy']:.2f} (shaping, §d)")
assert metrics["iq_policy_tv_exact_occupancy"] < 1e-6

tv_exact, tv_sampled, converged = [], [], True
for lam_i in lambdas:
    res = fit(rho_E, lam_i)
    converged &= bool(res.converged)
    tv_exact.append(policy_tv(res.policy, pi_E))
    fits = [fit(c, lam_i) for c in sampled]
    converged &= all(bool(f.converged) for f in fits)
    tv_sampled.append(np.mean([policy_tv(f.policy, pi_E) for f in fits]))
tv_bc = np.mean([policy_tv(bc_tabular(c), pi_E) for c in sampled])
metrics["lambda_sweep_all_converged"] = bool(converged)
metrics["iq_policy_tv_exact_occupancy_at_chi2_weight"] = policy_tv(fit(rho_E, P.chi2_weight).policy, pi_E)
metrics["bc_policy_tv_sampled_mean"] = float(tv_bc)
best = int(np.argmin(tv_sampled))
metrics["iq_best_lambda_sampled"] = lambdas[best]
metrics["iq_policy_tv_sampled_best"] = float(tv_sampled[best])
for lam_i, te, ts_ in zip(lambdas, tv_exact, tv_sampled):
    print(f"λ = {lam_i:<7g} policy TV: exact ρ_E {te:.2e}   {P.n_demos} demos (mean of {P.n_sample_sets}) {ts_:.4f}")
print(f"BC on the same demos: {tv_bc:.4f}; all fits converged: {converged}")
print(f"best λ on the demos: {lambdas[best]:g}, policy TV {tv_sampled[best]:.5f} vs BC {tv_bc:.5f}: "
      + ("better than BC" if tv_sampled[best] < tv_bc - 1e-4 else "no real gain over BC"))

fig = plotting.line_plot(
    lambdas, {"exact occupancy ρ_E (bias)": tv_exact,
              f"{P.n_demos} demos × {P.horizon} steps, mean of {P.n_sample_sets} sets": tv_sampled,
              "BC on the same demos": np.full(len(lambdas), tv_bc)},
    xlabel="χ² weight λ", ylabel="policy TV to the expert", title="IQ-Learn (χ²): policy TV vs λ", logx=True)
fig.axes[0].set_yscale("log")
save_figure(fig, P.output_dir / "policy_tv_vs_lambda.png")
plt.show()

# %% [markdown]
# Reading the plot: on the exact occupancy the error is pure bias and grows with $\lambda$
# (roughly linearly). On finite demonstrations the error is dominated by sampling noise,
# and a free $Q$ table offers little to shrink it: as in BC, an action never seen in a
# visited state has its $Q$ pushed towards $-\infty$ (checked in `tests/tabular/test_iq_learn.py`),
# and a state never visited keeps the uniform policy. The printout above says whether any
# $\lambda$ beat BC on these data; a large $\lambda$ only adds bias. (The state distribution
# of undiscounted $H$-step episodes is not $\rho_E$; with the "value" term IQ-Learn uses the
# demonstrations' own distribution.)
#
# ## g. Behavioural cloning is the zero-penalty limit
#
# With $\lambda = 0$ and the "value" initial term, for *any* distribution $\rho$,
# $$\mathcal{J}(Q) = \mathbb{E}_\rho[Q - \gamma PV_Q] - \mathbb{E}_\rho[V_Q - \gamma PV_Q]
#  = \mathbb{E}_\rho[Q(s,a) - V_Q(s)] = \alpha\,\mathbb{E}_\rho[\log\pi_Q(a|s)],$$
# the log-likelihood of the demonstrations. Its maximiser over a free table is the
# maximum-likelihood policy $\hat\pi(a|s) = n(s,a)/n(s)$ = `bc_tabular(counts)` on every
# visited state. Unvisited states do not enter $\mathcal{J}$ (their Q stays at its
# initial value) and are **excluded** from the comparison. A visited state where only one
# action was seen has $\hat\pi = 1$, approached but not attained (Q gaps grow until the
# gradient falls below the tolerance).

# %%
bc_errs = []
for k in jax.random.split(bc_key, P.n_directions):
    Q = 3.0 * jax.random.normal(k, (S, A))
    J0 = iq_learn_objective(Q, rho_hat, Pm, g, a, divergence="chi2", chi2_weight=0.0, init_term="value")
    bc_errs.append(abs(float(J0 - a * jnp.sum(rho_hat * jax.nn.log_softmax(Q / a, -1)))))
metrics["bc_identity_max_abs_err"] = max(bc_errs)

visited = counts.sum(-1) > 0
pi_bc = bc_tabular(counts)
fit_bc = fit(counts, 0.0, "value")
metrics["n_visited_states"] = int(visited.sum())
metrics["n_visited_states_single_action"] = int(jnp.sum(visited & (jnp.sum(counts > 0, -1) == 1)))
metrics["bc_limit_policy_max_abs_diff"] = float(jnp.max(jnp.abs(fit_bc.policy - pi_bc)[visited]))
metrics["bc_limit_converged"] = bool(fit_bc.converged)
print(f"J(Q) − α E_ρ[log π_Q], λ = 0, 'value', {P.n_directions} random Q: max {metrics['bc_identity_max_abs_err']:.2e}")
print(f"{metrics['n_visited_states']}/{S} states visited by {P.n_demos} demos "
      f"({metrics['n_visited_states_single_action']} with a single action seen); "
      f"max |π_IQ − π_BC| on visited states = {metrics['bc_limit_policy_max_abs_diff']:.2e}, "
      f"converged = {bool(fit_bc.converged)}")
assert metrics["bc_identity_max_abs_err"] < 1e-10 and metrics["bc_limit_policy_max_abs_diff"] < 1e-6

# %% [markdown]
# **The λ path.** As $\lambda$ grows from 0, the fitted policy leaves BC and moves towards the
# χ² solution at $\lambda$ = `chi2_weight` (same demonstrations, "value" term).

# %%
path_lambdas = [1e-4, 1e-3, 1e-2, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
pi_chi2 = fit(counts, P.chi2_weight, "value").policy
path = [fit(counts, lam_i, "value").policy for lam_i in path_lambdas]
fig = plotting.line_plot(
    path_lambdas,
    {"TV(π_λ, BC)": [policy_tv(p, pi_bc, mask=visited) for p in path],
     f"TV(π_λ, π_χ² at λ = {P.chi2_weight})": [policy_tv(p, pi_chi2, mask=visited) for p in path],
     "TV(π_λ, expert)": [policy_tv(p, pi_E, mask=visited) for p in path]},
    xlabel="χ² weight λ", ylabel="policy TV (visited states)", title="From BC (λ = 0) to χ² IQ-Learn", logx=True)
save_figure(fig, P.output_dir / "lambda_path.png")
plt.show()

# %% [markdown]
# ## Claims
#
# Headline (§f): maximising the IQ-Learn objective over a free $Q$ table, fed the expert's exact
# occupancy at $\lambda = 0$, returns the expert's policy: total variation below $10^{-6}$. A wrong
# objective (a sign, a missing initial-state term, the wrong inverse operator) gives a different
# policy and fails. The other claims are the identities it rests on, each to float64 precision:
#
# - (a) $\mathrm{softmax}(Q/\alpha)$ attains $\alpha\log\sum_a e^{Q/\alpha}$ (Gibbs identity, to $10^{-10}$)
#   and none of the 2 000 random policies per state beats it;
# - (b) the soft Bellman operator contracts by at most γ along every sampled pair;
# - (c) the inverse soft Bellman operator is a bijection: $r \to Q^* \to r$ and $Q \to r \to Q^*$
#   to $10^{-10}$;
# - (e) telescoping: at the exact occupancy the "p0" and "value" initial-state terms agree to $10^{-10}$;
# - (g) at $\lambda = 0$ the objective is $\alpha\,\mathbb{E}_\rho[\log\pi_Q]$ (to $10^{-10}$) and the
#   fitted policy is BC's on the visited states (to $10^{-6}$).
#
# They are identities of the method, so they are asserted at any parameters.

# %%
from iqlib.notebook.claims import Claims

gibbs_err = max(metrics["gibbs_identity_max_abs_err"], metrics["gibbs_kl_identity_max_abs_err"])
bijection_err = max(metrics["round_trip_max_abs_err"], metrics["bijection_max_abs_err"])
claims = Claims()
claims.add("expert_recovered", "Maximising J on the expert's exact occupancy (λ = 0) returns the expert policy "
           "(policy TV)", metrics["iq_policy_tv_exact_occupancy"], "< 1e-6",
           metrics["iq_policy_tv_exact_occupancy"] < 1e-6, headline=True)
claims.add("softmax_is_optimal", "softmax(Q/α) attains the soft value and no random policy beats it (best random "
           "policy's gap; Gibbs identity to 1e-10)", metrics["gibbs_best_random_policy_gap"], "< 0",
           metrics["gibbs_best_random_policy_gap"] < 0 and gibbs_err < 1e-10)
claims.add("soft_bellman_contracts", "The soft Bellman operator is a γ-contraction (largest sampled ratio)",
           metrics["contraction_max_ratio"], f"<= γ = {g:g}", metrics["contraction_max_ratio"] <= g + 1e-12)
claims.add("inverse_bellman_bijection", "The inverse soft Bellman operator is a bijection Q ↔ r (largest round-trip "
           "error)", bijection_err, "< 1e-10", bijection_err < 1e-10)
claims.add("telescoping", "At the exact occupancy the p0 and value initial-state terms agree (largest |difference|)",
           metrics["telescoping_max_abs_diff"], "< 1e-10", metrics["telescoping_max_abs_diff"] < 1e-10)
claims.add("bc_is_zero_penalty_limit", "At λ = 0 IQ-Learn's fitted policy is BC's on visited states (largest "
           "|difference|; J = α E[log π] to 1e-10)", metrics["bc_limit_policy_max_abs_diff"], "< 1e-6",
           metrics["bc_limit_policy_max_abs_diff"] < 1e-6 and metrics["bc_identity_max_abs_err"] < 1e-10)
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())
save_metrics(P.output_dir, metrics)
for k, v in metrics.items():
    print(f"{k:46s} {v}")
