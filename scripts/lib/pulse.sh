# Sourced by the test runner: a private PulseAudio with only a null sink,
# so cpal streams get a real-time clock without sound hardware (ALSA's own
# "null" device has no clock and spins a core).
export PULSE_RUNTIME_PATH="$(mktemp -d)"
# Clients that ignore PULSE_RUNTIME_PATH (cpal's pure-Rust one) use this.
export PULSE_SERVER="unix:$PULSE_RUNTIME_PATH/native"
pulseaudio --daemonize=yes --exit-idle-time=-1 -n \
  --load="module-null-sink sink_name=parley_null" \
  --load="module-native-protocol-unix" >/dev/null 2>&1 || true
for _ in $(seq 1 50); do [ -S "$PULSE_RUNTIME_PATH/native" ] && break; sleep 0.1; done
pactl set-default-sink parley_null >/dev/null 2>&1 || true
