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

/// Reads a test process's stream on a thread of its own. The lines that
/// have arrived go together, as soon as no complete line is left to read:
/// one message, one wake-up of the coordinator, for a burst of lines;
/// then a pause of `coalesce` ([`pause`]). Once the process has closed its
/// end of the pipe or `exited` is disconnected (the process exited), the
/// rest is read without pauses, so the end of the stream is seen at once
/// (the job is finished with it).
pub(super) fn spawn_reader(
    job: u64,
    stderr: bool,
    pipe: impl Read + std::os::fd::AsFd + Send + 'static,
    exited: std::sync::mpsc::Receiver<()>,
    tx: SyncSender<Msg>,
    coalesce: Duration,
    in_flight: InFlight,
) {
    std::thread::spawn(move || {
        // Once the process has exited, the rest is read without pausing.
        let mut pausing = true;
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
                pausing = pause(r.get_ref(), &exited, coalesce);
            }
        }
    });
}

/// A reader's pause between batches: `length`, cut short when the process
/// closes its end of the pipe (it exited: the rest of its output and the
/// end of the stream are there to read at once) or when its exit is known
/// (`exited`'s sender is dropped: a child it left behind may hold the pipe
/// open). Returns whether the next batch is to be paused for too.
fn pause(
    pipe: &impl std::os::fd::AsFd,
    exited: &std::sync::mpsc::Receiver<()>,
    length: Duration,
) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // No event is asked for: lines arriving do not end the pause, the
    // writers' hang-up does (poll always reports it).
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::empty())];
    let timeout = PollTimeout::try_from(length).unwrap_or(PollTimeout::MAX);
    let hung_up = matches!(poll(&mut fds, timeout), Ok(n) if n > 0);
    !hung_up && matches!(exited.try_recv(), Err(std::sync::mpsc::TryRecvError::Empty))
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
        let (_exit, exited) = std::sync::mpsc::channel::<()>();
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
