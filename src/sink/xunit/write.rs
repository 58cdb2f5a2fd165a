//! Writing the document: each case judged (the xfail/xpass mapping), then
//! the suites and cases as XML in the chosen flavor.

use super::*;
use crate::model::Status;
use crate::text::millis_as_secs;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{Map, Value};
use std::io::{self, Write};

/// What a case is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Omit,
    Pass,
    Skipped,
    Failure,
    Error,
    ExpectedFailure,
    UnexpectedSuccess,
}

/// Why: which rule gave the verdict (it decides the type and message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    Result,
    KnownIntermittent,
    Xfail,
    Xpass,
    Subtests,
    Unfinished,
    NotRun,
}

pub(super) fn is_pass(s: Status) -> bool {
    matches!(s, Status::Pass | Status::Ok)
}

pub(super) fn mapped(mode: MapMode, why: Why) -> (Verdict, Why) {
    let verdict = match (mode, why) {
        (MapMode::Success, _) => Verdict::Pass,
        (MapMode::Failure, _) => Verdict::Failure,
        (MapMode::Ignore, _) => Verdict::Omit,
        (MapMode::Passthru, Why::Xpass) => Verdict::UnexpectedSuccess,
        (MapMode::Passthru, _) => Verdict::ExpectedFailure,
    };
    (verdict, why)
}

pub(super) fn judge(case: &Case, opts: &XunitOptions) -> (Verdict, Why) {
    let Some(o) = case.outcome() else {
        return if case.start().is_some() {
            (Verdict::Error, Why::Unfinished)
        } else {
            (Verdict::Skipped, Why::NotRun)
        };
    };
    let base = if o.expected.is_some() {
        if o.known_intermittent {
            (Verdict::Pass, Why::KnownIntermittent)
        } else if is_pass(o.status) {
            mapped(opts.xpass, Why::Xpass)
        } else {
            match o.status {
                Status::Error | Status::Crash => (Verdict::Error, Why::Result),
                Status::Fail
                | Status::Timeout
                | Status::Assert
                | Status::PreconditionFailed
                | Status::Notrun
                | Status::Skip
                | Status::Pass
                | Status::Ok => (Verdict::Failure, Why::Result),
            }
        }
    } else {
        match o.status {
            Status::Pass | Status::Ok => (Verdict::Pass, Why::Result),
            Status::Skip | Status::Notrun => (Verdict::Skipped, Why::Result),
            Status::Fail
            | Status::Error
            | Status::Timeout
            | Status::Crash
            | Status::Assert
            | Status::PreconditionFailed => mapped(opts.xfail, Why::Xfail),
        }
    };
    if base.0 == Verdict::Pass && case.unexpected_subtests() > 0 {
        (Verdict::Failure, Why::Subtests)
    } else {
        base
    }
}

/// `classname` and `name` of a test: the binary id plus the module path,
/// and the function.
pub(super) fn split_name(test: &str, group: &str) -> (String, String) {
    let libtest = test
        .strip_prefix(group)
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or(test);
    split_libtest(libtest, group)
}

/// [`split_name`] of the libtest name of a test of binary `group`.
pub(super) fn split_libtest(libtest: &str, group: &str) -> (String, String) {
    // Only a Rust path is split: a doctest's name (`src/lib.rs - a::b (line 5)`)
    // stays whole. (Thousands of names: bytes are looked at, not characters,
    // unless the name has other than ASCII.)
    let spaced = if libtest.is_ascii() {
        libtest
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == 0x0b)
    } else {
        libtest.contains(char::is_whitespace)
    };
    if !spaced {
        // The last `::`, as `rsplit_once` finds it.
        let last = libtest.as_bytes().windows(2).rposition(|w| w == b"::");
        if let Some(i) = last.filter(|&i| i > 0 && i + 2 < libtest.len()) {
            let (module, function) = (&libtest[..i], &libtest[i + 2..]);
            let mut classname = String::with_capacity(group.len() + 2 + module.len());
            classname.push_str(group);
            classname.push_str("::");
            classname.push_str(module);
            return (classname, function.to_string());
        }
    }
    (group.to_string(), libtest.to_string())
}

/// The cargo package of a binary id (`alpha::it_one` → `alpha`).
pub(super) fn package_of(binary: &str) -> &str {
    binary.split("::").next().unwrap_or(binary)
}

/// Milliseconds since the epoch as an ISO 8601 UTC time without a zone
/// (`2023-11-14T22:13:20`), the form the Ant schema requires.
pub(super) fn iso_time(ms: u64) -> String {
    let c = crate::text::Civil::from_millis(ms);
    if c.year > 9999 {
        return "9999-12-31T23:59:59".to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// A JSON value as a property value.
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A name for an attribute that must not be empty (`xs:token`, minLength 1).
pub(super) fn non_empty(s: &str, fallback: &str) -> String {
    let clean = sanitize(s);
    if clean.trim().is_empty() {
        fallback.to_string()
    } else {
        clean.into_owned()
    }
}

/// A written case: the attributes and children, all text sanitized.
pub(super) struct Rendered {
    /// The mozlog test id, for the Ant flavor's output headings (empty in
    /// the other flavors).
    pub(super) test: String,
    pub(super) classname: String,
    pub(super) name: String,
    pub(super) time: String,
    pub(super) file: Option<String>,
    pub(super) line: Option<u64>,
    /// The result element: (tag, type, message, body).
    pub(super) result: Option<(&'static str, String, String, String)>,
    /// Earlier attempts of a retried test: `flakyFailure`/`flakyError` when
    /// it passed in the end, `rerunFailure`/`rerunError` when it did not
    /// (Maven Surefire's elements, in junit-10.xsd): (tag, type, message).
    pub(super) reruns: Vec<(&'static str, String, String)>,
    /// Notes and output, for `<system-out>`.
    pub(super) out: String,
}

pub(super) fn join_lines<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn render_case(
    case: &Case,
    group: &str,
    path: Option<&str>,
    verdict: Verdict,
    why: Why,
    last_time: u64,
    opts: &XunitOptions,
) -> Rendered {
    let (classname, name) = match case.libtest() {
        Some(libtest) => split_libtest(libtest, group),
        None => split_name(&case.test, group),
    };
    let elapsed = match (case.start(), case.end()) {
        (Some(s), Some(e)) => e.saturating_sub(s),
        (Some(s), None) => last_time.saturating_sub(s),
        (None, _) => 0,
    };
    let outcome = case.outcome();
    let o = outcome.as_ref();
    let message = o.and_then(|o| o.message);
    let stack = o.and_then(|o| o.stack);
    let status_text = |o: &Outcome| match o.expected {
        Some(exp) => format!("{}, expected {exp}", o.status),
        None => o.status.to_string(),
    };
    // The limit and the sample as lines of their own, unless the message
    // (the runner's "timed out after 5 s ...; stacks sampled ...") has them.
    let timeout_lines = |o: &Outcome, msg: &str| {
        let mut lines = Vec::new();
        if let Some(t) = o.timeout {
            lines.push(format!("time limit: {t} s"));
        }
        if let Some(s) = o.sample.filter(|s| !msg.contains(*s)) {
            lines.push(format!("stacks sampled before the kill: {s}"));
        }
        lines.join("\n")
    };
    let subtests = case.subtests().filter(|s| s.unexpected > 0).map(|s| {
        format!(
            "unexpected subtest results:\n{}",
            s.detail.render(opts.max_output.max(MIN_TEXT))
        )
    });
    let mut notes: Vec<String> = Vec::new();
    let result = match (verdict, why) {
        (Verdict::Omit | Verdict::Pass, _) => {
            if let Some(o) = o {
                match why {
                    Why::KnownIntermittent => notes.push(format!(
                        "known intermittent: {}{}",
                        status_text(o),
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Xpass => notes.push(format!(
                        "unexpected success (written as a pass: --log-xunit-xpass success){}",
                        message.map(|m| format!(" - {m}")).unwrap_or_default()
                    )),
                    Why::Result | Why::Xfail | Why::Subtests | Why::Unfinished | Why::NotRun => {}
                }
            }
            None
        }
        (Verdict::Skipped, Why::NotRun) => Some((
            "skipped",
            String::new(),
            "not run: listed in suite_start, but the log has no result for it".to_string(),
            String::new(),
        )),
        (Verdict::Skipped, _) => Some((
            "skipped",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
        (Verdict::Error, Why::Unfinished) => Some((
            "error",
            "incomplete".to_string(),
            "did not finish: the log ends before its result".to_string(),
            String::new(),
        )),
        (Verdict::Failure, Why::Subtests) => Some((
            "failure",
            "subtest".to_string(),
            format!(
                "{} of {} subtests had unexpected results",
                case.unexpected_subtests(),
                case.subtests().map_or(0, |s| s.count)
            ),
            subtests.clone().unwrap_or_default(),
        )),
        (Verdict::Failure, Why::Xfail) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "failure",
                "expected_failure".to_string(),
                format!(
                    "expected failure ({}){}",
                    o.status,
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                ),
                join_lines([message, stack, subtests.as_deref()]),
            ))
        }
        (Verdict::Failure, Why::Xpass) => Some((
            "failure",
            "unexpected_success".to_string(),
            "unexpected success".to_string(),
            join_lines([message, subtests.as_deref()]),
        )),
        (Verdict::Failure | Verdict::Error, _) => {
            let o = o.expect("a failure has a result");
            let tag = if verdict == Verdict::Error {
                "error"
            } else {
                "failure"
            };
            let msg = match (message, o.status, o.timeout) {
                (Some(m), _, _) => m.to_string(),
                (None, Status::Timeout, Some(t)) => format!("timed out after {t} s"),
                (None, _, _) => status_text(o),
            };
            let timeout = timeout_lines(o, &msg);
            Some((
                tag,
                o.status.lower().to_string(),
                msg.clone(),
                join_lines([
                    Some(msg.as_str()),
                    stack,
                    Some(timeout.as_str()),
                    case.crash(),
                    subtests.as_deref(),
                ]),
            ))
        }
        (Verdict::ExpectedFailure, _) => {
            let o = o.expect("an expected failure has a result");
            Some((
                "expected-failure",
                o.status.lower().to_string(),
                message.unwrap_or_default().to_string(),
                String::new(),
            ))
        }
        (Verdict::UnexpectedSuccess, _) => Some((
            "unexpected-success",
            String::new(),
            message.unwrap_or_default().to_string(),
            String::new(),
        )),
    };
    // The message as the element's text too, where there is no other:
    // readers that take an element's text and not its attributes (GitLab,
    // which otherwise gets the attributes as a hash) still read the reason.
    let result = result.map(|(tag, kind, message, body)| {
        let body = match tag {
            "skipped" | "failure" | "error" if body.is_empty() => message.clone(),
            _ => body,
        };
        (tag, kind, message, body)
    });
    let passed = matches!(verdict, Verdict::Omit | Verdict::Pass);
    let reruns: Vec<(&'static str, String, String)> = o
        .map(|o| {
            o.reruns
                .iter()
                .filter(|(status, _)| !matches!(status, Status::Pass | Status::Ok | Status::Skip))
                .map(|(status, message)| {
                    let error = matches!(status, Status::Error | Status::Crash);
                    let tag = match (passed, error) {
                        (true, false) => "flakyFailure",
                        (true, true) => "flakyError",
                        (false, false) => "rerunFailure",
                        (false, true) => "rerunError",
                    };
                    (
                        tag,
                        status.lower().to_string(),
                        non_empty(message, status.as_str()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(o) = o {
        let total = o.reruns.len() + 1;
        for (n, (status, message)) in o.reruns.iter().enumerate() {
            notes.push(format!(
                "attempt {} of {total}: {status}{}",
                n + 1,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" - {message}")
                }
            ));
        }
    }
    let mut out = notes.join("\n");
    if let Some(output) = case.output() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&output.render(opts.max_output));
    }
    Rendered {
        test: if opts.flavor == Flavor::Ant {
            sanitize(&case.id(group)).into_owned()
        } else {
            String::new()
        },
        classname: sanitize(&classname).into_owned(),
        name: sanitize(&name).into_owned(),
        time: millis_as_secs(elapsed),
        file: path.map(|p| sanitize(p).into_owned()),
        line: case.line(),
        result,
        reruns,
        out,
    }
}

/// A suite ready to write: its counts, and where its cases come from. The
/// cases of a recorded suite are rendered one at a time as they are
/// written, so that the document costs no more memory than the record.
pub(super) struct SuiteOut<'a> {
    pub(super) name: String,
    pub(super) package: String,
    /// The recorded suite (`None` for the harness errors).
    pub(super) suite: Option<&'a Suite>,
    /// The harness errors, rendered (they are few).
    pub(super) harness: Vec<Rendered>,
    /// Output outside any test.
    pub(super) extra_out: String,
    pub(super) timestamp: u64,
    pub(super) time: u64,
    pub(super) tests: u64,
    pub(super) failures: u64,
    pub(super) errors: u64,
    pub(super) skipped: u64,
    pub(super) xfail: u64,
    pub(super) xpass: u64,
}

impl<'a> SuiteOut<'a> {
    pub(super) fn new(name: String, package: String, timestamp: u64) -> SuiteOut<'a> {
        SuiteOut {
            name,
            package,
            suite: None,
            harness: Vec::new(),
            extra_out: String::new(),
            timestamp,
            time: 0,
            tests: 0,
            failures: 0,
            errors: 0,
            skipped: 0,
            xfail: 0,
            xpass: 0,
        }
    }

    /// Counts a case written as `v`.
    pub(super) fn count(&mut self, v: Verdict) {
        match v {
            Verdict::Omit => return,
            Verdict::Pass => {}
            Verdict::Skipped => self.skipped += 1,
            Verdict::Failure => self.failures += 1,
            Verdict::Error => self.errors += 1,
            Verdict::ExpectedFailure => self.xfail += 1,
            Verdict::UnexpectedSuccess => self.xpass += 1,
        }
        self.tests += 1;
    }
}

pub(super) fn plan<'a>(rec: &'a Record, opts: &XunitOptions) -> Vec<SuiteOut<'a>> {
    let start = rec.suite_started.or(rec.first_time).unwrap_or(0);
    let mut out = Vec::new();
    for suite in &rec.suites {
        let first = suite.cases.iter().filter_map(Case::start).min();
        let last = suite
            .cases
            .iter()
            .filter_map(|c| c.end().or(c.start().map(|_| rec.last_time)))
            .max();
        let name = non_empty(&suite.name, "default");
        let package = non_empty(package_of(&suite.name), &name);
        let mut s = SuiteOut::new(name, package, first.unwrap_or(start));
        if let (Some(f), Some(l)) = (first, last) {
            s.time = l.saturating_sub(f);
        }
        for case in &suite.cases {
            s.count(judge(case, opts).0);
        }
        s.suite = Some(suite);
        if !suite.output.is_empty() {
            s.extra_out = suite.output.render(opts.max_output);
        }
        out.push(s);
    }
    if !rec.harness.is_empty() {
        let source = rec.harness_source.as_deref().unwrap_or_default();
        let name = non_empty(source, "harness");
        let mut s = SuiteOut::new(name.clone(), name.clone(), rec.harness[0].time);
        for h in &rec.harness {
            let first_line = h.message.lines().find(|l| !l.trim().is_empty());
            let mut case_name: String = first_line.unwrap_or("harness error").to_string();
            if case_name.len() > 200 {
                let mut end = 200;
                while !case_name.is_char_boundary(end) {
                    end -= 1;
                }
                case_name.truncate(end);
                case_name.push_str("...");
            }
            let r = Rendered {
                test: case_name.clone(),
                classname: name.clone(),
                name: case_name,
                time: millis_as_secs(0),
                file: None,
                line: None,
                result: Some((
                    "error",
                    h.level.as_str().to_ascii_lowercase(),
                    h.message.clone(),
                    join_lines([Some(h.message.as_str()), h.stack.as_deref()]),
                )),
                reruns: Vec::new(),
                out: String::new(),
            };
            s.count(Verdict::Error);
            s.harness.push(r);
        }
        out.push(s);
    }
    out
}

pub(super) fn start_tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
    // Room for the attributes as they are (escapes may add some): one
    // allocation for most tags rather than one per attribute.
    let room = name.len()
        + attrs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum::<usize>();
    let mut content = String::with_capacity(room + 16);
    content.push_str(name);
    let mut start = BytesStart::from_content(content, name.len());
    for (k, v) in attrs {
        start.push_attribute((*k, *v));
    }
    start
}

/// An element holding text (empty when there is none).
pub(super) fn text_element<W: Write>(
    w: &mut Writer<W>,
    name: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> io::Result<()> {
    let start = start_tag(name, attrs);
    if text.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

pub(super) fn write_properties<W: Write>(
    w: &mut Writer<W>,
    run_info: Option<&Map<String, Value>>,
) -> io::Result<()> {
    let props: Vec<(String, String)> = run_info
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let k = sanitize(k);
            // The Ant schema wants a non-empty token as the name.
            (!k.trim().is_empty()).then(|| (k.into_owned(), sanitize(&value_text(v)).into_owned()))
        })
        .collect();
    if props.is_empty() {
        return w.write_event(Event::Empty(BytesStart::new("properties")));
    }
    w.write_event(Event::Start(BytesStart::new("properties")))?;
    for (k, v) in &props {
        w.write_event(Event::Empty(start_tag(
            "property",
            &[("name", k), ("value", v)],
        )))?;
    }
    w.write_event(Event::End(BytesEnd::new("properties")))
}

pub(super) fn write_case<W: Write>(
    w: &mut Writer<W>,
    r: &Rendered,
    flavor: Flavor,
) -> io::Result<()> {
    let line = r.line.map(|l| l.to_string());
    let mut attrs: Vec<(&str, &str)> = vec![
        ("name", &r.name),
        ("classname", &r.classname),
        ("time", &r.time),
    ];
    if flavor == Flavor::Extended {
        if let Some(f) = &r.file {
            attrs.push(("file", f));
        }
        if let Some(l) = &line {
            attrs.push(("line", l));
        }
    }
    // The Ant schema allows no output inside a testcase: it goes to the suite.
    let out = if flavor == Flavor::Ant {
        ""
    } else {
        r.out.as_str()
    };
    // The Ant schema allows one result element per case: attempts are only
    // in the output notes there.
    let reruns: &[(&str, String, String)] = if flavor == Flavor::Ant {
        &[]
    } else {
        &r.reruns
    };
    if r.result.is_none() && out.is_empty() && reruns.is_empty() {
        return w.write_event(Event::Empty(start_tag("testcase", &attrs)));
    }
    w.write_event(Event::Start(start_tag("testcase", &attrs)))?;
    if let Some((tag, kind, message, body)) = &r.result {
        let mut attrs: Vec<(&str, &str)> = Vec::new();
        if !kind.is_empty() {
            attrs.push(("type", kind));
        }
        if !message.is_empty() {
            attrs.push(("message", message));
        }
        text_element(w, tag, &attrs, body)?;
    }
    for (tag, kind, message) in reruns {
        w.write_event(Event::Empty(start_tag(
            tag,
            &[("type", kind), ("message", message)],
        )))?;
    }
    if !out.is_empty() {
        text_element(w, "system-out", &[], out)?;
    }
    w.write_event(Event::End(BytesEnd::new("testcase")))
}

/// The suite's `<system-out>` in the Ant flavor: each test's output under a
/// heading, then the output outside tests.
#[derive(Default)]
pub(super) struct AntOutput(String);

impl AntOutput {
    pub(super) fn case(&mut self, r: &Rendered) {
        if !r.out.is_empty() {
            self.0
                .push_str(&format!("---- {} ----\n{}\n", r.test, r.out));
        }
    }

    pub(super) fn finish(mut self, extra_out: &str) -> String {
        if !extra_out.is_empty() {
            if !self.0.is_empty() {
                self.0.push_str("---- outside any test ----\n");
            }
            self.0.push_str(extra_out);
        }
        self.0.trim_end_matches('\n').to_string()
    }
}

pub(super) fn write_document(
    out: &mut Output,
    rec: &Record,
    opts: &XunitOptions,
) -> io::Result<()> {
    let suites = plan(rec, opts);
    let flavor = opts.flavor;
    let passthru = opts.xfail == MapMode::Passthru || opts.xpass == MapMode::Passthru;
    let hostname = rec
        .run_info
        .as_ref()
        .and_then(|r| r.get("hostname"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The Ant schema's advice when the host is unknown.
    let hostname = non_empty(hostname, "localhost");

    let mut w = Writer::new_with_indent(&mut *out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    if flavor != Flavor::Ant {
        // The Ant schema allows no attributes on testsuites.
        if let Some(n) = &rec.name {
            root.push_attribute(("name", sanitize(n).as_ref()));
        }
        let sum = |f: fn(&SuiteOut) -> u64| suites.iter().map(f).sum::<u64>().to_string();
        root.push_attribute(("tests", sum(|s| s.tests).as_str()));
        root.push_attribute(("failures", sum(|s| s.failures).as_str()));
        root.push_attribute(("errors", sum(|s| s.errors).as_str()));
        let begin = rec.suite_started.or(rec.first_time).unwrap_or(0);
        let end = rec.suite_ended.unwrap_or(rec.last_time);
        root.push_attribute(("time", millis_as_secs(end.saturating_sub(begin)).as_str()));
    }
    if suites.is_empty() {
        w.write_event(Event::Empty(root))?;
        return out.write_all(b"\n");
    }
    w.write_event(Event::Start(root))?;
    for (id, s) in suites.iter().enumerate() {
        let counts = [
            s.tests.to_string(),
            s.failures.to_string(),
            s.errors.to_string(),
            s.skipped.to_string(),
            millis_as_secs(s.time),
            iso_time(s.timestamp),
            id.to_string(),
            s.xfail.to_string(),
            s.xpass.to_string(),
        ];
        let mut attrs: Vec<(&str, &str)> = vec![
            ("name", &s.name),
            ("tests", &counts[0]),
            ("failures", &counts[1]),
            ("errors", &counts[2]),
            ("skipped", &counts[3]),
            ("time", &counts[4]),
            ("timestamp", &counts[5]),
            ("hostname", &hostname),
        ];
        if flavor == Flavor::Ant {
            attrs.push(("package", &s.package));
            attrs.push(("id", &counts[6]));
        }
        if passthru {
            // As LLDB's formatter: counts no schema knows.
            attrs.push(("expected-failures", &counts[7]));
            attrs.push(("unexpected-successes", &counts[8]));
        }
        w.write_event(Event::Start(start_tag("testsuite", &attrs)))?;
        write_properties(&mut w, rec.run_info.as_ref())?;
        let mut ant = AntOutput::default();
        let mut put = |w: &mut Writer<&mut Output>, r: &Rendered| {
            if flavor == Flavor::Ant {
                ant.case(r);
            }
            write_case(w, r, flavor)
        };
        if let Some(suite) = s.suite {
            for case in &suite.cases {
                let (verdict, why) = judge(case, opts);
                if verdict == Verdict::Omit {
                    continue;
                }
                let path = rec.path_of(case);
                let r = render_case(case, &suite.name, path, verdict, why, rec.last_time, opts);
                put(&mut w, &r)?;
            }
        }
        for r in &s.harness {
            put(&mut w, r)?;
        }
        if flavor == Flavor::Ant {
            text_element(&mut w, "system-out", &[], &ant.finish(&s.extra_out))?;
            w.write_event(Event::Empty(BytesStart::new("system-err")))?;
        } else if !s.extra_out.is_empty() {
            text_element(&mut w, "system-out", &[], &s.extra_out)?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    out.write_all(b"\n")
}
