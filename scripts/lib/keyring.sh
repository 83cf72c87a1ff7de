# Sourced inside a dbus-run-session: starts an unlocked gnome-keyring in
# throwaway directories so the Secret Service (what the OS keyring is on
# Linux) works headless and tests never touch the user's real keyring.
export XDG_DATA_HOME="$(mktemp -d)" XDG_RUNTIME_DIR="$(mktemp -d)"
chmod 700 "$XDG_RUNTIME_DIR"
_kr_env="$(printf 'parley-test' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null || true)"
while IFS='=' read -r k v; do
  [ -n "$k" ] && export "$k=$v"
done <<< "$_kr_env"
unset _kr_env
