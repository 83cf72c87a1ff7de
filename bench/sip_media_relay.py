#!/usr/bin/env python3
"""A tiny SIP proxy + RTP relay for the voice benchmark (loopback, UDP only).

  sip_media_relay.py --listen 127.0.0.1:5070 --callee 127.0.0.1:5080 \
      [--codec opus|pcmu|pcma|g722] [--delay-ms 0] [--jitter-ms 0] \
      [--rtp-base 40000] [--seed 1]

The caller sends its INVITE to --listen. The relay forwards requests to
--callee (Request-URI rewritten to it) and responses back along the Via
chain, and anchors the media: every SDP body gets its audio address
replaced by a relay socket pair (RTP and RTP+1 for RTCP), so all RTP and
RTCP pass through here. In-dialog requests follow the Contact headers and
go direct; only the media matters.

Impairment: each relayed media packet is held for delay-ms plus a uniform
random 0..jitter-ms, drawn per packet, so packets overtake each other
(reordering) once the jitter exceeds the packet interval. Loss is NOT done
here: the benchmark drops packets with nftables on the input hook of its
network namespace (udp sport in the relay's range = relay -> endpoint).

--codec keeps only that codec (and telephone-event) in the offer, so both
stacks under test use the same codec. Relay ports are --rtp-base upward.
Prints one line per call with the media addresses it anchored.
"""
import argparse
import hashlib
import heapq
import random
import re
import select
import socket
import sys
import time

CODECS = {"opus": "opus/48000", "pcmu": "pcmu/8000", "pcma": "pcma/8000", "g722": "g722/8000"}
STATIC_PT = {"pcmu": "0", "pcma": "8", "g722": "9"}


def hostport(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))


class Leg:
    """Media of one call: sockets facing the caller (a) and the callee (b),
    for RTP and RTCP (port+1)."""

    def __init__(self, base):
        self.sock = {}
        port = base
        while len(self.sock) < 4:
            try:
                socks = []
                for off in range(4):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.bind(("127.0.0.1", port + off))
                    s.setblocking(False)
                    socks.append(s)
                self.sock = {("a", 0): socks[0], ("a", 1): socks[1], ("b", 0): socks[2], ("b", 1): socks[3]}
            except OSError:
                for s in socks:
                    s.close()
                port += 4
        self.port_a, self.port_b = port, port + 2
        self.next_base = port + 4
        # where each endpoint is: from SDP, then latched to what we see
        self.peer = {("a", 0): None, ("a", 1): None, ("b", 0): None, ("b", 1): None}


def rewrite_sdp(body, port, codec):
    """Returns (new body, (ip, rtp port, rtcp port)) with the audio address
    replaced by 127.0.0.1:port and, if codec, only that codec offered."""
    lines = body.split("\r\n")
    out, ip, rport, rtcp = [], None, None, None
    in_audio, keep = False, None
    if codec:
        name = CODECS[codec]
        keep, found = set(), False
        mline = next((l for l in lines if l.startswith("m=audio ")), "").split(" ")[3:]
        for ln in lines:
            m = re.match(r"a=rtpmap:(\d+) ([^/]+/\d+)", ln)
            if m and m.group(2).lower() == name:
                keep.add(m.group(1)); found = True
            elif m and m.group(2).lower().startswith("telephone-event"):
                keep.add(m.group(1))
        if codec in STATIC_PT and STATIC_PT[codec] in mline:
            keep.add(STATIC_PT[codec]); found = True
        if not found:
            keep = None  # codec not offered: leave the offer alone
    for ln in lines:
        if ln.startswith("c=IN IP4 "):
            ip = ln.split()[2]
            ln = "c=IN IP4 127.0.0.1"
        elif ln.startswith("o="):
            parts = ln.split(" ")
            parts[-1] = "127.0.0.1"
            ln = " ".join(parts)
        elif ln.startswith("m="):
            in_audio = ln.startswith("m=audio ")
            if in_audio:
                f = ln.split(" ")
                rport = int(f[1])
                f[1] = str(port)
                if keep is not None:
                    f = f[:3] + [p for p in f[3:] if p in keep]
                ln = " ".join(f)
        elif in_audio and ln.startswith("a=rtcp:"):
            rtcp = int(ln.split(":")[1].split()[0])
            ln = f"a=rtcp:{port + 1}"
        elif in_audio and keep is not None:
            m = re.match(r"a=(rtpmap|fmtp):(\d+)", ln)
            if m and m.group(2) not in keep:
                continue  # attributes of codecs no longer listed
        out.append(ln)
    if rport is not None and rtcp is None:
        rtcp = rport + 1
    return "\r\n".join(out), (ip, rport, rtcp)


def split_msg(data):
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    return head.split("\r\n"), body


def join_msg(lines, body):
    lines = [l for l in lines if not re.match(r"(?i)^(content-length|l)\s*:", l)]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def header(lines, name):
    for l in lines:
        if re.match(rf"(?i)^{name}\s*:", l):
            return l.split(":", 1)[1].strip()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--callee", required=True)
    ap.add_argument("--codec", choices=sorted(CODECS))
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--rtp-base", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    me, callee = hostport(a.listen), hostport(a.callee)
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(me)
    legs = {}  # call-id -> Leg
    by_sock = {}  # fileno -> (leg, side, rtcp)
    base = a.rtp_base
    caller = None
    queue = []  # (due, seq, sock, data, leg, dest key)
    seq = 0
    relayed = 0
    print(f"relay sip {a.listen} -> {a.callee} codec={a.codec} delay={a.delay_ms}ms jitter={a.jitter_ms}ms", flush=True)

    def leg_for(callid):
        nonlocal base
        if callid not in legs:
            leg = Leg(base)
            base = leg.next_base
            legs[callid] = leg
            for (side, rtcp), s in leg.sock.items():
                by_sock[s.fileno()] = (leg, side, rtcp, s)
        return legs[callid]

    while True:
        timeout = None
        if queue:
            timeout = max(0.0, queue[0][0] - time.monotonic())
        rl = [sip] + [v[3] for v in by_sock.values()]
        r, _, _ = select.select(rl, [], [], timeout)
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, s, data, dest = heapq.heappop(queue)
            try:
                s.sendto(data, dest)
            except OSError:
                pass
        for s in r:
            if s is sip:
                data, src = sip.recvfrom(65535)
                if not data.strip():
                    continue
                lines, body = split_msg(data)
                first = lines[0]
                callid = header(lines, "call-id") or header(lines, "i") or ""
                is_resp = first.startswith("SIP/2.0")
                if not is_resp:
                    from_callee = src == callee
                    if not from_callee:
                        caller = src
                    branch = hashlib.sha1((header(lines, "via") or header(lines, "v") or "").encode()).hexdigest()[:16]
                    m = first.split(" ")
                    if not from_callee:
                        m[1] = re.sub(r"@[^;>]+|(?<=sip:)[^@;>]+$", f"@{callee[0]}:{callee[1]}", m[1])
                    lines[0] = " ".join(m)
                    lines.insert(1, f"Via: SIP/2.0/UDP {me[0]}:{me[1]};branch=z9hG4bK{branch}")
                    dest = caller if from_callee else callee
                    offer_side = "b" if from_callee else "a"
                else:
                    # pop our Via, send to the next one
                    vi = [i for i, l in enumerate(lines) if re.match(r"(?i)^(via|v)\s*:", l)]
                    if not vi:
                        continue
                    v0 = lines[vi[0]].split(":", 1)[1]
                    if "," in v0:  # combined Via header
                        lines[vi[0]] = lines[vi[0]].split(":", 1)[0] + ":" + v0.split(",", 1)[1]
                        nxt = v0.split(",", 1)[1]
                    else:
                        del lines[vi[0]]
                        if len(vi) < 2:
                            continue
                        nxt = lines[vi[1] - 1].split(":", 1)[1]
                    sent_by = nxt.strip().split(" ", 1)[1].split(";")[0]
                    h, _, p = sent_by.partition(":")
                    rp = re.search(r";rport=(\d+)", nxt)
                    rc = re.search(r";received=([\d.]+)", nxt)
                    dest = (rc.group(1) if rc else h, int(rp.group(1)) if rp else int(p or 5060))
                    offer_side = "b" if src == callee else "a"
                if "m=audio" in body:
                    leg = leg_for(callid)
                    # SDP from side X is seen by the other side, which must
                    # send to the relay socket facing it
                    facing = "b" if offer_side == "a" else "a"
                    port = leg.port_b if facing == "b" else leg.port_a
                    codec = a.codec if (not is_resp and offer_side == "a") else None
                    body, (ip, rport, rtcp) = rewrite_sdp(body, port, codec)
                    if ip and rport:
                        leg.peer[(offer_side, 0)] = (ip, rport)
                        leg.peer[(offer_side, 1)] = (ip, rtcp)
                        print(f"call {callid[:12]} side {offer_side} media {ip}:{rport}/{rtcp} via relay :{port}", flush=True)
                if dest:
                    sip.sendto(join_msg(lines, body), dest)
            else:
                leg, side, rtcp, sk = by_sock[s.fileno()]
                try:
                    data, src = sk.recvfrom(65535)
                except OSError:
                    continue
                leg.peer[(side, rtcp)] = src  # symmetric: latch to the source
                other = "b" if side == "a" else "a"
                dest = leg.peer[(other, rtcp)]
                if dest is None:
                    continue
                out = leg.sock[(other, rtcp)]
                d = (a.delay_ms + rnd.uniform(0, a.jitter_ms)) / 1000.0
                relayed += 1
                if d <= 0:
                    try:
                        out.sendto(data, dest)
                    except OSError:
                        pass
                else:
                    seq += 1
                    heapq.heappush(queue, (now + d, seq, out, data, dest))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
