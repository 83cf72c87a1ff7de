#!/usr/bin/env bash
# Voice quality, CPU and delay: Parley -> baresip and Parley -> Parley
# against baresip -> baresip, the same calls through the same impairment,
# in one run (issue #6).
#
#   sudo bench/voice_quality.sh
#
# Environment (all optional):
#   CODECS       codecs to test, from opus pcmu pcma g722  (default "opus pcmu")
#   CONDITIONS   LOSS%:JITTER_MS pairs                      (default "0:0 3:0 5:0 10:0 5:40")
#   SPEECH_WAV   reference speech (mono; any rate); default: espeak-ng text
#   PARLEY_CLI   a parley-cli binary; default: cargo build --release -p parley-cli
#   OUT          output dir (default ${TMPDIR:-/tmp}/parley-bench)
#   STACKS       which calls (default all four): parley = Parley -> Parley,
#                mixed = Parley -> baresip, baresip = baresip -> baresip,
#                proc = Parley -> Parley with PROC_STAGES on (for its CPU)
#   PROC_STAGES  Parley processing stages in the proc calls (default
#                "aec,ns", the issue's condition; "all" adds gain control)
#
# How: everything runs in a network namespace of its own (loopback only).
# The caller sends its INVITE to bench/sip_media_relay.py, which forwards
# the signalling to the callee, keeps only the codec under test in the
# offer and anchors the media: all RTP/RTCP passes through the relay,
# which holds each packet for a random 0..JITTER_MS (so packets reorder
# once that exceeds 20 ms). Loss: nftables drops LOSS% of the packets the
# relay sends to the endpoints (numgen random, input hook). Both sides play
# the reference and record what they hear; each recording is aligned to
# the reference and scored with PESQ (PyPI pesq; wideband for Opus/G.722,
# narrowband for G.711), the two directions averaged. CPU is the
# utime+stime of each endpoint process from "connected" to hang-up, as
# seconds per call-minute (1.0 = 1.7 % of a core). "lag" is how far into
# the recording the reference starts (start-to-speech delay).
# Prints a table with Parley, baresip and the ratio per condition.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CODECS="${CODECS:-opus pcmu}"
CONDITIONS="${CONDITIONS:-0:0 3:0 5:0 10:0 5:40}"
STACKS="${STACKS:-parley mixed baresip proc}"
# Calls per stack and condition: one 20 s call under random loss moves
# PESQ by +-0.3, so REPEAT=3 or more for figures to compare.
REPEAT="${REPEAT:-1}"
PROC_STAGES="${PROC_STAGES:-aec,ns}"
# Files are not acoustic: the PESQ calls run Parley without processing, as
# parley-cli does for files (an echo canceller fed two talkers and no echo
# path treats the whole call as double talk). The proc calls turn it on to
# measure what it costs.
PROC_ARG=()
OUT="${OUT:-${TMPDIR:-/tmp}/parley-bench}"
VENV="${HOME}/.cache/parley-bench-venv"
NS="parley-bench-$$"
die() { echo "voice_quality: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it creates a network namespace and nftables rules); run it with sudo"

# --- dependencies -----------------------------------------------------------
need_apt=()
for p in baresip:baresip espeak-ng:espeak-ng sox:sox nft:nftables ip:iproute2; do
  command -v "${p%%:*}" >/dev/null || need_apt+=("${p#*:}")
done
[ -e /usr/lib/baresip/modules/aufile.so ] || need_apt+=(baresip-core)
python3 -c 'import venv' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing ${need_apt[*]} and no apt-get: install them by hand"
  echo "installing ${need_apt[*]} (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null \
    || die "apt-get install ${need_apt[*]} failed"
fi
if ! "$VENV/bin/python" -c 'import pesq, numpy, scipy, soundfile' 2>/dev/null; then
  echo "setting up $VENV (pip: pesq numpy scipy soundfile)"
  python3 -m venv "$VENV" || die "cannot create a venv at $VENV (python3-venv missing?)"
  "$VENV/bin/pip" install -q numpy scipy soundfile pesq \
    || die "pip install pesq numpy scipy soundfile failed (pesq builds C code: needs a compiler and python3-dev)"
fi
PY="$VENV/bin/python"

if [ -z "${PARLEY_CLI:-}" ]; then
  echo "building parley-cli (release)"
  (cd "$ROOT" && flock /tmp/parley-cargo.lock cargo build --release -q -p parley-cli) || die "cargo build failed"
  PARLEY_CLI="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/parley-cli"
fi
[ -x "$PARLEY_CLI" ] || die "no parley-cli at $PARLEY_CLI"

# --- reference speech -------------------------------------------------------
rm -rf "$OUT"; mkdir -p "$OUT"
REF="$OUT/ref-48k.wav"
if [ -n "${SPEECH_WAV:-}" ]; then
  sox -G "$SPEECH_WAV" -r 48000 -c 1 -b 16 -e signed-integer "$REF" gain -n -3
else
  # the interop harness's make-media.sh text (about 20 s)
  T="The quick brown fox jumps over the lazy dog. This is an interoperability test of a SIP soft phone. Please count with me: one, two, three, four, five, six, seven, eight, nine, ten. Audio should flow in both directions without gaps or clicks."
  espeak-ng -v en-us -s 150 -w "$OUT/a.wav" "$T"
  sox -G "$OUT/a.wav" -r 48000 -c 1 -b 16 -e signed-integer "$REF" gain -n -3
  rm -f "$OUT/a.wav"
fi
# The callee says something else, in another voice: with the same speech
# on both sides an echo canceller rightly takes the near talker for an
# echo of the far one, which no real call does.
REF_B="$OUT/refb-48k.wav"
if [ -n "${SPEECH_WAV_B:-}" ]; then
  sox -G "$SPEECH_WAV_B" -r 48000 -c 1 -b 16 -e signed-integer "$REF_B" gain -n -3
else
  T="Please call me back after the meeting. The weather today is cold and windy, with rain expected in the evening. My number is five five five, one two three four. Thank you, and have a nice day. We will talk again tomorrow morning."
  espeak-ng -v en-us+f3 -s 150 -w "$OUT/b.wav" "$T"
  sox -G "$OUT/b.wav" -r 48000 -c 1 -b 16 -e signed-integer "$REF_B" gain -n -3
  rm -f "$OUT/b.wav"
fi
for r in ref refb; do
  sox "$OUT/$r-48k.wav" -r 16000 "$OUT/$r-16k.wav"; sox "$OUT/$r-48k.wav" -r 8000 "$OUT/$r-8k.wav"
done
REF_S=$(soxi -D "$REF"); REFB_S=$(soxi -D "$REF_B")
CALL_S=$(awk -v a="$REF_S" -v b="$REFB_S" 'BEGIN{d = a > b ? a : b; printf "%d", d + 3.5}')
echo "reference: $(printf %.1f "$REF_S") s of speech from the caller, $(printf %.1f "$REFB_S") s from the callee; calls last $CALL_S s"

# --- network namespace ------------------------------------------------------
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
NSX=(ip netns exec "$NS")
set_loss() {
  "${NSX[@]}" nft flush ruleset
  [ "$1" = 0 ] && return 0
  "${NSX[@]}" nft -f - <<EOF
table inet impair {
  chain in {
    type filter hook input priority 0; policy accept;
    udp sport 40000-40999 numgen random mod 100 < $1 drop
  }
}
EOF
}

RELAY_PORT=5070
start_relay() { # callee_port codec jitter log
  "${NSX[@]}" python3 "$HERE/sip_media_relay.py" --listen 127.0.0.1:$RELAY_PORT \
    --callee "127.0.0.1:$1" --codec "$2" --jitter-ms "$3" --rtp-base 40000 > "$4" 2>&1 &
  RELAY=$!; PIDS+=("$RELAY")
  for _ in $(seq 50); do grep -q '^relay sip' "$4" 2>/dev/null && return 0; sleep 0.1; done
  die "relay did not start: $(cat "$4")"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_for() { # file pattern seconds
  for _ in $(seq $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# --- one Parley -> Parley call ----------------------------------------------
parley_call() { # dir codec jitter -> dir/{callee,caller}.wav dir/cpu.json
  local d="$1"; mkdir -p "$d/callee" "$d/caller"
  start_relay 5080 "$2" "$3" "$d/relay.log"
  mkfifo "$d/callee.in"
  "${NSX[@]}" "$PARLEY_CLI" --config-dir "$d/callee/config" --data-dir "$d/callee/data" --json \
    run --auto-answer --port 5080 --play "$REF_B" --record "$d/callee/rec" "${PROC_ARG[@]}" \
    > "$d/callee.log" 2> "$d/callee.err" <> "$d/callee.in" &
  local callee=$!; PIDS+=("$callee")
  wait_for "$d/callee.log" '"listening"' 15 || die "parley callee did not listen: $(tail -5 "$d/callee.err")"
  "${NSX[@]}" "$PARLEY_CLI" --config-dir "$d/caller/config" --data-dir "$d/caller/data" --json \
    call "sip:parley@127.0.0.1:$RELAY_PORT" --duration "$CALL_S" --play "$REF" --record "$d/caller.wav" \
    "${PROC_ARG[@]}" > "$d/caller.log" 2> "$d/caller.err" &
  local caller=$!; PIDS+=("$caller")
  if wait_for "$d/caller.log" '"connected"' 15; then
    "$PY" "$HERE/cpu_sampler.py" --until-file "$d/stop" "$caller" "$callee" > "$d/cpu.raw" &
    local samp=$!
    wait "$caller" || echo "  parley caller exited with $? (see $d/caller.err)" >&2
    touch "$d/stop"; wait "$samp"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"seconds": d["seconds"], "caller": d[sys.argv[2]], "callee": d[sys.argv[3]]}))' \
      "$d/cpu.raw" "$caller" "$callee" > "$d/cpu.json"
  else
    echo "  parley call did not connect (see $d/caller.log, $d/caller.err)" >&2
    stop_pid "$caller"
  fi
  wait_for "$d/callee.log" '"call_ended"' 10 || true
  echo quit > "$d/callee.in"
  for _ in $(seq 30); do kill -0 "$callee" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$callee"; stop_pid "$RELAY"
  cp "$d/callee/rec/"call-*.wav "$d/callee.wav" 2>/dev/null || true
}

# --- one Parley -> Parley call with processing on -----------------------------
proc_call() { # dir codec jitter
  local saved=("${PROC_ARG[@]}")
  PROC_ARG=(--processing "$PROC_STAGES")
  parley_call "$@"
  PROC_ARG=("${saved[@]}")
}

# --- one baresip -> baresip call --------------------------------------------
BS_CODEC() { case "$1" in opus) echo opus/48000/1 ;; pcmu) echo PCMU/8000/1 ;; pcma) echo PCMA/8000/1 ;; g722) echo G722/16000/1 ;; esac; }
bs_start() { # dir user sip_port ctrl_port rtp_range codec wav
  local b="$1/$2"; mkdir -p "$b/rec"
  sed -e "s|@SIP_PORT@|$3|g" -e "s|@CTRL_PORT@|$4|g" -e "s|@AUDIO_FILE@|$7|g" -e "s|@SRATE@|48000|g" \
      -e "s|@RTP_PORTS@|$5|g" -e "s|@REC_DIR@|$b/rec|g" "$HERE/baresip.conf.template" > "$b/config"
  printf '<sip:%s@127.0.0.1>;regint=0;answermode=auto;audio_codecs=%s\n' "$2" "$(BS_CODEC "$6")" > "$b/accounts"
  : > "$b/contacts"
  mkfifo "$b/stdin.fifo"
  "${NSX[@]}" baresip -f "$b" > "$b/baresip.log" 2>&1 <> "$b/stdin.fifo" &
  BS_PID=$!; PIDS+=("$BS_PID")
  for _ in $(seq 50); do
    "${NSX[@]}" ss -Hltn "sport = :$4" 2>/dev/null | grep -q . && return 0; sleep 0.1
  done
  die "baresip $2 did not start: $(tail -5 "$b/baresip.log")"
}
baresip_call() { # dir codec jitter
  local d="$1"; mkdir -p "$d"
  start_relay 5092 "$2" "$3" "$d/relay.log"
  bs_start "$d" alice 5090 4441 10000-10099 "$2" "$REF"; local alice=$BS_PID
  bs_start "$d" bob 5092 4442 10100-10199 "$2" "$REF_B"; local bob=$BS_PID
  if "${NSX[@]}" "$PY" "$HERE/bsctl.py" --port 4441 --wait CALL_ESTABLISHED --timeout 15 \
       --after dial "sip:bob@127.0.0.1:$RELAY_PORT" > "$d/established.json"; then
    "$PY" "$HERE/cpu_sampler.py" --until-file "$d/stop" "$alice" "$bob" > "$d/cpu.raw" &
    local samp=$!
    sleep "$CALL_S"
    "${NSX[@]}" "$PY" "$HERE/bsctl.py" --port 4441 hangup > /dev/null || true
    touch "$d/stop"; wait "$samp"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"seconds": d["seconds"], "caller": d[sys.argv[2]], "callee": d[sys.argv[3]]}))' \
      "$d/cpu.raw" "$alice" "$bob" > "$d/cpu.json"
  else
    echo "  baresip call did not connect (see $d/alice/baresip.log)" >&2
  fi
  sleep 0.5
  stop_pid "$alice"; stop_pid "$bob"; stop_pid "$RELAY"
  cp "$(ls -t "$d/bob/rec/"*-dec.wav 2>/dev/null | head -1)" "$d/callee.wav" 2>/dev/null || true
  cp "$(ls -t "$d/alice/rec/"*-dec.wav 2>/dev/null | head -1)" "$d/caller.wav" 2>/dev/null || true
}

# --- one Parley -> baresip call ---------------------------------------------
# caller.wav: baresip's encoder into Parley's receiver; callee.wav: Parley's
# encoder into baresip's receiver.
mixed_call() { # dir codec jitter
  local d="$1"; mkdir -p "$d/caller"
  start_relay 5092 "$2" "$3" "$d/relay.log"
  bs_start "$d" bob 5092 4442 10100-10199 "$2" "$REF_B"; local bob=$BS_PID
  "${NSX[@]}" "$PARLEY_CLI" --config-dir "$d/caller/config" --data-dir "$d/caller/data" --json \
    call "sip:bob@127.0.0.1:$RELAY_PORT" --duration "$CALL_S" --play "$REF" --record "$d/caller.wav" \
    "${PROC_ARG[@]}" > "$d/caller.log" 2> "$d/caller.err" &
  local caller=$!; PIDS+=("$caller")
  if wait_for "$d/caller.log" '"connected"' 15; then
    "$PY" "$HERE/cpu_sampler.py" --until-file "$d/stop" "$caller" "$bob" > "$d/cpu.raw" &
    local samp=$!
    wait "$caller" || echo "  parley caller exited with $? (see $d/caller.err)" >&2
    touch "$d/stop"; wait "$samp"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"seconds": d["seconds"], "caller": d[sys.argv[2]], "callee": d[sys.argv[3]]}))' \
      "$d/cpu.raw" "$caller" "$bob" > "$d/cpu.json"
  else
    echo "  parley -> baresip call did not connect (see $d/caller.log, $d/bob/baresip.log)" >&2
    stop_pid "$caller"
  fi
  sleep 0.5
  stop_pid "$bob"; stop_pid "$RELAY"
  cp "$(ls -t "$d/bob/rec/"*-dec.wav 2>/dev/null | head -1)" "$d/callee.wav" 2>/dev/null || true
}

score() { # dir mode -> dir/score.json
  local d="$1" mode="$2" rate=16k side ref
  [ "$mode" = nb ] && rate=8k
  for side in caller callee; do
    # the caller hears the callee's speech, the callee the caller's
    ref="$OUT/ref-$rate.wav"; [ "$side" = caller ] && ref="$OUT/refb-$rate.wav"
    if [ -s "$d/$side.wav" ]; then
      "$PY" "$HERE/score.py" "$ref" "$d/$side.wav" --mode "$mode" > "$d/score-$side.json"
    else
      echo '{"pesq": null, "lag_ms": null, "error": "no recording"}' > "$d/score-$side.json"
    fi
  done
}

# --- the run ----------------------------------------------------------------
echo "parley-cli: $PARLEY_CLI (proc calls: --processing $PROC_STAGES)"; echo "baresip: $(baresip -h 2>&1 | head -1 || true)"; echo "netns: $NS"
for codec in $CODECS; do
  mode=wb; case "$codec" in pcmu|pcma) mode=nb ;; esac
  for cond in $CONDITIONS; do
    loss="${cond%%:*}"; jit="${cond#*:}"
    set_loss "$loss"
    for rep in $(seq "$REPEAT"); do
      for stack in $STACKS; do
        # Repeats interleave the stacks, so a burst of load hits all.
        d="$OUT/$codec-loss$loss-jit$jit/$stack"; [ "$rep" -gt 1 ] && d="$d.$rep"
        mkdir -p "$d"
        echo "== $codec loss ${loss}% jitter 0-${jit} ms: $stack (call $rep of $REPEAT)"
        "${stack}_call" "$d" "$codec" "$jit"
        score "$d" "$mode"
      done
    done
  done
done
set_loss 0

PROC_STAGES="$PROC_STAGES" "$PY" "$HERE/report.py" "$OUT" $CODECS -- $CONDITIONS | tee "$OUT/report.txt"
echo "artifacts: $OUT"
