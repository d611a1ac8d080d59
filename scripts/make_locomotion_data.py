"""Train SAC experts and write demonstrations and D4RL-style locomotion datasets.

For each environment (``--envs``):

1. **train** (skipped with ``--skip-train``): :func:`iqlib.neural.sac.train_sac` for ``--steps`` env
   steps (or until ``--wall-minutes``), saving a deterministic-evaluation snapshot of the
   actor every ``eval_every`` steps and, at the end, the replay buffer, all under
   ``build/locomotion/<EnvId>/seed<seed>/``.
2. **data** (skipped with ``--train-only``): pick the expert (the best snapshot after a
   20-episode re-evaluation of the top three) and the "medium" policy (of the first snapshot
   whose evaluation return reaches 1/3 of the expert's and the one before it, the closer
   to 1/3), then write
   ``data/experts/<EnvId>.npz``, ``data/demos/<EnvId>.npz`` (25 deterministic expert episodes,
   reset seeds ``seed + 1000 + i``) and, for Hopper / HalfCheetah, ``data/offline/<env>-{random,
   medium, medium-replay, expert}.npz`` (D4RL conventions: raw rewards, stochastic actions,
   whole episodes, ≤ ``--dataset-size`` transitions). ``<env>-medium-expert`` is not stored:
   it is the concatenation of medium and expert at load time.

``--demos-only`` writes just ``data/demos/<EnvId>.npz`` from the stored expert (seed and references from its
provenance; no build folder): ``--envs HalfCheetah-v5 --demos-only`` made HalfCheetah's demonstrations.

Usage: ``python scripts/make_locomotion_data.py --envs Pendulum-v1 Hopper-v5 --seed 0``.
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib
import shlex
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium  # noqa: E402
import jax  # noqa: E402
import mujoco  # noqa: E402

from iqlib.core.transitions import Transitions, episode_bounds, episode_returns  # noqa: E402
from iqlib.data.datasets import save_dataset  # noqa: E402
from iqlib.core.envs import env_spec, evaluate, make_env  # noqa: E402
from iqlib.data.files import read_json, write_json_atomic  # noqa: E402
from iqlib.data.experts import expert_path, load_actor, save_actor  # noqa: E402
from iqlib.neural.acting import tanh_gaussian_act  # noqa: E402
from iqlib.neural.sac import SACConfig, train_sac  # noqa: E402

DEFAULT_STEPS = {"Pendulum-v1": 20_000, "Hopper-v5": 300_000, "HalfCheetah-v5": 200_000}
CONFIGS = {  # learning_starts: 5k for MuJoCo; 2k for Pendulum (a 20k-step budget, 200-step episodes)
    "Pendulum-v1": SACConfig(learning_starts=2000, eval_every=2000, eval_episodes=5),
    "Hopper-v5": SACConfig(learning_starts=5000, eval_every=5000, eval_episodes=5),
    "HalfCheetah-v5": SACConfig(learning_starts=5000, eval_every=5000, eval_episodes=5),
}
DATASET_SIZE = {"Hopper-v5": 100_000, "HalfCheetah-v5": 80_000}  # float32: ~96 / ~165 bytes per transition
OFFLINE_NAMES = {"Hopper-v5": "hopper", "HalfCheetah-v5": "halfcheetah"}
D4RL_NOTE = ("reference returns are this project's own (uniform random policy; our SAC expert, deterministic), "
             "not D4RL's (D4RL Hopper: random -20.27, expert 3234.3; HalfCheetah: -280.18 / 12135.0)")


def deterministic_act(actor_def, params):
    """``act(obs: (n, O), key) -> tanh(mean)`` of a SAC actor (:func:`iqlib.neural.acting.tanh_gaussian_act`)."""
    return functools.partial(tanh_gaussian_act(actor_def, True), params)


def stochastic_act(actor_def, params):
    """``act(obs: (n, O), key) -> a ~ π(·|s)`` of a SAC actor."""
    return functools.partial(tanh_gaussian_act(actor_def, False), params)


def work_dir(env_id: str, seed: int) -> pathlib.Path:
    return ROOT / "build" / "locomotion" / env_id / f"seed{seed}"


def versions() -> dict:
    return {"gymnasium_version": gymnasium.__version__, "mujoco_version": mujoco.__version__,
            "jax_version": jax.__version__}


def train(env_id: str, seed: int, steps: int, wall_minutes: float | None) -> None:
    """Phase 1: SAC with snapshots every eval into the work dir, then the replay buffer."""
    config = CONFIGS[env_id]
    out = work_dir(env_id, seed)
    out.mkdir(parents=True, exist_ok=True)
    log = {"env_id": env_id, "seed": seed, "config": repr(config), "snapshots": [], **versions()}
    t0 = time.time()
    timing = {"updates": 0, "update_s": 0.0, "last": time.time()}

    def callback(t, state, metrics):
        now = time.time()
        m = {k: float(np.mean(v)) for k, v in metrics.items()}
        if t % config.eval_every == 0:
            print(f"[{env_id}] step {t} {now - t0:.0f}s alpha {m['alpha']:.3f} q {m['q_mean']:.1f} "
                  f"entropy {m['entropy']:.2f}", flush=True)
        return wall_minutes is not None and (now - t0) > 60.0 * wall_minutes

    def snapshot_fn(t, nets, state, rets):
        save_actor(out / f"snap_{t:07d}.npz", state.actor.params,
                   {"env_id": env_id, "hidden": list(config.hidden), "step": t, "eval_returns": rets.tolist()})
        log["snapshots"].append({"step": t, "eval_mean": float(np.mean(rets)), "eval_std": float(np.std(rets)),
                                 "wall_s": time.time() - t0})
        write_json_atomic(out / "log.json", log)
        print(f"[{env_id}] eval step {t}: {np.mean(rets):.1f} ± {np.std(rets):.1f} ({time.time() - t0:.0f}s)",
              flush=True)

    nets, state, history, buffer = train_sac(env_id, config, seed, steps, callback=callback, snapshot_fn=snapshot_fn)
    arrays = buffer.arrays()
    np.savez(out / "buffer.npz", **arrays._asdict())
    log.update(steps_done=int(buffer.size), wall_s=time.time() - t0,
               train_episode_returns=history["episode_returns"])
    write_json_atomic(out / "log.json", log)
    print(f"[{env_id}] trained {log['steps_done']} steps in {log['wall_s']:.0f}s", flush=True)


def collect(env_id: str, act, n_max: int, seed: int, key, n_episodes: int | None = None) -> Transitions:
    """Whole episodes of ``act(obs: (n, O), key) -> (n, A)`` (one env, n = 1) totalling ≤ ``n_max`` transitions
    (or exactly ``n_episodes`` episodes).

    Episode i resets with seed ``seed + i``; terminal = terminated, timeout = truncated.
    """
    env = make_env(env_id)
    rows, episodes, total, i = [], [], 0, 0
    while n_episodes is None or i < n_episodes:
        obs, _ = env.reset(seed=seed + i)
        ep = []
        while True:
            key, k = jax.random.split(key)
            action = np.asarray(act(obs.astype(np.float32)[None], k), np.float32)[0]
            next_obs, reward, terminated, truncated, _ = env.step(action)
            ep.append((obs, action, reward, next_obs, terminated, truncated and not terminated, not ep))
            obs = next_obs
            if terminated or truncated:
                break
        if total + len(ep) > n_max:
            break
        episodes.append(ep)
        total += len(ep)
        i += 1
    env.close()
    rows = [r for ep in episodes for r in ep]
    cols = list(zip(*rows))
    return Transitions(np.asarray(cols[0], np.float32), np.asarray(cols[1], np.float32),
                       np.asarray(cols[2], np.float32), np.asarray(cols[3], np.float32),
                       np.asarray(cols[4], np.float32), np.asarray(cols[5], np.float32),
                       np.asarray(cols[6], np.float32))


def random_act(env_id: str, seed: int):
    rng = np.random.default_rng(seed)
    dim = env_spec(env_id)["action_dim"]
    return lambda obs, key: rng.uniform(-1.0, 1.0, obs.shape[:-1] + (dim,)).astype(np.float32)


def pick_medium(snaps: list[dict], target: float) -> dict:
    """The snapshot closest to ``target`` of two: the first whose evaluation reaches it and
    the one before (learning curves jump; this keeps "medium" near the target)."""
    i = next((i for i, s in enumerate(snaps) if s["eval_mean"] >= target), None)
    if i is None:
        raise RuntimeError(f"no snapshot reaches the medium target return {target:.1f}")
    if i > 0 and abs(snaps[i - 1]["eval_mean"] - target) < abs(snaps[i]["eval_mean"] - target):
        return snaps[i - 1]
    return snaps[i]


def make_data(env_id: str, seed: int, dataset_size: int, command: str) -> dict:
    """Phase 2: pick expert and medium snapshots, write experts, demos and offline datasets."""
    src = work_dir(env_id, seed)
    log = read_json(src / "log.json")
    snaps = log["snapshots"]
    base = {"env_id": env_id, **versions(), "generated_by": command, "seed": seed,
            "sac_config": log["config"], "training_steps": log.get("steps_done"),
            "training_wall_s": log.get("wall_s")}
    # expert: the best of the top-3 snapshots re-evaluated on 20 fresh episodes
    top = sorted(snaps, key=lambda s: -s["eval_mean"])[:3]
    best = None
    for s in top:
        actor_def, params = load_actor(src / f"snap_{s['step']:07d}.npz")
        rets = evaluate(env_id, deterministic_act(actor_def, params), 20, seed=seed + 50_000)
        print(f"[{env_id}] candidate step {s['step']}: {rets.mean():.1f} ± {rets.std():.1f}", flush=True)
        if best is None or rets.mean() > best[1].mean():
            best = (s, rets, actor_def, params)
    s_exp, exp_rets, actor_def, exp_params = best
    ref_expert = float(exp_rets.mean())
    n_rand = 100
    rand_rets = evaluate(env_id, random_act(env_id, seed), n_rand, seed=seed + 60_000)
    ref_random = float(rand_rets.mean())
    refs = {"ref_random_return": ref_random, "ref_random_return_std": float(rand_rets.std()),
            "ref_random_how": f"uniform random actions in [-1,1]^A, mean of {n_rand} episodes (reset seeds {seed + 60_000}+i)",
            "ref_expert_return": ref_expert, "ref_expert_return_std": float(exp_rets.std()),
            "ref_expert_how": f"SAC expert (step {s_exp['step']}), deterministic tanh(mean), mean of 20 episodes "
                              f"(reset seeds {seed + 50_000}+i)", "ref_note": D4RL_NOTE}
    expert_desc = f"SAC expert after {s_exp['step']} env steps"
    summary = {"env_id": env_id, "expert_step": s_exp["step"], "expert_return_mean": ref_expert,
               "expert_return_std": float(exp_rets.std()), "random_return_mean": ref_random, **base}
    save_actor(expert_path(env_id), exp_params,
               {**base, **refs, "hidden": list(CONFIGS[env_id].hidden), "step": s_exp["step"],
                "policy": expert_desc + "; TanhGaussianActor params (flattened nnx State, '/'-joined keys)",
                "eval_returns": exp_rets.tolist()})
    key = jax.random.key(seed)
    if env_id in ("Pendulum-v1", "Hopper-v5"):
        summary["demo_return_mean"] = write_demos(env_id, seed, actor_def, exp_params,
                                                  {**base, **refs, "policy": expert_desc + ", deterministic tanh(mean)"})
    if env_id in OFFLINE_NAMES:
        name = OFFLINE_NAMES[env_id]
        target = ref_expert / 3.0
        med = pick_medium(snaps, target)
        med_def, med_params = load_actor(src / f"snap_{med['step']:07d}.npz")
        med_rets = evaluate(env_id, deterministic_act(med_def, med_params), 20, seed=seed + 50_000)
        med_desc = (f"SAC 'medium' snapshot after {med['step']} env steps (5-episode evaluation {med['eval_mean']:.1f}; "
                    f"the evaluation closest to 1/3 of the expert's return, {target:.1f}, of the last one below and "
                    f"the first one reaching it); 20-episode deterministic return "
                    f"{med_rets.mean():.1f} ± {med_rets.std():.1f}")
        summary.update(medium_step=med["step"], medium_eval5=med["eval_mean"], medium_return_mean=float(med_rets.mean()),
                       medium_return_std=float(med_rets.std()))
        common = {**base, **refs, "medium_expert_note": f"{name}-medium-expert is not stored: concatenate "
                  f"{name}-medium and {name}-expert at load time (D4RL's medium-expert is that concatenation)"}
        sets = {
            "random": (lambda: collect(env_id, random_act(env_id, seed + 1), dataset_size, seed + 100_000, key),
                       "uniform random actions in [-1, 1]^A"),
            "medium": (lambda: collect(env_id, stochastic_act(med_def, med_params), dataset_size, seed + 200_000, key),
                       med_desc + "; actions sampled from the stochastic policy (as D4RL)"),
            "expert": (lambda: collect(env_id, stochastic_act(actor_def, exp_params), dataset_size, seed + 300_000, key),
                       expert_desc + f" (deterministic return {ref_expert:.1f}); actions sampled from the stochastic "
                       "policy (as D4RL)"),
            "medium-replay": (lambda: _medium_replay(src, med["step"], dataset_size),
                              f"SAC replay buffer during training up to the medium snapshot (env steps 1..{med['step']}, "
                              f"first {CONFIGS[env_id].learning_starts} uniform random), whole episodes, the most "
                              f"recent ≤ {dataset_size} transitions; " + med_desc),
        }
        for kind, (make, desc) in sets.items():
            t0 = time.time()
            data = make()
            path = ROOT / "data" / "offline" / f"{name}-{kind}.npz"
            save_dataset(path, data, {**common, "policy": desc, "dataset": f"{name}-{kind}"})
            prov = read_json(path.with_name(f"{path.stem}.provenance.json"))
            summary.update({f"dataset_{kind}_n": prov["n_transitions"], f"dataset_{kind}_episodes": prov["n_episodes"],
                            f"dataset_{kind}_return_mean": prov["return_mean"],
                            f"dataset_{kind}_return_std": prov["return_std"],
                            f"dataset_{kind}_mb": path.stat().st_size / 2**20})
            print(f"[{env_id}] {name}-{kind}: {prov['n_transitions']} transitions, {prov['n_episodes']} episodes, "
                  f"return {prov['return_mean']:.1f}, {summary[f'dataset_{kind}_mb']:.1f} MB ({time.time() - t0:.0f}s)",
                  flush=True)
    write_json_atomic(src / "summary.json", summary)
    print(json.dumps(summary, indent=1, default=str), flush=True)
    return summary


def write_demos(env_id: str, seed: int, actor_def, params, provenance: dict) -> float:
    """Write ``data/demos/<env_id>.npz``: 25 deterministic episodes of the actor, reset seeds ``seed + 1000 + i``;
    return their mean return."""
    demo = collect(env_id, deterministic_act(actor_def, params), 10**9, seed + 1000, jax.random.key(seed), n_episodes=25)
    save_dataset(ROOT / "data" / "demos" / f"{env_id}.npz", demo,
                 {**provenance, "reset_seeds": f"{seed + 1000}..{seed + 1024}"})
    return float(np.mean(episode_returns(demo)))


def demos_from_expert(env_id: str, command: str) -> float:
    """``--demos-only``: the demonstrations of the stored expert ``data/experts/<env_id>.npz`` (no build folder);
    the seed, SAC config and reference returns come from the expert's provenance."""
    path = expert_path(env_id)
    actor_def, params = load_actor(path)
    prov = read_json(path.with_name(f"{path.stem}.provenance.json"))
    keep = ("env_id", "seed", "sac_config", "training_steps", "training_wall_s", "ref_random_return",
            "ref_random_return_std", "ref_random_how", "ref_expert_return", "ref_expert_return_std", "ref_expert_how",
            "ref_note")
    policy = f"SAC expert after {prov['step']} env steps, deterministic tanh(mean)"
    mean = write_demos(env_id, int(prov["seed"]), actor_def, params,
                       {**{k: prov[k] for k in keep if k in prov}, **versions(), "generated_by": command,
                        "policy": policy, "expert_file": f"data/experts/{path.name}"})
    print(f"[{env_id}] demos from {path}: mean return {mean:.1f} (expert {prov['ref_expert_return']:.1f})", flush=True)
    return mean


def _medium_replay(src: pathlib.Path, medium_step: int, n_max: int) -> Transitions:
    """The replay buffer's first ``medium_step`` transitions, whole episodes only, the most
    recent ≤ ``n_max`` of them (the unfinished last episode is dropped)."""
    with np.load(src / "buffer.npz") as f:
        t = Transitions(*(f[k][:medium_step] for k in Transitions._fields))
    bounds = episode_bounds(t)
    ends = np.logical_or(t.terminal, t.timeout)
    bounds = bounds[ends[bounds[:, 1] - 1] > 0]  # complete episodes only
    keep, total = [], 0
    for b in bounds[::-1]:
        if total + (b[1] - b[0]) > n_max:
            break
        keep.append(b)
        total += b[1] - b[0]
    idx = np.concatenate([np.arange(*b) for b in keep[::-1]])
    return Transitions(*(np.asarray(x)[idx] for x in t))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envs", nargs="+", default=["Pendulum-v1", "Hopper-v5"], choices=list(CONFIGS),
                   help="environments, in order (HalfCheetah-v5 is optional: ~35 min more)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None,
                   help=f"SAC env steps per env (default per env: {DEFAULT_STEPS})")
    p.add_argument("--wall-minutes", type=float, default=None, help="stop training an env after this long")
    p.add_argument("--skip-train", action="store_true", help="reuse build/locomotion/<env>/seed<seed>/")
    p.add_argument("--train-only", action="store_true", help="train and keep snapshots; write no data")
    p.add_argument("--demos-only", action="store_true",
                   help="write only data/demos/<env>.npz from the stored expert data/experts/<env>.npz (no training)")
    p.add_argument("--dataset-size", type=int, default=None,
                   help=f"max transitions per offline dataset (default per env: {DATASET_SIZE}; keeps files ≤ 15 MB)")
    args = p.parse_args(argv)
    if sum((args.skip_train, args.train_only, args.demos_only)) > 1:
        p.error("--skip-train, --train-only and --demos-only exclude each other")
    command = "python scripts/make_locomotion_data.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    for env_id in args.envs:
        if args.demos_only:
            demos_from_expert(env_id, command)
            continue
        if not args.skip_train:
            train(env_id, args.seed, args.steps or DEFAULT_STEPS[env_id], args.wall_minutes)
        if not args.train_only:
            make_data(env_id, args.seed, args.dataset_size or DATASET_SIZE.get(env_id, 100_000), command)


if __name__ == "__main__":
    main()
