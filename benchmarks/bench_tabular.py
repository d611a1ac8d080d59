"""Wall time of tabular IQ-Learn and the structural MLE, after compilation.

Prints one row per problem: problem size, iterations, converged flag, compile+run time of the
first call and the median of `--repeats` further calls (compiled). Run: `make bench` or
`.venv/bin/python benchmarks/bench_tabular.py`.
"""

import argparse

import jax

jax.config.update("jax_enable_x64", True)  # Rust at β = 0.9999 needs float64 (see notebook 03)
import jax.numpy as jnp

from iqlib.problems import rust_bus
from iqlib.problems.gridworld import make_gridworld
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.mle import fit_structural_mle
from iqlib.tabular.sampling import sample_trajectories, state_action_counts
from iqlib.tabular.soft_bellman import solve_soft_bellman

from _harness import median, timed_call


def timed(fn, repeats):
    """``(fn(), first call's seconds, median seconds of ``repeats`` more calls)``."""
    out, first = timed_call(fn)
    return out, first, median([timed_call(fn)[1] for _ in range(repeats)])


def row(name, size, out, first, median):
    print(f"{name:28s} {size:>10s} {int(out.n_iter):>6d} {str(bool(out.converged)):>9s} {first:10.3f} {median * 1e3:12.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 15, 20])
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; float64")
    print(f"{'problem':28s} {'S x A':>10s} {'iters':>6s} {'converged':>9s} {'first [s]':>10s} {'compiled [ms]':>12s}")
    cfg = IQLearnConfig(chi2_weight=0.5, max_iter=5000, tol=1e-8)
    for n in args.sizes:
        mdp = make_gridworld(n, slip=0.1, discount=0.9, entropy_temperature=0.1)
        P = jnp.asarray(mdp.P, jnp.float64)
        expert = solve_soft_bellman(jnp.asarray(mdp.r, jnp.float64), P, 0.9, 0.1)
        demos = sample_trajectories(jax.random.key(0), mdp.P, mdp.p0, expert.policy, 30, 30)
        counts = state_action_counts(demos["obs"], demos["action"], mdp.n_states, mdp.n_actions)
        for rows in ("expert", "all"):
            c = IQLearnConfig(chi2_weight=0.5, max_iter=5000, tol=1e-8, chi2_rows=rows)
            out, first, med = timed(lambda: fit_iq_learn(counts, P, 0.9, 0.1, c), args.repeats)
            row(f"IQ-Learn GridWorld {n}x{n} χ²:{rows}", f"{mdp.n_states}x5", out, first, med)

    data = rust_bus.load_rust_bus()
    probs, _ = rust_bus.estimate_mileage_transitions(data)
    P = jnp.asarray(rust_bus.rust_transitions(probs))
    phi = jnp.asarray(rust_bus.rust_features())
    counts = jnp.asarray(rust_bus.choice_counts(data))
    for beta in (0.99, 0.9999):
        out, first, med = timed(lambda: fit_iq_learn(counts, P, beta, 1.0, cfg), args.repeats)
        row(f"IQ-Learn Rust β={beta}", "90x2", out, first, med)
        out, first, med = timed(lambda: fit_structural_mle(counts, P, phi, beta, 1.0, theta0=jnp.array([1.0, 5.0])), args.repeats)
        row(f"MLE (NFXP) Rust β={beta}", "90x2", out, first, med)


if __name__ == "__main__":
    main()
