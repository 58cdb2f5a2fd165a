//! A test process's plumbing: its output read in batches from widened
//! pipes, lines cut at a bound, its process group signalled, and libtest's
//! log file read as the witness of its results.

use super::coordinator::Msg;
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Longest line kept from a test's output: libtest writes a test's whole
/// captured output as one JSON line, so this is large; the rest of a longer
/// line is dropped and the line marked as cut.
const MAX_LINE: usize = 64 << 20;

/// libtest's `--logfile` of one process, read as its results come: the
/// account of them that its tests cannot write (see [`crate::libtest::witness`]).
/// The file is removed when this is dropped.
#[derive(Debug)]
pub(super) struct LogfileWitness {
    pub(super) path: PathBuf,
    file: std::fs::File,
    records: crate::libtest::witness::Records,
}

impl LogfileWitness {
    /// An empty log file for job `job` under `<session_dir>/witness`, open
    /// for reading (libtest opens it again, truncating nothing). `None` when
    /// it cannot be made: the process then runs without one.
    pub(super) fn create(session_dir: &Path, job: u64) -> Option<LogfileWitness> {
        let dir = session_dir.join("witness");
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("{}-{job}.log", std::process::id()));
        std::fs::File::create(&path).ok()?;
        let file = std::fs::File::open(&path).ok()?;
        Some(LogfileWitness {
            path,
            file,
            records: crate::libtest::witness::Records::new(),
        })
    }
}

impl crate::translate::Witness for LogfileWitness {
    fn confirms(&mut self, name: &str, outcome: crate::libtest::Outcome) -> bool {
        if self.records.confirm(name, outcome) {
            return true;
        }
        // libtest wrote the record before the line: whatever is new now
        // holds it, if anything does (one read for a batch of results).
        let mut new = Vec::new();
        if std::io::Read::read_to_end(&mut self.file, &mut new).is_ok() && !new.is_empty() {
            self.records.push(&new);
            return self.records.confirm(name, outcome);
        }
        false
    }
}

impl Drop for LogfileWitness {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sends a signal to a process group (the test process and its children).
pub(super) fn kill_group(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// How long a stream's reader waits after passing lines on, so that the
/// lines written meanwhile go together: a few milliseconds more before a
/// line reaches the sinks (a person at a terminal notices a delay from
/// about ten times that), and on a suite of tiny tests a batch of a few
/// dozen results for each wake-up of the reader and of the coordinator.
pub(super) const COALESCE: Duration = Duration::from_millis(5);

/// A burst of at least this many bytes is read on without a pause: the
/// output is coming faster than the pipe could hold it over a pause.
const COALESCE_BELOW: usize = 16 * 1024;

/// The room a test process's output pipe is given where the system allows
/// it (Linux, up to `/proc/sys/fs/pipe-max-size`, 1 MiB by default, for
/// any user). While a reader pauses ([`COALESCE`]) the lines gather in the
/// pipe, and a full pipe stops the test process until the reader is back:
/// the default 64 KiB is what a binary of tiny tests writes in a few
/// milliseconds on a fast machine.
const PIPE_ROOM: usize = 1024 * 1024;

/// Gives a pipe [`PIPE_ROOM`], or leaves it as it is if that is refused.
pub(super) fn widen_pipe(pipe: &impl std::os::fd::AsFd) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = nix::fcntl::fcntl(pipe, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_ROOM as i32));
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = pipe;
}

/// Bytes of test output read and not yet handled by the coordinator, with
/// a bound: a reader waits while it is reached, so a test that prints faster
/// than the run can write its entries is slowed down (its pipe fills), as a
/// slow terminal slows `cargo test`, instead of filling memory.
#[derive(Clone, Debug, Default)]
pub(super) struct InFlight(Arc<(Mutex<usize>, Condvar)>);

/// The bound of [`InFlight`].
const IN_FLIGHT: usize = 4 << 20;

impl InFlight {
    /// Waits until `n` more bytes fit (at once when none are in flight,
    /// whatever `n`: a single line may be larger than the bound).
    fn take(&self, n: usize) {
        let (count, freed) = &*self.0;
        let mut c = count.lock().unwrap_or_else(|e| e.into_inner());
        while *c > 0 && *c + n > IN_FLIGHT {
            c = freed.wait(c).unwrap_or_else(|e| e.into_inner());
        }
        *c += n;
    }

    /// `n` bytes were handled.
    pub(super) fn give_back(&self, n: usize) {
        let (count, freed) = &*self.0;
        let mut c = count.lock().unwrap_or_else(|e| e.into_inner());
        *c = c.saturating_sub(n);
        freed.notify_all();
    }
}

/// The bytes a batch of lines counts for in [`InFlight`].
pub(super) fn batch_bytes(lines: &[(Vec<u8>, bool)]) -> usize {
    lines.iter().map(|(l, _)| l.len() + 1).sum()
}

/// How long a stream is read on after its process has exited while nothing
/// comes: a child the process left behind may hold the pipe open for ever.
/// Only a pipe that stays silent counts: output still being read, however
/// late the run gets to it, is all read.
pub(super) const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Told to the readers of a test process's streams when it exits: the
/// write end of a pipe, closed then (dropped), which its readers see as a
/// hang-up of the read end they watch beside their stream.
pub(super) struct ExitNotice(#[allow(dead_code)] std::os::fd::OwnedFd);

/// A reader's view of [`ExitNotice`].
pub(super) struct ExitWatch(std::os::fd::OwnedFd);

/// A notice, and a watch of it for each of `n` readers.
pub(super) fn exit_notice(n: usize) -> std::io::Result<(ExitNotice, Vec<ExitWatch>)> {
    // Not inherited: a child holding the write end would hide the exit.
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut watches = Vec::with_capacity(n);
    for _ in 1..n {
        watches.push(ExitWatch(r.try_clone()?));
    }
    watches.push(ExitWatch(r));
    Ok((ExitNotice(w), watches))
}

/// A test process's pipe, which ends once the process has exited and
/// nothing more has come for `grace`.
struct UntilSilent<P> {
    pipe: P,
    exit: ExitWatch,
    gone: bool,
    /// Silent for `grace` after the exit: ended.
    silent: bool,
    grace: Duration,
}

impl<P: std::os::fd::AsFd> UntilSilent<P> {
    /// Waits up to `limit` (`None`: for ever) for the pipe to have bytes or
    /// be closed, or (until it is known) for the process's exit; whether
    /// the pipe is ready.
    fn wait(&mut self, limit: Option<Duration>, events: nix::poll::PollFlags) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let timeout = limit.map_or(PollTimeout::NONE, |l| {
            PollTimeout::try_from(l).unwrap_or(PollTimeout::MAX)
        });
        loop {
            let mut fds = [
                PollFd::new(self.pipe.as_fd(), events),
                PollFd::new(std::os::fd::AsFd::as_fd(&self.exit.0), PollFlags::POLLIN),
            ];
            // Once the exit is known, the notice is ready for good: only
            // the pipe is watched.
            let watched = if self.gone { 1 } else { 2 };
            match poll(&mut fds[..watched], timeout) {
                Ok(_) => {
                    let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                    if ready(&fds[1]) {
                        self.gone = true;
                    }
                    return ready(&fds[0]);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                // Let the read itself say what is wrong.
                Err(_) => return true,
            }
        }
    }
}

impl<P: Read + std::os::fd::AsFd> Read for UntilSilent<P> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use nix::poll::PollFlags;
        // Until the process exits, wait for its output or its exit; once
        // it has, for its output a while only.
        while !self.gone {
            if self.wait(None, PollFlags::POLLIN) {
                return self.pipe.read(buf);
            }
        }
        if self.silent || !self.wait(Some(self.grace), PollFlags::POLLIN) {
            // The end, for good (a line cut short by it is read once).
            self.silent = true;
            return Ok(0);
        }
        self.pipe.read(buf)
    }
}

/// Reads a test process's stream on a thread of its own. The lines that
/// have arrived go together, as soon as no complete line is left to read:
/// one message, one wake-up of the coordinator, for a burst of lines;
/// then a pause of `coalesce` ([`pause`]). Once the process has closed its
/// end of the pipe or `exited` tells that it exited, the rest is read
/// without pauses, so the end of the stream is seen at once
/// (the job is finished with it); a pipe that a child left behind holds
/// open ends once it has been silent for [`EXIT_GRACE`].
pub(super) fn spawn_reader(
    job: u64,
    stderr: bool,
    pipe: impl Read + std::os::fd::AsFd + Send + 'static,
    exited: ExitWatch,
    tx: SyncSender<Msg>,
    coalesce: Duration,
    in_flight: InFlight,
) {
    spawn_reader_with(
        job, stderr, pipe, exited, tx, coalesce, EXIT_GRACE, in_flight,
    );
}

#[allow(clippy::too_many_arguments)]
fn spawn_reader_with(
    job: u64,
    stderr: bool,
    pipe: impl Read + std::os::fd::AsFd + Send + 'static,
    exited: ExitWatch,
    tx: SyncSender<Msg>,
    coalesce: Duration,
    grace: Duration,
    in_flight: InFlight,
) {
    std::thread::spawn(move || {
        // Once the process has exited, the rest is read without pausing.
        let mut pausing = true;
        let pipe = UntilSilent {
            pipe,
            exit: exited,
            gone: false,
            silent: false,
            grace,
        };
        let mut r = BufReader::with_capacity(64 * 1024, pipe);
        let mut line = Vec::new();
        loop {
            let mut lines = Vec::new();
            let mut ended = false;
            // The first line may wait for input; those after it are read
            // only while whole lines are already buffered.
            loop {
                match read_line_capped(&mut r, &mut line, MAX_LINE) {
                    Some(truncated) => lines.push((std::mem::take(&mut line), truncated)),
                    None => {
                        ended = true;
                        break;
                    }
                }
                if memchr::memchr(b'\n', r.buffer()).is_none() {
                    break;
                }
            }
            let bytes = batch_bytes(&lines);
            if !lines.is_empty() {
                in_flight.take(bytes);
                if tx.send(Msg::Lines { job, stderr, lines }).is_err() {
                    return;
                }
            }
            if ended {
                let _ = tx.send(Msg::Closed { job });
                return;
            }
            // A test binary writes a line per event: read as they come,
            // each would cost two wake-ups (this thread's and the
            // coordinator's). A short pause lets the next ones gather in
            // the pipe, unless lines come faster than a pause could hold.
            if pausing && bytes < COALESCE_BELOW {
                pausing = pause(r.get_mut(), coalesce);
            }
        }
    });
}

/// A reader's pause between batches: `length`, cut short when the process
/// closes its end of the pipe (it exited: the rest of its output and the
/// end of the stream are there to read at once) or when its exit is known
/// (a child it left behind may hold the pipe open). Returns whether the
/// next batch is to be paused for too.
fn pause<P: std::os::fd::AsFd>(pipe: &mut UntilSilent<P>, length: Duration) -> bool {
    if pipe.gone {
        return false;
    }
    // No event is asked of the pipe: lines arriving do not end the pause,
    // the writers' hang-up does (poll always reports it).
    let hung_up = pipe.wait(Some(length), nix::poll::PollFlags::empty());
    !hung_up && !pipe.gone
}

/// Reads one line (without its `\n`), keeping at most `cap` bytes of it.
/// `None` at the end of the stream, else whether the line was cut.
pub(crate) fn read_line_capped(
    r: &mut impl BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> Option<bool> {
    line.clear();
    let mut cut = false;
    let mut any = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return any.then_some(cut),
        };
        if buf.is_empty() {
            return any.then_some(cut);
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = cap.saturating_sub(line.len());
        if chunk > room {
            cut = true;
        }
        line.extend_from_slice(&buf[..chunk.min(room)]);
        r.consume(if done { chunk + 1 } else { chunk });
        if done {
            return Some(cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    /// The next message a reader sends, or a failure after a minute.
    fn next_message(rx: &std::sync::mpsc::Receiver<Msg>) -> Msg {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the reader sent nothing within a minute")
    }

    fn batch(msg: Msg) -> Vec<String> {
        match msg {
            Msg::Lines { lines, .. } => lines
                .into_iter()
                .map(|(l, _)| String::from_utf8(l).unwrap())
                .collect(),
            _ => panic!("not lines"),
        }
    }

    #[test]
    fn a_readers_pause_gathers_lines_and_ends_when_the_pipe_is_closed() {
        use std::io::Write;
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut write = std::fs::File::from(write);
        let (tx, rx) = sync_channel(16);
        // The process's exit is never told: only the pipe's closing can
        // cut the ten-minute pause short.
        let (_exit, mut exited) = exit_notice(1).unwrap();
        let exited = exited.pop().unwrap();
        let pause = Duration::from_secs(600);
        spawn_reader(
            7,
            false,
            std::fs::File::from(read),
            exited,
            tx,
            pause,
            InFlight::default(),
        );
        writeln!(write, "first").unwrap();
        assert_eq!(batch(next_message(&rx)), ["first"]);
        // The reader pauses now: lines written meanwhile wait for the
        // pause's end and come together.
        writeln!(write, "second").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        writeln!(write, "third").unwrap();
        drop(write);
        assert_eq!(batch(next_message(&rx)), ["second", "third"]);
        assert!(matches!(next_message(&rx), Msg::Closed { job: 7 }));
    }

    /// Every line of a batch's messages, in order, until `Closed`; how long
    /// the end took to come after `since`.
    fn drain(
        rx: &std::sync::mpsc::Receiver<Msg>,
        since: std::time::Instant,
    ) -> (Vec<String>, Duration) {
        let mut all = Vec::new();
        loop {
            match next_message(rx) {
                Msg::Lines { lines, .. } => all.extend(
                    lines
                        .into_iter()
                        .map(|(l, _)| String::from_utf8(l).unwrap()),
                ),
                Msg::Closed { .. } => return (all, since.elapsed()),
                _ => panic!("neither lines nor the end"),
            }
        }
    }

    #[test]
    fn a_pipe_a_left_behind_child_holds_open_ends_once_silent_and_nothing_is_lost() {
        use std::io::Write;
        let (read, write) = nix::unistd::pipe().unwrap();
        widen_pipe(&read);
        let mut write = std::fs::File::from(write);
        // A channel of one message: the reader waits on a slow consumer.
        let (tx, rx) = sync_channel(1);
        let (exit, mut exited) = exit_notice(1).unwrap();
        let exited = exited.pop().unwrap();
        let grace = Duration::from_millis(300);
        spawn_reader_with(
            3,
            false,
            std::fs::File::from(read),
            exited,
            tx,
            Duration::from_millis(5),
            grace,
            InFlight::default(),
        );
        let big = "x".repeat(300_000);
        let mut sent = Vec::new();
        for i in 0..2_000 {
            sent.push(format!("line {i}"));
        }
        sent.push(big);
        for l in &sent {
            writeln!(write, "{l}").unwrap();
        }
        // A last line the process never ended.
        write!(write, "no line break").unwrap();
        sent.push("no line break".to_string());
        // The process exits; `write` stays open, as a child it left behind
        // would hold it. The consumer comes back long after the grace.
        let since = std::time::Instant::now();
        drop(exit);
        std::thread::sleep(grace * 4);
        let (got, took) = drain(&rx, since);
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "lines lost or changed");
        // The end comes once the pipe has been silent for the grace after
        // the exit, not when the writer goes.
        assert!(took >= grace * 4, "{took:?}");
        assert!(took < Duration::from_secs(30), "{took:?}");
        drop(write);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_test_process_output_pipe_is_given_room() {
        use nix::fcntl::{fcntl, FcntlArg};
        let mut child = std::process::Command::new("true")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stdout.take().unwrap();
        let before = fcntl(&pipe, FcntlArg::F_GETPIPE_SZ).unwrap() as usize;
        widen_pipe(&pipe);
        let after = fcntl(&pipe, FcntlArg::F_GETPIPE_SZ).unwrap() as usize;
        child.wait().unwrap();
        // Linux lets any user go up to pipe-max-size (1 MiB unless lowered).
        let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if max >= PIPE_ROOM {
            assert!(after >= PIPE_ROOM, "{before} -> {after}");
        } else {
            assert!(after >= before);
        }
    }

    #[test]
    fn long_lines_are_cut_not_kept_whole() {
        let data = b"short\nabcdefghij\n\nlast";
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(cut) = read_line_capped(&mut r, &mut line, 6) {
            got.push((String::from_utf8(line.clone()).unwrap(), cut));
        }
        let want = [
            ("short", false),
            ("abcdef", true),
            ("", false),
            ("last", false),
        ];
        assert_eq!(got, want.map(|(s, c)| (s.to_string(), c)));
    }
}
