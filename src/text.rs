//! Small text helpers shared by the runner and the formats.

use std::borrow::Cow;

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

/// What [`safe_text`] does with ANSI escape sequences.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ansi {
    /// Keep color sequences (SGR, `ESC [ ... m`); show any other as text.
    KeepColors,
    /// Remove complete CSI (`ESC [ ... final`) and OSC (`ESC ] ... BEL`)
    /// sequences.
    Strip,
}

/// Text made safe for a file or a terminal: control characters other than
/// tab and newline, and DEL, are shown as `\xNN`, and ANSI sequences are
/// kept or removed as `ansi` says. An ESC that starts no complete sequence
/// is shown as `\x1b`, so no character after it is lost.
pub fn safe_text(s: &str, ansi: Ansi) -> Cow<'_, str> {
    let bad = |c: char| (c < ' ' && c != '\t' && c != '\n') || c == '\u{7f}';
    // Every character shown otherwise is ASCII: the bytes say whether there
    // is one (no byte of a longer character is below 0x80).
    // (In blocks without an early exit, which the compiler vectorizes.)
    let shown = |b: u8| (b < b' ' && b != b'\t' && b != b'\n') | (b == 0x7f);
    if !s
        .as_bytes()
        .chunks(32)
        .any(|block| block.iter().fold(false, |any, &b| any | shown(b)))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' {
            if let Some((len, is_sgr)) = escape_sequence_len(rest) {
                match ansi {
                    Ansi::KeepColors if is_sgr => out.push_str(&rest[..len]),
                    Ansi::Strip => {}
                    Ansi::KeepColors => {
                        out.push_str("\\x1b");
                        out.push_str(&safe_text(&rest[1..len], Ansi::Strip));
                    }
                }
                rest = &rest[len..];
                continue;
            }
        }
        if bad(c) {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length of the complete CSI or OSC sequence `s` starts with, and
/// whether it is a color (SGR) sequence.
pub(crate) fn escape_sequence_len(s: &str) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    match b.get(1)? {
        b'[' => {
            // Parameter bytes, intermediate bytes, then one final byte.
            let params = b[2..]
                .iter()
                .take_while(|c| (0x30..=0x3f).contains(*c))
                .count();
            let inter = b[2 + params..]
                .iter()
                .take_while(|c| (0x20..=0x2f).contains(*c))
                .count();
            let fin = *b.get(2 + params + inter)?;
            if !(0x40..=0x7e).contains(&fin) {
                return None;
            }
            let is_sgr = fin == b'm'
                && inter == 0
                && b[2..2 + params]
                    .iter()
                    .all(|c| c.is_ascii_digit() || *c == b';' || *c == b':');
            Some((2 + params + inter + 1, is_sgr))
        }
        b']' => {
            // Ends with BEL or ST (`ESC \`).
            let body = &b[2..];
            let end = body.iter().enumerate().find_map(|(i, c)| match c {
                0x07 => Some(i + 1),
                0x1b if body.get(i + 1) == Some(&b'\\') => Some(i + 2),
                _ => None,
            })?;
            Some((2 + end, false))
        }
        _ => None,
    }
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
    let mut out = String::with_capacity(24);
    out.push_str(itoa::Buffer::new().format(ms / 1000));
    let frac = ms % 1000;
    out.push('.');
    out.push(char::from(b'0' + (frac / 100) as u8));
    out.push(char::from(b'0' + (frac / 10 % 10) as u8));
    out.push(char::from(b'0' + (frac % 10) as u8));
    out
}

/// A time in UTC, from milliseconds since the epoch (proleptic Gregorian:
/// Howard Hinnant's days-to-civil algorithm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    pub fn from_millis(ms: u64) -> Civil {
        let secs = ms / 1000;
        let z = (secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let sod = secs % 86_400;
        Civil {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: (sod / 60 % 60) as u32,
            second: (sod % 60) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times() {
        let c = Civil::from_millis(1_700_000_000_123);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (2023, 11, 14, 22, 13, 20)
        );
        let leap = Civil::from_millis(951_782_400_000);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        assert_eq!(Civil::from_millis(0).year, 1970);
    }

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
            safe_text("a\u{0}b\tc\nd\u{7}", Ansi::Strip),
            "a\\x00b\tc\nd\\x07"
        );
        assert_eq!(
            safe_text("\u{1b}[31mred", Ansi::KeepColors),
            "\u{1b}[31mred"
        );
        assert_eq!(safe_text("\u{1b}[31mred", Ansi::Strip), "red");
        assert_eq!(safe_text("\u{1b}[2Kx", Ansi::KeepColors), "\\x1b[2Kx");
        assert_eq!(safe_text("esc:\u{1b} d", Ansi::Strip), "esc:\\x1b d");
    }

    #[test]
    fn statuses_read_like_mozlog() {
        assert_eq!(exit_status_text(0), "exit 0");
        assert_eq!(exit_status_text(-11), "killed by SIGSEGV");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_quote("target/debug/x-1"), "target/debug/x-1");
        assert_eq!(millis_as_secs(1234), "1.234");
        for (ms, text) in [
            (0, "0.000"),
            (7, "0.007"),
            (40, "0.040"),
            (999, "0.999"),
            (1000, "1.000"),
            (86_400_010, "86400.010"),
            (u64::MAX, "18446744073709551.615"),
        ] {
            assert_eq!(millis_as_secs(ms), text);
        }
    }
}
