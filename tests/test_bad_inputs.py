"""Bad inputs are refused loudly: every case asserts the error type AND that the message names the input.

One parametrised table, grouped by kind (the `kind` of each case). Each call fails in its
eager checks, before anything is compiled, so the whole table runs in seconds. The last tests
check the other half of "nothing silent": solvers stopped early report converged = False, and
written files are readable by others (mode 0644) whatever the umask.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import jax.numpy as jnp
import numpy as np
import pytest

from iqlib.core.transitions import to_transitions, validate_arrays
from iqlib.data import files
from iqlib.data.datasets import load_dataset, save_dataset
from iqlib.neural.bc import BCConfig
from iqlib.neural.dqn import DQNConfig
from iqlib.neural.iq_learn_lfo import IQLearnLfOConfig
from iqlib.neural.iq_learn_offline import IQLearnOfflineConfig
from iqlib.neural.iq_learn_online import IQLearnOnlineConfig
from iqlib.neural.iql import IQLConfig, expectile_loss
from iqlib.neural.sac import SACConfig
from iqlib.problems.gridworld import make_gridworld, state_index
from iqlib.problems.maze import distances_to, generate_episodes, parse_maze
from iqlib.tabular.anchor import anchor_normalise, anchor_normalise_q, fit_iq_learn_anchored
from iqlib.tabular.dataset import check_dataset
from iqlib.tabular.expectile import expectile
from iqlib.tabular.iq_learn import IQLearnConfig
from iqlib.tabular.iq_learn_fit import fit_iq_learn
from iqlib.tabular.iql import IQLTabularConfig, fit_iql_tabular
from iqlib.tabular.mdp import TabularMDP
from iqlib.tabular.mle import fit_structural_mle
from iqlib.tabular.sampling import episodes_from_transitions, sample_trajectories, state_action_counts
from iqlib.tabular.soft_bellman import occupancy, soft_policy_evaluation, solve_soft_bellman

# A 3-state, 2-action MDP (float64 NumPy; the solvers cast to the default dtype).
S, A = 3, 2
P = np.random.default_rng(0).dirichlet(np.ones(S), size=(S, A))
P_BAD = P.copy()
P_BAD[1, 0] *= 0.9  # row (1, 0) sums to 0.9
P_NEG = P.copy()
P_NEG[0, 0, 0] = -0.1
R = np.arange(S * A, dtype=float).reshape(S, A) / 10
COUNTS = np.array([[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]])
FEATS = np.random.default_rng(1).normal(size=(S, A, 2))
P0 = np.full(S, 1 / S)
LOGPI = np.log(np.full((S, A), 1 / A))


def tab_dataset(**changes):
    d = {"obs": np.array([0, 1, 2]), "action": np.array([0, 1, 0]), "reward": np.zeros(3),
         "next_obs": np.array([1, 2, 0]), "terminal": np.array([False, False, True]),
         "timeout": np.array([False, False, False])}
    return {**d, **changes}


def d4rl(**changes):
    n = 4
    d = {"observations": np.zeros((n, 2), np.float32), "next_observations": np.zeros((n, 2), np.float32),
         "actions": np.array([0, 1, 1, 0]), "rewards": np.ones(n, np.float32),
         "terminals": np.array([0, 0, 0, 1], bool), "timeouts": np.zeros(n, bool)}
    return {**d, **changes}


def _maze():
    return parse_maze(["S.M", "D.G", "E.."])


# (kind, id, call, exception, regex that must appear in the message)
CASES = [
    # --- discount γ outside [0, 1) --------------------------------------------------------
    ("discount", "fit_iq_learn γ=1", lambda: fit_iq_learn(COUNTS, P, 1.0, 1.0), ValueError, "discount"),
    ("discount", "fit_iq_learn γ=1.5", lambda: fit_iq_learn(COUNTS, P, 1.5, 1.0), ValueError, "discount"),
    ("discount", "fit_iq_learn γ<0", lambda: fit_iq_learn(COUNTS, P, -0.1, 1.0), ValueError, "discount"),
    ("discount", "fit_iq_learn γ=nan", lambda: fit_iq_learn(COUNTS, P, float("nan"), 1.0), ValueError, "discount"),
    ("discount", "fit_iq_learn γ array", lambda: fit_iq_learn(COUNTS, P, np.array([0.9, 0.9]), 1.0), ValueError,
     "discount"),
    ("discount", "solve_soft_bellman γ=1", lambda: solve_soft_bellman(R, P, 1.0, 1.0), ValueError, "gamma"),
    ("discount", "solve_soft_bellman γ=1 jnp", lambda: solve_soft_bellman(R, P, jnp.asarray(1.0), 1.0), ValueError,
     "gamma"),
    ("discount", "soft_policy_evaluation γ=1", lambda: soft_policy_evaluation(np.full((S, A), .5), R, P, 1.0, 0.0),
     ValueError, "gamma"),
    ("discount", "occupancy γ=1", lambda: occupancy(np.full((S, A), .5), P, P0, 1.0), ValueError, "gamma"),
    ("discount", "fit_structural_mle γ=1", lambda: fit_structural_mle(COUNTS, P, FEATS, 1.0), ValueError, "discount"),
    ("discount", "fit_iq_learn_anchored γ=1", lambda: fit_iq_learn_anchored(COUNTS, P, 1.0, 1.0, 0), ValueError,
     "discount"),
    ("discount", "anchor_normalise γ=1", lambda: anchor_normalise(LOGPI, P, 1.0, 1.0, 0), ValueError, "discount"),
    ("discount", "TabularMDP γ=1", lambda: TabularMDP(P, R, P0, 1.0), ValueError, "discount"),
    ("discount", "IQLTabularConfig γ=1", lambda: IQLTabularConfig(discount=1.0), ValueError, "discount"),
    # --- entropy temperature α ≤ 0 (or not finite) -----------------------------------------
    ("temperature", "fit_iq_learn α=0", lambda: fit_iq_learn(COUNTS, P, 0.9, 0.0), ValueError, "entropy_temperature"),
    ("temperature", "fit_iq_learn α<0", lambda: fit_iq_learn(COUNTS, P, 0.9, -1.0), ValueError, "entropy_temperature"),
    ("temperature", "fit_iq_learn α=inf", lambda: fit_iq_learn(COUNTS, P, 0.9, np.inf), ValueError,
     "entropy_temperature"),
    ("temperature", "solve_soft_bellman α=0", lambda: solve_soft_bellman(R, P, 0.9, 0.0), ValueError, "alpha"),
    ("temperature", "fit_structural_mle α=0", lambda: fit_structural_mle(COUNTS, P, FEATS, 0.9, 0.0), ValueError,
     "entropy_temperature"),
    ("temperature", "fit_iq_learn_anchored α<0", lambda: fit_iq_learn_anchored(COUNTS, P, 0.9, -1.0, 0), ValueError,
     "entropy_temperature"),
    ("temperature", "anchor_normalise_q α=0", lambda: anchor_normalise_q(R, P, 0.9, 0.0, 0), ValueError, "alpha"),
    ("temperature", "TabularMDP α=0", lambda: TabularMDP(P, R, P0, 0.9, 0.0), ValueError, "entropy_temperature"),
    # --- transitions P that are not stochastic ---------------------------------------------
    ("transitions", "fit_iq_learn row sums 0.9", lambda: fit_iq_learn(COUNTS, P_BAD, 0.9, 1.0), ValueError,
     r"P\[1, 0, :\]"),
    ("transitions", "fit_iq_learn negative P", lambda: fit_iq_learn(COUNTS, P_NEG, 0.9, 1.0), ValueError, "P"),
    ("transitions", "solve_soft_bellman row sums 0.9", lambda: solve_soft_bellman(R, P_BAD, 0.9, 1.0), ValueError,
     r"P\[1, 0, :\]"),
    ("transitions", "fit_structural_mle row sums 0.9", lambda: fit_structural_mle(COUNTS, P_BAD, FEATS, 0.9),
     ValueError, r"P\[1, 0, :\]"),
    ("transitions", "anchor_normalise row sums 0.9", lambda: anchor_normalise(LOGPI, P_BAD, 0.9, 1.0, 0), ValueError,
     r"P\[1, 0, :\]"),
    ("transitions", "sample_trajectories row sums 0.9",
     lambda: sample_trajectories(None, P_BAD, P0, np.full((S, A), .5), 1, 2), ValueError, r"P\[1, 0, :\]"),
    ("transitions", "solve_soft_bellman P not (S, A, S)", lambda: solve_soft_bellman(R, P[:, :, :2], 0.9, 1.0),
     ValueError, "P must have shape"),
    # --- indices: integers in range, never truncated floats --------------------------------
    ("index", "state_action_counts float obs",
     lambda: state_action_counts(np.array([0.0, 1.7]), np.array([0, 1]), S, A), ValueError, "obs"),
    ("index", "state_action_counts action out of range",
     lambda: state_action_counts(np.array([0, 1]), np.array([0, 2]), S, A), ValueError, "action"),
    ("index", "state_action_counts bool action",
     lambda: state_action_counts(np.array([0, 1]), np.array([True, False]), S, A), ValueError, "action"),
    ("index", "state_action_counts n_states float",
     lambda: state_action_counts(np.array([0, 1]), np.array([0, 1]), 3.0, A), ValueError, "n_states"),
    ("index", "check_dataset float obs", lambda: check_dataset(tab_dataset(obs=np.array([0.0, 1.5, 2.0])), S, A),
     ValueError, "obs"),
    ("index", "check_dataset next_obs out of range",
     lambda: check_dataset(tab_dataset(next_obs=np.array([1, 2, 3])), S, A), ValueError, "next_obs"),
    ("index", "fit_iql_tabular negative action",
     lambda: fit_iql_tabular(tab_dataset(action=np.array([0, -1, 0])), S, A), ValueError, "action"),
    ("index", "anchor_action float", lambda: anchor_normalise(LOGPI, P, 0.9, 1.0, 0.0), ValueError, "anchor_action"),
    ("index", "anchor_action out of range", lambda: anchor_normalise(LOGPI, P, 0.9, 1.0, 2), ValueError,
     "anchor_action"),
    ("index", "state_index float row", lambda: state_index(1.5, 0, 4), ValueError, "row"),
    ("index", "make_gridworld float start", lambda: make_gridworld(3, start=2.0), ValueError, "start"),
    ("index", "maze targets float", lambda: distances_to(_maze(), np.array([1.5])), ValueError, "targets"),
    ("index", "maze targets negative", lambda: distances_to(_maze(), [-1]), ValueError, "targets"),
    ("index", "maze starts float",
     lambda: generate_episodes(np.random.default_rng(0), _maze(), [0.5], [2], 1, 3, 0.1), ValueError, "starts"),
    ("index", "episodes_from_transitions k float",
     lambda: episodes_from_transitions({"episode_id": np.array([0, 0, 1])}, 1.0), ValueError, "k must"),
    # --- probability levels τ, whatever their type -----------------------------------------
    ("tau", "expectile τ=1", lambda: expectile(np.arange(3.0), 1.0), ValueError, "tau"),
    ("tau", "expectile τ np array with 0", lambda: expectile(np.arange(3.0), np.array([0.0])), ValueError, "tau"),
    ("tau", "expectile τ np 0-d 1.0", lambda: expectile(np.arange(3.0), np.array(1.0)), ValueError, "tau"),
    ("tau", "expectile τ jnp 0.0", lambda: expectile(np.arange(3.0), jnp.asarray(0.0)), ValueError, "tau"),
    ("tau", "expectile τ nan", lambda: expectile(np.arange(3.0), float("nan")), ValueError, "tau"),
    ("tau", "expectile_loss τ=2", lambda: expectile_loss(jnp.arange(3.0) - 1, 2.0), ValueError, "tau"),
    ("tau", "expectile_loss τ np 2.0", lambda: expectile_loss(jnp.arange(3.0) - 1, np.array(2.0)), ValueError, "tau"),
    ("tau", "expectile_loss τ jnp array with -0.1",
     lambda: expectile_loss(jnp.arange(3.0) - 1, jnp.array([0.5, -0.1, 0.5])), ValueError, "tau"),
    ("tau", "expectile_loss τ nan", lambda: expectile_loss(jnp.arange(3.0), float("nan")), ValueError, "tau"),
    ("tau", "IQLTabularConfig expectile=1", lambda: IQLTabularConfig(expectile=1.0), ValueError, "expectile"),
    # --- samples: non-empty and finite -------------------------------------------------------
    ("sample", "expectile empty x", lambda: expectile(np.zeros((2, 0)), 0.7), ValueError, "x"),
    ("sample", "expectile x with nan", lambda: expectile(np.array([0.0, np.nan]), 0.7), ValueError, "x must be finite"),
    ("sample", "expectile weights nan", lambda: expectile(np.arange(2.0), 0.7, np.array([1.0, np.nan])), ValueError,
     "weights"),
    ("sample", "expectile weights negative", lambda: expectile(np.arange(2.0), 0.7, np.array([1.0, -1.0])),
     ValueError, "weights"),
    ("sample", "fit_iq_learn counts nan", lambda: fit_iq_learn(np.where(COUNTS > 2, np.nan, COUNTS), P, 0.9, 1.0),
     ValueError, "counts"),
    ("sample", "fit_iq_learn counts all zero", lambda: fit_iq_learn(np.zeros((S, A)), P, 0.9, 1.0), ValueError,
     "counts"),
    ("sample", "fit_iq_learn init nan", lambda: fit_iq_learn(COUNTS, P, 0.9, 1.0, init=np.full((S, A), np.nan)),
     ValueError, "init"),
    ("sample", "fit_iq_learn p0 not a distribution",
     lambda: fit_iq_learn(COUNTS, P, 0.9, 1.0, IQLearnConfig(init_term="p0"), p0=np.ones(S)), ValueError, "p0"),
    ("sample", "fit_structural_mle features nan",
     lambda: fit_structural_mle(COUNTS, P, np.full((S, A, 2), np.nan), 0.9), ValueError, "features"),
    ("sample", "solve_soft_bellman r inf", lambda: solve_soft_bellman(np.full((S, A), np.inf), P, 0.9, 1.0),
     ValueError, "r "),
    ("sample", "sample_trajectories r nan",
     lambda: sample_trajectories(None, P, P0, np.full((S, A), .5), 1, 2, r=np.full((S, A), np.nan)), ValueError,
     "r has"),
    # --- datasets of transitions (D4RL layout and tabular dicts) ----------------------------
    ("dataset", "negative discrete action", lambda: validate_arrays(d4rl(actions=np.array([0, -1, 1, 0]))),
     ValueError, "actions"),
    ("dataset", "action >= n_actions", lambda: to_transitions(d4rl(actions=np.array([0, 1, 2, 0])), n_actions=2),
     ValueError, r"actions must lie in \[0, 2\)"),
    ("dataset", "int64 action wraps in int32", lambda: to_transitions(d4rl(actions=np.array([0, 1, 2**40, 0]))),
     ValueError, "int32"),
    ("dataset", "continuous action 1.5",
     lambda: to_transitions(d4rl(actions=np.array([[0.0], [1.5], [0.0], [0.0]], np.float32))), ValueError,
     r"actions must lie in \[-1, 1\]"),
    ("dataset", "continuous action -inf",
     lambda: to_transitions(d4rl(actions=np.array([[0.0], [-np.inf], [0.0], [0.0]], np.float32))), ValueError,
     "actions"),
    ("dataset", "bool actions", lambda: validate_arrays(d4rl(actions=np.ones((4, 1), bool))), ValueError, "actions"),
    ("dataset", "terminal and timeout on one step",
     lambda: to_transitions(d4rl(timeouts=np.array([0, 0, 0, 1], bool))), ValueError, "terminals and timeouts"),
    ("dataset", "terminals not 0/1", lambda: validate_arrays(d4rl(terminals=np.array([0, 2, 0, 1]))), ValueError,
     "terminals"),
    ("dataset", "reward nan", lambda: validate_arrays(d4rl(rewards=np.array([0, np.nan, 0, 0]))), ValueError,
     "rewards"),
    ("dataset", "dataset name in message", lambda: validate_arrays(d4rl(rewards=np.ones(3)), "hopper-x.npz"),
     ValueError, r"hopper-x\.npz: rewards"),
    ("dataset", "tabular terminal and timeout",
     lambda: check_dataset(tab_dataset(timeout=np.array([False, False, True])), S, A), ValueError, "timeout"),
    # neural configs refuse inf / nan in any float field, naming it
    ("config", "IQL awr_temperature inf", lambda: IQLConfig(awr_temperature=np.inf), ValueError,
     "IQLConfig: awr_temperature must be finite"),
    ("config", "IQL value_lr nan", lambda: IQLConfig(value_lr=np.nan), ValueError, "value_lr"),
    ("config", "BC actor_lr inf", lambda: BCConfig(actor_lr=np.inf), ValueError, "BCConfig: actor_lr"),
    ("config", "offline IQ-Learn chi2_weight inf", lambda: IQLearnOfflineConfig(chi2_weight=np.inf), ValueError,
     "chi2_weight"),
    ("config", "online IQ-Learn entropy_temperature inf", lambda: IQLearnOnlineConfig(entropy_temperature=np.inf),
     ValueError, "IQLearnOnlineConfig: entropy_temperature"),
    ("config", "SAC actor_lr nan", lambda: SACConfig(actor_lr=np.nan), ValueError, "SACConfig: actor_lr"),
    ("config", "DQN critic_lr inf", lambda: DQNConfig(critic_lr=np.inf), ValueError, "DQNConfig: critic_lr"),
    ("config", "LfO consistency_weight inf", lambda: IQLearnLfOConfig(consistency_weight=np.inf), ValueError,
     "consistency_weight"),
]


@pytest.mark.parametrize("kind, call, exc, match", [c[:1] + c[2:] for c in CASES], ids=[c[1] for c in CASES])
def test_bad_input_is_refused_with_a_named_error(kind, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_enough_cases_of_every_kind():
    counts = Counter(c[0] for c in CASES)
    assert sum(counts.values()) >= 40, counts
    assert all(n >= 4 for n in counts.values()), counts


# --- files: broken sidecars and npz, every error names the file ------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "toy.npz"
    save_dataset(path, d4rl(), {"env": "toy"})
    return path


def test_sidecar_without_sha256_names_the_file(saved):
    side = files.provenance_path(saved)
    record = json.loads(side.read_text())
    del record["sha256"]
    side.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"toy\.provenance\.json.*sha256"):
        load_dataset(saved)


def test_sidecar_invalid_json_names_the_file(saved):
    files.provenance_path(saved).write_text("{not json")
    with pytest.raises(ValueError, match=r"toy\.provenance\.json.*not valid JSON"):
        load_dataset(saved)


def test_sidecar_not_an_object_names_the_file(saved):
    files.provenance_path(saved).write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"toy\.provenance\.json.*JSON object"):
        files.load_npz_verified(saved)


def test_corrupt_npz_with_matching_digest_names_the_file(saved):
    saved.write_bytes(b"not a zip file")
    side = files.provenance_path(saved)
    side.write_text(json.dumps({**json.loads(side.read_text()), "sha256": files.sha256_file(saved)}))
    with pytest.raises(ValueError, match=r"toy\.npz"):
        load_dataset(saved)


def test_checksum_mismatch_and_missing_files_name_the_file(saved, tmp_path):
    with open(saved, "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match=r"sha256 mismatch for .*toy\.npz"):
        load_dataset(saved)
    with pytest.raises(FileNotFoundError, match=r"nothere\.npz"):
        load_dataset(tmp_path / "nothere.npz")
    with pytest.raises(FileNotFoundError, match=r"nothere\.json"):
        files.read_json(tmp_path / "nothere.json")


def test_saved_dataset_with_out_of_range_action_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / "bad.npz")) + ".*actions"):
        save_dataset(tmp_path / "bad.npz", d4rl(actions=np.array([0, 1, 5, 0])), {}, n_actions=2)


# --- outputs are mode 0644 whatever the umask ------------------------------------------------

def test_written_files_are_0644_under_a_strict_umask(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old = os.umask(0o077)
    try:
        written = [files.write_json_atomic(tmp_path / "r.json", {"a": 1}),
                   files.save_metrics(tmp_path, {"x": 1.0})]
        fig = plt.figure()
        written.append(files.save_figure(fig, tmp_path / "f.png"))
        plt.close(fig)
        save_dataset(tmp_path / "d.npz", d4rl(), {})
        written += [tmp_path / "d.npz", files.provenance_path(tmp_path / "d.npz")]
    finally:
        os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in written}
    assert set(modes.values()) == {oct(0o644)}, modes


# --- nothing silent: a solver stopped early says so --------------------------------------------

EARLY_STOPS = {  # solver stopped after one step -> (result, its converged flag, its residual / gradient, tol)
    "solve_soft_bellman": lambda: (lambda r: (r.converged, r.residual, 1e-8))(
        solve_soft_bellman(R, P, 0.99, 0.1, method="iteration", tol=1e-8, max_iter=1)),
    "fit_iq_learn": lambda: (lambda r: (r.converged, r.grad_norm, 1e-12))(
        fit_iq_learn(COUNTS, P, 0.9, 1.0, IQLearnConfig(max_iter=1, tol=1e-12))),
    "fit_iq_learn_anchored": lambda: (lambda r: (r.converged, r.grad_norm, 1e-12))(
        fit_iq_learn_anchored(COUNTS, P, 0.9, 1.0, 0, config=IQLearnConfig(max_iter=1, tol=1e-12))),
    "fit_structural_mle": lambda: (lambda r: (r.converged, r.grad_norm, 1e-12))(
        fit_structural_mle(COUNTS, P, FEATS, 0.9, 1.0, max_iter=1, tol=1e-12)),
    "fit_iql_tabular": lambda: (lambda r: (r.converged, r.residual, 1e-9))(
        fit_iql_tabular(tab_dataset(terminal=np.zeros(3, bool), reward=np.array([1.0, 2.0, 3.0])), S, A,
                        IQLTabularConfig(max_iter=1, tol=1e-9))),
}


@pytest.mark.parametrize("solver", list(EARLY_STOPS))
def test_solvers_stopped_early_report_not_converged(solver):
    """max_iter = 1 cannot reach the tolerance: the solver must say converged = False, and the
    residual / gradient norm it reports must exceed the tolerance it was given."""
    converged, residual, tol = EARLY_STOPS[solver]()
    assert not bool(converged) and float(residual) > tol


def test_converged_solutions_meet_their_tolerance():
    sol = solve_soft_bellman(R, P, 0.9, 1.0, tol=1e-5)
    assert bool(sol.converged) and float(sol.residual) <= 1e-5 * (1 + float(jnp.max(jnp.abs(sol.V))))
    assert np.all(np.isfinite(np.asarray(sol.V)))
