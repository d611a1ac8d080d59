"""Write the README's full-run tables from the recorded runs in ``results/``.

    .venv/bin/python scripts/readme_tables.py            # rewrite the tables in README.md
    .venv/bin/python scripts/readme_tables.py --check    # exit 1 and name the stale tables

README.md holds each table between ``<!-- table:09 -->`` and ``<!-- /table:09 -->``; the text
between them is replaced by the table rendered from that notebook's records
(``iqlib.notebook.records``), nothing else. Each record is matched to the ``sweeps/full.yaml``
entry that makes it (notebook, run name, the entry's parameters); each entry gets its table, or,
without a record, a line naming the sweep command. A few other sweep files get a table of their
own (``ABLATIONS``), and ``<!-- table:09all -->`` is notebook 09's one table of every dataset
(``iqlib.notebook.iql_records``). Every table names its source: the record folder, the commit (7
characters, ``+dirty`` if tracked files differed), the wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import sys
from typing import Any, Callable, NamedTuple

from iqlib.notebook.grid import Run, load_sweep
from iqlib.notebook.lfo_records import action_model_label, terminal_label
from iqlib.data.files import write_text_atomic
from iqlib.notebook.records import load_record, record_dirs

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "results"
SWEEP = ROOT / "sweeps" / "full.yaml"


class MarkerError(ValueError):
    """README.md lacks a table's marker pair, or holds it more than once or out of order."""


class Rec(NamedTuple):
    """One record: its folder, its three JSON files, and the sweep entry that made it."""

    folder: pathlib.Path
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    entry: str | None
    order: int


def num(value: Any, digits: int = 1) -> str:
    """``-1.23 -> '−1.2'``; None or NaN -> ``—``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}".replace("-", "−")


def pm(metrics: dict[str, Any], prefix: str) -> str:
    """``'<mean> ± <std>'`` of ``<prefix>_mean`` and ``<prefix>_std``."""
    return f"{num(metrics[prefix + '_mean'])} ± {num(metrics[prefix + '_std'])}"


def commit(rec: Rec) -> str:
    """The record's commit, 7 characters, ``+dirty`` if tracked files differed from it."""
    git = rec.provenance["git"]
    return f"{git['commit'][:7]}{'+dirty' if git.get('dirty') else ''}"


def minutes(rec: Rec) -> str:
    return f"{rec.provenance['wall_time_s'] / 60:.1f} min"


def source(rec: Rec) -> str:
    """The line under a one-record table: where its numbers come from."""
    machine = rec.provenance.get("machine", {})
    return (f"Source: `results/{rec.folder.parent.name}/{rec.folder.name}/`, commit `{commit(rec)}`, "
            f"{minutes(rec)} wall ({machine.get('device_kind', '?')}, {machine.get('cpu_count', '?')} "
            f"cores), {rec.provenance['date'][:10]}.")


def headline(rec: Rec) -> list[str]:
    """The record's headline claim (notebooks that write claims), else nothing."""
    m = rec.metrics
    if "headline_claim" not in m:
        return []
    return [f"Headline claim: {m['headline_claim']} — {num(m.get('headline_value'), 2)} "
            f"(target {m.get('headline_target')}: {m.get('headline_verdict')})."]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(row) + " |" for row in rows]


def per_record(rows_of: Callable[[dict, dict], tuple[str, list[str], list[list[str]]]]
               ) -> Callable[[list[Rec]], list[str]]:
    """A renderer that gives each record its caption, table, source line and headline claim."""
    def render_records(recs: list[Rec]) -> list[str]:
        out: list[str] = []
        for rec in recs:
            try:
                caption, header, rows = rows_of(rec.parameters, rec.metrics)
            except KeyError as err:
                raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics or parameters") from None
            out += [caption, ""] + table(header, rows) + ["", source(rec)] + headline(rec) + [""]
        return out
    return render_records


@per_record
def render_05(p: dict, m: dict) -> tuple[str, list[str], list[list[str]]]:
    """Offline neural IQ-Learn vs BC: per env and number of demos, greedy return of the last policy."""
    rows = [[env, str(n), pm(m, f"{env}_iq_{n}_return"), pm(m, f"{env}_bc_{n}_return"),
             f"{num(m[f'{env}_iq_{n}_normalized_score'])} / {num(m[f'{env}_bc_{n}_normalized_score'])}",
             num(m[f"{env}_expert_return"])] for env in p["env_ids"] for n in p["n_demos"]]
    return (f"Greedy return of the final policy, mean ± std over {p['n_seeds']} seeds ({p['train_steps']} "
            f"updates, {p['eval_episodes']} evaluation episodes, loss `{p['loss']}`, α = "
            f"{p['entropy_temperature']:g}); score = 100 (mean return − random) / (expert − random):",
            ["env", "demos", "IQ-Learn", "BC", "score IQ-Learn / BC", "expert"], rows)


@per_record
def render_06(p: dict, m: dict) -> tuple[str, list[str], list[list[str]]]:
    """Online IQ-Learn (and the SAC reference), then learning from observations."""
    env, steps, k = p["env_id"], p["total_steps"], p["n_demos"]
    rows = [[env, f"IQ-Learn, {k} demo{'s' * (k != 1)}", p["init_term"], f"{p['n_seeds']} × {steps}",
             pm(m, f"{env}_iq_return"), pm(m, f"{env}_iq_best_return"), num(m[f"{env}_expert_return"]), "—"]]
    if f"{env}_sac_return_last" in m:
        rows.append([env, "SAC with the true reward", "—", f"1 × {steps}", num(m[f"{env}_sac_return_last"]),
                     num(m[f"{env}_sac_return_best"]), "—", "—"])
    for lfo_env in p["lfo_env_ids"]:
        for n in p["lfo_demos"]:
            pre = f"{lfo_env}_lfo_{n}"
            rows.append([lfo_env, f"LfO, {n} demo{'s' * (n != 1)}", "value", f"{p['lfo_seeds']} × {p['lfo_steps']}",
                         pm(m, f"{pre}_return"), num(m[f"{pre}_best_return_mean"]),
                         num(m[f"{pre}_expert_return"]), num(m[f"{pre}_paper_return"], 0)])
    return ("Deterministic return, last and best evaluation, mean ± std over seeds; initial term = IQ-Learn's "
            "initial-state term (`init_term`: value = E over the batch of V(s) − γV(s'), v0 = (1 − γ) E[V(s₀)]); "
            "expert = the demonstrations' mean return; paper = IQ-Learn's Table 8:",
            ["env", "method", "initial term", "seeds × env steps", "last", "best", "expert", "paper"], rows)


@per_record
def render_10(p: dict, m: dict) -> tuple[str, list[str], list[list[str]]]:
    """IQL offline, fine-tuned online, and online from scratch: normalised score."""
    d = p["dataset"]
    rows = [[d, str(p["n_seeds"]), str(p["offline_steps"]), str(p["online_steps"]), pm(m, f"{d}_offline_score"),
             pm(m, f"{d}_finetuned_score"), pm(m, f"{d}_scratch_score")]]
    return ("Normalised score, mean ± std over seeds: after offline pre-training, after the online steps "
            "(fine-tuned), and online from scratch for the same steps:",
            ["dataset", "seeds", "offline updates", "online steps", "offline", "fine-tuned", "from scratch"], rows)


def render_09(recs: list[Rec]) -> list[str]:
    """Neural IQL vs BC vs top-fraction BC: one row per dataset record."""
    from iqlib.notebook.iql_records import SETTINGS, run_config  # heavy (jax), as render_09_all

    def settings(p, name):  # τ / β / ρ the run trained with
        cfg = run_config(p, name)
        return " / ".join(f"{getattr(cfg, k):g}" for k in SETTINGS)

    rows = []
    for rec in recs:
        p, m = rec.parameters, rec.metrics
        try:
            scores = [pm(m, f"{name}_{method}_score") for name in p["datasets"] for method in ("iql", "bc", "pctbc")]
        except KeyError as err:
            raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics or parameters") from None
        for i, name in enumerate(p["datasets"]):
            rows.append([name] + scores[3 * i: 3 * i + 3] + [
                str(p["n_seeds"]), str(p["train_steps"]), settings(p, name), str(p["hidden"]),
                minutes(rec), f"`{rec.folder.name}`", f"`{commit(rec)}`"])
    fractions = sorted({f"{round(100 * rec.parameters['top_fraction'])} %BC" for rec in recs})
    return ["Normalised score after the last update, mean ± std over seeds; τ = the expectile, β = the AWR "
            "temperature, ρ = the target critics' Polyak rate; wall time of the whole run (all three methods):",
            ""] + table(
        ["dataset", "IQL", "BC", " / ".join(fractions), "seeds", "updates", "τ / β / ρ", "hidden", "wall",
         f"record (`results/{recs[0].folder.parent.name}/`)", "commit"], rows) + [""]


def render_09_all(results_dir: pathlib.Path) -> str:
    """Notebook 09's one table of every dataset: each record at ≥ 5 seeds at its domain's τ and β."""
    from iqlib.notebook.iql_records import ORDER, dataset_rows  # heavy (jax): only this table needs it

    rows, found = [], dataset_rows(results_dir, min_seeds=5)
    for row in found:
        rec = Rec(row.folder, *row.record, None, 0)
        name, p, m = row.dataset, rec.parameters, rec.metrics
        try:
            rows.append([name] + [pm(m, f"{name}_{method}_score") for method in ("iql", "bc", "pctbc")] + [
                str(p["n_seeds"]), str(p["train_steps"]), f"{row.expectile:g} / {row.awr_temperature:g} / "
                f"{row.target_rate:g}", str(p["hidden"]), minutes(rec), f"`{rec.folder.name}`", f"`{commit(rec)}`"])
        except KeyError as err:
            raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics") from None
    missing = [name for name in ORDER if name not in {row.dataset for row in found}]
    rows += [[name, "no record at ≥ 5 seeds"] + [""] * 9 for name in missing]
    return "\n".join(["Every dataset with a record at ≥ 5 seeds at its domain's τ and β (a change of the target "
                      "rate ρ is its own row): normalised score after the last update, mean ± std over seeds; "
                      "updates per seed; wall time of the whole record (all three methods):", ""] + table(
        ["dataset", "IQL", "BC", "10 %BC", "seeds", "updates per seed", "τ / β / ρ", "hidden", "wall",
         "record (`results/09_iql_offline/`)", "commit"], rows))


def render_05_ablation(recs: list[Rec]) -> list[str]:
    """IQ-Learn from one CartPole demonstration, one change per record: one compact table."""
    rows = []
    for rec in recs:
        m, pre = rec.metrics, "CartPole-v1_{}_1_"
        try:
            rows.append([f"`{rec.folder.name}`", pm(m, pre.format("iq") + "return"),
                         num(m[pre.format("iq") + "normalized_score"]), pm(m, pre.format("bc") + "return"),
                         num(m[pre.format("iq") + "best_return_mean"]),
                         f"{num(m[pre.format('iq') + 'disagree_train'], 3)} / {num(m[pre.format('iq') + 'disagree_visited'], 3)}",
                         minutes(rec), f"`{commit(rec)}`"])
        except KeyError as err:
            raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics") from None
    p = recs[0].parameters
    return [f"Greedy return of the final policy, mean ± std over {p['n_seeds']} seeds ({p['eval_episodes']} "
            "evaluation episodes), one change per row against the base `loss=value_expert` (χ² on expert rows, "
            "α = 1, 5,000 updates, no gradient penalty); best = the best per-chunk evaluation (optimistic); "
            "disagreement with the expert's action on the demonstrated / the visited states:", ""] + table(
        ["record (`results/05_neural_iq_learn_offline/`)", "IQ-Learn", "% of expert", "BC", "best",
         "disagree demo / visited", "wall", "commit"], rows) + [""]


def render_09_lunarlander(recs: list[Rec]) -> list[str]:
    """Discrete IQL on lunarlander-mixed, one change of τ or β per record: one compact table."""
    from iqlib.notebook.iql_records import run_config  # heavy (jax): only this table needs the discrete defaults

    rows, name = [], "lunarlander-mixed"
    for rec in recs:
        p, m = rec.parameters, rec.metrics
        cfg = run_config(p, name)
        try:
            rows.append([f"`{rec.folder.name}`", f"{cfg.expectile:g}", f"{cfg.awr_temperature:g}"]
                        + [pm(m, f"{name}_{method}_score") for method in ("iql", "bc", "pctbc")]
                        + [num(m[f"{name}_iql_final_clipped_fraction"], 3), num(m[f"{name}_iql_final_critic_loss"], 2),
                           minutes(rec), f"`{commit(rec)}`"])
        except KeyError as err:
            raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics") from None
    p = recs[0].parameters
    return [f"Normalised score after the last update, mean ± std over {p['n_seeds']} seeds ({p['train_steps']} "
            f"updates, {p['hidden']}-unit layers, {p['eval_episodes']} evaluation episodes), one change of τ or β "
            "per row against τ 0.7, β 3; at clip = the share of AWR weights at the clip (100) and TD loss = the "
            "critics' loss, both over the last tenth of the run:", ""] + table(
        ["record (`results/09_iql_offline/`)", "τ", "β", "IQL", "BC", "10 %BC", "at clip", "TD loss", "wall",
         "commit"], rows) + [""]


def render_09_maze(recs: list[Rec]) -> list[str]:
    """Neural IQL on the two maze sets and three expectiles: one compact table."""
    rows = []
    for rec in recs:
        p, m = rec.parameters, rec.metrics
        name = p["datasets"][0]
        try:
            rows.append([f"`{rec.folder.name}`", f"`{name}`", f"{p['expectile']:g}"]
                        + [pm(m, f"{name}_{method}_score") for method in ("iql", "bc", "pctbc")]
                        + [num(m[f"{name}_iql_value_distance_spearman"], 2), minutes(rec), f"`{commit(rec)}`"])
        except KeyError as err:
            raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics") from None
    p = recs[0].parameters
    return [f"Normalised score after the last update, mean ± std over {p['n_seeds']} seeds ({p['train_steps']} "
            f"updates, {p['hidden']}-unit layers, {p['eval_episodes']} evaluation episodes, β 10); V ~ −distance = "
            "the Spearman correlation of IQL's V with minus the shortest-path distance to the goal over the maze's "
            "free cells (seed mean):", ""] + table(
        ["record (`results/09_iql_offline/`)", "data", "τ", "IQL", "BC", "10 %BC", "V ~ −distance", "wall",
         "commit"], rows) + [""]


def render_06_lfo(recs: list[Rec]) -> list[str]:
    """Learning from observations on other environments: the LfO rows of each record."""
    rows = []
    for rec in recs:
        p, m = rec.parameters, rec.metrics
        for lfo_env in p["lfo_env_ids"]:
            for n in p["lfo_demos"]:
                pre = f"{lfo_env}_lfo_{n}"
                try:
                    rows.append([lfo_env, action_model_label(p), terminal_label(p), f"{n}",
                                 f"{p['lfo_seeds']} × {p['lfo_steps']}", pm(m, f"{pre}_return"),
                                 num(m[f"{pre}_best_return_mean"]), num(m[f"{pre}_stochastic_return_mean"]),
                                 num(m[f"{pre}_expert_return"]), num(m[f"{pre}_paper_return"], 0),
                                 num(m[f"{pre}_final_aux_loss"], 2), num(m.get(f"{pre}_final_episode_length"), 0),
                                 num(m.get(f"{pre}_final_terminated_fraction"), 2),
                                 num(m.get(f"{pre}_demo_action_agreement"), 2),
                                 num(m.get(f"{pre}_demo_model_action_id"), 2), minutes(rec), f"`{commit(rec)}`"])
                except KeyError as err:
                    raise KeyError(f"{rec.folder}: no {err.args[0]!r} in its metrics") from None
    return ["IQ-Learn from observations only, greedy return at the last evaluation, mean ± std over seeds; best = "
            "the best evaluation (seed mean), sampled = the softmax policy's last return; expert = the "
            "demonstrations' mean return; paper = IQ-Learn's Table 8; aux loss = the action model's loss over the "
            "last tenth of the updates (dynamics: squared error of ŝ'(s, a) in Δs-std units, summed over the state; "
            "regression: squared error of the action-value network against Q(s, s')); terminal = what a terminal row "
            "bootstraps from (`lfo_absorbing`: value = the fixed V_abs = −1/(2λ(1 − γ)), ours; mask = 0, the paper's; "
            "learned = a learned absorbing state's value); length and ended = the learner's "
            "own training episodes over the last tenth of the steps: mean length, fraction ended by a terminal rather "
            "than the time limit; agree = the fraction of the demonstrations' states where the greedy action is the "
            "expert's own (held out from training; chance 1/A); model id = the fraction of the demonstrations' "
            "transitions whose real s' is nearest the model's ŝ'(s, a) at the expert's action (the model alone "
            "naming it; chance 1/A) (— where the record predates these); wall = the whole "
            "record:",
            ""] + table(["env", "action model", "terminal", "demos", "seeds × env steps", "last", "best", "sampled", "expert",
                         "paper", "aux loss", "length", "ended", "agree", "model id", "wall", "commit"], rows) + [""]


#: The rendered notebooks: prefix -> renderer of one sweep entry's records.
RENDERERS: dict[str, Callable[[list[Rec]], list[str]]] = {
    "05": render_05, "06": render_06, "09": render_09, "10": render_10}

#: Tables of one other sweep file's records: marker -> (notebook prefix, sweep file, renderer of all its records).
ABLATIONS: dict[str, tuple[str, pathlib.Path, Callable[[list[Rec]], list[str]]]] = {
    "05ablation": ("05", ROOT / "sweeps" / "cartpole-one-demo.yaml", render_05_ablation),
    "09lunarlander": ("09", ROOT / "sweeps" / "iql-lunarlander.yaml", render_09_lunarlander),
    "09maze": ("09", ROOT / "sweeps" / "iql-maze.yaml", render_09_maze),
    "06lfo": ("06", ROOT / "sweeps" / "iq-learn-lfo-lunarlander.yaml", render_06_lfo),
    "06mujoco": ("06", ROOT / "sweeps" / "iq-learn-mujoco-one-demo.yaml", render_06),
    "09sets": ("09", ROOT / "sweeps" / "iql-hopper-medium-expert.yaml", render_09)}

#: Tables drawn from every record of a notebook: marker -> renderer of the results folder.
SUMMARIES: dict[str, Callable[[pathlib.Path], str]] = {"09all": render_09_all}


def _entry_of(stem: str, name: str, parameters: dict[str, Any], runs: list[Run]) -> tuple[str | None, int]:
    """The sweep entry that makes this record (same folder, its parameters), and the run's index."""
    for i, run in enumerate(runs):
        if (run.stem, run.name) == (stem, name) and all(
                parameters.get(k) == v for k, v in run.parameters.items()):
            return run.sweep, i
    return None, len(runs)


def load(results_dir: pathlib.Path, notebook: str, runs: list[Run]) -> list[Rec]:
    """The notebook's complete records, in the sweep's order (unmatched ones last, by name)."""
    try:
        folders = record_dirs(results_dir, notebook)
    except FileNotFoundError:
        return []
    recs = []
    for folder in folders:
        record = load_record(folder)
        entry, order = _entry_of(folder.parent.name, folder.name, record.parameters, runs)
        recs.append(Rec(folder, *record, entry, order))
    return sorted(recs, key=lambda r: (r.order, r.folder.name))


def no_record(entry: str) -> str:
    return f"(no record yet: run `python -m iqlib.notebook.sweep sweeps/full.yaml --entry {entry}`)"


def title(entry: str, runs: list[Run]) -> str:
    """The heading of an entry's block: its name, its fixed overrides, its grid axes."""
    run = next(r for r in runs if r.sweep == entry)
    fixed = [f"`{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}`"
             for k, v in run.parameters.items() if k not in run.varying]
    words = ([f"overrides {', '.join(fixed)}"] if fixed else []) + (
        [f"one run per {', '.join(f'`{k}`' for k in run.varying)}"] if run.varying else [])
    return f"*`sweeps/full.yaml` entry `{entry}`*" + (f" ({'; '.join(words)}):" if words else ":")


def render(notebook: str, results_dir: pathlib.Path, runs: list[Run], also: list[Run] = ()) -> str:
    """The markdown between notebook's markers: one block per sweep entry (and unmatched records).

    Records that a run of ``also`` (another sweep file's, with its own table) makes are left out.
    """
    entries = list(dict.fromkeys(r.sweep for r in runs if r.stem.startswith(notebook)))
    recs = load(results_dir, notebook, [*runs, *also])
    blocks = []
    for entry in entries + [None]:
        group = [r for r in recs if r.entry == entry]
        if entry is None and not group:
            continue
        head = title(entry, runs) if entry else "*Records that no entry of `sweeps/full.yaml` makes:*"
        body = RENDERERS[notebook](group) if group else [no_record(entry), ""]
        blocks += [head, ""] + body
    if not entries and not recs:
        blocks = ["(no record yet, and no entry in `sweeps/full.yaml` for this notebook)", ""]
    return "\n".join(blocks).rstrip("\n")


def render_ablation(marker: str, results_dir: pathlib.Path) -> str:
    """The markdown between an ablation table's markers: every record its sweep file makes, one table."""
    notebook, sweep_file, renderer = ABLATIONS[marker]
    runs = load_sweep(sweep_file)
    recs = [r for r in load(results_dir, notebook, runs) if r.entry is not None]
    command = f"python -m iqlib.notebook.sweep sweeps/{sweep_file.name}"
    body = renderer(recs) if recs else [f"(no record yet: run `{command}`)", ""]
    return "\n".join([f"*`sweeps/{sweep_file.name}`* (`{command}`):", ""] + body).rstrip("\n")


def _span(text: str, notebook: str) -> tuple[int, int]:
    """Start and end of the text between notebook's markers; MarkerError names a bad marker."""
    open_, close = f"<!-- table:{notebook} -->", f"<!-- /table:{notebook} -->"
    for marker in (open_, close):
        count = text.count(marker)
        if count != 1:
            raise MarkerError(f"README.md must hold the marker {marker} exactly once, found {count}")
    start, end = text.index(open_) + len(open_), text.index(close)
    if end < start:
        raise MarkerError(f"README.md: the marker {close} comes before {open_}")
    return start, end


def update(text: str, results_dir: pathlib.Path = RESULTS, sweep: pathlib.Path = SWEEP
           ) -> tuple[str, list[str]]:
    """README text with every table rendered, and the notebooks whose tables changed."""
    unknown = sorted(set(re.findall(r"<!-- /?table:(\w+) -->", text)) - set(RENDERERS) - set(ABLATIONS)
                     - set(SUMMARIES))
    if unknown:
        raise MarkerError(f"README.md has markers for tables this script does not render: {unknown}")
    present = [m for m in [*ABLATIONS, *SUMMARIES] if f"<!-- table:{m} -->" in text]  # optional tables
    for notebook in [*RENDERERS, *present]:  # every marker pair is checked before any work
        _span(text, notebook)
    runs, changed = load_sweep(sweep), []
    for notebook in [*RENDERERS, *present]:
        start, end = _span(text, notebook)
        if notebook in SUMMARIES:
            new = "\n" + SUMMARIES[notebook](results_dir) + "\n"
        elif notebook in ABLATIONS:
            new = "\n" + render_ablation(notebook, results_dir) + "\n"
        else:
            also = [r for m, (nb, path, _) in ABLATIONS.items() if nb == notebook for r in load_sweep(path)]
            new = "\n" + render(notebook, results_dir, runs, also) + "\n"
        if text[start:end] != new:
            changed.append(notebook)
            text = text[:start] + new + text[end:]
    return text, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and name the tables that differ from results/")
    parser.add_argument("--readme", type=pathlib.Path, default=README)
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--sweep", type=pathlib.Path, default=SWEEP)
    args = parser.parse_args(argv)
    try:
        text, changed = update(args.readme.read_text(encoding="utf-8"), args.results, args.sweep)
    except MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        if changed:
            print(f"{args.readme}: tables out of date with {args.results}: {', '.join(changed)} "
                  "(run `make readme-tables`)", file=sys.stderr)
            return 1
        print(f"{args.readme}: every table matches {args.results}")
        return 0
    if changed:
        write_text_atomic(args.readme, text)
    print(f"{args.readme}: rewrote tables {', '.join(changed)}" if changed else
          f"{args.readme}: tables already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
