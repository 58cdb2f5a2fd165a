//! `cargo structlog expectations --from LOG...`: an expectations file (see
//! [`crate::plan::expectations`]) written from runs' raw logs.

use crate::error::Error;
use crate::model::Status;
use std::path::PathBuf;

/// A test id as an expectations file must write it to mean that id alone:
/// an id with `*` or `?` is read as a pattern, so then every character a
/// pattern treats specially is escaped with a backslash.
fn as_id(test: &str) -> String {
    if !test.contains(['*', '?']) {
        return test.to_string();
    }
    let mut out = String::with_capacity(test.len() + 4);
    for c in test.chars() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One test's results across runs: (status, expected status) per run.
type Seen = Vec<(Status, Status)>;

/// `cargo structlog expectations --from LOG...`: an expectations file from
/// runs' raw logs, so a suite that is not green today can adopt the tool.
/// A test whose result was unexpected with the same status in every run
/// gets `expected = STATUS`; a test whose status varied gets the statuses it
/// had besides its expected one as `known_intermittent`. Tests always as
/// expected are left out. Malformed lines are skipped with a warning.
pub fn generate(logs: &[PathBuf]) -> Result<String, Error> {
    use crate::model::Action;
    use std::collections::BTreeMap;
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for log in logs {
        let reader = crate::logs::replay::LogReader::open(log)
            .map_err(|e| Error::caused(format!("{}: cannot read", log.display()), e))?;
        for item in reader {
            let (line, entry) =
                item.map_err(|e| Error::caused(format!("{}: cannot read", log.display()), e))?;
            match entry {
                Ok(e) => {
                    if let Action::TestEnd(end) = e.action {
                        let expected = end.expected_status();
                        seen.entry(end.test)
                            .or_default()
                            .push((end.status, expected));
                    }
                }
                Err(err) => eprintln!(
                    "cargo-structlog: warning: {}:{line}: skipped: {err}",
                    log.display()
                ),
            }
        }
    }
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let names: Vec<String> = logs.iter().map(|l| l.display().to_string()).collect();
    let mut out = format!(
        "# The tests whose results were not the expected ones in {} run{}:\n# {}\n# (cargo structlog expectations --from ...)\n",
        logs.len(),
        if logs.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    for (test, results) in &seen {
        let runs = results.len();
        let unexpected: Vec<Status> = results
            .iter()
            .filter(|(s, e)| s != e)
            .map(|(s, _)| *s)
            .collect();
        if unexpected.is_empty() {
            continue;
        }
        let first = results[0].0;
        let same = results.iter().all(|(s, _)| *s == first);
        out.push_str(&format!("\n[[test]]\nid = {}\n", quote(&as_id(test))));
        if same {
            out.push_str(&format!("expected = {}\n", quote(first.as_str())));
            out.push_str(&format!(
                "reason = {}\n",
                quote(&format!("{first} in {runs} of {runs} runs"))
            ));
        } else {
            let mut statuses: Vec<Status> = Vec::new();
            for s in unexpected {
                if !statuses.contains(&s) {
                    statuses.push(s);
                }
            }
            let list: Vec<String> = statuses.iter().map(|s| quote(s.as_str())).collect();
            out.push_str(&format!("known_intermittent = [{}]\n", list.join(", ")));
            let counts: Vec<String> = statuses
                .iter()
                .map(|s| {
                    format!(
                        "{s} in {} of {runs} runs",
                        results.iter().filter(|(x, _)| x == s).count()
                    )
                })
                .collect();
            out.push_str(&format!("reason = {}\n", quote(&counts.join(", "))));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::expectations::Expectations;
    use std::path::Path;

    #[test]
    fn generated_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let line = |t: u64, test: &str, status: &str, expected: Option<&str>| {
            let exp = expected
                .map(|e| format!(",\"expected\":\"{e}\""))
                .unwrap_or_default();
            format!("{{\"action\":\"test_end\",\"time\":{t},\"thread\":\"t\",\"pid\":1,\"source\":\"s\",\"test\":\"{test}\",\"status\":\"{status}\"{exp}}}\n")
        };
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        std::fs::write(
            &a,
            line(1, "p broken", "FAIL", Some("PASS"))
                + &line(2, "p flaky", "FAIL", Some("PASS"))
                + &line(3, "p fine", "PASS", None)
                + "not json\n",
        )
        .unwrap();
        std::fs::write(
            &b,
            line(1, "p broken", "FAIL", Some("PASS"))
                + &line(2, "p flaky", "PASS", None)
                + &line(3, "p fine", "PASS", None),
        )
        .unwrap();
        let text = generate(&[a, b]).unwrap();
        let x = Expectations::parse(&text, Path::new("structlog.toml")).unwrap();
        assert_eq!(x.entries.len(), 2, "{text}");
        let broken = &x.entries[x.lookup("p broken").unwrap()];
        assert_eq!(broken.expected, Some(Status::Fail));
        let flaky = &x.entries[x.lookup("p flaky").unwrap()];
        assert_eq!(
            (flaky.expected, flaky.known_intermittent.clone()),
            (None, vec![Status::Fail])
        );
        assert!(x.lookup("p fine").is_none());
    }

    #[test]
    fn ids_with_pattern_characters_are_written_to_match_themselves_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.log");
        let ids = ["p bad[?", "p star*", "p {a,b}\\x?"];
        let mut text = String::new();
        for (t, id) in ids.iter().enumerate() {
            let id = serde_json::to_string(id).unwrap();
            text.push_str(&format!("{{\"action\":\"test_end\",\"time\":{t},\"thread\":\"t\",\"pid\":1,\"source\":\"s\",\"test\":{id},\"status\":\"FAIL\",\"expected\":\"PASS\"}}\n"));
        }
        std::fs::write(&log, text).unwrap();
        let file = generate(&[log]).unwrap();
        let x = Expectations::parse(&file, Path::new("structlog.toml")).unwrap();
        for id in ids {
            let i = x
                .lookup(id)
                .unwrap_or_else(|| panic!("{id} not matched:\n{file}"));
            assert_eq!(x.entries[i].expected, Some(Status::Fail));
        }
        for other in ["p starX", "p bad[x", "p a\\x?", "p bad?"] {
            assert_eq!(x.lookup(other), None, "{other} matched:\n{file}");
        }
    }
}
