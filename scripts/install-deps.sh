#!/usr/bin/env bash
# Installs what Parley needs on Debian 12 / Ubuntu 22.04+:
#   scripts/install-deps.sh          build + run the app
#   scripts/install-deps.sh --test   also the test peers (Kamailio, SIPp,
#                                    baresip), Xvfb, WebKitWebDriver,
#                                    gnome-keyring, PulseAudio, tauri-driver
# Safe to run again: it installs only what is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TEST=0
[ "${1:-}" = --test ] && TEST=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

BUILD_PKGS=(build-essential pkg-config cmake curl file ca-certificates
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev
  libssl-dev libasound2-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev)
TEST_PKGS=(xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring libsecret-tools
  pulseaudio libasound2-plugins
  kamailio kamailio-presence-modules kamailio-sqlite-modules kamailio-tls-modules
  sip-tester baresip baresip-core sox libsox-fmt-all espeak-ng sqlite3 openssl
  iproute2 nftables procps imagemagick x11-apps x11-utils dnsmasq-base dunst xdotool trayer
  haskell-status-notifier-item-utils haskell-gtk-sni-tray-utils libglib2.0-bin)

pkgs=("${BUILD_PKGS[@]}")
[ $TEST = 1 ] && pkgs+=("${TEST_PKGS[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "Node.js $node_major is too old: Parley's UI needs Node 18 or newer" >&2
  exit 1
fi

if ! command -v cargo >/dev/null; then
  echo "==> installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

echo "==> npm: UI dependencies"
if [ ! -d "$ROOT/ui/node_modules" ] || [ "$ROOT/ui/package-lock.json" -nt "$ROOT/ui/node_modules/.package-lock.json" ]; then
  # `npm ci` refuses a lock file that lacks other platforms' optional
  # packages (as one resolved against a registry mirror without them does);
  # `npm install` still installs the locked versions then.
  npm --prefix "$ROOT/ui" ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
    npm --prefix "$ROOT/ui" install --no-audit --no-fund --loglevel=error
fi

if [ $TEST = 1 ] && ! command -v tauri-driver >/dev/null; then
  echo "==> cargo: tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
