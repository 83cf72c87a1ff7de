# Sourced by the benchmarks (memory.sh, frames.sh): the interop harness's
# Kamailio (parley-peers), kept until we close its stdin. Needs OUT, PSS
# (bench/pss.py) and PEERS_BIN; sets PEERS_PID, PEERS_IN, KAM_PORT and
# KAM_DIR (its run directory: logs, kamailio.sqlite, the ctl socket).
# Arguments go to parley-peers (`--baresip bob`: a registered baresip that
# publishes presence; `echo "bob presence_offline" >&$PEERS_IN` drives it).
start_kamailio() {
  coproc PEERS { "$PEERS_BIN" kamailio "$@" 2>"$OUT/parley-peers.log"; }
  PEERS_PID=$PEERS_PID
  exec {PEERS_IN}>&"${PEERS[1]}"
  local line
  KAM_PORT=""
  while read -r -t 30 line <&"${PEERS[0]}"; do
    case "$line" in
      kamailio\ *) KAM_PORT="${line#kamailio }" ;;
      ready) break ;;
    esac
  done
  [ -n "$KAM_PORT" ] || { echo "parley-peers did not start Kamailio; see $OUT/parley-peers.log" >&2; exit 1; }
  local kpid
  kpid="$(python3 "$PSS" --json "$PEERS_PID" | python3 -c 'import json,sys; print(next(p["pid"] for p in json.load(sys.stdin)["procs"] if p["comm"].startswith("kamailio")))')"
  KAM_DIR="$(tr '\0' '\n' <"/proc/$kpid/cmdline" | sed -n '/^-w$/{n;p;q}')"
  echo "kamailio on 127.0.0.1:$KAM_PORT ($KAM_DIR)" >&2
}


# parley-peers stops Kamailio when its stdin closes: close our copy and the
# coproc's own write end (left open it kept parley-peers, and the caller
# holding the peers lock, waiting forever), then make sure.
stop_kamailio() {
  exec {PEERS_IN}>&- 2>/dev/null || true
  [ -z "${PEERS[1]:-}" ] || eval "exec ${PEERS[1]}>&-" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$PEERS_PID" 2>/dev/null || break; sleep 0.1; done
  kill "$PEERS_PID" 2>/dev/null || true
  wait "$PEERS_PID" 2>/dev/null || true
}
