//! The pre-kill hook: what runs on a hung test's process before it is
//! killed (a stack sampler by default), its output kept as the sample.

use super::coordinator::elapsed_secs;
use super::process::kill_group;
use crate::text::shell_quote;
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What runs before a hung test is killed.
#[derive(Clone, Debug, PartialEq)]
pub enum Hook {
    /// `--pre-kill-hook CMD`, run by `sh -c` with `{pid}`, `{test}`, `{binary}` replaced.
    Command(String),
    /// The platform's stack sampler, where its tool is installed.
    Default,
    /// Nothing.
    None,
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

/// Runs the pre-kill hook on a hung process, its output to `path`.
/// Returns the sample's path (when one was written) and any error.
pub(super) fn run_hook(
    hook: &Hook,
    pid: u32,
    test_id: &str,
    binary_id: &str,
    program: &Path,
    path: &Path,
    limit: Duration,
) -> (Option<PathBuf>, Option<String>) {
    let mut cmd = match hook {
        Hook::None => return (None, None),
        Hook::Command(c) => {
            let text = c
                .replace("{pid}", &pid.to_string())
                .replace("{test}", &shell_quote(test_id))
                .replace("{binary}", &shell_quote(&program.to_string_lossy()));
            let mut cmd = std::process::Command::new("sh");
            cmd.arg("-c").arg(text);
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
    fn sample_names_are_safe_file_names() {
        assert_eq!(sanitize("alpha::it a::b c"), "alpha__it_a__b_c");
        assert_eq!(sample_name("a/b", 7), "a_b-7.sample");
    }
}
