#!/usr/bin/env python3
"""The real-world corpus: `cargo structlog` against `cargo test`, test by test.

For every crate pinned in corpus/crates.toml (standard library only, Python
3.11+ for tomllib):

  1. Download the published .crate from static.crates.io, check its sha256,
     unpack it under target/corpus/src/ (once; later runs reuse it, so builds
     stay warm), and copy in the committed lock file corpus/locks/NAME-VERSION.lock
     so that every dependency version is pinned (all builds use --locked).
     An entry may also be a small workspace of several published crates.
  2. For the default selection and each selection listed for the crate:
       a. `cargo test --no-fail-fast SEL` with stdout and stderr merged into one
          pipe (so cargo's `Running ...` / `Doc-tests ...` lines stay in order
          with the test binaries' output), parsed as libtest's pretty output;
       b. `cargo structlog SEL --log-raw FILE --log-mach FILE`, whose raw log
          is parsed (JSON lines);
       c. `cargo structlog SEL` a second time, back to back;
       d. `cargo test --no-run SEL` (for a `--doc` selection, which cannot be
          `--no-run`: `cargo test SEL -- --list`).
     and compares (a) with (b) test by test, and the exit statuses. The order
     checks rebuilds both ways: (b) must compile nothing after (a), (c) nothing
     after (b), and (d) nothing after (c).
  3. Prints the mismatches, then a Markdown table, also written to
     target/corpus/results.md (and every figure to target/corpus/results.json).
     The exit status is 0 only when every crate matches.

How a `cargo test` result maps to what the tool must have written
(the tool's README, "Status mapping"):

  cargo test says                           raw log test_end must have
  ----------------------------------------  --------------------------------
  ok                                        status PASS, no `expected`
  ok, `- should panic` marker               status FAIL, no `expected`
  ok, doctest whose fence says should_panic status FAIL, no `expected` (*)
  ignored[, reason]                         status SKIP
  FAILED                                    any status, `expected` present

  (*) rustdoc prints the `- should panic` marker only for merged (edition
  2024) doctests; an edition 2015-2021 should_panic doctest is a plain `ok`.
  The fence's info string is read from the source (the doctest's name gives
  its file and line) so that both editions are judged alike.

  A difference that cargo test's output cannot settle (a harness that
  prints no ` - should panic` marker, for one) may be accepted test by test
  in corpus/crates.toml (`[[crate.accept]]`, with its reason); accepted
  differences are listed, and do not fail the crate.

A test binary that speaks no libtest protocol (a fully custom binary: its
manifest says `harness = false` and its section of cargo's output has no
`running N tests` line and no `test result: ... N passed; ...` summary) is
one test for the tool, named after the target: it is compared by the verdict
of the whole binary (cargo prints `error: test failed, to rerun pass ...`
after a failing one). Lines such a binary prints that look like libtest's
are ignored. (A `harness = false` binary that does speak libtest's protocol,
such as tester or libtest-mimic, is compared test by test.)

Only lines matching libtest's result pattern count, and a line counts only
inside a test binary's section. For each binary the number of results read
is checked against libtest's own counts (`running N tests`, the summary);
when they disagree (a test printed lines that look like results, such as
trybuild's own `test tests/ui/x.rs ... ok`), the binary's test names are
listed with `cargo test SEL -- --list` and only listed names are kept. A
disagreement that listing cannot settle is reported as a parse anomaly and
fails the crate.

Every command runs with the toolchain's own bin folder first on PATH (see
toolchain_env), RUST_BACKTRACE=0 and CARGO_TERM_COLOR=never.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

CRATES_URL = "https://static.crates.io/crates/{name}/{name}-{version}.crate"

# How many individual mismatches are printed per crate and selection.
MISMATCHES_SHOWN = 20

# --------------------------------------------------------------------------
# The corpus file
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Member:
    """One published crate: a corpus entry, or one member of a workspace entry."""

    name: str
    version: str
    sha256: str
    # dev-dependencies to add to the published manifest (name -> version
    # requirement): restores what `cargo package` dropped (path-only
    # dev-dependencies), so that the tests compile.
    add_dev_dependencies: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Selection:
    """One way of calling both tools on a crate."""

    name: str
    # cargo options (target and package selection, features, ...), given to
    # both tools as they are.
    args: list[str] = dataclasses.field(default_factory=list)
    # the TESTNAME filter, if any
    filter: str | None = None
    # arguments for the test binaries (after `--`)
    test_args: list[str] = dataclasses.field(default_factory=list)
    # give test_args to the tool as its own options (`--exact`, `--skip X`,
    # ...) instead of after `--`
    test_args_as_options: bool = False


@dataclasses.dataclass
class Accepted:
    """A documented difference from the rule: the tool's status for one test
    that is accepted although cargo test's output says otherwise, because
    cargo test's output cannot show what the test is (see its reason)."""

    status: str
    expected: str | None
    reason: str


@dataclasses.dataclass
class Entry:
    """A corpus entry: one crate, or a workspace of several published crates."""

    name: str
    version: str
    covers: str
    members: list[Member]
    workspace: bool
    selections: list[Selection]
    features: list[str]
    env: dict[str, str]
    ci: bool
    accept: dict[str, Accepted] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


ENTRY_KEYS = {"name", "version", "sha256", "covers", "ci", "features", "env", "selections",
              "add_dev_dependencies", "workspace", "members", "accept"}
MEMBER_KEYS = {"name", "version", "sha256", "add_dev_dependencies"}
SELECTION_KEYS = {"name", "args", "filter", "test_args", "test_args_as_options"}
ACCEPT_KEYS = {"test", "status", "expected", "reason"}


def check_keys(table: dict, allowed: set[str], where: str) -> None:
    """A misspelt key would silently change what is compared: refuse it."""
    unknown = set(table) - allowed
    if unknown:
        raise SystemExit(f"corpus/crates.toml: {where}: unknown keys {sorted(unknown)}")


def load_corpus(path: Path) -> list[Entry]:
    data = tomllib.loads(path.read_text())
    check_keys(data, {"crate"}, "top level")
    entries = []
    for raw in data.get("crate", []):
        where = raw.get("name", "a [[crate]]")
        check_keys(raw, ENTRY_KEYS, where)
        for m in raw.get("members", []):
            check_keys(m, MEMBER_KEYS, f"{where}, member {m.get('name')}")
        for sel in raw.get("selections", []):
            check_keys(sel, SELECTION_KEYS, f"{where}, selection {sel.get('name')}")
        for a in raw.get("accept", []):
            check_keys(a, ACCEPT_KEYS, f"{where}, accept {a.get('test')}")
        workspace = bool(raw.get("workspace", False))
        if workspace:
            members = [
                Member(
                    m["name"],
                    m["version"],
                    m.get("sha256", ""),
                    dict(m.get("add_dev_dependencies", {})),
                )
                for m in raw["members"]
            ]
        else:
            members = [
                Member(
                    raw["name"],
                    raw["version"],
                    raw.get("sha256", ""),
                    dict(raw.get("add_dev_dependencies", {})),
                )
            ]
        selections = [Selection("default")]
        for s in raw.get("selections", []):
            selections.append(
                Selection(
                    s["name"],
                    list(s.get("args", [])),
                    s.get("filter"),
                    list(s.get("test_args", [])),
                    bool(s.get("test_args_as_options", False)),
                )
            )
        names = [s.name for s in selections]
        if len(set(names)) != len(names):
            raise SystemExit(f"corpus: {raw['name']}: two selections share a name")
        entries.append(
            Entry(
                name=raw["name"],
                version=raw["version"],
                covers=raw.get("covers", ""),
                members=members,
                workspace=workspace,
                selections=selections,
                features=list(raw.get("features", [])),
                env={k: str(v) for k, v in raw.get("env", {}).items()},
                ci=bool(raw.get("ci", False)),
                accept={
                    a["test"]: Accepted(a["status"], a.get("expected"), a["reason"])
                    for a in raw.get("accept", [])
                },
            )
        )
    return entries


# --------------------------------------------------------------------------
# Fetching and unpacking
# --------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_crate(member: Member, downloads: Path) -> Path:
    """Download NAME-VERSION.crate (once) and check its sha256."""
    downloads.mkdir(parents=True, exist_ok=True)
    dest = downloads / f"{member.name}-{member.version}.crate"
    if not dest.exists():
        url = CRATES_URL.format(name=member.name, version=member.version)
        part = dest.with_suffix(".part")
        subprocess.run(
            ["curl", "-sSfL", "--retry", "3", "-o", str(part), url], check=True
        )
        part.rename(dest)
    actual = sha256_of(dest)
    if not member.sha256:
        raise SetupError(
            f"{member.name} {member.version}: no sha256 in corpus/crates.toml; "
            f"the downloaded file has sha256 = \"{actual}\""
        )
    if actual != member.sha256:
        dest.unlink()
        raise SetupError(
            f"{member.name} {member.version}: sha256 {actual} does not match "
            f"{member.sha256} recorded in corpus/crates.toml"
        )
    return dest


class SetupError(Exception):
    """A crate could not be fetched, unpacked or prepared."""


def unpack_member(member: Member, crate_file: Path, dest: Path) -> None:
    """Unpack a .crate (a gzipped tar of NAME-VERSION/...) into dest."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    prefix = f"{member.name}-{member.version}/"
    with tarfile.open(crate_file, "r:gz") as tar:
        for info in tar.getmembers():
            if not info.name.startswith(prefix):
                raise SetupError(f"{crate_file.name}: unexpected path {info.name}")
        tar.extractall(tmp, filter="data")
    shutil.rmtree(dest, ignore_errors=True)
    (tmp / prefix.rstrip("/")).rename(dest)
    shutil.rmtree(tmp)
    if member.add_dev_dependencies:
        manifest = dest / "Cargo.toml"
        parsed = tomllib.loads(manifest.read_text())
        have = parsed.get("dev-dependencies", {})
        lines = ["", "# Added by scripts/corpus.py (corpus/crates.toml: add_dev_dependencies)"]
        for dep, req in member.add_dev_dependencies.items():
            if dep in have:
                raise SetupError(f"{member.name}: dev-dependency {dep} is already there")
            lines += [f"[dev-dependencies.{dep}]", f'version = "{req}"', ""]
        with open(manifest, "a") as f:
            f.write("\n".join(lines))


def prepare_entry(entry: Entry, work: Path, locks: Path, generate_lock: bool) -> Path:
    """Make the entry's source tree ready to build; returns its root."""
    root = work / "src" / entry.key
    # The stamp records what the tree was made from; a change re-unpacks it.
    stamp_data = json.dumps(
        [dataclasses.asdict(m) for m in entry.members] + [entry.workspace],
        sort_keys=True,
    )
    stamp = root / ".corpus-stamp"
    if not (stamp.exists() and stamp.read_text() == stamp_data):
        shutil.rmtree(root, ignore_errors=True)
        crate_files = [fetch_crate(m, work / "downloads") for m in entry.members]
        if entry.workspace:
            root.mkdir(parents=True)
            for m, f in zip(entry.members, crate_files):
                unpack_member(m, f, root / m.name)
            # A virtual workspace over the members, each member patched in so
            # that the members use each other rather than their published
            # copies (as in their upstream workspace).
            names = [m.name for m in entry.members]
            text = (
                "# Written by scripts/corpus.py: a workspace of published crates.\n"
                "[workspace]\n"
                'resolver = "2"\n'
                f"members = [{', '.join(json.dumps(n) for n in names)}]\n\n"
                "[patch.crates-io]\n"
                + "".join(f'{n} = {{ path = "{n}" }}\n' for n in names)
            )
            (root / "Cargo.toml").write_text(text)
        else:
            unpack_member(entry.members[0], crate_files[0], root)
        stamp.write_text(stamp_data)
    lock = locks / f"{entry.key}.lock"
    target_lock = root / "Cargo.lock"
    if lock.exists():
        # Copied only when it differs, to leave the tree untouched otherwise.
        if not target_lock.exists() or target_lock.read_bytes() != lock.read_bytes():
            shutil.copyfile(lock, target_lock)
    elif generate_lock:
        target_lock.unlink(missing_ok=True)
        subprocess.run(["cargo", "generate-lockfile"], cwd=root, check=True)
        locks.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target_lock, lock)
        print(f"{entry.key}: wrote {lock}", flush=True)
    else:
        raise SetupError(
            f"{entry.key}: no lock file {lock} (run with --generate-missing-locks "
            "to create it, then commit it)"
        )
    return root


# --------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    argv: list[str]
    status: int
    seconds: float
    output: str  # stdout (and stderr, when merged)
    stderr: str = ""


def run_cmd(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, merge: bool = True
) -> Run:
    """Run argv; output goes to log (and log.stderr when not merged)."""
    start = time.monotonic()
    with open(log, "wb") as out:
        if merge:
            proc = subprocess.run(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT,
            )
            err = b""
        else:
            proc = subprocess.run(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.PIPE,
            )
            err = proc.stderr
    seconds = time.monotonic() - start
    if err:
        log.with_name(log.name + ".stderr").write_bytes(err)
    text = log.read_bytes().decode("utf-8", errors="replace")
    return Run(argv, proc.returncode, seconds, text, err.decode("utf-8", errors="replace"))


COMPILING_RE = re.compile(r"^\s+Compiling (\S+) v(\S+)")


def compiled(text: str) -> list[str]:
    """The `Compiling NAME vX` lines cargo printed."""
    return [f"{m.group(1)} v{m.group(2)}" for m in map(COMPILING_RE.match, text.splitlines()) if m]


# --------------------------------------------------------------------------
# cargo metadata: which target a `Running ...` line is
# --------------------------------------------------------------------------

LIB_KINDS = {"lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro"}


@dataclasses.dataclass
class Target:
    package: str
    kind: str  # lib, bin, test, example, bench
    name: str
    rel_path: str  # src_path relative to the package root, as cargo prints it
    binary_id: str  # as cargo-nextest (and the tool) forms it
    package_root: Path
    workspace_root: Path
    harness: bool  # `harness = false` is in the manifest only, not in cargo metadata


def load_targets(root: Path, env: dict[str, str]) -> list[Target]:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        cwd=root, env=env, check=True, capture_output=True,
    ).stdout
    meta = json.loads(out)
    targets = []
    for pkg in meta["packages"]:
        pkg_root = Path(pkg["manifest_path"]).parent
        no_harness = harness_false(Path(pkg["manifest_path"]))
        for t in pkg["targets"]:
            kinds = set(t["kind"])
            if kinds & LIB_KINDS:
                kind, bid = "lib", pkg["name"]
            elif "bin" in kinds:
                kind, bid = "bin", f"{pkg['name']}::bin/{t['name']}"
            elif "test" in kinds:
                kind, bid = "test", f"{pkg['name']}::{t['name']}"
            elif "example" in kinds:
                kind, bid = "example", f"{pkg['name']}::example/{t['name']}"
            elif "bench" in kinds:
                kind, bid = "bench", f"{pkg['name']}::bench/{t['name']}"
            else:
                continue  # build scripts
            rel = os.path.relpath(t["src_path"], pkg_root)
            harness = (kind, t["name"]) not in no_harness
            targets.append(Target(pkg["name"], kind, t["name"], rel, bid, pkg_root,
                                  Path(meta["workspace_root"]), harness))
    return targets


def harness_false(manifest: Path) -> set[tuple[str, str]]:
    """(kind, name) of the targets declared with `harness = false`."""
    data = tomllib.loads(manifest.read_text())
    found = set()
    lib = data.get("lib", {})
    if lib.get("harness") is False:
        name = lib.get("name", data.get("package", {}).get("name", ""))
        found.add(("lib", name))
        found.add(("lib", norm(name)))
    for kind in ("bin", "test", "example", "bench"):
        for t in data.get(kind, []):
            if t.get("harness") is False:
                found.add((kind, t.get("name", "")))
    return found


def norm(name: str) -> str:
    return name.replace("-", "_")


class TargetMap:
    """Maps cargo's section headers to binary ids."""

    def __init__(self, targets: list[Target]):
        self.targets = targets

    def running(self, unittests: bool, path: str, exe: str) -> Target | str:
        """`Running [unittests ]PATH (EXE)`: the target, or why none was found.

        cargo prints PATH relative to the package root and "unittests" for
        every kind but integration tests; the executable's name is the
        target's name (with `_` for `-`) and a hash.
        """
        stem = re.sub(r"-[0-9a-f]{16}$", "", os.path.basename(exe))
        found = [
            t for t in self.targets
            if (t.kind != "test") == unittests and t.rel_path == path and norm(t.name) == stem
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            return f"no target has path {path} and executable {stem}"
        return "ambiguous: " + ", ".join(t.binary_id for t in found)

    def doctests(self, crate: str) -> Target | str:
        found = [t for t in self.targets if t.kind == "lib" and norm(t.name) == crate]
        if len(found) == 1:
            return found[0]
        return f"no single library named {crate}" if not found else "ambiguous: " + crate


# --------------------------------------------------------------------------
# Parsing `cargo test`'s output
# --------------------------------------------------------------------------

RUNNING_RE = re.compile(r"^\s+Running (unittests )?(.+) \(([^()]+)\)$")
DOCTESTS_RE = re.compile(r"^\s+Doc-tests (\S+)$")
# libtest's pretty result line. The name is non-greedy so that a ` - should
# panic` (or ` - compile fail`, ` - compile` for no_run doctests) marker
# before ` ... ` is split off; names are padded with spaces by libtest for
# benchmarks and by libtest-mimic for every test, hence the rstrip later.
RESULT_RE = re.compile(
    r"^test (.+?)(?: - (should panic|compile fail|compile))? \.\.\. "
    r"(ok|FAILED|ignored(?:, (.*))?)$"
)
# With one test thread libtest prints `test NAME ... ` when a test starts and
# the result when it ends: output the test writes past the capture can come
# in between.
STARTED_RE = re.compile(r"^test (.+?)(?: - (should panic|compile fail|compile))? \.\.\. (.*)$")
BARE_RESULT_RE = re.compile(r"^(ok|FAILED|ignored(?:, (.*))?)$")
RUNNING_COUNT_RE = re.compile(r"^running (\d+) tests?$")
SUMMARY_RE = re.compile(
    r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; "
    r"(\d+) measured; (\d+) filtered out"
)
SECTION_FAILED_RE = re.compile(r"^error: (test|doctest) failed, to rerun pass")


@dataclasses.dataclass
class CargoResult:
    outcome: str  # ok, FAILED, ignored
    marker: str | None  # should panic, compile fail, compile
    line: str


@dataclasses.dataclass
class Section:
    """The output of one test binary (or one package's doctests)."""

    header: str
    target: Target | None
    problem: str | None  # why the header maps to no target
    doc: bool
    results: dict[str, CargoResult] = dataclasses.field(default_factory=dict)
    duplicates: list[str] = dataclasses.field(default_factory=list)
    running: list[int] = dataclasses.field(default_factory=list)
    summaries: list[tuple[int, int, int, int]] = dataclasses.field(default_factory=list)
    failed: bool = False

    @property
    def libtest(self) -> bool:
        """Whether the binary speaks libtest's protocol (libtest, tester,
        libtest-mimic, rustdoc): it announced its tests and summed them up."""
        return bool(self.running) and bool(self.summaries)

    @property
    def announced(self) -> int:
        return sum(self.running)

    @property
    def summed(self) -> int:
        return sum(sum(s) for s in self.summaries)

    @property
    def counts_agree(self) -> bool:
        """The result lines read are the tests libtest announced and summed up."""
        return not self.duplicates and len(self.results) == self.summed == self.announced

    @property
    def binary_id(self) -> str | None:
        if self.target is None:
            return None
        return self.target.binary_id + ("::doc" if self.doc else "")


def parse_cargo_test(text: str, tmap: TargetMap) -> list[Section]:
    sections: list[Section] = []
    cur: Section | None = None
    pending: tuple[str, str | None] | None = None
    for line in text.splitlines():
        line = line.rstrip("\r")
        m = RUNNING_RE.match(line)
        d = DOCTESTS_RE.match(line) if not m else None
        if m or d:
            if m:
                found = tmap.running(bool(m.group(1)), m.group(2), m.group(3))
            else:
                found = tmap.doctests(d.group(1))
            target, problem = (found, None) if isinstance(found, Target) else (None, found)
            cur = Section(line.strip(), target, problem, doc=bool(d))
            sections.append(cur)
            pending = None
            continue
        if cur is None:
            continue
        if SECTION_FAILED_RE.match(line):
            cur.failed = True
            continue
        if m := RUNNING_COUNT_RE.match(line):
            cur.running.append(int(m.group(1)))
            continue
        if m := SUMMARY_RE.match(line):
            cur.summaries.append(tuple(int(m.group(i)) for i in (2, 3, 4, 5)))
            continue
        if m := RESULT_RE.match(line):
            add_result(cur, m.group(1), m.group(2), m.group(3), line)
            pending = None
            continue
        if m := STARTED_RE.match(line):
            pending = (m.group(1), m.group(2))
            continue
        if pending and (m := BARE_RESULT_RE.match(line)):
            add_result(cur, pending[0], pending[1], m.group(1), line)
            pending = None
    return sections


def add_result(sec: Section, name: str, marker: str | None, outcome: str, line: str) -> None:
    name = name.rstrip()
    kind = outcome.split(",")[0]
    if name in sec.results:
        sec.duplicates.append(name)
    sec.results[name] = CargoResult(kind, marker, line)


def listed_names(text: str, tmap: TargetMap) -> dict[str | None, set[str]]:
    """Test names per binary id from `cargo test SEL -- --list`."""
    names: dict[str | None, set[str]] = defaultdict(set)
    bid = None
    for line in text.splitlines():
        m = RUNNING_RE.match(line)
        d = DOCTESTS_RE.match(line) if not m else None
        if m or d:
            found = tmap.running(bool(m.group(1)), m.group(2), m.group(3)) if m else tmap.doctests(d.group(1))
            bid = None if not isinstance(found, Target) else found.binary_id + ("::doc" if d else "")
            continue
        if line.endswith(": test") or line.endswith(": benchmark"):
            names[bid].add(line.rsplit(": ", 1)[0].rstrip())
    return names


def drop_unlisted(sections: list[Section], names: dict[str | None, set[str]]) -> list[str]:
    """Forget the result lines of names a binary does not list (lines its
    tests printed); returns what was dropped, for the log."""
    notes = []
    for sec in sections:
        if sec.binary_id not in names or not sec.libtest:
            continue
        keep = names[sec.binary_id]
        dropped = [n for n in sec.results if n not in keep]
        for n in dropped:
            del sec.results[n]
        if dropped:
            notes.append(f"{sec.binary_id}: ignored {len(dropped)} result-like lines of names "
                         f"it does not list, e.g. {dropped[0]!r}")
        # A repeated name that the binary lists stays an anomaly: which of
        # its lines is libtest's cannot be told.
        sec.duplicates = [n for n in sec.duplicates if n in keep]
    return notes


def doctest_fence_should_panic(target: Target, name: str) -> bool:
    """Whether the doctest `FILE - ITEM (line N)` sits under a fence whose
    info string says should_panic (read from the source: rustdoc prints no
    marker for it outside merged doctests)."""
    m = re.match(r"^(.+?) - .*\(line (\d+)\)$", name)
    if not m:
        return False
    # The file is relative to the folder rustdoc ran in: the workspace root
    # (for a package at the root, that is the package's root too).
    for base in (target.workspace_root, target.package_root):
        try:
            lines = (base / m.group(1)).read_text(errors="replace").splitlines()
            line = lines[int(m.group(2)) - 1]
        except (OSError, IndexError, ValueError):
            continue
        fence = re.search(r"(```+|~~~+)\s*([^`]*)$", line)
        if fence:
            words = re.split(r"[\s,{}]+", fence.group(2))
            return "should_panic" in words
    return False


# --------------------------------------------------------------------------
# Reading the tool's raw log
# --------------------------------------------------------------------------


@dataclasses.dataclass
class ToolLog:
    listed: set[str] = dataclasses.field(default_factory=set)
    started: set[str] = dataclasses.field(default_factory=set)
    ended: dict[str, dict] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    # `Compiling` lines in the tests' output: cargo run by the tests
    # themselves (trybuild, a test building its fixtures)
    nested_compiles: int = 0
    bad_lines: int = 0
    suite_end: bool = False


def read_raw_log(path: Path) -> ToolLog | None:
    if not path.exists():
        return None
    log = ToolLog()
    for line in path.read_text(errors="replace").splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            log.bad_lines += 1
            continue
        action = e.get("action")
        if action == "suite_start":
            tests = e.get("tests", [])
            if isinstance(tests, dict):
                for ids in tests.values():
                    log.listed.update(ids)
            else:
                log.listed.update(tests)
        elif action == "test_start":
            log.started.add(e["test"])
        elif action == "test_end":
            log.ended[e["test"]] = e
        elif action == "log" and e.get("level") in ("ERROR", "CRITICAL"):
            log.errors.append(e.get("message", ""))
        elif action == "crash":
            log.errors.append(f"crash: {e.get('test', '')} {e.get('signature', '')}".strip())
        elif action == "process_output" and COMPILING_RE.match(e.get("data", "")):
            log.nested_compiles += 1
        elif action == "suite_end":
            log.suite_end = True
    return log


def split_id(test_id: str) -> tuple[str, str]:
    """"<binary-id> <libtest name>": binary ids have no spaces."""
    bid, _, name = test_id.partition(" ")
    return bid, name


# --------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Mismatch:
    kind: str
    binary: str
    test: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.binary} {self.test}: {self.detail}"


def describe(e: dict | None) -> str:
    if e is None:
        return "no test_end"
    s = e.get("status", "?")
    if "expected" in e:
        s += f", expected {e['expected']}"
    return s


def compare(
    sections: list[Section], tool: ToolLog, accept: dict[str, Accepted] | None = None
) -> tuple[list[Mismatch], list[str], int, list[Mismatch]]:
    """Mismatches, parse anomalies, how many tests cargo test reported, and
    the differences accepted by the corpus file."""
    accept = accept or {}
    accepted: list[Mismatch] = []
    mismatches: list[Mismatch] = []
    anomalies: list[str] = []
    expected: dict[str, str] = {}  # test id -> "pass" | "xfail" | "skip" | "fail"
    custom: dict[str, bool] = {}  # test id of a custom harness binary -> passed
    silent: set[str] = set()  # binaries that printed nothing libtest-like

    for sec in sections:
        if sec.target is None:
            anomalies.append(f"{sec.header}: {sec.problem}")
            continue
        bid = sec.binary_id
        if not sec.libtest and not sec.doc and not sec.target.harness:
            # A binary that speaks no libtest protocol: one test, its verdict.
            custom[f"{bid} {sec.target.name}"] = not sec.failed
            continue
        if not sec.libtest:
            # A libtest binary (or doctests) that printed neither its count nor
            # its summary: it died first; there is no result to compare.
            anomalies.append(
                f"{bid}: no libtest output under cargo test"
                + (" (it failed)" if sec.failed else "")
            )
            silent.add(bid)
            continue
        if sec.duplicates:
            anomalies.append(f"{bid}: result lines repeated for {sec.duplicates[:3]}")
        if len(sec.results) != sec.summed or sec.summed != sec.announced:
            anomalies.append(
                f"{bid}: {len(sec.results)} result lines read, libtest announced "
                f"{sec.announced} and summed up {sec.summed}"
            )
        for name, r in sec.results.items():
            tid = f"{bid} {name}"
            if r.outcome == "ok":
                panics = r.marker == "should panic" or (
                    sec.doc and r.marker is None and doctest_fence_should_panic(sec.target, name)
                )
                expected[tid] = "xfail" if panics else "pass"
            elif r.outcome == "ignored":
                expected[tid] = "skip"
            else:
                expected[tid] = "fail"

    words = {"pass": "ok", "xfail": "ok, should panic", "skip": "ignored", "fail": "FAILED"}
    for tid, want in expected.items():
        e = tool.ended.get(tid)
        bid, name = split_id(tid)
        if e is None:
            why = "listed and started, no test_end" if tid in tool.started else (
                "listed, never started" if tid in tool.listed else "absent from the raw log")
            mismatches.append(Mismatch("missing in tool", bid, name, f"cargo test: {words[want]}; {why}"))
            continue
        status, has_expected = e.get("status"), "expected" in e
        good = {
            "pass": status == "PASS" and not has_expected,
            "xfail": status == "FAIL" and not has_expected,
            "skip": status == "SKIP",
            "fail": has_expected,
        }[want]
        if not good:
            m = Mismatch("status", bid, name, f"cargo test: {words[want]}; tool: {describe(e)}")
            a = accept.get(tid)
            if a and a.status == status and a.expected == e.get("expected"):
                m.detail += f" (accepted: {a.reason})"
                accepted.append(m)
            else:
                mismatches.append(m)

    for tid, passed in custom.items():
        e = tool.ended.get(tid)
        bid, name = split_id(tid)
        want = "passed" if passed else "failed"
        if e is None:
            mismatches.append(
                Mismatch("missing in tool", bid, name, f"custom harness binary ({want} under cargo test) has no test_end")
            )
        elif passed != (e.get("status") == "PASS" and "expected" not in e):
            mismatches.append(
                Mismatch("custom harness verdict", bid, name, f"cargo test: {want}; tool: {describe(e)}")
            )

    known = set(expected) | set(custom)
    for tid in sorted(set(tool.ended) | tool.listed | tool.started):
        if tid not in known and split_id(tid)[0] not in silent:
            bid, name = split_id(tid)
            mismatches.append(
                Mismatch("extra in tool", bid, name, f"not run by cargo test; tool: {describe(tool.ended.get(tid))}")
            )
    return mismatches, anomalies, len(expected) + len(custom), accepted


# --------------------------------------------------------------------------
# One crate
# --------------------------------------------------------------------------


@dataclasses.dataclass
class SelectionResult:
    selection: str
    cargo_args: list[str]
    tool_args: list[str]
    cargo_tests: int = 0
    tool_tests: int = 0
    mismatches: list[Mismatch] = dataclasses.field(default_factory=list)
    accepted: list[Mismatch] = dataclasses.field(default_factory=list)
    anomalies: list[str] = dataclasses.field(default_factory=list)
    tool_errors: list[str] = dataclasses.field(default_factory=list)
    cargo_status: int | None = None
    tool_status: int | None = None
    tool_status_2: int | None = None
    tool_runs_differ: list[str] = dataclasses.field(default_factory=list)
    rebuilds: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # informational: `Compiling` lines printed by cargo run inside the tests
    # (cargo test's run, the tool's 1st and 2nd); a tool that changes the
    # tests' environment can make these nested builds rebuild
    nested_compiles: list[int] = dataclasses.field(default_factory=list)
    cargo_seconds: float = 0.0
    tool_seconds: float = 0.0
    tool_seconds_2: float = 0.0

    @property
    def matches(self) -> bool:
        return (
            not self.mismatches
            and not self.anomalies
            and not self.tool_runs_differ
            and self.cargo_status == self.tool_status
            and not any(self.rebuilds.values())
        )


@dataclasses.dataclass
class EntryResult:
    entry: Entry
    selections: list[SelectionResult] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def matches(self) -> bool:
        return self.error is None and all(s.matches for s in self.selections)


def selection_argv(
    entry: Entry, sel: Selection
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The arguments of cargo test, of the tool, of the rebuild check, and of
    the listing of the selection's tests."""
    features = ["--features", ",".join(entry.features)] if entry.features else []
    base = ["--locked", *features, *sel.args]
    filt = [sel.filter] if sel.filter else []
    after = ["--", *sel.test_args] if sel.test_args else []
    cargo = ["--no-fail-fast", *base, *filt, *after]
    if sel.test_args_as_options:
        tool = [*base, *sel.test_args, *filt]
    else:
        tool = [*base, *filt, *after]
    if "--doc" in sel.args:
        # cargo refuses `--doc --no-run`; listing builds what --doc builds.
        check = [*base, *filt, "--", "--list"]
    else:
        check = ["--no-run", *base]
    listing = [*base, *filt, "--", *sel.test_args, "--list"]
    return cargo, tool, check, listing


def run_entry(entry: Entry, ctx: "Context") -> EntryResult:
    result = EntryResult(entry)
    try:
        root = prepare_entry(entry, ctx.work, ctx.locks, ctx.generate_locks)
        env = dict(ctx.env)
        env.update(entry.env)
        env["CARGO_TARGET_DIR"] = str(ctx.work / "target" / entry.key)
        tmap = TargetMap(load_targets(root, env))
    except (SetupError, subprocess.CalledProcessError, OSError) as e:
        result.error = str(e)
        ctx.say(f"{entry.key}: ERROR {e}")
        return result
    tool_env = dict(env)
    tool_env["PATH"] = f"{ctx.tool_dir}{os.pathsep}{env.get('PATH', '')}"
    for sel in entry.selections:
        result.selections.append(run_selection(entry, sel, root, env, tool_env, tmap, ctx))
    return result


def run_selection(
    entry: Entry, sel: Selection, root: Path, env: dict[str, str],
    tool_env: dict[str, str], tmap: TargetMap, ctx: "Context",
) -> SelectionResult:
    cargo_args, tool_args, check_args, list_args = selection_argv(entry, sel)
    out = ctx.work / "runs" / entry.key / re.sub(r"[^A-Za-z0-9_.-]", "_", sel.name)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    res = SelectionResult(sel.name, cargo_args, tool_args)
    ctx.say(f"{entry.key} [{sel.name}]: cargo test {shlex.join(cargo_args)}")

    # a. cargo test, stdout and stderr on one pipe
    a = run_cmd(["cargo", "test", *cargo_args], root, env, out / "cargo-test.log")
    res.cargo_status, res.cargo_seconds = a.status, a.seconds

    # b, c. the tool, twice
    def tool_run(n: int) -> Run:
        # The log options go first: everything after a `--` in tool_args is
        # for the test binaries.
        argv = ["cargo", "structlog",
                "--log-raw", str(out / f"structlog-{n}.raw"),
                "--log-mach", str(out / f"structlog-{n}.mach"),
                *tool_args]
        return run_cmd(argv, root, tool_env, out / f"structlog-{n}.out", merge=False)

    b = tool_run(1)
    res.tool_status, res.tool_seconds = b.status, b.seconds
    res.rebuilds["tool after cargo test"] = compiled(b.stderr)
    c = tool_run(2)
    res.tool_status_2, res.tool_seconds_2 = c.status, c.seconds
    res.rebuilds["tool after tool"] = compiled(c.stderr)

    # d. cargo after the tool
    d = run_cmd(["cargo", "test", *check_args], root, env, out / "cargo-check.log")
    res.rebuilds["cargo test after tool"] = compiled(d.output)
    if d.status != 0 and a.status == 0:
        res.anomalies.append(f"`cargo test {shlex.join(check_args)}` exited {d.status}")

    # Compare.
    sections = parse_cargo_test(a.output, tmap)
    log1 = read_raw_log(out / "structlog-1.raw")
    log2 = read_raw_log(out / "structlog-2.raw")
    if log1 is None:
        res.anomalies.append("the tool wrote no raw log")
        log1 = ToolLog()
    mismatches, anomalies, res.cargo_tests, accepted = compare(sections, log1, entry.accept)
    if any(sec.libtest and not sec.counts_agree for sec in sections):
        # Something printed lines that look like results: keep only the names
        # that the binaries list.
        lst = run_cmd(["cargo", "test", *list_args], root, env, out / "cargo-list.log")
        for note in drop_unlisted(sections, listed_names(lst.output, tmap)):
            ctx.say(f"{entry.key} [{sel.name}]: {note}")
        mismatches, anomalies, res.cargo_tests, accepted = compare(sections, log1, entry.accept)
    res.mismatches, res.accepted = mismatches, accepted
    res.anomalies = res.anomalies + anomalies
    res.tool_tests = len(log1.ended)
    first_section = re.search(r"^\s+(Running|Doc-tests) ", a.output, re.M)
    res.nested_compiles = [
        len(compiled(a.output[first_section.start():])) if first_section else 0,
        log1.nested_compiles,
        log2.nested_compiles if log2 else 0,
    ]
    res.tool_errors = log1.errors
    if log1.bad_lines:
        res.anomalies.append(f"raw log: {log1.bad_lines} lines are not JSON")
    if not log1.suite_end and log1.listed | set(log1.ended):
        res.anomalies.append("raw log: no suite_end")
    if log2 is not None:
        for tid in sorted(set(log1.ended) | set(log2.ended)):
            s1, s2 = describe(log1.ended.get(tid)), describe(log2.ended.get(tid))
            if s1 != s2:
                res.tool_runs_differ.append(f"{tid}: {s1} then {s2}")
    if res.tool_status_2 != res.tool_status:
        res.tool_runs_differ.append(f"exit status {res.tool_status} then {res.tool_status_2}")
    (out / "mismatches.txt").write_text("".join(f"{m}\n" for m in res.mismatches))
    ctx.say(
        f"{entry.key} [{sel.name}]: {res.cargo_tests} / {res.tool_tests} tests, "
        f"{len(res.mismatches)} mismatches, exit {res.cargo_status} / {res.tool_status}, "
        f"{a.seconds:.1f}s / {b.seconds:.1f}s + {c.seconds:.1f}s"
    )
    return res


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def rebuild_text(s: SelectionResult) -> str:
    parts = [f"{k}: {len(v)}" for k, v in s.rebuilds.items() if v]
    text = "; ".join(parts) if parts else "none"
    if any(s.nested_compiles):
        a, b, c = s.nested_compiles
        text += f" (inside the tests: cargo test {a}, tool {b} then {c})"
    return text


def mismatch_summary(s: SelectionResult) -> str:
    kinds = Counter(m.kind for m in s.mismatches)
    text = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "0"
    if s.accepted:
        text += f" ({len(s.accepted)} accepted)"
    if s.anomalies:
        text += f"; {len(s.anomalies)} anomalies"
    if s.tool_runs_differ:
        text += f"; the 2 tool runs differ on {len(s.tool_runs_differ)}"
    return text


def print_details(r: EntryResult) -> list[str]:
    """The mismatches of one entry, grouped, for the terminal."""
    lines = [f"\n## {r.entry.key}: {'matches' if r.matches else 'DIFFERS'}"]
    if r.error:
        lines.append(f"  error: {r.error}")
    for s in r.selections:
        for m in s.accepted:
            lines.append(f"  [{s.selection}] accepted difference: {m}")
        if s.matches:
            continue
        lines.append(f"  [{s.selection}] cargo test {shlex.join(s.cargo_args)}")
        lines.append(f"      cargo structlog {shlex.join(s.tool_args)}")
        if s.cargo_status != s.tool_status:
            lines.append(f"    exit status: cargo test {s.cargo_status}, tool {s.tool_status}")
        for k, v in s.rebuilds.items():
            if v:
                lines.append(f"    rebuild ({k}): {len(v)} crates compiled: {', '.join(v[:8])}")
        for a in s.anomalies:
            lines.append(f"    anomaly: {a}")
        for e in s.tool_errors[:5]:
            lines.append(f"    tool error: {e[:300]}")
        for x in s.tool_runs_differ[:5]:
            lines.append(f"    tool runs differ: {x}")
        groups = Counter((m.kind, m.binary) for m in s.mismatches)
        for (kind, binary), n in sorted(groups.items()):
            lines.append(f"    {n:6d} x {kind}: {binary}")
        for m in s.mismatches[:MISMATCHES_SHOWN]:
            lines.append(f"      {m}")
        if len(s.mismatches) > MISMATCHES_SHOWN:
            lines.append(f"      ... and {len(s.mismatches) - MISMATCHES_SHOWN} more (runs/{r.entry.key}/{s.selection}/mismatches.txt)")
    return lines


def tables(results: list[EntryResult], total_seconds: float) -> str:
    out = ["# cargo structlog against cargo test: the real-world corpus", ""]
    ok = sum(r.matches for r in results)
    out.append(f"{ok} of {len(results)} crates match; whole run {total_seconds:.0f}s.")
    out += ["", "## By crate", ""]
    out.append("| crate | version | covers | selections | tests (cargo test / tool) | mismatches | exit statuses (cargo test / tool) | rebuilds | wall time cargo test | wall time structlog (1st + 2nd run) | verdict |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        e = r.entry
        version = e.version if not e.workspace else ", ".join(f"{m.name} {m.version}" for m in e.members)
        if r.error:
            out.append(f"| {e.name} | {md(version)} | {md(e.covers)} | | | | | | | | ERROR: {md(r.error)} |")
            continue
        sels = r.selections
        out.append(
            "| " + " | ".join([
                e.name, md(version), md(e.covers),
                ", ".join(s.selection for s in sels),
                f"{sum(s.cargo_tests for s in sels)} / {sum(s.tool_tests for s in sels)}",
                str(sum(len(s.mismatches) for s in sels))
                + (f" (+{sum(len(s.anomalies) for s in sels)} anomalies)" if any(s.anomalies for s in sels) else "")
                + (f" ({sum(len(s.accepted) for s in sels)} accepted)" if any(s.accepted for s in sels) else ""),
                ", ".join(f"{s.cargo_status}/{s.tool_status}" for s in sels),
                str(sum(1 for s in sels if any(s.rebuilds.values()))) + f" of {len(sels)}",
                f"{sum(s.cargo_seconds for s in sels):.1f}s",
                f"{sum(s.tool_seconds for s in sels):.1f}s + {sum(s.tool_seconds_2 for s in sels):.1f}s",
                "match" if r.matches else "DIFFERS",
            ]) + " |"
        )
    out += ["", "## By selection", ""]
    out.append("| crate | selection | cargo test arguments | tool arguments | tests (cargo test / tool) | mismatches | exit (cargo test / tool) | rebuilds | cargo test | structlog (1st, 2nd) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for s in r.selections:
            out.append(
                "| " + " | ".join([
                    r.entry.name, s.selection,
                    "`" + md(shlex.join(s.cargo_args)) + "`",
                    "`" + md(shlex.join(s.tool_args)) + "`",
                    f"{s.cargo_tests} / {s.tool_tests}",
                    md(mismatch_summary(s)),
                    f"{s.cargo_status} / {s.tool_status}",
                    md(rebuild_text(s)),
                    f"{s.cargo_seconds:.1f}s",
                    f"{s.tool_seconds:.1f}s, {s.tool_seconds_2:.1f}s",
                ]) + " |"
            )
    return "\n".join(out) + "\n"


def to_json(results: list[EntryResult]) -> list[dict]:
    data = []
    for r in results:
        data.append({
            "crate": r.entry.name,
            "version": r.entry.version,
            "members": [dataclasses.asdict(m) for m in r.entry.members],
            "covers": r.entry.covers,
            "error": r.error,
            "matches": r.matches,
            "selections": [
                {**dataclasses.asdict(s), "matches": s.matches}
                for s in r.selections
            ],
        })
    return data


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Context:
    root: Path
    work: Path
    locks: Path
    tool_dir: Path
    env: dict[str, str]
    generate_locks: bool
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def say(self, text: str) -> None:
        with self.lock:
            print(text, flush=True)


def build_tool(root: Path) -> Path:
    """`cargo build --release` of this project; returns the binary's path."""
    print("building cargo-structlog (cargo build --release --locked)", flush=True)
    proc = subprocess.run(
        ["cargo", "build", "--release", "--locked", "--message-format", "json-render-diagnostics",
         "--manifest-path", str(root / "Cargo.toml")],
        check=True, stdout=subprocess.PIPE,
    )
    for line in proc.stdout.decode().splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "cargo-structlog":
            return Path(msg["executable"])
    raise SystemExit("corpus: the build made no cargo-structlog binary")


def toolchain_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of every run: the toolchain's own binaries first on
    PATH, so that cargo, rustc and rustdoc are called directly.

    Through rustup's proxies, cargo and everything it starts (the tool, and
    what the tests start) would get the toolchain's library folder on
    LD_LIBRARY_PATH, which rustup alone adds: a tool that needs it to start
    a proc-macro crate's test binary works under rustup and fails elsewhere.
    Calling the toolchain directly measures the tool without that crutch
    (`cargo test` itself puts the folder on its tests' library path)."""
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, env=env
    ).stdout.strip()
    if sysroot and (Path(sysroot) / "bin" / "cargo").exists():
        env["PATH"] = os.pathsep.join([str(Path(sysroot) / "bin"), env.get("PATH", "")])
        var = "DYLD_FALLBACK_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
        if var in env:
            kept = [p for p in env[var].split(os.pathsep) if p and not p.startswith(sysroot)]
            if kept:
                env[var] = os.pathsep.join(kept)
            else:
                del env[var]
        for k in list(env):
            if k.startswith("RUSTUP_TOOLCHAIN"):
                del env[k]
    return env


def self_test() -> None:
    """Checks of the parsing and comparing on made-up input (no network, no
    builds): `scripts/corpus.sh --self-test`."""
    root = Path("/ws")
    targets = [
        Target("p", "lib", "p", "src/lib.rs", "p", root, root, True),
        Target("p", "bin", "p", "src/main.rs", "p::bin/p", root, root, True),
        Target("p", "test", "it", "tests/it.rs", "p::it", root, root, True),
        Target("p", "test", "custom", "tests/custom.rs", "p::custom", root, root, False),
    ]
    tmap = TargetMap(targets)
    text = "\n".join([
        "   Compiling p v0.1.0 (/ws)",
        "     Running unittests src/lib.rs (target/debug/deps/p-0123456789abcdef)",
        "running 5 tests",
        "test a ... ok",
        "test b - should panic ... ok",
        "test c with spaces \"and quotes\" ... FAILED",
        "test d ... ignored, needs network ... really",
        "test padded                  ... ok",
        "test result: FAILED. 3 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        "error: test failed, to rerun pass `--lib`",
        "     Running unittests src/main.rs (target/debug/deps/p-fedcba9876543210)",
        "running 1 test",
        "test x ... output of the test",
        "ok",
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        "     Running tests/custom.rs (target/debug/deps/custom-00000000000000aa)",
        "test looks_like_a_result ... ok",
        "test result: ok",
        "     Running tests/it.rs (target/debug/deps/it-00000000000000bb)",
        "running 1 test",
        "test tests/ui/forged.rs ... ok",
        "test real ... ok",
        "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        "   Doc-tests p",
        "running 2 tests",
        "test src/lib.rs - f (line 3) - compile fail ... ok",
        "test src/lib.rs - g (line 9) - should panic ... ok",
        "test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
    ])
    secs = parse_cargo_test(text, tmap)
    assert [s.binary_id for s in secs] == ["p", "p::bin/p", "p::custom", "p::it", "p::doc"], secs
    lib = secs[0]
    assert set(lib.results) == {"a", "b", "c with spaces \"and quotes\"", "d", "padded"}, lib.results
    assert lib.results["b"].marker == "should panic" and lib.results["d"].outcome == "ignored"
    assert lib.failed and lib.libtest and lib.summed == lib.announced == 5
    assert secs[1].results["x"].outcome == "ok"
    assert not secs[2].libtest
    assert secs[4].results["src/lib.rs - f (line 3)"].marker == "compile fail"

    def end(status, expected=None):
        e = {"action": "test_end", "status": status}
        if expected:
            e["expected"] = expected
        return e

    tool = ToolLog()
    tool.ended = {
        "p a": end("PASS"), "p b": end("FAIL"), 'p c with spaces "and quotes"': end("FAIL", "PASS"),
        "p d": end("SKIP"), "p padded": end("PASS"), "p::bin/p x": end("PASS"),
        "p::custom custom": end("PASS"), "p::it real": end("PASS"),
        "p::doc src/lib.rs - f (line 3)": end("PASS"), "p::doc src/lib.rs - g (line 9)": end("FAIL"),
    }
    mism, anomalies, n, _ = compare(secs, tool)
    # it: 2 result lines read against 1 announced: a forged line, which the
    # binary's listing then sets aside.
    assert [m.test for m in mism] == ["tests/ui/forged.rs"] and len(anomalies) == 1, (mism, anomalies)
    listed = listed_names("     Running tests/it.rs (target/debug/deps/it-00000000000000bb)\nreal: test\n", tmap)
    assert listed == {"p::it": {"real"}}, listed
    assert len(drop_unlisted(secs, listed)) == 1
    mism, anomalies, n, _ = compare(secs, tool)
    assert mism == [] and anomalies == [] and n == 10, (mism, anomalies, n)
    tool.ended["p b"] = end("PASS")  # should_panic taken for a plain pass
    tool.ended["p::custom custom"] = end("FAIL", "PASS")
    del tool.ended["p::it real"]
    tool.ended["p::doc src/lib.rs - h (line 20)"] = end("PASS")
    kinds = sorted(m.kind for m in compare(secs, tool)[0])
    accept = {"p::bin/p x": Accepted("FAIL", None, "a reason")}
    tool.ended["p::bin/p x"] = end("FAIL")
    mism, _, _, acc = compare(secs, tool, accept)
    assert [m.test for m in acc] == ["x"] and "x" not in [m.test for m in mism], (mism, acc)
    tool.ended["p::bin/p x"] = end("PASS")
    assert kinds == ["custom harness verdict", "extra in tool", "missing in tool", "status"], kinds
    assert compiled("   Compiling p v0.1.0 (/ws)\n    Finished") == ["p v0.1.0"]
    # An edition 2021 should_panic doctest: a plain `ok`, the fence says it.
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "src").mkdir()
        (Path(tmp) / "src" / "lib.rs").write_text("/// x\n/// ```rust,should_panic\n/// panic!()\n/// ```\n")
        t = Target("p", "lib", "p", "src/lib.rs", "p", Path(tmp), Path(tmp), True)
        assert doctest_fence_should_panic(t, "src/lib.rs - f (line 2)")
        assert not doctest_fence_should_panic(t, "src/lib.rs - f (line 3)")
    print("self-test: ok")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="the project's root (default: this script's parent folder)")
    ap.add_argument("--only", help="only these corpus entries (comma-separated names)")
    ap.add_argument("--ci", action="store_true", help="only the entries marked ci = true")
    ap.add_argument("--tool", type=Path,
                    help="the cargo-structlog binary to measure (default: build this project with cargo build --release)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="corpus entries processed at once (default 1; more makes the wall times less comparable)")
    ap.add_argument("--generate-missing-locks", action="store_true",
                    help="create corpus/locks/NAME-VERSION.lock with cargo generate-lockfile where it is missing")
    ap.add_argument("--self-test", action="store_true",
                    help="check the parsing and comparing on made-up input, then exit")
    ap.add_argument("--prepare-only", action="store_true",
                    help="only download and unpack the entries; print, per entry, its name, "
                         "source folder and target folder (tab-separated), then exit")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return 0

    root = args.root.resolve()
    entries = load_corpus(root / "corpus" / "crates.toml")
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {e.name for e in entries}
        if unknown:
            print(f"corpus: no entries named {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        entries = [e for e in entries if e.name in wanted]
    if args.ci:
        entries = [e for e in entries if e.ci]
    if not entries:
        print("corpus: no entries selected", file=sys.stderr)
        return 2

    work = root / "target" / "corpus"
    work.mkdir(parents=True, exist_ok=True)
    if args.prepare_only:
        for e in entries:
            try:
                src = prepare_entry(e, work, root / "corpus" / "locks", args.generate_missing_locks)
            except (SetupError, subprocess.CalledProcessError, OSError) as err:
                print(f"corpus: {e.key}: {err}", file=sys.stderr)
                return 1
            print(f"{e.name}\t{src}\t{work / 'target' / e.key}", flush=True)
        return 0
    tool = (args.tool.resolve() if args.tool else build_tool(root))
    if not os.access(tool, os.X_OK):
        print(f"corpus: {tool} is not an executable", file=sys.stderr)
        return 2
    # `cargo structlog` finds `cargo-structlog` on PATH: a folder holding only
    # a link to the binary under test is put first on the tool runs' PATH.
    tool_dir = work / "tool-bin"
    tool_dir.mkdir(exist_ok=True)
    link = tool_dir / "cargo-structlog"
    link.unlink(missing_ok=True)
    link.symlink_to(tool)

    env = toolchain_env(dict(os.environ))
    for k in ("CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "RUSTC_BOOTSTRAP"):
        env.pop(k, None)
    env["RUST_BACKTRACE"] = "0"
    env["CARGO_TERM_COLOR"] = "never"
    ctx = Context(root, work, root / "corpus" / "locks", tool_dir, env, args.generate_missing_locks)

    version = subprocess.run([str(tool), "structlog", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"tool: {tool} ({version or 'version unknown'})", flush=True)
    print(f"entries: {', '.join(e.key for e in entries)}", flush=True)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda e: run_entry(e, ctx), entries))
    total = time.monotonic() - start

    for r in results:
        print("\n".join(print_details(r)))
    report = tables(results, total)
    (work / "results.md").write_text(report)
    (work / "results.json").write_text(json.dumps(to_json(results), indent=1))
    print()
    print(report)
    print(f"written: {work / 'results.md'}, {work / 'results.json'}; logs under {work / 'runs'}")
    return 0 if all(r.matches for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
