#!/usr/bin/env bash
# Runs a crate's cargo-fuzz targets for a bounded time; each crate's
# fuzz/run.sh calls this with its directory and defaults.
#
#   scripts/fuzz.sh FUZZ_DIR "DEFAULT TARGETS" MAX_LEN [SECONDS_PER_TARGET] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). On a stable
# toolchain RUSTC_BOOTSTRAP=1 enables the nightly flags cargo-fuzz uses.
# New inputs found go to a scratch copy so the committed seed corpus stays
# small; crashes land in fuzz/artifacts/<target>/ and fail the script.
# FUZZ_LOCK=/path serializes the cargo build with other cargo jobs.
set -euo pipefail
cd "$1"
read -r -a targets <<< "$2"
max_len="$3"
shift 3
secs="${1:-60}"
shift || true
if [ $# -gt 0 ]; then
    targets=("$@")
fi
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    work="$(mktemp -d)"
    cp -r "corpus/$t/." "$work/"
    echo "== fuzzing $t for ${secs}s"
    # Shared with other builds on small machines: serialize cargo if asked.
    ${FUZZ_LOCK:+flock "$FUZZ_LOCK"} cargo fuzz build -O "$t"
    cargo fuzz run -O "$t" "$work" -- -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048
    rm -rf "$work"
done
echo "no crashes"
