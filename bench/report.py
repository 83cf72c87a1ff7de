#!/usr/bin/env python3
"""Prints the benchmark table from the run directory of voice_quality.sh.

  report.py OUT CODEC... -- LOSS:JITTER...
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def one_call(d):
    s = [load(os.path.join(d, f"score-{side}.json")) for side in ("caller", "callee")]
    cpu = load(os.path.join(d, "cpu.json"))
    per_min = None
    if cpu.get("seconds") and cpu.get("caller") is not None and cpu.get("callee") is not None:
        # CPU seconds per call-minute, mean of the two endpoint processes
        per_min = (cpu["caller"] + cpu["callee"]) / 2 / cpu["seconds"] * 60
    return {"pesq": mean([x.get("pesq") for x in s]),
            "dirs": [x.get("pesq") for x in s],
            "lag": mean([x.get("lag_ms") for x in s]),
            "cpu": per_min}


def stack(d):
    """Means over the calls of one stack: d, d.2, d.3, ... (REPEAT)."""
    calls, n = [], 1
    while os.path.isdir(d if n == 1 else f"{d}.{n}"):
        calls.append(one_call(d if n == 1 else f"{d}.{n}"))
        n += 1
    per_call = [c["pesq"] for c in calls if c["pesq"] is not None]
    return {"pesq": mean(per_call),
            "pesq_dirs": [mean([c["dirs"][i] for c in calls]) for i in (0, 1)],
            "lag": mean([c["lag"] for c in calls]),
            "cpu": mean([c["cpu"] for c in calls]),
            "n": len(calls),
            "spread": (max(per_call) - min(per_call)) if len(per_call) > 1 else None}


def f(x, fmt):
    return "-" if x is None else format(x, fmt)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    out = sys.argv[1]
    i = sys.argv.index("--")
    codecs, conds = sys.argv[2:i], sys.argv[i + 1:]
    stages = os.environ.get("PROC_STAGES", "aec,ns")
    hdr = (f"{'codec':7} {'loss':>4} {'jit':>4} | {'PESQ P->B':>9} {'(P rx':>5} {'B rx)':>5} {'B->B':>5} {'diff':>5} "
           f"{'P->P':>5} | {'CPU s/min parley':>16} {'+' + stages:>8} {'baresip':>7} {'ratio':>5} {'ratio+':>6} | "
           f"{'lag ms P->P':>11}")
    print(hdr)
    print("-" * len(hdr))
    spreads = []
    for c in codecs:
        mode = "nb" if c in ("pcmu", "pcma") else "wb"
        for cond in conds:
            loss, jit = cond.split(":")
            d = os.path.join(out, f"{c}-loss{loss}-jit{jit}")
            p, m, b, q = (stack(os.path.join(d, s)) for s in ("parley", "mixed", "baresip", "proc"))
            diff = None if m["pesq"] is None or b["pesq"] is None else m["pesq"] - b["pesq"]
            # mixed: caller = Parley hearing baresip, callee = baresip hearing Parley
            prx, brx = m["pesq_dirs"]
            print(f"{c + '/' + mode:7} {loss + '%':>4} {jit:>4} | {f(m['pesq'], '.2f'):>9} {f(prx, '.2f'):>5} "
                  f"{f(brx, '.2f'):>5} {f(b['pesq'], '.2f'):>5} {f(diff, '+.2f'):>5} {f(p['pesq'], '.2f'):>5} | "
                  f"{f(p['cpu'], '.3f'):>16} {f(q['cpu'], '.3f'):>8} {f(b['cpu'], '.3f'):>7} "
                  f"{f(ratio(p['cpu'], b['cpu']), '.2f'):>5} {f(ratio(q['cpu'], b['cpu']), '.2f'):>6} | "
                  f"{f(p['lag'], '.0f'):>11}")
            if m["n"] > 1 or b["n"] > 1:
                spreads.append(f"{c + '/' + mode:7} {loss + '%':>4} {jit:>4} | calls: P->B {m['n']}, B->B {b['n']}, "
                               f"P->P {p['n']}; PESQ max-min over calls: P->B {f(m['spread'], '.2f')}, "
                               f"B->B {f(b['spread'], '.2f')}, P->P {f(p['spread'], '.2f')}")
    print()
    for line in spreads:
        print(line)
    if spreads:
        print()
    print("PESQ: MOS-LQO (P.862; wb = P.862.2 at 16 kHz), mean of both directions of a call,")
    print("  and of the calls when REPEAT > 1.")
    print("  P->B: Parley calls baresip (P rx: Parley hears baresip; B rx: baresip hears Parley);")
    print("  B->B: baresip calls baresip; P->P: Parley calls Parley; diff = P->B - B->B.")
    print("  Parley without processing in these (files are not acoustic).")
    print("CPU: seconds of CPU per call-minute per endpoint process (utime+stime, connected -> hang-up),")
    print(f"     from the P->P calls (without, and with {stages} on) and the B->B calls;")
    print("     ratio < 1 means Parley uses less (ratio+: with processing).")
    print("lag: start of Parley's recording to the start of the speech (file in -> RTP -> file out).")
    print("jit: each relayed packet held a random 0..jit ms (reordering when > 20 ms).")


if __name__ == "__main__":
    main()
