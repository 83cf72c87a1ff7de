#!/usr/bin/env bash
# Memory benchmark of issue #8: proportional set size (PSS, summed over the
# app and its child processes: WebKitWebProcess, WebKitNetworkProcess) of
# Parley and of Linphone desktop, started the same way in the same run:
#
#   idle        fresh profile, no account, window up and settled
#   registered  one account registered at a loopback Kamailio (the interop
#               harness's), CONTACTS contacts with presence subscriptions
#
# Everything runs under a private Xvfb display and a private D-Bus session
# with an unlocked throwaway gnome-keyring; each app gets fresh HOME and XDG
# directories per case. Needs root for apt-get when something is missing.
#
#   sudo bench/memory.sh
#   PARLEY_BIN=path SETTLE=20 SAMPLES=7 CONTACTS=500 bench/memory.sh
#   CASES="parley-registered" bench/memory.sh   (a subset, for experiments;
#                                                 the ratio needs both apps)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-/tmp/parley-memory}"
SETTLE="${SETTLE:-15}"     # seconds after the window is up, before sampling
SAMPLES="${SAMPLES:-5}"    # PSS samples (2 s apart); the median is reported
CONTACTS="${CONTACTS:-500}"
PARLEY_BIN="${PARLEY_BIN:-$ROOT/target/release/parley}"
PARLEY_CLI="${PARLEY_CLI:-$ROOT/target/release/parley-cli}"
PEERS_BIN="${PEERS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/parley-peers}"
LINPHONE_BIN="${LINPHONE_BIN:-linphone}"
CASES="${CASES:-parley-idle linphone-idle parley-registered linphone-registered}"

if [ -z "${PARLEY_MEM_IN_SESSION:-}" ]; then
  need=()
  for pair in xvfb-run:xvfb xdotool:xdotool xwininfo:x11-utils linphone:linphone-desktop \
      kamailio:kamailio kamcmd:kamailio sqlite3:sqlite3 dbus-run-session:dbus \
      gnome-keyring-daemon:gnome-keyring python3:python3; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
  [ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so ] \
    || [ -n "$(find /usr/lib -name db_sqlite.so -path '*kamailio*' 2>/dev/null | head -1)" ] \
    || need+=(kamailio-sqlite-modules)
  [ -n "$(find /usr/lib -name presence.so -path '*kamailio*' 2>/dev/null | head -1)" ] \
    || need+=(kamailio-presence-modules)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
  for b in "$PARLEY_BIN" "$PARLEY_CLI"; do
    [ -x "$b" ] || { echo "missing $b: flock /tmp/parley-cargo.lock cargo build --release -p parley -p parley-cli (UI first: npm --prefix ui run build)" >&2; exit 1; }
  done
  if [ ! -x "$PEERS_BIN" ]; then
    (cd "$ROOT" && flock /tmp/parley-cargo.lock cargo build -p parley-interop --bin parley-peers) >&2
  fi
  export PARLEY_MEM_IN_SESSION=1 PARLEY_BIN PARLEY_CLI PEERS_BIN
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi

cd "$ROOT"
. "$ROOT/scripts/lib/keyring.sh"
. "$ROOT/bench/kamailio.sh"
rm -rf "$OUT"
mkdir -p "$OUT"
PSS="$ROOT/bench/pss.py"
PIDS_TO_STOP=()
PEERS_PID=""

cleanup() {
  for p in "${PIDS_TO_STOP[@]}"; do stop_tree "$p"; done
  [ -z "$PEERS_PID" ] || stop_kamailio
}
trap cleanup EXIT

# Kills a process we started and whatever is left of its tree.
stop_tree() {
  local pid="$1" kids
  kids="$(python3 "$PSS" --json "$pid" 2>/dev/null | python3 -c 'import json,sys; print(" ".join(str(p["pid"]) for p in json.load(sys.stdin)["procs"]))' 2>/dev/null || true)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for k in $pid $kids; do kill -9 "$k" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

# A fresh HOME with XDG dirs of its own, for one app in one case.
fresh_home() {
  local h="$OUT/$1/home"
  mkdir -p "$h/.config" "$h/.local/share" "$h/.cache" "$h/.local/state"
  echo "$h"
}

# run_app CASE HOME CMD... : starts the app with that HOME, waits for its
# window, lets it settle, samples PSS, stops it. Writes $OUT/CASE.json.
run_app() {
  local case="$1" home="$2"; shift 2
  local log="$OUT/$case/app.log"
  HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
    XDG_CACHE_HOME="$home/.cache" XDG_STATE_HOME="$home/.local/state" \
    "$@" >"$log" 2>&1 &
  local pid=$!
  PIDS_TO_STOP+=("$pid")
  local up=""
  for _ in $(seq 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$case: the app exited; log: $log" >&2; tail -20 "$log" >&2; return 1
    fi
    if xdotool search --onlyvisible --pid "$pid" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  [ -n "$up" ] || { echo "$case: no window after 60 s; log: $log" >&2; return 1; }
  local win; win="$(xdotool search --onlyvisible --pid "$pid" | head -1)"
  echo "$case: window up ($(xdotool getwindowname "$win" 2>/dev/null)), settling ${SETTLE}s" >&2
  sleep "$SETTLE"
  [ -z "${BEFORE_SAMPLE:-}" ] || "$BEFORE_SAMPLE" "$case"
  for i in $(seq "$SAMPLES"); do
    python3 "$PSS" --json "$pid" >"$OUT/$case/sample-$i.json"
    [ "$i" = "$SAMPLES" ] || sleep 2
  done
  # Where the memory is, per process and mapping (libraries, heap, anon).
  python3 "$PSS" --top 25 "$pid" >"$OUT/$case/mappings.txt"
  python3 - "$OUT/$case" "$SAMPLES" >"$OUT/$case.json" <<'EOF'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
s = sorted((json.load(open(f"{d}/sample-{i}.json")) for i in range(1, n + 1)), key=lambda x: x["total_kib"])
m = s[len(s) // 2]
print(json.dumps({"median_kib": m["total_kib"], "min_kib": s[0]["total_kib"], "max_kib": s[-1]["total_kib"], "procs": m["procs"]}))
EOF
  stop_tree "$pid"
  PIDS_TO_STOP=("${PIDS_TO_STOP[@]/$pid}")
}

# CONTACTS contacts written into the store before the app starts
# (bench/parley_contacts.py: the store's own schema; parley-cli has no
# contact import).
parley_db_with_contacts() {
  local db="$1" user="$2"
  mkdir -p "$(dirname "$db")"
  python3 "$ROOT/bench/parley_contacts.py" "$ROOT" "$db" "$CONTACTS" "$user"
}

# Linphone's config: account at the Kamailio, contacts as [friend_N]
# sections, which liblinphone moves into its friends database on start.
linphonerc() {
  local rc="$1" port="${2:-}" user="${3:-}" pass="${4:-}"
  mkdir -p "$(dirname "$rc")"
  {
    printf '[sip]\nsip_port=-1\nsip_tcp_port=0\nsip_tls_port=0\n'
    printf '[misc]\nversion_check_url_root=\n'
    if [ -n "$port" ]; then
      printf '[proxy_0]\nreg_proxy=<sip:127.0.0.1:%s;transport=udp>\n' "$port"
      printf 'reg_route=<sip:127.0.0.1:%s;transport=udp;lr>\n' "$port"
      printf 'reg_identity="%s" <sip:%s@127.0.0.1>\nreg_expires=600\nreg_sendregister=1\npublish=0\n' "$user" "$user"
      printf '[auth_info_0]\nusername=%s\nuserid=%s\npasswd=%s\nrealm=127.0.0.1\ndomain=127.0.0.1\n' "$user" "$user" "$pass"
      for i in $(seq 1 "$CONTACTS"); do
        printf '[friend_%d]\nurl="Contact %03d" <sip:%s%03d@127.0.0.1>\npol=accept\nsubscribe=1\n' \
          "$((i - 1))" "$i" "$user" "$i"
      done
    fi
  } >"$rc"
}

# What Kamailio holds for USER: registered contacts (usrloc), and the
# presence SUBSCRIBEs it received from USER (distinct Call-IDs among its
# "initial SUBSCRIBE" log lines; the log prefix carries the Call-ID). Only
# counts are printed, no addresses.
kam_state() {
  local user="$1" regs subs
  regs="$(kamcmd -s "unix:$KAM_DIR/kamailio_ctl" ul.lookup location "$user" 2>/dev/null | grep -c 'Address:' || true)"
  subs="$(grep "initial SUBSCRIBE sip:$user@" "$KAM_DIR"/kamailio*.log 2>/dev/null \
    | sed -n 's/^[^{]*{[^ ]* [^ ]* [^ ]* \([^}]*\)}.*/\1/p' | sort -u | wc -l || true)"
  echo "${regs:-0} ${subs:-0}"
}

check_parley() { echo "$1: kamailio holds $(kam_state alice | awk '{print $1" registration(s), "$2" presence SUBSCRIBE dialog(s)"}') for Parley's account" >&2; kam_state alice >"$OUT/$1.kam"; }
check_linphone() { echo "$1: kamailio holds $(kam_state bob | awk '{print $1" registration(s), "$2" presence SUBSCRIBE dialog(s)"}') for Linphone's account" >&2; kam_state bob >"$OUT/$1.kam"; }

echo "parley: $PARLEY_BIN" >&2
echo "linphone: $(dpkg-query -W -f '${Version}' linphone-desktop 2>/dev/null || echo '?')" >&2

want() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---- idle ----
if want parley-idle; then
  h="$(fresh_home parley-idle)"
  run_app parley-idle "$h" env PARLEY_CONFIG_DIR="$h/.config/parley" PARLEY_DATA_DIR="$h/.local/share/parley" "$PARLEY_BIN"
fi
if want linphone-idle; then
  h="$(fresh_home linphone-idle)"
  linphonerc "$h/.config/linphone/linphonerc"
  run_app linphone-idle "$h" "$LINPHONE_BIN"
fi

# ---- registered, with contacts ----
if want parley-registered || want linphone-registered; then
  start_kamailio
fi
if want parley-registered; then
  h="$(fresh_home parley-registered)"
  printf 'alice123\n' | HOME="$h" "$PARLEY_CLI" --config-dir "$h/.config/parley" --data-dir "$h/.local/share/parley" \
    account add office --uri sip:alice@127.0.0.1 --proxy "sip:127.0.0.1:$KAM_PORT" --password-stdin >&2
  parley_db_with_contacts "$h/.local/share/parley/parley.sqlite" alicecontact
  BEFORE_SAMPLE=check_parley run_app parley-registered "$h" \
    env PARLEY_CONFIG_DIR="$h/.config/parley" PARLEY_DATA_DIR="$h/.local/share/parley" "$PARLEY_BIN"
fi
if want linphone-registered; then
  h="$(fresh_home linphone-registered)"
  linphonerc "$h/.config/linphone/linphonerc" "$KAM_PORT" bob bob123
  BEFORE_SAMPLE=check_linphone run_app linphone-registered "$h" "$LINPHONE_BIN"
fi

# ---- report ----
python3 - "$OUT" "$CONTACTS" <<'EOF'
import json, sys
out, n = sys.argv[1], sys.argv[2]
def load(c):
    try:
        return json.load(open(f"{out}/{c}.json"))
    except OSError:
        return None
def kam(c):
    try:
        r, w = open(f"{out}/{c}.kam").read().split()
        return f"{r} reg, {w} subs"
    except (OSError, ValueError):
        return "-"
mib = lambda k: k / 1024
print(f"{'case':<34} {'Parley MiB':>10} {'Linphone MiB':>12} {'ratio':>6}   kamailio (parley / linphone)")
print("-" * 100)
for case, label in (("idle", "idle"), ("registered", f"registered, {n} contacts w/ presence")):
    p, l = load(f"parley-{case}"), load(f"linphone-{case}")
    ps = f"{mib(p['median_kib']):10.1f}" if p else f"{'-':>10}"
    ls = f"{mib(l['median_kib']):12.1f}" if l else f"{'-':>12}"
    r = f"{p['median_kib'] / l['median_kib']:6.2f}" if p and l else f"{'-':>6}"
    k = "" if case == "idle" else f"   {kam('parley-' + case)} / {kam('linphone-' + case)}"
    print(f"{label:<34} {ps} {ls} {r}{k}")
print(f"{'target':<34} {'':>10} {'':>12} {0.8:6.2f}   (Parley at most 0.8x Linphone)")
print()
print("PSS summed over the app's process tree, median of the samples; per process (median sample):")
for c in ("parley-idle", "linphone-idle", "parley-registered", "linphone-registered"):
    d = load(c)
    if not d:
        print(f"  {c}: not measured")
        continue
    parts = {}
    for p in d["procs"]:
        parts[p["comm"]] = parts.get(p["comm"], 0) + p["pss_kib"]
    body = ", ".join(f"{k} {mib(v):.1f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v)
    print(f"  {c:<20} {mib(d['median_kib']):6.1f} MiB (samples {mib(d['min_kib']):.1f}-{mib(d['max_kib']):.1f}): {body}")
EOF
