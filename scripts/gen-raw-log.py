#!/usr/bin/env python3
"""Write a realistic mozlog raw log (one JSON entry per line) for replay benchmarks.

The log looks like what `cargo structlog --log-raw` writes for a large
workspace run with two test threads:

* one `suite_start` listing every test, grouped by test binary, with run_info;
* per binary: `process_start`, then its tests two at a time (test_start A,
  test_start B, A's output and test_end, B's output and test_end), then
  `process_exit`;
* most tests pass silently; about 15% print 1-4 lines (process_output);
  about 1% are skipped (some with a reason), 0.5% are #[should_panic]
  tests that fail as expected, 0.3% fail unexpectedly with a message and a
  stack (a third of them with a full backtrace), 0.05% are ERROR (a panic
  with the wrong message) and 0.05% pass unexpectedly;
* a few `log` entries (INFO at the start, WARNINGs for slow tests);
* `suite_end`.

There is no TIMEOUT or CRASH result: mozlog's own unittest formatter raises
KeyError on an unexpected TIMEOUT or CRASH, and the benchmark compares
against it on the same log. All text is ASCII (mozlog's xunit formatter
fails on non-ASCII messages).

The output is deterministic: a fixed seed, a self-contained PRNG and fixed
timestamps, so the same arguments always give the same bytes. `--entries`
is exact: the log has exactly that many lines.

Usage: gen-raw-log.py --entries 1000000 --out run.log
"""

import argparse
import json
import sys

# Start of the fake run: fixed, so that the log is the same every time.
T0 = 1795297297000


class Rng:
    """xorshift64*: deterministic on every Python version (random's algorithms
    for ranges changed between versions)."""

    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF

    def next(self):
        x = self.s
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        return (self.next() >> 11) % n

    def chance(self, per_10000):
        return self.below(10000) < per_10000


# Outcomes, in parts per 10,000 tests (the rest pass).
SKIP, XFAIL, FAIL, ERROR, XPASS = "skip", "xfail", "fail", "error", "xpass"
OUTCOMES = [(SKIP, 100), (XFAIL, 50), (FAIL, 30), (ERROR, 5), (XPASS, 5)]

WORDS = ["parse", "render", "encode", "decode", "merge", "split", "index", "query",
         "cache", "retry", "config", "schema", "token", "stream", "buffer", "limit"]

BACKTRACE = "\n".join([
    "stack backtrace:",
    "   0: __rustc::rust_begin_unwind",
    "             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5",
    "   1: core::panicking::panic_fmt",
    "             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/panicking.rs:80:14",
    "   2: core::panicking::assert_failed_inner",
    "   3: core::panicking::assert_failed",
    "             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/panicking.rs:403:5",
    "   4: {name}",
    "             at ./{path}:{line}:9",
    "   5: {name}::{{{{closure}}}}",
    "             at ./{path}:{fline}:20",
    "   6: core::ops::function::FnOnce::call_once",
    "             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ops/function.rs:250:5",
    "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
])


def plan(entries, rng):
    """Decides the binaries, their tests and each test's outcome and output,
    so that the log has exactly `entries` lines. Returns (groups, extra_lines)."""
    # Fixed entries: suite_start, the INFO log, suite_end.
    budget = entries - 3
    groups = []
    g = 0
    while budget > 0:
        pkg = "crate%02d" % (g % 40)
        kind = g // 40
        name = pkg if kind == 0 else "%s::it_%s%d" % (pkg, WORDS[g % len(WORDS)], kind)
        path = "%s/src/lib.rs" % pkg if kind == 0 else "%s/tests/it_%s%d.rs" % (
            pkg, WORDS[g % len(WORDS)], kind)
        # process_start and process_exit.
        if budget < 2 + 2:
            break
        budget -= 2
        size = 400 + rng.below(1600)
        tests = []
        for i in range(size):
            if budget < 2:
                break
            outcome = "pass"
            roll = rng.below(10000)
            acc = 0
            for o, share in OUTCOMES:
                acc += share
                if roll < acc:
                    outcome = o
                    break
            lines = 0
            if outcome != SKIP and rng.chance(1500):
                lines = 1 + rng.below(4)
            if outcome == XFAIL:
                lines += 3  # the expected panic's report, kept as output
            warn = outcome == "pass" and rng.chance(2)
            cost = 2 + lines + (1 if warn else 0)
            if cost > budget:
                lines, warn = 0, False
                cost = 2
            budget -= cost
            module = WORDS[(i // 50) % len(WORDS)]
            test = "%s %s::case_%04d_%s" % (name, module, i, WORDS[(i * 7) % len(WORDS)])
            tests.append((test, outcome, lines, warn, 10 + i * 6))
        groups.append((name, path, 20000 + g, tests))
        g += 1
        if budget <= 1:
            break
    # Whatever is left (0 or 1 line) becomes output of the very last test.
    return groups, budget


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000, help="exact number of lines")
    ap.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.entries < 20:
        ap.error("--entries must be at least 20")
    rng = Rng(args.seed)
    groups, leftover = plan(args.entries, rng)

    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="ascii", newline="\n")
    dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
    written = 0
    t = T0

    def put(obj):
        nonlocal written
        out.write(dumps(obj))
        out.write("\n")
        written += 1

    def common(action, thread, pid):
        return {"action": action, "time": t, "thread": thread, "pid": pid,
                "source": "cargo-structlog"}

    main_pid = 4242
    e = common("suite_start", "main", main_pid)
    e["tests"] = {name: [tt[0] for tt in tests] for name, _, _, tests in groups}
    e["name"] = "bench"
    e["run_info"] = {"arch": "x86_64", "debug": True, "hostname": "bench-host", "os": "linux",
                     "profile": "dev", "rustc": "rustc 1.95.0 (59807616e 2026-04-14)",
                     "workspace": "/home/ci/work/bench"}
    put(e)
    e = common("log", "main", main_pid)
    e.update(level="INFO", message="running %d test binaries" % len(groups))
    put(e)

    for gi, (name, path, pid, tests) in enumerate(groups):
        e = common("process_start", name, pid)
        e.update(process=str(pid), command="/home/ci/work/bench/target/debug/deps/%s-%016x "
                 "--format json -Zunstable-options --report-time --show-output"
                 % (name.split("::")[0], 0x5EED0000 + gi))
        put(e)
        failed = False
        last_group = gi == len(groups) - 1
        for k in range(0, len(tests), 2):
            pair = tests[k:k + 2]
            for test, _, _, _, _ in pair:
                e = common("test_start", test, pid)
                e.update(test=test, path=path, group=name)
                put(e)
            for j, (test, outcome, lines, warn, line) in enumerate(pair):
                is_last = last_group and k + j == len(tests) - 1
                if is_last:
                    lines += leftover
                t += rng.below(3)
                if warn:
                    e = common("log", test, pid)
                    e.update(level="WARNING",
                             message="%s has been running for over 60 seconds" % test)
                    put(e)
                fn = test.split(" ", 1)[1]
                for n in range(lines):
                    e = common("process_output", test, pid)
                    if outcome == XFAIL and n >= lines - 3:
                        data = ["", "thread '%s' (%d) panicked at %s:%d:9:" % (fn, pid + 7, path,
                                                                             line + 2),
                                "index out of bounds: the len is 3 but the index is 7"][n - (lines - 3)]
                    else:
                        data = "%s: step %d of %d, %d items, checksum %08x" % (
                            WORDS[(line + n) % len(WORDS)], n + 1, lines, rng.below(5000),
                            rng.next() & 0xFFFFFFFF)
                    e.update(process=str(pid), data=data, test=test)
                    put(e)
                e = common("test_end", test, pid)
                e.update(test=test)
                extra = {"line": line}
                if outcome == "pass":
                    e["status"] = "PASS"
                elif outcome == SKIP:
                    e["status"] = "SKIP"
                    if rng.chance(5000):
                        e["message"] = "needs network"
                elif outcome == XFAIL:
                    e["status"] = "FAIL"
                    extra["should_panic"] = True
                elif outcome == FAIL:
                    failed = True
                    e.update(status="FAIL", expected="PASS")
                    a, b = rng.below(100), rng.below(100) + 100
                    e["message"] = ("assertion `left == right` failed: %s mismatch\n  left: %d\n right: %d"
                                    % (WORDS[line % len(WORDS)], a, b))
                    where = "%s:%d:9" % (path, line + 3)
                    stack = "panicked at " + where
                    if rng.chance(3333):
                        stack += "\n" + BACKTRACE.format(name=fn.replace(" ", "::"), path=path,
                                                         line=line + 3, fline=line)
                    e["stack"] = stack
                    extra["panic_location"] = where
                elif outcome == ERROR:
                    failed = True
                    e.update(status="ERROR", expected="FAIL",
                             message="panic did not contain expected string\n"
                                     "      panic message: \"index out of range\"\n"
                                     " expected substring: \"overflow\"")
                    extra["should_panic"] = True
                elif outcome == XPASS:
                    failed = True
                    e.update(status="PASS", expected="FAIL",
                             message="test did not panic as expected at %s:%d:8" % (path, line))
                    extra["should_panic"] = True
                e["extra"] = extra
                e["group"] = name
                put(e)
        t += 1
        e = common("process_exit", name, pid)
        e.update(process=str(pid), exitcode=101 if failed else 0)
        put(e)

    t += 5
    put(common("suite_end", "main", main_pid))
    if out is not sys.stdout:
        out.close()
    if written != args.entries:
        sys.exit("internal error: wrote %d entries, wanted %d" % (written, args.entries))


if __name__ == "__main__":
    main()
