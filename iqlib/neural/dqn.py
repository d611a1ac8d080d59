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

With ``soft_alpha = α > 0`` the target uses the soft value of soft Q-learning (Haarnoja et
al. 2017, "RL with deep energy-based policies", Eq. 9 with a uniform action prior)

    y = r + γ (1 − terminal) · α log Σ_a' exp(Q_target(s', a') / α)

and exploration samples softmax(Q/α) (their Eq. 10); greedy evaluation is argmax either way.

Training (:func:`train_dqn`): ``n_envs`` environments stepped in lockstep in Python, one
jitted batched ε-greedy act per step; every ``train_freq`` steps the transitions go into a
:class:`iqlib.core.replay.ReplayBuffer` and ``updates_per_block`` gradient steps run as one
compiled ``lax.scan`` chunk (:func:`iqlib.core.training.make_chunk`). The best checkpoint by
greedy evaluation is kept.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from iqlib.core.envs import env_spec, evaluate, make_env
from iqlib.data.files import load_npz_verified, load_provenance, save_npz_with_provenance
from iqlib.core.nets import QNetwork, apply, init_params
from iqlib.data.experts import flatten_params, unflatten_params
from iqlib.core.replay import ReplayBuffer, sample
from iqlib.core.nets import TrainState, apply_gradients, create_train_state, polyak_update
from iqlib.core.training import make_chunk

__all__ = ["DQNConfig", "double_dqn_target", "soft_q_target", "dqn_loss", "make_update",
           "make_act", "greedy_act", "train_dqn",
           "save_expert", "load_expert", "expert_path", "EXPERT_DIR"]

EXPERT_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "experts"


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Hyper-parameters of Double DQN (defaults: rl-baselines3-zoo's DQN LunarLander/Acrobot set)."""

    total_steps: int = 100_000  #: environment transitions collected in all (all envs together).
    n_envs: int = 4  #: environments stepped in lockstep (one batched act per step).
    hidden: tuple = (256, 256)  #: hidden sizes of the Q-network MLP.
    learning_rate: float = 6.3e-4  #: Adam step size (zoo: 6.3e-4; Mnih et al. 2015 used RMSProp 2.5e-4).
    batch_size: int = 128  #: transitions per gradient step (Mnih et al. 2015: 32).
    buffer_size: int = 50_000  #: replay capacity in transitions (Mnih et al. 2015: 1e6 frames).
    learning_starts: int = 1_000  #: transitions collected before the first update.
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
    soft_alpha: float = 0.0  #: α of soft Q-learning (Haarnoja et al. 2017); 0 = hard-max DQN.
    eval_every: int = 10_000  #: transitions between greedy evaluations.
    eval_episodes: int = 10  #: greedy episodes per evaluation.
    stop_return: float | None = None  #: stop early once a greedy evaluation reaches this mean return.

    def __post_init__(self):
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
        if self.soft_alpha < 0 or self.learning_rate <= 0:
            raise ValueError("DQNConfig: soft_alpha must be >= 0 and learning_rate > 0")

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
    if config.soft_alpha > 0:
        y = soft_q_target(q_next_target, batch.reward, batch.terminal, config.discount, config.soft_alpha)
    else:
        q_next_online = apply(graphdef, params, batch.next_obs)
        y = double_dqn_target(q_next_online, q_next_target, batch.reward, batch.terminal,
                              config.discount, config.double)
    y = jax.lax.stop_gradient(y)
    return optax.huber_loss(q_taken, y, delta=config.huber_delta).mean(), q_taken


def make_optimizer(config: DQNConfig) -> optax.GradientTransformation:
    """Adam, with global-norm clipping when ``max_grad_norm > 0``."""
    adam = optax.adam(config.learning_rate)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam) if config.max_grad_norm > 0 else adam


def make_update(graphdef, config: DQNConfig, tx: optax.GradientTransformation) -> Callable:
    """Pure ``update(carry) -> (carry, metrics)``; ``carry = (state, target_params, key, data, size)``.

    One step: sample a minibatch below ``size`` from ``data`` (replay at capacity), one
    Adam step on :func:`dqn_loss`, then Polyak-average the target by ``target_rate``.
    """

    def update(carry):
        state, target, key, data, size = carry
        key, k = jax.random.split(key)
        batch = sample(k, data, size, config.batch_size)
        (loss, q), grads = jax.value_and_grad(
            lambda p: dqn_loss(graphdef, p, target, batch, config), has_aux=True)(state.params)
        state = apply_gradients(state, grads, tx)
        target = polyak_update(target, state.params, config.target_rate)
        return (state, target, key, data, size), {"loss": loss, "q_mean": q.mean()}

    return update


@functools.lru_cache(maxsize=None)
def make_act(graphdef, soft_alpha: float = 0.0) -> Callable:
    """Jitted ``act(params, obs: (..., O), key, eps) -> actions: (...,)`` int32.

    With probability ``eps`` a uniform action, else argmax Q (or, if ``soft_alpha > 0``,
    a sample of softmax(Q/α)). ``eps = 0`` and ``soft_alpha = 0`` is the greedy policy.
    """

    @jax.jit
    def act(params, obs, key, eps):
        q = apply(graphdef, params, obs)
        k_rand, k_explore, k_soft = jax.random.split(key, 3)
        chosen = (jax.random.categorical(k_soft, q / soft_alpha) if soft_alpha > 0 else jnp.argmax(q, -1))
        rand = jax.random.randint(k_rand, chosen.shape, 0, q.shape[-1])
        return jnp.where(jax.random.uniform(k_explore, chosen.shape) < eps, rand, chosen).astype(jnp.int32)

    return act


def greedy_act(graphdef, params, eps: float = 0.0) -> Callable:
    """``act(obs, key) -> argmax_a Q(obs, a)`` (ε-greedy if ``eps > 0``) for :func:`iqlib.core.envs.evaluate`."""
    act = make_act(graphdef)
    return lambda obs, key: act(params, jnp.asarray(obs, jnp.float32), key, eps)


def train_dqn(env_id: str, config: DQNConfig = DQNConfig(), seed: int = 0,
              callback: Callable[[int, Any, dict], None] | None = None, verbose: bool = False):
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
    key = jax.random.key(seed)
    key, k_init, k_train, k_act = jax.random.split(key, 4)
    hidden = tuple(int(h) for h in config.hidden)
    graphdef, params = init_params(lambda rngs: QNetwork(spec["obs_dim"], spec["n_actions"], hidden, rngs=rngs), k_init)
    tx = make_optimizer(config)
    state = create_train_state(params, tx)
    target = jax.tree_util.tree_map(jnp.copy, params)
    chunk = make_chunk(make_update(graphdef, config, tx), config.updates_per_block)
    act = make_act(graphdef, float(config.soft_alpha))

    n = config.n_envs
    envs = [make_env(env_id) for _ in range(n)]
    obs = np.stack([e.reset(seed=seed * 1000 + i)[0] for i, e in enumerate(envs)]).astype(np.float32)
    start = np.ones(n, np.float32)
    buf = ReplayBuffer(config.buffer_size, spec["obs_dim"], ())
    ep_ret, recent = np.zeros(n), []
    hist = {k: [] for k in ("step", "eval_return", "eval_std", "epsilon", "loss", "train_return")}
    best = (-np.inf, None, 0)
    steps, updates, next_eval, last_loss = 0, 0, config.eval_every, np.nan
    while steps < config.total_steps:
        for _ in range(config.train_freq):
            eps = config.epsilon(steps)
            k_act, k = jax.random.split(k_act)
            actions = np.asarray(act(state.params, obs, k, eps))
            nxt = np.empty_like(obs)
            rew, term, trunc = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
            for i, env in enumerate(envs):
                o, r, te, tr, _ = env.step(int(actions[i]))
                nxt[i], rew[i], term[i], trunc[i] = o, r, float(te), float(tr and not te)
            buf.add(obs=obs, action=actions, reward=rew, next_obs=nxt, terminal=term, timeout=trunc,
                    episode_start=start)
            ep_ret += rew
            start = np.zeros(n, np.float32)
            for i in np.flatnonzero(term + trunc):
                recent.append(ep_ret[i])
                ep_ret[i] = 0.0
                nxt[i] = envs[i].reset()[0]
                start[i] = 1.0
            obs = nxt
            steps += n
        if steps >= config.learning_starts:
            data, size = buf.device_view()
            (state, target, k_train, _, _), metrics = chunk((state, target, k_train, data, size))
            last_loss = float(np.asarray(metrics["loss"])[-1])
            updates += config.updates_per_block
        if steps >= next_eval or steps >= config.total_steps:
            next_eval += config.eval_every
            rets = evaluate(env_id, greedy_act(graphdef, state.params), config.eval_episodes,
                            seed=10_000 + seed * 100)
            rec = {"step": steps, "eval_return": float(rets.mean()), "eval_std": float(rets.std()),
                   "epsilon": config.epsilon(steps), "loss": last_loss,
                   "train_return": float(np.mean(recent[-20:])) if recent else float("nan")}
            for k, v in rec.items():
                hist[k].append(v)
            if rec["eval_return"] >= best[0]:
                best = (rec["eval_return"], jax.tree_util.tree_map(np.asarray, state.params), steps)
            if verbose:
                print(f"[{env_id}] step {steps:>7d} eval {rec['eval_return']:8.1f} ± {rec['eval_std']:6.1f} "
                      f"train {rec['train_return']:8.1f} eps {rec['epsilon']:.3f} loss {last_loss:.4f} "
                      f"t {time.time() - t0:6.1f}s", flush=True)
            if callback is not None:
                callback(steps, state.params, rec)
            if config.stop_return is not None and rec["eval_return"] >= config.stop_return:
                break
    for env in envs:
        env.close()
    hist.update(best_return=float(best[0]), best_step=int(best[2]), steps_done=int(steps),
                updates=int(updates), wall_time_s=float(time.time() - t0))
    return graphdef, jax.tree_util.tree_map(jnp.asarray, best[1]), hist


def expert_path(env_id: str, directory=None) -> pathlib.Path:
    """``data/experts/<env_id>.npz`` (or under ``directory``)."""
    return pathlib.Path(directory or EXPERT_DIR) / f"{env_id}.npz"


def save_expert(env_id: str, params, hidden, provenance: dict, directory=None, medium_params=None) -> str:
    """Write the Q-network params (flattened, '/'-joined keys) and provenance (plus
    ``hidden``, ``obs_dim``, ``n_actions``) to :func:`expert_path`; return the sha256.
    ``medium_params`` (an intermediate checkpoint) is stored under the key prefix ``medium/``."""
    spec = env_spec(env_id)
    meta = {**provenance, "env_id": env_id, "network": "iqlib.core.nets.QNetwork",
            "hidden": [int(h) for h in hidden], "obs_dim": spec["obs_dim"], "n_actions": spec["n_actions"],
            "checkpoints": ["expert"] + (["medium"] if medium_params is not None else [])}
    arrays = flatten_params(params)
    if medium_params is not None:
        arrays.update({f"medium/{k}": v for k, v in flatten_params(medium_params).items()})
    return save_npz_with_provenance(expert_path(env_id, directory), arrays, meta)


def load_expert(env_id: str, directory=None, checkpoint: str = "expert"):
    """Rebuild a saved expert: ``(graphdef, params)`` of its QNetwork (checksum verified).

    ``checkpoint="medium"`` gives the intermediate checkpoint used for the mixed offline sets.

    Raises:
      FileNotFoundError: if no expert was saved (run ``make data-discrete``).
      ValueError: on a checksum mismatch or params that do not fit the network.
    """
    path = expert_path(env_id, directory)
    if not path.is_file():
        raise FileNotFoundError(f"no expert {str(path)!r}; train one with `make data-discrete`")
    meta = load_provenance(path)
    if checkpoint not in meta.get("checkpoints", ["expert"]):
        raise ValueError(f"checkpoint must be one of {meta.get('checkpoints', ['expert'])}, got {checkpoint!r}")
    arrays = load_npz_verified(path)
    prefix = "medium/"
    flat = ({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)} if checkpoint == "medium"
            else {k: v for k, v in arrays.items() if not k.startswith(prefix)})
    graphdef, template = init_params(lambda rngs: QNetwork(meta["obs_dim"], meta["n_actions"],
                                                           tuple(meta["hidden"]), rngs=rngs), jax.random.key(0))
    return graphdef, unflatten_params(template, flat)
