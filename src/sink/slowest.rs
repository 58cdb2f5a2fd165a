//! The slowest tests of a run, for the summaries (mach, html): the
//! [`TOP`] slowest, then every other test over the threshold
//! (`--slow-threshold`). A test's duration is from its `test_start` to its
//! `test_end`. Memory stays bounded by what is shown.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Tests always named.
pub const TOP: usize = 10;

/// The default threshold: a test over a minute is named whatever its rank.
pub const THRESHOLD_MS: u64 = 60_000;

/// The slowest tests seen.
#[derive(Debug)]
pub struct Slowest {
    threshold_ms: u64,
    starts: foldhash::HashMap<String, u64>,
    /// The `TOP` slowest so far (a min-heap: the fastest of them on top).
    top: BinaryHeap<Reverse<(u64, String)>>,
    /// Tests over the threshold pushed out of `top`.
    over: Vec<(u64, String)>,
}

impl Slowest {
    pub fn new(threshold_ms: u64) -> Slowest {
        Slowest {
            threshold_ms,
            starts: Default::default(),
            top: BinaryHeap::new(),
            over: Vec::new(),
        }
    }

    pub fn start(&mut self, test: &str, time: u64) {
        self.starts.insert(test.to_string(), time);
    }

    /// A test ended: its duration counts if it was seen starting.
    pub fn end(&mut self, test: &str, time: u64) {
        if let Some(start) = self.starts.remove(test) {
            self.push(time.saturating_sub(start), test);
        }
    }

    /// A test that took `ms`.
    pub fn push(&mut self, ms: u64, test: &str) {
        if self.top.len() == TOP {
            let Some(Reverse((fastest, _))) = self.top.peek() else {
                return;
            };
            if ms <= *fastest {
                if ms > self.threshold_ms {
                    self.over.push((ms, test.to_string()));
                }
                return;
            }
            if let Some(Reverse(out)) = self.top.pop() {
                if out.0 > self.threshold_ms {
                    self.over.push(out);
                }
            }
        }
        self.top.push(Reverse((ms, test.to_string())));
    }

    /// The tests to name, slowest first: `(milliseconds, test id)`.
    pub fn list(&self) -> Vec<(u64, String)> {
        let mut all: Vec<(u64, String)> = self
            .top
            .iter()
            .map(|Reverse(t)| t.clone())
            .chain(self.over.iter().cloned())
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all
    }

    /// The threshold, in milliseconds.
    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms
    }
}

/// Seconds as the summaries write a duration (`0.42 s`, `61.0 s`).
pub fn seconds(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.2} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_slowest_then_any_over_the_threshold() {
        let mut s = Slowest::new(500);
        for i in 0..30u64 {
            s.start(&format!("t{i}"), 1000);
            s.end(&format!("t{i}"), 1000 + i * 40);
        }
        // Never started: no duration.
        s.end("ghost", 99_999);
        let list = s.list();
        // t20..t29 are the ten slowest; t13..t19 (over 500 ms) follow.
        let names: Vec<&str> = list.iter().map(|(_, n)| n.as_str()).collect();
        let want: Vec<String> = (13..30).rev().map(|i| format!("t{i}")).collect();
        assert_eq!(names, want);
        assert_eq!(list[0].0, 29 * 40);
        assert_eq!(seconds(1160), "1.16 s");
        assert_eq!(seconds(61_000), "61.0 s");
    }
}
