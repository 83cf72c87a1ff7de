#!/usr/bin/env bash
# Installs everything, builds Parley and starts the app.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
echo "==> building the UI"
npm --prefix "$ROOT/ui" run build --silent
echo "==> building and starting Parley"
cd "$ROOT"
# The display-only EGL vendor lands beside the binary, where the app looks.
cargo build --quiet -p parley-egl-stub
exec cargo run --quiet -p parley "$@"
