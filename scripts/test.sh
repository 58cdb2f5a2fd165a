#!/usr/bin/env bash
# The project's tests with every real checker they use: installs what is
# missing (a Python venv with mozlog, junitparser and xmlschema in
# target/test-venv; playwright-core in tests/browser; xmllint, Chromium and
# gdb from Debian's packages when apt-get can be run), then runs
# `cargo test`. Arguments go to cargo test.
#
# A checker that cannot be installed here makes its tests fail, saying so:
# set STRUCTLOG_ALLOW_MISSING_TOOLS=1 to skip those checks instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

note() { printf '==> %s\n' "$*" >&2; }

missing=()
for tool in xmllint chromium gdb; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo -n"
  note "installing libxml2-utils, chromium and gdb (missing: ${missing[*]})"
  if $sudo_cmd apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
      libxml2-utils chromium gdb >/dev/null 2>&1; then
    :
  else
    note "could not install them (no root?): their checks will fail unless STRUCTLOG_ALLOW_MISSING_TOOLS=1"
  fi
fi

venv=${STRUCTLOG_TEST_VENV:-$root/target/test-venv}
# The tests compare renderings with mozlog's line by line: the version they
# were written against (the README's Performance and conformance notes).
mozlog_version=8.1.0
if ! "$venv/bin/python" -c "import junitparser, xmlschema
from importlib.metadata import version
assert version('mozlog') == '$mozlog_version'" 2>/dev/null; then
  note "python venv with mozlog $mozlog_version, junitparser and xmlschema: $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "mozlog==$mozlog_version" junitparser xmlschema
fi
export STRUCTLOG_PYTHON="$venv/bin/python"

if command -v npm >/dev/null && [ ! -d tests/browser/node_modules/playwright-core ]; then
  note "playwright-core for the browser check"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

note "cargo test $*"
exec cargo test "$@"
