#!/usr/bin/env bash
# Runs every media fuzz target for a bounded time (scripts/fuzz.sh).
#
#   crates/media/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../../scripts/fuzz.sh" "$here" "rtp" 16384 "$@"
