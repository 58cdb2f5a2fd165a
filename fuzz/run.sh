#!/usr/bin/env bash
# Runs every fuzz target for a while: `fuzz/run.sh [SECONDS]` (per target,
# default 60). Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on a
# stable toolchain through RUSTC_BOOTSTRAP=1 (or on nightly: set
# FUZZ_TOOLCHAIN=nightly). The corpus grows in fuzz/corpus/<target> (seeded
# from fuzz/seeds/<target>); a crash is saved in fuzz/artifacts/<target>/
# and stops the script with its status. The targets are safe Rust, so they
# are built without a sanitizer by default (several times faster); set
# FUZZ_SANITIZER=address for AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
toolchain=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain=("+$FUZZ_TOOLCHAIN")
else
    export RUSTC_BOOTSTRAP=1
fi
targets=(libtest_stream raw_log expectations)
build=(-O -s "${FUZZ_SANITIZER:-none}")
cargo "${toolchain[@]}" fuzz build "${build[@]}"
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${seconds}s"
    cargo "${toolchain[@]}" fuzz run "${build[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | grep -E "^(stat::|==|SUMMARY|INFO: Running|Done|.*panicked|artifact_prefix|Test unit)" || true
    status=${PIPESTATUS[0]}
    if [ "$status" != 0 ]; then
        echo "fuzz: $t failed (status $status); see fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
done
