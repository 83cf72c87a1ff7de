#!/usr/bin/env bash
# Frame-time benchmark of issue #8: the real Parley window (tauri-driver +
# WebKitWebDriver under Xvfb, as the e2e tests) with CONTACTS contacts that
# have presence, scrolled through and searched; frame times measured in the
# page with requestAnimationFrame (bench/frames.mjs).
#
#   one account (alice) registered at the interop harness's Kamailio
#   (parley-peers, loopback) and CONTACTS contacts sip:contactNNNN@127.0.0.1
#   in its store, all with presence on (Parley SUBSCRIBEs to each); the
#   first two are bob and carol, baresips registered at the same Kamailio
#   that PUBLISH their presence, bob going offline and back every CHURN_S
#   (2) seconds; the rest get Kamailio's answer for a presentity with no
#   publication.
#
# Each build in BUILDS ("label=binary ...", default the current release
# build) runs in turn against the same Kamailio and publishers, each with
# a fresh profile; a label ending in "+gpu" turns GPU compositing on in
# that profile (Settings > Desktop), e.g. BUILDS="cpu=BIN cpu+gpu=BIN".
# OLD_BIN adds a second build (e.g. one before the virtualised list) to
# compare with.
#
#   bench/frames.sh
#   OLD_BIN=/tmp/parley-old CONTACTS=2000 SCROLL_STEP=150 bench/frames.sh
#
# Hold the peers lock (Kamailio's ports) and run it alone: other load on the
# machine shows up as frame time.
#   flock /tmp/parley-peers.lock bench/frames.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-/tmp/parley-frames}"
CONTACTS="${CONTACTS:-2000}"
PARLEY_BIN="${PARLEY_BIN:-$ROOT/target/release/parley}"
PARLEY_CLI="${PARLEY_CLI:-$ROOT/target/release/parley-cli}"
PEERS_BIN="${PEERS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/parley-peers}"
BUILDS="${BUILDS:-virtual=$PARLEY_BIN${OLD_BIN:+ old=$OLD_BIN}}"

if [ -z "${PARLEY_FRAMES_IN_SESSION:-}" ]; then
  for c in xvfb-run tauri-driver WebKitWebDriver kamailio kamcmd sqlite3 dbus-run-session gnome-keyring-daemon node python3; do
    command -v "$c" >/dev/null || { echo "missing $c (the e2e prerequisites: see scripts/test.sh)" >&2; exit 1; }
  done
  bins=("$PARLEY_CLI")
  for b in $BUILDS; do bins+=("${b#*=}"); done
  for b in "${bins[@]}"; do
    [ -x "$b" ] || { echo "missing $b: npm --prefix ui run build; flock /tmp/parley-cargo.lock cargo build --release -p parley --bin parley; ... -p parley-cli" >&2; exit 1; }
  done
  if [ ! -x "$PEERS_BIN" ]; then
    (cd "$ROOT" && flock /tmp/parley-cargo.lock cargo build -p parley-interop --bin parley-peers) >&2
  fi
  export PARLEY_FRAMES_IN_SESSION=1 PARLEY_CLI PEERS_BIN BUILDS
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi

cd "$ROOT"
. "$ROOT/scripts/lib/keyring.sh"
. "$ROOT/bench/kamailio.sh"
rm -rf "$OUT"
mkdir -p "$OUT"
PSS="$ROOT/bench/pss.py"
PEERS_PID=""
CHURN_PID=""
DRAIN_PID=""

cleanup() {
  [ -z "$CHURN_PID" ] || { kill "$CHURN_PID" 2>/dev/null; wait "$CHURN_PID" 2>/dev/null; } || true
  if [ -n "$PEERS_PID" ]; then
    [ -z "${KAM_DIR:-}" ] || cp "$KAM_DIR"/*.log "$OUT/" 2>/dev/null || true
    stop_kamailio
  fi
  [ -z "$DRAIN_PID" ] || { kill "$DRAIN_PID" 2>/dev/null; wait "$DRAIN_PID" 2>/dev/null; } || true
}
trap cleanup EXIT

cli() { local h="$1"; shift; HOME="$h" "$PARLEY_CLI" --config-dir "$h/.config/parley" --data-dir "$h/.local/share/parley" "$@"; }

start_kamailio --baresip bob --baresip carol

# Presence from real presentities: baresip as bob and carol (parley-peers),
# registered at the same Kamailio and publishing; contacts 1 and 2 are
# them. While the driver measures, bob goes offline and back every
# CHURN_S seconds, so NOTIFYs keep arriving during scrolling and search.
EXPECT_PRESENCE='{"Contact 0001":"Available","Contact 0002":"Available"}'
churn() {
  while sleep "${CHURN_S:-2}"; do
    echo "bob presence_offline" >&"$PEERS_IN"
    sleep "${CHURN_S:-2}"
    echo "bob presence_online" >&"$PEERS_IN"
  done
}
# parley-peers answers each command on its stdout: drain it.
# (A dup: a coproc's own descriptors are not passed to subshells.)
exec {PEERS_OUT}<&"${PEERS[0]}"
drain() { cat <&"$PEERS_OUT" >"$OUT/peers-replies.log"; }

args=()
for b in $BUILDS; do
  label="${b%%=*}" bin="${b#*=}"
  h="$OUT/$label/home"
  mkdir -p "$h/.config" "$h/.local/share/parley"
  printf 'alice123\n' | cli "$h" account add office --uri sip:alice@127.0.0.1 --proxy "sip:127.0.0.1:$KAM_PORT" --password-stdin >&2
  python3 "$ROOT/bench/parley_contacts.py" "$ROOT" "$h/.local/share/parley/parley.sqlite" "$CONTACTS" contact 4
  sqlite3 "$h/.local/share/parley/parley.sqlite" \
    "UPDATE contacts SET sip_uri = 'sip:bob@127.0.0.1' WHERE name = 'Contact 0001';
     UPDATE contacts SET sip_uri = 'sip:carol@127.0.0.1' WHERE name = 'Contact 0002';"
  # A label ending in "+gpu" draws with WebKit's GPU compositing (the
  # Settings > Desktop switch; off by default on Linux).
  case "$label" in *+gpu) printf '{"hardware_acceleration": true}\n' >"$h/.config/parley/desktop.json" ;; esac
  args+=("$label=$bin:$h")
done

echo "builds: $BUILDS" >&2
drain &
DRAIN_PID=$!
churn &
CHURN_PID=$!
# xvfb-run hands the command a stderr of /dev/null: keep the driver's progress in a log.
EXPECT_PRESENCE="$EXPECT_PRESENCE" CONTACTS="$CONTACTS" OUT="$OUT" node "$ROOT/bench/frames.mjs" "${args[@]}" 2>"$OUT/frames.log" \
  || { echo "frames.mjs failed; log: $OUT/frames.log" >&2; tail -20 "$OUT/frames.log"; exit 1; }
