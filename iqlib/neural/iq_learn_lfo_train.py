"""The driver of IQ-Learn from observations (:mod:`iqlib.neural.iq_learn_lfo`): demonstrations without
their actions, the learner's seeds vmapped through the one online loop
(:func:`iqlib.neural.iq_learn_online_train.run_imitation`)."""

from __future__ import annotations

import jax

from iqlib.core.envs import env_spec
from iqlib.data.demos import load_demos
from iqlib.neural.iq_learn_lfo import IQLearnLfOConfig, init_lfo, make_act, make_update, transition_stats
from iqlib.neural.iq_learn_online_train import run_imitation

__all__ = ["train_iq_learn_lfo"]


def train_iq_learn_lfo(env_id: str, config: IQLearnLfOConfig = IQLearnLfOConfig(), *, n_demos: int = 1,
                       seed: int = 0, n_seeds: int = 1, total_steps: int = 20_480, progress: bool = False,
                       demos_dir=None):
    """LfO IQ-Learn on a discrete-action gymnasium task (e.g. "CartPole-v1", "LunarLander-v3").

    The demos are loaded with ``observations_only=True`` (actions zeroed before the learner sees
    them). Returns ``(nets, carry, history, demo_info)`` like
    :func:`iqlib.neural.iq_learn_online_train.train_iq_learn_online`, with ``eval_deterministic``
    (argmax Q̄) and ``eval_stochastic`` (softmax(Q̄/α)) returns ``(S, T, n)``.

    Raises:
      ValueError: unknown or continuous env id, bad n_demos/n_seeds/steps. FileNotFoundError: no demo file.
    """
    demos, info = load_demos(env_id, n_demos, observations_only=True, demos_dir=demos_dir)
    spec = env_spec(env_id)
    if not spec["discrete"]:
        raise ValueError(f"env_id {env_id!r} has continuous actions; the LfO learner here needs discrete actions")
    if int(n_seeds) < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    k_init = jax.random.split(jax.random.key(seed))[0]
    nets, _ = init_lfo(k_init, spec["obs_dim"], spec["n_actions"], config, transition_stats(demos))
    learner = jax.vmap(lambda k: init_lfo(k, spec["obs_dim"], spec["n_actions"], config)[1])(
        jax.random.split(k_init, n_seeds))
    alpha = config.entropy_temperature
    carry, hist = run_imitation(
        env_id, learner, make_update(nets, config), demos, config, policy_params=lambda ln: ln.train.params,
        deterministic=make_act(nets, alpha, True), stochastic=make_act(nets, alpha, False),
        total_steps=total_steps, seed=seed, progress=progress, desc=f"IQ-Learn LfO {env_id}")
    return nets, carry, hist, info

