#!/usr/bin/env bash
# Builds Parley's Linux release packages (.deb and .rpm) with Tauri's
# bundler, then checks them:
#   - the .deb's Depends cover every library package the two binaries link
#     (dpkg-shlibdeps), and it ships /usr/bin/parley, /usr/bin/parley-cli,
#     the desktop entry and the AppStream metainfo;
#   - desktop-file-validate accepts the desktop entry, and it registers the
#     sip, sips, tel and callto URI schemes;
#   - appstreamcli validate accepts the metainfo;
#   - the .rpm holds the same files.
#
#   scripts/package.sh                 build deb + rpm
#   scripts/package.sh --bundles deb   build only the .deb
#
# Prints the paths of the packages on its last lines. Updater signatures
# (.sig) are made only when TAURI_SIGNING_PRIVATE_KEY is set, as in the
# release workflow.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUNDLES="deb,rpm"
if [ "${1:-}" = --bundles ]; then BUNDLES="$2"; fi

"$ROOT/scripts/install-deps.sh"
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
tools=()
command -v dpkg-shlibdeps >/dev/null || tools+=(dpkg-dev)
command -v desktop-file-validate >/dev/null || tools+=(desktop-file-utils)
command -v appstreamcli >/dev/null || tools+=(appstream)
case ",$BUNDLES," in *,rpm,*)
  command -v rpm >/dev/null || tools+=(rpm)
  command -v cpio >/dev/null || tools+=(cpio) ;;
esac
if [ ${#tools[@]} -gt 0 ]; then
  echo "==> apt: installing ${tools[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${tools[@]}" >/dev/null
fi

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BUNDLE_DIR="$TARGET_DIR/release/bundle"
VERSION="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "parley"))')"

echo "==> building parley-cli and the display-only EGL vendor (release) for the package"
cargo build --release --locked -p parley-cli -p parley-egl-stub --quiet
mkdir -p packaging/staging
cp "$TARGET_DIR/release/parley-cli" packaging/staging/parley-cli
# /usr/lib/parley: the app points WebKit's EGL at it when the GPU does not
# draw (src-tauri/egl-stub), so the web process does not load Mesa.
cp "$TARGET_DIR/release/libparley_egl_stub.so" packaging/staging/libparley_egl_stub.so

echo "==> tauri build --bundles $BUNDLES (version $VERSION)"
# Old bundles of this version would hide a failed rebuild.
rm -f "$BUNDLE_DIR"/deb/Parley_"$VERSION"_*.deb "$BUNDLE_DIR"/rpm/Parley-"$VERSION"-*.rpm
args=(build --ci --bundles "$BUNDLES")
if [ -z "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  # The updater artifacts need the release signing key (a CI secret).
  args+=(--config '{"bundle":{"createUpdaterArtifacts":false}}')
fi
ui/node_modules/.bin/tauri "${args[@]}" -- --locked

fail() { echo "package check failed: $*" >&2; exit 1; }
CHECK="$(mktemp -d)"
trap 'rm -rf "$CHECK"' EXIT
SCHEMES="x-scheme-handler/sip x-scheme-handler/sips x-scheme-handler/tel x-scheme-handler/callto"

check_tree() { # $1: unpacked package root
  local root="$1" desktop meta s
  for f in usr/bin/parley usr/bin/parley-cli usr/lib/parley/libparley_egl_stub.so usr/share/metainfo/org.parley.Parley.metainfo.xml \
    usr/share/icons/hicolor/128x128/apps/parley.png; do
    [ -e "$root/$f" ] || fail "/$f missing"
  done
  desktop="$(find "$root/usr/share/applications" -name '*.desktop')"
  if [ -z "$desktop" ] || [ "$(echo "$desktop" | wc -l)" != 1 ]; then
    fail "want one .desktop file, got: $desktop"
  fi
  desktop-file-validate "$desktop" || fail "desktop-file-validate rejects $(basename "$desktop")"
  for s in $SCHEMES; do
    grep -q "^MimeType=.*$s;" "$desktop" || fail "$(basename "$desktop") does not register $s"
  done
  meta="$root/usr/share/metainfo/org.parley.Parley.metainfo.xml"
  grep -q "<launchable type=\"desktop-id\">$(basename "$desktop")</launchable>" "$meta" ||
    fail "metainfo's launchable is not $(basename "$desktop")"
  appstreamcli validate --no-net "$meta" || fail "appstreamcli rejects the metainfo"
  "$root/usr/bin/parley-cli" --version >/dev/null || fail "the packaged parley-cli does not run"
}

DEB=""
RPM=""
case ",$BUNDLES," in *,deb,*)
  DEB="$(ls "$BUNDLE_DIR"/deb/Parley_"$VERSION"_*.deb)"
  echo "==> checking $DEB"
  dpkg-deb -I "$DEB"
  mkdir "$CHECK/deb"
  dpkg-deb -x "$DEB" "$CHECK/deb"
  check_tree "$CHECK/deb"
  depends="$(dpkg-deb -f "$DEB" Depends)"
  # Every package whose libraries the binaries link must be a dependency.
  mkdir -p "$CHECK/shlib/debian"
  touch "$CHECK/shlib/debian/control"
  needed="$(cd "$CHECK/shlib" && dpkg-shlibdeps -O "$CHECK/deb/usr/bin/parley" "$CHECK/deb/usr/bin/parley-cli" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p' | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort -u)"
  [ -n "$needed" ] || fail "dpkg-shlibdeps found no libraries"
  for p in $needed; do
    echo "$depends" | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$p" ||
      fail "the binaries link a library of $p, which is not in Depends ($depends)"
  done
  echo "==> Depends cover the linked libraries: $(echo "$needed" | tr '\n' ' ')"
  ;;
esac
case ",$BUNDLES," in *,rpm,*)
  RPM="$(ls "$BUNDLE_DIR"/rpm/Parley-"$VERSION"-*.rpm)"
  echo "==> checking $RPM"
  rpm -qip "$RPM"
  echo "Requires: $(rpm -qpR "$RPM" | tr '\n' ' ')"
  mkdir "$CHECK/rpm"
  rpm -K "$RPM" || fail "rpm rejects the digests of $RPM"
  # rpm2cpio exits 1 on the bundler's rpms after writing the whole payload;
  # check_tree checks what cpio unpacked.
  rpm2cpio "$RPM" >"$CHECK/payload.cpio" || true
  (cd "$CHECK/rpm" && cpio -idm --quiet <"$CHECK/payload.cpio")
  check_tree "$CHECK/rpm"
  ;;
esac

echo "==> packages"
[ -z "$DEB" ] || echo "$DEB"
[ -z "$RPM" ] || echo "$RPM"
