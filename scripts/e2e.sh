#!/usr/bin/env bash
# End-to-end tests in the real app window: Xvfb, a private D-Bus session
# with an unlocked gnome-keyring (the Secret Service the app stores
# passwords in), tauri-driver + WebKitWebDriver driving the built app.
# Expects target/debug/parley (or $CARGO_TARGET_DIR/debug/parley) built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PARLEY_IN_SESSION:-}" ]; then
  export PARLEY_IN_SESSION=1
  exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" "$0" "$@"
fi
. "$ROOT/scripts/lib/keyring.sh"
cd "$ROOT"
node --test --test-reporter=spec tests/e2e/
