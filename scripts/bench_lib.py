#!/usr/bin/env python3
"""The measuring half of scripts/bench.sh (standard library only).

Subcommands:

  alternate  Runs the commands of a plan file in turn, round after round
             (A B C, B C A, C A B, ...), so that a change in the machine's
             load hits every command alike, and appends one sample per run
             (wall time, peak RSS, exit status, load average) to a JSON-lines
             file.
  latency    Measures the delay between a test finishing and its result
             line reaching a reader of the runner's stdout (see below).
  report     Turns the samples into results.md: medians, and ratios taken
             pair by pair (round i of A against round i of B), with the
             targets marked met or missed.

Plan file: one command per line, fields separated by tabs:
  NAME  EXPECTED_EXIT_CODES(comma-separated)  CWD  STDOUT_FILE  ARGV...
The command is started directly (no shell), so the time and the peak RSS
(from wait4, as GNU time reports them) are those of the program itself.

Latency method: the latency workspace's tests each sleep, then append their
name and the wall-clock time (microseconds) to $BENCH_STAMPS as the last thing
before returning. The runner's stdout is a pipe read here with os.read; each
chunk is timestamped on arrival (the same wall clock). A test's delay is the
arrival of its result line minus its stamp: it includes libtest reporting
the result, the runner's reading, translating and formatting, and the pipe.
With --test-threads 1 one test runs at a time, so results do not queue
behind each other. `cargo test` itself (libtest's pretty output, line
buffered on the same pipe) is measured the same way as the baseline.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def load():
    return os.getloadavg()[0]


# ---------------------------------------------------------------- alternate

def read_plan(path):
    plan = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) < 5:
                sys.exit("%s:%d: want NAME CODES CWD STDOUT ARGV..." % (path, n))
            name, codes, cwd, stdout = fields[:4]
            argv = [a for a in fields[4:] if a != ""]
            plan.append({"name": name, "codes": [int(c) for c in codes.split(",")],
                         "cwd": cwd, "stdout": stdout, "argv": argv})
    return plan


def run_once(cmd, errlog, time_bin):
    """Runs one command; returns (wall seconds, peak RSS in KiB, exit code).

    The peak RSS comes from GNU time (`time_bin`) when given. Not from this
    process's own wait4: Linux carries the forking parent's peak RSS over
    an exec into the child's, so a child of this Python process would never
    show less than this process's ~16 MB; GNU time's own footprint is ~2 MB.
    wait4's figure is also the maximum over every process of the tree that
    was waited for (cargo, rustc, ...), which is meaningful only for a
    single-process command such as a replay."""
    argv = cmd["argv"]
    # Absolute: GNU time resolves -o in the command's directory.
    rss_file = os.path.abspath(errlog + ".rss")
    if time_bin:
        argv = [time_bin, "-f", "%M", "-o", rss_file] + argv
    with open(cmd["stdout"], "wb") as out, open(errlog, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cmd["cwd"], stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code  # reaped here: keep Popen from waiting again
    rss = usage.ru_maxrss
    if time_bin:
        with open(rss_file, encoding="utf-8") as f:
            # GNU time writes "Command exited with non-zero status N" first
            # when the command fails: the figure is the last line.
            rss = int(f.read().split()[-1])
    return wall, rss, code


def check(cmd, code, errlog):
    if code in cmd["codes"]:
        return
    print("\nerror: %s exited with %d (expected %s): %s" % (
        cmd["name"], code, "/".join(map(str, cmd["codes"])), " ".join(cmd["argv"])),
        file=sys.stderr)
    with open(errlog, "rb") as f:
        tail = f.read()[-3000:].decode("utf-8", "replace")
    print("--- last lines of its stderr (%s):\n%s" % (errlog, tail), file=sys.stderr)
    sys.exit(1)


def alternate(args):
    plan = read_plan(args.plan)
    os.makedirs(args.logs, exist_ok=True)
    width = max(len(c["name"]) for c in plan)
    for w in range(args.warmup):
        for cmd in plan:
            errlog = os.path.join(args.logs, cmd["name"] + ".stderr")
            wall, _, code = run_once(cmd, errlog, args.time_bin)
            check(cmd, code, errlog)
            print("  warm-up    %-*s %8.3f s" % (width, cmd["name"], wall), flush=True)
    walls = {c["name"]: [] for c in plan}
    with open(args.samples, "a", encoding="utf-8") as samples:
        for r in range(1, args.rounds + 1):
            # Each round starts one command further on (A B C, B C A, C A B,
            # ...), so that no command always runs first, or right after the
            # same one. That is not enough to share out the after-effects of
            # a much heavier command: with A B C N, whatever follows N within
            # a round is A three rounds in four and C never. A heavy command
            # (nextest's 5,000 processes) gets rounds of its own.
            k = (r - 1) % len(plan)
            for cmd in plan[k:] + plan[:k]:
                errlog = os.path.join(args.logs, cmd["name"] + ".stderr")
                before = load()
                wall, rss, code = run_once(cmd, errlog, args.time_bin)
                check(cmd, code, errlog)
                walls[cmd["name"]].append(wall)
                samples.write(json.dumps({
                    "section": args.section, "round": r, "name": cmd["name"], "wall": wall,
                    "maxrss_kb": rss, "code": code, "load": before}) + "\n")
                samples.flush()
                print("  round %d/%d  %-*s %8.3f s  %7.1f MB  load %.2f" % (
                    r, args.rounds, width, cmd["name"], wall, rss / 1024, before), flush=True)
    print("  medians:", ", ".join("%s %.3f s" % (n, statistics.median(w))
                                  for n, w in walls.items()), flush=True)


# ---------------------------------------------------------------- latency

def read_stamps(path):
    stamps = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, us = line.split()
                stamps[name] = int(us)
    except FileNotFoundError:
        pass
    return stamps


def arrivals(argv, cwd, env, errlog, result_line):
    """Runs argv with stdout on a pipe; returns {test: arrival time in µs} for
    each line that `result_line` maps to a test name, and the exit code."""
    seen = {}
    with open(errlog, "wb") as err:
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err,
                             stdin=subprocess.DEVNULL)
        fd = p.stdout.fileno()
        pending = b""
        state = {}
        while True:
            chunk = os.read(fd, 1 << 16)
            now_us = time.time_ns() // 1000
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                name = result_line(raw.decode("utf-8", "replace"), state)
                if name is not None and name not in seen:
                    seen[name] = now_us
        code = p.wait()
    return seen, code


def structlog_mach_line(line, state):
    # Without --log-mach-verbose, a test's TEST_START and TEST_END lines are
    # printed together when it ends; the TEST_END line does not repeat the
    # name, so the name comes from the TEST_START line before it.
    m = re.search(r"TEST_START: (\S+) (\S+)\s*$", line)
    if m:
        state["test"] = m.group(2)
        return None
    if "TEST_END:" in line:
        return state.pop("test", None)
    return None


def libtest_pretty_line(line, state):
    m = re.match(r"test (\S+) \.\.\. (ok|FAILED|ignored)", line)
    return m.group(1) if m else None


def latency(args):
    os.makedirs(args.logs, exist_ok=True)
    manifest = os.path.join(args.ws, "Cargo.toml")
    runners = [
        ("structlog_mach", [args.tool, "structlog", "--manifest-path", manifest,
                            "--test", "sleepy", "--test-threads", "1", "--color", "never",
                            "--log-mach", "-"], structlog_mach_line),
        ("cargo_test", ["cargo", "test", "--manifest-path", manifest, "--test", "sleepy",
                        "--", "--test-threads=1"], libtest_pretty_line),
    ]
    with open(args.samples, "a", encoding="utf-8") as samples:
        for r in range(0, args.rounds + 1):
            for name, argv, parse in runners:
                stamps_path = os.path.join(args.logs, "latency-%s.stamps" % name)
                if os.path.exists(stamps_path):
                    os.remove(stamps_path)
                env = dict(os.environ, BENCH_STAMPS=stamps_path)
                errlog = os.path.join(args.logs, "latency-%s.stderr" % name)
                before = load()
                seen, code = arrivals(argv, args.ws, env, errlog, parse)
                stamps = read_stamps(stamps_path)
                if code not in (0,) or len(stamps) != args.tests or set(seen) != set(stamps):
                    with open(errlog, "rb") as f:
                        tail = f.read()[-3000:].decode("utf-8", "replace")
                    sys.exit("error: latency run %s: exit %d, %d stamps, %d result lines "
                             "(want %d of each)\n--- stderr tail:\n%s"
                             % (name, code, len(stamps), len(seen), args.tests, tail))
                delays = sorted((seen[t] - stamps[t]) / 1000 for t in stamps)
                if r == 0:
                    print("  warm-up    %-15s median %7.2f ms" % (name, statistics.median(delays)),
                          flush=True)
                    continue
                for t in sorted(stamps):
                    samples.write(json.dumps({
                        "section": "latency", "round": r, "name": name, "test": t,
                        "delay_ms": (seen[t] - stamps[t]) / 1000, "load": before}) + "\n")
                print("  round %d/%d  %-15s median %7.2f ms  max %7.2f ms  load %.2f" % (
                    r, args.rounds, name, statistics.median(delays), delays[-1], before),
                    flush=True)


# ---------------------------------------------------------------- report

SINKS = ["raw", "mach", "tbpl", "errorsummary", "unittest", "grouped", "xunit", "html"]
SMALL_MEMORY = {"raw", "mach", "tbpl", "errorsummary", "unittest"}


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class Samples:
    def __init__(self, path):
        self.rows = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    self.rows.append(json.loads(line))

    def by_round(self, section, name, field="wall"):
        return {r["round"]: r[field] for r in self.rows
                if r["section"] == section and r["name"] == name}

    def values(self, section, name, field="wall"):
        return list(self.by_round(section, name, field).values())

    def has(self, section, name):
        return any(r["section"] == section and r["name"] == name for r in self.rows)

    def pair_ratios(self, section, num, den):
        """num_i / den_i for every round i both have."""
        a = self.by_round(section, num)
        b = self.by_round(section, den)
        return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]

    def loads(self, section):
        return [r["load"] for r in self.rows if r["section"] == section and "load" in r]


def fmt_ratio(rs):
    if not rs:
        return "n/a", "n/a"
    return "%.2fx" % med(rs), "%.2f-%.2f" % (min(rs), max(rs))


def verdict(ok):
    return "met" if ok else "**MISSED**"


def report(args):
    s = Samples(args.samples)
    meta = dict(kv.split("=", 1) for kv in args.meta)
    out = []
    targets = []
    w = out.append

    w("# cargo-structlog benchmark results (%s)" % meta.get("mode", "full"))
    w("")
    w("Generated by `%s` on %s." % (("scripts/bench.sh " + meta.get("argv", "")).strip(),
                                     meta.get("date", "")))
    w("")
    w("| | |")
    w("| --- | --- |")
    for key, label in [("host", "machine"), ("rustc", "rustc"), ("tool", "cargo-structlog"),
                       ("mozlog", "mozlog"), ("nextest", "cargo-nextest"),
                       ("load_start", "load average at start (1/5/15 min)"),
                       ("load_end", "load average at end"), ("duration", "benchmark duration")]:
        if key in meta:
            w("| %s | %s |" % (label, meta[key]))
    w("")
    w("Times are medians over the rounds. A ratio is the median of the per-round "
      "ratios (round i of one command against round i of the other; the commands "
      "alternate within each round, each round starting one command further on); "
      "the range is the smallest and largest per-round ratio.")
    w("")

    # ---- live run
    if s.has("live", "cargo_test"):
        w("## 1. Live run: %s binaries x %s tests (+2 doctests), %s rounds" % (
            meta.get("binaries"), meta.get("tests"), meta.get("live_rounds")))
        w("")
        w("Warm build; every command runs the whole workspace (build check, "
          "discovery, tests, doctests where the runner has them) in "
          "`target/bench/ws-*`, typed as a user types it: `cargo ...` through "
          "the same `cargo` on the PATH (rustup's proxy here). "
          "Mean 1-min load during the section: %.2f." % med(s.loads("live")))
        w("")
        w("| command | median s | min s | max s | ratio to `cargo test` | ratio range |")
        w("| --- | --- | --- | --- | --- | --- |")
        labels = [("cargo_test", "`cargo test --no-fail-fast`"),
                  ("structlog_raw", "`cargo structlog --log-raw FILE`"),
                  ("structlog_all", "`cargo structlog` raw+mach+xunit+tbpl+errorsummary+html"),
                  ("nextest", "`cargo nextest run --no-fail-fast` (no doctests)")]
        for name, label in labels:
            # nextest ran in rounds of its own, against cargo test again.
            section = "live_nextest" if name == "nextest" else "live"
            if not s.has(section, name):
                continue
            ws = s.values(section, name)
            r, rng = fmt_ratio(s.pair_ratios(section, name, "cargo_test"))
            if name == "nextest":
                label += ", %d round%s of its own" % (len(ws), "" if len(ws) == 1 else "s")
            w("| %s | %.3f | %.3f | %.3f | %s | %s |" % (
                label, med(ws), min(ws), max(ws), r if name != "cargo_test" else "1", rng
                if name != "cargo_test" else ""))
        if not s.has("live_nextest", "nextest"):
            w("| `cargo nextest run` | skipped: %s | | | | |" % meta.get("nextest", "not installed"))
        w("")
        if s.has("live_nextest", "nextest"):
            w("nextest runs in rounds of its own, each against a `cargo test` run: "
              "a nextest run leaves the machine slower for whatever runs next, and "
              "alternated with the commands above it would slow `cargo test` more "
              "often than the others (with A B C N rotated, A follows N three "
              "rounds in four, C never).")
            w("")
        ratios = s.pair_ratios("live", "structlog_all", "cargo_test")
        targets.append(("`cargo structlog` with all sinks <= 1.05x `cargo test` (wall)",
                        "%.3fx" % med(ratios), med(ratios) <= 1.05))

    # ---- replay
    entries = int(meta.get("entries", "0") or 0)
    py_entries = int(meta.get("py_entries", "0") or 0)
    if s.has("replay", "floor_value"):
        w("## 2. Replay: `cargo structlog format`, %d-entry log (%s), %s rounds" % (
            entries, meta.get("log_mb", "?"), meta.get("rounds")))
        w("")
        w("The floor is the least any replay must do: `examples/replay_floor.rs` "
          "reading the lines (`lines`), parsing each as generic JSON "
          "(`serde_json::Value`, the target's \"parse the JSON lines\"), and "
          "parsing each into the tool's `Entry` through `LogReader` (`entry`). "
          "Peak RSS is the process's maximum resident set (%s). "
          "Mean 1-min load during the section: %.2f." % (
              meta.get("rss_source", "GNU time's %M"), med(s.loads("replay"))))
        w("")
        w("| work | median s | entries/s | peak RSS MB | time / JSON-parse floor | range | memory target |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        rows = [("floor_lines", "floor: read lines"), ("floor_value", "floor: parse JSON (Value)"),
                ("floor_entry", "floor: parse to Entry (LogReader)")]
        rows += [("rs1m_" + f, "sink " + f) for f in SINKS] + [("rs1m_all", "all 8 sinks at once")]
        for name, label in rows:
            if not s.has("replay", name):
                continue
            t = med(s.values("replay", name))
            rss = med(s.values("replay", name, "maxrss_kb")) / 1024
            r, rng = fmt_ratio(s.pair_ratios("replay", name, "floor_value"))
            target = ""
            sink = name[5:]
            if sink in SMALL_MEMORY:
                target = "<= 50 MB: %s" % verdict(rss <= 50)
                targets.append(("peak memory replaying %d entries, %s <= 50 MB" % (entries, sink),
                                "%.1f MB" % rss, rss <= 50))
            elif sink == "all":
                target = "<= 200 MB: %s" % verdict(rss <= 200)
                targets.append(("peak memory replaying %d entries, all sinks <= 200 MB" % entries,
                                "%.1f MB" % rss, rss <= 200))
            w("| %s | %.3f | %s | %.1f | %s | %s | %s |" % (
                label, t, "{:,.0f}".format(entries / t), rss, r, rng, target))
        w("")
        ratios = s.pair_ratios("replay", "rs1m_all", "floor_value")
        targets.append(("all sinks at once within 2x of parsing the JSON lines (%d entries)" % entries,
                        "%.2fx" % med(ratios), med(ratios) <= 2))

        w("### Against mozlog's `structlog format FORMAT` (Python), both on the same %d-entry log"
          % py_entries)
        w("")
        note = ""
        if py_entries != entries:
            note = (" mozlog is slow (its html formatter most of all), so this comparison "
                    "uses a smaller log of the same make-up than the %d-entry one above, and "
                    "times both tools on it." % entries)
        w("Same log, same size, same rounds: the speedup is the median of the per-round "
          "ratios mozlog time / cargo-structlog time.%s" % note)
        w("")
        w("| format | cargo-structlog s | entries/s | mozlog s | entries/s | mozlog peak RSS MB | speedup | range | target >= 10x |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        py_medians = {}
        for f in SINKS:
            if not s.has("replay", "py_" + f):
                continue
            tr = med(s.values("replay", "rs_" + f))
            tp = med(s.values("replay", "py_" + f))
            py_medians[f] = tp
            ratios = s.pair_ratios("replay", "py_" + f, "rs_" + f)
            r, rng = fmt_ratio(ratios)
            ok = med(ratios) >= 10
            targets.append(("replay >= 10x faster than mozlog: %s" % f, r, ok))
            w("| %s | %.3f | %s | %.3f | %s | %.1f | %s | %s | %s |" % (
                f, tr, "{:,.0f}".format(py_entries / tr), tp, "{:,.0f}".format(py_entries / tp),
                med(s.values("replay", "py_" + f, "maxrss_kb")) / 1024, r, rng, verdict(ok)))
        if py_medians:
            fastest = min(py_medians, key=py_medians.get)
            # Per round: mozlog's fastest format that round against all sinks at once.
            all_rs = s.by_round("replay", "rs_all")
            per_round = []
            for rnd, t in sorted(all_rs.items()):
                fast = [s.by_round("replay", "py_" + f).get(rnd) for f in py_medians]
                fast = [x for x in fast if x is not None]
                if fast:
                    per_round.append(min(fast) / t)
            r, rng = fmt_ratio(per_round)
            w("| **all 8 sinks at once** vs mozlog's fastest single format (%s) | %.3f | %s | %.3f | %s | | %s | %s | > 1x: %s |" % (
                fastest, med(s.values("replay", "rs_all")),
                "{:,.0f}".format(py_entries / med(s.values("replay", "rs_all"))),
                py_medians[fastest], "{:,.0f}".format(py_entries / py_medians[fastest]),
                r, rng, verdict(med(per_round) > 1)))
            targets.append(("all sinks at once faster than mozlog's fastest format (%s)" % fastest,
                            r, med(per_round) > 1))
        w("")

    # ---- latency
    if s.has("latency", "structlog_mach"):
        w("## 3. Live latency: test finished -> its line on a pipe")
        w("")
        w("%s tests that each sleep %s ms, `--test-threads 1`, %s rounds; each test stamps the "
          "wall clock as the last thing before returning, and a reader timestamps every chunk "
          "of the runner's stdout as it arrives (see scripts/bench_lib.py)." % (
              meta.get("latency_tests"), meta.get("sleep_ms"), meta.get("rounds")))
        w("")
        w("| runner (line measured) | results | median ms | p90 ms | max ms | per-round medians ms |")
        w("| --- | --- | --- | --- | --- | --- |")
        for name, label in [("structlog_mach", "`cargo structlog --log-mach -` (TEST_END line)"),
                            ("cargo_test", "`cargo test` (libtest's `test ... ok` line)")]:
            rows = [r for r in s.rows if r["section"] == "latency" and r["name"] == name]
            d = [r["delay_ms"] for r in rows]
            rounds = sorted({r["round"] for r in rows})
            per = [med([r["delay_ms"] for r in rows if r["round"] == k]) for k in rounds]
            w("| %s | %d | %.2f | %.2f | %.2f | %s |" % (
                label, len(d), med(d), pct(d, 0.9), max(d), ", ".join("%.1f" % x for x in per)))
            if name == "structlog_mach":
                targets.append(("mach line within 50 ms of the test's result (median)",
                                "%.2f ms" % med(d), med(d) <= 50))
        w("")

    # ---- archives
    if s.has("archive_make", "build_warm"):
        w("## 4. Archives: %s binaries x %s tests (+2 doctests), %s rounds" % (
            meta.get("binaries"), meta.get("tests"), meta.get("rounds")))
        w("")
        w("`cargo structlog archive --archive-file FILE` against the build it "
          "starts with (`cargo test --no-run`), after touching the workspace's "
          "sources (its crates rebuilt, not its dependencies) and warm (nothing "
          "to build); then runs of the whole workspace: `cargo structlog "
          "--log-raw FILE` against `cargo-structlog structlog run --archive-file "
          "FILE --log-raw FILE`, with the extraction kept (`--extract-to DIR`, "
          "extracted by the warm-up run) and extracted each time. "
          "Mean 1-min load during the section: %.2f." % med(s.loads("archive_make") + s.loads("archive_run")))
        w("")
        w("| command | median s | min s | max s | ratio | ratio range |")
        w("| --- | --- | --- | --- | --- | --- |")
        rows = [("archive_make", "build_touched", "`cargo test --no-run`, sources touched", None),
                ("archive_make", "archive_touched", "`cargo structlog archive`, sources touched",
                 "build_touched"),
                ("archive_make", "build_warm", "`cargo test --no-run`, warm", None),
                ("archive_make", "archive_warm", "`cargo structlog archive`, warm", "build_warm"),
                ("archive_run", "run_normal", "`cargo structlog` (warm)", None),
                ("archive_run", "run_extracted", "run from the archive, extraction kept", "run_normal"),
                ("archive_run", "run_archive", "run from the archive, extracted each time",
                 "run_normal")]
        for section, name, label, den in rows:
            if not s.has(section, name):
                continue
            ws = s.values(section, name)
            r, rng = fmt_ratio(s.pair_ratios(section, name, den)) if den else ("1", "")
            w("| %s | %.3f | %.3f | %.3f | %s | %s |" % (label, med(ws), min(ws), max(ws), r, rng))
        w("")
        size = int(meta.get("archive_bytes", "0") or 0)
        exe = int(meta.get("archive_exe_bytes", "0") or 0)
        zst = meta.get("archive_exe_zst", "n/a")
        w("Sizes: the archive %.1f MB (%s members); the test executables %.1f MB, "
          "%s compressed alone (tar, zstd -3)." % (
              size / 1e6, meta.get("archive_members", "?"), exe / 1e6,
              "%.1f MB" % (int(zst) / 1e6) if zst.isdigit() else zst))
        w("")
        made = med(s.pair_ratios("archive_make", "archive_touched", "build_touched"))
        targets.append(("archive creation <= 1.20x the build (sources touched)",
                        "%.2fx" % made, made <= 1.20))
        warm = med(s.pair_ratios("archive_make", "archive_warm", "build_warm"))
        targets.append(("archive creation <= 1.20x the build (warm, nothing to build)",
                        "%.2fx" % warm, warm <= 1.20))
        ran = med(s.pair_ratios("archive_run", "run_extracted", "run_normal"))
        targets.append(("a run from an extracted archive <= 1.05x a normal warm run",
                        "%.3fx" % ran, ran <= 1.05))
        if zst.isdigit():
            targets.append(("the archive <= the test executables compressed",
                            "%.2fx" % (size / int(zst)), size <= int(zst)))

    # ---- real suites
    real = sorted({r["name"][len("real_cargo_"):] for r in s.rows
                   if r["section"] == "real" and r["name"].startswith("real_cargo_")})
    if real:
        w("## 5. Real suites: doctest-heavy published crates, %s rounds" % meta.get("real_rounds"))
        w("")
        w("Each crate's whole suite (unit, integration and doctests), warm build, "
          "`cargo test --locked --no-fail-fast` against `cargo structlog --locked "
          "--log-raw FILE`, in the crate's folder under `target/corpus/src/` "
          "(`scripts/corpus.sh` compares their results test by test). The tool has "
          "rustdoc merge the doctests; a doctest that fails merged runs again on its "
          "own (the last column). Mean 1-min load during the section: %.2f." % med(s.loads("real")))
        w("")
        w("| crate | tests (doctests) | `cargo test` s | `cargo structlog` s | ratio of medians "
          "| per-round ratios | doctests run again alone |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        total_cargo = total_tool = 0.0
        worst = 0.0
        for name in real:
            c = med(s.values("real", "real_cargo_" + name))
            t = med(s.values("real", "real_tool_" + name))
            total_cargo += c
            total_tool += t
            worst = max(worst, t / c)
            r, rng = fmt_ratio(s.pair_ratios("real", "real_tool_" + name, "real_cargo_" + name))
            tests, docs, again = (meta.get("real_" + name, "?,?,?").split(",") + ["?"] * 3)[:3]
            w("| %s | %s (%s) | %.2f | %.2f | %.2fx | %s (%s) | %s |" % (
                name, tests, docs, c, t, t / c, r, rng, again))
        w("| **all** | | %.2f | %.2f | %.2fx | | |" % (total_cargo, total_tool, total_tool / total_cargo))
        w("")
        targets.append(("real doctest-heavy suites: total wall <= 0.45x `cargo test`'s",
                        "%.2fx" % (total_tool / total_cargo), total_tool / total_cargo <= 0.45))
        targets.append(("real doctest-heavy suites: none slower than `cargo test` (ratio of medians)",
                        "worst %.2fx" % worst, worst <= 1.0))

    w("## Targets")
    w("")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for what, got, ok in targets:
        w("| %s | %s | %s |" % (what, got, verdict(ok)))
    w("")
    text = "\n".join(out)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("alternate")
    a.add_argument("--plan", required=True)
    a.add_argument("--section", required=True)
    a.add_argument("--rounds", type=int, required=True)
    a.add_argument("--warmup", type=int, default=1)
    a.add_argument("--samples", required=True)
    a.add_argument("--logs", required=True, help="directory for each command's stderr")
    a.add_argument("--time-bin", help="GNU time, for the peak RSS (else wait4's, see run_once)")
    l = sub.add_parser("latency")
    l.add_argument("--tool", required=True)
    l.add_argument("--ws", required=True)
    l.add_argument("--tests", type=int, required=True)
    l.add_argument("--rounds", type=int, required=True)
    l.add_argument("--samples", required=True)
    l.add_argument("--logs", required=True)
    r = sub.add_parser("report")
    r.add_argument("--samples", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--meta", action="append", default=[], help="KEY=VALUE")
    args = ap.parse_args()
    {"alternate": alternate, "latency": latency, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
