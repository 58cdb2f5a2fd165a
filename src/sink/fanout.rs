//! One stream to every sink: written in order, written out at a pace
//! (files) or at once (everything else), finished together, and a sink that
//! fails reported once while the others go on.

use super::*;
use crate::model::Entry;
use std::io;
use std::time::{Duration, Instant};

/// A sink with the name the user gave it (`--log-raw run.log`), for messages.
pub(crate) struct Slot {
    label: String,
    sink: Box<dyn Sink>,
    failed: bool,
    /// It writes where no other sink does (a file, a socket, a command),
    /// so it may finish on a thread of its own.
    own_output: bool,
    /// It writes a regular file: in a live run, written out at most every
    /// [`FILE_FLUSH_INTERVAL`] (see [`FanOut::flush_live`]).
    paced: bool,
}

/// How often, at most, a live run writes out what it holds for regular
/// files. A run of tiny tests wakes up every few milliseconds with a batch
/// of lines; writing each file out each time was a write system call per
/// file per wake-up (about 190 per file on the benchmark's 5,000 tiny tests
/// with batches a millisecond apart), for a reader that cannot tell 100 ms
/// apart.
pub const FILE_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Feeds every sink the same entries in the same order.
#[derive(Default)]
pub struct FanOut {
    slots: Vec<Slot>,
    failures: Vec<String>,
    /// When the paced sinks were last written out in a live run.
    paced_at: Option<Instant>,
    /// Whether entries came since.
    paced_pending: bool,
}

impl FanOut {
    pub fn new() -> FanOut {
        FanOut::default()
    }

    /// Adds a sink; `label` names it in error messages (`--log-xunit out.xml`).
    pub fn add(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.slots.push(Slot {
            label: label.into(),
            sink,
            failed: false,
            own_output: false,
            paced: false,
        });
    }

    /// Adds a sink that writes a regular file of its own: as
    /// [`FanOut::add_own`], and paced in a live run.
    pub fn add_file(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.add_own(label, sink);
        if let Some(slot) = self.slots.last_mut() {
            slot.paced = true;
        }
    }

    /// Adds a sink that writes where no other does (a file, a socket, a
    /// command): it finishes alongside the others rather than after them.
    pub fn add_own(&mut self, label: impl Into<String>, sink: Box<dyn Sink>) {
        self.add(label, sink);
        if let Some(slot) = self.slots.last_mut() {
            slot.own_output = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The number of sinks.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Shares the sinks out into at most `parts` fan-outs of about equal
    /// work, each sink's order kept; failures so far go with the first.
    pub fn split(self, parts: usize) -> Vec<FanOut> {
        let parts = parts.clamp(1, self.slots.len().max(1));
        let mut out: Vec<(u32, FanOut)> = (0..parts).map(|_| (0, FanOut::new())).collect();
        out[0].1.failures = self.failures;
        let mut slots: Vec<(usize, Slot)> = self.slots.into_iter().enumerate().collect();
        // The costliest first, each to the part with the least work so far.
        slots.sort_by_key(|(i, s)| (std::cmp::Reverse(cost(&s.label)), *i));
        let mut placed: Vec<Vec<(usize, Slot)>> = (0..parts).map(|_| Vec::new()).collect();
        for (i, slot) in slots {
            let p = (0..parts).min_by_key(|&p| (out[p].0, p)).unwrap_or(0);
            out[p].0 += cost(&slot.label);
            placed[p].push((i, slot));
        }
        for (p, mut slots) in placed.into_iter().enumerate() {
            slots.sort_by_key(|(i, _)| *i);
            out[p].1.slots = slots.into_iter().map(|(_, s)| s).collect();
        }
        out.into_iter().map(|(_, f)| f).collect()
    }

    /// True when every sink has failed: nothing more can be written.
    pub fn all_failed(&self) -> bool {
        !self.slots.is_empty() && self.slots.iter().all(|s| s.failed)
    }

    /// Records a sink that failed before its first entry (a socket that
    /// cannot be connected): reported once now, and counted among the
    /// failures of the run, while the other sinks carry on.
    pub fn add_failed(&mut self, label: impl Into<String>, what: &str, err: io::Error) {
        let msg = format!("{}: {what} failed: {err}", label.into());
        crate::sink::progress::eprintln_above(&format!(
            "cargo-structlog: error: {msg}; the other outputs carry on"
        ));
        self.failures.push(msg);
    }

    fn fail(&mut self, i: usize, what: &str, err: io::Error) {
        let slot = &mut self.slots[i];
        slot.failed = true;
        let msg = format!("{}: {what} failed: {err}", slot.label);
        crate::sink::progress::eprintln_above(&format!(
            "cargo-structlog: error: {msg}; the other outputs carry on"
        ));
        self.failures.push(msg);
    }

    /// Gives an entry to every sink still working.
    pub fn entry(&mut self, e: &Entry) {
        self.paced_pending = true;
        self.each("writing", |sink| sink.entry(e));
    }

    /// Gives every sink still working an entry read from a raw log, with
    /// its line as read (see [`Sink::entry_read`]); an empty `line` is
    /// none.
    pub fn entry_read(&mut self, e: &Entry, line: &[u8]) {
        self.paced_pending = true;
        if line.is_empty() {
            self.entry(e);
        } else {
            self.each("writing", |sink| sink.entry_read(e, line));
        }
    }

    /// Calls `f` on every sink still working; a sink it fails on is
    /// reported (as failing at `what`) and given nothing more.
    fn each(&mut self, what: &str, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>) {
        for i in 0..self.slots.len() {
            if self.slots[i].failed {
                continue;
            }
            if let Err(err) = f(self.slots[i].sink.as_mut()) {
                self.fail(i, what, err);
            }
        }
    }

    /// Flushes every sink still working.
    pub fn flush(&mut self) {
        self.each("writing", |sink| sink.flush());
    }

    /// Flushes in a live run, after a batch of entries: every sink a reader
    /// may be watching (the terminal, a pipe, a socket, a command) at once,
    /// regular files at most every [`FILE_FLUSH_INTERVAL`]. Returns when
    /// the files are due, if something is held for them: the caller calls
    /// again by then, however quiet the run is.
    pub fn flush_live(&mut self) -> Option<Instant> {
        self.flush_live_at(Instant::now())
    }

    pub(crate) fn flush_live_at(&mut self, now: Instant) -> Option<Instant> {
        let due = self
            .paced_at
            .is_none_or(|t| now.saturating_duration_since(t) >= FILE_FLUSH_INTERVAL);
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if slot.failed || (slot.paced && !due) {
                continue;
            }
            if let Err(err) = slot.sink.flush() {
                self.fail(i, "writing", err);
            }
        }
        if due {
            self.paced_at = Some(now);
            self.paced_pending = false;
        }
        let paced = self.slots.iter().any(|s| s.paced && !s.failed);
        (paced && self.paced_pending)
            .then(|| self.paced_at.map(|t| t + FILE_FLUSH_INTERVAL))
            .flatten()
    }

    /// Finishes every sink; returns the failures of the whole run. The
    /// sinks that complete a document at the end (xunit, html) take a few
    /// milliseconds each: those with outputs of their own finish on threads
    /// of their own, and are freed there (a large document's records take
    /// a while to free too), the others (stdout, the progress bar on the
    /// terminal) one after the other, in their order. Failures are reported
    /// in the sinks' order.
    pub fn finish(&mut self) -> Vec<String> {
        // One sink alone finishes here.
        let spread = self.slots.iter().filter(|s| !s.failed).count() > 1;
        let mut results: Vec<(usize, io::Result<()>)> = std::thread::scope(|scope| {
            let mut own = Vec::new();
            let mut shared = Vec::new();
            // The last first: the formats that make a document at the end
            // (html, xunit) come last in the sinks' order, and take longest.
            for (i, slot) in self.slots.iter_mut().enumerate().rev() {
                if slot.failed {
                    continue;
                }
                if slot.own_output && spread {
                    own.push((
                        i,
                        scope.spawn(move || {
                            let done = super::socket::finishing(|| slot.sink.finish());
                            // What it holds (a document's records) is freed
                            // here too, beside the others' finishing.
                            drop(std::mem::replace(&mut slot.sink, Box::new(Finished)));
                            done
                        }),
                    ));
                } else {
                    shared.push((i, slot));
                }
            }
            let mut results: Vec<_> = shared
                .into_iter()
                .rev()
                .map(|(i, slot)| (i, super::socket::finishing(|| slot.sink.finish())))
                .collect();
            results.extend(own.into_iter().map(|(i, thread)| {
                let done = thread
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("finishing panicked")));
                (i, done)
            }));
            results
        });
        results.sort_by_key(|(i, _)| *i);
        for (i, result) in results {
            if let Err(err) = result {
                self.fail(i, "finishing", err);
            }
        }
        std::mem::take(&mut self.failures)
    }
}

/// What stands in for a sink finished and freed on a thread of its own.
pub(crate) struct Finished;

impl Sink for Finished {
    fn entry(&mut self, _: &Entry) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink's work per entry, roughly, relative to the others (from a
/// replay of a large log), for [`FanOut::split`]; known by its label.
pub(crate) fn cost(label: &str) -> u32 {
    let format = label
        .strip_prefix("--log-")
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    match format {
        "html" | "xunit" | "mach" => 4,
        "tbpl" | "github" => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Log, Origin};
    use crate::sink::Sink;
    use std::time::{Duration, Instant};

    struct Meeting {
        arrived: std::sync::mpsc::Sender<()>,
        other: std::sync::mpsc::Receiver<()>,
        fail: bool,
    }
    impl Sink for Meeting {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            let _ = self.arrived.send(());
            self.other
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| io::Error::other("finished alone"))?;
            if self.fail {
                return Err(io::Error::other("disk full"));
            }
            Ok(())
        }
    }

    #[test]
    fn sinks_with_outputs_of_their_own_finish_together() {
        let (a_tx, a_rx) = std::sync::mpsc::channel();
        let (b_tx, b_rx) = std::sync::mpsc::channel();
        let mut fan = FanOut::new();
        let meeting = |arrived, other| Meeting {
            arrived,
            other,
            fail: true,
        };
        fan.add_own("--log-xunit a.xml", Box::new(meeting(a_tx, b_rx)));
        fan.add_own("--log-html b.html", Box::new(meeting(b_tx, a_rx)));
        // Both finished at once (each waited for the other), and their
        // failures come in the sinks' order.
        let failures = fan.finish();
        assert_eq!(
            failures,
            [
                "--log-xunit a.xml: finishing failed: disk full",
                "--log-html b.html: finishing failed: disk full"
            ]
        );
    }

    /// A sink that tells on which thread it was freed.
    struct Freed(
        std::sync::mpsc::Sender<(&'static str, std::thread::ThreadId)>,
        &'static str,
    );
    impl Sink for Freed {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Drop for Freed {
        fn drop(&mut self) {
            let _ = self.0.send((self.1, std::thread::current().id()));
        }
    }

    #[test]
    fn sinks_with_outputs_of_their_own_are_freed_where_they_finish() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut fan = FanOut::new();
        fan.add("--log-mach -", Box::new(Freed(tx.clone(), "stdout")));
        fan.add_own("--log-xunit a.xml", Box::new(Freed(tx.clone(), "xunit")));
        fan.add_own("--log-html b.html", Box::new(Freed(tx, "html")));
        assert!(fan.finish().is_empty());
        let here = std::thread::current().id();
        let mut freed: Vec<_> = rx.try_iter().collect();
        freed.sort_by_key(|(name, _)| *name);
        assert_eq!(freed.len(), 2, "{freed:?}");
        assert_eq!((freed[0].0, freed[1].0), ("html", "xunit"));
        assert!(freed.iter().all(|(_, thread)| *thread != here));
        // The sink that shares its output is freed with the fan-out.
        drop(fan);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [("stdout", here)]);
    }

    struct Failing;
    impl Sink for Failing {
        fn entry(&mut self, _: &Entry) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_reported_once_and_others_continue() {
        let buf = testing::SharedBuf::default();
        let mut fan = FanOut::new();
        fan.add("--log-raw bad", Box::new(Failing));
        fan.add(
            "--log-raw good",
            Box::new(raw::Raw::new(Box::new(buf.clone()))),
        );
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        for i in 0..3 {
            fan.entry(&o.entry(
                i,
                Action::Log(Log {
                    level: Level::Info,
                    message: format!("m{i}"),
                    stack: None,
                }),
            ));
        }
        let failures = fan.finish();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].contains("--log-raw bad") && failures[0].contains("disk full"));
        assert_eq!(buf.text().lines().count(), 3);
    }

    #[test]
    fn a_live_run_writes_files_out_at_a_pace_and_the_rest_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Counting(Arc<AtomicUsize>);
        impl Sink for Counting {
            fn entry(&mut self, _: &Entry) -> io::Result<()> {
                Ok(())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
        let (file, pipe) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut fan = FanOut::new();
        fan.add_file("--log-raw run.log", Box::new(Counting(file.clone())));
        fan.add("--log-mach -", Box::new(Counting(pipe.clone())));
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        let e = o.entry(
            0,
            Action::Log(Log {
                level: Level::Info,
                message: "m".into(),
                stack: None,
            }),
        );
        let count = |c: &Arc<AtomicUsize>| c.load(Ordering::SeqCst);
        let t0 = Instant::now();
        // The first batch goes out everywhere.
        fan.entry(&e);
        assert_eq!(fan.flush_live_at(t0), None);
        assert_eq!((count(&file), count(&pipe)), (1, 1));
        // Within the interval the file waits; the caller learns until when.
        fan.entry(&e);
        let at = t0 + Duration::from_millis(30);
        assert_eq!(fan.flush_live_at(at), Some(t0 + FILE_FLUSH_INTERVAL));
        assert_eq!((count(&file), count(&pipe)), (1, 2));
        // Nothing new since: still due then.
        let at = t0 + Duration::from_millis(60);
        assert_eq!(fan.flush_live_at(at), Some(t0 + FILE_FLUSH_INTERVAL));
        assert_eq!((count(&file), count(&pipe)), (1, 3));
        // Then it goes out, and nothing is held.
        assert_eq!(fan.flush_live_at(t0 + FILE_FLUSH_INTERVAL), None);
        assert_eq!((count(&file), count(&pipe)), (2, 4));
        // A replay's flush writes everything, at once.
        fan.entry(&e);
        fan.flush();
        assert_eq!((count(&file), count(&pipe)), (3, 5));
    }

    #[test]
    fn split_shares_out_the_work_keeping_each_parts_order() {
        struct Nothing;
        impl Sink for Nothing {
            fn entry(&mut self, _: &Entry) -> io::Result<()> {
                Ok(())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut fan = FanOut::new();
        fan.add_failed(
            "--log-raw tcp://x:1",
            "connecting",
            io::Error::other("refused"),
        );
        for label in [
            "--log-raw a",
            "--log-html b",
            "--log-unittest c",
            "--log-xunit d",
            "--log-mach -",
            "--log-tbpl e",
        ] {
            fan.add(label, Box::new(Nothing));
        }
        let parts = fan.split(2);
        let labels: Vec<Vec<&str>> = parts
            .iter()
            .map(|f| f.slots.iter().map(|s| s.label.as_str()).collect())
            .collect();
        // html 4 + mach 4 | xunit 4 + tbpl 2 + raw 1 + unittest 1, each in
        // the order given.
        assert_eq!(
            labels,
            [
                vec!["--log-html b", "--log-mach -"],
                vec![
                    "--log-raw a",
                    "--log-unittest c",
                    "--log-xunit d",
                    "--log-tbpl e"
                ],
            ]
        );
        assert_eq!(parts[0].failures.len(), 1);
        assert!(parts[1].failures.is_empty());
        // Never more parts than sinks.
        let mut one = FanOut::new();
        one.add("--log-raw a", Box::new(Nothing));
        assert_eq!(one.split(4).len(), 1);
    }
}
