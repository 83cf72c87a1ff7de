#!/usr/bin/env bash
# Installs everything (system packages, npm packages, Rust deps, the test
# peers) and runs every test: formatting and lints, Rust unit and
# integration tests, interop tests against real Kamailio/SIPp/baresip,
# the UI's type check and Vitest tests, the ts-rs bindings drift check, and
# the end-to-end tests in the real app window.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${PARLEY_IN_SESSION:-}" ]; then
  "$ROOT/scripts/install-deps.sh" --test
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  # Everything below runs in a private D-Bus session (for the keyring).
  export PARLEY_IN_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi

. "$ROOT/scripts/lib/keyring.sh"
. "$ROOT/scripts/lib/pulse.sh"
trap 'pulseaudio --kill >/dev/null 2>&1 || true' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "UI: build, type check, unit tests (Vitest)"
npm --prefix ui run build --silent
npm --prefix ui run check --silent
npm --prefix ui test --silent

step "Rust: format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Rust: unit, integration and interop tests (real Kamailio, SIPp, baresip)"
PARLEY_TEST_KEYRING=1 PARLEY_TEST_AUDIO=1 cargo test --workspace --no-fail-fast

step "TypeScript bindings are up to date with the Rust types"
if ! git diff --exit-code --stat -- ui/src/lib/bindings || [ -n "$(git ls-files --others --exclude-standard ui/src/lib/bindings)" ]; then
  echo "ui/src/lib/bindings drifted from the Rust types: commit the regenerated files" >&2
  exit 1
fi

step "End-to-end: the real app window (tauri-driver, WebKitWebDriver, Xvfb)"
# Two commands: `--bin parley-peers` would narrow `-p parley` to no
# binary at all, and the e2e run would drive a stale app from the cache.
# The UI was built above; the app embeds ui/dist when it compiles.
cargo build -p parley --bin parley --quiet
cargo build -p parley-egl-stub --quiet
cargo build -p parley-interop --bin parley-peers --quiet
xvfb-run -a -s "-screen 0 1280x800x24" node --test --test-reporter=spec tests/e2e/

printf '\nAll test suites passed.\n'
