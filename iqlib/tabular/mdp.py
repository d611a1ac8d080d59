"""A validated container for a finite (tabular) discounted MDP.

A tabular MDP is the tuple (S, A, P, r, p0, γ) of the max-entropy RL literature, plus the
entropy temperature α of soft (max-entropy) RL, which the dynamic-discrete-choice
literature calls the logit scale σ of the i.i.d. Gumbel taste shocks:

    P: (S, A, S)           P[s, a, s'] = Pr(s' | s, a)    rows sum to 1
    r: (S, A)              reward r(s, a)                 reward units
    p0: (S,)               initial-state distribution     sums to 1
    discount               γ, 0 ≤ γ < 1
    entropy_temperature    α > 0                          reward units

Validation happens once, in NumPy, when the container is built, so that a wrong shape or a
transition row that does not sum to 1 is reported by name instead of surfacing later as a
NaN inside a jitted solver. The arrays are stored as `jax.Array`s in the default dtype
(float32 unless `jax_enable_x64` is set).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

__all__ = ["TabularMDP", "check_transitions"]


def check_transitions(P, name: str = "P", atol: float = 1e-5) -> np.ndarray:
    """Check a transition tensor and return it as a float64 NumPy array.

    Args:
      P: (S, A, S) array-like, P[s, a, s'] = Pr(s' | s, a).
      name: the name used in error messages.
      atol: tolerance on |Σ_s' P[s, a, s'] − 1|.

    Raises:
      ValueError: if P is not 3-D with P.shape[0] == P.shape[2], has a negative or
        non-finite entry, or a row (s, a) that does not sum to 1 within `atol`.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"{name} must have shape (S, A, S), got {P.shape}")
    if P.shape[0] == 0 or P.shape[1] == 0:
        raise ValueError(f"{name} must have at least one state and one action, got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} has non-finite entries")
    if np.any(P < 0):
        s, a, s2 = np.argwhere(P < 0)[0]
        raise ValueError(f"{name} must be non-negative; {name}[{s}, {a}, {s2}] = {P[s, a, s2]}")
    row = P.sum(axis=2)
    bad = np.abs(row - 1.0) > atol
    if np.any(bad):
        s, a = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}[s, a, :] must sum to 1 for every (s, a); {name}[{s}, {a}, :] sums to {row[s, a]:.6g}"
        )
    return P


@dataclasses.dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite discounted MDP with entropy temperature α, validated on construction.

    Attributes:
      P: (S, A, S) transition probabilities P[s, a, s'].
      r: (S, A) reward r(s, a).
      p0: (S,) initial-state distribution.
      discount: γ in [0, 1).
      entropy_temperature: α > 0 (the logit scale σ in econometrics).

    Raises:
      ValueError: naming the input, if a shape, sign, normalisation or range is wrong.
    """

    P: jnp.ndarray
    r: jnp.ndarray
    p0: jnp.ndarray
    discount: float
    entropy_temperature: float = 1.0

    def __post_init__(self):
        P = check_transitions(self.P, "P")
        S, A, _ = P.shape
        r = np.asarray(self.r, dtype=np.float64)
        if r.shape != (S, A):
            raise ValueError(f"r must have shape (S, A) = ({S}, {A}) to match P, got {r.shape}")
        if not np.all(np.isfinite(r)):
            raise ValueError("r has non-finite entries")
        p0 = np.asarray(self.p0, dtype=np.float64)
        if p0.shape != (S,):
            raise ValueError(f"p0 must have shape (S,) = ({S},), got {p0.shape}")
        if np.any(p0 < 0) or not np.all(np.isfinite(p0)) or abs(p0.sum() - 1.0) > 1e-5:
            raise ValueError(f"p0 must be a probability vector (non-negative, sums to 1); sum = {p0.sum():.6g}")
        discount = float(self.discount)
        if not (0.0 <= discount < 1.0):
            raise ValueError(f"discount must satisfy 0 <= discount < 1, got {self.discount}")
        temperature = float(self.entropy_temperature)
        if not (temperature > 0.0 and np.isfinite(temperature)):
            raise ValueError(f"entropy_temperature must be a finite number > 0, got {self.entropy_temperature}")
        object.__setattr__(self, "P", jnp.asarray(P))
        object.__setattr__(self, "r", jnp.asarray(r))
        object.__setattr__(self, "p0", jnp.asarray(p0))
        object.__setattr__(self, "discount", discount)
        object.__setattr__(self, "entropy_temperature", temperature)

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return self.P.shape[1]

    def replace(self, **changes) -> "TabularMDP":
        """A copy with some fields changed (validated again), e.g. `mdp.replace(r=r_new)`."""
        return dataclasses.replace(self, **changes)
