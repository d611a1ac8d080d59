"""Implicit Q-Learning (IQL) with neural networks: offline RL without querying unseen actions.

Kostrikov, Nair, Levine, "Offline Reinforcement Learning with Implicit Q-Learning" (ICLR 2022,
arXiv:2110.06169). With twin critics Q_φ1, Q_φ2, their Polyak-averaged targets Q_φ̂i, a state
value V_ψ and a policy π_θ, each step on a minibatch (s, a, r, s', d) ∼ D does

  V   (Eq. 5)  L_V(ψ) = E[ L₂^τ( min_i Q_φ̂i(s, a) − V_ψ(s) ) ],   L₂^τ(u) = |τ − 1(u < 0)| u²
  π   (Eq. 7)  L_π(θ) = −E[ min(exp(β (min_i Q_φ̂i(s, a) − V_ψ(s))), 100) · log π_θ(a | s) ]
  Q   (Eq. 6)  L_Q(φ) = E[ Σ_i (r + γ (1 − d) V_ψ(s') − Q_φi(s, a))² ]
  target       φ̂ ← (1 − ρ) φ̂ + ρ φ,  ρ = 0.005

with d the *terminal* flag: a timeout (truncation) still bootstraps. τ is the expectile, β
the inverse temperature of advantage-weighted regression (AWR). Every expectation is over
dataset pairs (s, a) only, so Q is never evaluated at an action outside the data.

Update order: V → π → Q → target, as in the authors' code (``learner.py``, ``_update_jit``):
π and Q both use the *freshly updated* V, and the advantage uses the target critics. CORL's
IQL orders it V → Q (+ target) → π with the *pre-update* V everywhere (V(s') of the TD target
and the AWR advantage), averages (not sums) the twins' squared errors and normalises
observations; the two orders differ by one step of V and have the same fixed points.

Networks: continuous actions use two independent MLPs on [s, a] (what
:class:`~iqlib.core.nets.DoubleCritic` holds) stored *stacked* on a leading axis of size 2 and
applied with ``jax.vmap`` (one batched matmul per layer, ``IQLConfig.fused_twin``); discrete
actions use two :class:`~iqlib.core.nets.QNetwork` heads stacked the same way, indexed by the
dataset action. Actor: :class:`~iqlib.core.nets.GaussianPolicy` (tanh'd mean, state-independent
log-std; acts at the mean) or :class:`~iqlib.core.nets.CategoricalPolicy` (acts at the argmax).
The actor's learning rate decays by a cosine over the run (authors: over 10⁶ steps).

This module is the copyable core (config, losses, one pure ``update(state, batch)`` from
:func:`make_update`; it imports only :mod:`iqlib.core.nets`). The driver that samples the
batches and runs the compiled chunks is :mod:`iqlib.neural.iql_train` (``make_train``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.nets import (MLP, QNetwork, TrainState, ValueNetwork, apply, apply_gradients, check_finite,
                             create_train_state, init_params, log_likelihood, make_policy, polyak_update)

__all__ = ["IQLConfig", "IQLState", "IQLNets", "expectile_loss", "awr_weights", "awr_actor_loss", "td_target",
           "value_loss", "critic_loss", "actor_schedule", "make_critic", "make_nets", "make_update"]


@dataclasses.dataclass(frozen=True)
class IQLConfig:
    """IQL hyper-parameters; defaults are the paper's MuJoCo locomotion ones (App. B/C).

    Per-domain presets: :meth:`locomotion`, :meth:`maze`, :meth:`discrete`, :meth:`for_domain`.
    """

    expectile: float = 0.7
    """Expectile τ of the V regression, in (0, 1) (paper: 0.7 locomotion, 0.9 AntMaze)."""
    awr_temperature: float = 3.0
    """Inverse temperature β of AWR, ≥ 0 (paper: 3 locomotion, 10 AntMaze); β = 0 is BC."""
    discount: float = 0.99  #: Discount γ (paper: 0.99).
    hidden: tuple = (256, 256)
    """Hidden widths of every MLP: actor, twin critics, V (paper: 256 × 256)."""
    actor_lr: float = 3e-4
    """Peak actor learning rate (Adam), cosine-decayed to 0 over the run (paper: 3e-4)."""
    critic_lr: float = 3e-4  #: Twin-critic Adam learning rate, constant (paper: 3e-4).
    value_lr: float = 3e-4  #: V Adam learning rate, constant (paper: 3e-4).
    batch_size: int = 256  #: Transitions per update, uniform with replacement (paper: 256).
    target_rate: float = 0.005  #: Polyak rate ρ of the target critics, per update (paper: 0.005).
    max_weight: float = 100.0  #: Clip of the AWR weight exp(β·A) (authors' code: 100).
    cosine_actor_lr: bool = True  #: Cosine-decay the actor learning rate (authors' code: yes); False keeps it constant.
    fused_twin: bool = True
    """Evaluate the two critics as one vmapped (batched-matmul) network; False loops over them
    (same parameters and numbers, different speed: see ``benchmarks/bench_iql.py``)."""

    def __post_init__(self):
        check_finite(self)
        checks = {"expectile": 0.0 < self.expectile < 1.0, "awr_temperature": self.awr_temperature >= 0.0,
                  "discount": 0.0 <= self.discount < 1.0, "actor_lr": self.actor_lr > 0,
                  "critic_lr": self.critic_lr >= 0, "value_lr": self.value_lr >= 0,
                  "batch_size": int(self.batch_size) >= 1, "target_rate": 0.0 <= self.target_rate <= 1.0,
                  "max_weight": self.max_weight > 0, "hidden": bool(self.hidden) and all(int(h) >= 1 for h in self.hidden)}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid IQLConfig field(s) {bad}: {[getattr(self, k) for k in bad]} "
                             "(expectile in (0, 1), discount in [0, 1), rates/weights positive)")

    @classmethod
    def locomotion(cls, **kw) -> "IQLConfig":
        """MuJoCo locomotion (paper App. C / authors' ``mujoco_config``): τ 0.7, β 3."""
        return cls(**{"expectile": 0.7, "awr_temperature": 3.0, **kw})

    @classmethod
    def maze(cls, **kw) -> "IQLConfig":
        """Goal-reaching mazes (paper's AntMaze settings, App. C): τ 0.9, β 10."""
        return cls(**{"expectile": 0.9, "awr_temperature": 10.0, **kw})

    @classmethod
    def discrete(cls, **kw) -> "IQLConfig":
        """Discrete control (CartPole, LunarLander; our choice, not in the paper): τ 0.7, β 3.

        Our discrete datasets get the locomotion reward scaling (returns span 1000, see
        :mod:`iqlib.data.registry`), so advantages have the locomotion magnitude and its
        τ, β carry over.
        """
        return cls(**{"expectile": 0.7, "awr_temperature": 3.0, **kw})

    @classmethod
    def for_domain(cls, domain: str, **kw) -> "IQLConfig":
        """Preset by ``domain`` in {'locomotion', 'maze', 'discrete'} (ValueError otherwise)."""
        if domain not in ("locomotion", "maze", "discrete"):
            raise ValueError(f"unknown domain {domain!r}; expected 'locomotion', 'maze' or 'discrete'")
        return getattr(cls, domain)(**kw)


class IQLState(NamedTuple):
    """Carry of IQL training (params are nnx.State pytrees; optional leading seed axis)."""

    actor: TrainState
    critic: TrainState  # twin critics stacked on a leading axis of size 2
    target_critic: Any
    value: TrainState
    key: jax.Array
    step: jax.Array  # updates done, int32


def expectile_loss(diff, tau):
    """Asymmetric squared loss L₂^τ(u) = |τ − 1(u < 0)| u² (Eq. 5), elementwise.

    Args:
      diff: (...) array u = target − prediction (for the value loss, u = Q(s, a) − V(s)).
        Positive u (prediction too low) is weighted by τ, negative u by 1 − τ.
      tau: expectile level τ in [0, 1] (scalar or broadcastable to `diff`).

    Returns:
      (...) array of losses, same shape as `diff` (average it yourself).
    Raises:
      ValueError: if a concrete `tau` (number, NumPy or JAX array) has an entry outside [0, 1] or NaN
        (traced values are not checked).
    """
    if not isinstance(tau, jax.core.Tracer) and not np.all((np.asarray(tau) >= 0) & (np.asarray(tau) <= 1)):
        raise ValueError(f"tau (the expectile τ) must lie in [0, 1] (every entry), got {tau}")
    diff = jnp.asarray(diff)
    return jnp.where(diff < 0, 1.0 - tau, tau) * diff**2


def awr_weights(advantage: jax.Array, beta: float, max_weight: float = 100.0) -> jax.Array:
    """AWR weights min(exp(β·A), max_weight) (Eq. 7; clip from the authors' code).

    Args:
      advantage: (B,) A = min_i Q̂_i(s, a) − V(s). beta: inverse temperature β ≥ 0. max_weight: clip.

    Returns:
      (B,) weights in (0, max_weight], with no gradient.
    """
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(beta * advantage), max_weight))


def awr_actor_loss(log_prob: jax.Array, weights: jax.Array) -> jax.Array:
    """Eq. 7: −mean_i w_i log π_θ(a_i | s_i); log_prob, weights (from :func:`awr_weights`): (B,) → scalar."""
    return -jnp.mean(jax.lax.stop_gradient(weights) * log_prob)


def td_target(reward: jax.Array, terminal: jax.Array, next_value: jax.Array, discount: float) -> jax.Array:
    """Q's regression target r + γ (1 − terminal) V(s') (Eq. 6); shapes (B,) → (B,).

    Only ``terminal`` stops bootstrapping; a timeout (truncation) is not a terminal.
    """
    return jax.lax.stop_gradient(reward + discount * (1.0 - terminal) * next_value)


def value_loss(value: jax.Array, target_q_min: jax.Array, expectile: float) -> jax.Array:
    """Eq. 5: mean of L₂^τ(min_i Q̂_i(s, a) − V(s)); value, target_q_min: (B,) → scalar."""
    return jnp.mean(expectile_loss(jax.lax.stop_gradient(target_q_min) - value, expectile))


def critic_loss(q: jax.Array, target: jax.Array) -> jax.Array:
    """Eq. 6 for twin critics: mean over the batch of Σ_i (Q_i(s, a) − y)²; q: (2, B), target: (B,)."""
    return jnp.mean(jnp.sum((q - target[None]) ** 2, axis=0))


def actor_schedule(config: IQLConfig, num_steps: int) -> optax.Schedule:
    """Actor learning rate per update: lr·½(1 + cos(π t / num_steps)), or constant."""
    if config.cosine_actor_lr:
        return optax.cosine_decay_schedule(config.actor_lr, int(num_steps))
    return optax.constant_schedule(config.actor_lr)


def make_critic(space: dict, config: IQLConfig):
    """Twin critics as ``(init(key) -> params (2, ...), q_values(params, obs, action) -> (2, B))``.

    Continuous: two MLPs on [s, a] (``DoubleCritic``'s architecture). Discrete: two
    ``QNetwork`` heads ``(B, n_actions)`` read at the dataset action ``(B,)`` int.
    """
    if space["discrete"]:
        module = lambda rngs: QNetwork(space["obs_dim"], space["n_actions"], tuple(config.hidden), rngs=rngs)

        def q_one(graphdef, params, obs, action):
            q = apply(graphdef, params, obs)
            return jnp.take_along_axis(q, action[:, None].astype(jnp.int32), axis=-1)[:, 0]
    else:
        module = lambda rngs: MLP(space["obs_dim"] + space["action_dim"], tuple(config.hidden), 1, rngs=rngs)

        def q_one(graphdef, params, obs, action):
            return apply(graphdef, params, jnp.concatenate([obs, action], axis=-1))[:, 0]
    graphdef, _ = init_params(module, jax.random.key(0))

    def init(key):
        return init_params(module, jax.random.split(key, 2))[1]

    def q_values(params, obs, action):
        if config.fused_twin:
            return jax.vmap(q_one, in_axes=(None, 0, None, None))(graphdef, params, obs, action)
        return jnp.stack([q_one(graphdef, jax.tree_util.tree_map(lambda x: x[i], params), obs, action)
                          for i in range(2)])

    return init, q_values


class IQLNets(NamedTuple):
    """IQL's networks (:func:`make_nets`): module builders ``rngs -> module``, graphdefs, twin
    critics ``critic_init(key) -> params (2, ...)``, ``q_values(params, obs, action) -> (2, B)``."""

    policy_fn: Callable
    actor_graphdef: Any
    value_fn: Callable
    value_graphdef: Any
    critic_init: Callable
    q_values: Callable


def make_nets(space: dict, config: IQLConfig) -> IQLNets:
    """Actor, V and twin critics for ``space = {"discrete", "obs_dim", "n_actions" | "action_dim"}``."""
    policy_fn = make_policy(space, config.hidden)
    value_fn = lambda rngs: ValueNetwork(space["obs_dim"], tuple(config.hidden), rngs=rngs)
    critic_init, q_values = make_critic(space, config)
    return IQLNets(policy_fn, init_params(policy_fn, jax.random.key(0))[0], value_fn,
                   init_params(value_fn, jax.random.key(0))[0], critic_init, q_values)


def make_update(config: IQLConfig, space: dict, num_steps: int):
    """IQL's pure step: ``(init(key) -> IQLState, update(state, batch) -> (state, metrics))``.

    ``batch`` is a minibatch already drawn from the data (a ``Transitions``-like tuple with fields
    ``obs (B, obs_dim), action (B, A) float or (B,) int, reward, terminal (B,), next_obs``);
    ``update`` leaves ``state.key`` alone (the driver draws batches with it). Order V → π → Q →
    target, π and Q both with the freshly updated V (module docstring). ``num_steps`` sets the
    span of the cosine actor schedule (:func:`actor_schedule`).

    Metrics: ``value_loss, critic_loss, actor_loss`` (Eqs. 5–7, at the parameters before the step),
    ``v, q, advantage`` (batch means of V(s), min_i Q̂_i(s, a), A), ``awr_weight`` (mean),
    ``clipped_fraction`` (weights at the clip), ``actor_lr``.
    """
    nets = make_nets(space, config)
    q_values, schedule = nets.q_values, actor_schedule(config, num_steps)
    actor_tx, critic_tx, value_tx = (optax.adam(schedule), optax.adam(config.critic_lr),
                                     optax.adam(config.value_lr))
    V = lambda params, obs: apply(nets.value_graphdef, params, obs)

    def init(key) -> IQLState:
        k_actor, k_critic, k_value, k_train = jax.random.split(key, 4)
        critic = nets.critic_init(k_critic)
        return IQLState(actor=create_train_state(init_params(nets.policy_fn, k_actor)[1], actor_tx),
                        critic=create_train_state(critic, critic_tx),
                        target_critic=jax.tree_util.tree_map(jnp.copy, critic),
                        value=create_train_state(init_params(nets.value_fn, k_value)[1], value_tx),
                        key=k_train, step=jnp.zeros((), jnp.int32))

    def update(s: IQLState, b) -> tuple[IQLState, dict]:
        q_hat = jnp.min(q_values(s.target_critic, b.obs, b.action), axis=0)  # (B,) min of target twins

        # 1) V by expectile regression toward min_i Q̂_i (Eq. 5)
        def v_loss_fn(p):
            v = V(p, b.obs)
            return value_loss(v, q_hat, config.expectile), v
        (v_loss, v), g = jax.value_and_grad(v_loss_fn, has_aux=True)(s.value.params)
        value = apply_gradients(s.value, g, value_tx)

        # 2) actor by AWR with the updated V (Eq. 7)
        adv = q_hat - V(value.params, b.obs)
        w = awr_weights(adv, config.awr_temperature, config.max_weight)
        a_loss, g = jax.value_and_grad(
            lambda p: awr_actor_loss(log_likelihood(nets.actor_graphdef, p, b.obs, b.action), w))(s.actor.params)
        actor = apply_gradients(s.actor, g, actor_tx)

        # 3) twin Q toward r + γ (1 − terminal) V(s') with the updated V (Eq. 6)
        y = td_target(b.reward, b.terminal, V(value.params, b.next_obs), config.discount)
        c_loss, g = jax.value_and_grad(lambda p: critic_loss(q_values(p, b.obs, b.action), y))(s.critic.params)
        critic = apply_gradients(s.critic, g, critic_tx)

        # 4) Polyak-averaged target critics, every update
        target = polyak_update(s.target_critic, critic.params, config.target_rate)
        metrics = {"value_loss": v_loss, "critic_loss": c_loss, "actor_loss": a_loss, "v": jnp.mean(v),
                   "q": jnp.mean(q_hat), "advantage": jnp.mean(adv), "awr_weight": jnp.mean(w),
                   "clipped_fraction": jnp.mean(w >= config.max_weight), "actor_lr": schedule(s.step)}
        return IQLState(actor, critic, target, value, s.key, s.step + 1), metrics

    return init, update
