"""Publish the project's offline sets as Minari datasets and check every round trip bit for bit.

For each stored set of ``data/offline`` (``iqlib.data.registry.stored_names()``, or ``--names``):

1. write it into the local Minari root as ``iqlib/<env>/<kind>-v0`` (e.g. ``iqlib/hopper/medium-replay-v0``;
   :func:`iqlib.data.registry.publish_minari`): raw rewards, ``ref_min_score`` / ``ref_max_score`` = our
   reference returns, the evaluation env spec, a description naming the generating command and seed, and
   our provenance record (metadata ``iqlib_provenance``); an existing dataset of that id is replaced;
2. read it back through Minari (``minari.load_dataset``, :func:`iqlib.data.minari_io.read_minari`) and
   compare every array with the committed ``.npz`` (keys, dtypes, shapes, bytes: ours → Minari → ours);
3. check that Minari's own ``get_normalized_score`` maps the expert reference to 1.

The root is ``$MINARI_DATASETS_PATH``, else Minari's default ``~/.minari/datasets``; ``--root`` sets it.
The committed ``.npz`` files are only read. Exit status 1 if any round trip differs.

Usage: ``python scripts/publish_minari.py [--names cartpole-mixed ...] [--root DIR]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import minari
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iqlib.core.transitions import to_arrays  # noqa: E402
from iqlib.data.files import load_npz_verified  # noqa: E402
from iqlib.data.minari_io import diff_arrays, minari_root, read_minari  # noqa: E402
from iqlib.data.registry import dataset_path, publish_minari, stored_names  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", nargs="+", default=stored_names(), choices=stored_names(), metavar="NAME",
                        help="stored sets to publish (default: all)")
    parser.add_argument("--root", type=pathlib.Path, default=None,
                        help="the Minari root (sets MINARI_DATASETS_PATH; default: the variable, "
                             "else ~/.minari/datasets)")
    args = parser.parse_args(argv)
    if args.root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(args.root.resolve())
    print(f"Minari root: {minari_root()}")
    failed = []
    for name in args.names:
        t0 = time.perf_counter()
        mid = publish_minari(name)
        back, meta = read_minari(mid)
        diffs = diff_arrays(load_npz_verified(dataset_path(name)), to_arrays(back))
        expert = float(minari.get_normalized_score(minari.load_dataset(mid), np.float64(meta["ref_max_score"])))
        if expert != 1.0:
            diffs.append(f"get_normalized_score(ref_max_score) = {expert}, expected 1")
        verdict = "bit-identical" if not diffs else "DIFFERS: " + "; ".join(diffs)
        print(f"{name:26s} -> {mid:38s} {len(back.reward):7d} transitions, eval env {meta['eval_env_id']}, "
              f"{time.perf_counter() - t0:5.1f} s: {verdict}")
        if diffs:
            failed.append(name)
    if failed:
        print(f"round trip differs for {failed}", file=sys.stderr)
        return 1
    print(f"all {len(args.names)} round trips ours -> Minari -> ours are bit-identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
