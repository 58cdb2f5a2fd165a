#!/usr/bin/env bash
# The real-world corpus: `cargo structlog` against `cargo test`, test by test,
# on the published crates pinned in corpus/crates.toml (their own test
# suites). Downloads, builds and logs go to target/corpus/; the results table
# to target/corpus/results.md. Exit status 0 only when every crate matches.
#
# Usage: scripts/corpus.sh [--only NAME[,NAME...]] [--ci] [--tool PATH] [--jobs N]
#                          [--generate-missing-locks] [--self-test] [--prepare-only]
#
#   --only NAME,...   only these entries of corpus/crates.toml
#   --ci              only the entries marked `ci = true` (a few minutes)
#   --tool PATH       the cargo-structlog binary to measure (default: this
#                     project, built with `cargo build --release --locked`)
#   --jobs N          entries processed at once (default 1; more makes the
#                     wall times less comparable)
#   --generate-missing-locks
#                     write corpus/locks/NAME-VERSION.lock with
#                     `cargo generate-lockfile` where it is missing (then
#                     commit it)
#   --self-test       check the parser and the comparison on made-up input
#                     (no download, no build), then exit
#   --prepare-only    download and unpack the entries only; print each one's
#                     name, source folder and target folder (the benchmark's
#                     real-suite section uses them)
#
# Needs: python3 (3.11 or later, standard library only), curl, cargo, and for
# some crates a C compiler, libssl-dev and cargo-nextest (see "covers" in
# corpus/crates.toml). The first run builds every crate (about 15 minutes on
# 2 cores); later runs reuse target/corpus and are warm (about 6 minutes).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

case "${1:-}" in
  -h|--help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
esac

if ! python3 -c 'import sys, tomllib; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "corpus: needs python3 3.11 or later (tomllib)" >&2
  exit 2
fi
for tool in curl cargo; do
  command -v "$tool" >/dev/null || { echo "corpus: $tool not found" >&2; exit 2; }
done

exec python3 "$root/scripts/corpus.py" --root "$root" "$@"
