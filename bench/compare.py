#!/usr/bin/env python3
"""Runs Zenith and its peers interleaved (A B C .. A B C ..), one warm-up round and then
PAIRS rounds, and prints one RESULT line: the median of each side, and the median, min and max
of the per-round ratio zenith / best peer (> 1: Zenith is better, whichever way the unit runs).

usage: compare.py NAME UNIT higher|lower zenith='cmd' peer1='cmd' ...
Each command prints one number (the figure in UNIT) as its last line of output."""
import os
import statistics
import subprocess
import sys


def run(cmd):
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    lines = [l for l in out.stdout.strip().splitlines() if l.strip()]
    try:
        return float(lines[-1])
    except (IndexError, ValueError):
        sys.stderr.write(f"compare.py: no number from: {cmd}\n{out.stdout}\n{out.stderr}\n")
        return None


def main():
    name, unit, direction = sys.argv[1:4]
    impls = [a.split("=", 1) for a in sys.argv[4:]]
    pairs = int(os.environ.get("PAIRS", "5"))
    values = {label: [] for label, _ in impls}
    ratios = []
    for rnd in range(pairs + 1):
        got = {label: run(cmd) for label, cmd in impls}
        if rnd == 0 or any(v is None or v <= 0 for v in got.values()):
            continue  # warm-up round, or a failed run
        for label, v in got.items():
            values[label].append(v)
        peers = [v for label, v in got.items() if label != "zenith"]
        if direction == "higher":
            ratios.append(got["zenith"] / max(peers))
        else:
            ratios.append(min(peers) / got["zenith"])
    if not ratios:
        print(f"RESULT {name} error=no-complete-round unit={unit}")
        return
    fmt = lambda v: f"{v:.4g}"
    sides = " ".join(f"{label}={fmt(statistics.median(vs))}" for label, vs in values.items())
    print(f"RESULT {name} {sides} unit={unit} ratio={statistics.median(ratios):.3f} "
          f"min={min(ratios):.3f} max={max(ratios):.3f} rounds={len(ratios)}", flush=True)


if __name__ == "__main__":
    main()
