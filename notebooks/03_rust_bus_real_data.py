# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Rust (1987) bus engines, real data: structural MLE vs IQ-Learn
#
# Harold Zurcher ran the bus fleet of the Madison (Wisconsin) Metropolitan Bus Company. Each
# month he either kept a bus's engine or replaced it. John Rust (1987, *Econometrica* 55(5))
# modelled those decisions as a dynamic discrete choice problem and estimated the cost
# parameters by maximum likelihood with his nested fixed point (NFXP) algorithm. It is the
# founding example of structural estimation, and it is a max-entropy inverse RL problem:
#
# * state $x$: mileage since the last replacement, in 5,000-mile bins ($x \in \{0,\dots,89\}$);
# * actions: keep ($a=0$) or replace ($a=1$);
# * reward (utility): $u(x, \text{keep}) = -0.001\,\theta_{11}\,x$, $u(x, \text{replace}) = -RC$;
# * logit shocks of scale $\alpha = 1$, so choices follow $\pi(a|x) = \mathrm{softmax}(Q^*(x,\cdot))$
#   with $Q^*$ the soft-optimal Q (`iqlib.tabular.soft_bellman`);
# * discount $\beta$ (Rust's $\beta = 0.9999$; $\gamma$ in RL notation).
#
# We fit the same 8,260 bus-months two ways: the structural MLE (2 parameters, correct-by-
# construction reward family) and tabular IQ-Learn (a free soft-Q table, no reward family at all).

# %% tags=["parameters"]
output_dir = "outputs/03_rust_bus_real_data"
discount = 0.9999
groups = [1, 2, 3, 4]
chi2_weight = 0.5
iq_max_iter = 5000

# %%
# %load_ext autoreload
# %autoreload 2
from iqlib.notebook.params import Float, Int, ListOf, OutputDir, check_parameters, require_distinct

P = check_parameters(globals(), {
    "output_dir": OutputDir(),
    "discount": Float(0.0, 1.0, hi_open=True),
    "groups": ListOf(Int(1, 4), min_len=1, max_len=4),
    "chi2_weight": Float(0.0),
    "iq_max_iter": Int(1),
})
require_distinct("groups", P.groups, "each bus group is kept once")

import time

import jax

# float64: at β = 0.9999 values are ~1/(1 − β) = 10⁴ times the per-period utilities, so float32
# (7 digits) would leave the log-likelihood accurate to ~0.1 only — the size of what we check.
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from iqlib.problems import rust_bus
from iqlib.data.files import save_figure, save_metrics
from iqlib.tabular.bc import bc_tabular
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.mle import fit_structural_mle

# %% [markdown]
# ## 1 · The data, checked
#
# The file ships in `data/rust_bus/` with its provenance (Rust's data, copied from the MIT-licensed
# `econirl` 0.1.1 wheel). `load_rust_bus` verifies its sha256 before reading a byte of it. We also
# recompute Rust's discretisation — $x_t = \lfloor(\text{odometer}_t - \text{odometer at the last
# replacement})/5000\rfloor$ — and check it against the file's `mileage_bin` column.

# %%
data = rust_bus.load_rust_bus(groups=P.groups)
bins = rust_bus.mileage_bins(data["bus_id"], data["mileage"], data["replaced"])
n_obs, n_buses = len(data["bus_id"]), len(np.unique(data["bus_id"]))
print(f"{n_obs} bus-months, {n_buses} buses, groups {P.groups}, {int(data['replaced'].sum())} replacements")
print(f"recomputed bins equal the file's column: {np.array_equal(bins, data['mileage_bin'])}")

fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
ax[0].hist(data["mileage_bin"], bins=np.arange(91) - 0.5, color="0.5")
ax[0].set(xlabel="mileage bin x (5,000 miles)", ylabel="bus-months", title="where the buses are")
ax[1].hist(data["mileage_bin"][data["replaced"] == 1], bins=np.arange(91) - 0.5, color="C3")
ax[1].set(xlabel="mileage bin x", ylabel="replacements", title="where engines were replaced")
fig.tight_layout()
save_figure(fig, P.output_dir / "data_histograms.png")

# %% [markdown]
# ## 2 · First stage: mileage transitions
#
# Each month mileage moves up by $j \in \{0, 1, 2\}$ bins with probabilities $\theta_3$; Rust
# estimates them by counting the increments in keep-months (replacement months restart at 0).

# %%
probs, inc_counts = rust_bus.estimate_mileage_transitions(data)
print("increment counts (0, 1, 2 bins):", inc_counts.astype(int))
print("θ3 =", np.round(probs, 4))
S = rust_bus.N_BINS
T = jnp.asarray(rust_bus.rust_transitions(probs, S))          # P: (S, 2, S)
features = jnp.asarray(rust_bus.rust_features(S))              # Φ: (S, 2, 2), θ = (θ11, RC)
counts = jnp.asarray(rust_bus.choice_counts(data, S))          # (S, 2)
visited = np.asarray(counts.sum(1) > 0)
print(f"visited bins: {visited.sum()} of {S} (highest {np.flatnonzero(visited).max()})")

# %% [markdown]
# ## 3 · Structural MLE (nested fixed point)
#
# For each candidate $\theta = (\theta_{11}, RC)$ the soft Bellman equation is solved exactly
# (Newton–Kantorovich = soft policy iteration, a few steps even at $\beta = 0.9999$), and the
# choice log-likelihood $\ell(\theta) = \sum_i \log \pi_\theta(a_i | x_i)$ is maximised by L-BFGS
# with exact implicit gradients (`iqlib.tabular.mle`). Parameter scaling as Rust's: cost per bin
# $\theta_c = 0.001\,\theta_{11}$; standard errors from the BHHH outer product of scores.
#
# **Cross-check** (measured with econirl 0.1.1's NFXP on this very file): $RC = 9.8008$,
# $\theta_c = 0.002604$, $\ell = -300.452$ at $\beta = 0.9999$; $RC = 9.3138$,
# $\theta_c = 0.003192$, $\ell = -301.036$ at $\beta = 0.99$.

# %%
REFERENCE = {0.9999: (9.8008, 0.002604, -300.452), 0.99: (9.3138, 0.003192, -301.036)}
t0 = time.perf_counter()
mle = fit_structural_mle(counts, T, features, P.discount, 1.0, theta0=jnp.array([1.0, 5.0]))
mle.theta.block_until_ready()
mle_seconds = time.perf_counter() - t0
theta11, rc = (float(v) for v in mle.theta)
se11, se_rc = (float(v) for v in mle.se)
print(f"MLE at β = {P.discount}: RC = {rc:.4f} (SE {se_rc:.3f}), θ11 = {theta11:.4f} (SE {se11:.3f}), "
      f"θc = {theta11 / 1000:.6f}")
print(f"  log-likelihood {float(mle.loglik):.3f}; converged {bool(mle.converged)} in {int(mle.n_iter)} "
      f"L-BFGS iterations, |grad| {float(mle.grad_norm):.1e}; {mle_seconds:.2f} s incl. compilation")
ref = REFERENCE.get(P.discount) if sorted(P.groups) == [1, 2, 3, 4] else None  # measured on all four groups
if ref is not None:
    print(f"  reference (econirl NFXP): RC {ref[0]}, θc {ref[1]}, loglik {ref[2]}; "
          f"our loglik differs by {float(mle.loglik) - ref[2]:+.3f}")
else:
    print("  (no reference number recorded for this discount and these groups)")

# %% [markdown]
# ## 4 · IQ-Learn on the same data
#
# IQ-Learn knows nothing of the cost structure: it optimises a free soft-Q table $Q: (90, 2)$ by
# maximising the χ² objective over the observed (state, choice) pairs (`iqlib.tabular.iq_learn`,
# Garg et al. 2021 Eq. 10, initial-state term telescoped over the data since $p_0$ is not given):
#
# $$J(Q) = \mathbb{E}_{\rho_E}\big[Q - V_Q\big] - \lambda\, \mathbb{E}_{\rho_E}\big[(Q - \beta P V_Q)^2\big]
#        = \mathbb{E}_{\rho_E}[\log \pi_Q(a|x)] - \lambda\,\mathbb{E}_{\rho_E}[r_Q^2].$$
#
# The first term is the choice log-likelihood (behavioural cloning); the χ² penalty keeps the
# implied reward $r_Q = Q - \beta P V_Q$ small on the data. A free table can fit every visited
# bin's replacement frequency, so its likelihood is *higher* than the 2-parameter MLE's; the price
# is noise in sparsely visited bins.

# %%
config = IQLearnConfig(chi2_weight=P.chi2_weight, max_iter=P.iq_max_iter, tol=1e-8)
t0 = time.perf_counter()
iq = fit_iq_learn(counts, T, P.discount, 1.0, config)
iq.Q.block_until_ready()
iq_seconds = time.perf_counter() - t0
print(f"IQ-Learn (χ², λ = {P.chi2_weight}): converged {bool(iq.converged)} in {int(iq.n_iter)} L-BFGS iterations, "
      f"|grad| {float(iq.grad_norm):.1e}, {iq_seconds:.2f} s incl. compilation")
print(f"  log-likelihood {float(iq.loglik):.3f} (MLE {float(mle.loglik):.3f})")

bc = bc_tabular(counts)
bc_loglik = float(jnp.sum(jnp.where(counts > 0, counts * jnp.log(jnp.where(bc > 0, bc, 1.0)), 0.0)))
print(f"  behavioural cloning (empirical frequencies, the likelihood's upper bound): {bc_loglik:.3f}")

gap = np.abs(np.asarray(iq.policy[:, 1] - mle.policy[:, 1]))
weights = np.asarray(counts.sum(1)) / float(counts.sum())
max_gap = float(gap[visited].max())
worst = int(np.flatnonzero(visited)[np.argmax(gap[visited])])
mean_gap = float(np.sum(weights * gap))
print(f"  |P_IQ(replace|x) − P_MLE(replace|x)|: max over visited bins {max_gap:.3f} (bin {worst}, "
      f"{int(counts[worst].sum())} observations), data-weighted mean {mean_gap:.4f}")

# %% [markdown]
# ## 5 · Replacement probability by mileage
#
# Dots are the empirical replacement frequencies (area ∝ number of bus-months in the bin).

# %%
x = np.arange(S)
fig, ax = plt.subplots(figsize=(8, 4))
freq = np.where(visited, np.asarray(counts[:, 1]) / np.maximum(np.asarray(counts.sum(1)), 1), np.nan)
ax.scatter(x[visited], freq[visited], s=4 + 200 * weights[visited] / weights.max(), c="0.6", label="data (frequency)")
ax.plot(x, np.asarray(mle.policy[:, 1]), "C0", lw=2, label=f"structural MLE (ℓ = {float(mle.loglik):.1f})")
ax.plot(x, np.asarray(iq.policy[:, 1]), "C3", lw=1.5, label=f"IQ-Learn, free table (ℓ = {float(iq.loglik):.1f})")
ax.axvspan(np.flatnonzero(visited).max() + 0.5, S, color="0.92", label="no data")
ax.set(xlabel="mileage bin x (5,000 miles)", ylabel="P(replace | x)", ylim=(-0.02, 1.02),
       title=f"Rust (1987) groups {P.groups}, β = {P.discount}")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
save_figure(fig, P.output_dir / "replacement_probability.png")

# %% [markdown]
# Reading the figure: where data are plentiful (bins 0–40, tens to hundreds of bus-months each)
# IQ-Learn and the MLE agree closely; the largest gaps sit in bins with a handful of observations,
# where the free table follows the noisy frequencies while the structural model pools information
# through its two parameters. Beyond the last visited bin IQ-Learn's table has no data at all: its
# policy there is whatever the χ² penalty and the Bellman coupling leave, not an estimate.
#
# ## 6 · The reward IQ-Learn implies — and why it is not yet $(\theta_{11}, RC)$
#
# IQ-Learn's reward is read off by the inverse soft Bellman operator, $r = Q - \beta P V_Q$. A
# policy determines $Q$ only up to a per-state constant, so this reward is one member of a family
# related by potential shaping $r'(x, a) = r(x, a) + \beta\,\mathbb{E}[\Phi(x')] - \Phi(x)$ — all
# with exactly the same choice probabilities. The χ² penalty picks the member with the smallest
# squared reward on the data, which is not Rust's normalisation ($c(0) = 0$, replace reward
# $= -RC$). Notebook 04 shows how anchoring one action's reward makes it comparable.
#
# There is a second, blunter effect. The χ² penalty only touches observed (state, action) pairs.
# In the bins where no engine was ever replaced, the data say $\pi(\text{replace}|x) = 0$, so the
# likelihood term pushes $Q(x, \text{replace})$ — and with it $r(x, \text{replace})$ — towards
# $-\infty$, held back only by the Bellman coupling and by where L-BFGS stopped. The raw
# difference $r(x, \text{keep}) - r(x, \text{replace})$ is therefore huge exactly in those bins
# (filled dots below). Where both actions were observed (open circles) it is small — but not the
# MLE's $RC - \theta_c x \approx 10$ either: there the χ² penalty has pulled both rewards towards 0,
# picking a shaped member of the family that is not Rust's normalisation (the numbers are printed
# below the figure). Neither is a bug of the solver: this is what "the reward is identified only on
# the data's support, and only up to shaping" looks like on real data; notebook 04 repairs it.

# %%
r_iq = np.asarray(iq.reward)
r_mle = np.asarray(mle.reward)
both = visited & (np.asarray(counts[:, 1]) > 0)
keep_only = visited & ~both
diff = r_iq[:, 0] - r_iq[:, 1]
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(x[keep_only], diff[keep_only], "C3.", label="IQ-Learn, bins with no replacement observed")
ax.plot(x[both], diff[both], "o", mfc="none", color="C3", label="IQ-Learn, bins with both actions observed")
ax.plot(x, r_mle[:, 0] - r_mle[:, 1], "C0", label="MLE: RC − θc·x")
ax.set_yscale("symlog", linthresh=20)
ax.set(xlabel="mileage bin x", ylabel="r(x, keep) − r(x, replace)", title="implied rewards (visited bins, symlog scale)")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, P.output_dir / "implied_rewards.png")
print(f"bins with both actions observed: {both.sum()}; median raw reward difference there "
      f"{np.median(diff[both]):.2f} (MLE RC − θc·x there: {np.median((r_mle[:, 0] - r_mle[:, 1])[both]):.2f}); "
      f"median in keep-only bins {np.median(diff[keep_only]):.0f}")

# %% [markdown]
# ## 7 · The numbers of this run

# %%
metrics = {
    **P.as_metrics(),
    "n_observations": n_obs,
    "n_buses": n_buses,
    "theta3_0": float(probs[0]), "theta3_1": float(probs[1]), "theta3_2": float(probs[2]),
    "mle_loglik": float(mle.loglik),
    "mle_rc": rc,
    "mle_rc_se": se_rc,
    "mle_theta_11": theta11,
    "mle_theta_c": theta11 / 1000,
    "mle_converged": bool(mle.converged),
    "mle_iterations": int(mle.n_iter),
    "mle_seconds": mle_seconds,
    "mle_loglik_minus_reference": (float(mle.loglik) - ref[2]) if ref else None,
    "iq_loglik": float(iq.loglik),
    "iq_converged": bool(iq.converged),
    "iq_iterations": int(iq.n_iter),
    "iq_grad_norm": float(iq.grad_norm),
    "iq_seconds": iq_seconds,
    "iq_max_abs_prob_gap_vs_mle": max_gap,
    "iq_weighted_mean_prob_gap_vs_mle": mean_gap,
    "bc_loglik": bc_loglik,
    "iq_median_reward_diff_both_observed": float(np.median(diff[both])),
}
for k, v in metrics.items():
    print(f"{k:34s} {v}")

# %% [markdown]
# ## 8 · Claims
#
# Headline: on Rust's real data the structural MLE reproduces the reference estimate (econirl's
# NFXP on the same file, §3): log-likelihood within 0.1. Further claims: RC within 1 % of the
# reference; both fits converge; no fit beats the empirical choice frequencies (the
# log-likelihood's upper bound); and at a penalty λ ≤ 0.5 IQ-Learn's free table fits the choices
# better than the 2-parameter model. The reference exists only for all four groups at β = 0.9999
# and β = 0.99: otherwise the first two are stated misses without a number; at λ > 0.5 the last
# is stated with its number, not asserted.

# %%
from iqlib.notebook.claims import Claims

mle_ll, iq_ll = float(mle.loglik), float(iq.loglik)
no_ref = "no reference estimate recorded for this discount and these groups"
claims = Claims()
claims.add("mle_matches_reference", "The structural MLE's log-likelihood matches the reference NFXP estimate on "
           "the same data (|difference|)", abs(mle_ll - ref[2]) if ref else float("nan"), "< 0.1",
           bool(ref) and abs(mle_ll - ref[2]) < 0.1, expected=bool(ref), reason="" if ref else no_ref, headline=True)
claims.add("mle_rc_matches_reference", "The structural MLE's replacement cost RC matches the reference (relative "
           "difference)", abs(rc / ref[0] - 1) if ref else float("nan"), "< 0.01",
           bool(ref) and abs(rc / ref[0] - 1) < 0.01, expected=bool(ref), reason="" if ref else no_ref)
claims.add("both_converged", "The structural MLE and IQ-Learn both converge (number of converged fits)",
           int(bool(mle.converged)) + int(bool(iq.converged)), "== 2", bool(mle.converged) and bool(iq.converged))
bound_slack = bc_loglik - max(iq_ll, mle_ll)
claims.add("frequency_bound", "No fit beats the empirical choice frequencies' log-likelihood (bound minus the "
           "best fit)", bound_slack, ">= -1e-6", bound_slack >= -1e-6)
claims.add("iq_fits_better", "IQ-Learn's free table fits the choices better than the 2-parameter MLE "
           "(log-likelihood difference)", iq_ll - mle_ll, "> 0", iq_ll > mle_ll, expected=P.chi2_weight <= 0.5,
           reason="" if P.chi2_weight <= 0.5 else "a χ² weight above 0.5 may shrink the table below the MLE's fit")
print(claims.table())
failed = claims.failures()  # "" when every claim this notebook stands behind holds
assert not failed, f"claims that do not hold: {failed}"
metrics.update(claims.metrics())
save_metrics(P.output_dir, metrics)
