"""Soft Actor-Critic with automatic entropy temperature (Haarnoja et al. 2018, "Soft
Actor-Critic Algorithms and Applications", arXiv:1812.05905): the project's continuous experts.

The soft actor-critic step itself (actor Eq. 7, temperature Eqs. 17–18, Polyak targets, with a
pluggable critic loss) is :func:`iqlib.neural.iq_learn_online.sac_update`; SAC's critic loss is
the TD loss here (Eq. 5, with the clipped double-Q target of Sec. 5 / Fujimoto et al. 2018):

    J_Q(θ_i) = E_D[½ (Q_θi(s, a) − y)²],
    y = r + γ (1 − terminal) (min_j Q_θ̄j(s', a') − α log π_φ(a'|s')),  a' ~ π_φ(·|s').

Timeouts (truncations) are not terminals: they bootstrap. The target entropy is H̄ = −dim(A) and
the targets move by ρ = 0.005 after every update, inside the compiled chunk. :func:`train_sac`
runs it online with :func:`iqlib.neural.online.run_online` (one env, one seed, uniform replay
minibatches, one update per env step after ``learning_starts`` random steps).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.envs import env_spec, evaluate
from iqlib.core.nets import apply, tanh_gaussian_sample, check_finite
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.core.transitions import Transitions
from iqlib.neural.acting import tanh_gaussian_act
from iqlib.neural.iq_learn_online import SACNets, SACState, init_sac, sac_update
from iqlib.neural.online import make_update_chunk, run_online

__all__ = ["SACConfig", "critic_loss", "make_update", "train_sac"]


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyper-parameters (defaults: Haarnoja et al. 2018b, Table 1, unless noted)."""

    hidden: tuple = (256, 256)  #: hidden widths of actor and critic MLPs (paper: 2 × 256).
    actor_lr: float = 3e-4  #: Adam learning rate of the actor (paper: 3e-4).
    critic_lr: float = 3e-4  #: Adam learning rate of the critics (paper: 3e-4).
    entropy_temperature_lr: float = 3e-4  #: Adam learning rate of log α (paper: 3e-4).
    batch_size: int = 256  #: minibatch size in transitions (paper: 256).
    discount: float = 0.99  #: discount γ (paper: 0.99).
    target_rate: float = 0.005  #: Polyak rate ρ of the target critics per update (paper's τ: 0.005).
    entropy_temperature: float = 1.0  #: initial entropy temperature α (common choice: 1.0).
    target_entropy: float | None = None  #: H̄ in nats; None means −action_dim (paper, Sec. 5).
    learning_starts: int = 5000  #: env steps of uniform random actions before updates begin.
    train_freq: int = 100  #: env steps per block; each block is followed by as many updates (UTD 1).
    buffer_capacity: int = 1_000_000  #: replay capacity in transitions (paper: 1e6).
    eval_every: int = 5000  #: env steps between deterministic evaluations.
    eval_episodes: int = 5  #: episodes per evaluation.

    def __post_init__(self):
        check_finite(self)
        for name in ("batch_size", "learning_starts", "train_freq", "buffer_capacity", "eval_every",
                     "eval_episodes"):
            if int(getattr(self, name)) < (0 if name == "learning_starts" else 1):
                raise ValueError(f"SACConfig.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.discount < 1.0:
            raise ValueError(f"SACConfig.discount must be in [0, 1), got {self.discount}")
        if not 0.0 < self.target_rate <= 1.0:
            raise ValueError(f"SACConfig.target_rate must be in (0, 1], got {self.target_rate}")
        if self.entropy_temperature <= 0:
            raise ValueError(f"SACConfig.entropy_temperature must be > 0, got {self.entropy_temperature}")


def critic_loss(critic_params, state: SACState, batch: Transitions, key, nets: SACNets, config: SACConfig):
    """Soft Bellman residual of both critics (Eq. 5, clipped double-Q target); ``(loss, metrics)``.

    ``batch`` fields: ``obs: (B, O)``, ``action: (B, A)``, ``reward, terminal: (B,)``,
    ``next_obs: (B, O)``. The target ``y: (B,)`` is held fixed (stop-gradient); a timeout
    is not a terminal, so it bootstraps. Returns ``½ E[(Q1 − y)²] + ½ E[(Q2 − y)²]``.
    """
    alpha = jnp.exp(state.log_alpha.params)
    next_action, next_logp = tanh_gaussian_sample(key, *apply(nets.actor_def, state.actor.params, batch.next_obs))
    tq1, tq2 = apply(nets.critic_def, state.target_critic, batch.next_obs, next_action)
    soft_v = jnp.minimum(tq1, tq2) - alpha * next_logp
    y = jax.lax.stop_gradient(batch.reward + config.discount * (1.0 - batch.terminal) * soft_v)
    q1, q2 = apply(nets.critic_def, critic_params, batch.obs, batch.action)
    loss = 0.5 * jnp.mean((q1 - y) ** 2) + 0.5 * jnp.mean((q2 - y) ** 2)
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q1)}


def make_update(nets: SACNets, config: SACConfig) -> Callable:
    """Pure ``update(state: SACState, batch: Transitions) -> (state, metrics)``: one SAC step."""
    return functools.partial(sac_update, nets=nets, config=config, critic_loss_fn=critic_loss)


def train_sac(env_id: str, config: SACConfig = SACConfig(), seed: int = 0, total_steps: int = 100_000,
              callback: Callable | None = None, snapshot_fn: Callable | None = None, progress: bool = False):
    """Online SAC on a gymnasium environment with continuous actions, one seed.

    Env steps run on the host (one jitted action call per step); after every block of
    ``config.train_freq`` steps past the ``learning_starts`` uniformly random ones, the same
    number of updates run as one compiled ``lax.scan`` chunk (UTD ratio 1).

    Args:
      env_id: gymnasium id with a Box action space (rescaled to [-1, 1]).
      seed: seeds parameters, the first reset (``seed``), the random warm-up and action noise.
      total_steps: environment steps; a multiple of ``config.train_freq``.
      callback: ``callback(step, state, metrics)`` after each update chunk (metrics: arrays
        ``(1, train_freq)``); returning True stops training (e.g. at a wall-clock budget), after
        a final evaluation.
      snapshot_fn: ``snapshot_fn(step, nets, state, eval_returns)`` after each evaluation
        (every ``config.eval_every`` env steps and at the end; ``eval_returns: (eval_episodes,)``).

    Returns:
      ``(nets, state, history, buffer)``: ``history`` a dict of lists (``step``, ``eval_mean``,
      ``eval_std``, ``episode_returns`` of training episodes as ``(step, return)``); ``buffer``
      the :class:`~iqlib.core.replay.ReplayBuffer` (oldest first via ``buffer.arrays()``).

    Raises:
      ValueError: for a discrete env, or ``total_steps`` not a positive multiple of ``train_freq``.
    """
    spec = env_spec(env_id)
    if spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has discrete actions; SAC here needs a Box action space")
    if total_steps < 1 or total_steps % config.train_freq:
        raise ValueError(f"total_steps ({total_steps}) must be a positive multiple of train_freq ({config.train_freq})")
    k_init, k_batch, k_act = jax.random.split(jax.random.key(seed), 3)
    nets, state = init_sac(k_init, spec["obs_dim"], spec["action_dim"], config)
    buffer = ReplayBuffer(min(config.buffer_capacity, total_steps), spec["obs_dim"], (spec["action_dim"],), n_seeds=1)
    chunk = make_update_chunk(make_update(nets, config),
                              lambda k, d, s, _: sample(k, d, s, config.batch_size), config.train_freq)
    det, sto = tanh_gaussian_act(nets.actor_def, True), tanh_gaussian_act(nets.actor_def, False)
    history = {"step": [], "eval_mean": [], "eval_std": []}
    one = lambda ln: jax.tree_util.tree_map(lambda x: x[0], ln)  # noqa: E731  (drop the seed axis)

    def evaluate_det(step, ln, _):
        rets = evaluate(env_id, functools.partial(det, one(ln).actor.params),
                        config.eval_episodes, seed=seed + 10_000 + step)
        history["step"].append(step)
        history["eval_mean"].append(float(np.mean(rets)))
        history["eval_std"].append(float(np.std(rets)))
        if snapshot_fn is not None:
            snapshot_fn(step, nets, one(ln), rets)
        return rets

    learner, hist = run_online(
        env_id, jax.tree_util.tree_map(lambda x: x[None], state), buffer, chunk,
        act=lambda ln, obs, key, step: sto(ln.actor.params, obs, key), total_steps=total_steps,
        train_freq=config.train_freq, keys=k_batch[None], learning_starts=config.learning_starts,
        eval_every=config.eval_every, evaluate=evaluate_det, seed=seed, reset_seeds=[[seed]], act_key=k_act,
        on_chunk=None if callback is None else (lambda t, ln, m: callback(t, one(ln), m)),
        progress=progress, desc=f"SAC {env_id}")
    history["episode_returns"] = [(t, r) for t, _, r in hist["train_returns"]]
    return nets, one(learner), history, buffer.of_seed(0)
