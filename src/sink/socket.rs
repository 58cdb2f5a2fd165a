//! Socket destinations (`--log-<format> tcp://HOST:PORT` or `unix:PATH`), and
//! the deadline-bound writer they share with `--log-exec`.
//!
//! The tool connects; it never listens. The connection is made when the sinks
//! are set up, before the build, and waits at most `--log-connect-timeout`
//! seconds (5 by default). A connection that cannot be made does not stop
//! the run: the CLI layer reports it once and counts it as a failed sink
//! (exit status 103), as for a sink that fails while writing.
//!
//! Once connected, the format's bytes go out as the run goes (after each
//! batch of entries). The reader is not trusted to keep up, and never holds
//! the run: writes go through [`Timed`], which hands the reader what it
//! takes without waiting and keeps the rest, up to [`BACKLOG`] bytes. A
//! reader that lets that much pile up, or takes nothing for
//! [`WRITE_TIMEOUT`] while bytes wait, fails its sink alone. Only the last
//! flush, when the sinks finish (see [`finishing`]), waits for the reader to
//! take the rest, for as long as it keeps taking some. A connection the peer
//! drops (EPIPE, ECONNRESET) fails the sink likewise; SIGPIPE is ignored by
//! Rust programs, so it surfaces as that error and never kills the tool.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one flush to a socket or a command may wait for the reader.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// `--log-connect-timeout`'s default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes held before they are pushed out without waiting for a flush.
const CAPACITY: usize = 64 * 1024;

/// Bytes a reader may leave waiting before its sink fails.
pub const BACKLOG: usize = 16 * 1024 * 1024;

thread_local! {
    /// Set while the sinks finish on this thread: a flush then waits for
    /// the reader (see [`finishing`]).
    static FINISHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a sink's `finish`) with flushes that wait for the reader to
/// take what is left, as long as it takes some within [`WRITE_TIMEOUT`]:
/// the end of the stream is not dropped for a reader that is merely slow.
pub fn finishing<R>(f: impl FnOnce() -> R) -> R {
    let before = FINISHING.with(|c| c.replace(true));
    let r = f();
    FINISHING.with(|c| c.set(before));
    r
}

/// Checks the syntax of a `tcp://` address (`HOST:PORT`, `[::1]:PORT`): a
/// typo is a usage error, while a host that does not answer only fails its
/// sink.
pub fn check_tcp(addr: &str) -> Result<(), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("`{addr}` is not HOST:PORT"))?;
    if host.is_empty() || host == "[]" {
        return Err(format!("`{addr}` names no host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(()),
        _ => Err(format!("`{port}` is not a port number (1-65535)")),
    }
}

/// Connects to `HOST:PORT`, trying each address the host resolves to, each
/// for at most `timeout`.
pub fn connect_tcp(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                // Entries are flushed one batch at a time; Nagle would only
                // hold them back.
                s.set_nodelay(true)?;
                s.set_nonblocking(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{addr} resolves to no address"),
        )
    }))
}

/// Connects to a Unix socket within `timeout`. A blocking `connect` to a
/// listener whose backlog is full waits without end, so it runs on a thread
/// that is left behind if it does not answer in time.
pub fn connect_unix(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(p));
    });
    let stream = match rx.recv_timeout(timeout) {
        Ok(r) => r?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {}", secs(timeout)),
            ))
        }
    };
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// A duration in words for messages (`5 s`, `0.25 s`).
pub fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// A buffered writer over a non-blocking stream (a socket, a pipe) that
/// never waits for the reader during the run.
///
/// The stream must be in non-blocking mode: what the reader's side cannot
/// take now shows as `WouldBlock` and stays in the buffer, to go with the
/// next write or flush. The buffer is bounded ([`BACKLOG`]) and so is the
/// time the reader may take nothing while bytes wait (`timeout`): past
/// either, a write or flush fails with `TimedOut`, and the fan-out drops the
/// sink that owns the writer. During [`finishing`], a flush waits instead,
/// napping, until the reader has taken everything or has taken nothing for
/// `timeout`.
pub struct Timed<W: Write> {
    inner: W,
    buf: Vec<u8>,
    timeout: Duration,
    /// When the reader last took bytes, or the buffer was last empty.
    progress: Instant,
    /// Who reads, for messages ("the peer", "the command").
    reader: &'static str,
}

impl<W: Write> Timed<W> {
    /// A writer over `inner` (non-blocking) that fails when its reader
    /// takes nothing for `timeout`; `reader` names who reads, for messages.
    pub fn new(inner: W, timeout: Duration, reader: &'static str) -> Timed<W> {
        Timed {
            inner,
            buf: Vec::with_capacity(CAPACITY),
            timeout,
            progress: Instant::now(),
            reader,
        }
    }

    /// Hands the reader what it takes now.
    fn push_now(&mut self) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == self.buf.len() {
                break Ok(());
            }
            match self.inner.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        if done > 0 || self.buf.is_empty() {
            self.progress = Instant::now();
        }
        self.buf.drain(..done);
        result
    }

    /// Fails when the reader has let too much wait, or taken nothing for
    /// too long while bytes wait.
    fn check(&self) -> io::Result<()> {
        if self.buf.len() > BACKLOG {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} has not read the stream: {} MiB are waiting",
                    self.reader,
                    self.buf.len() >> 20
                ),
            ));
        }
        if !self.buf.is_empty() && self.progress.elapsed() >= self.timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "write timed out: {} has not read the stream for {}",
                    self.reader,
                    secs(self.timeout)
                ),
            ));
        }
        Ok(())
    }

    /// Waits, napping, until the reader has taken everything, or fails when
    /// it takes nothing for `timeout`.
    fn drain(&mut self) -> io::Result<()> {
        let mut nap = Duration::from_millis(1);
        loop {
            let before = self.buf.len();
            self.push_now()?;
            if self.buf.is_empty() {
                return Ok(());
            }
            self.check()?;
            nap = if self.buf.len() < before {
                Duration::from_millis(1)
            } else {
                (nap * 2).min(Duration::from_millis(20))
            };
            std::thread::sleep(nap);
        }
    }
}

impl<W: Write> Write for Timed<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CAPACITY {
            self.push_now()?;
            self.check()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if FINISHING.with(|c| c.get()) {
            self.drain()?;
        } else {
            self.push_now()?;
            self.check()?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn tcp_addresses_are_checked() {
        assert!(check_tcp("127.0.0.1:9999").is_ok());
        assert!(check_tcp("collector.example:80").is_ok());
        assert!(check_tcp("[::1]:9999").is_ok());
        assert!(check_tcp("localhost").unwrap_err().contains("HOST:PORT"));
        assert!(check_tcp(":80").unwrap_err().contains("no host"));
        assert!(check_tcp("h:0").unwrap_err().contains("port"));
        assert!(check_tcp("h:http").unwrap_err().contains("port"));
    }

    #[test]
    fn a_reader_that_stops_reading_fails_the_writer_without_holding_it() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        // A minute of patience, which the writer never spends waiting: the
        // backlog's bound fails it first.
        let mut w = Timed::new(ours, Duration::from_secs(60), "the peer");
        let start = Instant::now();
        let chunk = vec![b'x'; 64 * 1024];
        let mut err = None;
        for _ in 0..(2 * BACKLOG / chunk.len()) {
            if let Err(e) = w.write_all(&chunk).and_then(|_| w.flush()) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("a peer that never reads must fail the writer");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("the peer has not read"), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        drop(theirs);
    }

    #[test]
    fn a_reader_that_takes_nothing_for_the_timeout_fails_the_writer() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut w = Timed::new(ours, Duration::from_millis(100), "the peer");
        let chunk = vec![b'x'; 64 * 1024];
        // Fill the socket's buffers, then wait past the timeout.
        for _ in 0..32 {
            w.write_all(&chunk).unwrap();
        }
        let _ = w.flush();
        std::thread::sleep(Duration::from_millis(150));
        let err = w.flush().unwrap_err();
        assert!(
            err.to_string().contains("has not read the stream for"),
            "{err}"
        );
        drop(theirs);
    }

    #[test]
    fn the_last_flush_waits_for_a_slow_reader() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut w = Timed::new(ours, Duration::from_secs(5), "the peer");
        let sent = vec![b'y'; 4 * 1024 * 1024];
        w.write_all(&sent).unwrap();
        w.flush().unwrap();
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                std::thread::sleep(Duration::from_micros(50));
                match theirs.read(&mut buf) {
                    Ok(0) => return v,
                    Ok(n) => v.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("{e}"),
                }
            }
        });
        finishing(|| w.flush()).unwrap();
        drop(w);
        assert_eq!(reader.join().unwrap().len(), sent.len());
    }

    #[test]
    fn a_closed_peer_is_a_broken_pipe_not_a_signal() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        drop(theirs);
        let mut w = Timed::new(ours, Duration::from_secs(1), "the peer");
        w.write_all(b"line\n").unwrap();
        let err = w.flush().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn everything_written_arrives() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            v
        });
        let s = connect_tcp(&addr, CONNECT_TIMEOUT).unwrap();
        let mut w = Timed::new(s, WRITE_TIMEOUT, "the peer");
        let mut sent = Vec::new();
        for i in 0..20_000 {
            let line = format!("{i} some text to fill the buffers\n");
            w.write_all(line.as_bytes()).unwrap();
            sent.extend_from_slice(line.as_bytes());
        }
        finishing(|| w.flush()).unwrap();
        drop(w);
        assert_eq!(reader.join().unwrap(), sent);
    }

    #[test]
    fn nobody_listening_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let err = connect_unix(&dir.path().join("none.sock"), CONNECT_TIMEOUT).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // Bind then close: the port is free and nobody listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = connect_tcp(&format!("127.0.0.1:{port}"), CONNECT_TIMEOUT).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }
}
