#!/usr/bin/env bash
# Runs every media fuzz target for a bounded time.
#
#   crates/media/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). On a stable
# toolchain RUSTC_BOOTSTRAP=1 enables the nightly flags cargo-fuzz uses.
# New inputs found go to a scratch copy so the committed seed corpus stays
# small; crashes land in fuzz/artifacts/<target>/ and fail the script.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(rtp)
fi
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    work="$(mktemp -d)"
    cp -r "corpus/$t/." "$work/"
    echo "== fuzzing $t for ${secs}s"
    # Shared with other builds on small machines: serialize cargo if asked.
    ${FUZZ_LOCK:+flock "$FUZZ_LOCK"} cargo fuzz build -O "$t"
    cargo fuzz run -O "$t" "$work" -- -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048
    rm -rf "$work"
done
echo "no crashes"
