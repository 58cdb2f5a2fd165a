//! The command line turned into what the library's parts take: one
//! validated configuration per command, built before anything runs. The
//! parts below never see clap's types.

use super::{CargoArgs, LogArgs, RerunArgs, RunArgs, TargetArgs};
use crate::error::Error;
use crate::plan::expectations::Expectations;
use crate::plan::flags::TestFlags;
use crate::run::{coordinator::Hook, Control, ExpectationsFile, Settings};
use crate::sink::{self, Destination};
use std::sync::Arc;

/// A run's settings. An expectations file named on the command line is read
/// here, so that a malformed one stops the run before anything is opened.
pub fn run_settings(args: RunArgs) -> Result<Settings, Error> {
    let flags = TestFlags::new(
        args.filter.as_deref(),
        args.tests.exact,
        &args.tests.skip,
        args.tests.ignored,
        args.tests.include_ignored,
        args.tests.test_threads,
        &args.test_args,
    )?;
    let targets = targets(&args.targets);
    if targets.doc && targets.any_selected() {
        return Err(Error::Usage(
            "--doc cannot be combined with other target selection flags (as in cargo test)".into(),
        ));
    }
    let archive = archive(&args)?;
    let expectations = match (&args.expect.expectations, args.expect.no_expectations) {
        (Some(path), _) => ExpectationsFile::Given(Arc::new(Expectations::load(path)?)),
        (None, true) => ExpectationsFile::Off,
        (None, false) => ExpectationsFile::Default,
    };
    let c = &args.control;
    let control = Control {
        timeout: c.timeout,
        hook: match c.pre_kill_hook.as_deref() {
            None => Hook::Default,
            Some("" | "none") => Hook::None,
            Some(cmd) => Hook::Command(cmd.to_string()),
        },
        hook_timeout: c.pre_kill_hook_timeout,
        session_dir: c.session_dir.clone(),
        partition: c.partition,
        test_binaries: c.test_binaries,
        doctests: c.doctests,
    };
    Ok(Settings {
        sinks: sinks(&args.log, args.cargo.color.clone())?,
        cargo: cargo(&args.cargo),
        targets,
        filter: args.filter,
        filter_doctests: args.filter_doctests,
        flags,
        control,
        expectations,
        strict_expectations: args.expect.strict_expectations,
        retries: args.expect.retries,
        fail_on_flaky: args.expect.fail_on_flaky,
        rerun: rerun(&args.rerun)?,
        archive,
    })
}

/// `--archive-file`: the build options were decided when the archive was
/// made, and are refused here (but `--target`, checked against the archive).
fn archive(args: &RunArgs) -> Result<Option<crate::run::archive::ArchiveRun>, Error> {
    let Some(file) = &args.reuse.archive_file else {
        return Ok(None);
    };
    let c = &args.cargo;
    let t = targets(&args.targets);
    let given = [
        (c.manifest_path.is_some(), "--manifest-path"),
        (!c.package.is_empty(), "--package"),
        (c.workspace, "--workspace"),
        (!c.exclude.is_empty(), "--exclude"),
        (!c.features.is_empty(), "--features"),
        (c.all_features, "--all-features"),
        (c.no_default_features, "--no-default-features"),
        (c.release, "--release"),
        (c.profile.is_some(), "--profile"),
        (c.target_dir.is_some(), "--target-dir"),
        (c.jobs.is_some(), "--jobs"),
        (
            t.any_selected() || t.doc,
            "a target selection (--lib, --doc, --test, ...)",
        ),
    ];
    if let Some((_, flag)) = given.iter().find(|(g, _)| *g) {
        return Err(Error::Usage(format!(
            "{flag} cannot be given with --archive-file: what is built is decided when the \
             archive is made (cargo structlog archive {flag} ...)"
        )));
    }
    Ok(Some(crate::run::archive::ArchiveRun {
        file: file.clone(),
        workspace_remap: args.reuse.workspace_remap.clone(),
        extract_to: args.reuse.extract_to.clone(),
    }))
}

fn rerun(a: &RerunArgs) -> Result<Option<crate::run::RerunRequest>, Error> {
    use crate::plan::rerun::Mode;
    let mode = match (a.last_failed, a.failed_first) {
        (true, _) => Mode::Only,
        (false, true) => Mode::First,
        (false, false) if a.from_log.is_empty() => return Ok(None),
        (false, false) => {
            return Err(Error::Usage(
                "--from-log names what failed: give --last-failed or --failed-first with it".into(),
            ))
        }
    };
    for f in &a.from_log {
        if !f.is_file() {
            return Err(Error::Usage(format!(
                "--from-log {}: no such file",
                f.display()
            )));
        }
    }
    Ok(Some(crate::run::RerunRequest {
        mode,
        from: a.from_log.clone(),
    }))
}

pub(super) fn cargo(a: &CargoArgs) -> crate::cargo::Options {
    crate::cargo::Options {
        manifest_path: a.manifest_path.clone(),
        package: a.package.clone(),
        workspace: a.workspace,
        exclude: a.exclude.clone(),
        features: a.features.clone(),
        all_features: a.all_features,
        no_default_features: a.no_default_features,
        release: a.release,
        profile: a.profile.clone(),
        target_dir: a.target_dir.clone(),
        target: a.target.clone(),
        jobs: a.jobs.clone(),
        locked: a.locked,
        offline: a.offline,
        frozen: a.frozen,
        color: a.color.clone(),
    }
}

pub(super) fn targets(t: &TargetArgs) -> crate::cargo::Targets {
    crate::cargo::Targets {
        lib: t.lib,
        bins: t.bins,
        bin: t.bin.clone(),
        examples: t.examples,
        example: t.example.clone(),
        tests: t.tests,
        test: t.test.clone(),
        benches: t.benches,
        bench: t.bench.clone(),
        all_targets: t.all_targets,
        doc: t.doc,
    }
}

/// The sinks the command line asks for: `(format, destination)` in the
/// order of [`sink::FORMATS`], mach on stdout when neither a format nor a
/// `--log-exec` command is named (a command that reads the stream usually
/// prints it: mach on the same stdout would be mixed with it). Options of a
/// format that is not asked for are refused by clap.
pub fn sinks(log: &LogArgs, color: Option<String>) -> Result<sink::Config, Error> {
    let lists: [&Vec<String>; 9] = [
        &log.log_raw,
        &log.log_mach,
        &log.log_tbpl,
        &log.log_errorsummary,
        &log.log_unittest,
        &log.log_grouped,
        &log.log_html,
        &log.log_xunit,
        &log.log_github,
    ];
    let mut outputs: Vec<(&'static str, String)> = Vec::new();
    for (format, dests) in sink::FORMATS.iter().zip(lists) {
        for d in dests {
            outputs.push((format, d.clone()));
        }
    }
    if outputs.is_empty() && log.log_exec.is_empty() {
        outputs.push(("mach", "-".to_string()));
    }
    let mut config = sink::Config {
        outputs,
        exec: log.log_exec.clone(),
        color,
        mach_verbose: log.log_mach_verbose,
        tbpl_compact: log.log_tbpl_compact,
        mach_buffer: log.log_mach_buffer,
        tbpl_buffer: log.log_tbpl_buffer,
        ..Default::default()
    };
    if let Some(t) = log.log_connect_timeout {
        if !config
            .outputs
            .iter()
            .any(|(_, d)| Destination::parse(d).is_socket())
        {
            return Err(Error::Usage(
                "--log-connect-timeout is given, but no output is a tcp:// or unix: socket".into(),
            ));
        }
        config.connect_timeout = t;
    }
    for (level, given) in [
        (&mut config.raw_level, log.log_raw_level),
        (&mut config.mach_level, log.log_mach_level),
        (&mut config.tbpl_level, log.log_tbpl_level),
    ] {
        if let Some(l) = given {
            *level = l;
        }
    }
    if let Some(t) = log.slow_threshold {
        config.slow_threshold_ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
    }
    if let Some(f) = log.log_xunit_flavor {
        config.xunit.flavor = f;
    }
    if let Some(m) = log.log_xunit_xfail {
        config.xunit.xfail = m;
    }
    if let Some(m) = log.log_xunit_xpass {
        config.xunit.xpass = m;
    }
    if let Some(n) = log.log_xunit_max_output {
        config.xunit.max_output = usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(config)
}
