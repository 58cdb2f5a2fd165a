//! Captured output kept to a budget, for the sinks that hold a whole run
//! (xunit, html): the first half of the budget and the latest bytes, so that
//! a failure's panic message, which comes last, survives a test that printed
//! a gigabyte; what is dropped between them is counted.

use std::borrow::Cow;

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut k = at.min(s.len());
    while !s.is_char_boundary(k) {
        k -= 1;
    }
    k
}

/// Output lines (each followed by `\n`, cleaned) kept to a cap: the first
/// half of the cap in `head`, the latest bytes in `tail`, and a count of the
/// bytes between them that were dropped.
#[derive(Debug, Default)]
pub(crate) struct Capped {
    head: String,
    tail: String,
    cut: u64,
}

impl Capped {
    pub(crate) fn push_line(&mut self, line: &str, cap: usize) {
        self.push(line, cap);
        self.push("\n", cap);
    }

    pub(crate) fn push(&mut self, s: &str, cap: usize) {
        let mut s = s;
        if self.tail.is_empty() {
            let room = (cap / 2).saturating_sub(self.head.len());
            if s.len() <= room {
                self.head.push_str(s);
                return;
            }
            let k = floor_boundary(s, room);
            self.head.push_str(&s[..k]);
            s = &s[k..];
        }
        self.tail.push_str(s);
        // Dropped only once the tail holds a whole cap more than it keeps,
        // so that each byte is moved a bounded number of times.
        if self.tail.len() > cap {
            let k = self.excess(cap);
            self.cut += k as u64;
            self.tail.drain(..k);
        }
    }

    /// Bytes at the front of the tail beyond the cap.
    fn excess(&self, cap: usize) -> usize {
        let over = (self.head.len() + self.tail.len()).saturating_sub(cap);
        let mut k = over.min(self.tail.len());
        while !self.tail.is_char_boundary(k) {
            k += 1;
        }
        k
    }

    /// Gives back what growing left unused.
    pub(crate) fn shrink(&mut self) {
        self.head.shrink_to_fit();
        self.tail.shrink_to_fit();
    }

    /// The kept text, without the last newline: `(head, cut, tail)`; when
    /// nothing is cut, everything is in the head.
    pub(crate) fn parts(&self, cap: usize) -> (Cow<'_, str>, u64, &str) {
        let k = self.excess(cap);
        let cut = self.cut + k as u64;
        let tail = &self.tail[k..];
        if cut == 0 {
            let all = if tail.is_empty() {
                Cow::Borrowed(self.head.as_str())
            } else {
                Cow::Owned(format!("{}{tail}", self.head))
            };
            let trimmed = match all {
                Cow::Borrowed(s) => Cow::Borrowed(s.strip_suffix('\n').unwrap_or(s)),
                Cow::Owned(mut s) => {
                    if s.ends_with('\n') {
                        s.pop();
                    }
                    Cow::Owned(s)
                }
            };
            (trimmed, 0, "")
        } else {
            (
                Cow::Borrowed(self.head.as_str()),
                cut,
                tail.strip_suffix('\n').unwrap_or(tail),
            )
        }
    }

    /// Whether nothing but line breaks was kept, and nothing was cut.
    pub(crate) fn is_empty(&self) -> bool {
        self.cut == 0
            && self.tail.trim_end_matches('\n').is_empty()
            && self.head.trim_end_matches('\n').is_empty()
    }

    /// The kept text as one string, without line breaks at its end: the
    /// head, then (when something was cut) `marker(bytes cut)` on a line of
    /// its own, then the tail.
    pub(crate) fn render(&self, cap: usize, marker: impl Fn(u64) -> String) -> String {
        let (head, cut, tail) = self.parts(cap);
        if cut == 0 {
            return head.trim_end_matches('\n').to_string();
        }
        let tail = tail.trim_end_matches('\n');
        let mut s = head.into_owned();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&marker(cut));
        if !tail.is_empty() {
            s.push('\n');
            s.push_str(tail);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_and_the_end_are_kept() {
        let mut c = Capped::default();
        for i in 0..100 {
            c.push_line(&format!("line {i:02}"), 32);
        }
        let text = c.render(32, |n| format!("[{n} cut]"));
        assert!(text.starts_with("line 00\nline 01\n"), "{text}");
        assert!(text.ends_with("line 98\nline 99"), "{text}");
        assert!(text.contains(" cut]"), "{text}");
        assert!(text.len() < 64, "{text}");
    }

    #[test]
    fn text_is_cut_on_char_boundaries() {
        let mut c = Capped::default();
        c.push_line("ab日本語です", 8);
        c.push_line("終わり", 8);
        let text = c.render(8, |n| format!("[{n}]"));
        assert!(text.is_char_boundary(text.len()));
        assert!(text.starts_with("ab"), "{text}");
        assert!(!c.is_empty());
        let mut none = Capped::default();
        none.push_line("", 8);
        assert!(none.is_empty());
    }

    #[test]
    fn the_halves_are_cut_on_char_boundaries() {
        // Up to the cap, everything is kept.
        let mut c = Capped::default();
        for line in ["ab", "cd", "ef"] {
            c.push_line(line, 9);
        }
        assert_eq!(c.parts(9), (Cow::Borrowed("ab\ncd\nef"), 0, ""));
        // Beyond it, the first and last halves, cut on char boundaries.
        let mut c = Capped::default();
        for line in ["ab", "日本", "x", "yz"] {
            c.push_line(line, 8);
        }
        // The head is "ab\n" (日 does not fit in its 4 bytes); "日本\n" is
        // dropped whole rather than split inside a char.
        assert_eq!(c.parts(8), (Cow::Borrowed("ab\n"), 7, "x\nyz"));
        let (mut c, mut total) = (Capped::default(), 0);
        for i in 0..10_000 {
            let line = format!("line {i}");
            total += line.len() + 1;
            c.push_line(&line, 64);
        }
        let (head, cut, tail) = c.parts(64);
        assert!(head.starts_with("line 0\nline 1\n") && tail.ends_with("line 9999"));
        assert!(c.tail.len() <= 64, "the tail stays small while lines come");
        assert_eq!(head.len() + cut as usize + tail.len() + 1, total);
    }
}
