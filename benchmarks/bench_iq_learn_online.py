"""Throughput of the online IQ-Learn update (SAC actor/temperature + IQ critic), Hopper sizes.

Synthetic data (obs 11, action 3, 1,000 demo rows, 10,000 replay rows), 2 × 256 MLPs, 256 rows from
each source per update (512 in all). One compiled ``lax.scan`` chunk of ``CHUNK`` updates, timed
after a first (compiling) call; 1 seed vs 8 seeds vmapped (aggregate updates/s over all seeds).
Peak memory is the process's ``ru_maxrss`` after each row (monotone: it includes earlier rows).

    .venv/bin/python benchmarks/bench_iq_learn_online.py
"""

from __future__ import annotations

import jax
import numpy as np

from iqlib.core.replay import ReplayBuffer
from iqlib.core.transitions import Transitions
from iqlib.neural.iq_learn_online import IQLearnOnlineConfig, init_sac, make_update
from iqlib.neural.iq_learn_online_train import demo_data, mix_demos
from iqlib.neural.online import make_update_chunk

from _harness import median, peak_rss_mb, time_steps

OBS, ACT, N_DEMO, N_REPLAY, CHUNK, REPEATS = 11, 3, 1_000, 10_000, 50, 3


def synthetic(n, rng):
    return Transitions(rng.normal(size=(n, OBS)).astype(np.float32), rng.uniform(-1, 1, (n, ACT)).astype(np.float32),
                       np.zeros(n, np.float32), rng.normal(size=(n, OBS)).astype(np.float32),
                       (rng.random(n) < 0.001).astype(np.float32), np.zeros(n, np.float32),
                       np.zeros(n, np.float32))


def carry_for(n_seeds, config, rng):
    """``(nets, (learner, keys), buffer, shared demos)`` of ``n_seeds`` seeds, the replay full."""
    nets, _ = init_sac(jax.random.key(0), OBS, ACT, config)
    learner = jax.vmap(lambda k: init_sac(k, OBS, ACT, config)[1])(jax.random.split(jax.random.key(1), n_seeds))
    demos = synthetic(N_DEMO, rng)._replace(episode_start=np.eye(1, N_DEMO, dtype=np.float32)[0])
    buffer = ReplayBuffer(N_REPLAY, OBS, (ACT,), n_seeds=n_seeds)
    buffer.add(**{k: np.broadcast_to(v, (n_seeds, *v.shape)) for k, v in synthetic(N_REPLAY, rng)._asdict().items()})
    return nets, (learner, jax.random.split(jax.random.key(2), n_seeds)), buffer, demo_data(demos)


def main():
    config = IQLearnOnlineConfig()  # 256 × 256, batch 256 per source, twin critics, target V(s')
    rng = np.random.default_rng(0)
    print(f"jax {jax.__version__} on {jax.default_backend()}; online IQ-Learn update, obs {OBS}, action {ACT}, "
          f"hidden {config.hidden}, {config.batch_size}+{config.batch_size} rows/update, chunk {CHUNK}")
    print(f"{'seeds':>5} {'compile+first [s]':>18} {'chunk [s]':>10} {'updates/s (all seeds)':>22} "
          f"{'per seed':>9} {'peak RSS [MiB]':>15}")
    for n_seeds in (1, 8):
        nets, carry, buffer, shared = carry_for(n_seeds, config, rng)
        chunk = make_update_chunk(make_update(nets, config), mix_demos(config.batch_size), CHUNK)
        data, size = buffer.device_view()
        carry, m, first, times = time_steps(lambda c: chunk(c, data, size, shared), carry, REPEATS)
        best = median(times)
        rate = n_seeds * CHUNK / best
        print(f"{n_seeds:>5} {first:>18.2f} {best:>10.3f} {rate:>22.1f} {rate / n_seeds:>9.1f} {peak_rss_mb():>15.0f}")
        assert np.all(np.isfinite(np.asarray(m["critic_loss"])))


if __name__ == "__main__":
    main()
