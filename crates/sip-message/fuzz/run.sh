#!/usr/bin/env bash
# Runs every sip-message fuzz target for a bounded time (scripts/fuzz.sh).
#
#   crates/sip-message/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../../scripts/fuzz.sh" "$here" "message sdp framer bodies" 8192 "$@"
