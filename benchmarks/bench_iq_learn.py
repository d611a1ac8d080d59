"""Updates per second of offline IQ-Learn (discrete) and BC, 1 seed vs 8 seeds at once.

    .venv/bin/python benchmarks/bench_iq_learn.py [--chunk 200] [--repeats 3] [--modes vmap,map,unroll]

256×256 MLPs, batch 256, CartPole (obs 4, 2 actions) and LunarLander (obs 8, 4 actions) sizes,
on synthetic demonstrations (5,000 transitions; the numbers do not depend on the data). Each
configuration runs in its own subprocess, so that ``ru_maxrss`` (peak resident memory) is its own.
Times are after compilation: the median over ``--repeats`` compiled chunks of ``--chunk`` updates.
"aggregate" = seeds × updates/s; "ratio" = aggregate of 8 seeds / updates/s of 1 seed, each
measured in its own process; "interleaved" = the same ratio measured round-robin in one process
(chunks of the 1-seed and 8-seed programs alternating, median of ``--rounds``), which is what to
trust on a shared machine whose load drifts between the separate runs.

Ways to run 8 seeds in one compiled chunk (``--modes``):
  vmap    ``jax.vmap`` of the update over a leading seed axis (`iqlib.core.training.make_chunk`): batched
          matmuls (S, B, H) × (S, H, H).
  map     ``jax.lax.map`` over seeds inside each scan step: the seeds' updates one after another,
          each with unbatched matmuls.
  unroll  a Python loop over the seeds inside the compiled step (S copies of the update in one
          program, which XLA may schedule in parallel).
The library trains seeds with vmap (`iqlib.neural.offline.OfflineTrainer.run`); map and unroll are the
measured alternatives. One IQ-Learn update runs the Q-network once on obs, next obs and initial
states concatenated (`iqlib.neural.iq_learn_offline.iq_loss_terms`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _harness import median, peak_rss_mb, timed_call

SIZES = {"CartPole": (4, 2), "LunarLander": (8, 4)}


def synthetic_demos(obs_dim, n_actions, n=5000, episode=500, seed=0):
    import numpy as np

    from iqlib.core.transitions import Transitions

    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    start = (np.arange(n) % episode == 0).astype(np.float32)
    timeout = (np.arange(n) % episode == episode - 1).astype(np.float32)
    return Transitions(obs, rng.integers(0, n_actions, n).astype(np.int32), np.ones(n, np.float32),
                       np.roll(obs, -1, 0), np.zeros(n, np.float32), timeout, start)


def build(algo: str, size: str, seeds: int, mode: str, chunk: int):
    """(compiled chunk, initial carry, data) for one configuration."""
    import jax

    from iqlib.neural import bc
    from iqlib.neural.iq_learn_offline import IQLearnOfflineConfig
    from iqlib.neural.iq_learn_offline_train import make_train
    from iqlib.core.training import make_chunk

    obs_dim, n_actions = SIZES[size]
    demos = synthetic_demos(obs_dim, n_actions)
    if algo == "iq":
        train = make_train(IQLearnOfflineConfig(hidden=(256, 256), batch_size=256), demos, chunk, chunk,
                           n_actions=n_actions)
    else:
        train = bc.make_train(bc.BCConfig(hidden=(256, 256), batch_size=256), demos, chunk, chunk_size=chunk,
                              n_actions=n_actions)

    def step(carry, data):
        if seeds == 1:
            return train.update(carry, data)
        if mode == "vmap":
            return jax.vmap(lambda c: train.update(c, data))(carry)
        if mode == "map":
            return jax.lax.map(lambda c: train.update(c, data), carry)
        outs = [train.update(jax.tree_util.tree_map(lambda x: x[i], carry), data) for i in range(seeds)]
        return jax.tree_util.tree_map(lambda *xs: jax.numpy.stack(xs), *outs)

    # the data are an argument of the compiled chunk (closed over, XLA would constant-fold them)
    compiled = jax.jit(lambda c, d: make_chunk(lambda x: step(x, d), chunk)(c), donate_argnums=0)
    key = jax.random.key(0)
    carry = jax.jit(train.init)(key) if seeds == 1 else jax.jit(jax.vmap(train.init))(jax.random.split(key, seeds))
    return compiled, carry, train.data


def timed(compiled, carry, data):
    """One compiled chunk: ``(carry, seconds)``."""
    (carry, _), t = timed_call(compiled, carry, data)
    return carry, t


def one(algo: str, size: str, seeds: int, mode: str, chunk: int, repeats: int) -> dict:
    """Compile and run one configuration alone in this process: first-chunk time, updates/s, peak RSS."""
    compiled, carry, data = build(algo, size, seeds, mode, chunk)
    carry, first = timed(compiled, carry, data)
    times = []
    for _ in range(repeats):
        carry, t = timed(compiled, carry, data)
        times.append(t)
    ups = chunk / median(times)
    return {"algo": algo, "size": size, "seeds": seeds, "mode": mode if seeds > 1 else "-",
            "first_chunk_s": first, "updates_per_s": ups, "aggregate": ups * seeds,
            "peak_rss_mb": peak_rss_mb()}


def interleaved(algo: str, size: str, modes: list, chunk: int, rounds: int) -> dict:
    """Aggregate updates/s of 1 seed and of 8 seeds per mode, measured round-robin in one process
    (chunk after chunk, alternating configurations), so that a load change on a shared machine
    hits all of them alike; median over ``rounds``."""
    configs = {"1": build(algo, size, 1, "-", chunk)}
    configs.update({m: build(algo, size, 8, m, chunk) for m in modes})
    state = {}
    for name, (compiled, carry, data) in configs.items():
        state[name] = timed(compiled, carry, data)[0]  # compile + warm-up
    times = {name: [] for name in configs}
    for _ in range(rounds):
        for name, (compiled, _, data) in configs.items():
            state[name], t = timed(compiled, state[name], data)
            times[name].append(t)
    return {name: (1 if name == "1" else 8) * chunk / median(t) for name, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="vmap,map")
    parser.add_argument("--sizes", default="CartPole,LunarLander")
    parser.add_argument("--algos", default="iq,bc")
    parser.add_argument("--rounds", type=int, default=7, help="round-robin rounds of the interleaved ratio")
    parser.add_argument("--one", nargs=4, metavar=("ALGO", "SIZE", "SEEDS", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--interleaved", nargs=2, metavar=("ALGO", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        algo, size, seeds, mode = args.one
        print(json.dumps(one(algo, size, int(seeds), mode, args.chunk, args.repeats)))
        return 0
    if args.interleaved:
        print(json.dumps(interleaved(*args.interleaved, args.modes.split(","), args.chunk, args.rounds)))
        return 0
    import jax

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {os.cpu_count()} CPU(s); "
          f"chunk {args.chunk} updates, median of {args.repeats}; 256x256 MLP, batch 256")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    header = (f"{'algo':5s} {'size':12s} {'seeds':>5s} {'mode':>6s} {'first [s]':>9s} {'upd/s':>8s} {'aggregate':>9s} "
              f"{'ratio':>6s} {'peak MB':>8s} {'interleaved':>11s}")
    print(header)
    print("-" * len(header))
    for algo in args.algos.split(","):
        for size in args.sizes.split(","):
            cmd = [sys.executable, os.path.abspath(__file__), "--chunk", str(args.chunk), "--rounds", str(args.rounds),
                   "--modes", args.modes, "--interleaved", algo, size]
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            inter = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else {}
            single = None
            for seeds, mode in [(1, "-")] + [(8, m) for m in args.modes.split(",")]:
                cmd = [sys.executable, os.path.abspath(__file__), "--chunk", str(args.chunk), "--repeats",
                       str(args.repeats), "--one", algo, size, str(seeds), mode]
                res = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if res.returncode:
                    print(f"{algo} {size} {seeds} {mode}: failed\n{res.stderr[-2000:]}")
                    continue
                row = json.loads(res.stdout.strip().splitlines()[-1])
                single = row["updates_per_s"] if seeds == 1 else single
                ratio = row["aggregate"] / single if single else float("nan")
                name = "1" if seeds == 1 else mode
                i_ratio = inter[name] / inter["1"] if name in inter and "1" in inter else float("nan")
                print(f"{algo:5s} {size:12s} {seeds:5d} {row['mode']:>6s} {row['first_chunk_s']:9.2f} "
                      f"{row['updates_per_s']:8.0f} {row['aggregate']:9.0f} {ratio:6.2f} {row['peak_rss_mb']:8.0f} "
                      f"{i_ratio:11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
