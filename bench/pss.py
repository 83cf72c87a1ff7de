#!/usr/bin/env python3
"""Proportional set size of a process tree (issue #8's memory benchmark).

    pss.py PID            total PSS of PID and all its descendants, in KiB
    pss.py --json PID     {"total_kib": N, "procs": [{"pid", "comm", "pss_kib"}]}

Descendants are found through the process tree (each /proc/N/stat's parent
pid), not by name, so WebKitWebProcess and WebKitNetworkProcess are counted
for the app that started them and for no other. PSS comes from
/proc/N/smaps_rollup (shared pages divided among the processes sharing
them, so summing over a tree does not count a shared library twice).
"""

import json
import os
import sys


def parents():
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the fields after the last ')'.
        rest = stat[stat.rindex(")") + 2 :].split()
        out[int(name)] = int(rest[1])
    return out


def tree(root):
    ppid = parents()
    kids = {}
    for pid, parent in ppid.items():
        kids.setdefault(parent, []).append(pid)
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(kids.get(pid, []))
    return sorted(seen)


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    args = sys.argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: pss.py [--json] PID")
    procs = [{"pid": p, "comm": comm(p), "pss_kib": pss_kib(p)} for p in tree(int(args[0]))]
    total = sum(p["pss_kib"] for p in procs)
    if as_json:
        print(json.dumps({"total_kib": total, "procs": procs}))
    else:
        print(total)


if __name__ == "__main__":
    main()
