"""Soft Actor-Critic with automatic entropy temperature (Haarnoja et al. 2018, "Soft
Actor-Critic Algorithms and Applications", arXiv:1812.05905).

With a tanh-Gaussian actor π_φ, twin critics Q_θ1, Q_θ2, Polyak targets Q_θ̄ and α = exp(log α):

- critic (Eq. 5, with the clipped double-Q target of Sec. 5 / Fujimoto et al. 2018):
  J_Q(θ_i) = E_D[½ (Q_θi(s, a) − y)²],
  y = r + γ (1 − terminal) (min_j Q_θ̄j(s', a') − α log π_φ(a'|s')),  a' ~ π_φ(·|s').
  Timeouts (truncations) are not terminals: they bootstrap.
- actor (Eq. 7, reparameterised): J_π(φ) = E_s[α log π_φ(a|s) − min_j Q_θj(s, a)], a ~ π_φ.
- temperature (Eqs. 17–18): J(α) = E_{a~π}[−α log π(a|s) − α H̄], target entropy H̄ = −dim(A).
- targets: θ̄ ← (1 − τ) θ̄ + τ θ after every update (τ = 0.005), inside the compiled chunk.

:func:`sac_update` is pure and takes the critic objective as an argument, so online
IQ-Learn (Garg et al. 2021) reuses the actor and temperature steps with its own critic
loss. :func:`train_sac` is the online loop (host environment, compiled update chunks).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.transitions import Transitions
from iqlib.core.nets import tanh_gaussian_mode, tanh_gaussian_sample
from iqlib.core.envs import env_spec, evaluate, make_env
from iqlib.core.nets import DoubleCritic, TanhGaussianActor, apply, init_params
from iqlib.data.experts import flatten_params, unflatten_params
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.core.nets import TrainState, apply_gradients, create_train_state, polyak_update
from iqlib.core.training import make_chunk

__all__ = ["SACConfig", "SACNets", "SACState", "init_sac", "critic_loss", "actor_loss",
           "temperature_loss", "sac_update", "train_sac", "deterministic_act", "stochastic_act",
           "save_actor", "load_actor", "load_expert", "EXPERTS_DIR"]

EXPERTS_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "experts"


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC hyper-parameters (defaults: Haarnoja et al. 2018b, Table 1, unless noted)."""

    hidden: tuple = (256, 256)  #: hidden widths of actor and critic MLPs (paper: 2 × 256).
    actor_lr: float = 3e-4  #: Adam learning rate of the actor (paper: 3e-4).
    critic_lr: float = 3e-4  #: Adam learning rate of the critics (paper: 3e-4).
    temperature_lr: float = 3e-4  #: Adam learning rate of log α (paper: 3e-4).
    batch_size: int = 256  #: minibatch size in transitions (paper: 256).
    discount: float = 0.99  #: discount γ (paper: 0.99).
    tau: float = 0.005  #: Polyak rate τ of the target critics per update (paper: 0.005).
    init_temperature: float = 1.0  #: initial entropy temperature α (common choice: 1.0).
    target_entropy: float | None = None  #: H̄ in nats; None means −action_dim (paper, Sec. 5).
    learning_starts: int = 5000  #: env steps of uniform random actions before updates begin.
    train_freq: int = 100  #: env steps per block; each block is followed by as many updates (UTD 1).
    buffer_capacity: int = 1_000_000  #: replay capacity in transitions (paper: 1e6).
    eval_every: int = 5000  #: env steps between deterministic evaluations.
    eval_episodes: int = 5  #: episodes per evaluation.

    def __post_init__(self):
        for name in ("batch_size", "learning_starts", "train_freq", "buffer_capacity", "eval_every",
                     "eval_episodes"):
            if int(getattr(self, name)) < (0 if name == "learning_starts" else 1):
                raise ValueError(f"SACConfig.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.discount < 1.0:
            raise ValueError(f"SACConfig.discount must be in [0, 1), got {self.discount}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"SACConfig.tau must be in (0, 1], got {self.tau}")
        if self.init_temperature <= 0:
            raise ValueError(f"SACConfig.init_temperature must be > 0, got {self.init_temperature}")


class SACNets(NamedTuple):
    """Static parts: graphdefs of actor and critic, optimisers, target entropy H̄ (nats)."""

    actor_def: Any
    critic_def: Any
    actor_tx: Any
    critic_tx: Any
    temperature_tx: Any
    target_entropy: float


class SACState(NamedTuple):
    """Carry of the update: actor, critic, target-critic params, log α and update count."""

    actor: TrainState
    critic: TrainState
    target_critic: Any
    log_alpha: TrainState
    step: jax.Array


def init_sac(key: jax.Array, obs_dim: int, action_dim: int, config: SACConfig = SACConfig()):
    """Initialise ``(nets, state)``; the target critic starts equal to the critic."""
    k_actor, k_critic = jax.random.split(key)
    actor_def, actor_p = init_params(lambda r: TanhGaussianActor(obs_dim, action_dim, config.hidden, rngs=r), k_actor)
    critic_def, critic_p = init_params(lambda r: DoubleCritic(obs_dim, action_dim, config.hidden, rngs=r), k_critic)
    target_entropy = -float(action_dim) if config.target_entropy is None else float(config.target_entropy)
    nets = SACNets(actor_def, critic_def, optax.adam(config.actor_lr), optax.adam(config.critic_lr),
                   optax.adam(config.temperature_lr), target_entropy)
    log_alpha = jnp.asarray(np.log(config.init_temperature), jnp.float32)
    state = SACState(create_train_state(actor_p, nets.actor_tx), create_train_state(critic_p, nets.critic_tx),
                     jax.tree_util.tree_map(jnp.copy, critic_p), create_train_state(log_alpha, nets.temperature_tx),
                     jnp.zeros((), jnp.int32))
    return nets, state


def critic_loss(critic_params, state: SACState, batch: Transitions, key, nets: SACNets, config: SACConfig):
    """Soft Bellman residual of both critics (Eq. 5, clipped double-Q target); ``(loss, metrics)``.

    ``batch`` fields: ``obs: (B, O)``, ``action: (B, A)``, ``reward, terminal: (B,)``,
    ``next_obs: (B, O)``. The target ``y: (B,)`` is held fixed (stop-gradient); a timeout
    is not a terminal, so it bootstraps. Returns ``½ E[(Q1 − y)²] + ½ E[(Q2 − y)²]``.
    """
    alpha = jnp.exp(state.log_alpha.params)
    mean, log_std = apply(nets.actor_def, state.actor.params, batch.next_obs)
    next_action, next_logp = tanh_gaussian_sample(key, mean, log_std)
    tq1, tq2 = apply(nets.critic_def, state.target_critic, batch.next_obs, next_action)
    soft_v = jnp.minimum(tq1, tq2) - alpha * next_logp
    y = jax.lax.stop_gradient(batch.reward + config.discount * (1.0 - batch.terminal) * soft_v)
    q1, q2 = apply(nets.critic_def, critic_params, batch.obs, batch.action)
    loss = 0.5 * jnp.mean((q1 - y) ** 2) + 0.5 * jnp.mean((q2 - y) ** 2)
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q1)}


def actor_loss(actor_params, critic_params, alpha, obs, key, nets: SACNets):
    """``E_s[α log π(a|s) − min_j Q_j(s, a)]``, a reparameterised (Eq. 7); ``obs: (B, O)``.

    Returns ``(loss, log_prob: (B,))``; the log-probabilities feed :func:`temperature_loss`.
    """
    mean, log_std = apply(nets.actor_def, actor_params, obs)
    action, logp = tanh_gaussian_sample(key, mean, log_std)
    q1, q2 = apply(nets.critic_def, critic_params, obs, action)
    return jnp.mean(alpha * logp - jnp.minimum(q1, q2)), logp


def temperature_loss(log_alpha, log_prob, target_entropy: float):
    """``J(α) = E[−α (log π(a|s) + H̄)]`` with α = exp(log α) (Eq. 18); ``log_prob: (B,)``.

    When the policy's entropy −E[log π] is below H̄ the gradient in log α is negative, so
    gradient descent raises α (and lowers it in the opposite case).
    """
    return -jnp.exp(log_alpha) * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)


def sac_update(state: SACState, batch, key, nets: SACNets, config: SACConfig,
               critic_loss_fn: Callable = critic_loss, obs_fn: Callable = lambda b: b.obs):
    """One SAC step: critic, then actor, then temperature, then Polyak targets (pure).

    Args:
      state: :class:`SACState`.
      batch: whatever ``critic_loss_fn`` takes (a :class:`Transitions` of ``(B, ·)``
        arrays for SAC); ``obs_fn(batch) -> (B, O)`` gives the states of the actor step.
      key: PRNG key (split three ways: critic target, actor, spare).
      critic_loss_fn: ``(critic_params, state, batch, key, nets, config) -> (loss,
        metrics dict)``; :func:`critic_loss` for SAC, an IQ-Learn objective otherwise.

    Returns:
      ``(state, metrics)`` with scalar metrics (losses, α, entropy, Q mean).
    """
    k_critic, k_actor = jax.random.split(key)
    (_, c_metrics), c_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(
        state.critic.params, state, batch, k_critic, nets, config)
    critic = apply_gradients(state.critic, c_grads, nets.critic_tx)
    alpha = jnp.exp(state.log_alpha.params)
    (a_loss, logp), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, critic.params, alpha, obs_fn(batch), k_actor, nets)
    actor = apply_gradients(state.actor, a_grads, nets.actor_tx)
    t_loss, t_grad = jax.value_and_grad(temperature_loss)(state.log_alpha.params, logp, nets.target_entropy)
    log_alpha = apply_gradients(state.log_alpha, t_grad, nets.temperature_tx)
    target = polyak_update(state.target_critic, critic.params, config.tau)
    metrics = {**c_metrics, "actor_loss": a_loss, "temperature_loss": t_loss, "alpha": alpha,
               "entropy": -jnp.mean(logp)}
    return SACState(actor, critic, target, log_alpha, state.step + 1), metrics


@functools.partial(jax.jit, static_argnums=0)
def _mode(actor_def, params, obs):
    return tanh_gaussian_mode(apply(actor_def, params, obs)[0])


@functools.partial(jax.jit, static_argnums=0)
def _sample(actor_def, params, obs, key):
    key, k = jax.random.split(key)
    return tanh_gaussian_sample(k, *apply(actor_def, params, obs))[0], key


def deterministic_act(actor_def, params) -> Callable:
    """``act(obs: (..., O), key) -> tanh(mean): (..., A)`` for :func:`iqlib.core.envs.evaluate`."""
    return lambda obs, key: _mode(actor_def, params, jnp.asarray(obs, jnp.float32))


def stochastic_act(actor_def, params) -> Callable:
    """``act(obs: (..., O), key) -> a ~ π(·|s): (..., A)`` for :func:`iqlib.core.envs.evaluate`."""
    return lambda obs, key: _sample(actor_def, params, jnp.asarray(obs, jnp.float32), key)[0]


def train_sac(env_id: str, config: SACConfig = SACConfig(), seed: int = 0, total_steps: int = 100_000,
              callback: Callable | None = None, snapshot_fn: Callable | None = None):
    """Online SAC on a gymnasium environment with continuous actions.

    Env steps run on the host (one jitted action call per step); after every block of
    ``config.train_freq`` steps (once ``learning_starts`` random steps are in the buffer)
    the same number of updates run as one compiled ``lax.scan`` chunk (UTD ratio 1).

    Args:
      env_id: gymnasium id with a Box action space (rescaled to [-1, 1]).
      seed: seeds parameters, the first reset, the random warm-up and action noise.
      total_steps: environment steps; a multiple of ``config.train_freq``.
      callback: ``callback(step, state, metrics)`` after each update chunk (metrics:
        per-update arrays of length ``train_freq``); returning True stops training
        (e.g. at a wall-clock budget), after a final evaluation.
      snapshot_fn: ``snapshot_fn(step, nets, state, eval_returns)`` after each evaluation
        (every ``config.eval_every`` env steps; ``eval_returns: (eval_episodes,)``).

    Returns:
      ``(nets, state, history, buffer)``: ``history`` a dict of lists (``step``,
      ``eval_mean``, ``eval_std``, ``episode_returns`` of training episodes); ``buffer``
      the :class:`~iqlib.core.replay.ReplayBuffer` (oldest first via ``buffer.arrays()``).

    Raises:
      ValueError: for a discrete env, or ``total_steps`` not a positive multiple of ``train_freq``.
    """
    spec = env_spec(env_id)
    if spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has discrete actions; SAC here needs a Box action space")
    if total_steps < 1 or total_steps % config.train_freq:
        raise ValueError(f"total_steps ({total_steps}) must be a positive multiple of train_freq ({config.train_freq})")
    obs_dim, action_dim = spec["obs_dim"], spec["action_dim"]
    key = jax.random.key(seed)
    key, k_init, k_act, k_train = jax.random.split(key, 4)
    nets, state = init_sac(k_init, obs_dim, action_dim, config)
    buffer = ReplayBuffer(min(config.buffer_capacity, total_steps), obs_dim, (action_dim,))
    rng = np.random.default_rng(seed)

    def update(carry):
        st, data, size, k = carry
        k, k_batch, k_upd = jax.random.split(k, 3)
        st, metrics = sac_update(st, sample(k_batch, data, size, config.batch_size), k_upd, nets, config)
        return (st, data, size, k), metrics

    chunk = make_chunk(update, config.train_freq)
    env = make_env(env_id)
    obs, _ = env.reset(seed=seed)
    history = {"step": [], "eval_mean": [], "eval_std": [], "episode_returns": []}
    ep_return, ep_start, stop = 0.0, 1.0, False
    for t in range(1, total_steps + 1):
        if t <= config.learning_starts:
            action = rng.uniform(-1.0, 1.0, action_dim).astype(np.float32)
        else:
            action, k_act = _sample(nets.actor_def, state.actor.params, jnp.asarray(obs, jnp.float32), k_act)
            action = np.asarray(action)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs=obs, action=action, reward=reward, next_obs=next_obs, terminal=float(terminated),
                   timeout=float(truncated and not terminated), episode_start=ep_start)
        ep_return += float(reward)
        obs, ep_start = next_obs, 0.0
        if terminated or truncated:
            history["episode_returns"].append((t, ep_return))
            obs, _ = env.reset()
            ep_return, ep_start = 0.0, 1.0
        if t % config.train_freq == 0 and t >= config.learning_starts:
            data, size = buffer.device_view()
            (state, _, _, k_train), metrics = chunk((state, data, size, k_train))
            stop = callback is not None and bool(callback(t, state, metrics))
        if t % config.eval_every == 0 or stop:
            rets = evaluate(env_id, deterministic_act(nets.actor_def, state.actor.params),
                            config.eval_episodes, seed=seed + 10_000 + t)
            history["step"].append(t)
            history["eval_mean"].append(float(np.mean(rets)))
            history["eval_std"].append(float(np.std(rets)))
            if snapshot_fn is not None:
                snapshot_fn(t, nets, state, rets)
        if stop:
            break
    env.close()
    return nets, state, history, buffer


def save_actor(path, params, provenance: dict) -> str:
    """Write actor params (flattened nnx State, '/'-joined keys) + provenance; return sha256.

    ``provenance`` must hold ``env_id`` and ``hidden`` (the hidden widths).
    """
    from iqlib.data.files import save_npz_with_provenance

    for k in ("env_id", "hidden"):
        if k not in provenance:
            raise ValueError(f"provenance must hold {k!r} to rebuild the actor")
    return save_npz_with_provenance(path, flatten_params(params), provenance)


def load_actor(path) -> tuple[Any, Any]:
    """``(actor graphdef, params)`` from a file written by :func:`save_actor` (sha256 checked)."""
    from iqlib.data.files import load_npz_verified, load_provenance

    prov = load_provenance(path)
    flat = load_npz_verified(path)
    spec = env_spec(prov["env_id"])
    actor_def, params = init_params(lambda r: TanhGaussianActor(spec["obs_dim"], spec["action_dim"],
                                                                 tuple(prov["hidden"]), rngs=r), jax.random.key(0))
    try:
        params = unflatten_params(params, flat)
    except ValueError as err:
        raise ValueError(f"{path}: stored arrays do not match a TanhGaussianActor with hidden={prov['hidden']}: {err}") from None
    return actor_def, params


def load_expert(env_id: str) -> tuple[Any, Any]:
    """The project's SAC expert for ``env_id``: ``(actor graphdef, params)`` from
    ``data/experts/<env_id>.npz``. Raises FileNotFoundError (naming ``make data-locomotion``)."""
    path = EXPERTS_DIR / f"{env_id}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"no expert for {env_id!r} at {path}; run `make data-locomotion`")
    return load_actor(path)
