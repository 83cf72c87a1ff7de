#!/usr/bin/env python3
"""CPU time of processes over a window (adapted from the interop
harness's procstat.py): samples utime+stime from /proc every --interval
until --until-file exists, keeping the last value seen per PID, so a
process that exits during the window still counts up to its last sample.

  cpu_sampler.py --until-file STOP PID [PID...]

Prints one JSON object: {"seconds": wall, "<pid>": cpu_seconds, ...}.
"""
import argparse
import json
import os
import time

HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--until-file", required=True)
    ap.add_argument("pids", nargs="+", type=int)
    a = ap.parse_args()
    t0 = time.monotonic()
    first, last = {}, {}
    for p in a.pids:
        try:
            first[p] = last[p] = ticks(p)
        except OSError:
            pass
    while not os.path.exists(a.until_file):
        time.sleep(a.interval)
        for p in first:
            try:
                last[p] = ticks(p)
            except OSError:
                pass
    out = {"seconds": round(time.monotonic() - t0, 3)}
    for p in a.pids:
        out[str(p)] = round((last[p] - first[p]) / HZ, 3) if p in first else None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
