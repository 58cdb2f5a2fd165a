//! The toolchain: rustc and rustdoc past rustup's proxy, and rustc's
//! version, host and sysroot, remembered per executable.

use serde_json::{Map, Value};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::*;

/// The program cargo runs as `tool` (`rustc`, `rustdoc`): the one `var`
/// (`RUSTC`, `RUSTDOC`) names, else the one on the PATH, but past rustup's
/// proxy when that is what the PATH holds, as cargo itself does (the proxy
/// costs about 10 ms a call).
pub fn toolchain_tool(tool: &str, var: &str) -> OsString {
    if let Some(v) = std::env::var_os(var) {
        return v;
    }
    let env = |k: &str| std::env::var_os(k);
    let rustup_home = env("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".rustup")));
    rustup_tool(
        tool,
        env("RUSTUP_TOOLCHAIN").as_deref(),
        env("PATH").as_deref(),
        rustup_home.as_deref(),
    )
    .map_or_else(|| tool.into(), PathBuf::into_os_string)
}

/// The toolchain's own `tool` when we run under rustup (`RUSTUP_TOOLCHAIN`
/// names a toolchain) and `tool` on the PATH is rustup's proxy (a file the
/// size of `rustup` on the PATH: the proxies are links to it). Cargo's rule.
fn rustup_tool(
    tool: &str,
    toolchain: Option<&OsStr>,
    path: Option<&OsStr>,
    rustup_home: Option<&Path>,
) -> Option<PathBuf> {
    let toolchain = toolchain?.to_str()?;
    if toolchain.contains(['/', '\\']) {
        return None;
    }
    let on_path = |name: &str| {
        std::env::split_paths(path?)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    let proxy = on_path(tool)?.metadata().ok()?;
    let rustup = on_path("rustup")?.metadata().ok()?;
    if proxy.len() != rustup.len() {
        return None;
    }
    let exe = rustup_home?
        .join("toolchains")
        .join(toolchain)
        .join("bin")
        .join(tool);
    exe.is_file().then_some(exe)
}

/// Facts about the toolchain (for `run_info` and the runtime environment).
#[derive(Clone, Debug, Default)]
pub struct Rustc {
    /// `rustc 1.95.0 (59807616e 2026-04-14)`
    pub version: String,
    pub release: String,
    pub host: String,
    pub sysroot: Option<PathBuf>,
}

impl Rustc {
    /// True for nightly and dev toolchains, where libtest takes `-Z` flags
    /// without `RUSTC_BOOTSTRAP`.
    pub fn is_nightly(&self) -> bool {
        self.release.contains("nightly") || self.release.contains("-dev")
    }

    /// Whether its rustdoc can be told how to compile doctests
    /// (`-Zunstable-options --merge-doctests`): 1.94 and later, and nightly
    /// 1.95 and later (the option came during 1.94's nightly cycle).
    pub fn rustdoc_merges(&self) -> bool {
        let mut parts = self.release.split(['.', '-']);
        let (Some(Ok(major)), Some(Ok(minor))) = (
            parts.next().map(str::parse::<u32>),
            parts.next().map(str::parse::<u32>),
        ) else {
            return false;
        };
        let first = if self.is_nightly() { 95 } else { 94 };
        major > 1 || (major == 1 && minor >= first)
    }

    /// True when every fact was learned (an answer worth remembering).
    fn is_whole(&self) -> bool {
        !self.version.is_empty() && !self.host.is_empty() && self.sysroot.is_some()
    }
}

/// Asks rustc (`$RUSTC` or `rustc`, run from the workspace so that a
/// `rust-toolchain.toml` applies) for its version and host (`-vV`) and its
/// sysroot (`--print sysroot`, asked in a call of its own: rustc 1.95 given
/// both prints only the `-vV` block). The answer is kept in the user's cache
/// directory for the next run, keyed by the rustc executable (see
/// `rustc_cache_key`): starting rustc costs tens of milliseconds, and a
/// run's start waits for it. Only a whole answer (version, host and sysroot)
/// is kept.
pub fn rustc_info(dir: &Path) -> Rustc {
    let rustc = toolchain_tool("rustc", "RUSTC");
    rustc_info_cached(&rustc, dir, user_cache_dir().as_deref())
}

/// `$XDG_CACHE_HOME/cargo-structlog`, else `~/.cache/cargo-structlog`.
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("cargo-structlog"))
}

/// The file of remembered rustc answers in a cache directory.
const RUSTC_CACHE_FILE: &str = "rustc-info.json";

/// At most this many rustc executables are remembered.
const RUSTC_CACHE_ENTRIES: usize = 16;

/// [`rustc_info`] with the program and cache directory given.
fn rustc_info_cached(rustc: &OsStr, dir: &Path, cache: Option<&Path>) -> Rustc {
    rustc_info_keyed(rustc, dir, cache.zip(rustc_cache_key(rustc)))
}

/// [`rustc_info`] with the cache directory and the executable's key given.
fn rustc_info_keyed(rustc: &OsStr, dir: &Path, cache: Option<(&Path, String)>) -> Rustc {
    let (file, key) = cache.map(|(c, k)| (c.join(RUSTC_CACHE_FILE), k)).unzip();
    let mut known: Map<String, Value> = file
        .as_deref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or_default();
    if let Some(Value::String(text)) = key.as_ref().and_then(|k| known.get(k)) {
        let info = parse_rustc_info(text);
        if info.is_whole() {
            return info;
        }
    }
    let Some(text) = ask_rustc(rustc, dir) else {
        return Rustc::default();
    };
    let info = parse_rustc_info(&text);
    if let (true, Some(key), Some(file)) = (info.is_whole(), key, file) {
        // Past the limit, any one goes (the map is kept in key order).
        while known.len() >= RUSTC_CACHE_ENTRIES {
            let first = known.keys().next().cloned().expect("not empty");
            known.remove(&first);
        }
        known.insert(key, Value::String(text));
        // A cache that cannot be written is no cache: nothing else changes.
        let _ = write_atomically(&file, &serde_json::to_vec(&known).unwrap_or_default());
    }
    info
}

/// Runs `rustc -vV` and `rustc --print sysroot` side by side and returns
/// their outputs one after the other, or as much as succeeded (the `-vV`
/// block alone when the sysroot could not be had).
fn ask_rustc(rustc: &OsStr, dir: &Path) -> Option<String> {
    let spawn = |args: &[&str]| {
        Command::new(rustc)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    };
    let version = spawn(&["-vV"]);
    let sysroot = spawn(&["--print", "sysroot"]);
    let output = |child: Option<std::process::Child>| {
        child
            .and_then(|c| c.wait_with_output().ok())
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let mut text = output(version)?;
    if let Some(root) = output(sysroot) {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&root);
    }
    Some(text)
}

/// What identifies a rustc executable's answers: its path and the size and
/// modification time of its file. `None` (no caching) when it cannot be
/// found, when it is rustup's proxy, whose answer depends on the directory
/// it runs in (a `rust-toolchain.toml`) and on the environment, or when it
/// is a script (a shim that may pick a toolchain as it likes).
fn rustc_cache_key(rustc: &OsStr) -> Option<String> {
    let path = if Path::new(rustc).components().count() > 1 {
        PathBuf::from(rustc)
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(rustc))
            .find(|p| p.is_file())?
    };
    let path = path.canonicalize().ok()?;
    if path
        .file_stem()
        .is_some_and(|stem| stem == "rustup" || stem == "rustup-init")
    {
        return None;
    }
    let mut start = [0u8; 2];
    io::Read::read_exact(&mut std::fs::File::open(&path).ok()?, &mut start).ok()?;
    if start == *b"#!" {
        return None;
    }
    let meta = path.metadata().ok()?;
    let on_path_rustup = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join("rustup"))
            .find(|p| p.is_file())
    });
    if let Some(rustup) = on_path_rustup.and_then(|r| r.metadata().ok()) {
        if rustup.len() == meta.len() {
            return None;
        }
    }
    file_key(&path)
}

/// A file's path and [`file_stamp`], as one string.
fn file_key(path: &Path) -> Option<String> {
    let meta = path.metadata().ok()?;
    Some(format!("{} {}", path.display(), file_stamp(&meta)?))
}

/// Reads the output of `rustc -vV` followed by `rustc --print sysroot`.
fn parse_rustc_info(text: &str) -> Rustc {
    let mut info = Rustc::default();
    for line in text.lines() {
        if line.starts_with("rustc ") && info.version.is_empty() {
            info.version = line.to_string();
        } else if let Some(h) = line.strip_prefix("host: ") {
            info.host = h.to_string();
        } else if let Some(r) = line.strip_prefix("release: ") {
            info.release = r.to_string();
        } else if line.starts_with('/') || line.contains(":\\") {
            info.sysroot = Some(PathBuf::from(line.trim()));
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustdoc_merges_doctests_from_1_94() {
        let merges = |release: &str| {
            Rustc {
                release: release.into(),
                ..Default::default()
            }
            .rustdoc_merges()
        };
        assert!(merges("1.94.0") && merges("1.95.0") && merges("1.96.0-beta.2"));
        assert!(merges("1.95.0-nightly") && merges("2.0.0"));
        assert!(!merges("1.93.1") && !merges("1.94.0-nightly") && !merges(""));
    }

    #[test]
    fn rustups_proxies_are_passed_by() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, home) = (dir.path().join("bin"), dir.path().join("rustup"));
        let toolchain_bin = home.join("toolchains/stable-x86_64-unknown-linux-gnu/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&toolchain_bin).unwrap();
        std::fs::write(bin.join("rustup"), "proxy").unwrap();
        std::fs::write(bin.join("rustc"), "proxy").unwrap();
        std::fs::write(bin.join("rustdoc"), "a real rustdoc").unwrap();
        std::fs::write(toolchain_bin.join("rustc"), "compiler").unwrap();
        std::fs::write(toolchain_bin.join("rustdoc"), "rustdoc").unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), &bin]).unwrap();
        let find = |tool: &str, toolchain: &str| {
            rustup_tool(tool, Some(OsStr::new(toolchain)), Some(&path), Some(&home))
        };
        let stable = "stable-x86_64-unknown-linux-gnu";
        assert_eq!(find("rustc", stable), Some(toolchain_bin.join("rustc")));
        // Not a proxy on the PATH: that one, as cargo would run it.
        assert_eq!(find("rustdoc", stable), None);
        // A toolchain given as a path, or one not installed.
        assert_eq!(find("rustc", "/opt/rust"), None);
        assert_eq!(find("rustc", "nightly"), None);
        // Not under rustup.
        assert_eq!(rustup_tool("rustc", None, Some(&path), Some(&home)), None);
    }

    /// A stand-in rustc that answers `-vV` and `--print sysroot` as rustc
    /// 1.95 does, and counts its `-vV` calls in `calls` (the sysroot fails
    /// while a file `no-sysroot` is beside it). Written beside its place and renamed over it, then run
    /// until the kernel lets it run: another test's process, forked while
    /// the file was open for writing, can hold it busy for a moment (ETXTBSY).
    fn fake_rustc(dir: &Path, release: &str, exit: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("rustc");
        let new = dir.join(".rustc.new");
        let calls = dir.join("calls");
        std::fs::write(
            &new,
            format!(
                "#!/bin/sh\n[ \"$1\" = --probe ] && exit 0\n\
                 if [ \"$1\" = --print ]; then [ -e '{sysroot_fails}' ] && exit 1; echo /fake/sysroot; exit {exit}; fi\n\
                 echo >> '{}'\n\
                 echo 'rustc {release} (0000 2020-01-01)'\n\
                 echo 'binary: rustc'\necho 'host: x86_64-fake-linux'\n\
                 echo 'release: {release}'\nexit {exit}\n",
                calls.display(),
                sysroot_fails = dir.join("no-sysroot").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&new, &path).unwrap();
        for _ in 0..500 {
            match Command::new(&path).arg("--probe").status() {
                Err(e) if e.raw_os_error() == Some(26) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => {
                    other.unwrap();
                    break;
                }
            }
        }
        path
    }

    fn calls(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("calls")).map_or(0, |s| s.lines().count())
    }

    #[test]
    fn rustc_answers_are_remembered_per_executable() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let rustc = fake_rustc(dir.path(), "1.2.3", 0);
        // The stand-in is a script, which is never cached as such: keyed
        // here as a compiled rustc is.
        let ask = || {
            let key = file_key(&rustc).unwrap();
            rustc_info_keyed(rustc.as_os_str(), dir.path(), Some((&cache, key)))
        };
        let first = ask();
        assert_eq!(
            (first.release.as_str(), first.host.as_str()),
            ("1.2.3", "x86_64-fake-linux")
        );
        assert_eq!(first.sysroot.as_deref(), Some(Path::new("/fake/sysroot")));
        let second = ask();
        assert_eq!((second.version, calls(dir.path())), (first.version, 1));
        // Another rustc at the same path (an update): asked again.
        fake_rustc(dir.path(), "1.20.0", 0);
        assert_eq!(
            (ask().release, calls(dir.path())),
            ("1.20.0".to_string(), 2)
        );
        assert_eq!(
            (ask().release, calls(dir.path())),
            ("1.20.0".to_string(), 2)
        );
    }

    #[test]
    fn rustc_answers_are_not_remembered_when_they_cannot_be() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let ask = |rustc: &Path, cache: &Path| {
            let key = file_key(rustc).unwrap();
            rustc_info_keyed(rustc.as_os_str(), dir.path(), Some((cache, key)))
        };
        // A failing rustc: asked each time.
        let rustc = fake_rustc(dir.path(), "1.2.3", 1);
        ask(&rustc, &cache);
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 2);
        // A cache directory that cannot be made: the answer all the same.
        let rustc = fake_rustc(dir.path(), "1.2.4", 0);
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let info = ask(&rustc, &blocked.join("c"));
        assert_eq!((info.release.as_str(), calls(dir.path())), ("1.2.4", 3));
        // A damaged cache file is read as empty, and replaced.
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join(RUSTC_CACHE_FILE), "{not json").unwrap();
        ask(&rustc, &cache);
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 4);
        // A script (a shim) is not keyed at all, so never remembered.
        assert_eq!(rustc_cache_key(rustc.as_os_str()), None);
        rustc_info_cached(rustc.as_os_str(), dir.path(), Some(&cache));
        assert_eq!(calls(dir.path()), 5);
        // A rustc whose sysroot cannot be had: the answer is used but not
        // remembered, and a remembered answer without a sysroot (from an
        // earlier version) is asked again.
        std::fs::write(dir.path().join("no-sysroot"), "").unwrap();
        let rustc = fake_rustc(dir.path(), "1.2.5", 0);
        let info = ask(&rustc, &cache);
        assert_eq!((info.release.as_str(), info.sysroot), ("1.2.5", None));
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 7);
        let key = file_key(&rustc).unwrap();
        let partial = serde_json::json!({ key: "rustc 1.2.5 (0000 2020-01-01)\nhost: x86_64-fake-linux\nrelease: 1.2.5\n" });
        std::fs::write(cache.join(RUSTC_CACHE_FILE), partial.to_string()).unwrap();
        std::fs::remove_file(dir.path().join("no-sysroot")).unwrap();
        let info = ask(&rustc, &cache);
        assert_eq!(info.sysroot.as_deref(), Some(Path::new("/fake/sysroot")));
        ask(&rustc, &cache);
        assert_eq!(calls(dir.path()), 8, "asked once more, then remembered");
        // A compiled program is.
        let sh = Path::new("/bin/sh").canonicalize().unwrap();
        assert!(
            rustc_cache_key(sh.as_os_str()).is_some_and(|k| k.starts_with(&*sh.to_string_lossy()))
        );
    }
}
