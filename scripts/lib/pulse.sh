# Sourced by the test runner: a private PulseAudio with only a null sink,
# so cpal streams get a real-time clock without sound hardware (ALSA's own
# "null" device has no clock and spins a core).
export PULSE_RUNTIME_PATH="$(mktemp -d)"
pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit=no -n \
  --load="module-null-sink sink_name=parley_null" \
  --load="module-native-protocol-unix" >/dev/null 2>&1 || true
pactl set-default-sink parley_null >/dev/null 2>&1 || true
