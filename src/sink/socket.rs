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
//! batch of entries). The reader is not trusted to keep up: writes go
//! through [`Timed`], which gives up when a flush has not gone through
//! within [`WRITE_TIMEOUT`], so a collector that stops reading fails its sink
//! instead of holding the run. A connection the peer drops (EPIPE,
//! ECONNRESET) fails the sink likewise; SIGPIPE is ignored by Rust programs,
//! so it surfaces as that error and never kills the tool.

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
/// gives up on a flush the reader does not take within a time limit.
///
/// The stream must be in non-blocking mode: a full buffer on the reader's
/// side then shows as `WouldBlock`, and the writer naps and retries until
/// the deadline, which bounds how long one flush can hold the run. A timed
/// out flush is a `TimedOut` error; the sink that owns the writer is then
/// dropped by the fan-out, so nothing is written to it again.
pub struct Timed<W: Write> {
    inner: W,
    buf: Vec<u8>,
    timeout: Duration,
    /// Who reads, for messages ("the peer", "the command").
    reader: &'static str,
}

impl<W: Write> Timed<W> {
    /// A writer over `inner` (non-blocking) whose flushes give up after
    /// `timeout`; `reader` names who reads, for messages.
    pub fn new(inner: W, timeout: Duration, reader: &'static str) -> Timed<W> {
        Timed {
            inner,
            buf: Vec::with_capacity(CAPACITY),
            timeout,
            reader,
        }
    }

    /// Writes out the buffer, within the time limit.
    fn push(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + self.timeout;
        let mut done = 0;
        let mut nap = Duration::from_millis(1);
        let result = loop {
            if done == self.buf.len() {
                break Ok(());
            }
            match self.inner.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    nap = Duration::from_millis(1);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "write timed out: {} has not read the stream for {}",
                                self.reader,
                                secs(self.timeout)
                            ),
                        ));
                    }
                    std::thread::sleep(nap.min(deadline - now));
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
                Err(e) => break Err(e),
            }
        };
        self.buf.drain(..done);
        result
    }
}

impl<W: Write> Write for Timed<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CAPACITY {
            self.push()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push()?;
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
    fn a_reader_that_stops_reading_times_the_writer_out() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut w = Timed::new(ours, Duration::from_millis(200), "the peer");
        let start = Instant::now();
        let chunk = vec![b'x'; 64 * 1024];
        let mut err = None;
        // The socket's buffers take a few hundred KiB at most.
        for _ in 0..1024 {
            if let Err(e) = w.write_all(&chunk).and_then(|_| w.flush()) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("a peer that never reads must fail the writer");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("the peer has not read"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
        drop(theirs);
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
        w.flush().unwrap();
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
