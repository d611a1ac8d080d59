"""Train the discrete-control experts (Double DQN) and write their demonstrations and offline sets.

For each environment (``--envs``):

1. train Double DQN (:func:`iqlib.neural.dqn.train_dqn`, settings in :data:`CONFIGS`) or, with
   ``--skip-train``, load the saved one; save the best greedy checkpoint and an
   intermediate one (key prefix ``medium/``) to ``data/experts/<EnvId>.npz``;
2. evaluate the expert greedily on 50 episodes;
3. write ``data/demos/<EnvId>.npz``: 30 greedy expert episodes, episode i reset with
   ``seed + 1000 + i``; terminal = true termination, timeout = truncation;
4. for CartPole-v1 and LunarLander-v3, write ``data/offline/<name>-mixed.npz``: a quarter
   each (by transitions) of uniform-random, intermediate-checkpoint, expert ε = 0.1 and
   expert ε = 0.3 episodes, with reference returns for normalised scores.

With ``--robust`` (CartPole-v1 only, settings in :data:`ROBUST`) it trains a longer-trained
expert whose checkpoint is chosen for its return under random actions, not the first greedy
500, and writes it and its 30 demonstrations under ``robust/`` (``data/experts/robust/``,
``data/demos/robust/``); no mixed set. Every expert's provenance records its greedy return
under ε-greedy noise (ε in :data:`NOISE_EPS`, 50 episodes each).

Usage: ``python scripts/make_discrete_data.py [--envs CartPole-v1 ...] [--seed 0] [--skip-train] [--robust]``
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import shlex
import sys
import time

import gymnasium as gym
import jax
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iqlib.core.transitions import Transitions  # noqa: E402
from iqlib.data.datasets import save_dataset  # noqa: E402
from iqlib.data.experts import expert_path, load_dqn_expert, save_dqn_expert  # noqa: E402
from iqlib.neural.acting import epsilon_greedy_act  # noqa: E402
from iqlib.neural.dqn import DQNConfig, train_dqn  # noqa: E402
from iqlib.core.envs import env_spec, evaluate, make_env  # noqa: E402
from iqlib.core.nets import QNetwork, init_params  # noqa: E402
from iqlib.data.files import load_provenance  # noqa: E402

#: Double-DQN settings per environment. Starting points: rl-baselines3-zoo's tuned DQN
#: hyper-parameters (CartPole: lr 2.3e-3, batch 64, ε → 0.04 over 16 %; Acrobot and
#: LunarLander: lr 6.3e-4, batch 128, buffer 50k, ε decays over 12 %, one update per
#: transition, hard target copy every 250 steps ≈ Polyak rate 1/250), adapted to 4
#: lockstep environments and Polyak averaging.
CONFIGS = {
    "CartPole-v1": DQNConfig(total_steps=60_000, n_envs=4, hidden=(256, 256), critic_lr=2.3e-3,
                             batch_size=64, buffer_size=100_000, learning_starts=1_000, target_rate=0.01,
                             train_freq=16, updates_per_block=32, eps_end=0.04, eps_fraction=0.16,
                             eval_every=2_500, eval_episodes=20, stop_return=500.0),
    "Acrobot-v1": DQNConfig(total_steps=100_000, n_envs=4, hidden=(256, 256), critic_lr=6.3e-4,
                            batch_size=128, buffer_size=50_000, learning_starts=1_000, target_rate=0.004,
                            train_freq=4, updates_per_block=16, eps_end=0.05, eps_fraction=0.12,
                            eval_every=5_000, eval_episodes=20),
    "LunarLander-v3": DQNConfig(total_steps=200_000, n_envs=4, hidden=(256, 256), critic_lr=6.3e-4,
                                batch_size=128, buffer_size=100_000, learning_starts=1_000, target_rate=0.004,
                                train_freq=4, updates_per_block=16, eps_end=0.05, eps_fraction=0.12,
                                eval_every=10_000, eval_episodes=20),
}
#: The robust expert (notebook 05's test of "the expert is brittle"): CartPole's settings, trained
#: 150k transitions without early stopping, evaluated every 5k; the kept checkpoint maximises the
#: greedy return plus the return under ROBUST_EPS random actions (10 episodes each, ties: later).
ROBUST = {"CartPole-v1": dataclasses.replace(CONFIGS["CartPole-v1"], total_steps=150_000, stop_return=None,
                                             eval_every=5_000, eval_episodes=10)}
ROBUST_EPS, ROBUST_SUBDIR = 0.05, "robust"
#: ε of the noise-robustness record in every expert's provenance.
NOISE_EPS = (0.0, 0.01, 0.03, 0.05, 0.1)
#: Environments that also get a mixed-quality offline set, and its name.
MIXED = {"CartPole-v1": "cartpole-mixed", "LunarLander-v3": "lunarlander-mixed"}
EVAL_EPISODES, DEMO_EPISODES, EVAL_SEED = 50, 30, 100_000


def collect_episodes(env_id: str, act, n_episodes: int, seed: int, key) -> Transitions:
    """Run ``n_episodes`` in lockstep (episode i reset with ``seed + i``); return their
    transitions in episode order. ``act(obs: (n, O), key) -> (n,)`` actions."""
    envs = [make_env(env_id) for _ in range(n_episodes)]
    obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]).astype(np.float32)
    alive = np.ones(n_episodes, bool)
    rows = [[] for _ in range(n_episodes)]
    while alive.any():
        key, k = jax.random.split(key)
        actions = np.asarray(act(obs, k))
        for i in np.flatnonzero(alive):
            o, r, te, tr, _ = envs[i].step(int(actions[i]))
            rows[i].append((obs[i].copy(), int(actions[i]), float(r), np.asarray(o, np.float32),
                            float(te), float(tr and not te), float(len(rows[i]) == 0)))
            obs[i] = o
            alive[i] = not (te or tr)
    for e in envs:
        e.close()
    flat = [row for ep in rows for row in ep]
    cols = list(zip(*flat))
    return Transitions(np.stack(cols[0]), np.asarray(cols[1], np.int32), *(np.asarray(c, np.float32) for c in cols[2:3]),
                       np.stack(cols[3]), *(np.asarray(c, np.float32) for c in cols[4:]))


def concat(parts: list[Transitions]) -> Transitions:
    return Transitions(*(np.concatenate(xs) for xs in zip(*parts)))


def policy_act(graphdef, params, eps: float):
    act = epsilon_greedy_act(graphdef)
    return lambda obs, key: act(params, obs, key, eps)


def collect_budget(env_id, act, n_transitions, seed, key, batch=20) -> Transitions:
    """Whole episodes (batches of ``batch``, seeds from ``seed``) until ≥ ``n_transitions``."""
    parts, n, i = [], 0, 0
    while n < n_transitions:
        key, k = jax.random.split(key)
        parts.append(collect_episodes(env_id, act, batch, seed + i, k))
        n, i = n + len(parts[-1].reward), i + batch
    return concat(parts)


def noise_robustness(env_id: str, graphdef, params, n_episodes: int = EVAL_EPISODES, seed: int = 30_000) -> dict:
    """``{"0.01": mean return, ...}``: the greedy policy with a uniform action with probability ε,
    for ε in :data:`NOISE_EPS` (episodes reset from ``seed``)."""
    return {f"{eps:g}": float(evaluate(env_id, policy_act(graphdef, params, eps), n_episodes, seed=seed).mean())
            for eps in NOISE_EPS}


def train_or_load(env_id: str, seed: int, skip_train: bool, command: str, experts_dir, robust: bool = False):
    cfg = ROBUST[env_id] if robust else CONFIGS[env_id]
    if skip_train:
        g, p = load_dqn_expert(env_id, experts_dir)
        pm = None if robust else load_dqn_expert(env_id, experts_dir, checkpoint="medium")[1]
        return g, p, pm, load_provenance(expert_path(env_id, experts_dir))
    snapshots = []

    def keep(step, params, rec):
        params = jax.tree_util.tree_map(np.asarray, params)
        score = rec["eval_return"]
        if robust:
            noisy = evaluate(env_id, policy_act(act_graph, params, ROBUST_EPS), cfg.eval_episodes, seed=70_000)
            rec["eps_return"] = float(noisy.mean())
            score += rec["eps_return"]
            print(f"[{env_id}]   ε = {ROBUST_EPS:g}: {rec['eps_return']:.1f}", flush=True)
        snapshots.append((rec["eval_return"], step, params, score))

    spec = env_spec(env_id)  # train_dqn's network layout: a graphdef to act with its snapshots during training
    act_graph = init_params(lambda rngs: QNetwork(spec["obs_dim"], spec["n_actions"], tuple(cfg.hidden), rngs=rngs),
                            jax.random.key(0))[0]
    g, p, hist = train_dqn(env_id, cfg, seed=seed, verbose=True, callback=keep)
    if robust:
        ret, step, best, score = max(snapshots, key=lambda x: (x[3], x[1]))
        p = jax.tree_util.tree_map(jax.numpy.asarray, best)
        hist.update(best_step=step, best_return=ret, eps_return=[sc - r for r, _, _, sc in snapshots])
        print(f"[{env_id}] robust checkpoint: step {step} (greedy {ret:.1f}, greedy + ε-noisy {score:.1f})")
    # intermediate checkpoint: the snapshot closest to 40 % of the best return (for returns
    # that are all negative, 40 % of the way from the worst evaluation to the best)
    lo, hi = min(r for r, *_ in snapshots), hist["best_return"]
    goal = 0.4 * hi if hi > 0 else lo + 0.4 * (hi - lo)
    mret, mstep, pm, _ = min(snapshots, key=lambda x: abs(x[0] - goal))
    choice = (f"the checkpoint maximising greedy return + return at ε = {ROBUST_EPS:g} (10 episodes each, reset "
              "seeds 10000.. and 70000..)" if robust else "best checkpoint by greedy evaluation")
    prov = {"gymnasium_version": gym.__version__, "generated_by": command, "seed": seed,
            "algorithm": f"Double DQN (iqlib.neural.dqn.train_dqn), {choice}",
            "config": cfg, "training_steps": hist["steps_done"], "training_updates": hist["updates"],
            "training_wall_time_s": hist["wall_time_s"], "best_step": hist["best_step"],
            "best_train_eval_return": hist["best_return"],
            "history": {k: hist[k] for k in ("step", "eval_return", "eval_std", "epsilon", "loss", "train_return")
                        + (("eps_return",) if robust else ())}}
    if robust:
        return g, p, None, prov
    print(f"[{env_id}] intermediate checkpoint: step {mstep}, eval return {mret:.1f} (goal {goal:.1f})")
    prov.update(medium_step=mstep, medium_train_eval_return=mret)
    return g, p, pm, prov


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-train", action="store_true", help="reuse data/experts/<EnvId>.npz")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed offline sets")
    parser.add_argument("--data-dir", default=str(ROOT / "data"), help="root of demos/, experts/, offline/")
    parser.add_argument("--robust", action="store_true", help=f"the robust expert of {sorted(ROBUST)} (see ROBUST), "
                        f"written under experts/{ROBUST_SUBDIR}/ and demos/{ROBUST_SUBDIR}/")
    args = parser.parse_args(argv)
    if args.robust and set(args.envs) - set(ROBUST):
        parser.error(f"--robust: only {sorted(ROBUST)} have robust settings, got --envs {args.envs}")
    command = "python scripts/make_discrete_data.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    root, sub = pathlib.Path(args.data_dir), (ROBUST_SUBDIR,) if args.robust else ()
    experts_dir, demos_dir = root.joinpath("experts", *sub), root.joinpath("demos", *sub)
    for env_id in args.envs:
        t0 = time.time()
        g, p, pm, prov = train_or_load(env_id, args.seed, args.skip_train, command, experts_dir, args.robust)
        rets = evaluate(env_id, policy_act(g, p, 0.0), EVAL_EPISODES, seed=EVAL_SEED)
        prov.update(expert_return_mean=float(rets.mean()), expert_return_std=float(rets.std()),
                    expert_eval_episodes=EVAL_EPISODES, expert_eval_seeds=f"{EVAL_SEED}..{EVAL_SEED + EVAL_EPISODES - 1}",
                    noise_robustness=noise_robustness(env_id, g, p),
                    noise_robustness_how=f"greedy with a uniform action with probability ε, {EVAL_EPISODES} episodes "
                                         "per ε, reset seeds 30000..")
        if pm is not None:
            mrets = evaluate(env_id, policy_act(g, pm, 0.0), EVAL_EPISODES, seed=EVAL_SEED)
            prov.update(medium_return_mean=float(mrets.mean()), medium_return_std=float(mrets.std()))
        print(f"[{env_id}] expert greedy {rets.mean():.1f} ± {rets.std():.1f} ({EVAL_EPISODES} episodes); under "
              f"ε-greedy noise {prov['noise_robustness']}", flush=True)
        if not args.skip_train:
            save_dqn_expert(env_id, p, CONFIGS[env_id].hidden, prov, experts_dir, medium_params=pm)
        train_info = {k: prov[k] for k in ("training_steps", "training_updates", "training_wall_time_s", "seed")}
        expert_file = expert_path(env_id, experts_dir)  # named relative to the repository when inside it
        expert_file = expert_file.relative_to(ROOT) if expert_file.is_relative_to(ROOT) else expert_file
        common = {"env_id": env_id, "gymnasium_version": gym.__version__, "generated_by": command,
                  "seed": args.seed, "expert_file": str(expert_file),
                  "expert_return_mean": float(rets.mean()), "expert_return_std": float(rets.std()),
                  "expert_eval_episodes": EVAL_EPISODES, "expert_training": train_info}
        key = jax.random.key(args.seed)
        k_demo, k_rand, k_med, k_e1, k_e3 = jax.random.split(key, 5)
        demos = collect_episodes(env_id, policy_act(g, p, 0.0), DEMO_EPISODES, args.seed + 1000, k_demo)
        save_dataset(demos_dir / f"{env_id}.npz", demos, {
            **common, "policy": f"{'robust ' * args.robust}Double-DQN expert ({prov['training_steps']} env steps), "
                       "greedy argmax Q",
            "episode_seeds": f"episode i reset with seed {args.seed} + 1000 + i, i = 0..{DEMO_EPISODES - 1}",
            "flags": "terminals = true termination; timeouts = truncation at the time limit"})
        print(f"[{env_id}] demos: {len(demos.reward)} transitions, {DEMO_EPISODES} episodes", flush=True)
        if env_id in MIXED and not (args.no_mixed or args.robust):
            budget = 20_000
            n_act = env_spec(env_id)["n_actions"]
            rand_ref = evaluate(env_id, lambda o, k: jax.random.randint(k, o.shape[:-1], 0, n_act), 100, seed=200_000)
            parts = {"random": (policy_act(g, p, 1.0), 300_000, k_rand),
                     "medium": (policy_act(g, pm, 0.0), 400_000, k_med),
                     "expert_eps0.1": (policy_act(g, p, 0.1), 500_000, k_e1),
                     "expert_eps0.3": (policy_act(g, p, 0.3), 600_000, k_e3)}
            data, mix = [], {}
            for name, (act, s, k) in parts.items():
                d = collect_budget(env_id, act, budget, s, k)
                data.append(d)
                mix[name] = {"n_transitions": int(len(d.reward)), "n_episodes": int(d.episode_start.sum()),
                             "return_mean": float(d.reward.sum() / d.episode_start.sum()), "reset_seeds_from": s}
            save_dataset(root / "offline" / f"{MIXED[env_id]}.npz", concat(data), {
                **common, "policy": "mixture (by transitions, about a quarter each, whole episodes): uniform random; "
                "intermediate Double-DQN checkpoint, greedy; expert ε-greedy ε=0.1; expert ε-greedy ε=0.3",
                "mixture": mix, "medium_return_mean": prov["medium_return_mean"],
                "ref_random_return": float(rand_ref.mean()),
                "ref_random_how": "uniform random actions, 100 episodes, reset seeds 200000..200099",
                "ref_expert_return": float(rets.mean()),
                "ref_expert_how": f"the expert, greedy, {EVAL_EPISODES} episodes, reset seeds {EVAL_SEED}.."
                                  f"{EVAL_SEED + EVAL_EPISODES - 1}"})
            print(f"[{env_id}] {MIXED[env_id]}: {mix}; random ref {rand_ref.mean():.1f}", flush=True)
        print(f"[{env_id}] done in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
