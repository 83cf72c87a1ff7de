#!/usr/bin/env python3
"""Proportional set size of a process tree (issue #8's memory benchmark).

    pss.py PID            total PSS of PID and all its descendants, in KiB
    pss.py --json PID     {"total_kib": N, "procs": [{"pid", "comm", "pss_kib"}]}
    pss.py --top N PID    per process, the N mappings with the most PSS
                          (file name, [heap], [stack], or "anon"), in KiB

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


def top_mappings(pid, n):
    """The n mappings of pid with the most PSS, summed per name."""
    sums = {}
    name = "anon"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split(None, 5)
                if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    name = head[5].strip() if len(head) == 6 and head[5].strip() else "anon"
                elif line.startswith("Pss:"):
                    sums[name] = sums.get(name, 0) + int(line.split()[1])
    except OSError:
        pass
    return sorted(sums.items(), key=lambda kv: -kv[1])[:n]


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
    if len(args) == 3 and args[0] == "--top" and args[1].isdigit() and args[2].isdigit():
        for pid in tree(int(args[2])):
            print(f"== {pid} {comm(pid)}: {pss_kib(pid)} KiB")
            for name, kib in top_mappings(pid, int(args[1])):
                print(f"{kib:9d}  {name}")
        return
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: pss.py [--json] PID | --top N PID")
    procs = [{"pid": p, "comm": comm(p), "pss_kib": pss_kib(p)} for p in tree(int(args[0]))]
    total = sum(p["pss_kib"] for p in procs)
    if as_json:
        print(json.dumps({"total_kib": total, "procs": procs}))
    else:
        print(total)


if __name__ == "__main__":
    main()
