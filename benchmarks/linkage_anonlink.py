"""anonlink on the encodings written by benchmarks/linkage.py; run by it inside the anonlink virtual environment.

    build/bench-anonlink-venv/bin/python benchmarks/linkage_anonlink.py WORKDIR --threshold 0.8

Reads WORKDIR/left.bin and WORKDIR/right.bin (the encodings, BYTES bytes each, back to back) and
WORKDIR/blocks.json (the blocking key of every record), and runs CSIRO Data61's anonlink the way its
documentation does: `find_candidate_pairs` with `dice_coefficient_accelerated` (its C++ kernel) at the threshold,
then `greedy_solve`, once without blocking (anonlink's usual use) and once with `blocking_f` giving each record
its key, so that it compares the same pairs as OpenNRM's matcher (`--runs` times). Only those two calls are
timed. Writes WORKDIR/anonlink.json: per mode the comparisons, the seconds of each step of each run, the
candidates and the matched pairs.

Plain Python 3.8+ on purpose (it runs in the anonlink environment, not the project's); nothing from opennrm.
"""

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path

import anonlink
from anonlink.candidate_generation import find_candidate_pairs
from anonlink.similarities import dice_coefficient_accelerated
from anonlink.solving import greedy_solve, pairs_from_groups
from bitarray import bitarray

BYTES = 128  # 1024-bit encodings


def load(path):
    data = path.read_bytes()
    filters = []
    for start in range(0, len(data), BYTES):
        bits = bitarray()
        bits.frombytes(data[start : start + BYTES])
        filters.append(bits)
    return filters


def run(left, right, blocks, threshold, mode, runs):
    if mode == "blocked":
        left_blocks, right_blocks = blocks["left"], blocks["right"]
        keys = (left_blocks, right_blocks)

        def blocking_f(dataset, record, _filter):
            return (keys[dataset][record],)

        in_left = Counter(left_blocks)
        comparisons = sum(in_left[key] * count for key, count in Counter(right_blocks).items())
    else:
        blocking_f = None
        comparisons = len(left) * len(right)
    candidate_seconds, solve_seconds = [], []
    for _ in range(runs):
        start = time.perf_counter()
        candidates = find_candidate_pairs(
            [left, right], dice_coefficient_accelerated, threshold, blocking_f=blocking_f
        )
        found = time.perf_counter()
        groups = greedy_solve(candidates)
        solved = time.perf_counter()
        candidate_seconds.append(found - start)
        solve_seconds.append(solved - found)
    return {
        "mode": mode,
        "comparisons": comparisons,
        "candidate_seconds": candidate_seconds,
        "solve_seconds": solve_seconds,
        "candidates": len(candidates[0]),
        "pairs": sorted(pairs_from_groups(groups)),
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--threshold", type=float, required=True)
    parser.add_argument("--modes", default="all,blocked", help="comma-separated: all, blocked")
    parser.add_argument("--runs", type=int, default=1, help="timed runs of the blocked mode (all: one)")
    args = parser.parse_args()
    left = load(args.workdir / "left.bin")
    right = load(args.workdir / "right.bin")
    blocks = json.loads((args.workdir / "blocks.json").read_text())
    runs = [
        run(left, right, blocks, args.threshold, mode, args.runs if mode == "blocked" else 1)
        for mode in args.modes.split(",")
    ]
    result = {"anonlink": anonlink.__version__, "python": platform.python_version(), "runs": runs}
    (args.workdir / "anonlink.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
