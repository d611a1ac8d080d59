"""Double DQN (and optional soft Q-learning) for discrete control: the project's experts.

Q-learning with a neural Q-function (Mnih et al. 2015, "Human-level control through deep
reinforcement learning", Algorithm 1) regresses Q(s, a) on the one-step target

    y = r + γ (1 − terminal) · Q_target(s', argmax_a' Q(s', a'))          (Double DQN)

where the online network picks the next action and the target network values it
(van Hasselt, Guez & Silver 2016, "Deep RL with Double Q-learning", Eq. 4). Timeouts are
truncations, not terminal states: they keep the bootstrap. The loss is the Huber loss of
y − Q(s, a) (Mnih et al. 2015, Methods: "error clipping"); the target network follows the
online one by Polyak averaging θ⁻ ← (1 − ρ) θ⁻ + ρ θ on every update (as in DDPG/SAC,
instead of the periodic copy of Mnih et al. 2015).

With ``entropy_temperature = α > 0`` the target uses the soft value of soft Q-learning (Haarnoja et
al. 2017, "RL with deep energy-based policies", Eq. 9 with a uniform action prior)

    y = r + γ (1 − terminal) · α log Σ_a' exp(Q_target(s', a') / α)

and exploration samples softmax(Q/α) (their Eq. 10); greedy evaluation is argmax either way.

Training (:func:`train_dqn`): ``n_envs`` environments stepped in lockstep by the online loop
(:func:`iqlib.neural.online.run_online`) with ε-greedy actions
(:func:`iqlib.neural.acting.epsilon_greedy_act`, ε decaying linearly); after every block of
``train_freq`` lockstep steps past ``learning_starts`` transitions, ``updates_per_block``
gradient steps on uniform replay minibatches run as one compiled ``lax.scan`` chunk. The best
checkpoint by greedy evaluation is kept. Checkpoints on disk: :mod:`iqlib.data.experts`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.envs import env_spec, evaluate
from iqlib.core.nets import QNetwork, apply, apply_gradients, create_train_state, init_params, polyak_update, check_finite
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.neural.acting import epsilon_greedy_act, greedy_act as greedy_head_act
from iqlib.neural.online import make_update_chunk, run_online

__all__ = ["DQNConfig", "double_dqn_target", "soft_q_target", "dqn_loss", "make_optimizer", "make_update",
           "train_dqn"]


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Hyper-parameters of Double DQN (defaults: rl-baselines3-zoo's DQN LunarLander/Acrobot set)."""

    total_steps: int = 100_000  #: environment transitions collected in all (all envs together).
    n_envs: int = 4  #: environments stepped in lockstep (one batched act per step).
    hidden: tuple = (256, 256)  #: hidden sizes of the Q-network MLP.
    critic_lr: float = 6.3e-4  #: Adam step size of the Q-network (zoo: 6.3e-4; Mnih et al. 2015: RMSProp 2.5e-4).
    batch_size: int = 128  #: transitions per gradient step (Mnih et al. 2015: 32).
    buffer_size: int = 50_000  #: replay capacity in transitions (Mnih et al. 2015: 1e6 frames).
    learning_starts: int = 1_000  #: transitions of uniformly random actions before the first update.
    discount: float = 0.99  #: γ (Mnih et al. 2015: 0.99).
    target_rate: float = 0.004  #: Polyak rate ρ of the target net per update (zoo: hard copy every 250 updates ≈ 1/250).
    train_freq: int = 4  #: lockstep env steps per block (block = train_freq · n_envs transitions).
    updates_per_block: int = 4  #: gradient steps per block, compiled as one lax.scan chunk.
    eps_start: float = 1.0  #: initial ε of ε-greedy (Mnih et al. 2015: 1.0).
    eps_end: float = 0.05  #: final ε (Mnih et al. 2015: 0.1).
    eps_fraction: float = 0.12  #: fraction of total_steps over which ε decays linearly.
    huber_delta: float = 1.0  #: Huber loss threshold (Mnih et al. 2015: error clipping at 1).
    max_grad_norm: float = 10.0  #: global gradient-norm clip (0 disables).
    double: bool = True  #: Double DQN target (van Hasselt et al. 2016); False = max of target net.
    entropy_temperature: float = 0.0  #: α of soft Q-learning (Haarnoja et al. 2017); 0 = hard-max DQN.
    eval_every: int = 10_000  #: transitions between greedy evaluations.
    eval_episodes: int = 10  #: greedy episodes per evaluation.
    stop_return: float | None = None  #: stop early once a greedy evaluation reaches this mean return.

    def __post_init__(self):
        check_finite(self)
        for name in ("total_steps", "n_envs", "batch_size", "buffer_size", "train_freq",
                     "updates_per_block", "eval_every", "eval_episodes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DQNConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.discount < 1.0:
            raise ValueError(f"DQNConfig.discount must be in [0, 1), got {self.discount}")
        if not 0.0 < self.target_rate <= 1.0:
            raise ValueError(f"DQNConfig.target_rate must be in (0, 1], got {self.target_rate}")
        if not (0.0 <= self.eps_end <= 1.0 and 0.0 <= self.eps_start <= 1.0 and 0.0 < self.eps_fraction <= 1.0):
            raise ValueError("DQNConfig: eps_start, eps_end must be in [0, 1] and eps_fraction in (0, 1]")
        if self.entropy_temperature < 0 or self.critic_lr <= 0:
            raise ValueError("DQNConfig: entropy_temperature must be >= 0 and critic_lr > 0")

    def epsilon(self, step: int) -> float:
        """ε after ``step`` transitions: linear from eps_start to eps_end, then constant."""
        frac = min(1.0, step / (self.eps_fraction * self.total_steps))
        return float(self.eps_start + frac * (self.eps_end - self.eps_start))


def double_dqn_target(q_next_online, q_next_target, reward, terminal, discount: float, double: bool = True):
    """Double-DQN target ``y: (B,)`` (van Hasselt et al. 2016, Eq. 4).

    Args:
      q_next_online: ``(B, A)`` online Q(s', ·) (chooses a' = argmax).
      q_next_target: ``(B, A)`` target-network Q⁻(s', ·) (values a').
      reward, terminal: ``(B,)``; terminal 1 = true end (no bootstrap); timeouts are not
        passed here: a truncated step bootstraps like any other.
      double: False gives the DQN target max_a' Q⁻(s', a') (Mnih et al. 2015, Eq. 2).
    """
    if double:
        a_next = jnp.argmax(q_next_online, axis=-1)
        v_next = jnp.take_along_axis(q_next_target, a_next[:, None], axis=-1)[:, 0]
    else:
        v_next = jnp.max(q_next_target, axis=-1)
    return reward + discount * (1.0 - terminal) * v_next


def soft_q_target(q_next_target, reward, terminal, discount: float, alpha: float):
    """Soft Q-learning target ``r + γ(1 − terminal) α logsumexp(Q⁻(s', ·)/α)``: ``(B,)``
    (Haarnoja et al. 2017, Eq. 9; uniform action prior)."""
    v_next = alpha * jax.nn.logsumexp(q_next_target / alpha, axis=-1)
    return reward + discount * (1.0 - terminal) * v_next


def dqn_loss(graphdef, params, target_params, batch, config: DQNConfig):
    """Mean Huber loss of ``y − Q(s, a)`` on a batch; returns ``(loss, q_taken: (B,))``."""
    q = apply(graphdef, params, batch.obs)  # (B, A)
    q_taken = jnp.take_along_axis(q, batch.action[:, None].astype(jnp.int32), axis=-1)[:, 0]
    q_next_target = apply(graphdef, target_params, batch.next_obs)
    if config.entropy_temperature > 0:
        y = soft_q_target(q_next_target, batch.reward, batch.terminal, config.discount, config.entropy_temperature)
    else:
        q_next_online = apply(graphdef, params, batch.next_obs)
        y = double_dqn_target(q_next_online, q_next_target, batch.reward, batch.terminal,
                              config.discount, config.double)
    y = jax.lax.stop_gradient(y)
    return optax.huber_loss(q_taken, y, delta=config.huber_delta).mean(), q_taken


def make_optimizer(config: DQNConfig) -> optax.GradientTransformation:
    """Adam, with global-norm clipping when ``max_grad_norm > 0``."""
    adam = optax.adam(config.critic_lr)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam) if config.max_grad_norm > 0 else adam


def make_update(graphdef, config: DQNConfig, tx: optax.GradientTransformation) -> Callable:
    """Pure ``update((state, target_params), batch) -> ((state, target_params), metrics)``.

    One step: one Adam step on :func:`dqn_loss` of the minibatch ``batch`` (Transitions ``(B, ·)``),
    then Polyak-average the target by ``target_rate``.
    """

    def update(learner, batch):
        state, target = learner
        (loss, q), grads = jax.value_and_grad(
            lambda p: dqn_loss(graphdef, p, target, batch, config), has_aux=True)(state.params)
        state = apply_gradients(state, grads, tx)
        target = polyak_update(target, state.params, config.target_rate)
        return (state, target), {"loss": loss, "q_mean": q.mean()}

    return update


def train_dqn(env_id: str, config: DQNConfig = DQNConfig(), seed: int = 0,
              callback: Callable[[int, Any, dict], None] | None = None, verbose: bool = False,
              progress: bool = False):
    """Train Double DQN on a discrete-action gymnasium environment.

    Args:
      env_id: gymnasium id with ``Discrete`` actions (e.g. ``"CartPole-v1"``).
      config: :class:`DQNConfig`.
      seed: seeds the network init, exploration and env resets (env i: ``seed·1000 + i``).
      callback: ``callback(step, params, record)`` after each greedy evaluation; ``record``
        is the history entry (``step``, ``eval_return``, ``eval_std``, ``epsilon``, ``loss``).
      verbose: print one line per evaluation.

    Returns:
      ``(graphdef, params, history)``: params of the best greedy evaluation (ties go to the
      later one); history is a dict of lists (per evaluation) plus ``best_step``,
      ``best_return``, ``steps_done``, ``wall_time_s``, ``updates``.

    Raises:
      ValueError: if the environment's actions are not discrete.
    """
    spec = env_spec(env_id)
    if not spec["discrete"]:
        raise ValueError(f"train_dqn needs a Discrete action space; {env_id!r} has continuous actions")
    t0 = time.time()
    k_init, k_train, k_act = jax.random.split(jax.random.key(seed), 4)[1:]
    hidden = tuple(int(h) for h in config.hidden)
    graphdef, params = init_params(lambda rngs: QNetwork(spec["obs_dim"], spec["n_actions"], hidden, rngs=rngs), k_init)
    tx = make_optimizer(config)
    learner = (create_train_state(params, tx), jax.tree_util.tree_map(jnp.copy, params))
    chunk = make_update_chunk(make_update(graphdef, config, tx),
                              lambda k, d, s, _: sample(k, d, s, config.batch_size), config.updates_per_block)
    explore, greedy, n = epsilon_greedy_act(graphdef, float(config.entropy_temperature)), greedy_head_act(graphdef), config.n_envs
    hist = {k: [] for k in ("step", "eval_return", "eval_std", "epsilon", "loss", "train_return")}
    best = [-np.inf, None, 0]

    def evaluate_greedy(steps, ln, loop):
        p = jax.tree_util.tree_map(lambda x: x[0], ln[0].params)
        rets = evaluate(env_id, functools.partial(greedy, p), config.eval_episodes, seed=10_000 + seed * 100)
        recent = [r for _, _, r in loop["train_returns"][-20:]]
        rec = {"step": steps, "eval_return": float(rets.mean()), "eval_std": float(rets.std()),
               "epsilon": config.epsilon(steps), "train_return": float(np.mean(recent)) if recent else float("nan"),
               "loss": float(np.asarray(loop["metrics"][-1]["loss"])[0, -1]) if loop["metrics"] else float("nan")}
        for k, v in rec.items():
            hist[k].append(v)
        if rec["eval_return"] >= best[0]:
            best[:] = rec["eval_return"], jax.tree_util.tree_map(np.asarray, p), steps
        if verbose:
            print(f"[{env_id}] step {steps:>7d} eval {rec['eval_return']:8.1f} ± {rec['eval_std']:6.1f} "
                  f"train {rec['train_return']:8.1f} eps {rec['epsilon']:.3f} loss {rec['loss']:.4f} "
                  f"t {time.time() - t0:6.1f}s", flush=True)
        if callback is not None:
            callback(steps, p, rec)
        return rec

    _, loop = run_online(
        env_id, jax.tree_util.tree_map(lambda x: x[None], learner),
        ReplayBuffer(config.buffer_size, spec["obs_dim"], (), n_seeds=1), chunk,
        act=lambda ln, obs, key, step: explore(ln[0].params, obs, key, config.epsilon(step - n)),
        total_steps=config.total_steps, train_freq=config.train_freq, n_envs=n, keys=k_train[None],
        learning_starts=config.learning_starts, eval_every=config.eval_every, evaluate=evaluate_greedy,
        stop_when=None if config.stop_return is None else (lambda rec: rec["eval_return"] >= config.stop_return),
        seed=seed, reset_seeds=[[seed * 1000 + i for i in range(n)]], act_key=k_act, progress=progress,
        desc=f"DQN {env_id}")
    hist.update(best_return=float(best[0]), best_step=int(best[2]), steps_done=int(loop["steps"]),
                updates=int(loop["update_steps"]), wall_time_s=float(time.time() - t0))
    return graphdef, jax.tree_util.tree_map(jnp.asarray, best[1]), hist
