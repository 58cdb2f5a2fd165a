#!/usr/bin/env python3
"""Read a JUnit XML file with junitparser (a real consumer of the format) and
print what it sees as JSON, for tests/xunit.rs to compare with the raw log.

usage: junit_counts.py FILE.xml
needs: pip install junitparser
prints: {"suites": [{"name", "tests", "failures", "errors", "skipped",
          "hostname", "timestamp_ms", "system_out",
          "counted": {"tests", "failures", "errors", "skipped"},
          "cases": [{"classname", "name", "time", "result", "type", "message",
                     "text", "file", "line", "system_out"}]}]}
  where the suite attributes are what the file states, "counted" is what
  junitparser counts from the cases themselves, and "result" is pass,
  failure, error or skipped (or "multiple" when a case has more than one),
  "text" that result's element text.
exit: 0 read, 1 unreadable, 2 cannot run
"""
import json
import sys
from datetime import datetime, timezone

try:
    from junitparser import Attr, Error, Failure, JUnitXml, Skipped, SystemOut, TestCase
except ImportError:
    print("junit_counts: the junitparser package is not installed", file=sys.stderr)
    sys.exit(2)

# junitparser reads the attributes it declares; the extended flavor's two are
# declared the way its documentation shows for custom attributes.
TestCase.file = Attr("file")
TestCase.line = Attr("line")


def result_of(case):
    results = case.result
    if not results:
        return "pass", None, None, None
    if len(results) > 1:
        return "multiple", None, None, None
    r = results[0]
    kind = {Failure: "failure", Error: "error", Skipped: "skipped"}[type(r)]
    return kind, r.type, r.message, r.text


def timestamp_ms(ts):
    if ts is None:
        return None
    t = datetime.fromisoformat(ts)
    if t.tzinfo is not None:
        raise ValueError(f"timestamp {ts} has a zone")
    return int(t.replace(tzinfo=timezone.utc).timestamp() * 1000)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        xml = JUnitXml.fromfile(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - any parse failure is the answer
        print(f"junit_counts: cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    suites = []
    for suite in xml:
        cases = []
        counted = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for case in suite:
            result, type_, message, text = result_of(case)
            counted["tests"] += 1
            key = {"failure": "failures", "error": "errors", "skipped": "skipped"}.get(result)
            if key:
                counted[key] += 1
            cases.append({
                "classname": case.classname,
                "name": case.name,
                "time": case.time,
                "result": result,
                "type": type_,
                "message": message,
                "text": text,
                "file": case.file,
                "line": case.line,
                "system_out": case.system_out,
            })
        out = suite.child(SystemOut)
        suites.append({
            "name": suite.name,
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "skipped": suite.skipped,
            "hostname": suite.hostname,
            "timestamp_ms": timestamp_ms(suite.timestamp),
            "system_out": out.text if out is not None else None,
            "counted": counted,
            "cases": cases,
        })
    json.dump({"suites": suites}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
