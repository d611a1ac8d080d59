"""Online IQ-Learn with a soft actor-critic, continuous actions (Garg et al., NeurIPS 2021, §4–5, App. D).

A soft actor-critic (Haarnoja et al. 2018, arXiv:1812.05905) with a pluggable critic loss:
tanh-Gaussian actor π, twin critics Q₁, Q₂, Polyak targets and α = exp(log α). :func:`sac_update`
takes one step of the critic (whatever ``critic_loss_fn`` says), then of the actor (SAC Eq. 7,
reparameterised: E[α log π(a|s) − min_j Q_j(s, a)]), then of the temperature (Eq. 18:
E[−α (log π + H̄)]), then moves the targets θ̄ ← (1 − ρ) θ̄ + ρ θ. With the TD loss
(:func:`iqlib.neural.sac.critic_loss`) this is SAC; with :func:`iq_critic_loss` it is IQ-Learn.

IQ-Learn trains one soft Q-function; its implicit reward is the inverse soft Bellman residual
(Eq. 4) r_Q(s, a) = Q(s, a) − γ (1 − terminal) V^π(s'), with the one-sample soft value of the actor

    V^π(s) = Q(s, ã) − α log π(ã|s),   ã ~ π(·|s),   Q = min(Q₁, Q₂).

The critic minimises the negated χ² objective (Eq. 10 with φ(x) = x − λx², the paper's
λ = 1/(4α_χ²) = 0.5) on a batch of B expert rows (ρ_E) and B rows of the agent's replay (ρ_π):

    L(Q) = − E_ρE[r_Q]  +  init term  +  λ E_rows[r_Q²]
    init term "value":  E_{½ρE+½ρπ}[V^π(s) − γ (1 − terminal) V^π(s')]   (§5.1, telescoped)
              "v0":     (1 − γ) E_{s0 ~ demo initial states}[V^π(s0)]     (Eq. 9's p0 term)
    rows "mixture": the χ² penalty over expert AND policy rows (the paper's online regulariser);
         "expert": ρ_E rows only.

With ``use_target`` V^π(s') uses the target critics. With ``absorbing`` (ours, off by default) a
terminal row bootstraps from V_abs = −1/(2λ(1 − γ)) (:func:`absorbing_value`) instead of 0: with
the usually negative learned values, V = 0 after a terminal makes ending an episode look good.
Each twin gets its own loss, with V from min(Q₁, Q₂) (``twin="min"``) or its own critic
("independent"); the two are averaged. The actor steps on all 2B states. Environment rewards are
never used for learning. Everything here is pure; the env loop lives in
:mod:`iqlib.neural.iq_learn_online_train`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.nets import (DoubleCritic, TanhGaussianActor, TrainState, apply, apply_gradients,
                             check_finite, create_train_state, init_params, polyak_update,
                             tanh_gaussian_sample)

__all__ = ["IQLearnOnlineConfig", "SACNets", "SACState", "IQBatch", "init_sac", "actor_loss", "temperature_loss",
           "sac_update", "iq_critic_terms", "absorbing_value", "sampled_soft_value", "iq_critic_loss", "make_update"]


@dataclasses.dataclass(frozen=True)
class IQLearnOnlineConfig:
    """Online IQ-Learn (SAC) hyper-parameters; "paper" = Garg et al. 2021, App. D and its MuJoCo settings."""

    hidden: tuple = (256, 256)  #: actor and critic MLP widths (paper: 2 × 256).
    critic_lr: float = 3e-4  #: Adam step of the critics (paper: 3e-4).
    actor_lr: float = 3e-5  #: Adam step of the actor (paper MuJoCo: 3e-5).
    entropy_temperature_lr: float = 3e-4  #: Adam step of log α when learned (SAC: 3e-4).
    learn_temperature: bool = False  #: learn α towards the target entropy (paper IL: fixed α).
    entropy_temperature: float = 0.01  #: entropy temperature α, initial if learned (paper MuJoCo: 0.01).
    target_entropy: float | None = None  #: SAC target entropy in nats; None = −action_dim.
    batch_size: int = 256  #: rows drawn from EACH source, expert and replay (paper: 256 each).
    discount: float = 0.99  #: γ (paper: 0.99).
    target_rate: float = 0.005  #: Polyak rate ρ of the target critics per update (paper: 0.005).
    use_target: bool = True  #: V(s') from target critics (paper MuJoCo: yes).
    chi2_weight: float = 0.5  #: λ of φ(x) = x − λx² (paper α_χ² = 0.5 ⇒ λ = 1/(4·0.5) = 0.5).
    chi2_rows: Literal["mixture", "expert"] = "mixture"  #: rows of the χ² penalty (paper online: both).
    init_term: Literal["value", "v0"] = "value"  #: initial-state term (paper: "value"; Hopper/Walker "v0").
    twin: Literal["min", "independent"] = "min"  #: how twin critics share V (see module doc).
    absorbing: bool = False  #: terminal rows bootstrap from `absorbing_value` instead of 0 (ours; paper: 0).
    learning_starts: int = 1000  #: env steps of uniform random actions before updates (ours; paper 0 for IL).
    train_freq: int = 100  #: env steps per block; each block is followed by as many updates (UTD 1).
    buffer_capacity: int = 1_000_000  #: replay capacity per seed, transitions (paper: 1e6).
    eval_every: int = 1000  #: env steps between evaluations (paper: 5e3 MuJoCo).
    eval_episodes: int = 5  #: episodes per evaluation and policy kind (paper: 10).

    def __post_init__(self):
        check_finite(self)
        for name in ("batch_size", "train_freq", "buffer_capacity", "eval_every", "eval_episodes"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 1:
                raise ValueError(f"IQLearnOnlineConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.learning_starts < 0 or not 0.0 <= self.discount < 1.0 or not 0.0 < self.target_rate <= 1.0:
            raise ValueError("IQLearnOnlineConfig: need learning_starts >= 0, discount in [0, 1), target_rate in (0, 1]")
        if not (np.isfinite(self.chi2_weight) and self.chi2_weight >= 0):
            raise ValueError(f"IQLearnOnlineConfig.chi2_weight must be finite and >= 0, got {self.chi2_weight}")
        if self.absorbing and self.chi2_weight <= 0:
            raise ValueError("IQLearnOnlineConfig: absorbing=True needs chi2_weight > 0")
        if self.entropy_temperature <= 0 or min(self.critic_lr, self.actor_lr, self.entropy_temperature_lr) <= 0:
            raise ValueError("IQLearnOnlineConfig: entropy_temperature and learning rates must be > 0")
        for name, options in (("chi2_rows", ("mixture", "expert")), ("init_term", ("value", "v0")),
                              ("twin", ("min", "independent"))):
            if getattr(self, name) not in options:
                raise ValueError(f"IQLearnOnlineConfig.{name} must be one of {options}, got {getattr(self, name)!r}")


class SACNets(NamedTuple):
    """Static parts: graphdefs of actor and critic, optimisers, target entropy H̄ (nats)."""

    actor_def: Any
    critic_def: Any
    actor_tx: Any
    critic_tx: Any
    temperature_tx: Any
    target_entropy: float


class SACState(NamedTuple):
    """Carry of the update: actor, critic, target-critic params, log α, update count, PRNG key."""

    actor: TrainState
    critic: TrainState
    target_critic: Any
    log_alpha: TrainState
    step: jax.Array
    key: jax.Array


class IQBatch(NamedTuple):
    """One IQ-Learn batch: ``rows: Transitions (2B, ·)`` (expert rows first), ``is_expert: (2B,)``
    in {0, 1}, ``init_obs: (B, O)`` demo initial states (for ``init_term="v0"``)."""

    rows: Any
    is_expert: jax.Array
    init_obs: jax.Array


def init_sac(key: jax.Array, obs_dim: int, action_dim: int, config) -> tuple[SACNets, SACState]:
    """``(nets, state)``; the target critic starts equal to the critic.

    ``config``: an :class:`IQLearnOnlineConfig` or :class:`iqlib.neural.sac.SACConfig` (reads
    ``hidden``, the three learning rates, ``entropy_temperature``, ``target_entropy``; α is
    fixed, learning rate 0, when ``learn_temperature`` is False).
    """
    k_actor, k_critic, k_state = jax.random.split(key, 3)
    actor_def, actor_p = init_params(lambda r: TanhGaussianActor(obs_dim, action_dim, config.hidden, rngs=r), k_actor)
    critic_def, critic_p = init_params(lambda r: DoubleCritic(obs_dim, action_dim, config.hidden, rngs=r), k_critic)
    target_entropy = -float(action_dim) if config.target_entropy is None else float(config.target_entropy)
    t_lr = config.entropy_temperature_lr if getattr(config, "learn_temperature", True) else 0.0
    nets = SACNets(actor_def, critic_def, optax.adam(config.actor_lr), optax.adam(config.critic_lr),
                   optax.adam(t_lr), target_entropy)
    log_alpha = jnp.asarray(np.log(config.entropy_temperature), jnp.float32)
    state = SACState(create_train_state(actor_p, nets.actor_tx), create_train_state(critic_p, nets.critic_tx),
                     jax.tree_util.tree_map(jnp.copy, critic_p), create_train_state(log_alpha, nets.temperature_tx),
                     jnp.zeros((), jnp.int32), k_state)
    return nets, state


def actor_loss(actor_params, critic_params, alpha, obs, key, nets: SACNets):
    """``E_s[α log π(a|s) − min_j Q_j(s, a)]``, a reparameterised (SAC Eq. 7); ``obs: (B, O)``.

    Returns ``(loss, log_prob: (B,))``; the log-probabilities feed :func:`temperature_loss`.
    """
    action, logp = tanh_gaussian_sample(key, *apply(nets.actor_def, actor_params, obs))
    q1, q2 = apply(nets.critic_def, critic_params, obs, action)
    return jnp.mean(alpha * logp - jnp.minimum(q1, q2)), logp


def temperature_loss(log_alpha, log_prob, target_entropy: float):
    """``J(α) = E[−α (log π(a|s) + H̄)]`` with α = exp(log α) (SAC Eq. 18); ``log_prob: (B,)``.

    When the policy's entropy −E[log π] is below H̄ the gradient in log α is negative, so
    gradient descent raises α (and lowers it in the opposite case).
    """
    return -jnp.exp(log_alpha) * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy)


def sac_update(state: SACState, batch, nets: SACNets, config, critic_loss_fn: Callable,
               obs_fn: Callable = lambda b: b.obs):
    """One soft actor-critic step: critic, actor, temperature, then Polyak targets (pure).

    Args:
      batch: what ``critic_loss_fn`` takes; ``obs_fn(batch) -> (B, O)`` the actor step's states.
      config: anything with ``target_rate`` (ρ) and what ``critic_loss_fn`` reads.
      critic_loss_fn: ``(critic_params, state, batch, key, nets, config) -> (loss, metrics)``.

    Returns:
      ``(state, metrics)`` with scalar metrics (losses, α, entropy, critic metrics); the key
      in ``state`` is split once per step.
    """
    key, k_critic, k_actor = jax.random.split(state.key, 3)
    (_, c_metrics), c_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(
        state.critic.params, state, batch, k_critic, nets, config)
    critic = apply_gradients(state.critic, c_grads, nets.critic_tx)
    alpha = jnp.exp(state.log_alpha.params)
    (a_loss, logp), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        state.actor.params, critic.params, alpha, obs_fn(batch), k_actor, nets)
    actor = apply_gradients(state.actor, a_grads, nets.actor_tx)
    t_loss, t_grad = jax.value_and_grad(temperature_loss)(state.log_alpha.params, logp, nets.target_entropy)
    log_alpha = apply_gradients(state.log_alpha, t_grad, nets.temperature_tx)
    target = polyak_update(state.target_critic, critic.params, config.target_rate)
    metrics = {**c_metrics, "actor_loss": a_loss, "temperature_loss": t_loss, "alpha": alpha,
               "entropy": -jnp.mean(logp)}
    return SACState(actor, critic, target, log_alpha, state.step + 1, key), metrics


def _wmean(x, w):
    return jnp.sum(w * x) / jnp.maximum(jnp.sum(w), 1.0)


def iq_critic_terms(q, v, next_v, terminal, is_expert, *, discount: float, chi2_weight: float,
                    chi2_rows: str = "mixture", init_term: str = "value", v_init=None):
    """The IQ-Learn critic loss (the negated objective of Eq. 10) from per-row values.

    Args:
      q: (N,) Q(s, a) of every row. v: (N,) V(s). next_v: (N,) V(s'). terminal: (N,) 1 = no bootstrap.
      is_expert: (N,) 1 for demo rows (ρ_E), 0 for the agent's replay rows (ρ_π).
      discount: γ. chi2_weight: λ ≥ 0. chi2_rows: "mixture" (all rows) or "expert".
      init_term: "value" (E_rows[V(s) − γ(1−terminal)V(s')]) or "v0" ((1 − γ) mean of ``v_init``).
      v_init: (N0,) V at demo initial states, needed for "v0".

    Returns:
      ``(loss, terms)``: loss = −E_ρE[r] + init + λ E_rows[r²] (reward units; minimise), with
      ``terms`` = {"expert_reward": E_ρE[r], "policy_reward": E_ρπ[r], "init_term", "chi2_penalty"}.

    Raises:
      ValueError: unknown ``chi2_rows``/``init_term``, or "v0" without ``v_init``.
    """
    if chi2_rows not in ("mixture", "expert") or init_term not in ("value", "v0"):
        raise ValueError(f"chi2_rows must be 'mixture'/'expert' and init_term 'value'/'v0', got {chi2_rows!r}, {init_term!r}")
    if init_term == "v0" and v_init is None:
        raise ValueError("init_term='v0' needs v_init: (N0,) values at demo initial states")
    mask = discount * (1.0 - terminal)
    r = q - mask * next_v
    e = is_expert.astype(r.dtype)
    expert_reward = _wmean(r, e)
    init = jnp.mean(v - mask * next_v) if init_term == "value" else (1.0 - discount) * jnp.mean(v_init)
    penalty = chi2_weight * (jnp.mean(r**2) if chi2_rows == "mixture" else _wmean(r**2, e))
    loss = -expert_reward + init + penalty
    return loss, {"expert_reward": expert_reward, "policy_reward": _wmean(r, 1.0 - e), "init_term": init,
                  "chi2_penalty": penalty}


def absorbing_value(chi2_weight: float, discount: float) -> float:
    """V_abs = −1/(2λ(1 − γ)): the χ² objective's optimal value of an absorbing state only the policy reaches.

    An absorbing self-loop has r = V_abs − γ V_abs; on policy-only rows the mixture objective adds
    w (r + λ r²), minimised at r = −1/(2λ), the lowest implicit reward. Bootstrapping terminal rows
    from V_abs (not 0) removes IQ-Learn's incentive to end episodes early when V < 0 (cf. LS-IQ,
    Al-Hafez et al. 2023, on absorbing states). Raises ValueError unless λ > 0 and 0 ≤ γ < 1.
    """
    if not chi2_weight > 0 or not 0.0 <= discount < 1.0:
        raise ValueError(f"absorbing_value needs chi2_weight > 0 and discount in [0, 1), got {chi2_weight}, {discount}")
    return -1.0 / (2.0 * chi2_weight * (1.0 - discount))


def sampled_soft_value(actor_def, actor_params, critic_def, critic_params, obs, key, alpha, twin: str = "min"):
    """One-sample soft value V^π(s) = Q(s, ã) − α log π(ã|s), ã ~ π(·|s) (tanh-Gaussian actor).

    obs: (B, O). Returns ``(v1, v2)``, each (B,): with ``twin="min"`` both are min(Q₁, Q₂)(s, ã) −
    α log π(ã|s); with "independent" each uses its own critic. Gradients flow into the critic
    params (not the actor's sample, which is held fixed).
    """
    action, logp = jax.lax.stop_gradient(tanh_gaussian_sample(key, *apply(actor_def, actor_params, obs)))
    q1, q2 = apply(critic_def, critic_params, obs, action)
    if twin == "min":
        qm = jnp.minimum(q1, q2)
        return qm - alpha * logp, qm - alpha * logp
    return q1 - alpha * logp, q2 - alpha * logp


def iq_critic_loss(critic_params, state: SACState, batch: IQBatch, key, nets: SACNets, config: IQLearnOnlineConfig):
    """IQ-Learn critic loss, a ``critic_loss_fn`` of :func:`sac_update`; returns ``(loss, metrics)``.

    Averages :func:`iq_critic_terms` over the twin critics; V from :func:`sampled_soft_value`
    (online critics at s and at the demo initial states; target critics at s' if ``use_target``).
    """
    rows, alpha = batch.rows, jnp.exp(state.log_alpha.params)
    k_v, k_next, k_init = jax.random.split(key, 3)
    value = functools.partial(sampled_soft_value, nets.actor_def, state.actor.params, nets.critic_def,
                              alpha=alpha, twin=config.twin)
    vs = value(critic_params, rows.obs, k_v)
    nvs = value(state.target_critic if config.use_target else critic_params, rows.next_obs, k_next)
    v0s = value(critic_params, batch.init_obs, k_init) if config.init_term == "v0" else (None, None)
    qs = apply(nets.critic_def, critic_params, rows.obs, rows.action)
    terminal = rows.terminal
    if config.absorbing:
        v_abs = absorbing_value(config.chi2_weight, config.discount)
        nvs = tuple(jnp.where(terminal > 0, v_abs, nv) for nv in nvs)
        terminal = jnp.zeros_like(terminal)
    out = [iq_critic_terms(q, v, nv, terminal, batch.is_expert, discount=config.discount, chi2_weight=config.chi2_weight,
                           chi2_rows=config.chi2_rows, init_term=config.init_term, v_init=v0)
           for q, v, nv, v0 in zip(qs, vs, nvs, v0s)]
    loss = 0.5 * (out[0][0] + out[1][0])
    metrics = {k: 0.5 * (out[0][1][k] + out[1][1][k]) for k in out[0][1]}
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(qs[0]), **metrics}


def make_update(nets: SACNets, config: IQLearnOnlineConfig) -> Callable:
    """The pure one-seed ``update(state: SACState, batch: IQBatch) -> (state, metrics)`` of IQ-Learn:
    one :func:`sac_update` with :func:`iq_critic_loss`, the actor on all 2B states of the batch."""

    def update(state: SACState, batch: IQBatch):
        return sac_update(state, batch, nets, config, critic_loss_fn=iq_critic_loss, obs_fn=lambda b: b.rows.obs)

    return update
