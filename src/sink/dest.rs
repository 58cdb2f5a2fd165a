//! Where a sink writes: a file, stdout, or a socket, opened before anything
//! runs, a file's earlier content cut on a thread of its own.

use super::*;
use std::io::{self, Write};
use std::time::Duration;

/// Where a sink writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(std::path::PathBuf),
    /// `tcp://HOST:PORT`: connected to, never listened on.
    Tcp(String),
    /// `unix:PATH`: a Unix stream socket, connected to.
    Unix(std::path::PathBuf),
}

impl Destination {
    /// Reads a `--log-<format>` value: `-`, `tcp://HOST:PORT`, `unix:PATH`,
    /// or a file.
    pub fn parse(s: &str) -> Destination {
        if s == "-" {
            Destination::Stdout
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            Destination::Tcp(addr.to_string())
        } else if let Some(path) = s.strip_prefix("unix:") {
            Destination::Unix(path.into())
        } else {
            Destination::File(s.into())
        }
    }

    /// Whether the destination is a connection, whose failure to connect
    /// fails the sink but not the run.
    pub fn is_socket(&self) -> bool {
        matches!(self, Destination::Tcp(_) | Destination::Unix(_))
    }

    /// Checks what can be checked before connecting: the address's syntax.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Destination::Tcp(addr) => socket::check_tcp(addr),
            Destination::Unix(path) if path.as_os_str().is_empty() => {
                Err("`unix:` names no socket path".to_string())
            }
            Destination::Stdout | Destination::File(_) | Destination::Unix(_) => Ok(()),
        }
    }
}

/// Opens a destination for writing. Files are created (truncated) now, so an
/// unwritable path is found before anything runs; sockets are connected now,
/// waiting at most `connect_timeout`, and written with a time limit
/// (`socket::WRITE_TIMEOUT`) so that a peer that stops reading cannot
/// hold the run.
pub fn open(
    dest: &Destination,
    connect_timeout: Duration,
    stdout: impl FnOnce() -> Output,
) -> io::Result<Output> {
    match dest {
        Destination::Stdout => Ok(stdout()),
        Destination::Tcp(addr) => {
            let s = socket::connect_tcp(addr, connect_timeout)?;
            Ok(Box::new(socket::Timed::new(
                s,
                socket::WRITE_TIMEOUT,
                "the peer",
            )))
        }
        Destination::Unix(path) => {
            let s = socket::connect_unix(path, connect_timeout)?;
            Ok(Box::new(socket::Timed::new(
                s,
                socket::WRITE_TIMEOUT,
                "the peer",
            )))
        }
        Destination::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("directory {} does not exist", parent.display()),
                    ));
                }
            }
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                // Emptied below, off the run's way.
                .truncate(false)
                .open(path)?;
            Ok(Box::new(io::BufWriter::with_capacity(
                64 * 1024,
                Emptied::new(f)?,
            )))
        }
    }
}

/// A file opened for writing from its start, whose earlier content (an
/// earlier run's output) is dropped on another thread, before anything is
/// written to it: truncating a file of a few megabytes costs the kernel a
/// millisecond or more of freeing its pages, which need not hold up the
/// start of a run. Opening without truncating still finds an unwritable
/// path at once.
pub(crate) struct Emptied {
    file: std::fs::File,
    emptying: Option<std::sync::mpsc::Receiver<io::Result<()>>>,
}

/// A file to cut to nothing, and where to say it is done.
pub(crate) type Emptying = (std::fs::File, std::sync::mpsc::Sender<io::Result<()>>);

/// The thread that empties files for [`Emptied`], one file after another:
/// started with the first file to empty and kept for the process, so that
/// opening a run's outputs starts one thread rather than one per file.
pub(crate) fn emptier() -> io::Result<&'static std::sync::mpsc::Sender<Emptying>> {
    static EMPTIER: std::sync::OnceLock<std::sync::mpsc::Sender<Emptying>> =
        std::sync::OnceLock::new();
    if let Some(tx) = EMPTIER.get() {
        return Ok(tx);
    }
    let (tx, rx) = std::sync::mpsc::channel::<Emptying>();
    std::thread::Builder::new()
        .name("emptier".into())
        .spawn(move || {
            for (file, done) in rx {
                let _ = done.send(file.set_len(0));
            }
        })?;
    // Two threads may race here: the loser's emptier ends at once.
    Ok(EMPTIER.get_or_init(|| tx))
}

impl Emptied {
    fn new(file: std::fs::File) -> io::Result<Emptied> {
        let meta = file.metadata()?;
        // Only a regular file holds anything to drop (a device, a pipe or a
        // fifo would refuse to be cut).
        let emptying = if meta.is_file() && meta.len() > 0 {
            let (done, emptied) = std::sync::mpsc::channel();
            emptier()?
                .send((file.try_clone()?, done))
                .map_err(|_| io::Error::other("the emptying thread is gone"))?;
            Some(emptied)
        } else {
            None
        };
        Ok(Emptied { file, emptying })
    }

    /// Waits until the earlier content is gone.
    fn emptied(&mut self) -> io::Result<()> {
        match self.emptying.take() {
            None => Ok(()),
            Some(emptied) => emptied
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("emptying the file failed"))),
        }
    }
}

impl Write for Emptied {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.emptied()?;
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emptied()?;
        self.file.flush()
    }
}

impl Drop for Emptied {
    fn drop(&mut self) {
        // A file nothing was written to is left empty all the same.
        let _ = self.emptied();
    }
}
