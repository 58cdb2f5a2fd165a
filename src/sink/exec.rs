//! `--log-exec CMD`: a command that reads the raw stream (JSON lines) on its
//! stdin as the run goes, so any program (mozlog's own formatters, a team's
//! uploader) consumes the run live.
//!
//! The command is started through `sh -c` when the sinks are set up, before
//! the build, so one that cannot start (`sh` reports 126 or 127) stops the
//! run at once as a setup error. Its stdout and stderr are the tool's own
//! (inherited); its stdin is a pipe that gets the same lines `--log-raw`
//! writes (`--log-raw-level` applies to both).
//!
//! It runs in a process group of its own: Ctrl-C at the terminal reaches
//! the tool, which ends the run and closes the command's stdin, so the
//! command still sees the whole stream and ends on its own; and when it has
//! to be killed, its children go with it (a `sleep` left behind would keep
//! the tool's stdout open).
//!
//! Everything the command does wrong is one sink failure (exit status 103),
//! reported once, while the other sinks carry on:
//! - it stops reading before the end (it exited, or closed its stdin): the
//!   write that finds the pipe closed (EPIPE) fails, with its exit status
//!   when it has one;
//! - it does not read for [`WRITE_TIMEOUT`](super::socket::WRITE_TIMEOUT)
//!   while the pipe is full: the write fails, and the command is killed;
//! - at the end its stdin is closed and it gets [`GRACE`] to exit; one that
//!   is still running is killed, and one that exits with a non-zero status
//!   fails its sink.

use super::socket::{secs, Timed};
use super::{raw, LevelFilter, Sink};
use crate::model::{Entry, Level};
use crate::text::signal_name;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long the command may take to exit once its stdin is closed.
pub const GRACE: Duration = Duration::from_secs(10);

/// How long a command has to fail to start (`sh: 1: x: not found`) for it to
/// be a setup error; one that fails later fails its sink. Every command is
/// started first and then all are watched for this long together.
pub const START_PROBE: Duration = Duration::from_millis(200);

/// What became of the command at the end.
enum Ending {
    Exited(ExitStatus),
    /// Still running after the grace period: killed.
    Killed,
}

/// An exit status in words (`status 1`, `killed by SIGTERM`).
fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(s)) => format!("killed by {}", signal_name(s)),
        (None, None) => st.to_string(),
    }
}

/// The exec sink: the raw format written to a command's stdin.
pub struct Exec {
    /// The raw sink over the pipe; `None` once the pipe is closed.
    inner: Option<LevelFilter<raw::Raw>>,
    child: Child,
    grace: Duration,
    /// Known to have exited and been waited for.
    reaped: bool,
    /// Stopped reading with its stdin open: not worth a grace period.
    stuck: bool,
}

impl Exec {
    /// Starts `sh -c command` with a pipe on its stdin. `write_timeout`
    /// bounds each flush to the pipe, `grace` the wait for its exit. See
    /// [`Exec::check_started`] for a command that cannot run.
    pub fn start(
        command: &str,
        level: Level,
        write_timeout: Duration,
        grace: Duration,
    ) -> io::Result<Exec> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let stdin: ChildStdin = child.stdin.take().expect("stdin was piped");
        // Non-blocking, so that a full pipe is a wait the writer bounds
        // rather than a block without end.
        let flags =
            nix::fcntl::fcntl(&stdin, nix::fcntl::FcntlArg::F_GETFL).map_err(io::Error::from)?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&stdin, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
        let out = Timed::new(stdin, write_timeout, "the command");
        Ok(Exec {
            inner: Some(LevelFilter::new(raw::Raw::new(Box::new(out)), level)),
            child,
            grace,
            reaped: false,
            stuck: false,
        })
    }

    /// Watches the command until `until`: one that `sh` could not run (126,
    /// 127) by then is an error. One that is still running, or exited
    /// otherwise, is left to the run (an early exit shows at the first write).
    pub fn check_started(&mut self, until: Instant) -> io::Result<()> {
        let limit = until.saturating_duration_since(Instant::now());
        match self.wait_for(limit) {
            Some(st) if matches!(st.code(), Some(126 | 127)) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the command cannot be run (sh exited with {})",
                    describe(st)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Waits up to `limit` for the command to exit.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    self.reaped = true;
                    return Some(st);
                }
                Ok(None) => {}
                Err(_) => return None,
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
        }
    }

    /// Kills the command and its process group, and waits for it.
    fn kill(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// Closes the command's stdin and waits for its exit: the grace period,
    /// or none for a command that already stopped reading.
    fn close_and_reap(&mut self) -> Ending {
        self.inner = None;
        if !self.stuck {
            if let Some(st) = self.wait_for(self.grace) {
                return Ending::Exited(st);
            }
        }
        self.kill();
        Ending::Killed
    }

    /// Says what a write error means for the command.
    fn explain(&mut self, e: io::Error) -> io::Error {
        match e.kind() {
            io::ErrorKind::BrokenPipe => {
                // The pipe closes as the command exits; give it a moment to be
                // a status we can report.
                let how = match self.wait_for(Duration::from_millis(200)) {
                    Some(st) => format!("it exited with {}", describe(st)),
                    None => "it closed its stdin".to_string(),
                };
                io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    format!("the command stopped reading before the end of the stream ({how})"),
                )
            }
            io::ErrorKind::TimedOut => {
                self.stuck = true;
                e
            }
            _ => e,
        }
    }

    fn with_inner(
        &mut self,
        f: impl FnOnce(&mut LevelFilter<raw::Raw>) -> io::Result<()>,
    ) -> io::Result<()> {
        let r = match self.inner.as_mut() {
            Some(inner) => f(inner),
            None => Ok(()),
        };
        r.map_err(|e| self.explain(e))
    }
}

impl Sink for Exec {
    fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.with_inner(|s| s.entry(e))
    }

    fn entry_read(&mut self, e: &Entry, line: &[u8]) -> io::Result<()> {
        self.with_inner(|s| s.entry_read(e, line))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with_inner(|s| s.flush())
    }

    fn finish(&mut self) -> io::Result<()> {
        // The end of the stream is waited for, as long as the command reads.
        let flushed = super::socket::finishing(|| self.with_inner(|s| s.finish()));
        let ending = self.close_and_reap();
        flushed?;
        match ending {
            Ending::Exited(st) if st.success() => Ok(()),
            Ending::Exited(st) => Err(io::Error::other(format!(
                "the command exited with {}",
                describe(st)
            ))),
            Ending::Killed => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the command was still running {} after the end of the stream; it was killed",
                    secs(self.grace)
                ),
            )),
        }
    }
}

impl Drop for Exec {
    /// A sink the fan-out gave up on is never finished: its command is
    /// still closed and waited for (or killed), so none is left behind.
    fn drop(&mut self) {
        if !self.reaped {
            self.close_and_reap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Log, Origin};

    fn entries(n: usize) -> Vec<Entry> {
        let o = Origin {
            thread: "t".into(),
            pid: 1,
            source: "s".into(),
        };
        (0..n)
            .map(|i| {
                o.entry(
                    i as u64,
                    Action::Log(Log {
                        level: Level::Info,
                        message: format!("line {i} {}", "x".repeat(100)),
                        stack: None,
                    }),
                )
            })
            .collect()
    }

    fn start(cmd: &str, grace: Duration) -> Exec {
        Exec::start(cmd, Level::Debug, Duration::from_millis(300), grace).unwrap()
    }

    #[test]
    fn the_command_reads_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut e = start(&format!("cat > '{}'", out.display()), GRACE);
        let es = entries(2000);
        for x in &es {
            e.entry(x).unwrap();
        }
        e.finish().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let want: String = es.iter().map(|x| x.to_json() + "\n").collect();
        assert_eq!(text, want);
    }

    #[test]
    fn a_command_that_cannot_start_is_found_at_once() {
        let mut e = Exec::start(
            "no-such-command-for-structlog",
            Level::Info,
            Duration::from_secs(1),
            GRACE,
        )
        .unwrap();
        // The check ends as soon as sh gives up; the long limit only keeps
        // a loaded machine from making the test fail.
        let err = e
            .check_started(Instant::now() + Duration::from_secs(10))
            .expect_err("must not start");
        assert!(err.to_string().contains("127"), "{err}");
        // A command that runs passes the check.
        let mut e = start("cat >/dev/null", GRACE);
        e.check_started(Instant::now() + START_PROBE).unwrap();
        e.finish().unwrap();
    }

    #[test]
    fn an_early_exit_is_a_broken_pipe_with_the_status() {
        let mut e = start("head -n 1 >/dev/null; exit 3", GRACE);
        let mut err = None;
        for x in &entries(5000) {
            if let Err(x) = e.entry(x).and_then(|_| e.flush()) {
                err = Some(x);
                break;
            }
        }
        let err = err.expect("the closed pipe must show");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(err.to_string().contains("status 3"), "{err}");
    }

    #[test]
    fn a_failing_exit_status_fails_the_sink() {
        let mut e = start("cat >/dev/null; exit 4", GRACE);
        e.entry(&entries(1)[0]).unwrap();
        let err = e.finish().unwrap_err();
        assert!(err.to_string().contains("status 4"), "{err}");
    }

    #[test]
    fn a_command_that_never_exits_is_killed_after_the_grace_period() {
        let started = Instant::now();
        let mut e = start("sleep 1000", Duration::from_millis(300));
        e.entry(&entries(1)[0]).unwrap();
        let err = e.finish().unwrap_err();
        assert!(err.to_string().contains("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_command_that_never_reads_times_out_and_is_killed_on_drop() {
        let started = Instant::now();
        let mut e = start("sleep 1000", Duration::from_secs(1000));
        // More than the pipe holds: what it cannot take waits, and the run
        // is not held for it.
        for x in &entries(5000) {
            e.entry(x).unwrap();
        }
        e.flush().unwrap();
        // Nothing taken for longer than the write timeout (300 ms here).
        std::thread::sleep(Duration::from_millis(400));
        let err = e
            .flush()
            .expect_err("a command that never reads must time out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let pid = e.child.id() as i32;
        // As the fan-out does with a failed sink: dropped, never finished.
        drop(e);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(
            nix::sys::signal::kill(Pid::from_raw(pid), None).is_err(),
            "the command is gone"
        );
    }
}
