//! A quick reader of the flat JSON objects that make up most lines of a
//! raw log and of libtest's output, for readers that fall back to serde.
//!
//! [`Scanner`] reads a JSON text from the start, one value at a time, and
//! gives `None` for anything it does not read exactly as serde_json would:
//! the caller then reads the whole text with serde instead, so the quick
//! reading changes how fast a line is read, never what is read from it.
//! Strings are scanned eight bytes at a time and borrowed; a string with
//! escapes, a number that is not a non-negative integer, and a nested value
//! are cut out and read by serde_json on their own.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// What a byte is inside a string: 0 for a byte that is part of it as it
/// is; anything else ends the plain run (`"`, `\`, a control character).
static STOP: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 1;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t
};

/// Nesting deeper than this goes to serde, whose limit counts the line's
/// own object too.
pub(crate) const MAX_DEPTH: usize = 64;

/// A reader at a place in a JSON text.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner {
            text,
            b: text.as_bytes(),
            i: 0,
        }
    }

    /// Reads an object, giving each key to `value`, which reads its value;
    /// `None` unless every value was read.
    #[inline]
    pub(crate) fn object(
        &mut self,
        mut value: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                let key = self.plain_str()?;
                self.ws();
                self.eat(b':')?;
                self.ws();
                value(self, key)?;
                self.ws();
                match self.next()? {
                    b',' => self.ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        Some(())
    }

    /// Nothing but whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// Where the reader is.
    pub(crate) fn pos(&self) -> usize {
        self.i
    }

    /// The text from `start` to where the reader is.
    pub(crate) fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.i]
    }

    /// A number, read by serde_json as `T` (a float as serde_json rounds
    /// it).
    pub(crate) fn number<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        serde_json::from_str(&self.text[start..self.i]).ok()
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// Skips JSON's whitespace.
    #[inline]
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Whether `word` comes next (taken if so).
    #[inline]
    pub(crate) fn word(&mut self, word: &[u8]) -> bool {
        let found = self
            .b
            .get(self.i..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.i += word.len();
        }
        found
    }

    /// `null` (taken) or something else (left).
    #[inline]
    pub(crate) fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.word(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    #[inline]
    pub(crate) fn opt_string(&mut self) -> Option<Option<String>> {
        self.opt(|s| s.string().map(Cow::into_owned))
    }

    /// The end of the plain run of a string's bytes from `self.i`: eight
    /// bytes at a time, as serde_json scans.
    #[inline(always)]
    pub(crate) fn plain_run(&self) -> usize {
        const ONES: u64 = u64::from_ne_bytes([1; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        let b = self.b;
        let mut j = self.i;
        while let Some(word) = b.get(j..j + 8) {
            let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            let quote = w ^ (ONES * u64::from(b'"'));
            let backslash = w ^ (ONES * u64::from(b'\\'));
            // The high bit of each byte that is a quote, a backslash or
            // below 0x20 (exact for the lowest such byte, which is the one
            // wanted).
            let stops = (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash)
                | (w.wrapping_sub(ONES * 0x20) & !w);
            let stops = stops & HIGH;
            if stops != 0 {
                return j + (stops.trailing_zeros() / 8) as usize;
            }
            j += 8;
        }
        while let Some(&c) = b.get(j) {
            if STOP[c as usize] != 0 {
                break;
            }
            j += 1;
        }
        j
    }

    /// A string without escapes (a key).
    #[inline(always)]
    pub(crate) fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = self.plain_run();
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        Some(&self.text[start..end])
    }

    /// A string: borrowed when it has no escapes, else decoded by serde.
    #[inline]
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
        let open = self.i;
        self.eat(b'"')?;
        let start = self.i;
        let mut end = self.plain_run();
        if self.b.get(end) == Some(&b'"') {
            self.i = end + 1;
            return Some(Cow::Borrowed(&self.text[start..end]));
        }
        // Escapes: find the closing quote, and let serde decode.
        loop {
            match self.b.get(end)? {
                b'"' => break,
                b'\\' => end += 2,
                c if *c < 0x20 => return None,
                _ => end += 1,
            }
        }
        self.i = end + 1;
        serde_json::from_str::<Cow<'a, str>>(&self.text[open..self.i]).ok()
    }

    /// A non-negative integer that fits in a `u64`, as serde reads one.
    #[inline]
    pub(crate) fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        // No digits, a leading zero, or a fraction or exponent to come.
        if digits == 0
            || (digits > 1 && self.b[start] == b'0')
            || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        Some(n)
    }

    /// An `i64` field's value (negative numbers go to serde).
    #[inline]
    pub(crate) fn int(&mut self) -> Option<i64> {
        i64::try_from(self.uint()?).ok()
    }

    pub(crate) fn boolean(&mut self) -> Option<bool> {
        if self.word(b"true") {
            Some(true)
        } else if self.word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// A list, each element read by `element`: how many elements.
    pub(crate) fn list(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<usize> {
        self.eat(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(0);
        }
        let mut n = 0;
        loop {
            element(self)?;
            n += 1;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(n),
                _ => return None,
            }
        }
    }

    /// An object for a field that takes one: read here when its values
    /// are strings, non-negative integers, `true`, `false` or `null`, else
    /// cut out and read by serde.
    pub(crate) fn map(&mut self) -> Option<Map<String, Value>> {
        let start = self.i;
        self.flat_map().or_else(|| {
            self.i = start;
            self.nested()
        })
    }

    pub(crate) fn flat_map(&mut self) -> Option<Map<String, Value>> {
        self.eat(b'{')?;
        self.ws();
        let mut map = Map::new();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(map);
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let value = match self.peek()? {
                b'"' => Value::String(self.string()?.into_owned()),
                b'0'..=b'9' => Value::from(self.uint()?),
                _ if self.word(b"null") => Value::Null,
                _ => Value::Bool(self.boolean()?),
            };
            // A key given twice keeps its last value, as serde_json's map.
            map.insert(key.into_owned(), value);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => return Some(map),
                _ => return None,
            }
        }
    }

    /// An object or a list, cut out and read by serde as `T`.
    pub(crate) fn nested<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let start = self.i;
        if !matches!(self.peek()?, b'{' | b'[') {
            return None;
        }
        let mut depth = 0usize;
        loop {
            match self.next()? {
                // Far deeper than any log's: left to serde's own limit.
                b'{' | b'[' if depth == MAX_DEPTH => return None,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'"' => loop {
                    match self.next()? {
                        b'"' => break,
                        b'\\' => self.i += 1,
                        _ => {}
                    }
                },
                _ => {}
            }
        }
        serde_json::from_str(&self.text[start..self.i]).ok()
    }

    /// An unknown key's value: a string, a number, `true`, `false` or
    /// `null`.
    pub(crate) fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'0'..=b'9' | b'-' => self.number::<serde::de::IgnoredAny>().map(drop),
            _ if self.word(b"null") || self.word(b"true") || self.word(b"false") => Some(()),
            _ => None,
        }
    }
}

/// Lines damaged at random, for checking a quick reading against serde's:
/// each of `rounds` lines is one of `seeds` with one to three bytes
/// replaced, inserted or removed, or a few copied elsewhere (the same lines
/// each time for a given `seed`); those no longer UTF-8 are left out.
#[cfg(test)]
pub(crate) fn damaged_lines(seeds: &[String], rounds: usize, seed: u64) -> Vec<String> {
    const ALPHABET: &[u8] = b"{}[]\":,\\ \t0123456789-+.eEnultrfasu\x01x";
    let mut state = seed;
    let mut random = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut out = Vec::new();
    for round in 0..rounds {
        let mut line = seeds[round % seeds.len()].clone().into_bytes();
        for _ in 0..1 + random(3) {
            let at = random(line.len() + 1);
            let byte = ALPHABET[random(ALPHABET.len())];
            match random(4) {
                0 if at < line.len() => line[at] = byte,
                1 => line.insert(at, byte),
                2 if at < line.len() => drop(line.remove(at)),
                _ => {
                    let end = (at + random(12)).min(line.len());
                    let copy = line[at..end].to_vec();
                    let to = random(line.len() + 1);
                    line.splice(to..to, copy);
                }
            }
        }
        if let Ok(text) = String::from_utf8(line) {
            out.push(text);
        }
    }
    out
}
