"""Online IQ-Learn with a soft actor-critic, continuous actions (Garg et al., NeurIPS 2021, §4–5, App. D).

IQ-Learn trains one soft Q-function; its implicit reward is the inverse soft Bellman residual
(Eq. 4)  r_Q(s, a) = Q(s, a) − γ (1 − terminal) V^π(s'). For continuous actions the soft value
of the current actor is estimated with one sample (the SAC value, Haarnoja et al. 2018):

    V^π(s) = Q(s, ã) − α log π(ã|s),   ã ~ π(·|s),   Q = min(Q₁, Q₂) (twin critics).

The critic minimises the negated χ² objective (Eq. 10; project notation φ(x) = x − λx², the
paper's λ = 1/(4α_χ²), α_χ² = 0.5 ⇒ λ = 0.5; see README design notes) on a batch that mixes
B expert rows (ρ_E) and B rows of the agent's replay (ρ_π), half and half ("online"):

    L(Q) = − E_ρE[r_Q]  +  init term  +  λ E_rows[r_Q²]
    init term "value":  E_{½ρE+½ρπ}[V^π(s) − γ (1 − terminal) V^π(s')]   (Sec. 5.1: telescoping
                        holds under any occupancy; online the paper uses the mixture)
              "v0":     (1 − γ) E_{s0 ~ demo initial states}[V^π(s0)]     (Eq. 9's p0 term)
    rows "mixture": the χ² penalty over expert AND policy rows (the paper's online regulariser,
                    a χ² divergence to the mixture, App. D); "expert": ρ_E rows only.

With ``use_target`` the next-state value V^π(s') uses the Polyak-averaged target critics. With
``absorbing`` (ours, off by default) a terminal row bootstraps from the value of an absorbing state
only the policy reaches, V_abs = −1/(2λ(1 − γ)), instead of 0: with the (usually negative) learned
values, V = 0 after a terminal makes ending an episode look good, and agents learn to fall. Each
twin critic Q_j gets its own loss with the shared V from min(Q₁, Q₂); the two losses are
averaged (``twin="min"``), or each twin uses its own V (``twin="independent"``). The actor and
the temperature take SAC's steps (:func:`iqlib.neural.sac.sac_update` with this critic loss swapped in,
the actor on the mixture's states). Rewards of the environment are never used for learning.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from iqlib.core.transitions import Transitions
from iqlib.core.nets import tanh_gaussian_mode, tanh_gaussian_sample
from iqlib.core.envs import env_spec
from iqlib.core.nets import apply
from iqlib.neural.online import load_demos, make_carry, run_online
from iqlib.core.replay import sample
from iqlib.neural.sac import SACConfig, init_sac, sac_update

__all__ = ["IQLearnOnlineConfig", "IQBatch", "iq_critic_terms", "absorbing_value", "sampled_soft_value", "iq_critic_loss",
           "make_iq_update", "train_iq_learn_online"]


@dataclasses.dataclass(frozen=True)
class IQLearnOnlineConfig:
    """Online IQ-Learn (SAC) hyper-parameters; "paper" = Garg et al. 2021, App. D and its MuJoCo settings."""

    hidden: tuple = (256, 256)  #: actor and critic MLP widths (paper: 2 × 256).
    critic_lr: float = 3e-4  #: Adam step of the critics (paper: 3e-4).
    actor_lr: float = 3e-5  #: Adam step of the actor (paper MuJoCo: 3e-5).
    temperature_lr: float = 3e-4  #: Adam step of log α when learned (SAC: 3e-4).
    learn_temperature: bool = False  #: learn α towards the target entropy (paper IL: fixed α).
    init_temperature: float = 0.01  #: entropy temperature α (paper MuJoCo: 0.01).
    target_entropy: float | None = None  #: SAC target entropy in nats; None = −action_dim.
    batch_size: int = 256  #: rows drawn from EACH source, expert and replay (paper: 256 each).
    discount: float = 0.99  #: γ (paper: 0.99).
    tau: float = 0.005  #: Polyak rate of the target critics per update (paper: 0.005).
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
        for name in ("batch_size", "train_freq", "buffer_capacity", "eval_every", "eval_episodes"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 1:
                raise ValueError(f"IQLearnOnlineConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.learning_starts < 0:
            raise ValueError(f"IQLearnOnlineConfig.learning_starts must be >= 0, got {self.learning_starts}")
        if not 0.0 <= self.discount < 1.0:
            raise ValueError(f"IQLearnOnlineConfig.discount must be in [0, 1), got {self.discount}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"IQLearnOnlineConfig.tau must be in (0, 1], got {self.tau}")
        if not (np.isfinite(self.chi2_weight) and self.chi2_weight >= 0):
            raise ValueError(f"IQLearnOnlineConfig.chi2_weight must be finite and >= 0, got {self.chi2_weight}")
        if self.absorbing and self.chi2_weight <= 0:
            raise ValueError("IQLearnOnlineConfig: absorbing=True needs chi2_weight > 0")
        if self.init_temperature <= 0 or min(self.critic_lr, self.actor_lr, self.temperature_lr) <= 0:
            raise ValueError("IQLearnOnlineConfig: init_temperature and learning rates must be > 0")
        for name, options in (("chi2_rows", ("mixture", "expert")), ("init_term", ("value", "v0")),
                              ("twin", ("min", "independent"))):
            if getattr(self, name) not in options:
                raise ValueError(f"IQLearnOnlineConfig.{name} must be one of {options}, got {getattr(self, name)!r}")

    def sac_config(self) -> SACConfig:
        """The :class:`~iqlib.neural.sac.SACConfig` for the actor/temperature steps (α fixed: lr 0)."""
        return SACConfig(hidden=tuple(self.hidden), actor_lr=self.actor_lr, critic_lr=self.critic_lr,
                         temperature_lr=self.temperature_lr if self.learn_temperature else 0.0,
                         batch_size=self.batch_size, discount=self.discount, tau=self.tau,
                         init_temperature=self.init_temperature, target_entropy=self.target_entropy)


class IQBatch(NamedTuple):
    """One IQ-Learn batch: ``rows: Transitions (2B, ·)`` (expert rows first), ``is_expert: (2B,)``
    in {0, 1}, ``init_obs: (B, O)`` demo initial states (for ``init_term="v0"``)."""

    rows: Transitions
    is_expert: jax.Array
    init_obs: jax.Array


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
    mask = discount * (1.0 - terminal)
    r = q - mask * next_v
    e = is_expert.astype(r.dtype)
    expert_reward = _wmean(r, e)
    if init_term == "value":
        init = jnp.mean(v - mask * next_v)
    else:
        if v_init is None:
            raise ValueError("init_term='v0' needs v_init: (N0,) values at demo initial states")
        init = (1.0 - discount) * jnp.mean(v_init)
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
    mean, log_std = apply(actor_def, actor_params, obs)
    action, logp = tanh_gaussian_sample(key, mean, log_std)
    action, logp = jax.lax.stop_gradient(action), jax.lax.stop_gradient(logp)
    q1, q2 = apply(critic_def, critic_params, obs, action)
    if twin == "min":
        qm = jnp.minimum(q1, q2)
        return qm - alpha * logp, qm - alpha * logp
    return q1 - alpha * logp, q2 - alpha * logp


def iq_critic_loss(critic_params, state, batch: IQBatch, key, nets, sac_config, *, iq: IQLearnOnlineConfig):
    """IQ-Learn critic loss with the signature of :func:`iqlib.neural.sac.critic_loss` (``critic_loss_fn``).

    Averages :func:`iq_critic_terms` over the twin critics; V from :func:`sampled_soft_value`
    (online critics at s and at the demo initial states; target critics at s' if ``iq.use_target``).
    Returns ``(loss, metrics)``.
    """
    rows = batch.rows
    alpha = jnp.exp(state.log_alpha.params)
    k_v, k_next, k_init = jax.random.split(key, 3)
    vs = sampled_soft_value(nets.actor_def, state.actor.params, nets.critic_def, critic_params, rows.obs, k_v, alpha, iq.twin)
    next_params = state.target_critic if iq.use_target else critic_params
    nvs = sampled_soft_value(nets.actor_def, state.actor.params, nets.critic_def, next_params, rows.next_obs, k_next,
                             alpha, iq.twin)
    v0s = (sampled_soft_value(nets.actor_def, state.actor.params, nets.critic_def, critic_params, batch.init_obs,
                              k_init, alpha, iq.twin) if iq.init_term == "v0" else (None, None))
    qs = apply(nets.critic_def, critic_params, rows.obs, rows.action)
    terminal = rows.terminal
    if iq.absorbing:
        v_abs = absorbing_value(iq.chi2_weight, iq.discount)
        nvs = tuple(jnp.where(terminal > 0, v_abs, nv) for nv in nvs)
        terminal = jnp.zeros_like(terminal)
    losses, terms = [], []
    for q, v, nv, v0 in zip(qs, vs, nvs, v0s):
        loss, t = iq_critic_terms(q, v, nv, terminal, batch.is_expert, discount=iq.discount,
                                  chi2_weight=iq.chi2_weight, chi2_rows=iq.chi2_rows, init_term=iq.init_term, v_init=v0)
        losses.append(loss)
        terms.append(t)
    loss = 0.5 * (losses[0] + losses[1])
    metrics = {k: 0.5 * (terms[0][k] + terms[1][k]) for k in terms[0]}
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(qs[0]), **metrics}


def make_iq_update(nets, config: IQLearnOnlineConfig):
    """Pure one-seed ``update(carry) -> (carry, metrics)`` on an :class:`~iqlib.neural.online.OnlineCarry`.

    Samples B demo rows and B replay rows (and B demo initial states), then one
    :func:`iqlib.neural.sac.sac_update` with :func:`iq_critic_loss` (actor on all 2B states).
    """
    sac_cfg, b = config.sac_config(), config.batch_size
    loss_fn = functools.partial(iq_critic_loss, iq=config)

    def update(carry):
        key, k_e, k_p, k_0, k_u = jax.random.split(carry.key, 5)
        expert = sample(k_e, carry.expert, carry.expert.obs.shape[0], b)
        policy = sample(k_p, carry.replay, carry.size, b)
        rows = jax.tree_util.tree_map(lambda x, y: jnp.concatenate([x, y.astype(x.dtype)]), expert, policy)
        init_obs = carry.expert_init[jax.random.randint(k_0, (b,), 0, carry.expert_init.shape[0])]
        batch = IQBatch(rows, jnp.concatenate([jnp.ones(b), jnp.zeros(b)]), init_obs)
        learner, metrics = sac_update(carry.learner, batch, k_u, nets, sac_cfg, critic_loss_fn=loss_fn,
                                      obs_fn=lambda bt: bt.rows.obs)
        return carry._replace(learner=learner, key=key), metrics

    return update


@functools.partial(jax.jit, static_argnums=0)
def _act_mode(actor_def, params, obs):
    return jax.vmap(lambda p, o: tanh_gaussian_mode(apply(actor_def, p, o)[0]))(params, obs)


@functools.partial(jax.jit, static_argnums=0)
def _act_sample(actor_def, params, obs, key):
    keys = jax.random.split(key, obs.shape[0])
    return jax.vmap(lambda p, o, k: tanh_gaussian_sample(k, *apply(actor_def, p, o))[0])(params, obs, keys)


def train_iq_learn_online(env_id: str, config: IQLearnOnlineConfig = IQLearnOnlineConfig(), *, n_demos: int = 1,
                          seed: int = 0, n_seeds: int = 1, total_steps: int = 10_000, progress: bool = False,
                          demos_dir=None):
    """Online IQ-Learn on a continuous-control gymnasium task, ``n_seeds`` seeds vmapped.

    Args:
      env_id: gymnasium id with a Box action space (rescaled to [-1, 1]), e.g. "Pendulum-v1", "Hopper-v5".
      n_demos: expert episodes from ``data/demos/<env_id>.npz`` (actions used).
      seed: base seed (params of seed i from ``jax.random.key(seed)`` split n_seeds ways).
      total_steps: env steps per seed (multiple of ``config.eval_every``).

    Returns:
      ``(nets, carry, history, demo_info)``; ``history`` from :func:`iqlib.neural.online.run_online`
      with ``eval_deterministic`` (tanh of the mean) and ``eval_stochastic`` (a ~ π) returns ``(S, T, n)``.

    Raises:
      ValueError: unknown/discrete env id, bad n_demos or step counts. FileNotFoundError: no demo file.
    """
    demos, info = load_demos(env_id, n_demos, demos_dir=demos_dir)
    spec = env_spec(env_id)
    if spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has discrete actions; online IQ-Learn with SAC needs a Box action space "
                         "(use iqlib.neural.iq_learn_lfo for the discrete learning-from-observations learner)")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    k_init, k_carry = jax.random.split(jax.random.key(seed))
    init = jax.vmap(lambda k: init_sac(k, spec["obs_dim"], spec["action_dim"], config.sac_config())[1])
    nets, _ = init_sac(k_init, spec["obs_dim"], spec["action_dim"], config.sac_config())
    learner = init(jax.random.split(k_init, n_seeds))
    carry = make_carry(learner, n_seeds, min(config.buffer_capacity, total_steps), spec, demos, k_carry)
    policies = {"deterministic": lambda ln: (lambda o, k: _act_mode(nets.actor_def, ln.actor.params, jnp.asarray(o))),
                "stochastic": lambda ln: (lambda o, k: _act_sample(nets.actor_def, ln.actor.params, jnp.asarray(o), k))}
    carry, hist = run_online(
        env_id, carry, make_iq_update(nets, config),
        sample_action=lambda ln, o, k: _act_sample(nets.actor_def, ln.actor.params, o, k),
        eval_policies=policies, total_steps=total_steps, train_freq=config.train_freq,
        learning_starts=config.learning_starts, eval_every=config.eval_every, eval_episodes=config.eval_episodes,
        seed=seed, progress=progress, desc=f"IQ-Learn {env_id}")
    return nets, carry, hist, info
