//! Making the sinks a configuration names, each on its opened output.

use super::*;
use crate::error::Error;
pub use config::Config;
use std::io::{self};

/// Whether colors are wanted on a stream: `--color` (or `CARGO_TERM_COLOR`)
/// `always`/`never`, else a terminal without `NO_COLOR`.
pub fn use_color(pref: Option<&str>, is_terminal: bool) -> bool {
    let env = std::env::var("CARGO_TERM_COLOR").ok();
    match pref.or(env.as_deref()) {
        Some("always") => true,
        Some("never") => false,
        _ => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The formats, as `--log-<name>` spells them.
pub const FORMATS: &[&str] = &[
    "raw",
    "mach",
    "tbpl",
    "errorsummary",
    "unittest",
    "grouped",
    "html",
    "xunit",
    "github",
];

/// Wraps a sink in a context buffer when one is asked for.
pub(crate) fn buffered<S: Sink + 'static>(sink: S, limit: Option<buffer::Limit>) -> Box<dyn Sink> {
    match limit {
        Some(l) => Box::new(buffer::Buffered::new(sink, l)),
        None => Box::new(sink),
    }
}

/// Builds a format's sink on an opened output. `summary` is the job summary
/// file (`$GITHUB_STEP_SUMMARY`), given to the first github sink only, so
/// that it gets one summary however many github outputs there are.
pub(crate) fn make(
    format: &str,
    out: Output,
    opts: &Config,
    color: bool,
    summary: &mut Option<Output>,
) -> Box<dyn Sink> {
    match format {
        "raw" => Box::new(LevelFilter::new(raw::Raw::new(out), opts.raw_level)),
        "mach" => buffered(
            LevelFilter::new(
                mach::Mach::new(
                    out,
                    mach::MachOptions {
                        verbose: opts.mach_verbose,
                        color,
                        slow_threshold_ms: opts.slow_threshold_ms,
                    },
                ),
                opts.mach_level,
            ),
            opts.mach_buffer,
        ),
        "tbpl" => buffered(
            LevelFilter::new(tbpl::Tbpl::new(out, opts.tbpl_compact), opts.tbpl_level),
            opts.tbpl_buffer,
        ),
        "errorsummary" => Box::new(errorsummary::ErrorSummary::new(out)),
        "unittest" => Box::new(unittest::Unittest::new(out)),
        "grouped" => Box::new(grouped::Grouped::new(out)),
        "html" => Box::new(html::Html::new(out).slow_threshold(opts.slow_threshold_ms)),
        "xunit" => Box::new(xunit::Xunit::new(out, opts.xunit.clone())),
        "github" => Box::new(github::Github::new(
            out,
            summary.take(),
            github::random_secret(),
        )),
        other => unreachable!("unknown format {other}"),
    }
}

/// Opens the job summary for the github sinks: `$GITHUB_STEP_SUMMARY`
/// (appended to, as GitHub expects) when it is set and a github output is
/// asked for. The variable is read here, not in the sink, so that the sink's
/// output depends on its entries alone.
pub(crate) fn step_summary(specs: &[(&'static str, String)]) -> Result<Option<Output>, Error> {
    if !specs.iter().any(|(f, _)| *f == "github") {
        return Ok(None);
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| {
            Error::caused(
                format!(
                    "GITHUB_STEP_SUMMARY={}: cannot open for appending",
                    std::path::Path::new(&path).display()
                ),
                e,
            )
        })?;
    Ok(Some(Box::new(io::BufWriter::new(f))))
}

/// Opens every sink the configuration names. Files are created now, so an
/// unwritable path stops the run before it starts; two sinks on stdout are
/// a usage error. Sockets are connected and `--log-exec` commands started
/// now, before the build; a socket that cannot be connected is reported and
/// counted as a failed sink, and the run goes on.
pub fn setup(opts: &Config) -> Result<FanOut, Error> {
    let specs = &opts.outputs;
    let color = opts.color.as_deref();
    let on_stdout: Vec<String> = specs
        .iter()
        .filter(|(_, d)| d == "-")
        .map(|(n, _)| format!("--log-{n}"))
        .collect();
    if on_stdout.len() > 1 {
        return Err(Error::Usage(format!(
            "{} all write to stdout (`-`); give all but one of them a file",
            on_stdout.join(" and ")
        )));
    }
    for (format, dest) in specs {
        Destination::parse(dest)
            .check()
            .map_err(|e| Error::Usage(format!("--log-{format} {dest}: {e}")))?;
    }
    // Everything that can fail is tried before any file's earlier content
    // is cut: each file can be written (opened without truncating it), and
    // each `--log-exec` command starts. A run that stops here leaves every
    // file as it was.
    for (format, dest) in specs {
        if let Destination::File(path) = Destination::parse(dest) {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| {
                    Error::caused(format!("--log-{format} {dest}: cannot open for writing"), e)
                })?;
        }
    }
    let mut commands = Vec::new();
    for cmd in &opts.exec {
        let sink = exec::Exec::start(cmd, opts.raw_level, socket::WRITE_TIMEOUT, exec::GRACE)
            .map_err(|e| Error::caused(format!("--log-exec {cmd}: cannot start"), e))?;
        commands.push((cmd, sink));
    }
    // All of them get the same short while to show they cannot run.
    let until = std::time::Instant::now() + exec::START_PROBE;
    for (cmd, sink) in &mut commands {
        sink.check_started(until)
            .map_err(|e| Error::caused(format!("--log-exec {cmd}: cannot start"), e))?;
    }
    let mut summary = step_summary(specs)?;
    let mut fan = FanOut::new();
    for (format, dest) in specs {
        let destination = Destination::parse(dest);
        let label = format!("--log-{format} {dest}");
        let is_tty =
            destination == Destination::Stdout && io::IsTerminal::is_terminal(&io::stdout());
        let opened = open(&destination, opts.connect_timeout, || {
            if is_tty {
                // Shares the terminal with the progress bar.
                Box::new(crate::sink::progress::TermStdout::new())
            } else {
                Box::new(io::BufWriter::new(io::stdout()))
            }
        });
        let out = match opened {
            Ok(out) => out,
            Err(e) if destination.is_socket() => {
                fan.add_failed(label, "connecting", e);
                continue;
            }
            Err(e) => {
                return Err(Error::caused(
                    format!("{label}: cannot open for writing"),
                    e,
                ))
            }
        };
        let sink = make(format, out, opts, use_color(color, is_tty), &mut summary);
        // A regular file or a socket is this sink's own; stdout, and a
        // device such as /dev/stdout or a terminal, may be another's too.
        let file = match &destination {
            Destination::File(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
            _ => false,
        };
        if file {
            fan.add_file(label, sink);
        } else if destination.is_socket() {
            fan.add_own(label, sink);
        } else {
            fan.add(label, sink);
        }
    }
    for (cmd, sink) in commands {
        fan.add_own(format!("--log-exec {cmd}"), Box::new(sink));
    }
    Ok(fan)
}
