"""IQL update throughput at the paper's sizes (256×256 MLPs, batch 256), HalfCheetah shapes.

Synthetic data (obs 17, action 6, 100k transitions); timings after compilation. Variants:

  (a) scan        1 seed, `chunk` updates per compiled `lax.scan` (iqlib.neural.iql_train, the default path)
  (b) vmap        S seeds vmapped inside the scan (`train.run`); aggregate = S × chunk rate
  (b') lax.map    S seeds one after another at every update, inside the compiled scan
  (b'') seq       S seeds one after another, each running its whole chunk (`lax.map` of scans)
  (b''') groupG  vmapped groups of G seeds, the groups in sequence (`train.run(seed_group=G)`)
  (c) plain       the same update jitted per step, called from a Python loop with a host-sampled
                  batch each step (the authors' pattern); the reference for (a)
  (d) reference   a plain-JAX IQL of the same shapes (``_iql_reference.py``: dict parameters,
                  no Flax, twin critics one after the other) in the same scan'd chunks as (a)
  (d') paired     (a) and (d) in one process, their chunks alternating (ABAB…): the median of the
                  per-round ratios, robust to the load drifting during the run
  (e) gemm        the CPU's ceiling: a chain of 256×256 @ 256×256 matmuls (+ ReLU) in one
                  compiled loop, in GFLOP/s; with XLA's FLOP count of one compiled IQL update
                  it gives the ceiling in updates/s that every variant is divided by

each with the twin critics fused (one vmapped MLP = batched matmuls, the default) and looped
(two MLPs one after the other). Every variant runs in its own process, so peak memory
(`ru_maxrss`) is per variant. Wall time depends on the machine's load: the table prints the
1-minute load average before each variant and the process CPU time as well.

    .venv/bin/python benchmarks/bench_iql.py [--chunk 100] [--chunks 5] [--seeds 8] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _harness import peak_rss_mb, timed_call

OBS_DIM, ACTION_DIM, N_DATA = 17, 6, 100_000


def synthetic_data(seed: int = 0):
    import numpy as np

    from iqlib.core.transitions import Transitions

    rng = np.random.default_rng(seed)
    term = (rng.random(N_DATA) < 0.001).astype(np.float32)
    return Transitions(rng.normal(size=(N_DATA, OBS_DIM)).astype(np.float32),
                       rng.uniform(-1, 1, (N_DATA, ACTION_DIM)).astype(np.float32),
                       rng.normal(size=N_DATA).astype(np.float32),
                       rng.normal(size=(N_DATA, OBS_DIM)).astype(np.float32), term,
                       np.zeros(N_DATA, np.float32), np.concatenate([[1.0], term[:-1]]).astype(np.float32))


def gemm_rate(n_matmuls: int = 1000, width: int = 256, repeats: int = 10) -> dict:
    """GFLOP/s of ``n_matmuls`` chained (width × width) @ (width × width) float32 matmuls + ReLU."""
    import jax
    import jax.numpy as jnp

    w = jax.random.normal(jax.random.key(1), (4, width, width), jnp.float32) / width**0.5
    x0 = jax.random.normal(jax.random.key(2), (width, width), jnp.float32)
    chain = jax.jit(lambda x: jax.lax.fori_loop(0, n_matmuls, lambda i, x: jax.nn.relu(x @ w[i % 4]) + 1e-3, x))
    jax.block_until_ready(chain(x0))
    times = []
    for _ in range(repeats):
        _, t = timed_call(chain, x0)
        times.append(t)
    best = min(times)
    return {"variant": "gemm", "twins": "-", "seeds": 1, "gflop_per_s": 2 * width**3 * n_matmuls / best / 1e9,
            "load_1min": os.getloadavg()[0], "peak_rss_mb": peak_rss_mb()}


def update_flops(fused: bool) -> float:
    """XLA's FLOP count of one compiled IQL update (minibatch gather included), HalfCheetah sizes."""
    import jax

    from iqlib.neural.iql import IQLConfig
    from iqlib.neural.iql_train import make_train

    train = make_train(IQLConfig(fused_twin=fused), synthetic_data(), 100, chunk_size=100)
    cost = jax.jit(train.update).lower(train._init(jax.random.key(0)), train.data).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


def reference_chunk(data, chunk: int, num_steps: int):
    """``(init(key), step(carry) -> (carry, losses))``: the plain-JAX reference in compiled chunks of ``chunk``."""
    import jax

    from _iql_reference import make_reference

    r_init, _, r_chunk = make_reference(OBS_DIM, ACTION_DIM, num_steps)
    ref_data = (data.obs, data.action, data.reward, data.next_obs, data.terminal)
    fn = jax.jit(lambda c, d: r_chunk(c, d, chunk), donate_argnums=0)
    return r_init, lambda c: fn(c, ref_data)


def run_paired(fused: bool, chunk: int, rounds: int) -> dict:
    """(a) scan and (d) reference alternating chunk by chunk; median ratio of their rates."""
    import statistics

    import jax

    from iqlib.neural.iql import IQLConfig
    from iqlib.neural.iql_train import make_train

    train = make_train(IQLConfig(fused_twin=fused), synthetic_data(), chunk * rounds, chunk_size=chunk)
    data = train.data
    r_init, ref_step = reference_chunk(data, chunk, chunk * rounds)
    ours, theirs = train._init(jax.random.key(0)), r_init(jax.random.key(0))
    ours = jax.block_until_ready(train._chunk(ours, data))[0]  # compile + warm up both
    theirs = jax.block_until_ready(ref_step(theirs))[0]
    ratios = []
    for _ in range(rounds):
        (ours, _), a = timed_call(train._chunk, ours, data)
        (theirs, _), b = timed_call(ref_step, theirs)
        ratios.append(b / a)
    return {"variant": "paired", "twins": "fused" if fused else "looped", "rounds": rounds,
            "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}


def run_variant(name: str, fused: bool, chunk: int, chunks: int, seeds: int) -> dict:
    """Time one variant in this process; returns updates/s (per seed and aggregate)."""
    import jax
    import numpy as np

    if name == "gemm":
        return gemm_rate()
    if name == "paired":
        return run_paired(fused, chunk, 2 * chunks)

    from iqlib.neural.iql import IQLConfig
    from iqlib.neural.iql_train import make_train

    cfg = IQLConfig(fused_twin=fused)
    train = make_train(cfg, synthetic_data(), chunk * chunks, chunk_size=chunk)
    data = train.data
    key = jax.random.key(0)
    n_seeds = 1
    if name == "scan":
        carry = train._init(key)
        step = lambda c: train._chunk(c, data)
    elif name == "vmap":
        n_seeds = seeds
        carry = jax.jit(jax.vmap(train.init))(jax.random.split(key, seeds))
        step = lambda c: train._chunk_seeds(c, data)
    elif name == "lax.map":
        n_seeds = seeds
        carry = jax.jit(jax.vmap(train.init))(jax.random.split(key, seeds))

        def body(c, d):
            return jax.lax.scan(lambda x, _: jax.lax.map(lambda xi: train.update(xi, d), x), c, None, length=chunk)
        fn = jax.jit(body, donate_argnums=0)
        step = lambda c: fn(c, data)
    elif name.startswith("group"):  # e.g. group2: vmapped groups of 2 seeds, groups in sequence
        n_seeds = seeds
        carry = jax.jit(jax.vmap(train.init))(jax.random.split(key, seeds))
        fn = train._grouped_chunk(int(name[5:]))
        step = lambda c: fn(c, data)
    elif name == "seq":
        n_seeds = seeds
        carry = jax.jit(jax.vmap(train.init))(jax.random.split(key, seeds))

        def body(c, d):  # seeds one after another, each running its whole chunk
            return jax.lax.map(lambda ci: jax.lax.scan(lambda x, _: train.update(x, d), ci, None, length=chunk), c)
        fn = jax.jit(body, donate_argnums=0)
        step = lambda c: fn(c, data)
    elif name == "reference":
        r_init, step = reference_chunk(data, chunk, chunk * chunks)
        carry = r_init(key)
    elif name == "plain":
        host = jax.tree_util.tree_map(np.asarray, data)
        rng = np.random.default_rng(0)
        # the same update, fed a batch-sized "dataset" of host-sampled rows each step (it then
        # resamples B of those B rows: the same gather cost as the other variants)
        upd = jax.jit(train.update, donate_argnums=0)
        carry = train._init(key)

        def step(c):
            for _ in range(chunk):
                idx = rng.integers(0, N_DATA, cfg.batch_size)
                c, m = upd(c, jax.tree_util.tree_map(lambda x: x[idx], host))
            return c, m
    else:
        raise ValueError(name)
    (carry, m), compile_s = timed_call(step, carry)  # compile + first chunk
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(chunks):
        carry, m = step(carry)
    jax.block_until_ready(carry)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    updates = chunk * chunks
    return {"variant": name, "twins": "fused" if fused else "looped", "seeds": n_seeds,
            "updates_per_s_per_seed": updates / wall, "aggregate_updates_per_s": n_seeds * updates / wall,
            "cpu_s_per_1k_updates": 1000.0 * cpu / (n_seeds * updates), "compile_s": compile_s,
            "load_1min": load, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunk", type=int, default=100, help="updates per compiled chunk")
    p.add_argument("--chunks", type=int, default=10, help="timed chunks per variant (after one warm-up)")
    p.add_argument("--seeds", type=int, default=8, help="seeds of the vmap / lax.map variants")
    p.add_argument("--variants", default="scan,vmap,group2,group4,seq,plain,lax.map", help="comma-separated subset")
    p.add_argument("--twins", default="fused,looped", help="fused, looped or both")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test of the script)")
    p.add_argument("--_one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._one:
        name, twins = args._one.split(":")
        print(json.dumps(run_variant(name, twins == "fused", args.chunk, args.chunks, args.seeds)))
        return
    if args.quick:
        args.chunk, args.chunks, args.seeds = 10, 2, 2
    import jax

    print(f"jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} CPUs; IQL 256x256 MLPs, batch 256, "
          f"obs {OBS_DIM}, action {ACTION_DIM}; {args.chunks} timed chunks of {args.chunk} updates; "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    # the ceiling and the reference first and last, so that a drift in the machine's load shows
    jobs = [("gemm", "-"), ("reference", "looped")]
    jobs += [(name, twins) for twins in args.twins.split(",") for name in args.variants.split(",")]
    jobs += [("paired", t) for t in args.twins.split(",")]
    jobs += [("reference", "looped"), ("gemm", "-")]
    rows = []
    for name, twins in jobs:
        cmd = [sys.executable, __file__, "--_one", f"{name}:{twins}", "--chunk", str(args.chunk),
               "--chunks", str(args.chunks), "--seeds", str(args.seeds)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    gemm = [r["gflop_per_s"] for r in rows if r["variant"] == "gemm"]
    ceiling_gflops = max(gemm)
    flops = {t: update_flops(t == "fused") for t in args.twins.split(",")}
    from _iql_reference import make_reference

    r_init, r_update, _ = make_reference(OBS_DIM, ACTION_DIM, 100)
    d = synthetic_data()
    batch = tuple(jax.numpy.asarray(x[:256]) for x in (d.obs, d.action, d.reward, d.next_obs, d.terminal))
    cost = jax.jit(r_update).lower(r_init(jax.random.key(0)), batch).compile().cost_analysis()
    flops["reference"] = float((cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"])
    print(f"GEMM ceiling: 256x256 matmul chain {', '.join(f'{g:.1f}' for g in gemm)} GFLOP/s (first, last run; "
          f"ceiling = {ceiling_gflops:.1f}); XLA FLOPs per update: "
          + ", ".join(f"{k} {v / 1e9:.3f} G" for k, v in flops.items()))
    paired = {r["twins"]: r for r in rows if r["variant"] == "paired"}
    rows = [r for r in rows if r["variant"] not in ("gemm", "paired")]
    print(f"{'variant':9s} {'twins':7s} {'seeds':>5s} {'upd/s/seed':>11s} {'aggregate':>10s} {'CPU s/1k':>9s} "
          f"{'compile s':>9s} {'load':>5s} {'peak MB':>8s} {'of ceiling':>10s}")
    for r in rows:
        f = flops["reference"] if r["variant"] == "reference" else flops[r["twins"]]
        r["fraction_of_ceiling"] = r["aggregate_updates_per_s"] * f / (ceiling_gflops * 1e9)
        print(f"{r['variant']:9s} {r['twins']:7s} {r['seeds']:5d} {r['updates_per_s_per_seed']:11.1f} "
              f"{r['aggregate_updates_per_s']:10.1f} {r['cpu_s_per_1k_updates']:9.2f} {r['compile_s']:9.1f} "
              f"{r['load_1min']:5.1f} {r['peak_rss_mb']:8.0f} {r['fraction_of_ceiling']:10.2f}")
    by = {(r["variant"], r["twins"]): r["aggregate_updates_per_s"] for r in rows if r["variant"] != "reference"}
    ref = max(r["aggregate_updates_per_s"] for r in rows if r["variant"] == "reference")
    ceiling_ups = {t: ceiling_gflops * 1e9 / f for t, f in flops.items()}
    print(f"(d) plain-JAX reference: {ref:.1f} updates/s (the faster of its two runs), "
          f"{ref / ceiling_ups['reference']:.2f} of the ceiling")
    for twins in args.twins.split(","):
        if ("scan", twins) in by:
            print(f"[{twins}] (a) scan / (d) reference = {by['scan', twins] / ref:.2f}x; (a) scan / ceiling "
                  f"({ceiling_ups[twins]:.0f} updates/s) = {by['scan', twins] / ceiling_ups[twins]:.2f}")
        if twins in paired:
            q = paired[twins]
            print(f"[{twins}] (d') paired, {q['rounds']} alternating rounds: (a) scan / (d) reference = "
                  f"{q['ratio_median']:.2f}x median (range {q['ratio_min']:.2f}-{q['ratio_max']:.2f})")
        if ("scan", twins) in by and ("plain", twins) in by:
            print(f"[{twins}] (a) scan / (c) plain = {by['scan', twins] / by['plain', twins]:.2f}x")
        for v in ("vmap", "group2", "group4", "seq", "lax.map"):
            if ("scan", twins) in by and (v, twins) in by:
                print(f"[{twins}] (b) {v} aggregate / (a) scan = {by[v, twins] / by['scan', twins]:.2f}x")

if __name__ == "__main__":
    main()
