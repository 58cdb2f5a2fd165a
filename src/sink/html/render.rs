//! Writing the page: the summary as HTML, the tests as a JSON block that
//! the page's script draws.

use super::*;

/// The counts the summary shows.
#[derive(Default)]
struct Stats {
    total: u64,
    outcomes: BTreeMap<Outcome, u64>,
    unexpected_by_status: BTreeMap<Status, u64>,
}

impl Stats {
    fn of(report: &Report) -> Stats {
        let mut s = Stats {
            total: report.tests.len() as u64,
            ..Stats::default()
        };
        for t in &report.tests {
            let o = t.outcome();
            *s.outcomes.entry(o).or_default() += 1;
            if let (Outcome::Unexpected, Some(status)) = (o, t.status) {
                *s.unexpected_by_status.entry(status).or_default() += 1;
            }
        }
        s
    }

    fn get(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
}

/// The verdict at the top of the page.
fn verdict(r: &Report, s: &Stats) -> (&'static str, &'static str) {
    let errors = !r.errors.is_empty() || r.errors_cut > 0;
    let crashes = !r.crashes.is_empty() || r.crashes_cut > 0;
    let subtests_unexpected: u64 = r.subtests_unexpected.values().sum();
    if !r.saw_suite || r.open_suite {
        ("INCOMPLETE", "v-incomplete")
    } else if errors && s.total == 0 {
        ("ERROR", "v-failed")
    } else if s.get(Outcome::Unexpected) > 0
        || s.get(Outcome::Unfinished) > 0
        || subtests_unexpected > 0
        || errors
        || crashes
    {
        ("FAILED", "v-failed")
    } else if s.total == 0 {
        ("NO TESTS", "v-empty")
    } else {
        ("PASSED", "v-passed")
    }
}

impl Report {
    fn offset(&self, time: u64) -> String {
        let ms = time.saturating_sub(self.first_time.unwrap_or(time));
        format!("+{} s", millis_as_secs(ms))
    }

    fn title(&self) -> String {
        if self.suites.is_empty() {
            "Test report".to_string()
        } else {
            let names: Vec<&str> = self.suites.iter().map(|s| &**s).collect();
            format!("Test report: {}", names.join(", "))
        }
    }

    pub(super) fn write_page(&self, out: &mut dyn Write) -> io::Result<()> {
        let stats = Stats::of(self);
        let mut h = String::with_capacity(32 * 1024);
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        let _ = writeln!(
            h,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            csp()
        );
        h.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let (verdict, verdict_class) = verdict(self, &stats);
        h.push_str("<title>");
        esc(&mut h, &format!("{} ({verdict})", self.title()));
        h.push_str("</title>\n<style>");
        h.push_str(&inline(CSS));
        h.push_str("</style>\n</head>\n<body>\n");
        self.header(&mut h, verdict, verdict_class);
        h.push_str("<main>\n");
        self.alerts(&mut h, &stats);
        self.cards(&mut h, &stats);
        self.run_info(&mut h);
        self.slowest(&mut h);
        h.push_str(TABLE);
        self.log_panel(&mut h);
        self.other_output_panel(&mut h);
        h.push_str("</main>\n<footer>Written by cargo-structlog from ");
        h.push_str(&thousands(self.entries));
        h.push_str(if self.entries == 1 {
            " log entry.</footer>\n"
        } else {
            " log entries.</footer>\n"
        });
        h.push_str("<script id=\"report-data\" type=\"application/json\">\n");
        out.write_all(h.as_bytes())?;
        self.write_data(out)?;
        out.write_all(b"</script>\n<script>")?;
        out.write_all(inline(JS).as_bytes())?;
        out.write_all(b"</script>\n</body>\n</html>\n")
    }

    fn header(&self, h: &mut String, verdict: &str, class: &str) {
        h.push_str("<header class=\"top\">\n<div class=\"wrap top-row\">\n<div>\n<h1>");
        esc(h, &self.title());
        h.push_str("</h1>\n<p class=\"meta\">");
        let mut facts: Vec<String> = Vec::new();
        if let Some(t) = self.first_time {
            facts.push(format!("Started {}", utc(t)));
            facts.push(format!(
                "ran {}",
                duration(self.last_time.saturating_sub(t))
            ));
        }
        let info = |k: &str| {
            self.run_info
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
        };
        if let Some(host) = info("hostname") {
            let mut on = format!("on {host}");
            if let Some(os) = info("os") {
                on.push_str(&format!(" ({os})"));
            }
            facts.push(on);
        }
        if facts.is_empty() {
            facts.push("No entries".to_string());
        }
        esc(h, &facts.join(" · "));
        let _ = write!(
            h,
            "</p>\n</div>\n<div class=\"verdict {class}\" id=\"verdict\">{verdict}</div>\n</div>\n</header>\n"
        );
    }

    fn alerts(&self, h: &mut String, stats: &Stats) {
        if !self.saw_suite || self.open_suite {
            h.push_str(
                "<div class=\"alert warn\" id=\"incomplete\"><strong>Incomplete run.</strong> ",
            );
            if self.entries == 0 {
                h.push_str("The log has no entries: the run stopped before it started.");
            } else if !self.saw_suite {
                h.push_str(
                    "The log has no <code>suite_start</code>: it is not the log of a whole run.",
                );
            } else {
                h.push_str(
                    "The log ended before <code>suite_end</code>: the run was interrupted or is still going.",
                );
            }
            let unfinished = stats.get(Outcome::Unfinished);
            let not_started = stats.get(Outcome::NotStarted);
            if unfinished > 0 {
                let _ = write!(
                    h,
                    " {} started but never ended.",
                    plural(unfinished, "test", "tests")
                );
            }
            if not_started > 0 {
                let _ = write!(
                    h,
                    " {} never started.",
                    plural(not_started, "listed test", "listed tests")
                );
            }
            h.push_str("</div>\n");
        }
        let errors = self.errors.len() as u64 + self.errors_cut;
        let crashes = self.crashes.len() as u64 + self.crashes_cut;
        if errors + crashes == 0 {
            return;
        }
        h.push_str("<div class=\"alert error\" id=\"errors\" role=\"alert\">\n<h2>");
        let mut what = Vec::new();
        if errors > 0 {
            what.push(plural(errors, "error", "errors"));
        }
        if crashes > 0 {
            what.push(plural(
                crashes,
                "crash outside tests",
                "crashes outside tests",
            ));
        }
        esc(h, &what.join(", "));
        if stats.total == 0 {
            h.push_str(" · no test ran");
        }
        h.push_str("</h2>\n<ol class=\"entries\">\n");
        for l in &self.errors {
            self.log_item(h, l);
        }
        if self.errors_cut > 0 {
            let _ = writeln!(
                h,
                "<li class=\"more\">{} more not shown</li>",
                plural(self.errors_cut, "error", "errors")
            );
        }
        for c in &self.crashes {
            h.push_str("<li><span class=\"badge lv-critical\">CRASH</span><pre>");
            esc(h, c);
            h.push_str("</pre></li>\n");
        }
        if self.crashes_cut > 0 {
            let _ = writeln!(
                h,
                "<li class=\"more\">{} more not shown</li>",
                plural(self.crashes_cut, "crash", "crashes")
            );
        }
        h.push_str("</ol>\n</div>\n");
    }

    fn log_item(&self, h: &mut String, l: &LogRec) {
        let level = l.level.as_str();
        let _ = write!(
            h,
            "<li><span class=\"when\">{}</span><span class=\"badge lv-{}\">{level}</span><pre>",
            self.offset(l.time),
            level.to_ascii_lowercase()
        );
        esc(h, &l.message);
        if let Some(s) = &l.stack {
            h.push('\n');
            esc(h, s);
        }
        h.push_str("</pre></li>\n");
    }

    fn cards(&self, h: &mut String, s: &Stats) {
        h.push_str("<section class=\"cards\" aria-label=\"Summary\">\n");
        let card = |h: &mut String, key: &str, n: u64, label: &str, by: bool| {
            let zero = if n == 0 { " zero" } else { "" };
            let by = if by { " has-by" } else { "" };
            let _ = write!(
                h,
                "<a class=\"card k-{key}{zero}{by}\" href=\"#tests\" data-outcome=\"{key}\">\
                 <span class=\"n\" data-count=\"{key}\" data-value=\"{n}\">{}</span>\
                 <span class=\"l\">{label}</span>",
                thousands(n)
            );
        };
        card(h, "total", s.total, "Tests", false);
        h.push_str("</a>\n");
        for o in Outcome::ALL {
            let n = s.get(o);
            // Unfinished and never-started tests only exist in cut-short runs,
            // and a run without tests has nothing to break down.
            if n == 0 && (s.total == 0 || matches!(o, Outcome::Unfinished | Outcome::NotStarted)) {
                continue;
            }
            let by = o == Outcome::Unexpected && !s.unexpected_by_status.is_empty();
            card(h, o.key(), n, o.label(), by);
            if by {
                h.push_str("<span class=\"by\">");
                // The most frequent first; equal counts in mozlog's order.
                let mut by: Vec<(&Status, &u64)> = s.unexpected_by_status.iter().collect();
                by.sort_by_key(|(status, n)| (std::cmp::Reverse(**n), **status));
                for (status, n) in by {
                    let _ = write!(
                        h,
                        "<span class=\"pill\" data-count=\"unexpected-{status}\" data-value=\"{n}\">{} {status}</span>",
                        thousands(*n)
                    );
                }
                h.push_str("</span>");
            }
            h.push_str("</a>\n");
        }
        if self.subtests > 0 {
            let unexpected: u64 = self.subtests_unexpected.values().sum();
            let _ = writeln!(
                h,
                "<div class=\"card k-subtests\"><span class=\"n\" data-count=\"subtests\" data-value=\"{}\">{}</span>\
                 <span class=\"l\">Subtests</span><span class=\"by\">\
                 <span class=\"pill\" data-count=\"subtests-unexpected\" data-value=\"{unexpected}\">{} unexpected</span></span></div>",
                self.subtests,
                thousands(self.subtests),
                thousands(unexpected)
            );
        }
        let ms = self
            .first_time
            .map(|t| self.last_time.saturating_sub(t))
            .unwrap_or(0);
        let _ = writeln!(
            h,
            "<div class=\"card k-duration\"><span class=\"n\" data-count=\"duration-ms\" data-value=\"{ms}\">{}</span>\
             <span class=\"l\">Duration</span></div>",
            duration(ms)
        );
        h.push_str("</section>\n");
    }

    /// The slowest tests: the ten slowest, then any other over the threshold.
    fn slowest(&self, h: &mut String) {
        use crate::sink::slowest::{self, TOP};
        let threshold = match self.slow_threshold_ms {
            0 => slowest::THRESHOLD_MS,
            ms => ms,
        };
        let mut timed: Vec<(u64, usize)> = (self.tests.iter().enumerate())
            .filter_map(|(i, t)| Some((t.duration()?, i)))
            .collect();
        if timed.is_empty() {
            return;
        }
        let by_time = |a: &(u64, usize), b: &(u64, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if timed.len() > TOP {
            timed.select_nth_unstable_by(TOP - 1, by_time);
            let (top, rest) = timed.split_at_mut(TOP);
            let mut over: Vec<(u64, usize)> = rest
                .iter()
                .copied()
                .filter(|(ms, _)| *ms > threshold)
                .collect();
            let mut shown = top.to_vec();
            shown.append(&mut over);
            timed = shown;
        }
        timed.sort_by(by_time);
        h.push_str(
            "<section class=\"panel slowest\" id=\"slowest\">\n<h2>Slowest tests</h2>\n\
             <table><thead><tr><th class=\"dur\">Duration</th><th>Test</th><th class=\"st\">Status</th></tr></thead><tbody>\n",
        );
        let groups = self.groups.all();
        for (ms, i) in timed {
            let t = &self.tests[i];
            let over = if ms > threshold {
                " class=\"over\""
            } else {
                ""
            };
            let _ = write!(
                h,
                "<tr{over}><td class=\"dur\">{}</td><td class=\"id\">",
                duration(ms)
            );
            esc(h, &clean(&t.id(groups)));
            h.push_str("</td><td class=\"st\">");
            h.push_str(t.status.map_or("", |s| s.as_str()));
            h.push_str("</td></tr>\n");
        }
        h.push_str("</tbody></table>\n</section>\n");
    }

    fn run_info(&self, h: &mut String) {
        let sections = [
            ("Run info", &self.run_info),
            ("Version info", &self.version_info),
            ("Device info", &self.device_info),
        ];
        if sections
            .iter()
            .all(|(_, m)| m.as_ref().is_none_or(Map::is_empty))
        {
            return;
        }
        h.push_str("<section class=\"panel info\" id=\"run-info\">\n");
        for (title, map) in sections {
            let Some(map) = map.as_ref().filter(|m| !m.is_empty()) else {
                continue;
            };
            let _ = write!(h, "<h2>{title}</h2>\n<dl class=\"kv\">\n");
            for (k, v) in map {
                h.push_str("<div><dt>");
                esc(h, k);
                h.push_str("</dt><dd>");
                esc(h, &value_text(v));
                h.push_str("</dd></div>\n");
            }
            h.push_str("</dl>\n");
        }
        h.push_str("</section>\n");
    }

    fn log_panel(&self, h: &mut String) {
        let total: u64 = self.log_counts.values().sum();
        if total == 0 && self.other_actions.is_empty() {
            return;
        }
        h.push_str(
            "<details class=\"panel\" id=\"log\">\n<summary><h2>Log</h2><span class=\"muted\">",
        );
        let mut by_level: Vec<String> = self
            .log_counts
            .iter()
            .map(|(l, n)| match l {
                Level::Error => plural(*n, "error", "errors"),
                Level::Warning => plural(*n, "warning", "warnings"),
                l => format!("{} {}", thousands(*n), l.as_str().to_ascii_lowercase()),
            })
            .collect();
        if by_level.is_empty() {
            by_level.push("no messages".to_string());
        }
        esc(h, &by_level.join(", "));
        h.push_str("</span></summary>\n");
        if !self.other_actions.is_empty() {
            h.push_str("<p class=\"muted\">Other entries: ");
            let other: Vec<String> = self
                .other_actions
                .iter()
                .map(|(a, n)| format!("{a} × {}", thousands(*n)))
                .collect();
            esc(h, &other.join(", "));
            h.push_str("</p>\n");
        }
        // Errors are listed at the top already; here everything in order.
        let mut all: Vec<&LogRec> = self.logs.iter().chain(&self.errors).collect();
        all.sort_by_key(|l| l.time);
        if !all.is_empty() {
            h.push_str("<ol class=\"entries\">\n");
            for l in all {
                self.log_item(h, l);
            }
            h.push_str("</ol>\n");
        }
        if self.logs_cut > 0 {
            let _ = writeln!(
                h,
                "<p class=\"more\">{} more not shown</p>",
                plural(self.logs_cut, "message", "messages")
            );
        }
        h.push_str("</details>\n");
    }

    fn other_output_panel(&self, h: &mut String) {
        if self.other_output.is_empty() {
            return;
        }
        h.push_str("<details class=\"panel\" id=\"other-output\">\n<summary><h2>Output outside tests</h2><span class=\"muted\">");
        h.push_str(&plural(
            self.other_output.len() as u64,
            "process",
            "processes",
        ));
        h.push_str("</span></summary>\n");
        for p in &self.other_output {
            h.push_str("<h3>Process ");
            esc(h, &p.process);
            h.push_str("</h3>\n");
            if let Some(c) = &p.command {
                h.push_str("<p class=\"cmd\"><code>");
                esc(h, c);
                h.push_str("</code></p>\n");
            }
            let (head, cut, tail) = p.output.parts(OUTPUT_CAP);
            if cut > 0 {
                let _ = writeln!(h, "<p class=\"cut\">{}</p>", cut_note(cut));
            }
            h.push_str("<pre class=\"out\">");
            esc(h, &head);
            if cut > 0 {
                let _ = write!(h, "<span class=\"cut-mark\">{}</span>", cut_mark(cut));
                esc(h, tail);
            }
            h.push_str("</pre>\n");
        }
        h.push_str("</details>\n");
    }

    /// The JSON block: one test a line, so that a diff of two reports reads
    /// test by test.
    fn write_data(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut b = String::with_capacity(64 * 1024);
        let _ = write!(b, "{{\"outputCap\":{OUTPUT_CAP},\n\"groups\":[");
        for (i, g) in self.groups.all().iter().enumerate() {
            if i > 0 {
                b.push(',');
            }
            json_str(&mut b, &clean(g));
        }
        b.push_str("],\n\"tests\":[\n");
        for (i, t) in self.tests.iter().enumerate() {
            test_json(&mut b, t, self.groups.all());
            b.push_str(if i + 1 < self.tests.len() {
                ",\n"
            } else {
                "\n"
            });
            if b.len() > 60 * 1024 {
                out.write_all(b.as_bytes())?;
                b.clear();
            }
        }
        b.push_str("]}\n");
        out.write_all(b.as_bytes())
    }
}

/// One test as a JSON object with short keys (they add up over thousands of
/// tests): `id`, `g` group index, `o` outcome, `s` status, `x` expected
/// status when it differs, `ki` known intermittent statuses, `d` duration in
/// ms, `m` message, `k` stack, `ex` extra fields, `sub` subtests as `[name,
/// status, expected, known, message]`, `su` unexpected subtests, `subcut`
/// subtests left out, `cr` crashes, `out` output (its head when cut), `cut`
/// output bytes left out, `tail` the end of cut output.
pub(super) fn test_json(b: &mut String, t: &TestRec, groups: &[Box<str>]) {
    // Thousands of these make the page's data: no formatting machinery
    // and no string made on the way for the common case.
    let mut n = itoa::Buffer::new();
    b.push_str("{\"id\":");
    match t.prefix(groups) {
        // Text `clean` leaves as it is, put together as `id` would.
        Some(g) if is_plain(g) && is_plain(&t.id) => {
            b.push('"');
            json_str_body(b, g);
            b.push(' ');
            json_str_body(b, &t.id);
            b.push('"');
        }
        _ => json_str(b, &clean(&t.id(groups))),
    }
    if let Some(g) = t.group() {
        b.push_str(",\"g\":");
        b.push_str(n.format(g));
    }
    b.push_str(",\"o\":\"");
    b.push_str(t.outcome().key());
    b.push('"');
    if let Some(s) = t.status {
        b.push_str(",\"s\":\"");
        b.push_str(s.as_str());
        b.push('"');
    }
    if let Some(x) = t.expected {
        b.push_str(",\"x\":\"");
        b.push_str(x.as_str());
        b.push('"');
    }
    if let Some(d) = t.duration() {
        b.push_str(",\"d\":");
        b.push_str(n.format(d));
    }
    let detail = t.detail.as_deref();
    let more = detail.and_then(|d| d.more.as_deref());
    if let Some(d) = more.filter(|d| t.expected.is_some() && !d.known_intermittent.is_empty()) {
        b.push_str(",\"ki\":[");
        for (i, s) in d.known_intermittent.iter().enumerate() {
            let _ = write!(b, "{}\"{s}\"", if i > 0 { "," } else { "" });
        }
        b.push(']');
    }
    let texts = [
        ("m", more.and_then(|d| d.message.as_deref())),
        ("k", more.and_then(|d| d.stack.as_deref())),
        ("ex", more.and_then(|d| d.extra.as_deref())),
    ];
    for (key, text) in texts {
        if let Some(text) = text {
            let _ = write!(b, ",\"{key}\":");
            json_str(b, text);
        }
    }
    if t.flags.contains(Flags::EXTRA_LINE) {
        // What `extra_text` makes of `{"line": N}`, needing no escapes.
        let _ = write!(b, ",\"ex\":\"line: {}\"", t.line);
    }
    if let Some(d) = more {
        if !d.subtests.is_empty() {
            b.push_str(",\"sub\":[");
            for (i, s) in d.subtests.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                b.push('[');
                json_str(b, &s.name);
                let _ = write!(b, ",\"{}\",", s.status);
                match s.expected {
                    Some(x) => {
                        let _ = write!(b, "\"{x}\"");
                    }
                    None => b.push_str("null"),
                }
                b.push_str(if s.known { ",true," } else { ",false," });
                match &s.message {
                    Some(m) => json_str(b, m),
                    None => b.push_str("null"),
                }
                b.push(']');
            }
            b.push(']');
        }
        if d.subtests_unexpected > 0 {
            let _ = write!(b, ",\"su\":{}", d.subtests_unexpected);
        }
        if d.subtests_cut > 0 {
            let _ = write!(b, ",\"subcut\":{}", d.subtests_cut);
        }
        if !d.crashes.is_empty() {
            b.push_str(",\"cr\":[");
            for (i, c) in d.crashes.iter().enumerate() {
                if i > 0 {
                    b.push(',');
                }
                json_str(b, c);
            }
            b.push(']');
        }
    }
    if let Some(d) = detail {
        if !d.output.is_empty() {
            let (head, cut, tail) = d.output.parts(OUTPUT_CAP);
            b.push_str(",\"out\":");
            json_str(b, &head);
            if cut > 0 {
                let _ = write!(b, ",\"cut\":{cut},\"tail\":");
                json_str(b, tail);
            }
        }
    }
    b.push('}');
}

/// A crash as the lines the page shows.
pub(super) fn crash_text(c: &Crash, pid: i64) -> String {
    let mut lines = vec![format!("signature: {}", c.signature)];
    let process = c.process.clone().unwrap_or_else(|| pid.to_string());
    lines.push(format!("process: {process}"));
    let fields = [
        ("process type", &c.process_type),
        ("reason", &c.reason),
        ("minidump", &c.minidump_path),
        ("java stack", &c.java_stack),
        ("stackwalk stdout", &c.stackwalk_stdout),
        ("stackwalk stderr", &c.stackwalk_stderr),
    ];
    for (name, v) in fields {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            lines.push(format!("{name}: {v}"));
        }
    }
    if let Some(code) = c.stackwalk_returncode {
        lines.push(format!("stackwalk exit code: {code}"));
    }
    for e in &c.stackwalk_errors {
        lines.push(format!("stackwalk error: {e}"));
    }
    lines.join("\n")
}

/// The tests section: fixed markup that the script fills.
const TABLE: &str = r##"<section class="panel tests" id="tests">
<div class="tests-head"><h2>Tests</h2><span id="match-count" class="muted"></span></div>
<div class="toolbar" id="toolbar">
<div id="outcome-filters" class="chips" role="group" aria-label="Outcomes shown"></div>
<div class="controls">
<select id="status-filter" aria-label="Status"><option value="all">All statuses</option></select>
<select id="group-filter" aria-label="Group"><option value="all">All groups</option></select>
<input id="search" type="search" placeholder="Search test ids and messages  ( / )" aria-label="Search test ids and messages" autocomplete="off" spellcheck="false">
<button id="reset" type="button">Reset</button>
</div>
</div>
<div class="table-wrap">
<table id="test-table">
<thead><tr>
<th scope="col" class="c-status"><button type="button" data-sort="status">Status</button></th>
<th scope="col" class="c-test"><button type="button" data-sort="id">Test</button></th>
<th scope="col" class="c-exp"><button type="button" data-sort="expected">Expected</button></th>
<th scope="col" class="c-dur"><button type="button" data-sort="duration">Duration</button></th>
<th scope="col" class="c-group"><button type="button" data-sort="group">Group</button></th>
</tr></thead>
<tbody id="test-rows"><tr class="empty"><td colspan="5">The table of tests needs JavaScript.</td></tr></tbody>
</table>
</div>
<div class="pager" id="pager">
<button id="prev" type="button">‹ Previous</button>
<span id="page-info"></span>
<button id="next" type="button">Next ›</button>
<label class="size">Rows per page <select id="page-size"><option>50</option><option>100</option><option selected>200</option><option>500</option><option>1000</option><option>5000</option></select></label>
</div>
</section>
"##;
