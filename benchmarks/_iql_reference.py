"""A plain-JAX IQL update, the yardstick of ``bench_iql.py`` (not a benchmark itself).

The same computation as :func:`iqlib.neural.iql.make_update` — V by expectile regression (Eq. 5),
the actor by AWR with the updated V (Eq. 7), twin Q toward r + γ(1 − d)V(s') (Eq. 6), Polyak
targets, Adam everywhere, a cosine actor schedule — written the way a reader would write it in
plain JAX: parameters as lists of ``{"w", "b"}`` dicts, two critic MLPs applied one after the
other, one ``lax.scan`` over updates with the minibatch gathered inside. No Flax, no iqlib.
Kostrikov, Nair, Levine (ICLR 2022), Eqs. 5–7.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def mlp_init(key, sizes):
    """Uniform fan-in init of a ReLU MLP with layer widths ``sizes`` (in, h1, ..., out)."""
    params = []
    for k, (a, b) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
        lim = (1.0 / a) ** 0.5
        params.append({"w": jax.random.uniform(k, (a, b), jnp.float32, -lim, lim), "b": jnp.zeros((b,), jnp.float32)})
    return params


def mlp(params, x):
    """``x: (B, in) -> (B, out)``, ReLU between layers, the last one linear."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def make_reference(obs_dim: int, action_dim: int, num_steps: int, *, hidden=(256, 256), batch_size=256,
                   expectile=0.7, awr_temperature=3.0, discount=0.99, target_rate=0.005, lr=3e-4):
    """``(init(key) -> carry, chunk(carry, data, length) -> (carry, metrics))`` for continuous IQL.

    ``data`` is a tuple ``(obs (N, O), action (N, A), reward (N,), next_obs (N, O), terminal (N,))``.
    """
    h = list(hidden)
    actor_tx = optax.adam(optax.cosine_decay_schedule(lr, num_steps))
    tx = optax.adam(lr)

    def init(key):
        ka, k1, k2, kv, kt = jax.random.split(key, 5)
        actor = {"net": mlp_init(ka, [obs_dim, *h, action_dim]), "log_std": jnp.zeros((action_dim,), jnp.float32)}
        critic = [mlp_init(k1, [obs_dim + action_dim, *h, 1]), mlp_init(k2, [obs_dim + action_dim, *h, 1])]
        value = mlp_init(kv, [obs_dim, *h, 1])
        return dict(actor=actor, actor_opt=actor_tx.init(actor), critic=critic, critic_opt=tx.init(critic),
                    target=jax.tree_util.tree_map(jnp.copy, critic), value=value, value_opt=tx.init(value), key=kt)

    def q_min(critic, obs, action):
        sa = jnp.concatenate([obs, action], -1)
        return jnp.minimum(mlp(critic[0], sa)[:, 0], mlp(critic[1], sa)[:, 0])

    def update(c, batch):
        obs, action, reward, next_obs, terminal = batch
        q_hat = q_min(c["target"], obs, action)

        def v_loss(p):
            u = q_hat - mlp(p, obs)[:, 0]
            return jnp.mean(jnp.where(u < 0, 1 - expectile, expectile) * u**2)
        g = jax.grad(v_loss)(c["value"])
        upd, value_opt = tx.update(g, c["value_opt"], c["value"])
        value = optax.apply_updates(c["value"], upd)

        v_obs = mlp(value, obs)[:, 0]
        w = jnp.minimum(jnp.exp(awr_temperature * (q_hat - v_obs)), 100.0)

        def a_loss(p):
            mean = jnp.tanh(mlp(p["net"], obs))
            log_std = jnp.clip(p["log_std"], LOG_STD_MIN, LOG_STD_MAX)
            logp = jnp.sum(-0.5 * ((action - mean) * jnp.exp(-log_std)) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi), -1)
            return -jnp.mean(w * logp)
        g = jax.grad(a_loss)(c["actor"])
        upd, actor_opt = actor_tx.update(g, c["actor_opt"], c["actor"])
        actor = optax.apply_updates(c["actor"], upd)

        y = reward + discount * (1 - terminal) * mlp(value, next_obs)[:, 0]

        def c_loss(p):
            sa = jnp.concatenate([obs, action], -1)
            return jnp.mean((mlp(p[0], sa)[:, 0] - y) ** 2 + (mlp(p[1], sa)[:, 0] - y) ** 2)
        loss, g = jax.value_and_grad(c_loss)(c["critic"])
        upd, critic_opt = tx.update(g, c["critic_opt"], c["critic"])
        critic = optax.apply_updates(c["critic"], upd)
        target = jax.tree_util.tree_map(lambda t, o: (1 - target_rate) * t + target_rate * o, c["target"], critic)
        return dict(c, actor=actor, actor_opt=actor_opt, critic=critic, critic_opt=critic_opt, target=target,
                    value=value, value_opt=value_opt), loss

    def chunk(c, data, length):
        def body(c, _):
            key, k = jax.random.split(c["key"])
            idx = jax.random.randint(k, (batch_size,), 0, data[2].shape[0])
            c, loss = update(dict(c, key=key), tuple(x[idx] for x in data))
            return c, loss
        return jax.lax.scan(body, c, None, length=length)

    return init, update, chunk
