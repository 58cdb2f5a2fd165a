//! A second account of a test binary's results, which its tests cannot
//! write: libtest's `--logfile`.
//!
//! libtest writes its JSON events and the tests' own direct writes to the
//! same stdout, so a test can print a line that looks exactly like a result
//! of another test. With `--logfile PATH`, libtest also writes one record
//! per finished test to PATH, from libtest alone, *before* the result's JSON
//! line:
//!
//! ```text
//! ok tests::passes <0.000s>
//! failed tests::fails <0.001s>
//! ignored: needs network tests::skipped
//! failed: panic did not contain expected string
//!       panic message: "division by zero"
//!  expected substring: "overflow" tests::wrong_message <0.000s>
//! ```
//!
//! (`<time>` with `--report-time`; a message after `failed:` or `ignored:`
//! may go on over lines that start with a space). The records come in the
//! order of the result lines, so a result line is libtest's own exactly when
//! the next unread record is that test's, with the same outcome.

use crate::libtest::Outcome;

/// The records read so far and not yet matched to a result line.
#[derive(Debug, Default)]
pub struct Records {
    text: Vec<u8>,
    /// Where the first unmatched record starts in `text`.
    at: usize,
}

impl Records {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes read from the log file.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.at > 0 && self.at == self.text.len() {
            self.text.clear();
            self.at = 0;
        }
        self.text.extend_from_slice(bytes);
    }

    /// Whether the next record says `outcome` for `name`; when it does, the
    /// record is taken. Only whole lines count: libtest ends a record with a
    /// line break before it writes the result line.
    pub fn confirm(&mut self, name: &str, outcome: Outcome) -> bool {
        let rest = &self.text[self.at..];
        let mut pos = 0;
        let mut first = true;
        while let Some(nl) = memchr::memchr(b'\n', &rest[pos..]) {
            let line = &rest[pos..pos + nl];
            if first {
                if !starts_record(line, outcome) {
                    return false;
                }
            } else if starts_any_record(line) {
                return false;
            }
            pos += nl + 1;
            if names(&rest[..pos - 1], name, outcome, first) {
                self.at += pos;
                return true;
            }
            first = false;
        }
        false
    }
}

/// The words a record of `outcome` starts with.
fn starts_record(line: &[u8], outcome: Outcome) -> bool {
    match outcome {
        Outcome::Ok => line.starts_with(b"ok "),
        Outcome::Failed => line.starts_with(b"failed"),
        Outcome::Ignored => line.starts_with(b"ignored"),
    }
}

fn starts_any_record(line: &[u8]) -> bool {
    [Outcome::Ok, Outcome::Failed, Outcome::Ignored]
        .into_iter()
        .any(|o| starts_record(line, o))
}

/// Whether a record (without its final line break) ends with `name`: the
/// whole rest after the outcome word for `ok NAME`, `failed NAME` and
/// `ignored NAME`, else the end after a message.
fn names(record: &[u8], name: &str, outcome: Outcome, one_line: bool) -> bool {
    let record = strip_time(record);
    let name = name.as_bytes();
    let word: &[u8] = match outcome {
        Outcome::Ok => b"ok ",
        Outcome::Failed => b"failed ",
        Outcome::Ignored => b"ignored ",
    };
    if one_line && record.strip_prefix(word) == Some(name) {
        return true;
    }
    let with_message = match outcome {
        Outcome::Ok => return false,
        Outcome::Failed => {
            record.starts_with(b"failed: ") || record.starts_with(b"failed (time out) ")
        }
        Outcome::Ignored => record.starts_with(b"ignored: "),
    };
    with_message
        && record.len() > name.len()
        && record.ends_with(name)
        && record[record.len() - name.len() - 1] == b' '
}

/// A record without its ` <0.000s>` time.
fn strip_time(record: &[u8]) -> &[u8] {
    let Some(inner) = record.strip_suffix(b"s>") else {
        return record;
    };
    let Some(open) = memchr::memrchr(b'<', inner) else {
        return record;
    };
    let time = &inner[open + 1..];
    let numeric = !time.is_empty() && time.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    match record[..open].strip_suffix(b" ") {
        Some(head) if numeric => head,
        _ => record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_confirm_results_in_order() {
        let mut r = Records::new();
        r.push(b"ok tests::a <0.000s>\nfailed tests::b\nignored: needs network tests::c\n");
        assert!(!r.confirm("tests::b", Outcome::Failed), "not the next one");
        assert!(!r.confirm("tests::a", Outcome::Failed), "not its outcome");
        assert!(r.confirm("tests::a", Outcome::Ok));
        assert!(!r.confirm("tests::a", Outcome::Ok), "taken");
        assert!(r.confirm("tests::b", Outcome::Failed));
        assert!(r.confirm("tests::c", Outcome::Ignored));
        assert!(!r.confirm("tests::d", Outcome::Ok), "nothing left");
        r.push(b"failed: panic did not contain expected string\n      panic message: \"x\"\n expected substring: \"y\" tests::e <0.001s>\nok a name with spaces\n");
        assert!(r.confirm("tests::e", Outcome::Failed));
        assert!(
            !r.confirm("name with spaces", Outcome::Ok),
            "only the whole name"
        );
        assert!(r.confirm("a name with spaces", Outcome::Ok));
        // A record not yet ended by its line break does not count.
        r.push(b"ok tests::f");
        assert!(!r.confirm("tests::f", Outcome::Ok));
        r.push(b" <0.000s>\n");
        assert!(r.confirm("tests::f", Outcome::Ok));
        r.push(b"failed (time out) tests::g\nignored tests::h\n");
        assert!(r.confirm("tests::g", Outcome::Failed));
        assert!(r.confirm("tests::h", Outcome::Ignored));
    }

    #[test]
    fn a_record_ends_where_the_next_begins() {
        let mut r = Records::new();
        r.push(b"failed: test did not panic as expected at src/lib.rs:1:1 tests::x\nok tests::y\n");
        // A claim for y cannot take x's record along with its own.
        assert!(!r.confirm("tests::y", Outcome::Failed));
        assert!(!r.confirm("tests::y", Outcome::Ok));
        assert!(r.confirm("tests::x", Outcome::Failed));
        assert!(r.confirm("tests::y", Outcome::Ok));
    }
}
