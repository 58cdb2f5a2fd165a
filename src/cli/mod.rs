//! The command line: `cargo structlog [run] [OPTIONS] [TESTNAME] [-- <test args>...]`
//! and the subcommands that work on logs.
//!
//! Parsed with clap's derive API the way cargo subcommands are: the binary is
//! `cargo-structlog`, cargo calls it as `cargo-structlog structlog ...`, and
//! the same line works when typed directly.

mod config;
pub mod profile;

use crate::error::Error;
use crate::model::Level;
use crate::sink::{buffer, xunit};
use clap::builder::TypedValueParser;
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// Reads the command line (`argv`, the program's name first), adds the
/// options of the profiles in `structlog.toml` that it does not give, and
/// runs the command; its exit status.
pub fn main(argv: Vec<OsString>) -> Result<i32, Error> {
    let command = Cargo::command();
    let user = command
        .clone()
        .try_get_matches_from(&argv)
        .unwrap_or_else(|e| e.exit());
    let top = user
        .subcommand_matches("structlog")
        .expect("the only command");
    let structlog = command.find_subcommand("structlog").expect("defined");
    // Where the command's own options start, and what they are.
    let (sub, m, at) = match top.subcommand() {
        None => (structlog.clone(), top, 2),
        Some((name @ ("run" | "list" | "show-config"), m)) => (
            structlog.find_subcommand(name).expect("defined").clone(),
            m,
            3,
        ),
        Some(_) => return dispatch(parsed(&user)?),
    };
    let chosen = m.get_one::<String>("structlog_profile").cloned();
    let manifest_dir = m
        .get_one::<PathBuf>("manifest_path")
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(std::env::current_dir, Ok)
        .map_err(|e| Error::caused("no current directory", e))?;
    let file = profile::workspace_root(&manifest_dir).join("structlog.toml");
    let profiles = if file.is_file() {
        let run = structlog.find_subcommand("run").expect("defined");
        profile::read(&file, chosen.as_deref(), run, &sub)?
    } else if let Some(name) = chosen.as_deref().filter(|n| *n != profile::DEFAULT) {
        return Err(Error::Usage(format!(
            "profile `{name}`: there is no {} to read it from",
            file.display()
        )));
    } else {
        profile::Profiles::default()
    };
    let mut profiles = profiles;
    if m.try_get_one::<PathBuf>("archive_file")
        .ok()
        .flatten()
        .is_some()
    {
        // An archive's build was decided when it was made: a profile's
        // build options are not for a run from it.
        profiles
            .settings
            .retain(|id, _| !BUILD_OPTIONS.contains(&id.as_str()));
    }
    let extra = profiles.arguments_for(m);
    let merged = if extra.is_empty() {
        user.clone()
    } else {
        let mut all = argv[..at.min(argv.len())].to_vec();
        all.extend(extra);
        all.extend(argv[at.min(argv.len())..].iter().cloned());
        command.try_get_matches_from(all).map_err(|e| {
            Error::Usage(format!(
                "{} (with the options of {}{})",
                profile::clap_message(&e),
                file.display(),
                chosen
                    .as_deref()
                    .map_or(String::new(), |c| format!(", profile `{c}`"))
            ))
        })?
    };
    let args = parsed(&merged)?;
    if top.subcommand_name() == Some("show-config") {
        let merged_m = merged
            .subcommand_matches("structlog")
            .and_then(|t| t.subcommand_matches("show-config"))
            .expect("show-config");
        print!(
            "{}",
            show_config(&sub, &profiles, m, merged_m, chosen.as_deref())
        );
        return Ok(crate::error::exit::OK);
    }
    dispatch(args)
}

/// The options (clap ids) that decide what is built.
const BUILD_OPTIONS: &[&str] = &[
    "package",
    "workspace",
    "exclude",
    "features",
    "all_features",
    "no_default_features",
    "release",
    "profile",
    "target_dir",
    "jobs",
    "lib",
    "bins",
    "bin",
    "examples",
    "example",
    "tests",
    "test",
    "benches",
    "bench",
    "all_targets",
    "doc",
];

fn parsed(m: &clap::ArgMatches) -> Result<Structlog, Error> {
    use clap::FromArgMatches;
    let Cargo::Structlog(args) =
        Cargo::from_arg_matches(m).map_err(|e| Error::Usage(profile::clap_message(&e)))?;
    Ok(args)
}

/// `cargo structlog show-config`: every option of a run, its value, and
/// where the value came from, as TOML a profile could hold.
fn show_config(
    command: &clap::Command,
    profiles: &profile::Profiles,
    user: &clap::ArgMatches,
    merged: &clap::ArgMatches,
    chosen: Option<&str>,
) -> String {
    let mut out = format!(
        "# The options of a run: {}, profile `{}`\n",
        profiles
            .file
            .as_ref()
            .map_or("no structlog.toml".to_string(), |f| f.display().to_string()),
        chosen.unwrap_or(profile::DEFAULT)
    );
    let mut rows = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let id = arg.get_id().as_str();
        let values: Vec<String> = merged
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let is_flag = matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
        );
        let source = profiles.source(id, user, merged);
        let text = if is_flag {
            format!("{long} = {}", merged.get_flag(id))
        } else if values.is_empty() {
            format!("# {long}")
        } else {
            let quoted: Vec<String> = values
                .iter()
                .map(|v| match v.parse::<f64>() {
                    Ok(n) if n.is_finite() && !v.starts_with(['+', '.']) => v.clone(),
                    _ => toml::Value::String(v.clone()).to_string(),
                })
                .collect();
            if matches!(arg.get_action(), clap::ArgAction::Append) {
                format!("{long} = [{}]", quoted.join(", "))
            } else {
                format!("{long} = {}", quoted[0])
            }
        };
        rows.push((text, source));
    }
    let width = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0).min(48);
    for (text, source) in rows {
        out.push_str(&format!("{text:<width$}  # {source}\n"));
    }
    out
}

/// Runs the command the command line names; its exit status.
pub fn dispatch(args: Structlog) -> Result<i32, Error> {
    match args.command {
        None => crate::run::run(config::run_settings(args.run)?),
        Some(Command::Run(run)) => crate::run::run(config::run_settings(*run)?),
        Some(Command::List(a)) => {
            let json = a.json;
            crate::run::list(config::run_settings(a.into_run())?, json)
        }
        Some(Command::ShowConfig(_)) => unreachable!("printed by main"),
        Some(Command::Archive(a)) => {
            let settings = crate::run::Settings {
                cargo: config::cargo(&a.cargo),
                targets: config::targets(&a.targets),
                ..Default::default()
            };
            crate::run::archive::create(settings, &a.archive_file)
        }
        Some(Command::Runs(a)) => {
            let dir = match a.session_dir {
                Some(d) => crate::logs::records::dir(Some(&d), &d),
                None => {
                    let options = crate::cargo::Options {
                        manifest_path: a.manifest_path,
                        target_dir: a.target_dir,
                        ..Default::default()
                    };
                    let w = crate::cargo::metadata(&options)?;
                    crate::logs::records::dir(None, w.metadata.target_directory.as_std_path())
                }
            };
            crate::logs::records::runs(&dir)
        }
        Some(Command::Format(a)) => {
            let sinks = config::sinks(&a.log, a.color)?;
            crate::logs::replay::format(&a.input, a.strict, &sinks)
        }
        Some(Command::Merge(a)) => {
            let sinks = config::sinks(&a.log, a.color)?;
            crate::logs::replay::merge(&a.logs, a.allow_duplicates, a.strict, &sinks)
        }
        Some(Command::Unstable(a)) => crate::logs::unstable::unstable(&a.logs, a.json),
        Some(Command::Expectations(a)) => {
            if let Some(out) = &a.output {
                use crate::logs::replay::FileId;
                let written = FileId::of(out);
                if written.is_some() && a.from.iter().any(|f| FileId::of(f) == written) {
                    return Err(Error::Usage(format!(
                        "-o {}: this file is also an input; write the expectations to another file",
                        out.display()
                    )));
                }
            }
            let text = crate::logs::expectations::generate(&a.from)?;
            match &a.output {
                Some(path) => std::fs::write(path, text)
                    .map_err(|e| Error::caused(format!("{}: cannot write", path.display()), e))?,
                None => print!("{text}"),
            }
            Ok(crate::error::exit::OK)
        }
    }
}

/// `cargo structlog ...`: cargo passes the subcommand's name as the first argument.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap_cargo_styles())]
pub enum Cargo {
    /// Run a workspace's tests and write mozlog structured logs
    #[command(
        name = "structlog",
        version,
        args_conflicts_with_subcommands = true,
        after_help = AFTER_HELP
    )]
    Structlog(Structlog),
}

const AFTER_HELP: &str = "\
Without a subcommand, `cargo structlog [OPTIONS]` is `cargo structlog run [OPTIONS]`.
Exit status: 0 all results expected, 101 unexpected results, 102 build failed,
103 a log sink failed, 104 malformed input lines skipped (format, merge),
2 usage or setup error, 130 interrupted.";

fn clap_cargo_styles() -> clap::builder::Styles {
    use clap::builder::styling::{AnsiColor, Effects};
    clap::builder::Styles::styled()
        .header(AnsiColor::Green.on_default().effects(Effects::BOLD))
        .usage(AnsiColor::Green.on_default().effects(Effects::BOLD))
        .literal(AnsiColor::Cyan.on_default().effects(Effects::BOLD))
        .placeholder(AnsiColor::Cyan.on_default())
}

#[derive(Debug, Args)]
pub struct Structlog {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and run the tests, writing the log to every sink (the default)
    Run(Box<RunArgs>),
    /// Read raw logs (ours or any mozlog producer's) and write them to sinks
    Format(FormatArgs),
    /// Merge the raw logs of shards into one run, written to sinks
    Merge(MergeArgs),
    /// List the tests whose status differs between runs
    Unstable(UnstableArgs),
    /// Write an expectations file from runs' raw logs
    Expectations(ExpectationsArgs),
    /// List the tests a run with the same flags would run (nothing is run)
    List(Box<ListArgs>),
    /// List the recorded runs (the last 10, kept under TARGET-DIR/structlog/runs)
    Runs(RunsArgs),
    /// Build the tests and write an archive that `run --archive-file` runs
    /// them from, elsewhere, without cargo or rustc
    Archive(Box<ArchiveArgs>),
    /// Print the options a run would have (command line, profiles in
    /// structlog.toml, defaults) and where each value came from
    ShowConfig(Box<RunArgs>),
}

/// `cargo structlog list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub tests: TestArgs,
    #[command(flatten)]
    pub rerun: RerunArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub reuse: ReuseArgs,
    /// List one shard of the tests (as `run --partition`)
    #[arg(long, value_name = "count:K/N|hash:K/N", value_parser = crate::plan::partition::Partition::parse, help_heading = "Test Selection")]
    pub partition: Option<crate::plan::partition::Partition>,
    /// The session directory whose recorded runs --last-failed reads (as
    /// `run --session-dir`) [default: TARGET-DIR/structlog]
    #[arg(long, value_name = "DIR", help_heading = "Test Selection")]
    pub session_dir: Option<PathBuf>,
    /// Write JSON: `{"count": N, "tests": [{"id", "binary", "name", "kind",
    /// "ignored", "ignore_reason", "should_panic", "path", "line"}]}`
    #[arg(long)]
    pub json: bool,
    /// Only list tests whose name contains this string (as `cargo test TESTNAME`)
    #[arg(value_name = "TESTNAME")]
    pub filter: Option<String>,
    /// With a TESTNAME, list the doctests whose names contain it too
    #[arg(long, requires = "filter", help_heading = "Test Selection")]
    pub filter_doctests: bool,
    /// Arguments for the test binaries (as after `cargo test --`)
    #[arg(last = true, value_name = "ARGS")]
    pub test_args: Vec<String>,
}

impl ListArgs {
    /// The run this listing stands for.
    fn into_run(self) -> RunArgs {
        RunArgs {
            cargo: self.cargo,
            targets: self.targets,
            tests: self.tests,
            rerun: self.rerun,
            control: ControlArgs {
                partition: self.partition,
                session_dir: self.session_dir,
                ..Default::default()
            },
            filter: self.filter,
            filter_doctests: self.filter_doctests,
            test_args: self.test_args,
            reuse: self.reuse,
            ..Default::default()
        }
    }
}

/// `cargo structlog archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The archive to write (zstd-compressed tar)
    #[arg(long, value_name = "FILE")]
    pub archive_file: PathBuf,
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
}

/// Running tests from an archive (`cargo structlog archive`).
#[derive(Debug, Args, Default, Clone)]
pub struct ReuseArgs {
    /// Run the tests of this archive (made by `cargo structlog archive`)
    /// rather than building them: no cargo or rustc is needed
    #[arg(long, value_name = "FILE", help_heading = "Reusing Builds")]
    pub archive_file: Option<PathBuf>,
    /// The checkout of the archived workspace's sources [default: where it
    /// was when the archive was made]
    #[arg(
        long,
        value_name = "DIR",
        requires = "archive_file",
        help_heading = "Reusing Builds"
    )]
    pub workspace_remap: Option<PathBuf>,
    /// Extract the archive into DIR and keep it there; a run of the same
    /// archive with the same DIR uses it again [default: a temporary
    /// directory, removed after the run]
    #[arg(
        long,
        value_name = "DIR",
        requires = "archive_file",
        help_heading = "Reusing Builds"
    )]
    pub extract_to: Option<PathBuf>,
}

/// Which profile of `structlog.toml` applies.
#[derive(Debug, Args, Default, Clone)]
pub struct ProfileArgs {
    /// The profile of structlog.toml whose options apply, over
    /// `[profile.default]`; the command line wins over both
    #[arg(short = 'P', long, value_name = "NAME", env = "STRUCTLOG_PROFILE")]
    pub structlog_profile: Option<String>,
}

/// `cargo structlog runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The target directory whose records to list
    #[arg(long, value_name = "DIRECTORY")]
    pub target_dir: Option<PathBuf>,
    /// The session directory the runs were given (`--session-dir`): their
    /// records are in its `runs`
    #[arg(long, value_name = "DIR", conflicts_with_all = ["manifest_path", "target_dir"])]
    pub session_dir: Option<PathBuf>,
}

/// Running again what failed.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Test Selection")]
pub struct RerunArgs {
    /// Run only the tests whose last result was unexpected or never came
    /// (crashed, timed out, interrupted), as recorded; a doctest's whole file
    #[arg(long, conflicts_with = "failed_first")]
    pub last_failed: bool,
    /// Run every test, those that failed last time first
    #[arg(long)]
    pub failed_first: bool,
    /// With --last-failed or --failed-first: what failed is read from these
    /// raw logs (a CI run's, shards' ...) rather than the recorded runs
    #[arg(long, value_name = "LOG")]
    pub from_log: Vec<PathBuf>,
}

/// `cargo structlog expectations`.
#[derive(Debug, Args)]
pub struct ExpectationsArgs {
    /// The raw logs of the runs
    #[arg(long, value_name = "LOG", required = true, num_args = 1..)]
    pub from: Vec<PathBuf>,
    /// Where to write the file [default: stdout]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `cargo structlog format`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// A raw log to read (`-` for stdin; repeatable: read in order) [default: -]
    #[arg(long, value_name = "FILE")]
    pub input: Vec<String>,
    /// Stop at the first malformed line instead of skipping it
    #[arg(long)]
    pub strict: bool,
    /// Coloring of the mach sink on a terminal: auto, always, never
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"])]
    pub color: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `cargo structlog merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The raw logs of the shards
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Accept a test that appears in more than one log (its results are all kept)
    #[arg(long)]
    pub allow_duplicates: bool,
    /// Stop at the first malformed line instead of skipping it
    #[arg(long)]
    pub strict: bool,
    /// Coloring of the mach sink on a terminal: auto, always, never
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"])]
    pub color: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `cargo structlog unstable`.
#[derive(Debug, Args)]
pub struct UnstableArgs {
    /// The raw logs of the runs to compare
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,
    /// Write JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Build and run tests: `cargo test`'s flags, the sinks, and run control.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub tests: TestArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub control: ControlArgs,
    #[command(flatten)]
    pub expect: ExpectArgs,
    #[command(flatten)]
    pub rerun: RerunArgs,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub reuse: ReuseArgs,
    /// Only run tests whose name contains this string (as `cargo test
    /// TESTNAME`, which then runs no doctests)
    #[arg(value_name = "TESTNAME")]
    pub filter: Option<String>,
    /// With a TESTNAME, run the doctests whose names contain it too (`cargo
    /// test TESTNAME` runs no doctests; a filter after `--` reaches them)
    #[arg(long, requires = "filter", help_heading = "Test Selection")]
    pub filter_doctests: bool,
    /// Arguments for the test binaries (as after `cargo test --`)
    #[arg(last = true, value_name = "ARGS")]
    pub test_args: Vec<String>,
}

/// What cargo needs to build: manifest, packages, features, profile.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Package Selection")]
pub struct CargoArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH", help_heading = "Manifest Options")]
    pub manifest_path: Option<PathBuf>,
    /// Package to run tests for
    #[arg(short = 'p', long, value_name = "SPEC")]
    pub package: Vec<String>,
    /// Test all packages in the workspace
    #[arg(long, alias = "all")]
    pub workspace: bool,
    /// Exclude packages from the test
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Space or comma separated list of features to activate
    #[arg(
        short = 'F',
        long,
        value_name = "FEATURES",
        help_heading = "Feature Selection"
    )]
    pub features: Vec<String>,
    /// Activate all available features
    #[arg(long, help_heading = "Feature Selection")]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long, help_heading = "Feature Selection")]
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations
    #[arg(short = 'r', long, help_heading = "Compilation Options")]
    pub release: bool,
    /// Build artifacts with the specified profile
    #[arg(
        long,
        value_name = "PROFILE-NAME",
        help_heading = "Compilation Options"
    )]
    pub profile: Option<String>,
    /// Directory for all generated artifacts
    #[arg(long, value_name = "DIRECTORY", help_heading = "Compilation Options")]
    pub target_dir: Option<PathBuf>,
    /// Build and run the tests for the target triple (through its runner)
    #[arg(long, value_name = "TRIPLE", help_heading = "Compilation Options")]
    pub target: Option<String>,
    /// Number of parallel build jobs
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        help_heading = "Compilation Options"
    )]
    pub jobs: Option<String>,
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long, help_heading = "Manifest Options")]
    pub locked: bool,
    /// Run without accessing the network
    #[arg(long, help_heading = "Manifest Options")]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long, help_heading = "Manifest Options")]
    pub frozen: bool,
    /// Coloring: auto, always, never (cargo's output, and the mach sink's)
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"])]
    pub color: Option<String>,
}

/// Which targets to test (`cargo test`'s target selection).
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Target Selection")]
pub struct TargetArgs {
    /// Test only this package's library
    #[arg(long)]
    pub lib: bool,
    /// Test all binaries
    #[arg(long)]
    pub bins: bool,
    /// Test only the specified binary
    #[arg(long, value_name = "NAME")]
    pub bin: Vec<String>,
    /// Test all examples
    #[arg(long)]
    pub examples: bool,
    /// Test only the specified example
    #[arg(long, value_name = "NAME")]
    pub example: Vec<String>,
    /// Test all targets that have `test = true` set
    #[arg(long)]
    pub tests: bool,
    /// Test only the specified test target
    #[arg(long, value_name = "NAME")]
    pub test: Vec<String>,
    /// Test all targets that have `bench = true` set
    #[arg(long)]
    pub benches: bool,
    /// Test only the specified bench target
    #[arg(long, value_name = "NAME")]
    pub bench: Vec<String>,
    /// Test all targets (does not include doctests)
    #[arg(long)]
    pub all_targets: bool,
    /// Test only this library's documentation
    #[arg(long)]
    pub doc: bool,
}

/// libtest's test selection and threading, given to every binary that speaks
/// libtest's flags.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Test Selection")]
pub struct TestArgs {
    /// Run ignored and not ignored tests
    #[arg(long, conflicts_with = "ignored")]
    pub include_ignored: bool,
    /// Run only ignored tests
    #[arg(long)]
    pub ignored: bool,
    /// Match TESTNAME exactly
    #[arg(long)]
    pub exact: bool,
    /// Skip tests whose names contain FILTER (repeatable)
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,
    /// Number of threads each test binary runs tests on
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub test_threads: Option<u32>,
}

/// Timeouts, the pre-kill hook, parallelism.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Run Control")]
pub struct ControlArgs {
    /// A test running longer than SECS gets status TIMEOUT: its stacks are
    /// sampled by the pre-kill hook, then its process is killed and the
    /// binary's other tests resume
    #[arg(long, value_name = "SECS", value_parser = duration_secs)]
    pub timeout: Option<std::time::Duration>,
    /// Command run (by sh) on a hung test before it is killed; {pid}, {test}
    /// and {binary} are replaced, and STRUCTLOG_PID / STRUCTLOG_TEST are set.
    /// Its output is the sample. Default: gdb or eu-stack (Linux), sample
    /// (macOS), where installed; `none` for no hook
    #[arg(long, value_name = "CMD")]
    pub pre_kill_hook: Option<String>,
    /// Time the pre-kill hook may take before it is killed itself
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = duration_secs)]
    pub pre_kill_hook_timeout: std::time::Duration,
    /// Where pre-kill samples and the run's record (in `runs/`) are written
    /// [default: TARGET-DIR/structlog]
    #[arg(long, value_name = "DIR")]
    pub session_dir: Option<PathBuf>,
    /// Run one shard of the tests: count:K/N deals them out in turn,
    /// hash:K/N by a hash of their ids (stable as tests come and go)
    #[arg(long, value_name = "count:K/N|hash:K/N", value_parser = crate::plan::partition::Partition::parse)]
    pub partition: Option<crate::plan::partition::Partition>,
    /// Test binaries run at once [default: CPUs / test threads, at least 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub test_binaries: Option<u32>,
    /// How rustdoc compiles doctests: merged into one crate where it can, on
    /// every edition (a doctest that fails merged runs again on its own, and
    /// that result counts, where cargo test would compile it alone), or each
    /// standalone [default: structlog.toml's `doctests`, else merged]
    #[arg(
        long,
        value_name = "merged|standalone",
        value_parser = clap::builder::PossibleValuesParser::new(["merged", "standalone"])
            .map(|s| crate::plan::DoctestMode::parse(&s).expect("a possible value"))
    )]
    pub doctests: Option<crate::plan::DoctestMode>,
}

/// Expected statuses, known intermittents, retries.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Expectations and Retries")]
pub struct ExpectArgs {
    /// Expected statuses and known intermittents of tests (TOML)
    /// [default: structlog.toml at the workspace root, when present]
    #[arg(long, value_name = "FILE", conflicts_with = "no_expectations")]
    pub expectations: Option<PathBuf>,
    /// Ignore the expectations of structlog.toml (its profiles still apply)
    #[arg(long)]
    pub no_expectations: bool,
    /// An expectation that matches no test is an error (else a warning)
    #[arg(long)]
    pub strict_expectations: bool,
    /// Run a test with an unexpected result again, alone, up to N times; a
    /// status that changes is reported as flaky
    #[arg(long, value_name = "N", default_value = "0")]
    pub retries: u32,
    /// Flaky tests fail the run
    #[arg(long)]
    pub fail_on_flaky: bool,
}

/// A positive number of seconds that a duration can hold (a year at most:
/// a longer wait is no limit at all, and `1e20` would not fit).
fn duration_secs(s: &str) -> Result<std::time::Duration, String> {
    const MAX_SECS: f64 = 366.0 * 24.0 * 3600.0;
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= MAX_SECS => {
            Ok(std::time::Duration::from_secs_f64(v))
        }
        Ok(v) if v > MAX_SECS => Err(format!(
            "`{s}` seconds is more than a year; give at most {MAX_SECS}"
        )),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

/// The sinks (`--log-<format> FILE|-|tcp://HOST:PORT|unix:PATH`, repeatable)
/// and their options, in mozlog's spelling.
#[derive(Debug, Args, Default, Clone)]
#[command(
    next_help_heading = "Logging (each --log-<format> takes FILE, - for stdout, tcp://HOST:PORT or unix:PATH, and repeats)"
)]
#[command(group = clap::ArgGroup::new("raw_sinks").args(["log_raw", "log_exec"]).multiple(true))]
pub struct LogArgs {
    /// Raw mozlog: one JSON entry per line
    #[arg(long, value_name = "FILE")]
    pub log_raw: Vec<String>,
    /// mozlog's human-readable mach format (the default: mach on stdout)
    #[arg(long, value_name = "FILE")]
    pub log_mach: Vec<String>,
    /// TBPL lines (TEST-START, TEST-PASS, TEST-UNEXPECTED-FAIL, ...) for log parsers
    #[arg(long, value_name = "FILE")]
    pub log_tbpl: Vec<String>,
    /// JSON lines of the unexpected results, per group
    #[arg(long, value_name = "FILE")]
    pub log_errorsummary: Vec<String>,
    /// unittest-style dots and letters, then a summary
    #[arg(long, value_name = "FILE")]
    pub log_unittest: Vec<String>,
    /// Results grouped by status, unexpected ones in detail
    #[arg(long, value_name = "FILE")]
    pub log_grouped: Vec<String>,
    /// A self-contained HTML report
    #[arg(long, value_name = "FILE")]
    pub log_html: Vec<String>,
    /// JUnit XML for Jenkins, GitLab and GitHub
    #[arg(long, value_name = "FILE")]
    pub log_xunit: Vec<String>,
    /// GitHub Actions workflow commands (annotations, groups); with
    /// GITHUB_STEP_SUMMARY set, a Markdown job summary is appended to it
    #[arg(long, value_name = "FILE")]
    pub log_github: Vec<String>,
    /// Start CMD (by sh) and write the raw stream to its stdin; repeatable
    #[arg(long, value_name = "CMD")]
    pub log_exec: Vec<String>,
    /// Seconds to wait for a tcp:// or unix: destination to accept [default: 5]
    #[arg(long, value_name = "SECS", value_parser = duration_secs)]
    pub log_connect_timeout: Option<std::time::Duration>,

    /// Minimum level of `log` entries in the raw sinks [default: INFO]
    #[arg(long, value_name = "LEVEL", value_parser = level, requires = "raw_sinks")]
    pub log_raw_level: Option<Level>,
    /// Minimum level of `log` entries in the mach sinks [default: INFO]
    #[arg(long, value_name = "LEVEL", value_parser = level, requires = "log_mach")]
    pub log_mach_level: Option<Level>,
    /// Minimum level of `log` entries in the tbpl sinks [default: INFO]
    #[arg(long, value_name = "LEVEL", value_parser = level, requires = "log_tbpl")]
    pub log_tbpl_level: Option<Level>,
    /// mach: print every test's output as it comes, and subtest results
    #[arg(long, requires = "log_mach")]
    pub log_mach_verbose: bool,
    /// tbpl: fold passing subtests into dots, with context around failures
    #[arg(long, requires = "log_tbpl")]
    pub log_tbpl_compact: bool,
    /// mach: hold the last N lines of context (output, logs) and print them only around a failure
    #[arg(long, value_name = "N|UNLIMITED", value_parser = limit, requires = "log_mach")]
    pub log_mach_buffer: Option<buffer::Limit>,
    /// tbpl: hold the last N lines of context and print them only around a failure
    #[arg(long, value_name = "N|UNLIMITED", value_parser = limit, requires = "log_tbpl")]
    pub log_tbpl_buffer: Option<buffer::Limit>,
    /// xunit: the schema to follow: jenkins (junit-10.xsd), ant (strict), or extended (adds file and line)
    #[arg(long, value_name = "FLAVOR", requires = "log_xunit",
          value_parser = clap::builder::PossibleValuesParser::new(["jenkins", "ant", "extended"])
              .map(|s| xunit::Flavor::parse(&s).expect("a possible value")))]
    pub log_xunit_flavor: Option<xunit::Flavor>,
    /// xunit: how expected failures are written: success, failure, ignore, passthru [default: success]
    #[arg(long, value_name = "MAPMODE", requires = "log_xunit", value_parser = map_mode())]
    pub log_xunit_xfail: Option<xunit::MapMode>,
    /// xunit: how unexpected passes are written: success, failure, ignore, passthru [default: failure]
    #[arg(long, value_name = "MAPMODE", requires = "log_xunit", value_parser = map_mode())]
    pub log_xunit_xpass: Option<xunit::MapMode>,
    /// mach and html: the summary names the 10 slowest tests, and every
    /// other test slower than SECS [default: 60]
    #[arg(long, value_name = "SECS", value_parser = duration_secs)]
    pub slow_threshold: Option<std::time::Duration>,
    /// xunit: most bytes of captured output kept per test [default: 65536]
    #[arg(long, value_name = "BYTES", requires = "log_xunit")]
    pub log_xunit_max_output: Option<u64>,
}

/// A `log` entry level, in mozlog's spelling (any case).
fn level(s: &str) -> Result<Level, String> {
    Level::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
        format!("unknown level `{s}` (one of CRITICAL, ERROR, WARNING, INFO, DEBUG)")
    })
}

/// A context buffer's size: a number of lines, or UNLIMITED.
fn limit(s: &str) -> Result<buffer::Limit, String> {
    buffer::Limit::parse(s).ok_or_else(|| format!("`{s}` is neither a number nor UNLIMITED"))
}

fn map_mode() -> impl clap::builder::TypedValueParser<Value = xunit::MapMode> {
    clap::builder::PossibleValuesParser::new(["success", "failure", "ignore", "passthru"])
        .map(|s| xunit::MapMode::parse(&s).expect("a possible value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cargo::command().debug_assert();
    }

    #[test]
    fn run_is_the_default_subcommand() {
        let parse = |args: &[&str]| Cargo::try_parse_from(args).unwrap();
        let Cargo::Structlog(plain) =
            parse(&["cargo", "structlog", "--lib", "needle", "--", "--exact"]);
        let Cargo::Structlog(run) = parse(&[
            "cargo",
            "structlog",
            "run",
            "--lib",
            "needle",
            "--",
            "--exact",
        ]);
        let Some(Command::Run(run)) = run.command else {
            panic!("not the run subcommand")
        };
        for args in [&plain.run, &*run] {
            assert!(args.targets.lib);
            assert_eq!(args.filter.as_deref(), Some("needle"));
            assert_eq!(args.test_args, ["--exact"]);
        }
        assert!(plain.command.is_none());
        // A filter that is a subcommand's name needs `run` first.
        let Cargo::Structlog(f) = parse(&["cargo", "structlog", "run", "format"]);
        let Some(Command::Run(f)) = f.command else {
            panic!()
        };
        assert_eq!(f.filter.as_deref(), Some("format"));
    }
}
