"""Rust (1987) bus-engine replacement: the real data and the model around it.

Rust, J. (1987), "Optimal Replacement of GMC Bus Engines: An Empirical Model of Harold
Zurcher", Econometrica 55(5), 999–1033. Each month Harold Zurcher keeps (a = 0) or replaces
(a = 1) a bus engine. The state x is the mileage since the last replacement, in 5,000-mile
bins (90 bins, the last absorbing). The flow utility, in Rust's parameter scaling, is

    u(x, keep)    = −c(x) = −0.001 · θ₁₁ · x        (x = bin index, θ₁₁ in "thousandths")
    u(x, replace) = −RC                             (c(0) = 0 after the new engine)

with i.i.d. type-I extreme value shocks of scale α = 1, so that choices are logit in the soft
Q-function: P(a | x) = softmax(Q(x, ·)). Mileage moves by j ∈ {0, 1, 2} bins a month with
probabilities θ₃ = (θ₃₀, θ₃₁, θ₃₂), estimated in a first stage from the keep months (Rust's
Table V); a replacement resets x to 0 before the move. In these units θ_c := 0.001 · θ₁₁ is
the cost per bin, the parameter econirl reports.

The data ship in `data/rust_bus/` with their provenance; the sha256 is checked on every load.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from iqlib.data.files import DATA_ROOT, verify_sha256

__all__ = [
    "RUST_BUS_SHA256",
    "default_path",
    "load_rust_bus",
    "mileage_bins",
    "estimate_mileage_transitions",
    "rust_transitions",
    "rust_features",
    "choice_counts",
]

RUST_BUS_SHA256 = "6248de8b06ea8e5a0a38445ac4b78ccb1a9aa845ded7464804bcb56c647ead57"
_COLUMNS = ("bus_id", "period", "mileage", "mileage_bin", "replaced", "group")
N_BINS = 90


def default_path() -> Path:
    """Path of the vendored CSV: `<repo>/data/rust_bus/rust_bus_original.csv`."""
    return DATA_ROOT / "rust_bus" / "rust_bus_original.csv"


def load_rust_bus(path=None, groups=(1, 2, 3, 4)) -> dict[str, np.ndarray]:
    """Load Rust's bus panel after verifying its sha256.

    Args:
      path: the CSV (default: `default_path()`).
      groups: bus groups to keep, a subset of {1, 2, 3, 4} (Rust's pooled sample is 1–4).

    Returns:
      dict of (N,) arrays sorted by (bus_id, period): `bus_id` int, `period` int,
      `mileage` float (odometer, thousands of miles), `mileage_bin` int, `replaced` int (0/1),
      `group` int. N = 8,260 for groups 1–4.

    Raises:
      FileNotFoundError: if the file is missing. ValueError: if its checksum differs from
      `RUST_BUS_SHA256`, a column is missing, or `groups` is not a non-empty subset of 1–4.
    """
    path = Path(path) if path is not None else default_path()
    verify_sha256(path, RUST_BUS_SHA256)
    groups = tuple(int(g) for g in groups)
    if not groups or not set(groups) <= {1, 2, 3, 4}:
        raise ValueError(f"groups must be a non-empty subset of (1, 2, 3, 4), got {groups}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks columns {sorted(missing)}")
        rows = list(reader)
    data = {
        c: np.array([float(r[c]) for r in rows]) if c == "mileage" else np.array([int(r[c]) for r in rows])
        for c in _COLUMNS
    }
    keep = np.isin(data["group"], groups)
    order = np.lexsort((data["period"][keep], data["bus_id"][keep]))
    return {c: v[keep][order] for c, v in data.items()}


def mileage_bins(bus_id, mileage, replaced, bin_width=5.0, n_bins=N_BINS) -> np.ndarray:
    """Discretise as Rust did: x_t = floor((odometer_t − odometer at the last replacement) / 5).

    The odometer is not reset by a replacement; the month after a replacement counts from the
    reading in the replacement month. Args are (N,) arrays sorted by (bus_id, period);
    `bin_width` is in thousands of miles. Returns (N,) int bins, clipped to n_bins − 1.
    """
    bus_id, mileage, replaced = np.asarray(bus_id), np.asarray(mileage, float), np.asarray(replaced)
    bins = np.empty(len(mileage), dtype=int)
    base = 0.0
    for i in range(len(mileage)):
        if i == 0 or bus_id[i] != bus_id[i - 1]:
            base = 0.0
        elif replaced[i - 1]:
            base = mileage[i - 1]
        bins[i] = int((mileage[i] - base) // bin_width)
    return np.minimum(bins, n_bins - 1)


def _next_state_pairs(data):
    """Indices i whose next row is the same bus in the next month."""
    same = (data["bus_id"][1:] == data["bus_id"][:-1]) & (data["period"][1:] == data["period"][:-1] + 1)
    return np.flatnonzero(same)


def estimate_mileage_transitions(data, max_increment=2):
    """First stage: mileage-increment probabilities θ₃ from the keep months (Rust 1987, Table V).

    Counts Δx = x_{t+1} − x_t over consecutive months of the same bus with a = keep; negative
    increments (none in this data) are dropped and increments above `max_increment` are
    counted as `max_increment`.

    Returns: (probs: (max_increment + 1,), counts: (max_increment + 1,)).
    """
    i = _next_state_pairs(data)
    i = i[data["replaced"][i] == 0]
    inc = data["mileage_bin"][i + 1] - data["mileage_bin"][i]
    inc = np.minimum(inc[inc >= 0], max_increment)
    counts = np.bincount(inc, minlength=max_increment + 1).astype(float)
    return counts / counts.sum(), counts


def rust_transitions(probs, n_states=N_BINS) -> np.ndarray:
    """Transition tensor P: (S, 2, S): keep moves x → min(x + j, S − 1), replace moves 0 → min(j, S − 1), j ∼ probs."""
    probs = np.asarray(probs, float)
    if probs.ndim != 1 or np.any(probs < 0) or abs(probs.sum() - 1) > 1e-8:
        raise ValueError(f"probs must be a probability vector, got {probs}")
    P = np.zeros((n_states, 2, n_states))
    for x in range(n_states):
        for j, p in enumerate(probs):
            P[x, 0, min(x + j, n_states - 1)] += p
            P[x, 1, min(j, n_states - 1)] += p
    return P


def rust_features(n_states=N_BINS, cost_scale=0.001) -> np.ndarray:
    """Features Φ: (S, 2, 2) with u(x, a) = Φ(x, a) · θ, θ = (θ₁₁, RC).

    Φ(x, keep) = (−cost_scale · x, 0), Φ(x, replace) = (0, −1): Rust's linear cost
    c(x) = 0.001 θ₁₁ x and replacement cost RC (utility units, α = 1).
    """
    x = np.arange(n_states, dtype=float)
    phi = np.zeros((n_states, 2, 2))
    phi[:, 0, 0] = -cost_scale * x
    phi[:, 1, 1] = -1.0
    return phi


def choice_counts(data, n_states=N_BINS) -> np.ndarray:
    """(S, 2) counts of (mileage bin, decision) over all bus-months: the likelihood's sufficient statistic."""
    counts = np.zeros((n_states, 2))
    np.add.at(counts, (np.minimum(data["mileage_bin"], n_states - 1), data["replaced"]), 1.0)
    return counts
