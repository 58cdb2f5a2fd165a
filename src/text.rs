//! Small text helpers shared by the runner and the formats.

/// A signal's name (`SIGSEGV`), as mozlog's `strsig` prints it.
pub fn signal_name(n: i32) -> String {
    #[cfg(unix)]
    {
        if let Ok(sig) = nix::sys::signal::Signal::try_from(n) {
            return sig.as_str().to_string();
        }
    }
    format!("unrecognized signal, number {n}")
}

/// A process's exit as mozlog's `strstatus` prints it: `exit 1`, or
/// `killed by SIGSEGV` for a negative (signal) status.
pub fn exit_status_text(code: i64) -> String {
    if code >= 0 {
        format!("exit {code}")
    } else {
        format!("killed by {}", signal_name((-code) as i32))
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL/ST`,
/// and two-byte `ESC x`).
pub fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\u{1b}') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Character-set designations (`ESC ( B`): one intermediate, one final.
            Some('(' | ')' | '*' | '+' | '-' | '.' | '/' | '#' | '%') => {
                chars.next();
                chars.next();
            }
            // Two-character escapes (`ESC 7`, `ESC M`, `ESC c`).
            Some(&c) if ('0'..='~').contains(&c) => {
                chars.next();
            }
            // A lone ESC: drop it alone.
            Some(_) => {}
            None => {}
        }
    }
    out.into()
}

/// Shows control characters (C0 but tab and newline, and DEL) as `\xNN`, so
/// text meant for a terminal or a text file cannot move the cursor, ring,
/// or look binary. With `keep_escapes`, ESC is kept (for ANSI colors).
pub fn escape_controls(s: &str, keep_escapes: bool) -> std::borrow::Cow<'_, str> {
    let is_bad = |c: char| {
        (c < ' ' && c != '\t' && c != '\n' && !(keep_escapes && c == '\u{1b}')) || c == '\u{7f}'
    };
    if !s.chars().any(is_bad) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_bad(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Formats milliseconds as seconds with three decimals (`1.234`).
pub fn millis_as_secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}x\u{1b}(B"), "x");
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("esc:\u{1b} del"), "esc: del");
    }

    #[test]
    fn controls_are_shown() {
        assert_eq!(
            escape_controls("a\u{0}b\tc\nd\u{7}", false),
            "a\\x00b\tc\nd\\x07"
        );
        assert_eq!(escape_controls("\u{1b}[31m", true), "\u{1b}[31m");
        assert_eq!(escape_controls("\u{1b}[31m", false), "\\x1b[31m");
    }

    #[test]
    fn statuses_read_like_mozlog() {
        assert_eq!(exit_status_text(0), "exit 0");
        assert_eq!(exit_status_text(-11), "killed by SIGSEGV");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_quote("target/debug/x-1"), "target/debug/x-1");
        assert_eq!(millis_as_secs(1234), "1.234");
    }
}
