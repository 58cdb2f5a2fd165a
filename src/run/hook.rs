//! The pre-kill hook: what runs on a hung test's process before it is
//! killed (a stack sampler by default), its output kept as the sample.

use super::coordinator::elapsed_secs;
use super::process::kill_group;
use nix::sys::signal::Signal;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What runs before a hung test is killed.
#[derive(Clone, Debug, PartialEq)]
pub enum Hook {
    /// `--pre-kill-hook CMD`, run by `sh -c` (see [`hook_script`]).
    Command(String),
    /// The platform's stack sampler, where its tool is installed.
    Default,
    /// Nothing.
    None,
}

/// The pre-kill hooks running now (their process groups): an interrupted
/// run ends them with its tests, and none starts after that.
#[derive(Clone, Debug, Default)]
pub(super) struct Running(Arc<Mutex<(HashSet<u32>, bool)>>);

impl Running {
    /// Notes a hook that started; false (and the hook is killed) when the
    /// run is ending.
    fn add(&self, pid: u32) -> bool {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if r.1 {
            kill_group(pid, Signal::SIGKILL);
            return false;
        }
        r.0.insert(pid);
        true
    }

    fn remove(&self, pid: u32) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .remove(&pid);
    }

    /// Kills every hook running, and any that starts from now on.
    pub(super) fn end_all(&self) {
        let mut r = self.0.lock().unwrap_or_else(|e| e.into_inner());
        r.1 = true;
        for pid in r.0.drain() {
            kill_group(pid, Signal::SIGKILL);
        }
    }
}

/// The shell text of a `--pre-kill-hook`: `{pid}`, `{test}` and `{binary}`
/// become `"$1"`, `"$2"` and `"$3"`, which `sh -c TEXT sh PID TEST BINARY`
/// sets. A test's name is never shell text, whatever it holds (`$(...)`,
/// quotes): the shell reads it from its parameters, as a value. One pass,
/// left to right: what a placeholder becomes is not searched again.
fn hook_script(command: &str) -> String {
    const PLACES: [(&str, &str); 3] = [
        ("{pid}", "\"$1\""),
        ("{test}", "\"$2\""),
        ("{binary}", "\"$3\""),
    ];
    let mut out = String::with_capacity(command.len() + 8);
    let mut rest = command;
    'scan: while !rest.is_empty() {
        for (place, param) in PLACES {
            if let Some(after) = rest.strip_prefix(place) {
                out.push_str(param);
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The sample file's name for a test's process: its id made safe as a
/// file name, and the pid.
pub(super) fn sample_name(test_id: &str, pid: u32) -> String {
    format!("{}-{pid}.sample", sanitize(test_id))
}

fn sanitize(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.chars().take(150).collect()
}

/// The default pre-kill hook's command on this platform, if its tool is installed.
pub fn default_hook_command(pid: u32) -> Option<Vec<String>> {
    let has = |tool: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
    };
    let pid = pid.to_string();
    if cfg!(target_os = "macos") && has("sample") {
        return Some(vec!["sample".into(), pid, "1".into()]);
    }
    if cfg!(target_os = "linux") {
        if has("gdb") {
            return Some(
                [
                    "gdb",
                    "-p",
                    &pid,
                    "-batch",
                    "-nx",
                    "-q",
                    "-ex",
                    "set pagination off",
                    "-ex",
                    "thread apply all bt",
                ]
                .map(String::from)
                .to_vec(),
            );
        }
        if has("eu-stack") {
            return Some(vec!["eu-stack".into(), "-p".into(), pid]);
        }
    }
    None
}

/// The hung test a hook samples.
pub(super) struct Hung<'a> {
    /// Its process.
    pub pid: u32,
    pub test_id: &'a str,
    pub binary_id: &'a str,
    /// The test executable.
    pub program: &'a Path,
}

/// Runs the pre-kill hook on a hung process, its output to `path`, for at
/// most `limit`. Returns the sample's path (when one was written) and any
/// error.
pub(super) fn run_hook(
    running: &Running,
    hook: &Hook,
    hung: &Hung,
    path: &Path,
    limit: Duration,
) -> (Option<PathBuf>, Option<String>) {
    let Hung {
        pid,
        test_id,
        binary_id,
        program,
    } = *hung;
    let mut cmd = match hook {
        Hook::None => return (None, None),
        Hook::Command(c) => {
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c")
                .arg(hook_script(c))
                .arg("sh")
                .arg(pid.to_string())
                .arg(test_id)
                .arg(program);
            cmd
        }
        Hook::Default => match default_hook_command(pid) {
            Some(argv) => {
                let mut cmd = std::process::Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                cmd
            }
            None => return (None, None),
        },
    };
    if let Some(dir) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return (None, Some(format!("cannot create {}: {e}", dir.display())));
        }
    }
    let file = match std::fs::File::create(path) {
        Ok(f) => f,
        Err(e) => return (None, Some(format!("cannot create {}: {e}", path.display()))),
    };
    let err_file = match file.try_clone() {
        Ok(f) => f,
        Err(e) => return (None, Some(format!("cannot write {}: {e}", path.display()))),
    };
    cmd.env("STRUCTLOG_PID", pid.to_string())
        .env("STRUCTLOG_TEST", test_id)
        .env("STRUCTLOG_BINARY", binary_id)
        .env("STRUCTLOG_SAMPLE", path)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return (None, Some(format!("cannot start the pre-kill hook: {e}")));
        }
    };
    let hook_pid = child.id();
    if !running.add(hook_pid) {
        let _ = child.wait();
        let _ = std::fs::remove_file(path);
        return (None, Some("the run was interrupted".into()));
    }
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id(), Signal::SIGKILL);
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    running.remove(hook_pid);
    let written = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    let sample = written.then(|| path.to_path_buf());
    if !written {
        let _ = std::fs::remove_file(path);
    }
    match status {
        None => (
            sample,
            Some(format!(
                "the pre-kill hook did not finish within {} s; killed it",
                elapsed_secs(limit)
            )),
        ),
        Some(s) if !s.success() => (sample, Some(format!("the pre-kill hook failed ({s})"))),
        Some(_) => (sample, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_parameters_in_one_pass() {
        assert_eq!(
            hook_script("gdb -p {pid} -batch > /tmp/{test}.txt # {binary}"),
            "gdb -p \"$1\" -batch > /tmp/\"$2\".txt # \"$3\""
        );
        assert_eq!(hook_script("{{pid}}{"), "{\"$1\"}{");
    }

    #[test]
    fn sample_names_are_safe_file_names() {
        assert_eq!(sanitize("alpha::it a::b c"), "alpha__it_a__b_c");
        assert_eq!(sample_name("a/b", 7), "a_b-7.sample");
    }
}
