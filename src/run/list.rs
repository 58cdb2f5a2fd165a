//! `cargo structlog list`: the tests a run with the same flags would run,
//! as text for people or JSON for programs.
//!
//! ```json
//! { "count": 2, "tests": [
//!   { "id": "alpha tests::adds", "binary": "alpha", "name": "tests::adds",
//!     "kind": "test", "ignored": false, "ignore_reason": null,
//!     "should_panic": false, "path": "alpha/src/lib.rs", "line": 10 },
//!   { "id": "alpha::doc src/lib.rs - add (line 3)", "binary": "alpha::doc",
//!     "name": "src/lib.rs - add (line 3)", "kind": "doctest", ... } ] }
//! ```
//!
//! `kind` is `test` (libtest, libtest-mimic, `tester`), `doctest`, or
//! `custom-harness` (a `harness = false` binary judged by its exit status);
//! `path` and `line` are `null` when not known.

use crate::plan::{Discovered, Harness};
use serde_json::{json, Value};

fn kind(h: Harness) -> &'static str {
    match h {
        Harness::Rustdoc => "doctest",
        Harness::Custom => "custom-harness",
        Harness::Libtest | Harness::Mimic | Harness::Tester => "test",
    }
}

/// Completes what a run's listing leaves out: which tests of a
/// libtest-mimic or `tester` binary are ignored.
pub fn complete(listed: &mut [Discovered], flags: &crate::plan::flags::TestFlags) {
    std::thread::scope(|scope| {
        for d in listed.iter_mut() {
            let Discovered { binary, tests } = d;
            if let Ok(tests) = tests {
                scope.spawn(move || crate::plan::mark_ignored(binary, flags, tests));
            }
        }
    });
}

/// The listing, as text or JSON.
pub fn render(listed: &[Discovered], json: bool) -> String {
    if json {
        return render_json(listed);
    }
    let mut out = String::new();
    let (mut count, mut ignored, mut binaries) = (0, 0, 0);
    for d in listed {
        let Ok(tests) = &d.tests else { continue };
        if tests.is_empty() {
            continue;
        }
        binaries += 1;
        out.push_str(&format!(
            "{} ({}, {})\n",
            d.binary.id,
            kind(d.binary.harness),
            d.binary.harness.name()
        ));
        for t in tests {
            count += 1;
            out.push_str("    ");
            out.push_str(&t.name);
            if t.should_panic {
                out.push_str("  [should panic]");
            }
            if t.ignored {
                ignored += 1;
                match &t.ignore_reason {
                    Some(r) => out.push_str(&format!("  [ignored: {r}]")),
                    None => out.push_str("  [ignored]"),
                }
            }
            if let Some(p) = &t.path {
                out.push_str("  ");
                out.push_str(p);
                if let Some(l) = t.line {
                    out.push_str(&format!(":{l}"));
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "{count} test{} in {binaries} binar{}, {ignored} ignored\n",
        if count == 1 { "" } else { "s" },
        if binaries == 1 { "y" } else { "ies" },
    ));
    out
}

fn render_json(listed: &[Discovered]) -> String {
    let mut tests = Vec::new();
    for d in listed {
        let Ok(found) = &d.tests else { continue };
        for t in found {
            tests.push(json!({
                "id": format!("{} {}", d.binary.id, t.name),
                "binary": d.binary.id,
                "name": t.name,
                "kind": kind(d.binary.harness),
                "ignored": t.ignored,
                "ignore_reason": t.ignore_reason,
                "should_panic": t.should_panic,
                "path": t.path,
                "line": t.line,
            }));
        }
    }
    let doc = json!({ "count": tests.len(), "tests": Value::Array(tests) });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    text.push('\n');
    text
}
