//! Profiles: run options kept in `structlog.toml` at the workspace root.
//!
//! ```toml
//! [profile.default]            # applies to every run
//! log-mach = "-"
//! timeout = 60
//!
//! [profile.ci]                 # cargo structlog -P ci (or STRUCTLOG_PROFILE=ci)
//! log-xunit = "target/junit.xml"
//! log-raw = ["target/run.log"]
//! retries = 2
//! fail-on-flaky = true
//! ```
//!
//! A key is a long option of `cargo structlog run`, spelled as on the
//! command line without its dashes; its value is a string, a number, a
//! boolean (for a flag: `true` gives it, `false` takes back what a lower
//! layer gave), or an array (for an option that repeats). The command line
//! wins over the chosen profile, the profile over `[profile.default]`,
//! which wins over the built-in defaults; for an option that repeats, the
//! layer that names it gives all its values. A relative path (a sink's
//! file, `expectations`, `session-dir`, `target-dir`, `from-log`) is
//! relative to the file's directory. Each value is checked as the
//! command line checks it, and a bad one is an error naming the file, its
//! line and the key, before anything runs.
//!
//! The layers are put together as arguments: the profile's options are
//! added to the command line's (for the options it does not give), and
//! the whole is parsed once, so that a profile can set whatever the
//! command line can, no more.

use crate::error::Error;
use clap::parser::ValueSource;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The profile every run starts from.
pub const DEFAULT: &str = "default";

/// Options no profile may set: the ones that find the file or the profile.
const NOT_IN_PROFILES: &[&str] = &["manifest-path", "structlog-profile", "help", "version"];

/// Options whose values are paths: a relative one is relative to the
/// directory of `structlog.toml` (the workspace root), wherever the run is
/// started. A sink's `-`, `tcp://` and `unix:` are not paths.
const PATHS: &[&str] = &[
    "log-raw",
    "log-mach",
    "log-tbpl",
    "log-errorsummary",
    "log-unittest",
    "log-grouped",
    "log-html",
    "log-xunit",
    "log-github",
    "expectations",
    "session-dir",
    "target-dir",
    "from-log",
];

fn resolve(key: &str, value: String, base: &Path) -> String {
    let not_a_path = value == "-"
        || value.starts_with("tcp://")
        || value.starts_with("unix:")
        || value.is_empty();
    if !PATHS.contains(&key) || not_a_path || Path::new(&value).is_absolute() {
        return value;
    }
    base.join(value).to_string_lossy().into_owned()
}

/// One option as a profile gives it.
#[derive(Clone, Debug)]
pub struct Setting {
    /// The option's long name (the key).
    pub key: String,
    /// Its arguments: `--key=value` each, or `--key` for a flag (none for a
    /// flag set to `false`).
    pub args: Vec<String>,
    /// Where: the profile, and the key's line.
    pub profile: String,
    pub line: usize,
}

/// The profiles' settings for a run, each option from the highest layer
/// that names it (`[profile.<name>]` over `[profile.default]`).
#[derive(Debug, Default)]
pub struct Profiles {
    pub file: Option<PathBuf>,
    /// By clap id.
    pub settings: BTreeMap<String, Setting>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The workspace root as cargo finds it from a manifest's directory: the
/// nearest directory, from there up, whose `Cargo.toml` has a
/// `[workspace]` table; else the manifest's own directory.
pub fn workspace_root(manifest_dir: &Path) -> PathBuf {
    for dir in manifest_dir.ancestors() {
        let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        if let Ok(table) = text.parse::<toml::Table>() {
            if table.contains_key("workspace") {
                return dir.to_path_buf();
            }
            if let Some(path) = table
                .get("package")
                .and_then(|p| p.get("workspace"))
                .and_then(|w| w.as_str())
            {
                return dir.join(path);
            }
        }
    }
    manifest_dir.to_path_buf()
}

/// Reads the profiles of `file` for `command` (`run`, or one that takes
/// some of its options, as `list`: the others are checked and left out):
/// `[profile.default]`, then `[profile.<chosen>]`. A chosen profile the
/// file does not have is an error (`default` may be absent).
pub fn read(
    file: &Path,
    chosen: Option<&str>,
    run: &clap::Command,
    command: &clap::Command,
) -> Result<Profiles, Error> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::caused(format!("{}: cannot read", file.display()), e))?;
    parse(&text, file, chosen, run, command)
}

/// The profiles of a file's text (see [`read`]).
pub fn parse(
    text: &str,
    file: &Path,
    chosen: Option<&str>,
    run: &clap::Command,
    command: &clap::Command,
) -> Result<Profiles, Error> {
    type Table = BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>;
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        profile: BTreeMap<toml::Spanned<String>, toml::Spanned<Table>>,
    }
    let at = |offset: usize| format!("{}:{}", file.display(), line_of(text, offset));
    let parsed: File = toml::from_str(text).map_err(|e| {
        let place = e
            .span()
            .map(|s| at(s.start))
            .unwrap_or_else(|| file.display().to_string());
        Error::Usage(format!("{place}: {}", e.message().trim_end()))
    })?;
    let mut out = Profiles {
        file: Some(file.to_path_buf()),
        ..Default::default()
    };
    if let Some(name) = chosen.filter(|n| *n != DEFAULT) {
        if !parsed.profile.keys().any(|k| k.get_ref() == name) {
            let have: Vec<&str> = parsed
                .profile
                .keys()
                .map(|k| k.get_ref().as_str())
                .collect();
            return Err(Error::Usage(format!(
                "{}: there is no [profile.{name}] (profiles: {})",
                file.display(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            )));
        }
    }
    // Every profile is checked, the ones not chosen too: a mistake shows at once.
    let mut layers: Vec<(String, Vec<Setting>)> = Vec::new();
    for (name, table) in &parsed.profile {
        let mut settings = Vec::new();
        for (key, value) in table.get_ref() {
            let line = line_of(text, key.span().start);
            let err = |msg: String| {
                Error::Usage(format!(
                    "{}:{line}: [profile.{}] `{}`: {msg}",
                    file.display(),
                    name.get_ref(),
                    key.get_ref()
                ))
            };
            let arg = run
                .get_arguments()
                .find(|a| a.get_long() == Some(key.get_ref().as_str()))
                .filter(|_| !NOT_IN_PROFILES.contains(&key.get_ref().as_str()))
                .ok_or_else(|| err("no such option of `cargo structlog run`".into()))?;
            let base = file.parent().unwrap_or(Path::new("."));
            let args = arguments(key.get_ref(), arg, value.get_ref(), base).map_err(err)?;
            check(run, &args).map_err(err)?;
            settings.push(Setting {
                key: key.get_ref().clone(),
                args,
                profile: name.get_ref().clone(),
                line,
            });
        }
        layers.push((name.get_ref().clone(), settings));
    }
    let order = [Some(DEFAULT), chosen.filter(|n| *n != DEFAULT)];
    for wanted in order.into_iter().flatten() {
        for (name, settings) in &layers {
            if name != wanted {
                continue;
            }
            for s in settings {
                // An option this command does not take is not for it.
                if let Some(arg) = command
                    .get_arguments()
                    .find(|a| a.get_long() == Some(s.key.as_str()))
                {
                    out.settings.insert(arg.get_id().to_string(), s.clone());
                }
            }
        }
    }
    Ok(out)
}

/// A value as the option's arguments.
fn arguments(
    key: &str,
    arg: &clap::Arg,
    value: &toml::Value,
    base: &Path,
) -> Result<Vec<String>, String> {
    let is_flag = matches!(
        arg.get_action(),
        clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
    );
    let repeats = matches!(arg.get_action(), clap::ArgAction::Append);
    let scalar = |v: &toml::Value| -> Result<String, String> {
        match v {
            toml::Value::String(s) => Ok(resolve(key, s.clone(), base)),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            toml::Value::Boolean(_) => Err("takes a value, not true or false".into()),
            _ => Err("takes a string or a number".into()),
        }
    };
    match value {
        toml::Value::Boolean(b) if is_flag => Ok(if *b {
            vec![format!("--{key}")]
        } else {
            Vec::new()
        }),
        _ if is_flag => Err("is a flag: true or false".into()),
        toml::Value::Array(items) if repeats => items
            .iter()
            .map(|v| scalar(v).map(|s| format!("--{key}={s}")))
            .collect(),
        toml::Value::Array(_) => Err("takes one value, not an array".into()),
        v => Ok(vec![format!("--{key}={}", scalar(v)?)]),
    }
}

/// Checks an option's arguments as the command line would, alone: a
/// missing companion option or a conflict is left to the whole line.
fn check(command: &clap::Command, args: &[String]) -> Result<(), String> {
    use clap::error::ErrorKind;
    let argv = std::iter::once(command.get_name().to_string()).chain(args.iter().cloned());
    match command.clone().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::MissingRequiredArgument | ErrorKind::ArgumentConflict
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(clap_message(&e)),
    }
}

/// A clap error's first line, without its `error: ` and its styling.
pub fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

impl Profiles {
    /// The arguments the profiles add to a command line that gave `matches`:
    /// the options it does not give itself.
    pub fn arguments_for(&self, matches: &clap::ArgMatches) -> Vec<OsString> {
        let mut out = Vec::new();
        for (id, s) in &self.settings {
            if matches.value_source(id) == Some(ValueSource::CommandLine) {
                continue;
            }
            out.extend(s.args.iter().map(OsString::from));
        }
        out
    }

    /// Where an option's value came from: `user` is what the command line
    /// alone gave, `merged` what it gave with the profiles' options.
    pub fn source(&self, id: &str, user: &clap::ArgMatches, merged: &clap::ArgMatches) -> String {
        if user.value_source(id) == Some(ValueSource::CommandLine) {
            return "command line".into();
        }
        if let Some(s) = self.settings.get(id) {
            return format!("profile.{} ({}:{})", s.profile, self.file_name(), s.line);
        }
        match merged.value_source(id) {
            Some(ValueSource::EnvVariable) => "environment".into(),
            Some(ValueSource::DefaultValue) => "default".into(),
            Some(ValueSource::CommandLine) => "command line".into(),
            _ => "not set".into(),
        }
    }

    fn file_name(&self) -> String {
        self.file
            .as_ref()
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run_command() -> clap::Command {
        crate::cli::Cargo::command()
            .find_subcommand("structlog")
            .and_then(|s| s.find_subcommand("run"))
            .unwrap()
            .clone()
    }

    fn parse_ok(text: &str, chosen: Option<&str>) -> Profiles {
        let run = run_command();
        parse(text, Path::new("/ws/structlog.toml"), chosen, &run, &run).unwrap()
    }

    fn args(p: &Profiles, id: &str) -> Vec<String> {
        p.settings
            .get(id)
            .map(|s| s.args.clone())
            .unwrap_or_default()
    }

    #[test]
    fn the_chosen_profile_wins_over_the_default_key_by_key() {
        let text = "[profile.default]\nfail-on-flaky = true\nretries = 1\nlog-raw = \"a.log\"\n\
                    [profile.ci]\nfail-on-flaky = false\nlog-raw = [\"/abs/b.log\", \"-\", \"tcp://h:1\"]\n";
        let p = parse_ok(text, Some("ci"));
        // `false` takes the default's flag back.
        assert!(args(&p, "fail_on_flaky").is_empty());
        assert_eq!(p.settings["fail_on_flaky"].profile, "ci");
        assert_eq!(args(&p, "retries"), ["--retries=1"]);
        assert_eq!(
            args(&p, "log_raw"),
            ["--log-raw=/abs/b.log", "--log-raw=-", "--log-raw=tcp://h:1"]
        );
        let d = parse_ok(text, None);
        assert_eq!(args(&d, "fail_on_flaky"), ["--fail-on-flaky"]);
        // Relative paths are the file's directory's.
        assert_eq!(args(&d, "log_raw"), ["--log-raw=/ws/a.log"]);
        assert_eq!(d.settings["log_raw"].line, 4);
    }

    #[test]
    fn numbers_and_strings_are_read_as_the_command_line_reads_them() {
        let p = parse_ok(
            "[profile.default]\ntimeout = 2.5\ntest-threads = 3\nskip = [\"slow\", \"net\"]\n",
            None,
        );
        assert_eq!(args(&p, "timeout"), ["--timeout=2.5"]);
        assert_eq!(args(&p, "test_threads"), ["--test-threads=3"]);
        assert_eq!(args(&p, "skip"), ["--skip=slow", "--skip=net"]);
        let run = run_command();
        for (bad, why) in [
            ("test-threads = 0", "invalid value '0'"),
            ("timeout = true", "takes a value"),
            ("skip = { a = 1 }", "takes a string or a number"),
            ("exact = 1", "is a flag"),
        ] {
            let text = format!("[profile.default]\n{bad}\n");
            let err = parse(&text, Path::new("s.toml"), None, &run, &run)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("s.toml:2: [profile.default] `"), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
