#!/usr/bin/env python3
"""Whole-process timings in interleaved rounds, against a floor.

Each round runs every command once, one after another, so a machine that
speeds up or slows down during the run moves all of them alike; each
command's time is divided by the floor's (the first command) of the same
round, and the median of those ratios is reported with the median times.

Usage: interleave.py SPEC.json OUT.json
SPEC: {"rounds": 200, "warmup": 10, "commands": [
         {"name": "floor", "argv": [...], "stdin": "/path/or/null", "env": {...}}, ...]}
A command that exits non-zero fails the run (a floor that reads nothing
would make every ratio meaningless).
"""
import json
import os
import statistics
import sys
import time


def run_once(cmd):
    stdin = os.open(cmd.get("stdin") or os.devnull, os.O_RDONLY)
    devnull = os.open(os.devnull, os.O_WRONLY)
    env = dict(os.environ, **cmd.get("env", {}))
    try:
        start = time.perf_counter_ns()
        pid = os.posix_spawn(cmd["argv"][0], cmd["argv"], env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, stdin, 0),
                                           (os.POSIX_SPAWN_DUP2, devnull, 1),
                                           (os.POSIX_SPAWN_DUP2, devnull, 2)])
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter_ns() - start
    finally:
        os.close(stdin)
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave: {cmd['name']} ({' '.join(cmd['argv'])}) failed with {status}")
    return elapsed / 1e6


def main():
    spec = json.load(open(sys.argv[1]))
    cmds = spec["commands"]
    for _ in range(spec.get("warmup", 10)):
        for c in cmds:
            run_once(c)
    times = {c["name"]: [] for c in cmds}
    for r in range(spec["rounds"]):
        # Rotate who goes first, so no command always follows the same one.
        order = cmds[r % len(cmds):] + cmds[:r % len(cmds)]
        for c in order:
            times[c["name"]].append(run_once(c))
    floor = cmds[0]["name"]
    out = {"rounds": spec["rounds"], "floor": floor, "commands": {}}
    for c in cmds:
        t = times[c["name"]]
        ratios = [a / b for a, b in zip(t, times[floor])]
        out["commands"][c["name"]] = {
            "median_ms": statistics.median(t),
            "min_ms": min(t),
            "ratio_median": statistics.median(ratios),
            "ratio_q1": statistics.quantiles(ratios, n=4)[0],
            "ratio_q3": statistics.quantiles(ratios, n=4)[2],
        }
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
