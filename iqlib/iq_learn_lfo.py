"""IQ-Learn from observations only (LfO), discrete actions (Garg et al., NeurIPS 2021, §5 "learning
from observations", Table 8) — a documented variant, see "Where this differs" below.

The demonstrations give state transitions (s, s', terminal) and no actions. The critic is a
state/next-state soft Q-function Q(s, s'); its implicit reward is state-only,

    r(s, s') = Q(s, s') − γ (1 − terminal) V(s'),

and the policy acts through the dynamics: with Q̄(s, a) = E_{s'~P(·|s,a)}[Q(s, s')] the soft-optimal
policy is π(a|s) = softmax(Q̄(s, ·)/α) and V(s) = α log Σ_a exp(Q̄(s, a)/α). The dynamics are unknown,
so an action-level network Q_A(s, a) stands in for Q̄: it is fitted on the agent's own replay
transitions (s, a, s') by the regression  E_ρπ[(Q_A(s, a) − Q(s, s'))²], whose minimiser is exactly
the conditional mean Q̄(s, a) (any dynamics, stochastic or not). The loss (minimised jointly in
both networks, batches half demo rows, half replay rows) is

    L = − E_ρE[r]  +  E_{½ρE+½ρπ}[V(s) − γ(1 − terminal)V(s')]  +  λ E_{½ρE+½ρπ}[r²]
        + κ E_ρπ[(Q_A(s, a) − Q(s, s'))²],          V(s) = α logsumexp(Q_A(s, ·)/α)

i.e. the online χ² IQ-Learn objective of :mod:`iqlib.iq_learn_online` with Q(s, a) replaced by
Q(s, s') on every row, and a penalty (weight κ) tying Q_A to the dynamics-averaged Q(s, s'). The
demo rows' actions never enter (tests permute them). Acting: a ~ softmax(Q_A/α) (training and
"stochastic" evaluation), argmax Q_A ("deterministic").

Where this differs from the paper: the paper states the LfO objective with Q(s, s') and V over
the policy's next states but gives no network-level recipe we could retrieve; the regression
network Q_A (a learned dynamics expectation) and the penalty weight κ are ours. No inverse-
dynamics model is used (that is LS-IQ's LfO route, Al-Hafez et al. 2023).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .envs import env_spec
from .iq_learn_online import iq_critic_terms
from .networks import QNetwork, ValueNetwork, apply, init_params
from .online_imitation import load_demos, make_carry, run_online
from .replay import sample
from .training import TrainState, apply_gradients, create_train_state, polyak_update

__all__ = ["IQLearnLfOConfig", "LfONets", "LfOState", "init_lfo", "lfo_loss", "make_lfo_update",
           "train_iq_learn_lfo"]


@dataclasses.dataclass(frozen=True)
class IQLearnLfOConfig:
    """LfO IQ-Learn hyper-parameters ("paper code" = the IQ-Learn repository's CartPole soft-Q settings)."""

    hidden: tuple = (64, 64)  #: MLP widths of Q(s, s') and Q_A(s, a) (ours; small for CPU).
    lr: float = 1e-4  #: Adam step of both networks (paper code soft-Q: 1e-4).
    temperature: float = 0.01  #: entropy temperature α, fixed (paper code soft-Q: 0.01).
    batch_size: int = 32  #: rows from EACH source, demos and replay (paper code: 32).
    discount: float = 0.99  #: γ (paper: 0.99).
    chi2_weight: float = 0.5  #: λ of φ(x) = x − λx² (paper α_χ² = 0.5 ⇒ λ = 0.5).
    chi2_rows: Literal["mixture", "expert"] = "mixture"  #: rows of the χ² penalty (paper online: both).
    consistency_weight: float = 1.0  #: κ tying Q_A(s, a) to E[Q(s, s')|s, a] (ours).
    use_target: bool = False  #: V(s') from a Polyak target (paper code CartPole: no).
    tau: float = 0.005  #: Polyak rate of the target per update, if used.
    learning_starts: int = 1280  #: env steps of uniform random actions before updates (paper code: 1280).
    train_freq: int = 64  #: env steps per block, then as many updates (UTD 1).
    buffer_capacity: int = 50_000  #: replay capacity per seed (paper code: 50,000).
    eval_every: int = 1024  #: env steps between evaluations (paper code: 1e3).
    eval_episodes: int = 5  #: episodes per evaluation and policy kind (paper code: 10).

    def __post_init__(self):
        for name in ("batch_size", "train_freq", "buffer_capacity", "eval_every", "eval_episodes"):
            if isinstance(getattr(self, name), bool) or int(getattr(self, name)) < 1:
                raise ValueError(f"IQLearnLfOConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.learning_starts < 0 or not 0.0 <= self.discount < 1.0 or not 0.0 < self.tau <= 1.0:
            raise ValueError("IQLearnLfOConfig: need learning_starts >= 0, discount in [0, 1), tau in (0, 1]")
        if self.temperature <= 0 or self.lr <= 0 or self.chi2_weight < 0 or self.consistency_weight < 0:
            raise ValueError("IQLearnLfOConfig: temperature and lr must be > 0, chi2/consistency weights >= 0")
        if self.chi2_rows not in ("mixture", "expert"):
            raise ValueError(f"IQLearnLfOConfig.chi2_rows must be 'mixture' or 'expert', got {self.chi2_rows!r}")


class LfONets(NamedTuple):
    """Static parts: graphdefs of Q(s, s') (``ValueNetwork`` on [s, s']) and Q_A (``QNetwork``), optimiser."""

    qss_def: object
    qsa_def: object
    tx: object


class LfOState(NamedTuple):
    """Learner state: ``params = {"qss", "qsa"}`` with its Adam state, target params, update count."""

    train: TrainState
    target: object
    step: jax.Array


def init_lfo(key, obs_dim: int, n_actions: int, config: IQLearnLfOConfig = IQLearnLfOConfig()):
    """``(nets, state)`` for one seed; the target starts equal to the online params."""
    k1, k2 = jax.random.split(key)
    qss_def, qss = init_params(lambda r: ValueNetwork(2 * obs_dim, config.hidden, rngs=r), k1)
    qsa_def, qsa = init_params(lambda r: QNetwork(obs_dim, n_actions, config.hidden, rngs=r), k2)
    nets = LfONets(qss_def, qsa_def, optax.adam(config.lr))
    params = {"qss": qss, "qsa": qsa}
    return nets, LfOState(create_train_state(params, nets.tx), jax.tree_util.tree_map(jnp.copy, params),
                          jnp.zeros((), jnp.int32))


def lfo_loss(params, target, rows, is_expert, nets: LfONets, config: IQLearnLfOConfig, init_obs=None):
    """LfO IQ-Learn loss (module doc) on a mixed batch; returns ``(loss, metrics)``.

    Args:
      params, target: ``{"qss", "qsa"}`` online and target params (target used for V(s') if
        ``config.use_target``).
      rows: ``Transitions (N, ·)``; only ``obs, next_obs, terminal`` of all rows and ``action``
        of the replay rows (``is_expert == 0``) are read. is_expert: (N,) in {0, 1}.
    """
    alpha = config.temperature
    e = is_expert.astype(jnp.float32)
    q = apply(nets.qss_def, params["qss"], jnp.concatenate([rows.obs, rows.next_obs], axis=-1))
    soft_v = lambda p, s: alpha * jax.nn.logsumexp(apply(nets.qsa_def, p, s) / alpha, axis=-1)  # noqa: E731
    v = soft_v(params["qsa"], rows.obs)
    nv = soft_v((target if config.use_target else params)["qsa"], rows.next_obs)
    loss, terms = iq_critic_terms(q, v, nv, rows.terminal, e, discount=config.discount,
                                  chi2_weight=config.chi2_weight, chi2_rows=config.chi2_rows, init_term="value")
    qa_all = apply(nets.qsa_def, params["qsa"], rows.obs)
    a = jnp.where(e > 0, 0, rows.action).astype(jnp.int32)  # demo actions are never read
    qa = jnp.take_along_axis(qa_all, a[:, None], axis=-1)[:, 0]
    consistency = jnp.sum((1.0 - e) * (qa - q) ** 2) / jnp.maximum(jnp.sum(1.0 - e), 1.0)
    total = loss + config.consistency_weight * consistency
    return total, {"loss": total, "iq_loss": loss, "consistency": consistency, "q_mean": jnp.mean(q), **terms}


def make_lfo_update(nets: LfONets, config: IQLearnLfOConfig):
    """Pure one-seed ``update(carry) -> (carry, metrics)`` (B demo rows + B replay rows, one Adam step)."""
    b = config.batch_size

    def update(carry):
        key, k_e, k_p = jax.random.split(carry.key, 3)
        expert = sample(k_e, carry.expert, carry.expert.obs.shape[0], b)
        policy = sample(k_p, carry.replay, carry.size, b)
        rows = jax.tree_util.tree_map(lambda x, y: jnp.concatenate([x.astype(y.dtype), y]), expert, policy)
        is_expert = jnp.concatenate([jnp.ones(b), jnp.zeros(b)])
        st = carry.learner
        (_, metrics), grads = jax.value_and_grad(lfo_loss, has_aux=True)(st.train.params, st.target, rows, is_expert,
                                                                           nets, config)
        train = apply_gradients(st.train, grads, nets.tx)
        target = polyak_update(st.target, train.params, config.tau)
        return carry._replace(learner=LfOState(train, target, st.step + 1), key=key), metrics

    return update


@functools.partial(jax.jit, static_argnums=(0, 4))
def _act(qsa_def, params, obs, key, greedy: bool, alpha):
    q = jax.vmap(lambda p, o: apply(qsa_def, p, o))(params, obs)
    return jnp.argmax(q, -1) if greedy else jax.random.categorical(key, q / alpha)


def train_iq_learn_lfo(env_id: str, config: IQLearnLfOConfig = IQLearnLfOConfig(), *, n_demos: int = 1,
                       seed: int = 0, n_seeds: int = 1, total_steps: int = 20_480, progress: bool = False,
                       demos_dir=None):
    """LfO IQ-Learn on a discrete-action gymnasium task (e.g. "CartPole-v1", "LunarLander-v3").

    The demos are loaded with ``observations_only=True`` (actions zeroed before the learner sees
    them). Returns ``(nets, carry, history, demo_info)`` like
    :func:`iqlib.iq_learn_online.train_iq_learn_online`, with ``eval_deterministic`` (argmax Q_A) and
    ``eval_stochastic`` (softmax(Q_A/α)) returns ``(S, T, n)``.

    Raises:
      ValueError: unknown or continuous env id, bad n_demos/n_seeds/steps. FileNotFoundError: no demo file.
    """
    demos, info = load_demos(env_id, n_demos, observations_only=True, demos_dir=demos_dir)
    spec = env_spec(env_id)
    if not spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has continuous actions; the LfO learner here needs discrete actions")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    k_init, k_carry = jax.random.split(jax.random.key(seed))
    nets, _ = init_lfo(k_init, spec["obs_dim"], spec["n_actions"], config)
    learner = jax.vmap(lambda k: init_lfo(k, spec["obs_dim"], spec["n_actions"], config)[1])(
        jax.random.split(k_init, n_seeds))
    carry = make_carry(learner, n_seeds, min(config.buffer_capacity, total_steps), spec, demos, k_carry)
    alpha = jnp.float32(config.temperature)
    qsa = lambda ln: ln.train.params["qsa"]  # noqa: E731
    policies = {"deterministic": lambda ln: (lambda o, k: _act(nets.qsa_def, qsa(ln), jnp.asarray(o), k, True, alpha)),
                "stochastic": lambda ln: (lambda o, k: _act(nets.qsa_def, qsa(ln), jnp.asarray(o), k, False, alpha))}
    carry, hist = run_online(
        env_id, carry, make_lfo_update(nets, config),
        sample_action=lambda ln, o, k: _act(nets.qsa_def, qsa(ln), o, k, False, alpha),
        eval_policies=policies, total_steps=total_steps, train_freq=config.train_freq,
        learning_starts=config.learning_starts, eval_every=config.eval_every, eval_episodes=config.eval_episodes,
        seed=seed, progress=progress, desc=f"IQ-Learn LfO {env_id}")
    return nets, carry, hist, info
