"""IQ-Learn from observations only (LfO), discrete actions (Garg et al., NeurIPS 2021, §5 "learning
from observations", Table 8) — a documented variant, see "Where this differs" below.

The demonstrations give state transitions (s, s', terminal) and no actions. The critic is a
state/next-state soft Q-function Q(s, s'); its implicit reward is state-only,

    r(s, s') = Q(s, s') − γ V(s'),

and the policy acts through the dynamics: with Q̄(s, a) = E_{s'~P(·|s,a)}[Q(s, s')] the soft-optimal
policy is π(a|s) = softmax(Q̄(s, ·)/α) and V(s) = α log Σ_a exp(Q̄(s, a)/α). The dynamics are unknown;
the agent's own replay transitions (s, a, s') stand in for them, in one of two ways (``action_model``):

- "dynamics": a model ŝ'(s, a) = s + μ_Δ + σ_Δ f(s, a) fitted by least squares on the replay, and
  Q̄(s, a) = Q(s, ŝ'(s, a)) (exact for deterministic dynamics such as CartPole's; the model is held
  fixed inside the IQ-Learn term, so Q(s, s') remains the only critic).
- "regression": a network Q_A(s, a) fitted to Q(s, s') on the replay, E_ρπ[(Q_A(s, a) − Q(s, s'))²],
  whose minimiser is the conditional mean Q̄(s, a) for any dynamics.

The loss (batches half demo rows, half replay rows; ``κ`` weighs the model's own regression) is the
online χ² objective of :mod:`iqlib.neural.iq_learn_online` with Q(s, s') in place of Q(s, a):

    L = − E_ρE[r] + E_{½ρE+½ρπ}[V(s) − γ V(s')] + λ E_{½ρE+½ρπ}[r²] + κ · (model loss).

Q(s, s') reads ``[(s − μ_s)/σ_s, (s' − s − μ_Δ)/σ_Δ]`` (demo statistics): an action changes s' only a
little, and the difference makes that change visible to the MLP. The demo rows' actions are never
read (tests permute them). Acting: a ~ softmax(Q̄/α) (training and "stochastic" evaluation),
argmax Q̄ ("deterministic").

**Absorbing states.** With the paper's (1 − terminal) mask, V(s') = 0 after a terminal, while the
learned values of the agent's other states are negative: ending an episode then *looks good* and the
CartPole agent learns to drop the pole at once (we measured returns ≈ 9, below random). We bootstrap
terminal rows from V_abs = −1/(2λ(1 − γ)) instead (``absorbing``; :func:`iqlib.neural.iq_learn_online.
absorbing_value`), the χ² objective's value of a state only the policy reaches. That prices every
ending alike, which is right where the demonstrations never end in a terminal (CartPole's run to the
time limit) and wrong where they always do (LunarLander's land: the expert's landing then looks
as bad as a crash). With ``learned_absorbing`` the absorbing state's value is learned instead, as
for any other state (DAC's absorbing states, Kostrikov et al. 2019): each terminal row, expert or
replay, brings one self-loop row of the absorbing state (one action, so its implicit reward is
r_abs = (1 − γ) V_abs) from the same source into the objective, and V_abs = θ/(2λ(1 − γ)) with a
learned θ (starting at 0) bootstraps the terminal rows. The χ² optimum of θ is (f_E − f_π)/(f_E + f_π)
for terminal-row fractions f_E, f_π of equal-sized expert and replay batches: −1 (the fixed V_abs)
when only the policy ends episodes, +1 when only the expert does.

**Critic on the model's states** (``critic_on_model``, "dynamics" only; ours): V(s) reads Q at predicted
next states, the expert term at real ones, so Q can tell real from predicted states apart instead of ranking
actions. With it every row's Q(s, s') reads ŝ'(s, â): â the replay row's action, or on a demo row the action
whose prediction is nearest its real s' (inverse dynamics through the model; the demo's action stays unread).

Where this differs from the paper: the paper states the LfO objective with Q(s, s'); the networks
that turn it into actions (a dynamics model or Q_A), the input scaling and the absorbing value are
ours. No inverse-dynamics model is used (that is LS-IQ's LfO route, Al-Hafez et al. 2023).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.nets import (MLP, QNetwork, TrainState, ValueNetwork, apply, apply_gradients, check_finite,
                             create_train_state, init_params, polyak_update)
from iqlib.neural.acting import batched_act, greedy_head, softmax_head
from iqlib.neural.iq_learn_online import IQBatch, absorbing_value, iq_critic_terms

__all__ = ["IQLearnLfOConfig", "LfONets", "LfOState", "transition_stats", "qss_input", "init_lfo",
           "predicted_next_obs", "prediction_distances", "action_values", "lfo_loss", "make_update", "make_act"]


@dataclasses.dataclass(frozen=True)
class IQLearnLfOConfig:
    """LfO IQ-Learn hyper-parameters ("paper code" = the IQ-Learn repository's CartPole soft-Q settings)."""

    hidden: tuple = (64, 64)  #: MLP widths of Q(s, s') and of the dynamics model or Q_A (ours; small for CPU).
    critic_lr: float = 3e-4  #: Adam step of both networks (ours; paper code soft-Q: 1e-4).
    entropy_temperature: float = 0.01  #: entropy temperature α, fixed (paper code soft-Q: 0.01).
    batch_size: int = 64  #: rows from EACH source, demos and replay (ours; paper code: 32).
    discount: float = 0.99  #: γ (paper: 0.99).
    chi2_weight: float = 0.5  #: λ of φ(x) = x − λx² (paper α_χ² = 0.5 ⇒ λ = 0.5).
    chi2_rows: Literal["mixture", "expert"] = "mixture"  #: rows of the χ² penalty (paper online: both).
    action_model: Literal["regression", "dynamics"] = "dynamics"  #: how Q̄(s, a) is formed (module doc; ours).
    consistency_weight: float = 1.0  #: κ, weight of the Q_A regression or of the dynamics-model loss (ours).
    use_target: bool = False  #: V(s') from a Polyak target (paper code CartPole: no).
    absorbing: bool = True  #: terminal rows bootstrap from V_abs = −1/(2λ(1 − γ)) instead of 0 (ours, see doc).
    learned_absorbing: bool = False  #: with ``absorbing``: V_abs learned, with absorbing self-loop rows (doc).
    critic_on_model: bool = False  #: Q(s, s') read at the model's ŝ'(s, â) on every row (doc; "dynamics" only).
    target_rate: float = 0.005  #: Polyak rate ρ of the target per update, if used.
    learning_starts: int = 1280  #: env steps of uniform random actions before updates (paper code: 1280).
    train_freq: int = 64  #: env steps per block, then as many updates (UTD 1).
    buffer_capacity: int = 50_000  #: replay capacity per seed (paper code: 50,000).
    eval_every: int = 1024  #: env steps between evaluations (paper code: 1e3).
    eval_episodes: int = 5  #: episodes per evaluation and policy kind (paper code: 10).

    def __post_init__(self):
        check_finite(self)
        for name in ("batch_size", "train_freq", "buffer_capacity", "eval_every", "eval_episodes"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 1:
                raise ValueError(f"IQLearnLfOConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.learning_starts < 0 or not 0.0 <= self.discount < 1.0 or not 0.0 < self.target_rate <= 1.0:
            raise ValueError("IQLearnLfOConfig: need learning_starts >= 0, discount in [0, 1), target_rate in (0, 1]")
        if (self.entropy_temperature <= 0 or self.critic_lr <= 0 or self.chi2_weight < 0
                or self.consistency_weight < 0):
            raise ValueError("IQLearnLfOConfig: entropy_temperature and critic_lr must be > 0, chi2/consistency "
                             "weights >= 0")
        if self.action_model not in ("regression", "dynamics"):
            raise ValueError(f"IQLearnLfOConfig.action_model must be 'regression' or 'dynamics', got {self.action_model!r}")
        if self.absorbing and self.chi2_weight <= 0:
            raise ValueError("IQLearnLfOConfig: absorbing=True needs chi2_weight > 0 (V_abs = −1/(2λ(1 − γ)))")
        if self.critic_on_model and self.action_model != "dynamics":
            raise ValueError("IQLearnLfOConfig: critic_on_model=True needs action_model='dynamics'")
        if self.learned_absorbing and not self.absorbing:
            raise ValueError("IQLearnLfOConfig: learned_absorbing=True needs absorbing=True")
        if self.chi2_rows not in ("mixture", "expert"):
            raise ValueError(f"IQLearnLfOConfig.chi2_rows must be 'mixture' or 'expert', got {self.chi2_rows!r}")


class LfONets(NamedTuple):
    """Static parts: graphdefs of Q(s, s') and Q_A (``QNetwork``), the optimiser, and the input scaling
    of Q(s, s'): a ``ValueNetwork`` on ``[(s − μ_s)/σ_s, (s' − s − μ_Δ)/σ_Δ]`` with μ, σ: (O,) the
    per-dimension mean and standard deviation of s and of Δ = s' − s over the demonstrations (the
    action's effect on s' is small next to s itself; the difference makes it visible to the MLP)."""

    qss_def: object
    act_def: object
    tx: object
    stats: tuple = (0.0, 1.0, 0.0, 1.0)
    action_model: str = "regression"
    n_actions: int = 2


def transition_stats(demos) -> tuple:
    """``(μ_s, σ_s, μ_Δ, σ_Δ)``, each (O,) float32, of demo obs and Δ = next_obs − obs (σ floored at 1e-3)."""
    obs, delta = np.asarray(demos.obs, np.float64), np.asarray(demos.next_obs, np.float64) - np.asarray(demos.obs)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return f(obs.mean(0)), f(np.maximum(obs.std(0), 1e-3)), f(delta.mean(0)), f(np.maximum(delta.std(0), 1e-3))


def qss_input(stats, obs, next_obs):
    """Input of Q(s, s'): ``[(s − μ_s)/σ_s, (s' − s − μ_Δ)/σ_Δ]``: (B, 2O) from obs, next_obs: (B, O)."""
    mu_s, sd_s, mu_d, sd_d = stats
    return jnp.concatenate([(obs - mu_s) / sd_s, (next_obs - obs - mu_d) / sd_d], axis=-1)


class LfOState(NamedTuple):
    """Learner state: ``params`` (``{"qss", "qsa"}`` or ``{"qss", "dyn"}``, plus ``"abs"``, the scalar θ of
    V_abs, with ``learned_absorbing``) with its Adam state,
    target params (a Polyak copy), update count."""

    train: TrainState
    target: object
    step: jax.Array


def init_lfo(key, obs_dim: int, n_actions: int, config: IQLearnLfOConfig = IQLearnLfOConfig(), stats=None):
    """``(nets, state)`` for one seed; the target starts equal to the online params.

    stats: ``(μ_s, σ_s, μ_Δ, σ_Δ)`` from :func:`transition_stats` (default: no scaling)."""
    k1, k2 = jax.random.split(key)
    qss_def, qss = init_params(lambda r: ValueNetwork(2 * obs_dim, config.hidden, rngs=r), k1)
    if config.action_model == "regression":
        act_def, act = init_params(lambda r: QNetwork(obs_dim, n_actions, config.hidden, rngs=r), k2)
    else:  # dynamics: [(s − μ_s)/σ_s, one-hot a] -> (Δ − μ_Δ)/σ_Δ
        act_def, act = init_params(lambda r: MLP(obs_dim + n_actions, config.hidden, obs_dim, rngs=r), k2)
    stats = (0.0, 1.0, 0.0, 1.0) if stats is None else tuple(stats)
    nets = LfONets(qss_def, act_def, optax.adam(config.critic_lr), stats, config.action_model, n_actions)
    params = {"qss": qss, "qsa" if config.action_model == "regression" else "dyn": act}
    if config.learned_absorbing:
        params["abs"] = jnp.zeros((), jnp.float32)  # θ: V_abs = θ/(2λ(1 − γ)), 0 = neutral
    return nets, LfOState(create_train_state(params, nets.tx), jax.tree_util.tree_map(jnp.copy, params),
                          jnp.zeros((), jnp.int32))


def predicted_next_obs(nets: LfONets, dyn_params, obs):
    """Dynamics model's s'(s, a) = s + μ_Δ + σ_Δ f(s, a) for every action: obs (B, O) -> (B, A, O)."""
    mu_s, sd_s, mu_d, sd_d = nets.stats
    b, n_a = obs.shape[0], nets.n_actions
    x = jnp.concatenate([jnp.repeat(((obs - mu_s) / sd_s)[:, None], n_a, 1),
                         jnp.broadcast_to(jnp.eye(n_a, dtype=obs.dtype), (b, n_a, n_a))], axis=-1)
    return obs[:, None] + mu_d + sd_d * apply(nets.act_def, dyn_params, x)


def prediction_distances(nets: LfONets, pred, next_obs):
    """Squared distance of each action's ŝ'(s, a) from the real s', in Δs-std units summed over the
    state (the dynamics loss's units): pred (B, A, O), next_obs (B, O) -> (B, A)."""
    return jnp.sum(((pred - next_obs[:, None]) / nets.stats[3]) ** 2, axis=-1)


def action_values(nets: LfONets, params, obs):
    """Q̄(s, ·): (B, A) = E_{s'|s,a}[Q(s, s')], as Q_A(s, ·) ("regression") or Q(s, ŝ'(s, a)) ("dynamics",
    the model held fixed)."""
    if nets.action_model == "regression":
        return apply(nets.act_def, params["qsa"], obs)
    nxt = jax.lax.stop_gradient(predicted_next_obs(nets, params["dyn"], obs))  # (B, A, O)
    o = jnp.broadcast_to(obs[:, None], nxt.shape)
    return apply(nets.qss_def, params["qss"], qss_input(nets.stats, o, nxt))


def lfo_loss(params, target, rows, is_expert, nets: LfONets, config: IQLearnLfOConfig):
    """LfO IQ-Learn loss (module doc) on a mixed batch; returns ``(loss, metrics)``.

    Args:
      params, target: online and target params (target used for V(s') if ``config.use_target``).
      rows: ``Transitions (N, ·)``; only ``obs, next_obs, terminal`` of all rows and ``action``
        of the replay rows (``is_expert == 0``) are read. is_expert: (N,) in {0, 1}.
    """
    alpha = config.entropy_temperature
    e = is_expert.astype(jnp.float32)
    seen = rows.next_obs
    if config.critic_on_model:  # ŝ'(s, â): the replay's action, or the demo's nearest prediction (module doc)
        pred = jax.lax.stop_gradient(predicted_next_obs(nets, params["dyn"], rows.obs))  # (N, A, O)
        near = jnp.argmin(prediction_distances(nets, pred, seen), axis=-1)
        pick = jnp.where(e > 0, near, rows.action).astype(jnp.int32)
        seen = jnp.take_along_axis(pred, pick[:, None, None], axis=1)[:, 0]
    q = apply(nets.qss_def, params["qss"], qss_input(nets.stats, rows.obs, seen))
    v = alpha * jax.nn.logsumexp(action_values(nets, params, rows.obs) / alpha, axis=-1)
    nv = alpha * jax.nn.logsumexp(action_values(nets, target if config.use_target else params, rows.next_obs) / alpha,
                                  axis=-1)
    terminal = rows.terminal
    ends = (terminal > 0).astype(jnp.float32)  # read by the learned absorbing rows only
    if config.absorbing:
        scale = -absorbing_value(config.chi2_weight, config.discount)  # 1/(2λ(1 − γ))
        v_abs = (scale * (target if config.use_target else params)["abs"] if config.learned_absorbing else -scale)
        nv = jnp.where(terminal > 0, v_abs, nv)
        terminal = jnp.zeros_like(terminal)
    loss, terms = iq_critic_terms(q, v, nv, terminal, e, discount=config.discount,
                                  chi2_weight=config.chi2_weight, chi2_rows=config.chi2_rows, init_term="value")
    if config.learned_absorbing:  # one absorbing self-loop row per terminal row, from the same source
        r_abs = (1.0 - config.discount) * scale * params["abs"]
        w_chi = jnp.ones_like(e) if config.chi2_rows == "mixture" else e
        loss = loss + (-jnp.sum(e * ends) * r_abs / jnp.maximum(jnp.sum(e), 1.0) + jnp.mean(ends) * r_abs
                       + config.chi2_weight * jnp.sum(w_chi * ends) * r_abs**2 / jnp.maximum(jnp.sum(w_chi), 1.0))
        terms = {**terms, "absorbing_value": scale * params["abs"]}
    a = jnp.where(e > 0, 0, rows.action).astype(jnp.int32)  # demo actions are never read
    w = (1.0 - e) / jnp.maximum(jnp.sum(1.0 - e), 1.0)
    if nets.action_model == "regression":
        qa = jnp.take_along_axis(apply(nets.act_def, params["qsa"], rows.obs), a[:, None], axis=-1)[:, 0]
        aux = jnp.sum(w * (qa - q) ** 2)
    else:
        pred = jnp.take_along_axis(predicted_next_obs(nets, params["dyn"], rows.obs), a[:, None, None], axis=1)[:, 0]
        aux = jnp.sum(w * jnp.sum(((pred - rows.next_obs) / nets.stats[3]) ** 2, axis=-1))
    total = loss + config.consistency_weight * aux
    return total, {"loss": total, "iq_loss": loss, "aux_loss": aux, "q_mean": jnp.mean(q), **terms}


def make_update(nets: LfONets, config: IQLearnLfOConfig):
    """Pure one-seed ``update(state: LfOState, batch: IQBatch) -> (state, metrics)``: one Adam step on
    :func:`lfo_loss` (B demo rows + B replay rows), then the Polyak target."""

    def update(st: LfOState, batch: IQBatch):
        (_, metrics), grads = jax.value_and_grad(lfo_loss, has_aux=True)(st.train.params, st.target, batch.rows,
                                                                           batch.is_expert, nets, config)
        train = apply_gradients(st.train, grads, nets.tx)
        target = polyak_update(st.target, train.params, config.target_rate)
        return LfOState(train, target, st.step + 1), metrics

    return update


def make_act(nets: LfONets, entropy_temperature: float, greedy: bool):
    """Jitted ``act(params, obs, key) -> actions``: argmax Q̄ or a ~ softmax(Q̄/α), the heads of
    :mod:`iqlib.neural.acting` on :func:`action_values` (obs ``(B, O)``, or ``(S, B, O)`` with
    seed-batched params)."""
    head = greedy_head if greedy else softmax_head(entropy_temperature)
    return batched_act(lambda p, o: action_values(nets, p, o), head)
