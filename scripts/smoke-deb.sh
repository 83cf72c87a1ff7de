#!/usr/bin/env bash
# Smoke test of the built .deb in a clean Debian root:
#   1. debootstrap a minimal Debian (same suite and mirror as this machine)
#      once into ~/.cache/parley-smoke/base-SUITE; each run works on an
#      overlay of it, so the base stays clean and later runs are fast;
#   2. `apt-get install ./Parley_*.deb` there, dependencies from the mirror
#      (downloaded .debs are kept in ~/.cache/parley-smoke/archives);
#   3. `parley-cli --version` in the root; `parley` in the root on a private
#      Xvfb display: its "Parley" window must be mapped and the web view
#      process running;
#   4. `apt-get purge parley` and `apt-get autoremove --purge`: none of the
#      package's files, and no file named *parley*, may be left.
#
#   scripts/smoke-deb.sh [PATH/TO/Parley_VERSION_ARCH.deb]
#   scripts/smoke-deb.sh --prepare    only make the cached base root
#
# Without an argument it takes the newest .deb that scripts/package.sh
# built. Needs root (chroot, mounts): run with sudo when not root.
# PARLEY_SMOKE_CACHE, PARLEY_SMOKE_SUITE and PARLEY_SMOKE_MIRROR override
# the cache folder, the suite and the mirror.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=PARLEY_SMOKE_CACHE,PARLEY_SMOKE_SUITE,PARLEY_SMOKE_MIRROR,CARGO_TARGET_DIR "$0" "$@"
fi

CACHE="${PARLEY_SMOKE_CACHE:-$HOME/.cache/parley-smoke}"
# shellcheck disable=SC1091
. /etc/os-release
SUITE="${PARLEY_SMOKE_SUITE:-${VERSION_CODENAME:-bookworm}}"
[ "${ID:-}" = debian ] || SUITE="${PARLEY_SMOKE_SUITE:-bookworm}"

host_mirror() { # $1: regex the URI must match
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
    grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed 's/\[[^]]*\]//' | awk '{print $2}'
  } | grep -E "$1" | head -n1 || true
}
MIRROR="${PARLEY_SMOKE_MIRROR:-$(host_mirror '/debian/?$')}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SECURITY="$(host_mirror '/debian-security/?$')"
SECURITY="${SECURITY:-${MIRROR%/debian}/debian-security}"

# The phase below runs in a private mount namespace: every mount is gone
# when the script ends, however it ends.
if [ -z "${PARLEY_SMOKE_NS:-}" ]; then
  DEB="${1:-}"
  if [ "$DEB" = --prepare ]; then
    :
  elif [ -z "$DEB" ]; then
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    # shellcheck disable=SC2012 # newest first; bundle names have no odd characters
    DEB="$(ls -t "$TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -n1 || true)"
    [ -n "$DEB" ] || { echo "no .deb found: run scripts/package.sh first" >&2; exit 1; }
  fi
  [ "$DEB" = --prepare ] || DEB="$(realpath "$DEB")"
  tools=()
  command -v debootstrap >/dev/null || tools+=(debootstrap)
  command -v Xvfb >/dev/null || tools+=(xvfb)
  command -v xwininfo >/dev/null || tools+=(x11-utils)
  command -v xwd >/dev/null || tools+=(x11-apps)
  if [ ${#tools[@]} -gt 0 ]; then
    echo "==> apt: installing ${tools[*]}"
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${tools[@]}" >/dev/null
  fi
  mkdir -p "$CACHE"
  export PARLEY_SMOKE_NS=1
  # One run at a time per cache.
  exec flock "$CACHE/lock" unshare --mount --propagation private "$0" "$DEB"
fi
DEB="$1"

step() { printf '==> [%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { echo "smoke test FAILED: $*" >&2; exit 1; }
PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "    ok: $*"; }

BASE="$CACHE/base-$SUITE"
if [ ! -f "$BASE/.parley-complete" ]; then
  step "debootstrap $SUITE from $MIRROR into $BASE (once)"
  rm -rf "$BASE"
  debootstrap --variant=minbase "$SUITE" "$BASE" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log" >&2; fail "debootstrap"; }
  rm -f "$BASE"/etc/apt/sources.list
  cat >"$BASE/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
  # No services start inside the root.
  printf '#!/bin/sh\nexit 101\n' >"$BASE/usr/sbin/policy-rc.d"
  chmod +x "$BASE/usr/sbin/policy-rc.d"
  touch "$BASE/.parley-complete"
fi
if [ "$DEB" = --prepare ]; then
  step "base root ready: $BASE"
  exit 0
fi

RUN="$(mktemp -d /tmp/parley-smoke.XXXXXX)"
R="$RUN/root"
XVFB_PID=""
APP_PID=""
cleanup() {
  local pids p
  [ -z "$APP_PID" ] || kill "$APP_PID" 2>/dev/null || true
  # Whatever still runs inside the root was started by this script.
  pids=""
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && pids="$pids ${p#/proc/}"
  done
  # shellcheck disable=SC2086 # a list of pids
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  [ -z "$XVFB_PID" ] || kill "$XVFB_PID" 2>/dev/null || true
  umount -R "$R" 2>/dev/null || umount -lR "$R" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT

mkdir -p "$RUN/upper" "$RUN/work" "$R" "$CACHE/archives/partial"
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount --make-rslave "$R/dev"
mount -t tmpfs tmpfs "$R/tmp"
mount --bind "$CACHE/archives" "$R/var/cache/apt/archives"
cp /etc/resolv.conf "$R/etc/resolv.conf"
cp "$DEB" "$R/tmp/"
PKG_FILE="/tmp/$(basename "$DEB")"
PKG="$(dpkg-deb -f "$DEB" Package)"

in_root() {
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
snapshot() { # every path in the root but the volatile ones and the users' homes
  (cd "$R" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./root -o -path ./home \
    -o -path ./var/cache -o -path ./var/lib/apt/lists -o -path ./var/log -o -path ./run \) -prune -o -print) | sort
}

step "apt-get update in the clean root"
in_root apt-get -qq update || fail "apt-get update"
snapshot >"$RUN/before.txt"

step "apt-get install $(basename "$DEB") (dependencies from $MIRROR)"
in_root apt-get install -y -qq --no-install-recommends "$PKG_FILE" >"$RUN/install.log" 2>&1 ||
  { tail -n 30 "$RUN/install.log" >&2; fail "apt-get install"; }
ok "installed with apt, $(grep -c '^Setting up' "$RUN/install.log") packages set up"
in_root dpkg -L "$PKG" >"$RUN/pkg-files.txt"

step "parley-cli --version"
out="$(in_root parley-cli --version)" || fail "parley-cli --version exited non-zero"
echo "    $out"
echo "$out" | grep -q "$(dpkg-deb -f "$DEB" Version)" || fail "parley-cli --version does not print the package version"
ok "parley-cli --version prints the package version"

step "parley under Xvfb"
# Xvfb picks a free display itself and writes its number to -displayfd only
# once it accepts connections: the socket file appears earlier than that, and
# starting the app on a socket that is not served yet failed CI once with
# "Failed to initialize GTK".
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$RUN/display" >"$RUN/xvfb.log" 2>&1 &
XVFB_PID=$!
DISPLAY_NUM=""
for _ in $(seq 300); do
  DISPLAY_NUM="$(tr -dc 0-9 <"$RUN/display")"
  [ -n "$DISPLAY_NUM" ] && break
  kill -0 "$XVFB_PID" 2>/dev/null || { cat "$RUN/xvfb.log" >&2; fail "Xvfb exited at start"; }
  sleep 0.1
done
[ -n "$DISPLAY_NUM" ] || { cat "$RUN/xvfb.log" >&2; fail "Xvfb did not report a display within 30 s"; }
# Belt and braces: a client must get through before the app is started.
for _ in $(seq 100); do xwininfo -display ":$DISPLAY_NUM" -root >/dev/null 2>&1 && break; sleep 0.1; done
xwininfo -display ":$DISPLAY_NUM" -root >/dev/null 2>&1 || { cat "$RUN/xvfb.log" >&2; fail "display :$DISPLAY_NUM refuses clients"; }
ok "Xvfb serving display :$DISPLAY_NUM"
mkdir -p "$R/tmp/.X11-unix" "$R/tmp/xdg"
chmod 700 "$R/tmp/xdg"
mount --bind /tmp/.X11-unix "$R/tmp/.X11-unix"
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  DISPLAY=":$DISPLAY_NUM" XDG_RUNTIME_DIR=/tmp/xdg parley >"$RUN/app.log" 2>&1 &
APP_PID=$!
window=""
for _ in $(seq 120); do
  kill -0 "$APP_PID" 2>/dev/null || { cat "$RUN/app.log" >&2; fail "parley exited before showing a window"; }
  window="$(xwininfo -display ":$DISPLAY_NUM" -name Parley 2>/dev/null || true)"
  echo "$window" | grep -q 'Map State: IsViewable' && break
  window=""
  sleep 0.5
done
[ -n "$window" ] || { cat "$RUN/app.log" >&2; xwininfo -display ":$DISPLAY_NUM" -root -tree >&2 || true; fail "no Parley window within 60 s"; }
ok "Parley window mapped: $(echo "$window" | grep -E 'xwininfo: Window id' | sed 's/.*Window id: //'), $(echo "$window" | awk '/Width:/{w=$2} /Height:/{h=$2} END{print w "x" h}')"
sleep 3
kill -0 "$APP_PID" 2>/dev/null || { cat "$RUN/app.log" >&2; fail "parley died after showing its window"; }
# The web view painted the UI: the window holds more than a flat colour.
geom() { echo "$window" | sed -n "s/^ *$1: *\(-\?[0-9]*\).*/\1/p" | head -n1; }
for _ in $(seq 20); do
  colours="$(xwd -root -silent -display ":$DISPLAY_NUM" |
    python3 "$ROOT/packaging/test/xwd_window.py" "$(geom 'Absolute upper-left X')" "$(geom 'Absolute upper-left Y')" \
      "$(geom Width)" "$(geom Height)" "$CACHE/last-window.png")" || fail "could not capture the window"
  [ "$colours" -ge 16 ] && break
  sleep 1
done
[ "$colours" -ge 16 ] || fail "the window looks blank ($colours colours; see $CACHE/last-window.png)"
ok "the window shows the UI ($colours colours; screenshot in $CACHE/last-window.png)"
webproc=""
for p in /proc/[0-9]*; do
  [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] || continue
  case "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" in *WebKitWebProcess*) webproc=${p#/proc/} ;; esac
done
[ -n "$webproc" ] || fail "no WebKitWebProcess for the window's web view"
ok "parley (pid $APP_PID) still running, with its WebKitWebProcess (pid $webproc)"
# Without GPU compositing (the default) the web process takes EGL from the
# package's display-only vendor, not from Mesa and its LLVM.
grep -q /usr/lib/parley/libparley_egl_stub.so "/proc/$webproc/maps" ||
  fail "the web process did not load /usr/lib/parley/libparley_egl_stub.so"
# Mesa: libLLVM and *_dri.so (Mesa 22), libgallium-*.so (24.2 on), its EGL.
if grep -qE 'libLLVM|_dri\.so|libgallium|libEGL_mesa' "/proc/$webproc/maps"; then
  fail "the web process mapped Mesa: $(grep -oE '[^/ ]*(libLLVM|_dri\.so|libgallium|libEGL_mesa)[^ ]*' "/proc/$webproc/maps" | sort -u | tr '\n' ' ')"
fi
ok "the web process uses Parley's display-only EGL (no Mesa DRI driver or LLVM mapped)"
kill "$APP_PID"
for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
kill -9 "$APP_PID" 2>/dev/null || true
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
umount "$R/tmp/.X11-unix"
kill "$XVFB_PID" 2>/dev/null || true
wait "$XVFB_PID" 2>/dev/null || true
XVFB_PID=""

step "apt-get purge $PKG, autoremove --purge"
in_root apt-get purge -y -qq "$PKG" >"$RUN/purge.log" 2>&1 || { cat "$RUN/purge.log" >&2; fail "apt-get purge"; }
in_root apt-get autoremove --purge -y -qq >>"$RUN/purge.log" 2>&1 || { cat "$RUN/purge.log" >&2; fail "apt-get autoremove"; }
# shellcheck disable=SC2016 # a dpkg-query format
status_fmt='${db:Status-Abbrev}'
if in_root dpkg-query -W -f="$status_fmt" "$PKG" 2>/dev/null | grep -q .; then
  fail "dpkg still knows $PKG: $(in_root dpkg-query -W -f="$status_fmt" "$PKG")"
fi
left=""
while IFS= read -r f; do
  [ -d "$R$f" ] && continue
  if [ -e "$R$f" ] || [ -L "$R$f" ]; then left="$left $f"; fi
done <"$RUN/pkg-files.txt"
[ -z "$left" ] || fail "files of $PKG left after purge:$left"
ok "purged: dpkg no longer knows $PKG, none of its $(grep -c . "$RUN/pkg-files.txt") paths left"
snapshot >"$RUN/after.txt"
named="$(comm -13 "$RUN/before.txt" "$RUN/after.txt" | grep -i parley || true)"
[ -z "$named" ] || fail "paths named *parley* left after purge: $named"
new="$(comm -13 "$RUN/before.txt" "$RUN/after.txt" | wc -l)"
ok "no path named *parley* left outside home folders ($new other new paths: state of the removed dependencies)"
# A purge leaves what the app wrote into the user's home, as it should.
echo "    kept in /root (user data): $(cd "$R/root" && find . -maxdepth 3 -ipath '*parley*' -prune | sort | tr '\n' ' ')"

step "smoke test passed in $((SECONDS - START)) s"
echo "smoke-deb: $PASSED passed, 0 failed"
