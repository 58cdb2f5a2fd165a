//! How a test process is let take `-Zunstable-options` (libtest's JSON
//! output) on a stable toolchain.
//!
//! libtest accepts unstable options when `RUSTC_BOOTSTRAP` is set, and asks
//! for it once, with `getenv`, while it parses its options. Setting it in
//! the environment hands it to everything the test starts as well: a nested
//! cargo (trybuild, tests that build fixtures) then builds with it, and
//! build scripts that watch it (proc-macro2's) change their fingerprints,
//! so the proc-macro chain is rebuilt, then rebuilt again by the next plain
//! `cargo test`. On Linux the test process instead preloads a small library
//! (`src/plan/unlock/preload.c`) whose `getenv` answers that one question, and
//! which removes itself from the environment before `main`, so the test and
//! its children see the environment `cargo test` gives. Elsewhere, or when
//! the library cannot be loaded (a statically linked or foreign-architecture
//! test binary), the variable is set as before, to `-1`, which libtest
//! accepts and which tells any rustc a test starts to behave as stable.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The preload library's setting (see [`Answer`]).
const MODE_VAR: &str = "CARGO_STRUCTLOG_UNLOCK";
/// The `LD_PRELOAD` the library puts back (unset when there was none).
const SAVED_VAR: &str = "CARGO_STRUCTLOG_LD_PRELOAD";
const PRELOAD_VAR: &str = "LD_PRELOAD";

/// Which questions the preload library answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The first only (libtest asks once).
    Once,
    /// Every one (rustdoc asks many times).
    Always,
    /// rustdoc merging doctests: every one, and in the processes rustdoc
    /// starts, the one each needs: the merged doctests' runner (its
    /// libtest) and rustc (which rustdoc hands `-Zunstable-options`) the
    /// first, a doctest none.
    Doctests,
}

impl Answer {
    fn setting(self) -> &'static str {
        match self {
            Answer::Once => "once",
            Answer::Always => "always",
            Answer::Doctests => "doctests",
        }
    }
}

/// What a test process is given so that its harness takes `-Z` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unlock {
    /// Nothing: a nightly toolchain, or a harness that needs nothing.
    Nothing,
    /// `RUSTC_BOOTSTRAP=-1` in its environment (and its children's).
    Env,
    /// The preload library.
    Preload { library: PathBuf, answer: Answer },
}

impl Unlock {
    /// Sets up `cmd`. `inherited` is the `LD_PRELOAD` the process would
    /// otherwise get.
    pub fn apply(&self, cmd: &mut Command, inherited: Option<&OsStr>) {
        match self {
            Unlock::Nothing => {}
            Unlock::Env => {
                cmd.env("RUSTC_BOOTSTRAP", "-1");
            }
            Unlock::Preload { library, answer } => {
                let mut preload = OsString::from(library);
                match inherited {
                    Some(old) => {
                        if !old.is_empty() {
                            preload.push(" ");
                            preload.push(old);
                        }
                        cmd.env(SAVED_VAR, old);
                    }
                    None => {
                        cmd.env_remove(SAVED_VAR);
                    }
                }
                cmd.env(PRELOAD_VAR, preload)
                    .env(MODE_VAR, answer.setting());
            }
        }
    }

    /// The same way for rustdoc, which asks many times; `merging`: rustdoc
    /// is given `-Zunstable-options --merge-doctests`, so that the
    /// processes it starts ask too.
    pub fn for_rustdoc(&self, merging: bool) -> Unlock {
        match self {
            Unlock::Preload { library, .. } => Unlock::Preload {
                library: library.clone(),
                answer: if merging {
                    Answer::Doctests
                } else {
                    Answer::Always
                },
            },
            other => other.clone(),
        }
    }

    /// Whether rustdoc can be let merge doctests this way: rustdoc, rustc
    /// and the merged doctests' libtest must all take `-Z` options, without
    /// the doctests seeing it. Not through the environment, which the
    /// doctests would inherit.
    pub fn lets_rustdoc_merge(&self) -> bool {
        !matches!(self, Unlock::Env)
    }

    pub fn is_preload(&self) -> bool {
        matches!(self, Unlock::Preload { .. })
    }
}

/// The library's bytes, built by `build.rs`.
#[cfg(structlog_preload)]
const LIBRARY: Option<&[u8]> = Some(include_bytes!(concat!(env!("OUT_DIR"), "/unlock.so")));
#[cfg(not(structlog_preload))]
const LIBRARY: Option<&[u8]> = None;

/// How this run unlocks libtest: nothing on a nightly toolchain; the
/// preload library, written into `dir` once (under a name that changes with
/// its content), where there is one and it can be written; else the
/// environment variable.
pub fn choose(nightly: bool, dir: &Path) -> Unlock {
    if nightly {
        return Unlock::Nothing;
    }
    match LIBRARY.and_then(|bytes| install(bytes, dir)) {
        Some(library) => Unlock::Preload {
            library,
            answer: Answer::Once,
        },
        None => Unlock::Env,
    }
}

/// Writes the library into `dir` unless it is there already; its path.
fn install(bytes: &[u8], dir: &Path) -> Option<PathBuf> {
    // FNV-1a: a name per content, so that an update never loads an old one.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("unlock-{hash:016x}.so"));
    let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
    if !present {
        crate::cargo::write_atomically(&path, bytes).ok()?;
    }
    // The path goes into LD_PRELOAD, whose entries are split at spaces and
    // colons: a directory with either cannot be named there.
    let text = path.to_str()?;
    (!text.contains([' ', ':'])).then_some(path)
}

/// Whether a listing's failure says the harness refused `-Z` on a stable
/// toolchain (the preload library was not loaded).
pub fn refused(stderr: &str) -> bool {
    stderr.contains("only accepted on the nightly compiler")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_settings_keep_what_was_there() {
        let unlock = Unlock::Preload {
            library: "/t/unlock.so".into(),
            answer: Answer::Once,
        };
        let env = |cmd: &Command, k: &str| {
            cmd.get_envs()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
        };
        let mut cmd = Command::new("x");
        unlock.apply(&mut cmd, None);
        assert_eq!(env(&cmd, PRELOAD_VAR), Some(Some("/t/unlock.so".into())));
        assert_eq!(env(&cmd, MODE_VAR), Some(Some("once".into())));
        assert_eq!(env(&cmd, SAVED_VAR), Some(None));
        let mut cmd = Command::new("x");
        unlock
            .for_rustdoc(false)
            .apply(&mut cmd, Some(OsStr::new("/usr/lib/libasan.so")));
        assert_eq!(
            env(&cmd, PRELOAD_VAR),
            Some(Some("/t/unlock.so /usr/lib/libasan.so".into()))
        );
        assert_eq!(
            env(&cmd, SAVED_VAR),
            Some(Some("/usr/lib/libasan.so".into()))
        );
        assert_eq!(env(&cmd, MODE_VAR), Some(Some("always".into())));
        let mut cmd = Command::new("x");
        unlock.for_rustdoc(true).apply(&mut cmd, None);
        assert_eq!(env(&cmd, MODE_VAR), Some(Some("doctests".into())));
        let mut cmd = Command::new("x");
        Unlock::Env.apply(&mut cmd, None);
        assert_eq!(env(&cmd, "RUSTC_BOOTSTRAP"), Some(Some("-1".into())));
    }
}
