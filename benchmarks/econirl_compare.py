"""iqlib vs econirl 0.1.1 on identical panels: wall time, convergence, log-likelihood, every check.

    .venv/bin/python benchmarks/econirl_compare.py [--peers-python .venv-peers/bin/python]
                                                   [--n-obs 160000] [--out data/peers]

Two panels: the known-truth DDC problem of notebook 04 (`iqlib.problems.ddc.make_ddc(21, 3, 0.95)`,
160,000 observations = 1,600 individuals × 100 periods, seed 0) and Rust's (1987) real bus
data (γ = 0.9999). This process runs iqlib (float64); econirl runs in a *separate* process
from its own virtualenv (`pip install econirl==0.1.1`, the `peers` extra), because importing
econirl switches JAX to float64 for the whole process and pins its own versions. The worker
receives the panel as an .npz and returns policies, Q, V and rewards, so every check below
is computed by the same `iqlib.tabular.recovery` code for every method.

Estimators (all at α = 1):
  iqlib IQ-Learn      tabular χ², λ = 0.25 (= econirl's α_χ² = 1), init "value", L-BFGS (optax)
  econirl IQLearn     tabular χ², alpha = 1, L-BFGS-B (scipy), its defaults otherwise
  iqlib MLE           structural NFXP-style MLE (`iqlib.tabular.mle.fit_structural_mle`)
  econirl NFXP        BHHH, SA→NK polyalgorithm (defaults)
  econirl MCE-IRL     L-BFGS-B (defaults, bootstrap SEs off)

Writes `<out>/econirl_table.json` (one flat record per (panel, method)) and prints a markdown
table. Timings include JIT compilation for both libraries (each is called once, cold), and
also a second, warm iqlib call. iqlib's first call is also timed in two fresh processes that
share one new persistent compilation cache (`iqlib.core.compile_cache`): the first process
fills it (`first_call_cold_cache_s`), the second reads it (`first_call_warm_cache_s`) — what a
second papermill run of a notebook pays.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_PERIODS = 100


# ----------------------------------------------------------------------------- econirl side
def worker(npz_path: str, out_path: str) -> None:
    """Runs inside the peers venv: econirl only (plus numpy)."""
    import jax
    import jax.numpy as jnp
    import econirl
    from econirl.core.types import DDCProblem, Panel, Trajectory
    from econirl.estimation import IQLearnEstimator, MCEIRLEstimator, NFXPEstimator
    from econirl.estimation.iq_learn import IQLearnConfig
    from econirl.estimation.mce_irl import MCEIRLConfig
    from econirl.preferences.action_reward import ActionDependentReward

    d = np.load(npz_path)
    S, A = int(d["S"]), int(d["A"])
    gamma = float(d["gamma"])
    obs, act, nxt, ep = d["obs"], d["action"], d["next_obs"], d["episode_id"]
    starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
    ends = np.r_[starts[1:], len(ep)]
    trajs = [Trajectory(states=jnp.asarray(obs[a:b]), actions=jnp.asarray(act[a:b]),
                        next_states=jnp.asarray(nxt[a:b]), individual_id=int(ep[a])) for a, b in zip(starts, ends)]
    panel = Panel(trajectories=trajs)
    problem = DDCProblem(num_states=S, num_actions=A, discount_factor=gamma, scale_parameter=1.0)
    trans = jnp.asarray(np.transpose(d["P"], (1, 0, 2)))  # econirl: (A, S, S)
    feats = d["features"]
    utility = ActionDependentReward(jnp.asarray(feats), [f"theta{k}" for k in range(feats.shape[-1])])
    out = {"econirl_version": econirl.__version__, "jax_version": jax.__version__}
    runs = {
        "econirl IQ-Learn": lambda: IQLearnEstimator(IQLearnConfig(q_type="tabular", divergence="chi2", alpha=1.0,
                                                                  optimizer="L-BFGS-B")),
        "econirl NFXP": lambda: NFXPEstimator(),
        "econirl MCE-IRL": lambda: MCEIRLEstimator(MCEIRLConfig(compute_se=False)),
    }
    for name, make in runs.items():
        try:
            t0 = time.perf_counter()
            res = make().estimate(panel, utility, problem, trans)
            wall = time.perf_counter() - t0
            rec = {"wall_s": wall, "converged": bool(res.converged), "loglik": float(res.log_likelihood),
                   "n_iter": int(res.num_iterations) if res.num_iterations is not None else None,
                   "policy": np.asarray(res.policy, float).tolist(),
                   "V": np.asarray(res.value_function, float).tolist()}
            meta = res.metadata or {}
            if "reward_table" in meta:
                rec["reward"] = meta["reward_table"]
                if meta.get("projected_reward_matrix") is not None:
                    rec["reward_projected"] = meta["projected_reward_matrix"]
            else:
                rec["reward"] = (feats @ np.asarray(res.parameters, float)).tolist()
                rec["theta"] = np.asarray(res.parameters, float).tolist()
            out[name] = rec
        except Exception as err:  # record, do not hide
            out[name] = {"error": f"{type(err).__name__}: {err}"}
        print(f"[econirl worker] {name}: {out[name].get('wall_s', out[name].get('error'))}", flush=True)
    pathlib.Path(out_path).write_text(json.dumps(out))


# ----------------------------------------------------------------------------- iqlib side
def _panels(n_obs: int):
    import jax

    from iqlib.problems.ddc import make_ddc, simulate_panel
    from iqlib.problems.rust_bus import (choice_counts, estimate_mileage_transitions, load_rust_bus, rust_features,
                                rust_transitions)

    truth = make_ddc(21, 3, 0.95, seed=0)
    data = simulate_panel(jax.random.key(0), truth, n_obs, N_PERIODS)
    ddc = dict(name="ddc_S21_A3_g0.95", truth=truth, P=np.asarray(truth.mdp.P), gamma=0.95, features=truth.features,
               counts=data["counts"], obs=np.asarray(data["obs"]), action=np.asarray(data["action"]),
               next_obs=np.asarray(data["next_obs"]), episode_id=np.asarray(data["episode_id"]))
    rb = load_rust_bus()
    probs, _ = estimate_mileage_transitions(rb)
    P = rust_transitions(probs)
    same = np.r_[(rb["bus_id"][1:] == rb["bus_id"][:-1]), False]
    nxt = np.where(same, np.r_[rb["mileage_bin"][1:], 0], rb["mileage_bin"])  # last month: no successor observed
    rust = dict(name="rust_bus_g0.9999", truth=None, P=P, gamma=0.9999, features=rust_features(),
                counts=choice_counts(rb), obs=np.minimum(rb["mileage_bin"], 89), action=rb["replaced"],
                next_obs=np.minimum(nxt, 89), episode_id=rb["bus_id"])
    return [ddc, rust]


def _checks(panel, policy, reward, V, Q):
    """Every check against the truth (known-truth panel only), over states with ≥ 30 observations."""
    from iqlib.tabular import counterfactual as cf
    from iqlib.tabular import recovery as rc
    from iqlib.tabular.metrics import policy_tv
    from iqlib.tabular.anchor import anchor_normalise
    from iqlib.problems.ddc import wear_faster

    t = panel["truth"]
    if t is None:
        return {}
    m = t.mdp
    P, r, g = np.asarray(m.P), np.asarray(m.r), m.discount
    ev = panel["counts"].sum(1) >= 30
    w = np.where(ev[:, None], panel["counts"], 0.0)
    out = {"policy_tv": policy_tv(t.policy, policy, mask=ev)}
    if reward is not None:
        delta = np.zeros_like(r)
        delta[:, t.anchor_action] = -1.0
        ivs = [cf.reward_shift(delta), cf.transition_change(wear_faster(t)), cf.action_removed(1, m.n_actions)]
        out.update({
            "reward_nrmse": rc.nrmse(r, reward, ev),
            "epic": rc.epic_distance(r, reward, g),
            "epic_dynamics": rc.epic_distance_dynamics(r, reward, P, g, w),
            "shaping_share": rc.shaping_residual(r, reward, P, g, w).shaping_share,
            **{f"regret_{k}": cf.counterfactual_regret(reward, r, P, m.p0, g, m.entropy_temperature, iv) for k, iv in zip("abc", ivs)},
        })
    if V is not None:
        out["V_nrmse"] = rc.nrmse(t.V, V, ev)
    if Q is not None:
        out["Q_nrmse"] = rc.nrmse(t.Q, Q, ev)
    an = anchor_normalise(np.log(np.clip(policy, 1e-300, None)), P, g, m.entropy_temperature, t.anchor_action, t.anchor_reward)
    out.update({"anchor_reward_nrmse": rc.nrmse(r, an.reward, ev), "anchor_V_nrmse": rc.nrmse(t.V, an.V, ev),
                "anchor_Q_nrmse": rc.nrmse(t.Q, an.Q, ev)})
    return out


def iq_learn_config():
    """iqlib's IQ-Learn settings of the comparison: χ², λ = 0.25 (econirl's α_χ² = 1), init "value", tol 1e-8."""
    from iqlib.tabular.iq_learn import IQLearnConfig

    return IQLearnConfig(divergence="chi2", chi2_weight=0.25, init_term="value", tol=1e-8, max_iter=5000)


def run_iqlib(panel):
    import jax.numpy as jnp

    from iqlib.tabular.iq_learn_fit import fit_iq_learn
    from iqlib.tabular.mle import fit_structural_mle
    from iqlib.tabular.soft_bellman import soft_value

    recs = {}
    cfg = iq_learn_config()
    args = (panel["counts"], jnp.asarray(panel["P"]), panel["gamma"], 1.0, cfg)
    times = []
    for _ in range(2):  # cold (with compilation), then warm
        t0 = time.perf_counter()
        res = fit_iq_learn(*args)
        res.Q.block_until_ready()
        times.append(time.perf_counter() - t0)
    recs["iqlib IQ-Learn"] = dict(wall_s=times[0], wall_warm_s=times[1], converged=bool(res.converged),
                                  loglik=float(res.loglik), n_iter=int(res.n_iter),
                                  **_checks(panel, np.asarray(res.policy), np.asarray(res.reward),
                                            np.asarray(res.V), np.asarray(res.Q)))
    t0 = time.perf_counter()
    mle = fit_structural_mle(panel["counts"], jnp.asarray(panel["P"]), jnp.asarray(panel["features"]), panel["gamma"])
    mle.Q.block_until_ready()
    wall = time.perf_counter() - t0
    recs["iqlib MLE"] = dict(wall_s=wall, converged=bool(mle.converged), loglik=float(mle.loglik), n_iter=int(mle.n_iter),
                             **{f"theta{k}": float(v) for k, v in enumerate(np.asarray(mle.theta))},
                             **_checks(panel, np.asarray(mle.policy), np.asarray(mle.reward),
                                       np.asarray(soft_value(mle.Q, 1.0)), np.asarray(mle.Q)))
    return recs


def first_call(index: int, n_obs: int) -> None:
    """Worker: iqlib IQ-Learn's first call on panel ``index`` in this fresh process; prints seconds."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from iqlib.tabular.iq_learn_fit import fit_iq_learn

    panel = _panels(n_obs)[index]
    cfg = iq_learn_config()
    t0 = time.perf_counter()
    fit_iq_learn(panel["counts"], jax.numpy.asarray(panel["P"]), panel["gamma"], 1.0, cfg).Q.block_until_ready()
    print(json.dumps({"first_call_s": time.perf_counter() - t0}))


def first_calls_with_cache(index: int, n_obs: int) -> dict:
    """iqlib's first call in two fresh processes sharing a new persistent compilation cache."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
               "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0", "PYTHONPATH": str(ROOT)}
        for label in ("first_call_cold_cache_s", "first_call_warm_cache_s"):
            res = subprocess.run([sys.executable, __file__, "--first-call", str(index), "--n-obs", str(n_obs)],
                                 check=True, env=env, capture_output=True, text=True)
            out[label] = json.loads(res.stdout.strip().splitlines()[-1])["first_call_s"]
    return out


def run_econirl(panel, peers_python):
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = os.path.join(tmp, "panel.npz"), os.path.join(tmp, "out.json")
        np.savez(npz, S=panel["P"].shape[0], A=panel["P"].shape[1], gamma=panel["gamma"], P=panel["P"],
                 features=panel["features"], obs=panel["obs"], action=panel["action"],
                 next_obs=panel["next_obs"], episode_id=panel["episode_id"])
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        subprocess.run([peers_python, __file__, "--worker", npz, out], check=True, env=env)
        raw = json.loads(pathlib.Path(out).read_text())
    recs, meta = {}, {k: raw.pop(k) for k in ("econirl_version", "jax_version")}
    counts = panel["counts"]
    for name, r in raw.items():
        if "error" in r:
            recs[name] = {"error": r["error"]}
            continue
        pol = np.asarray(r["policy"])
        ll = float(np.sum(np.where(counts > 0, counts * np.log(np.clip(pol, 1e-300, None)), 0.0)))
        reward = np.asarray(r["reward"]) if "reward" in r else None
        V = np.asarray(r["V"]) if r.get("V") is not None else None
        Q = reward + panel["gamma"] * np.einsum("sat,t->sa", panel["P"], V) if (reward is not None and V is not None) else None
        rec = dict(wall_s=r["wall_s"], converged=r["converged"], loglik=r["loglik"], loglik_from_policy=ll,
                   n_iter=r["n_iter"], **{f"theta{k}": v for k, v in enumerate(r.get("theta", []))})
        rec.update(_checks(panel, pol, reward, V, Q))
        if "reward_projected" in r and panel["truth"] is not None:
            from iqlib.tabular.recovery import nrmse
            rec["projected_reward_nrmse"] = nrmse(np.asarray(panel["truth"].mdp.r), np.asarray(r["reward_projected"]),
                                                  counts.sum(1) >= 30)
        recs[name] = rec
    return recs, meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    p.add_argument("--n-obs", type=int, default=160_000)
    p.add_argument("--out", default=str(ROOT / "data" / "peers"))
    p.add_argument("--worker", nargs=2, metavar=("NPZ", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--first-call", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        worker(*a.worker)
        return 0
    if a.first_call is not None:
        first_call(a.first_call, a.n_obs)
        return 0
    import jax

    jax.config.update("jax_enable_x64", True)  # γ = 0.9999: values ~ 1e4 · reward; float32 loses the Q differences
    rows, meta = [], {}
    have_peers = pathlib.Path(a.peers_python).exists()
    for index, panel in enumerate(_panels(a.n_obs)):
        recs = run_iqlib(panel)
        recs["iqlib IQ-Learn"].update(first_calls_with_cache(index, a.n_obs))
        if have_peers:
            erecs, meta = run_econirl(panel, a.peers_python)
            recs.update(erecs)
        else:
            print(f"no econirl interpreter at {a.peers_python}: econirl columns skipped", file=sys.stderr)
        base = recs["iqlib IQ-Learn"]["wall_s"]
        for name, rec in recs.items():
            row = {"panel": panel["name"], "method": name, "n_obs": int(panel["counts"].sum()), **rec}
            if name == "econirl IQ-Learn" and "wall_s" in rec:
                row["speedup_iqlib_cold"] = rec["wall_s"] / base
                row["speedup_iqlib_warm"] = rec["wall_s"] / recs["iqlib IQ-Learn"]["wall_warm_s"]
                row["speedup_iqlib_warm_cache"] = rec["wall_s"] / recs["iqlib IQ-Learn"]["first_call_warm_cache_s"]
            rows.append(row)
    import platform

    record = {"rows": rows, "econirl": meta, "cpu_count": os.cpu_count(), "platform": platform.platform(),
              "command": "python benchmarks/econirl_compare.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    out = pathlib.Path(a.out)
    if have_peers:  # never overwrite the recorded comparison with an iqlib-only table
        from iqlib.data.files import write_json_atomic

        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "econirl_table.json", record)
    else:
        print(f"econirl not run: {out / 'econirl_table.json'} left unchanged", file=sys.stderr)
    keys = ["wall_s", "first_call_warm_cache_s", "converged", "loglik", "policy_tv", "reward_nrmse", "V_nrmse", "Q_nrmse", "epic",
            "epic_dynamics", "anchor_reward_nrmse", "regret_a", "regret_b", "regret_c"]
    print("| panel | method | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 2))
    for row in rows:
        cells = [f"{row[k]:.4g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys]
        print(f"| {row['panel']} | {row['method']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
