"""Offline IQ-Learn with a neural soft Q-network, discrete actions (Garg et al., NeurIPS 2021).

One network Q(s, ·) gives the policy, the value and the reward (Sec. 3–4):

    V(s) = α logsumexp(Q(s, ·)/α)          π(a|s) = softmax(Q(s, ·)/α)
    r(s, a, s') = Q(s, a) − γ (1 − terminal) V(s')          (inverse soft Bellman, Eq. 4 sampled)

Offline, from demonstrations only, IQ-Learn maximises (Eq. 10 with the χ² φ of Sec. 5.1 / App. D)

    J(Q) = E_{ρ_E}[ r ] − λ E_{rows}[ r² ] − I(Q) − w_gp · GP(Q)

where φ(x) = x − λx² (λ = 1/(4α_χ²) in the paper's notation; the paper's offline α_χ² = 0.5 is
λ = 0.5, as in `iqlib.tabular.iq_learn`) and I(Q) is the initial-state term (1 − γ) E_{ρ0}[V(s0)]
(Eq. 9), estimated by one of three `loss` variants:

    "v0":           (1 − γ) mean_{s0} V(s0) over the demonstrations' true initial states (rows
                    with episode_start = 1) — the exact term of Eq. 9.
    "value_expert": E_{(s,s')∼ρ_E}[V(s) − γ(1 − terminal)V(s')]: the telescoped form (Eq. 10,
                    the paper's telescoping of the initial-state term), expert rows only.
    "value":        the same expectation over every row of the batch: the expert batch and the
                    "policy" batch. Offline the policy batch is a second, independent draw from
                    the same demonstrations (there is no learner data), so "value" and
                    "value_expert" agree in expectation and differ only in variance (2B vs B rows).

With either telescoped form, E[r] − I(Q) = E_{ρ_E}[Q(s, a) − V(s)] = α E_{ρ_E}[log π(a|s)]:
the objective is behavioural cloning scaled by α minus the χ² penalty. With "v0", unrolling
V(s_t) = Q(s_t, a_t) − α log π(a_t|s_t) = r_t + γV(s_{t+1}) − α log π(a_t|s_t) along a demonstrated
chain shows that minimising V(s0) at fixed r rewards the *discounted* log-likelihood of the chain.
The telescoping identity holds for the γ-discounted occupancy; we sample rows uniformly (the
undiscounted occupancy of the demonstrations).

χ² rows (`chi2_rows`): "expert" takes λ E_{ρ_E}[r²] on the expert batch (the paper's offline
form). "all" takes it over ½ρ_E + ½ρ_U with ρ_U(s, a) = d_E(s)·uniform(a): the policy batch's
states paired with *every* action — the offline counterpart of the paper's regularisation on
expert and policy samples (Sec. 5.1, ρ_mix), and of `iqlib.tabular.iq_learn`'s chi2_rows="all"
(½ρ_E + ½ uniform). For a non-demonstrated action a the next state is unknown; we use the
demonstrated s' as its proxy (exact when one step of a different action leaves s' unchanged,
close for the small control time-steps of CartPole, Acrobot, LunarLander). It keeps Q of
never-demonstrated actions finite instead of letting the likelihood push them to −∞.

Gradient penalty (`grad_penalty` = w_gp > 0): GP(Q) = E_{ρ_E} ‖∇_s Q(s, a)‖² (a squared-norm
penalty on the expert states, Mescheder et al. 2018's R1 form). The paper's penalty for its W1 /
TV variants follows WGAN-GP (Gulrajani et al. 2017): (‖∇Q‖ − 1)² at interpolates between expert
and policy states — offline all expert states; ours is 0 for a network constant in s and
positive otherwise.

This module is the copyable core: config, losses, and one pure ``update(state, batch)`` (from
:func:`make_update`); it imports only :mod:`iqlib.core.nets`. Every update runs the Q-network once
on all the rows it needs (expert obs and next obs, policy rows, initial states) concatenated:
fewer, larger matmuls. The driver — demonstration checks, observation standardisation, minibatch
draws, compiled chunks (:func:`iqlib.neural.iq_learn_offline_train.make_train`) — is a sibling module.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.nets import QNetwork, TrainState, apply, apply_gradients, create_train_state, init_params, check_finite

__all__ = ["LOSSES", "IQLearnOfflineConfig", "IQBatch", "IQState", "soft_value", "implicit_reward", "iq_loss_terms",
           "iq_loss", "make_q_network", "make_update", "recovered_reward"]

LOSSES = ("value", "value_expert", "v0")


@dataclasses.dataclass(frozen=True)
class IQLearnOfflineConfig:
    """Offline neural IQ-Learn (discrete actions). Paper = Garg et al. 2021 and its offline runs."""

    loss: Literal["value", "value_expert", "v0"] = "value_expert"  #: initial-state estimator (module doc); paper's offline runs: "value_expert".
    discount: float = 0.99  #: discount γ (paper: 0.99).
    entropy_temperature: float = 0.01  #: entropy temperature α, fixed (paper's soft-Q default 0.01; 0.001 for CartPole/LunarLander).
    chi2: bool = True  #: use the χ² φ(x) = x − λx² (paper offline: yes); False gives φ(x) = x.
    chi2_weight: float = 0.5  #: λ = 1/(4 α_χ²) in reward⁻¹ units (paper offline α_χ² = 0.5 ⇒ λ = 0.5).
    chi2_rows: Literal["expert", "all"] = "expert"  #: where the χ² penalty is taken (module doc).
    grad_penalty: float = 0.0  #: w_gp ≥ 0 of E‖∇_s Q(s, a)‖² (paper: off for discrete control).
    hidden: tuple = (256, 256)  #: hidden sizes of the Q-network MLP (ours; the same as the BC baseline).
    critic_lr: float = 3e-4  #: Adam step size of the Q-network (paper: 1e-4 with batch 32; ours: fewer, larger steps).
    batch_size: int = 256  #: expert rows per update, and as many "policy" rows (paper: 32).
    max_grad_norm: float = 0.0  #: global gradient-norm clip (0 disables; paper: none).
    normalize_obs: bool = True  #: standardise obs by the demos' mean/std, folded into layer 1 after training (ours).

    def __post_init__(self):
        check_finite(self)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.chi2_rows not in ("expert", "all"):
            raise ValueError(f"chi2_rows must be 'expert' or 'all', got {self.chi2_rows!r}")
        if not 0.0 <= self.discount < 1.0:
            raise ValueError(f"discount must be in [0, 1), got {self.discount}")
        for name in ("entropy_temperature", "critic_lr"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        for name in ("chi2_weight", "grad_penalty", "max_grad_norm"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if int(self.batch_size) < 1 or not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"batch_size and hidden sizes must be >= 1, got {self.batch_size}, {self.hidden}")


def soft_value(q, alpha):
    """V(s) = α logsumexp(Q(s, ·)/α).  q: (..., A) -> (...,), reward units."""
    return alpha * jax.nn.logsumexp(q / alpha, axis=-1)


def implicit_reward(q_sa, v_next, terminal, gamma):
    """r = Q(s, a) − γ (1 − terminal) V(s') (Eq. 4, one sample of s').  All (B,) -> (B,)."""
    return q_sa - gamma * (1.0 - terminal) * v_next


def iq_loss_terms(q_fn: Callable, expert, policy, init_obs,
                  config: IQLearnOfflineConfig) -> dict:
    """The terms of −J(Q) on one batch (Garg et al. 2021, Eq. 9–10, χ² of Sec. 5.1).

    Args:
      q_fn: obs (B, O) -> Q (B, A).
      expert: expert batch, (B, ·) fields (reward and timeout are not used).
      policy: the "policy" batch (offline: a second draw from the demonstrations), (B', ·);
        needed for loss "value" and chi2_rows "all", ignored otherwise.
      init_obs: (N0, O) initial states for loss "v0" (rows with episode_start = 1).
      config: loss, discount, entropy_temperature, chi2, chi2_weight, chi2_rows, grad_penalty are used.

    Returns:
      dict of scalars: "reward" E_E[r]; "chi2" λ E_rows[r²] (0 if not config.chi2);
      "init" the initial-state term I(Q); "grad_penalty" E_E‖∇_s Q(s, a)‖² (unweighted; 0 if
      config.grad_penalty == 0); "loss" = −reward + chi2 + init + w_gp·grad_penalty;
      "v0" mean V at init_obs, "accuracy" the fraction of expert rows where argmax Q = a and
      "q_mean" the mean Q(s, a) of the expert rows (monitoring).
    """
    g, alpha = config.discount, config.entropy_temperature
    need_policy = config.loss == "value" or (config.chi2 and config.chi2_rows == "all")
    if need_policy and policy is None:
        raise ValueError(f"loss {config.loss!r} / chi2_rows {config.chi2_rows!r} need a policy batch")
    # one forward pass over every row needed (fewer, larger matmuls than one pass per block)
    blocks = [expert.obs, expert.next_obs] + ([policy.obs, policy.next_obs] if need_policy else []) + [init_obs]
    q_rows = jnp.split(q_fn(jnp.concatenate(blocks)), np.cumsum([b.shape[0] for b in blocks[:-1]]))
    q, q_next, q_init = q_rows[0], q_rows[1], q_rows[-1]
    q_sa = jnp.take_along_axis(q, expert.action[:, None].astype(jnp.int32), axis=-1)[:, 0]
    v, v_next = soft_value(q, alpha), soft_value(q_next, alpha)
    r = implicit_reward(q_sa, v_next, expert.terminal, g)
    if need_policy:
        pq, pv_next = q_rows[2], soft_value(q_rows[3], alpha)
    v0 = jnp.mean(soft_value(q_init, alpha))
    if config.loss == "v0":
        init = (1.0 - g) * v0
    elif config.loss == "value_expert":
        init = jnp.mean(v - g * (1.0 - expert.terminal) * v_next)
    else:
        both = jnp.concatenate([v - g * (1.0 - expert.terminal) * v_next,
                                soft_value(pq, alpha) - g * (1.0 - policy.terminal) * pv_next])
        init = jnp.mean(both)
    chi2 = jnp.zeros(())
    if config.chi2:
        sq = jnp.mean(r**2)
        if config.chi2_rows == "all":  # ½ρ_E + ½ d_E(s)·uniform(a), s' of the data as proxy
            r_all = pq - g * (1.0 - policy.terminal)[:, None] * pv_next[:, None]
            sq = 0.5 * sq + 0.5 * jnp.mean(r_all**2)
        chi2 = config.chi2_weight * sq
    gp = jnp.zeros(())
    if config.grad_penalty > 0:
        def q_at_action(obs):
            return jnp.sum(jnp.take_along_axis(q_fn(obs), expert.action[:, None].astype(jnp.int32), -1))

        grads = jax.grad(q_at_action)(expert.obs)  # rows are independent: per-row gradients
        gp = jnp.mean(jnp.sum(grads**2, axis=-1))
    reward = jnp.mean(r)
    loss = -reward + chi2 + init + config.grad_penalty * gp
    accuracy = jnp.mean((jnp.argmax(q, -1) == expert.action).astype(jnp.float32))
    return {"loss": loss, "reward": reward, "chi2": chi2, "init": init, "grad_penalty": gp, "v0": v0,
            "accuracy": accuracy, "q_mean": jnp.mean(q_sa)}


def iq_loss(graphdef, params, expert, policy, init_obs, config: IQLearnOfflineConfig):
    """(−J(Q), terms) for the Q-network ``(graphdef, params)``; see `iq_loss_terms`."""
    terms = iq_loss_terms(lambda o: apply(graphdef, params, o), expert, policy, init_obs, config)
    return terms["loss"], terms


class IQBatch(NamedTuple):
    """One update's input: ``expert`` and ``policy`` minibatches (``Transitions``-like, fields obs
    (B, O), action (B,) int, next_obs (B, O), terminal (B,)) and ``init_obs`` (N0, O), the
    initial states of loss "v0" (any (1, O) row otherwise)."""

    expert: Any
    policy: Any
    init_obs: Any


class IQState(NamedTuple):
    """Carry of IQ-Learn training: the Q-network's `TrainState` and the PRNG key."""

    critic: TrainState
    key: jax.Array


def make_q_network(obs_dim: int, n_actions: int, config: IQLearnOfflineConfig):
    """``(module_fn(rngs) -> QNetwork, graphdef)``: the soft Q-network Q(s, ·), obs (B, O) -> (B, A)."""
    module_fn = lambda rngs: QNetwork(obs_dim, n_actions, tuple(config.hidden), rngs=rngs)
    return module_fn, init_params(module_fn, jax.random.key(0))[0]


def make_update(config: IQLearnOfflineConfig, obs_dim: int, n_actions: int):
    """``(init(key) -> IQState, update(state, batch: IQBatch) -> (state, terms))``, both pure.

    ``update`` takes one Adam step (with the optional global-norm clip) on −J(Q) of
    :func:`iq_loss`; its metrics are the terms of :func:`iq_loss_terms` at the parameters before
    the step. It leaves ``state.key`` alone (the driver draws the minibatches with it).
    """
    module_fn, graphdef = make_q_network(obs_dim, n_actions, config)
    tx = optax.adam(config.critic_lr)
    if config.max_grad_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), tx)

    def init(key) -> IQState:
        k_net, k_loop = jax.random.split(key)
        return IQState(create_train_state(init_params(module_fn, k_net)[1], tx), k_loop)

    def update(state: IQState, batch: IQBatch):
        grads, terms = jax.grad(iq_loss, argnums=1, has_aux=True)(
            graphdef, state.critic.params, batch.expert, batch.policy, batch.init_obs, config)
        return state._replace(critic=apply_gradients(state.critic, grads, tx)), terms

    return init, update


def recovered_reward(graphdef, params, batch, gamma: float, alpha: float):
    """Implicit reward r = Q(s, a) − γ(1 − terminal)V(s') on ``batch`` (Eq. 4).

    batch: Transitions with obs (N, O), action (N,), next_obs (N, O), terminal (N,).
    Returns r: (N,) in the learned reward's units (defined up to potential shaping).
    """
    q, q_next = apply(graphdef, params, jnp.asarray(batch.obs)), apply(graphdef, params, jnp.asarray(batch.next_obs))
    q_sa = jnp.take_along_axis(q, jnp.asarray(batch.action, jnp.int32)[:, None], -1)[:, 0]
    return implicit_reward(q_sa, soft_value(q_next, alpha), jnp.asarray(batch.terminal, q.dtype), gamma)
