//! Text from the log made fit for the page, and small formatters.

use super::{EXTRA_CAP, OUTPUT_CAP};
use crate::text::{millis_as_secs, strip_ansi};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

/// The line number of an `extra` that is `{"line": N}` alone, if it fits in
/// a `u32`: its text (`extra_text`) is `line: N`.
pub(super) fn line_only(m: &Map<String, Value>) -> Option<u32> {
    if m.len() != 1 {
        return None;
    }
    u32::try_from(m.get("line")?.as_u64()?).ok()
}

/// `extra` fields as `key: value` lines (strings unquoted).
pub(super) fn extra_text(m: &Map<String, Value>) -> Box<str> {
    let lines: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}: {}", value_text(v)))
        .collect();
    capped(&lines.join("\n"), EXTRA_CAP)
}

pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Text from the log made fit to show: ANSI escapes removed, `\r\n` as `\n`
/// (a lone `\r` too), other control characters as their Unicode pictures
/// (`␀`, `␇`), C1 controls and noncharacters as U+FFFD.
pub(super) fn clean(s: &str) -> Cow<'_, str> {
    // Printable ASCII, tabs and newlines (most text) need no look at each
    // character.
    if is_plain(s) {
        return Cow::Borrowed(s);
    }
    let s = strip_ansi(s);
    if is_plain(&s) {
        return s;
    }
    let odd = |c: char| {
        let u = c as u32;
        (u < 0x20 && c != '\n' && c != '\t')
            || (0x7f..=0x9f).contains(&u)
            || (0xfdd0..=0xfdef).contains(&u)
            || (u & 0xfffe) == 0xfffe
    };
    if !s.chars().any(odd) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let u = c as u32;
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            c if odd(c) && u < 0x20 => out.push(char::from_u32(0x2400 + u).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            c if odd(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The largest char boundary of `s` at or below `at`.
pub(super) fn floor_boundary(s: &str, at: usize) -> usize {
    let mut k = at.min(s.len());
    while !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

/// Cleaned text, cut at `cap` bytes with a marker saying how much is left out.
pub(super) fn capped(s: &str, cap: usize) -> Box<str> {
    let s = clean(s);
    if s.len() <= cap {
        return s.into();
    }
    let k = floor_boundary(&s, cap);
    format!(
        "{}\n[… {} more bytes not shown]",
        &s[..k],
        thousands((s.len() - k) as u64)
    )
    .into()
}

/// The note above cut output. The page's script writes the same.
pub(super) fn cut_note(cut: u64) -> String {
    format!(
        "Output truncated: {} bytes in the middle are not shown (the first and last {} KiB are kept).",
        thousands(cut),
        OUTPUT_CAP / 2 / 1024
    )
}

/// The marker where cut output was dropped.
pub(super) fn cut_mark(cut: u64) -> String {
    format!("\n[… {} bytes not shown …]\n", thousands(cut))
}

/// HTML-escapes cleaned text (for element content and quoted attributes).
pub(super) fn esc(out: &mut String, s: &str) {
    for c in clean(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Harmless in HTML, but kept out so that no raw line separator
            // reaches anything that treats the page as script text.
            '\u{2028}' => out.push_str("&#x2028;"),
            '\u{2029}' => out.push_str("&#x2029;"),
            c => out.push(c),
        }
    }
}

/// A JSON string that is also safe inside a `<script>` element: no `<`, `>`
/// or `&` (no `</script>` or `<!--`), and no U+2028/U+2029.
pub(super) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    json_str_body(out, s);
    out.push('"');
}

/// [`json_str`] without the quotes.
pub(super) fn json_str_body(out: &mut String, s: &str) {
    // Runs of characters that need no escape are copied whole: every
    // character escaped is ASCII but U+2028 and U+2029, whose UTF-8
    // starts with the byte 0xE2.
    let special = |b: u8| matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&' | 0x7f | 0xe2) || b < 0x20;
    let mut rest = s;
    while let Some(i) = rest.bytes().position(special) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().expect("a character starts at i");
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// Printable ASCII, tabs and newlines only: text [`clean`] leaves as it is.
pub(super) fn is_plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (b' '..0x7f).contains(&b) || b == b'\n' || b == b'\t')
}

/// `20,000`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `12 ms`, `1.234 s`, `2 min 03 s`, `1 h 02 min`.
pub(super) fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", millis_as_secs(ms))
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60)
    }
}

/// Milliseconds since the epoch as `2023-11-14 22:13:20 UTC`.
pub(super) fn utc(ms: u64) -> String {
    let c = crate::text::Civil::from_millis(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}
