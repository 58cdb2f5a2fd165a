#!/usr/bin/env bash
# The cargo-structlog benchmark: one command that builds, generates its
# inputs, measures and writes target/bench/results.md.
#
#   1. Live run: `cargo test --no-fail-fast` against `cargo structlog
#      --log-raw FILE` and `cargo structlog` with six sinks, on a generated
#      workspace; then, in rounds of its own (it would disturb the close
#      comparison), `cargo nextest run --no-fail-fast` against `cargo test`
#      (when nextest is installed).
#   2. Replay: `cargo structlog format` of a generated raw log into each sink
#      alone and into all at once, against a JSON-parse floor
#      (examples/replay_floor.rs) and against mozlog's own Python
#      `structlog format FORMAT`.
#   3. Live latency: the delay between a test finishing and its mach line
#      reaching a reader on a pipe (method in scripts/bench_lib.py).
#   4. Archives: `cargo structlog archive` against the build alone (after
#      touching the workspace's sources, and warm), a run from the archive
#      (extraction kept, and extracted each time) against a normal run, and
#      the archive's size against the test executables compressed alone.
#   5. Real suites: `cargo test --no-fail-fast` against `cargo structlog` on
#      published crates with many doctests (editions 2018, 2021 and 2024),
#      pinned in corpus/crates.toml (scripts/corpus.sh compares their
#      results test by test); downloaded and built on first use.
#
# The machine may be shared and timings are noisy, so commands are never
# timed in separate batches: each round runs every command of a section once
# (A B C, then B C A, then C A B, ...), and a ratio is the median of the
# per-round ratios.
#
# Usage: scripts/bench.sh [--smoke] [--rounds N] [--live-rounds N]
#          [--binaries N] [--tests N] [--entries N] [--py-entries N]
#          [--latency-tests N] [--real-rounds N] [--no-real] [--rev REV]
#
#   --smoke          one round of everything at a tiny size (a CI check)
#   --rounds N       rounds of the replay, latency and archive sections (default 7)
#   --live-rounds N  rounds of the live run (default 30: a run takes about
#                    half a second, the target there is a 5% difference, and
#                    per-round ratios on a shared machine spread over +-30%)
#   --binaries N, --tests N   the generated workspace (default 10 x 500)
#   --entries N      the replayed log (default 1,000,000 entries)
#   --py-entries N   the log on which mozlog and cargo-structlog are compared
#                    (default 200,000: mozlog is slow)
#   --latency-tests N  tests in the latency run (default 20, of 100 ms each)
#   --real-rounds N  rounds of the real-suite section (default 5)
#   --no-real        skip the real-suite section (--smoke skips it: it
#                    downloads and builds five crates)
#   --rev REV        measure the tool as of git revision REV instead of the
#                    work tree: it is exported (git archive) to
#                    target/bench/src-<hash> and built there, so figures can
#                    be tied to a commit and compared before/after a change
#
# Environment: STRUCTLOG_BENCH_VENV=DIR  a virtualenv with mozlog installed
#   (else the venv of $STRUCTLOG_PYTHON when it has mozlog's `structlog`,
#   else target/bench/venv, created with `pip install mozlog`).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=full
rounds=7
live_rounds=30
binaries=10
tests=500
entries=1000000
# mozlog's html formatter needs about 80 s and 3 GB for a million entries:
# the comparison with mozlog is made on a smaller log, both tools on it.
py_entries=200000
latency_tests=20
sleep_ms=100
real=1
real_rounds=5
# Doctest-heavy published crates of scripts/corpus.sh (corpus/crates.toml).
real_crates=byteorder,either,num-integer,typed-builder,assert_cmd
rev=
argv="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke)
      # Everything runs, once, at a tiny size: a check that the benchmark works.
      mode=smoke rounds=1 live_rounds=1 binaries=2 tests=20 entries=2000 py_entries=2000
      latency_tests=5 real=0 ;;
    --real-rounds) real_rounds=$2; shift ;;
    --no-real) real=0 ;;
    --rounds) rounds=$2; shift ;;
    --live-rounds) live_rounds=$2; shift ;;
    --rev) rev=$2; shift ;;
    --binaries) binaries=$2; shift ;;
    --tests) tests=$2; shift ;;
    --entries) entries=$2; shift ;;
    --py-entries) py_entries=$2; shift ;;
    --latency-tests) latency_tests=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bench=$root/target/bench
out=$bench/out
logs=$bench/logs
samples=$bench/samples-$mode.jsonl
results=$bench/results.md
[ "$mode" = smoke ] && results=$bench/results-smoke.md
mkdir -p "$bench" "$out" "$logs"
rm -f "$samples"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

step() { printf '\n==> %s\n' "$*"; }

# What changes a test run's output or cost is pinned, so that runs compare:
# backtraces of failing tests (some machines set RUST_BACKTRACE=1), colours.
export RUST_BACKTRACE=0 CARGO_TERM_COLOR=never
# Each workspace builds into its own target/: the paths below rely on it.
unset CARGO_TARGET_DIR

if [ -z "$rev" ]; then
  step "build cargo-structlog and the parse-floor example (release, from the work tree)"
  src=$root
  tool_source="release build of the work tree, HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
else
  hash=$(git rev-parse --verify "$rev^{commit}")
  src=$bench/src-${hash:0:12}
  step "build cargo-structlog as of $rev (${hash:0:12}) in $src (release)"
  if [ ! -f "$src/Cargo.toml" ]; then
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    git archive "$hash" | tar -x -C "$src.tmp"
    mv "$src.tmp" "$src"
  fi
  # The floor example is the revision's own (its library's names may differ
  # from this checkout's), else this checkout's.
  if [ ! -f "$src/examples/replay_floor.rs" ]; then
    mkdir -p "$src/examples"
    cp examples/replay_floor.rs "$src/examples/"
  fi
  tool_source="release build of commit ${hash:0:12}"
fi
(cd "$src" && cargo build --release --bin cargo-structlog --example replay_floor)
tool=$src/target/release/cargo-structlog
floor=$src/target/release/examples/replay_floor
# `cargo structlog` runs this build.
export PATH="$(dirname "$tool"):$PATH"

step "mozlog (Python) for the replay comparison"
venv=${STRUCTLOG_BENCH_VENV:-}
if [ -z "$venv" ] && [ -n "${STRUCTLOG_PYTHON:-}" ] && [ -x "$(dirname "$STRUCTLOG_PYTHON")/structlog" ]; then
  venv=$(dirname "$(dirname "$STRUCTLOG_PYTHON")")
fi
if [ -z "$venv" ]; then
  venv=$bench/venv
  if [ ! -x "$venv/bin/structlog" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check mozlog
  fi
fi
mozlog=$venv/bin/structlog
[ -x "$mozlog" ] || { echo "error: $mozlog not found (set STRUCTLOG_BENCH_VENV)" >&2; exit 1; }
mozlog_version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mozlog"))')
echo "mozlog $mozlog_version at $venv"

step "GNU time, for the peak memory of each replay"
# Its %M is the command's own maximum RSS. (A Python parent's wait4 would
# report at least the parent's own size: see scripts/bench_lib.py.)
time_bin=$(command -v /usr/bin/time || true)
if [ -z "$time_bin" ] && command -v apt-get >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  { $sudo_cmd apt-get install -y -qq time || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq time; }; } >/dev/null 2>&1 || true
  time_bin=$(command -v /usr/bin/time || true)
fi
if [ -n "$time_bin" ]; then
  rss_source="GNU time's %M"
  echo "$time_bin"
else
  rss_source="wait4 in the Python runner: an upper bound, never below the runner's own ~16 MB"
  echo "GNU time is missing and could not be installed: peak RSS falls back to $rss_source"
fi
time_args=()
[ -n "$time_bin" ] && time_args=(--time-bin "$time_bin")

step "cargo-nextest"
if nextest_version=$(cargo nextest --version 2>/dev/null | head -n1); then
  echo "$nextest_version"
  nextest_note=$nextest_version
else
  nextest_version=
  nextest_note="not installed: column skipped"
  echo "cargo-nextest is not installed: its column is skipped"
fi

step "generate the workspaces and build them (the timed runs use a warm build)"
ws=$bench/ws-${binaries}x${tests}
python3 scripts/gen-bench-workspace.py "$ws" --binaries "$binaries" --tests "$tests"
(cd "$ws" && cargo test --no-run --quiet)
lat=$bench/latency-${latency_tests}
python3 scripts/gen-bench-workspace.py "$lat" --latency "$latency_tests" --sleep-ms "$sleep_ms"
(cd "$lat" && cargo test --no-run --quiet)

# A plan line: NAME, accepted exit codes, directory, stdout, then the command.
plan_line() {
  local IFS=$'\t'
  printf '%s\n' "$*"
}

step "1. live run: $binaries binaries x $tests tests, $live_rounds rounds (after one warm-up run each)"
plan=$bench/plan-live.tsv
{
  # Failing tests are part of the workspace: cargo test and cargo structlog
  # exit 101, nextest 100.
  plan_line cargo_test 101 "$ws" /dev/null cargo test --no-fail-fast
  # As a user types them: `cargo structlog` finds the tool on the PATH
  # (put first there below), and both go through the same `cargo`.
  plan_line structlog_raw 101 "$ws" /dev/null cargo structlog --log-raw "$out/live.raw"
  plan_line structlog_all 101 "$ws" /dev/null cargo structlog \
    --log-raw "$out/live-all.raw" --log-mach "$out/live-all.mach" \
    --log-xunit "$out/live-all.xml" --log-tbpl "$out/live-all.tbpl" \
    --log-errorsummary "$out/live-all.errorsummary" --log-html "$out/live-all.html"
} > "$plan"
python3 scripts/bench_lib.py alternate --section live --plan "$plan" --rounds "$live_rounds" \
  --samples "$samples" --logs "$logs" "${time_args[@]}"
# The run's raw log must have every test: a quick sanity check of what was timed.
grep -c '"action":"test_end"' "$out/live-all.raw" | sed 's/^/test_end entries in the last run: /'

# nextest runs in rounds of its own, against cargo test again: a nextest run
# (5,000 processes) leaves the machine slower for whatever runs next, and
# among the close comparison above it would slow some commands more than
# others.
if [ -n "$nextest_version" ]; then
  nextest_rounds=$(( live_rounds < 3 ? live_rounds : 3 ))
  step "1b. live run, cargo-nextest: $nextest_rounds rounds against cargo test"
  plan=$bench/plan-live-nextest.tsv
  {
    plan_line cargo_test 101 "$ws" /dev/null cargo test --no-fail-fast
    plan_line nextest 100 "$ws" /dev/null cargo nextest run --no-fail-fast
  } > "$plan"
  python3 scripts/bench_lib.py alternate --section live_nextest --plan "$plan" \
    --rounds "$nextest_rounds" --samples "$samples" --logs "$logs" "${time_args[@]}"
fi

step "2. replay: generate raw logs of $entries and $py_entries entries"
sinks=(raw mach tbpl errorsummary unittest grouped xunit html)
gen_log() {
  # Deterministic, so a log is regenerated only when the generator changed.
  local n=$1 file=$bench/raw-$1.log
  if [ ! -s "$file" ] || [ "$file" -ot scripts/gen-raw-log.py ]; then
    python3 scripts/gen-raw-log.py --entries "$n" --out "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  echo "$file: $(du -m "$file" | cut -f1) MB"
}
gen_log "$entries"
gen_log "$py_entries"
big=$bench/raw-$entries.log
small=$bench/raw-$py_entries.log
all_sinks() { # all_sinks PREFIX: --log-FORMAT PREFIX.FORMAT for every sink
  local f
  for f in "${sinks[@]}"; do printf '%s\t' "--log-$f" "$1.$f"; done
}

step "2. replay: $rounds rounds (after one warm-up run each)"
plan=$bench/plan-replay.tsv
{
  plan_line floor_lines 0 "$bench" /dev/null "$floor" lines "$big"
  plan_line floor_value 0 "$bench" /dev/null "$floor" value "$big"
  plan_line floor_entry 0 "$bench" /dev/null "$floor" entry "$big"
  for f in "${sinks[@]}"; do
    plan_line "rs1m_$f" 0 "$bench" /dev/null "$tool" structlog format --input "$big" --log-$f "$out/big.$f"
  done
  printf 'rs1m_all\t0\t%s\t/dev/null\t%s\tstructlog\tformat\t--input\t%s\t%s\n' \
    "$bench" "$tool" "$big" "$(all_sinks "$out/big-all")"
  for f in "${sinks[@]}"; do
    plan_line "rs_$f" 0 "$bench" /dev/null "$tool" structlog format --input "$small" --log-$f "$out/small.$f"
  done
  printf 'rs_all\t0\t%s\t/dev/null\t%s\tstructlog\tformat\t--input\t%s\t%s\n' \
    "$bench" "$tool" "$small" "$(all_sinks "$out/small-all")"
  for f in "${sinks[@]}"; do
    plan_line "py_$f" 0 "$bench" /dev/null "$mozlog" format --input "$small" --output "$out/py.$f" "$f"
  done
} > "$plan"
python3 scripts/bench_lib.py alternate --section replay --plan "$plan" --rounds "$rounds" \
  --samples "$samples" --logs "$logs" "${time_args[@]}"

step "3. live latency: $latency_tests tests of ${sleep_ms} ms, --test-threads 1, $rounds rounds"
python3 scripts/bench_lib.py latency --tool "$tool" --ws "$lat" --tests "$latency_tests" \
  --rounds "$rounds" --samples "$samples" --logs "$logs"

step "4. archives: make one of the generated workspace and run from it, $rounds rounds"
arch=$bench/archive
rm -rf "$arch" && mkdir -p "$arch"
# Touched: the workspace's own crates are rebuilt (its dependencies are not),
# as in a CI job whose cache holds the dependencies.
touch_ws="touch bench/src/lib.rs bench/tests/*.rs"
plan=$bench/plan-archive-make.tsv
{
  plan_line build_touched 0 "$ws" /dev/null sh -c "$touch_ws && cargo test --no-run --quiet"
  plan_line archive_touched 0 "$ws" /dev/null sh -c "$touch_ws && cargo structlog archive --archive-file $arch/touched.tar.zst"
  plan_line build_warm 0 "$ws" /dev/null cargo test --no-run --quiet
  plan_line archive_warm 0 "$ws" /dev/null cargo structlog archive --archive-file "$arch/tests.tar.zst"
} > "$plan"
python3 scripts/bench_lib.py alternate --section archive_make --plan "$plan" --rounds "$rounds" \
  --samples "$samples" --logs "$logs" "${time_args[@]}"
plan=$bench/plan-archive-run.tsv
{
  plan_line run_normal 101 "$ws" /dev/null cargo structlog --log-raw "$out/archive-normal.raw"
  plan_line run_extracted 101 "$ws" /dev/null "$tool" structlog run --archive-file "$arch/tests.tar.zst" \
    --extract-to "$arch/extracted" --log-raw "$out/archive-extracted.raw"
  plan_line run_archive 101 "$ws" /dev/null "$tool" structlog run --archive-file "$arch/tests.tar.zst" \
    --log-raw "$out/archive-each.raw"
} > "$plan"
python3 scripts/bench_lib.py alternate --section archive_run --plan "$plan" --rounds "$rounds" \
  --samples "$samples" --logs "$logs" "${time_args[@]}"
# Sizes: the archive, and the test executables alone (the ones cargo
# reports), tarred and compressed with zstd at the archive's level.
exes=$(cd "$ws" && cargo test --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys; [print(m["executable"]) for m in map(json.loads, sys.stdin) if m.get("executable")]')
exe_bytes=$(du -cb $exes | tail -n1 | cut -f1)
if command -v zstd >/dev/null; then
  exe_zst=$(tar -cf - $exes 2>/dev/null | zstd -q -3 -T0 -c | wc -c)
else
  exe_zst=n/a
fi
archive_meta=(--meta "archive_bytes=$(stat -c %s "$arch/tests.tar.zst")" \
  --meta "archive_exe_bytes=$exe_bytes" --meta "archive_exe_zst=$exe_zst" \
  --meta "archive_members=$(tar --zstd -tf "$arch/tests.tar.zst" 2>/dev/null | wc -l)")
echo "archive: $(stat -c %s "$arch/tests.tar.zst") bytes; test executables: $exe_bytes bytes, $exe_zst compressed"

real_meta=()
if [ "$real" = 1 ]; then
  step "5. real suites ($real_crates): download, build, $real_rounds rounds"
  real_list=$bench/real-suites.tsv
  scripts/corpus.sh --prepare-only --only "$real_crates" > "$real_list"
  plan=$bench/plan-real.tsv
  : > "$plan"
  while IFS=$'\t' read -r name src_dir target_dir; do
    # Warm: the tests built, as for the live run (both tools then build nothing).
    (cd "$src_dir" && CARGO_TARGET_DIR=$target_dir cargo test --locked --no-run --quiet)
    plan_line "real_cargo_$name" 0 "$src_dir" /dev/null \
      env "CARGO_TARGET_DIR=$target_dir" cargo test --locked --no-fail-fast >> "$plan"
    plan_line "real_tool_$name" 0 "$src_dir" /dev/null \
      env "CARGO_TARGET_DIR=$target_dir" cargo structlog --locked --log-raw "$out/real-$name.raw" >> "$plan"
  done < "$real_list"
  python3 scripts/bench_lib.py alternate --section real --plan "$plan" --rounds "$real_rounds" \
    --samples "$samples" --logs "$logs" "${time_args[@]}"
  # What was timed: tests and doctests per crate, and doctests that failed
  # merged and ran again on their own.
  while IFS=$'\t' read -r name _ _; do
    raw=$out/real-$name.raw
    # (Not `tests`: that is the live section's workspace size, reported below.)
    ended=$(grep -c '"action":"test_end"' "$raw" || true)
    docs=$(grep '"action":"test_end"' "$raw" | grep -c '"group":"[^"]*::doc"' || true)
    again=$(grep '"action":"test_end"' "$raw" | grep -c '"merged":{' || true)
    real_meta+=(--meta "real_$name=$ended,$docs,$again")
  done < "$real_list"
fi

step "results ($results)"
python3 scripts/bench_lib.py report --samples "$samples" --out "$results" \
  --meta "mode=$mode" --meta "argv=$argv" --meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
  --meta "host=$(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)" \
  --meta "rustc=$(rustc --version)" --meta "tool=cargo-structlog $(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml" | head -n1) ($tool_source)" \
  --meta "mozlog=$mozlog_version (Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'))" \
  --meta "nextest=$nextest_note" --meta "rss_source=$rss_source" \
  --meta "load_start=$load_start" --meta "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" \
  --meta "duration=$(( $(date +%s) - started )) s" \
  --meta "binaries=$binaries" --meta "tests=$tests" --meta "rounds=$rounds" \
  --meta "live_rounds=$live_rounds" \
  --meta "entries=$entries" --meta "py_entries=$py_entries" \
  --meta "log_mb=$(du -m "$big" | cut -f1) MB" \
  --meta "latency_tests=$latency_tests" --meta "sleep_ms=$sleep_ms" \
  --meta "real_rounds=$real_rounds" "${real_meta[@]}" "${archive_meta[@]}"
