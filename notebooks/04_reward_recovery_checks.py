# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 — Reward recovery that passes its checks
#
# IQ-Learn (Garg et al., NeurIPS 2021) learns a soft Q-function; the policy is
# $\pi = \mathrm{softmax}(Q/\alpha)$ and the reward is read off by the inverse soft Bellman
# operator $r_Q = Q - \gamma P V_Q$. On a known-truth dynamic discrete choice (DDC) problem the
# *policy* comes out right but the raw *reward*, $V$ and $Q$ do not. This notebook reproduces
# that failure, explains it (identification: potential shaping), fixes it (anchor
# normalisation), checks counterfactuals, draws the sampling noise floor, shows what projecting
# onto the reward basis buys when the data are thin, compares with econirl 0.1.1, and
# re-estimates Rust's (1987) bus data.
#
# Checks and gates (`iqlib.tabular.recovery.GATES`): policy TV ≤ 0.05; nRMSE of reward, $V$, $Q$ ≤ 0.10 (both
# arrays z-scored over the evaluated states, then RMSE); EPIC distance; the share of the
# reward gap that is potential shaping; counterfactual regret ≤ 0.05 (0 optimal, 1 uniform).

# %% tags=["parameters"]
output_dir = "outputs/04_reward_recovery_checks"
seed = 0
n_states = 21
n_actions = 3
discount = 0.95
n_obs = 160000
n_periods = 100
min_state_count = 100
chi2_weight = 0.01
chi2_weight_paper = 0.5
chi2_path = [1.0, 0.5, 0.25, 0.1, 0.03, 0.01, 0.001]
sample_sizes = [1000, 10000, 100000, 1000000]
n_seeds = 2
q_degree = 4
thin_theta = [0.3, 0.3, 7.0, 7.0]
thin_panels = 8
rust_discount = 0.9999
rust_q_degrees = [1, 2, 3]
rust_q_degree = 2

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import Float, Int, ListOf, OutputDir, check_parameters, require, require_distinct

P = check_parameters(globals(), {
    "output_dir": OutputDir(), "seed": Int(0), "n_states": Int(5, 400), "n_actions": Int(2, 6),
    "discount": Float(0.0, 1.0, hi_open=True), "n_obs": Int(100), "n_periods": Int(1), "min_state_count": Int(1),
    "chi2_weight": Float(0.0), "chi2_weight_paper": Float(0.0), "chi2_path": ListOf(Float(0.0), min_len=1),
    "sample_sizes": ListOf(Int(100), min_len=1), "n_seeds": Int(1, 20), "q_degree": Int(0, 10),
    "rust_discount": Float(0.0, 1.0, hi_open=True), "rust_q_degrees": ListOf(Int(0, 8), min_len=1),
    "rust_q_degree": Int(0, 8), "thin_theta": ListOf(Float(0.0), min_len=2),
    "thin_panels": Int(1, 100),
})
require(P.n_periods <= min(P.n_obs, *P.sample_sizes),
        f"n_periods ({P.n_periods}) must be <= n_obs ({P.n_obs}) and <= every sample_sizes entry "
        f"({min(P.sample_sizes)}): a panel shorter than n_periods would silently get fewer periods")
require(P.min_state_count <= P.n_obs,
        f"min_state_count ({P.min_state_count}) must be <= n_obs ({P.n_obs}): otherwise no state is evaluated")
require(P.q_degree < P.n_states,
        f"q_degree ({P.q_degree}) must be < n_states ({P.n_states}): the Legendre basis has q_degree + 1 columns per action")
require(len(P.thin_theta) == P.n_actions + 1,
        f"thin_theta must have n_actions + 1 = {P.n_actions + 1} entries (θ1, θ2, RC, then one repair cost per repair "
        f"action), got {len(P.thin_theta)}")
require_distinct("sample_sizes", P.sample_sizes, "the noise-floor metrics are keyed by n")
require_distinct("chi2_path", P.chi2_path, "each λ of the path is fitted once")
require_distinct("rust_q_degrees", P.rust_q_degrees, "the Rust rows are keyed by degree")

import json
import time

import jax

# float64: Rust's γ = 0.9999 makes V ≈ 10⁴ × the flow reward, and the policy lives in the
# differences Q(s, a) − V(s) ≈ 1; float32 keeps ~7 significant digits of V, so ~1e-3 of the
# differences would be round-off, and the anchor equation (I − γ P_a0) V = … has condition
# number ~ 1/(1 − γ). The known-truth problems use float64 too, for tight solves.
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from iqlib.tabular import recovery as rc
from iqlib.tabular.bc import bc_tabular
from iqlib.tabular.anchor import anchor_normalise, anchor_normalise_q, fit_iq_learn_anchored, read_off_linear_cost
from iqlib.problems.ddc import make_ddc, q_basis, simulate_panel, standard_interventions
from iqlib.data.files import save_figure, save_metrics
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.metrics import policy_tv
from iqlib.tabular.mle import fit_structural_mle
from iqlib.tabular.projection import project_reward
from iqlib.notebook.plotting import bar_table, line_plot
from iqlib.notebook.runner import REPO_ROOT
from iqlib.problems.rust_bus import (choice_counts, estimate_mileage_transitions, load_rust_bus, rust_features,
                            rust_transitions)
from iqlib.tabular.soft_bellman import soft_value, solve_soft_bellman

T0 = time.perf_counter()
key = jax.random.key(P.seed)
metrics = P.as_metrics()

# %% [markdown]
# ## 1. The known-truth problem
#
# `iqlib.problems.ddc.make_ddc` builds a Rust-style problem: a wear state $x\in\{0,\dots,S-1\}$,
# $z = x/(S-1)$; **keep** ($r = -\theta_1 z - \theta_2 z^2$, wear grows by a random
# $j\in\{0,\dots,J\}$), **repair** ($r=-c_1$, wear drops), **replace** ($r = -RC$, wear resets to
# $j$), logit shocks of scale $\alpha = 1$. The panel is $n$ observations from the true
# soft-optimal policy, individuals starting from its stationary distribution.

# %%
truth = make_ddc(P.n_states, P.n_actions, P.discount, seed=P.seed)
mdp = truth.mdp
Pm, r_true, alpha = np.asarray(mdp.P), np.asarray(mdp.r), mdp.entropy_temperature
ivs = standard_interventions(truth)
print(truth.name, dict(zip(truth.theta_names, np.round(truth.theta, 3))), "anchor:", truth.action_names[truth.anchor_action])
key, k_panel = jax.random.split(key)
panel = simulate_panel(k_panel, truth, P.n_obs, P.n_periods)
counts = panel["counts"]
# evaluated states: enough data, and every action seen (a never-chosen action has no finite
# log-frequency, so no data-driven reward there)
ev = (counts.sum(1) >= P.min_state_count) & (counts.min(1) > 0)
w_ev = np.where(ev[:, None], counts, 0.0)
print(f"{int(counts.sum())} observations; {ev.sum()} of {mdp.n_states} states have ≥ {P.min_state_count} observations and every action seen (evaluated)")

# %% [markdown]
# ## 2. Shaping invariance, numerically
#
# For any potential $\Phi:\mathcal S\to\mathbb R$, the reward
# $r'(s,a) = r(s,a) + \gamma (P_a\Phi)(s) - \Phi(s)$ has soft-optimal $Q' = Q + \ldots$, precisely
# $Q'^*(s,a) = Q^*(s,a) - \Phi(s)$ and $V'^* = V^* - \Phi$, so
# $\pi' = \mathrm{softmax}(Q'/\alpha) = \pi$: **the policy cannot tell $r$ from $r'$**. A
# reward read off a policy (or off IQ-Learn's $Q$, whose per-state constant is free) is one
# member of this family. Gleave et al.'s EPIC removes *pointwise* shaping
# $\gamma\Phi(s') - \Phi(s)$ of rewards $R(s,a,s')$; the inverse-Bellman family above is the
# *expected* shaping $\gamma P\Phi - \Phi$, so we also report a dynamics-aware EPIC that
# projects out the span of $G\Phi = \gamma P\Phi - \Phi$ (`iqlib.tabular.recovery.epic_distance_dynamics`).

# %%
phi = np.random.default_rng(P.seed).normal(scale=3.0, size=mdp.n_states)
r_shaped = r_true + mdp.discount * np.einsum("sat,t->sa", Pm, phi) - phi[:, None]
sol_shaped = solve_soft_bellman(jnp.asarray(r_shaped), mdp.P, mdp.discount, alpha)
shaping_demo = {
    "max |π' − π|": float(np.abs(np.asarray(sol_shaped.policy) - truth.policy).max()),
    "max |Q' − (Q − Φ)|": float(np.abs(np.asarray(sol_shaped.Q) - (truth.Q - phi[:, None])).max()),
    "reward nRMSE(r, r')": rc.nrmse(r_true, r_shaped),
    "EPIC (Gleave, lifted)": rc.epic_distance(r_true, r_shaped, mdp.discount),
    "EPIC (dynamics-aware)": rc.epic_distance_dynamics(r_true, r_shaped, Pm, mdp.discount),
    "shaping share of r' − r": rc.shaping_residual(r_true, r_shaped, Pm, mdp.discount).shaping_share,
}
an_shaped = anchor_normalise_q(sol_shaped.Q, mdp.P, mdp.discount, alpha, truth.anchor_action, truth.anchor_reward)
shaping_demo["max |anchor(π') − r|"] = float(np.abs(np.asarray(an_shaped.reward) - r_true).max())
for k, v in shaping_demo.items():
    print(f"{k:28s} {v:.3g}")
metrics.update({"shaping_policy_maxdiff": shaping_demo["max |π' − π|"], "shaping_reward_nrmse": shaping_demo["reward nRMSE(r, r')"],
                "shaping_epic": shaping_demo["EPIC (Gleave, lifted)"], "shaping_epic_dynamics": shaping_demo["EPIC (dynamics-aware)"],
                "shaping_anchor_maxdiff": shaping_demo["max |anchor(π') − r|"]})

# %% [markdown]
# Same policy to machine precision, a reward that looks nothing like the truth by nRMSE, an
# EPIC that only the dynamics-aware version brings to 0 — and the anchor normalisation
# returns the true reward exactly. That last line is the fix.
#
# ## 3. Anchor normalisation
#
# Suppose one action's reward is known: $r(\cdot,a_0)$ for $a_0$ = replace (here $-RC$; any
# known value works, §9 uses 0). Since $\alpha\log\pi(a|s) = Q(s,a) - V(s)$ and
# $Q(s,a_0) = r(s,a_0) + \gamma(P_{a_0}V)(s)$,
# $$(I-\gamma P_{a_0})\,V = r(\cdot,a_0) - \alpha\log\pi(a_0|\cdot),\qquad
#   r(s,a) = \alpha\log\pi(a|s) + V(s) - \gamma(P_aV)(s).$$
# $I-\gamma P_{a_0}$ is invertible, so $V$, $Q$ and $r$ are **unique** given the policy: the
# anchor picks one member of the shaping family — the true one, if the anchor is true.
#
# ## 4. Estimators on the same panel
#
# - **raw IQ-Learn**: tabular χ², $\phi(x) = x-\lambda x^2$, at the paper-style $\lambda$ and at
#   the notebook's $\lambda$; reward $= Q-\gamma PV_Q$.
# - **IQ-Learn + anchor**: the same $Q$'s policy, anchor-normalised.
# - **IQ-Learn, anchor inside**: $Q$ parametrised so that every candidate satisfies the anchor
#   (`fit_iq_learn_anchored`), so the χ² penalty acts on anchored rewards.
# - **linear-Q IQ-Learn + anchor**: $Q$ linear in per-action Legendre polynomials of $z$.
# - **projected**: the reward projected onto the true features, $\Phi\hat\theta$ with
#   $\hat\theta = \arg\min_\theta \sum_{s,a} n(s,a)\,(\hat r(s,a) - \Phi(s,a)\theta)^2$ over the evaluated states
#   (`iqlib.tabular.projection.project_reward`), then its soft-optimal policy, $V$ and $Q$: the
#   second, least-squares step of a two-step CCP estimator (Hotz & Miller 1993; Pesendorfer &
#   Schmidt-Dengler 2008). Projecting the raw reward projects its shaping too; the anchored one is the right input.
# - **CCP inversion**: the empirical choice frequencies (½ pseudo-count) anchor-normalised —
#   Hotz & Miller's (1993) inversion, the $\lambda\to0$ limit of IQ-Learn.
# - **structural MLE**: the oracle under correct specification.

# %%
def cfg(lam):
    return IQLearnConfig(divergence="chi2", chi2_weight=float(lam), init_term="value", tol=1e-8, max_iter=5000)


def anchored(Qhat):
    return anchor_normalise_q(Qhat, mdp.P, mdp.discount, alpha, truth.anchor_action, truth.anchor_reward)


def evaluated(c):
    """States with at least min_state_count observations and every action seen (the checks' states)."""
    return (c.sum(1) >= P.min_state_count) & (c.min(1) > 0)


def projected(reward, tr=None, c=None):
    """`project_reward` onto tr's true features, count-weighted on the evaluated states of counts c (default: the
    panel's); returns (policy, reward, V, Q) of the projected reward, the arguments of `report`."""
    tr = truth if tr is None else tr
    w = w_ev if c is None else np.where(evaluated(c)[:, None], c, 0.0)
    pr = project_reward(reward, tr.features, w, tr.mdp.P, tr.mdp.discount, tr.mdp.entropy_temperature)
    assert pr.converged, "the soft Bellman solve of the projected reward did not converge"
    return pr.policy, pr.reward, pr.V, pr.Q


def report(policy, reward=None, V=None, Q=None, c=None, tr=None):
    """Every check of an estimate against tr (default: this problem) on the evaluated states of counts c."""
    tr = truth if tr is None else tr
    evm = ev if c is None else evaluated(c)
    wm = w_ev if c is None else np.where(evm[:, None], c, 0.0)
    return rc.recovery_report(tr, np.asarray(policy), None if reward is None else np.asarray(reward),
                              None if V is None else np.asarray(V), None if Q is None else np.asarray(Q),
                              states=evm, weights=wm, interventions=ivs if tr is truth else standard_interventions(tr))


t_fit = time.perf_counter()
rows, fits = {}, {}
for lam, tag in [(P.chi2_weight_paper, "paper λ"), (P.chi2_weight, "λ")]:
    res = fit_iq_learn(counts, mdp.P, mdp.discount, alpha, cfg(lam))
    fits[tag] = res
    rows[f"raw IQ-Learn ({tag}={lam:g})"] = report(res.policy, res.reward, res.V, res.Q)
    an = anchored(res.Q)
    rows[f"IQ-Learn + anchor ({tag}={lam:g})"] = report(res.policy, an.reward, an.V, an.Q)
    print(f"IQ-Learn λ={lam:g}: converged={bool(res.converged)} in {int(res.n_iter)} iterations, ℓ={float(res.loglik):.2f}")
res_in = fit_iq_learn_anchored(counts, mdp.P, mdp.discount, alpha, truth.anchor_action, truth.anchor_reward, cfg(P.chi2_weight))
rows[f"IQ-Learn, anchor inside (λ={P.chi2_weight:g})"] = report(res_in.policy, res_in.reward, res_in.V, res_in.Q)
res_lin = fit_iq_learn(counts, mdp.P, mdp.discount, alpha, cfg(P.chi2_weight), features=q_basis(mdp.n_states, mdp.n_actions, P.q_degree))
an_lin = anchored(res_lin.Q)
rows[f"linear-Q IQ-Learn + anchor (deg {P.q_degree})"] = report(res_lin.policy, an_lin.reward, an_lin.V, an_lin.Q)
rows["raw IQ-Learn projected on Φ"] = report(*projected(fits["λ"].reward))
rows["IQ-Learn + anchor projected on Φ"] = report(*projected(anchored(fits["λ"].Q).reward))
ccp = bc_tabular(counts, 0.5)
an_ccp = anchor_normalise(jnp.log(ccp), mdp.P, mdp.discount, alpha, truth.anchor_action, truth.anchor_reward)
rows["CCP inversion + anchor"] = report(ccp, an_ccp.reward, an_ccp.V, an_ccp.Q)
rows["CCP inversion + anchor projected on Φ"] = report(*projected(an_ccp.reward))
# exact features give θ exactly: the true reward projects onto itself (any positive weights)
theta_exact_err = float(np.max(np.abs(project_reward(r_true, truth.features, w_ev, mdp.P, mdp.discount, alpha).theta
                                      - truth.theta)))
print(f"true reward projected on Φ: max |θ̂ − θ| = {theta_exact_err:.1e}")
mle = fit_structural_mle(counts, mdp.P, truth.features, mdp.discount, alpha)
rows["structural MLE"] = report(mle.policy, mle.reward, soft_value(mle.Q, alpha), mle.Q)
print(f"fits and checks: {time.perf_counter() - t_fit:.1f} s; MLE θ = {np.round(np.asarray(mle.theta), 3)} (truth {np.round(truth.theta, 3)})")

cols = ["policy_tv", "reward_nrmse", "V_nrmse", "Q_nrmse", "epic", "epic_dynamics", "shaping_share", "regret_a", "regret_b", "regret_c", "passes_all"]


def md_table(rows, cols):
    lines = ["| estimator | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, rec in rows.items():
        cells = [("✓" if rec[c] else "✗") if isinstance(rec.get(c), bool) else (f"{rec[c]:.3f}" if c in rec else "–") for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


table_known = md_table(rows, cols)
print(table_known)

# %% [markdown]
# **Reading the table.** The raw IQ-Learn reward fails nRMSE for reward, $V$ and $Q$ while
# its policy and the counterfactuals A (reward shift) and C (action removed) are fine: the
# "shaping share" column says that nearly all of the raw reward's gap to the truth is potential
# shaping. Anchor-normalised, the same policy gives the truth back. The χ² weight matters
# too: at the paper-style $\lambda$ the penalty $\lambda\,\mathbb E_{\rho_E}[r_Q^2]$ trades
# likelihood for small rewards and biases the *policy* (its TV does not shrink with $n$), and
# that bias propagates into the normalised reward; at small $\lambda$ IQ-Learn is close to the
# CCP inversion and passes. Imposing the anchor inside the optimisation is worse for the same
# reason: the penalty then acts on the anchored rewards, which are large. EPIC (Gleave, on
# lifted state-action rewards) stays well above 0 even for pure shaping, so it cannot
# certify a shaped reward; the dynamics-aware version can.
#
# ## 5. Why transition changes (B) are the ones shaping breaks
#
# If $\hat r = r + \gamma P\Phi - \Phi$, then under a **reward shift** $\hat r+\Delta$ is a
# shaping of $r+\Delta$ with the same $\Phi$, and with an **action removed** the remaining
# actions are still shaped by $\Phi$: same optimal policy, zero regret. Under **new
# transitions** $P'$, $\hat r = r + \gamma P\Phi - \Phi \ne r + \gamma P'\Phi - \Phi$: the
# shaping term was tied to the old dynamics and now acts as a real reward, so the re-solved
# policy is wrong. Only the anchored reward transfers to type B.

# %%
names_cf = [f"raw IQ-Learn (paper λ={P.chi2_weight_paper:g})", f"raw IQ-Learn (λ={P.chi2_weight:g})",
            f"IQ-Learn + anchor (λ={P.chi2_weight:g})", "CCP inversion + anchor"]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
for ax, k, iv in zip(axes, "abc", ivs):
    vals = [rows[n][f"regret_{k}"] for n in names_cf]
    ax.bar(range(len(vals)), vals, color=["#c44", "#e88", "#2a7", "#59c"])
    ax.axhline(rc.GATES[f"regret_{k}"], color="k", ls="--", lw=1)
    ax.set_xticks(range(len(vals)), ["raw λ₁", "raw λ", "anchor λ", "CCP"], fontsize=8)
    ax.set_title(iv.name, fontsize=9)
axes[0].set_ylabel("normalised regret (0 optimal, 1 uniform)")
fig.tight_layout()
save_figure(fig, P.output_dir / "counterfactual_regret.png")

# %% [markdown]
# ## 6. The χ² path towards BC, and the sampling noise floor
#
# $\lambda = 1/(4\alpha_{\chi^2})$ in the paper's notation; with the telescoped initial term,
# $J(Q) = \alpha\,\mathbb E_{\rho_E}[\log\pi_Q] - \lambda\,\mathbb E_{\rho_E}[r_Q^2]$, so
# $\lambda\to0$ is behavioural cloning (and, tabular, the CCP inversion). Then the noise
# floor: the same estimators at growing sample sizes, several seeds.

# %%
path = {"policy TV": [], "anchor reward nRMSE": [], "raw reward nRMSE": []}
for lam in P.chi2_path:
    res = fit_iq_learn(counts, mdp.P, mdp.discount, alpha, cfg(lam))
    rep_raw = report(res.policy, res.reward)
    rep_an = report(res.policy, anchored(res.Q).reward)
    path["policy TV"].append(rep_an["policy_tv"])
    path["anchor reward nRMSE"].append(rep_an["reward_nrmse"])
    path["raw reward nRMSE"].append(rep_raw["reward_nrmse"])
fig = line_plot(np.array(P.chi2_path), path, "χ² weight λ", "check value", "IQ-Learn along the χ² path (n = %d)" % P.n_obs, logx=True)
fig.axes[0].axhline(0.10, color="k", ls="--", lw=1)
fig.axes[0].axhline(0.05, color="k", ls=":", lw=1)
save_figure(fig, P.output_dir / "chi2_path.png")
for lam, tv, a in zip(P.chi2_path, path["policy TV"], path["anchor reward nRMSE"]):
    print(f"λ={lam:<6g} TV={tv:.3f}  anchor reward nRMSE={a:.3f}")

# %%
GATE_KEYS = {"free_reward_nrmse": "free table (CCP + anchor) reward nRMSE", "proj_reward_nrmse": "projection reward nRMSE",
             "free_policy_tv": "free table policy TV", "proj_policy_tv": "projection policy TV"}


def gate_values(tr, c):
    """Reward nRMSE and policy TV on the evaluated states of counts c, for the free table (the anchored CCP
    inversion, ½ pseudo-count) and for its projection onto tr's features; NaN when no state is evaluated, and for
    the projection when the evaluated states do not identify θ (the basis restricted to them is rank-deficient)."""
    evm = evaluated(c)
    out = dict.fromkeys(GATE_KEYS, np.nan)
    if not evm.any():
        return out
    m = tr.mdp
    cc = bc_tabular(c, 0.5)
    an_c = anchor_normalise(jnp.log(cc), m.P, m.discount, m.entropy_temperature, tr.anchor_action, tr.anchor_reward)
    out.update(free_reward_nrmse=rc.nrmse(m.r, an_c.reward, evm), free_policy_tv=policy_tv(tr.policy, cc, mask=evm))
    K = tr.features.shape[-1]
    if np.linalg.matrix_rank(tr.features[evm].reshape(-1, K)) == K:
        pol, rew, _, _ = projected(an_c.reward, tr, c)
        out.update(proj_reward_nrmse=rc.nrmse(m.r, rew, evm), proj_policy_tv=policy_tv(tr.policy, pol, mask=evm))
    return out


gates = {"existing": {k: np.zeros((P.n_seeds, len(P.sample_sizes))) for k in GATE_KEYS}}
curve_keys = ["raw IQ reward", "IQ+anchor reward", "IQ+anchor V", "IQ+anchor Q", "CCP+anchor reward", "MLE reward", "IQ policy TV"]
curves = {k: np.zeros((P.n_seeds, len(P.sample_sizes))) for k in curve_keys}
t_curve = time.perf_counter()
for i in range(P.n_seeds):
    for j, n in enumerate(P.sample_sizes):
        key, k_n = jax.random.split(key)
        c = simulate_panel(k_n, truth, n, P.n_periods)["counts"]
        res = fit_iq_learn(c, mdp.P, mdp.discount, alpha, cfg(P.chi2_weight))
        an = anchored(res.Q)
        raw = report(res.policy, res.reward, c=c)
        anr = report(res.policy, an.reward, an.V, an.Q, c=c)
        cc = bc_tabular(c, 0.5)
        ccr = report(cc, anchor_normalise(jnp.log(cc), mdp.P, mdp.discount, alpha, truth.anchor_action, truth.anchor_reward).reward, c=c)
        m_n = fit_structural_mle(c, mdp.P, truth.features, mdp.discount, alpha)
        mr = report(m_n.policy, m_n.reward, c=c)
        for k, v in zip(curve_keys, [raw["reward_nrmse"], anr["reward_nrmse"], anr["V_nrmse"], anr["Q_nrmse"],
                                     ccr["reward_nrmse"], mr["reward_nrmse"], anr["policy_tv"]]):
            curves[k][i, j] = v
        for k, v in gate_values(truth, c).items():
            gates["existing"][k][i, j] = v
print(f"sample-size sweep: {time.perf_counter() - t_curve:.1f} s")
fig, ax = plt.subplots(figsize=(6.5, 4))
x = np.array(P.sample_sizes)
for k, y in curves.items():
    m_, s_ = y.mean(0), y.std(0)
    (ln,) = ax.plot(x, m_, marker="o", ms=3, label=k)
    ax.fill_between(x, m_ - s_, m_ + s_, color=ln.get_color(), alpha=0.2, lw=0)
ax.axhline(0.10, color="k", ls="--", lw=1)
ax.set(xscale="log", yscale="log", xlabel="observations n", ylabel="nRMSE / TV (mean ± sd over seeds)",
       title=f"Noise floor, λ={P.chi2_weight:g}, states with ≥ {P.min_state_count} obs, all actions seen")
ax.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, P.output_dir / "sample_size_curves.png")
print("n:", P.sample_sizes)
for k, y in curves.items():
    print(f"{k:18s}", np.round(y.mean(0), 3))

# %% [markdown]
# The raw reward's nRMSE does not fall with $n$: its error is identification (shaping), not
# noise. The anchored reward, $V$ and $Q$ fall like the CCP inversion's, towards the MLE's,
# which uses the correct 4-parameter model and so has the lowest floor.
#
# ## 7. Thin data: the free table against the projection onto the reward basis
#
# A free-table reward is read state by state: the anchored reward at $s$ rests on the choice
# frequencies at $s$ and, through $V$, on those of the states it leads to. Where the data
# leave most states with few observations it is as noisy as those frequencies. When the
# reward is known to be linear in features, $r = \Phi\theta$, projecting the anchored reward onto
# $\Phi$ by count-weighted least squares pools every state into $K$ numbers
# (`iqlib.tabular.projection.project_reward`; the projected reward is then re-solved for its
# soft-optimal policy).
#
# The thin-data cell comes from the same generator with another $\theta$ (`thin_theta`): cheap
# wear, expensive repair and replacement. Engines are run up to the top wear state $S-1$, where
# keeping is absorbing ($x \to \min(x+j, S-1) = S-1$), and stay there until a rare repair or
# replacement: most observations sit in that one state, and the others get few. The panel has
# the same size as §4's. The gates are taken on the evaluated states (enough observations,
# every action seen), as everywhere in this notebook. One panel gets every check (the table);
# then `thin_panels` panels of the same size (that one included) get the two gates, since on
# thin data one panel's verdict depends on the draw.

# %%
thin = make_ddc(P.n_states, P.n_actions, P.discount, seed=P.seed, theta=np.asarray(P.thin_theta, float))
tm = thin.mdp
key, k_thin = jax.random.split(key)
c_thin = simulate_panel(k_thin, thin, P.n_obs, P.n_periods)["counts"]
ev_thin = evaluated(c_thin)
top_share = float(c_thin[-1].sum() / c_thin.sum())
print(f"thin cell θ = {dict(zip(thin.theta_names, np.round(thin.theta, 3)))}: stationary share of the top state "
      f"{float(np.asarray(tm.p0)[-1]):.3f}; in the panel {top_share:.3f} of {int(c_thin.sum())} observations; "
      f"the other states have a median of {np.median(c_thin[:-1].sum(1)):.0f} (min {c_thin[:-1].sum(1).min():.0f}); "
      f"{int(ev_thin.sum())} of {tm.n_states} states evaluated")
reset = np.flatnonzero(np.asarray(tm.P)[0, thin.anchor_action] > 0)  # where replacement leads, from any state
print(f"replacement resets to states {reset.tolist()}: true π(replace | s) there "
      f"{np.round(thin.policy[reset, thin.anchor_action], 4).tolist()}; replacements seen there in the panel "
      f"{c_thin[reset, thin.anchor_action].astype(int).tolist()} of {c_thin[reset].sum(1).astype(int).tolist()} observations")
t_thin = time.perf_counter()
thin_rows = {}
ccp_t = bc_tabular(c_thin, 0.5)
an_t = anchor_normalise(jnp.log(ccp_t), tm.P, tm.discount, alpha, thin.anchor_action, thin.anchor_reward)
thin_rows["CCP inversion + anchor (free table)"] = report(ccp_t, an_t.reward, an_t.V, an_t.Q, c=c_thin, tr=thin)
thin_rows["CCP inversion + anchor projected on Φ"] = report(*projected(an_t.reward, thin, c_thin), c=c_thin, tr=thin)
res_t = fit_iq_learn(c_thin, tm.P, tm.discount, alpha, cfg(P.chi2_weight))
an_iq_t = anchor_normalise_q(res_t.Q, tm.P, tm.discount, alpha, thin.anchor_action, thin.anchor_reward)
thin_rows[f"IQ-Learn + anchor (λ={P.chi2_weight:g})"] = report(res_t.policy, an_iq_t.reward, an_iq_t.V, an_iq_t.Q,
                                                              c=c_thin, tr=thin)
thin_rows[f"IQ-Learn + anchor projected on Φ (λ={P.chi2_weight:g})"] = report(*projected(an_iq_t.reward, thin, c_thin),
                                                                             c=c_thin, tr=thin)
mle_t = fit_structural_mle(c_thin, tm.P, thin.features, tm.discount, alpha)
thin_rows["structural MLE"] = report(mle_t.policy, mle_t.reward, soft_value(mle_t.Q, alpha), mle_t.Q, c=c_thin, tr=thin)
table_thin = md_table(thin_rows, cols)
print(table_thin)
panel_gates = [gate_values(thin, c_thin)]
for _ in range(P.thin_panels - 1):
    key, k_p = jax.random.split(key)
    panel_gates.append(gate_values(thin, simulate_panel(k_p, thin, P.n_obs, P.n_periods)["counts"]))
thin_panel = {k: np.array([g[k] for g in panel_gates]) for k in GATE_KEYS}
print(f"{P.thin_panels} panels of {P.n_obs} observations on the thin cell:")
for k, label in GATE_KEYS.items():
    print(f"  {label:40s}", " ".join(f"{v:.3f}" for v in thin_panel[k]), f"  median {np.nanmedian(thin_panel[k]):.3f}")

gates["thin"] = {k: np.zeros((P.n_seeds, len(P.sample_sizes))) for k in GATE_KEYS}
for i in range(P.n_seeds):
    for j, n in enumerate(P.sample_sizes):
        key, k_n = jax.random.split(key)
        for k, v in gate_values(thin, simulate_panel(k_n, thin, n, P.n_periods)["counts"]).items():
            gates["thin"][k][i, j] = v
print(f"thin cell fits, checks and sweep: {time.perf_counter() - t_thin:.1f} s")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, (cell, g) in zip(axes, gates.items()):
    for k, label in GATE_KEYS.items():
        m_ = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in g[k].T])
        ax.plot(x, m_, marker="o", ms=3, ls="-" if "reward" in k else ":", color="#59c" if "free" in k else "#2a7", label=label)
    ax.axhline(rc.GATES["reward_nrmse"], color="k", ls="--", lw=1)
    ax.axhline(rc.GATES["policy_tv"], color="k", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="observations n", title=f"{cell} cell (mean over {P.n_seeds} seeds)")
axes[0].set_ylabel("reward nRMSE (gate 0.10) / policy TV (gate 0.05)")
axes[0].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, P.output_dir / "thin_data_gates.png")
print("n:", P.sample_sizes, f"(mean over {P.n_seeds} seeds, then the spread min–max; NaN: no state evaluated, "
      "or, for the projection, too few to identify θ)")
for cell, g in gates.items():
    for k, label in GATE_KEYS.items():
        print(f"{cell:8s} {label:40s}", "  ".join(f"{np.nanmean(v):.3f} [{np.nanmin(v):.3f}–{np.nanmax(v):.3f}]"
                                                  if np.isfinite(v).any() else "NaN" for v in g[k].T))
thin_free, thin_proj, thin_proj_tv = (float(np.nanmedian(thin_panel[k]))
                                      for k in ("free_reward_nrmse", "proj_reward_nrmse", "proj_policy_tv"))
thin_proj_worst = float(np.nanmax(thin_panel["proj_reward_nrmse"]))
print(f"at n = {P.n_obs}, median over {P.thin_panels} thin panels: reward nRMSE free table {thin_free:.3f}, projected "
      f"{thin_proj:.3f} (gate {rc.GATES['reward_nrmse']:.2f}; projected on the worst panel {thin_proj_worst:.3f}, the free "
      f"table passes on {int(np.sum(thin_panel['free_reward_nrmse'] <= rc.GATES['reward_nrmse']))} of {P.thin_panels}); "
      f"the existing cell's panel: {rows['CCP inversion + anchor']['reward_nrmse']:.3f} and "
      f"{rows['CCP inversion + anchor projected on Φ']['reward_nrmse']:.3f}")

# %% [markdown]
# **Reading the thin-data results.** On the existing cell every state is well observed and the
# free table and the projection both pass once $n$ is large. On the thin cell the free table's
# reward gate rests on the thinly observed states, and the projection, which pools them through
# the few parameters of the basis, passes at sample sizes where the free table does not (the lines printed above;
# the claims at the end check it on the median panel at the defaults' size). At the panel size
# the thin cell's policy gate is easy for both: the choice frequencies of the evaluated states are
# accurate even where their log-ratios are not.
#
# **Where the projection still misses.** Pooling averages away noise that differs from state to
# state, not noise that every state shares. The anchored value of *every* state contains
# $\gamma\,\mathbb E[V(j)]$ over the states $j$ that replacement resets to: low-wear states, among the least
# observed of this cell, where replacement itself is rarest (its true probability there and the
# few replacements the first panel saw are printed above). The log of those few counts (with the ½
# pseudo-count) shifts the anchored reward of the best-observed states too, the top state
# included, and the count-weighted fit trusts the top state most: on an unlucky panel the
# projected reward misses the gate (the worst panel above; the table is for the first panel, and
# its structural MLE row shows how far even the correctly specified likelihood is on that panel).
# The table also lists IQ-Learn + anchor at the notebook's λ and its projection, for comparison
# with §4.
#
# ## 8. Side by side with econirl 0.1.1
#
# `benchmarks/econirl_compare.py` runs iqlib here and econirl 0.1.1 (PyPI, MIT) in a separate
# process from its own virtualenv on identical panels — this notebook's known-truth panel at
# $n$ = 160,000 and Rust's data — and computes every check with the same `iqlib.tabular.recovery`
# code. The notebook shows the recorded table (`data/peers/econirl_table.json`); it does not
# need econirl.

# %%
table_path = REPO_ROOT / "data" / "peers" / "econirl_table.json"
peer_cols = ["wall_s", "first_call_warm_cache_s", "converged", "loglik", "policy_tv", "reward_nrmse", "V_nrmse", "Q_nrmse", "epic", "epic_dynamics",
             "anchor_reward_nrmse", "regret_a", "regret_b", "regret_c"]
if table_path.exists():
    peer = json.loads(table_path.read_text())
    lines = ["| panel | method | " + " | ".join(peer_cols) + " |", "|---|---|" + "---|" * len(peer_cols)]
    for row in peer["rows"]:
        cells = [("✓" if row[c] else "✗") if isinstance(row.get(c), bool) else
                 (f"{row[c]:.4g}" if isinstance(row.get(c), (int, float)) else "–") for c in peer_cols]
        lines.append(f"| {row['panel']} | {row['method']} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    sp = [r for r in peer["rows"] if r["method"] == "econirl IQ-Learn" and "speedup_iqlib_cold" in r]
    for r in sp:
        print(f"{r['panel']}: econirl IQ-Learn {r['wall_s']:.2f} s; iqlib tabular solve is {r['speedup_iqlib_cold']:.0f}× faster cold "
              f"(incl. JIT compilation), {r['speedup_iqlib_warm']:.0f}× warm"
              + (f", {r['speedup_iqlib_warm_cache']:.0f}× on the first call of a fresh process with a warm "
                 "compilation cache" if "speedup_iqlib_warm_cache" in r else ""))
        metrics[f"peer_speedup_cold_{r['panel']}"] = r["speedup_iqlib_cold"]
        if "speedup_iqlib_warm_cache" in r:
            metrics[f"peer_speedup_warm_cache_{r['panel']}"] = r["speedup_iqlib_warm_cache"]
        metrics[f"peer_speedup_warm_{r['panel']}"] = r["speedup_iqlib_warm"]
else:
    print(f"no recorded table at {table_path}: run benchmarks/econirl_compare.py")

# %% [markdown]
# ## 9. Rust's bus data: IQ-Learn + anchor normalisation, RC and θc read off
#
# In Rust's model $u(x,\text{keep}) = -\theta_c x$, $u(x,\text{replace}) = -RC$. Take the
# anchor $r(\cdot,\text{replace}) = 0$ (RC is unknown, so anchoring at $-RC$ would be
# circular). The true reward is a member of the family with
# $\Phi \equiv -RC/(1-\gamma)$: $\gamma P_a\Phi - \Phi = RC$ for every $a$, so the anchored
# reward is the truth **shifted by $+RC$**:
# $$\hat r(x,\text{replace}) = 0,\qquad \hat r(x,\text{keep}) = RC - \theta_c x.$$
# RC is the intercept and $\theta_c$ the slope of the normalised keep reward. What identifies
# RC? At $x = 0$ keep and replace lead to the same next state, so
# $\hat r(0,\text{keep}) = \log\pi(\text{keep}|0) - \log\pi(\text{replace}|0) = RC$:
# **RC is the log-odds of keeping a new engine**. No bus in the data is replaced near $x = 0$,
# so that log-odds is never observed: a free-table estimate (IQ-Learn or CCP) leaves it
# unbounded, and RC is identified only by extrapolating a smooth choice model down to
# $x = 0$ — the MLE does it with the linear cost, linear-Q IQ-Learn with a polynomial $Q$.
# We read RC and $\theta_c$ off by a count-weighted least-squares line over visited states.

# %%
rb = load_rust_bus()
probs, _ = estimate_mileage_transitions(rb)
P_r = jnp.asarray(rust_transitions(probs))
c_r = choice_counts(rb)
S_r = c_r.shape[0]
xs = np.arange(S_r)
w_r = c_r.sum(1)
print(f"{int(c_r.sum())} bus-months, {int(c_r[:, 1].sum())} replacements; visited bins 0–{np.flatnonzero(w_r).max()}; "
      f"replacements in bins < 10: {int(c_r[:10, 1].sum())}")
t_r = time.perf_counter()
mle_r = fit_structural_mle(c_r, P_r, rust_features(S_r), P.rust_discount, 1.0)
th11, rc_mle = (float(v) for v in mle_r.theta)
rust_rows = {"structural MLE": dict(RC=rc_mle, theta11=th11, loglik=float(mle_r.loglik), converged=bool(mle_r.converged))}
res_free = fit_iq_learn(c_r, P_r, P.rust_discount, 1.0, cfg(P.chi2_weight))
an_free = anchor_normalise_q(res_free.Q, P_r, P.rust_discount, 1.0, 1, 0.0)
b0, b1 = read_off_linear_cost(an_free.reward[:, 0], xs, w_r)
rust_rows[f"free-table IQ-Learn + anchor (λ={P.chi2_weight:g})"] = dict(RC=b0, theta11=1000 * b1, loglik=float(res_free.loglik),
                                                                       converged=bool(res_free.converged))
lin = {}
for deg in sorted(set(P.rust_q_degrees) | {P.rust_q_degree}):
    res_d = fit_iq_learn(c_r, P_r, P.rust_discount, 1.0, cfg(P.chi2_weight), features=q_basis(S_r, 2, deg))
    an_d = anchor_normalise_q(res_d.Q, P_r, P.rust_discount, 1.0, 1, 0.0)
    b0, b1 = read_off_linear_cost(an_d.reward[:, 0], xs, w_r)
    lin[deg] = (res_d, an_d)
    rust_rows[f"linear-Q IQ-Learn + anchor (deg {deg}, λ={P.chi2_weight:g})"] = dict(
        RC=b0, theta11=1000 * b1, loglik=float(res_d.loglik), converged=bool(res_d.converged))
print(f"Rust fits: {time.perf_counter() - t_r:.1f} s")
lines = ["| estimator | RC | θ₁₁ (= 1000 θc) | RC / RC_MLE − 1 | log-likelihood | converged |", "|---|---|---|---|---|---|"]
for n, v in rust_rows.items():
    lines.append(f"| {n} | {v['RC']:.3f} | {v['theta11']:.3f} | {v['RC'] / rc_mle - 1:+.1%} | {v['loglik']:.2f} | {v['converged']} |")
table_rust = "\n".join(lines)
print(table_rust)

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
vis = w_r > 0
ax.plot(xs[vis], np.asarray(an_free.reward[:, 0])[vis] - np.asarray(an_free.reward[0, 0]) + rc_mle, ".", color="0.6",
        label="free-table IQ + anchor (shifted to MLE at x=0: its level is unbounded)")
for deg, (_, an_d) in lin.items():
    ax.plot(xs[vis], np.asarray(an_d.reward[:, 0])[vis], label=f"linear-Q IQ + anchor, deg {deg}")
ax.plot(xs[vis], rc_mle - th11 * 1e-3 * xs[vis], "k--", label=f"MLE: RC − θc·x (RC={rc_mle:.2f})")
ax.set(xlabel="mileage bin x (5,000 miles)", ylabel="normalised keep reward r̂(x, keep)",
       title=f"Rust data, anchor r(·, replace) = 0, γ={P.rust_discount:g}")
ax.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, P.output_dir / "rust_normalised_keep_reward.png")

# %% [markdown]
# **What is identified.** The free-table reward's *shape* in $x$ is pinned down where there
# are data, but its *level* — and so RC — is not: it hangs on $\log\pi(\text{replace}\mid x\le2)$,
# which the data never see. With a smooth $Q$, RC comes out of an extrapolation, and the
# table shows how much it moves with the polynomial degree: this is the honest uncertainty of
# RC under any estimator that does not impose Rust's linear cost. The MLE imposes it, and
# its RC is exactly as good as that assumption. Said plainly: at the defaults (γ = 0.9999) the
# degree-2 fit lands within 5 % of the MLE's RC (the claims at the end check it), degrees 1 and 3
# do not (the `RC / RC_MLE − 1` column of the table above), and nothing in the data singles out
# degree 2 (the likelihood keeps rising with the degree). Read the 5 % agreement as "a
# quadratic log-odds extrapolates like Rust's model", not as an independent confirmation.
#
# ## 10. What IQ-Learn adds over a CCP inversion, and what it does not
#
# - **Does not add** identification. IQ-Learn recovers a policy; the reward it reads off is
#   one member of the shaping family, fixed by an arbitrary side effect of the χ² penalty.
#   Every extra structure that makes the reward meaningful (the anchor, the feature
#   projection) is the same one a Hotz–Miller CCP inversion needs, and on a tabular problem
#   with good coverage the anchored IQ-Learn reward converges to the anchored CCP inversion as
#   $\lambda\to0$ (§6). At the paper's χ² weights the penalty biases the policy, so IQ-Learn
#   is *worse* than the plain inversion there.
# - **Adds** a smooth, finite $Q$ where counts are thin or zero (the penalty keeps rewards
#   bounded, where $\log$ of an empirical frequency is $-\infty$), one concave objective that
#   extends unchanged to linear and neural $Q$ (continuous or huge state spaces, where there
#   are no counts to invert), and a solve whose cost does not grow with $n$ (counts are
#   sufficient statistics). It learns the policy and a consistent soft $Q$ jointly, so
#   counterfactuals that keep the dynamics (A, C) work straight away; type B needs the anchor.

# %%
known = rows
anchor_name = f"IQ-Learn + anchor (λ={P.chi2_weight:g})"
raw_name = f"raw IQ-Learn (λ={P.chi2_weight:g})"
raw_paper = f"raw IQ-Learn (paper λ={P.chi2_weight_paper:g})"
rust_pick = rust_rows[f"linear-Q IQ-Learn + anchor (deg {P.rust_q_degree}, λ={P.chi2_weight:g})"]
metrics.update({
    "iq_raw_reward_nrmse": known[raw_name]["reward_nrmse"], "iq_raw_value_nrmse": known[raw_name]["V_nrmse"],
    "iq_raw_q_nrmse": known[raw_name]["Q_nrmse"], "iq_raw_epic": known[raw_name]["epic"],
    "iq_raw_epic_dynamics": known[raw_name]["epic_dynamics"], "iq_raw_shaping_share": known[raw_name]["shaping_share"],
    "iq_raw_regret_a": known[raw_name]["regret_a"], "iq_raw_regret_b": known[raw_name]["regret_b"],
    "iq_raw_regret_c": known[raw_name]["regret_c"],
    "iq_paper_policy_tv": known[raw_paper]["policy_tv"], "iq_paper_raw_reward_nrmse": known[raw_paper]["reward_nrmse"],
    "iq_paper_anchor_reward_nrmse": known[f"IQ-Learn + anchor (paper λ={P.chi2_weight_paper:g})"]["reward_nrmse"],
    "iq_policy_tv": known[anchor_name]["policy_tv"],
    "iq_anchor_reward_nrmse": known[anchor_name]["reward_nrmse"], "iq_anchor_value_nrmse": known[anchor_name]["V_nrmse"],
    "iq_anchor_q_nrmse": known[anchor_name]["Q_nrmse"], "iq_anchor_epic_dynamics": known[anchor_name]["epic_dynamics"],
    "iq_anchor_regret_a": known[anchor_name]["regret_a"], "iq_anchor_regret_b": known[anchor_name]["regret_b"],
    "iq_anchor_regret_c": known[anchor_name]["regret_c"], "iq_anchor_passes_all": known[anchor_name]["passes_all"],
    "iq_anchor_inside_reward_nrmse": known[f"IQ-Learn, anchor inside (λ={P.chi2_weight:g})"]["reward_nrmse"],
    "iq_anchor_inside_policy_tv": known[f"IQ-Learn, anchor inside (λ={P.chi2_weight:g})"]["policy_tv"],
    "ccp_anchor_reward_nrmse": known["CCP inversion + anchor"]["reward_nrmse"],
    "mle_reward_nrmse": known["structural MLE"]["reward_nrmse"],
    "n_evaluated_states": int(ev.sum()),
    "rust_mle_rc": rc_mle, "rust_mle_theta11": th11, "rust_mle_loglik": float(mle_r.loglik),
    "rust_iq_anchor_rc": rust_pick["RC"], "rust_iq_anchor_theta11": rust_pick["theta11"],
    "rust_iq_anchor_loglik": rust_pick["loglik"], "rust_iq_anchor_rc_rel_err": rust_pick["RC"] / rc_mle - 1,
    "rust_free_iq_anchor_rc": rust_rows[f"free-table IQ-Learn + anchor (λ={P.chi2_weight:g})"]["RC"],
    **{f"rust_iq_anchor_rc_deg{d}": rust_rows[f"linear-Q IQ-Learn + anchor (deg {d}, λ={P.chi2_weight:g})"]["RC"] for d in lin},
    **{f"curve_{k.replace(' ', '_').replace('+', '')}_n{n}": float(curves[k][:, j].mean())
       for k in curve_keys for j, n in enumerate(P.sample_sizes)},
    "ccp_anchor_projected_reward_nrmse": known["CCP inversion + anchor projected on Φ"]["reward_nrmse"],
    "projection_theta_exact_err": theta_exact_err,
    "thin_top_share": top_share, "thin_n_evaluated_states": int(ev_thin.sum()),
    "thin_median_free_reward_nrmse": thin_free, "thin_median_proj_reward_nrmse": thin_proj,
    "thin_worst_proj_reward_nrmse": thin_proj_worst, "thin_median_proj_policy_tv": thin_proj_tv,
    **{f"thin_{k}_{n}": v for n, rec in [("free", thin_rows["CCP inversion + anchor (free table)"]),
                                       ("proj", thin_rows["CCP inversion + anchor projected on Φ"]),
                                       ("iq_anchor", thin_rows[f"IQ-Learn + anchor (λ={P.chi2_weight:g})"]),
                                       ("iq_anchor_proj", thin_rows[f"IQ-Learn + anchor projected on Φ (λ={P.chi2_weight:g})"]),
                                       ("mle", thin_rows["structural MLE"])]
       for k, v in rec.items() if k in ("reward_nrmse", "policy_tv", "passes_all")},
    **{f"gates_{cell}_{k}_n{n}": (float(np.nanmean(g[k][:, j])) if np.isfinite(g[k][:, j]).any() else None)
       for cell, g in gates.items() for k in GATE_KEYS for j, n in enumerate(P.sample_sizes)},
    "runtime_s": time.perf_counter() - T0,
})
(P.output_dir / "tables.md").write_text("## Known truth\n\n" + table_known + "\n\n## Thin data\n\n" + table_thin
                                        + "\n\n## Rust\n\n" + table_rust + "\n")
print(json.dumps({k: metrics[k] for k in ["iq_raw_reward_nrmse", "iq_anchor_reward_nrmse", "iq_anchor_value_nrmse",
                                          "iq_anchor_q_nrmse", "iq_policy_tv", "iq_anchor_regret_a", "iq_anchor_regret_b",
                                          "iq_anchor_regret_c", "rust_iq_anchor_rc", "rust_mle_rc", "runtime_s"]}, indent=1))

# %% [markdown]
# ## Claims
#
# Headline: with the default small penalty (λ ≤ 0.01) and enough data (≥ 10⁵ observations),
# IQ-Learn + anchor passes every gate (policy TV, nRMSE of reward / V / Q, the three
# counterfactual regrets); the value is the worst check as a fraction of its gate, so ≤ 1 passes.
# Further claims, asserted at any size: raw IQ-Learn rewards fail the reward gate, and their gap
# to the truth is almost all potential shaping (share > 0.9); the oracle MLE passes the reward
# gate. On Rust's data at the defaults (γ = 0.9999, degree 2) the anchored linear-Q IQ-Learn's RC
# is within 5 % of the MLE's (a deterministic number on fixed data; at another discount or degree
# it is stated with its number, not asserted).
#
# Thin data (§7), at the defaults' thin cell and panel size, on the median of the `thin_panels`
# panels: the anchored CCP inversion projected onto the reward basis passes the reward gate and
# the policy gate, while the free table (the same anchored inversion, unprojected) fails the
# reward gate. The free table's miss is a claim about thin data, so it is asserted only at the
# defaults' panel size (more data make the free table pass, see the sweep); the projection's pass
# is asserted with at least the defaults' data. Stated, not asserted: the projection passes on
# every panel (it misses on an unlucky draw, for the reason given in §7). Asserted at any size:
# projecting the true reward onto its own features returns the true θ.

# %%
from iqlib.notebook.claims import Claims

gate = rc.GATES["reward_nrmse"]
anchor_row = known[anchor_name]
worst_gate = max(anchor_row[k] / g for k, g in rc.GATES.items() if k in anchor_row)
enough = P.chi2_weight <= 0.01 and P.n_obs >= 100_000
rust_default = P.rust_discount == 0.9999 and P.rust_q_degree == 2
rust_err = abs(metrics["rust_iq_anchor_rc_rel_err"])
claims = Claims()
claims.add("anchored_passes_all", "IQ-Learn + anchor passes every recovery gate (worst check / its gate)", worst_gate,
           "<= 1", bool(anchor_row["passes_all"]), expected=enough, headline=True,
           reason="" if enough else "λ above 0.01 or fewer than 10⁵ observations")
claims.add("raw_reward_fails_gate", "The raw IQ-Learn reward fails the reward gate (nRMSE)",
           metrics["iq_raw_reward_nrmse"], f"> {gate}", metrics["iq_raw_reward_nrmse"] > gate)
claims.add("raw_gap_is_shaping", "The raw reward's gap to the truth is almost all potential shaping (share)",
           metrics["iq_raw_shaping_share"], "> 0.9", metrics["iq_raw_shaping_share"] > 0.9)
claims.add("mle_passes_reward_gate", "The structural MLE (the oracle) passes the reward gate (nRMSE)",
           metrics["mle_reward_nrmse"], f"<= {gate}", metrics["mle_reward_nrmse"] <= gate)
claims.add("rust_rc_within_5pct", "On Rust's data the anchored linear-Q IQ-Learn's RC is within 5 % of the MLE's "
           "(|relative difference|)", rust_err, "<= 0.05", rust_err <= 0.05, expected=rust_default,
           reason="" if rust_default else "another discount or degree than the defaults (γ = 0.9999, degree 2)")
thin_problem = ((P.n_states, P.n_actions, P.discount, P.n_periods, P.min_state_count) == (21, 3, 0.95, 100, 100)
                and P.thin_theta == [0.3, 0.3, 7.0, 7.0])
thin_enough = thin_problem and P.n_obs >= 160_000 and P.thin_panels >= 8
thin_at_defaults = thin_problem and P.n_obs == 160_000 and P.thin_panels >= 8
why_thin = "" if thin_enough else ("another thin cell or problem than the defaults, fewer than 160,000 observations "
                                   "or fewer than 8 panels")
claims.add("projection_exact_theta", "Projecting the true reward onto its own features returns the true θ "
           "(max |θ̂ − θ|)", theta_exact_err, "<= 1e-8", theta_exact_err <= 1e-8)
claims.add("thin_projection_passes_reward_gate", "On the thin-data cell the anchored CCP inversion projected onto the "
           "reward basis passes the reward gate (nRMSE, median panel)", thin_proj, f"<= {gate}", thin_proj <= gate,
           expected=thin_enough, reason=why_thin)
claims.add("thin_projection_passes_policy_gate", "On the thin-data cell the projected reward's soft-optimal policy "
           "passes the policy gate (TV, median panel)", thin_proj_tv, f"<= {rc.GATES['policy_tv']}",
           thin_proj_tv <= rc.GATES["policy_tv"], expected=thin_enough, reason=why_thin)
claims.add("thin_free_table_fails_reward_gate", "On the thin-data cell the free table (anchored CCP inversion) fails "
           "the reward gate (nRMSE, median panel)", thin_free, f"> {gate}", thin_free > gate, expected=thin_at_defaults,
           reason="" if thin_at_defaults else "not the defaults' thin cell and panel size: the free table's miss is "
           "a claim about thin data, and more data make it pass (the sweep of §7)")
claims.add("thin_projection_passes_every_panel", "On the thin-data cell the projection passes the reward gate on "
           "every panel (worst nRMSE)", thin_proj_worst, f"<= {gate}", thin_proj_worst <= gate, expected=False,
           reason="the anchored value of every state rests on the few replacements seen at the low-wear states that "
           "replacement resets to; that error is shared by all states, so pooling does not remove it (§7)")
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())
metrics["runtime_s"] = time.perf_counter() - T0
save_metrics(P.output_dir, metrics)
