//! Archives of built tests: `cargo structlog archive` builds the
//! tests once and writes everything a run needs into one file; `cargo
//! structlog run --archive-file FILE` runs them from it, in another checkout
//! of the same sources, on a machine with neither cargo nor rustc.
//!
//! The archive is a tar stream compressed with zstd (with its content
//! checksum), holding, in this order:
//!
//! - `structlog-archive.json`: the [`Manifest`] (workspace root, target
//!   directory, target, toolchain, `cargo metadata`, the test binaries and
//!   how `cargo test` starts them);
//! - `target/...`: the test executables, the binaries integration tests
//!   name (`CARGO_BIN_EXE_*`), the workspace's build scripts' `OUT_DIR`s and
//!   the dynamic libraries the executables load from the target directory,
//!   at their paths relative to the target directory;
//! - `toolchain/...`: the toolchain's own libraries the executables load
//!   (`libstd-*.so` for a proc-macro crate's tests), relative to its sysroot;
//! - `doctests/<package>/...`: the doctests compiled to executables by
//!   rustdoc (`--persist-doctests --no-run`, each on its own), and
//!   `doctests/structlog-doctests.json`: each package's doctests ([`Docs`]),
//!   and what could not be archived. They come after the executables: the
//!   doctests compile while the executables are compressed;
//! - `listings/...`: the libtest executables' listings, as a run with the
//!   archive's flags lists them, and `listings/structlog-listings.json`
//!   ([`StoredListing`]s): a run gives them to its listing cache, and starts
//!   the tests without listing them again;
//! - `structlog-archive.sums`: every member's size and XXH3-128 hash, last,
//!   so that a member missing or changed is found (damage, not tampering).
//!
//! cargo-nextest's archives (`nextest-runner/src/reuse_build/`) work the
//! same way: one manifest first, paths relative to the target directory,
//! and the workspace given anew where the archive is run
//! (`--workspace-remap`); the option names are its own.

mod create;
mod doctests;
mod extract;

pub use create::create;
pub use doctests::{runner_main as doctest_runner_main, DOCTEST_RUNNER_ENV};
use extract::Extracted;

use crate::error::Error;
use crate::plan::flags::TestFlags;
use crate::plan::{Discovered, Harness, TestBinary};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The manifest's `format`: what tells an archive of ours.
const FORMAT: &str = "cargo-structlog-archive";
/// The manifest's version; an archive of another version is refused.
const VERSION: u32 = 2;
/// The first member.
const MANIFEST: &str = "structlog-archive.json";
/// The last member: sizes and hashes of the others.
const SUMS: &str = "structlog-archive.sums";

/// What the archive holds, and where it was made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// Unique to this archive: an extraction kept with `--extract-to` is
    /// used again by a run of the same archive.
    pub id: String,
    pub workspace_root: PathBuf,
    pub target_dir: PathBuf,
    /// The toolchain's sysroot where the archive was made.
    pub sysroot: Option<PathBuf>,
    /// The target triple the tests were built for.
    pub target: String,
    pub rustc: Toolchain,
    /// The cargo profile (`test`, `release`, ...).
    pub profile: String,
    /// `cargo metadata --no-deps`, as cargo wrote it.
    pub metadata: serde_json::Value,
    /// Packages' `rust-version`, as written (package id, version).
    pub rust_versions: Vec<(String, String)>,
    /// The workspace's packages: each name and its manifest, relative to
    /// the workspace root (checked where the archive is run).
    pub packages: Vec<(String, PathBuf)>,
    pub binaries: Vec<Binary>,
    /// Read from [`DOCS`] once extracted.
    #[serde(skip)]
    pub docs: Docs,
}

/// The doctests' member.
const DOCS: &str = "doctests/structlog-doctests.json";

/// The listings' member: [`StoredListing`]s, whose outputs are members of
/// their own.
const LISTINGS: &str = "listings/structlog-listings.json";

/// A test executable's listing, as a run with the archive's flags lists it
/// (libtest binaries started directly): given to the run's listing cache,
/// so that a run from the archive starts its tests without listing them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredListing {
    /// [`Binary::id`].
    pub binary: String,
    pub args: Vec<String>,
    /// The member holding its output.
    pub member: String,
}

/// The doctests, and what could not be archived.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Docs {
    pub doctests: Vec<Doctests>,
    /// What could not be archived, and why: written as an ERROR by every
    /// run of the archive.
    pub missing: Vec<String>,
}

/// rustc, as the archive's maker knew it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Toolchain {
    pub version: String,
    pub release: String,
    pub host: String,
}

/// A test executable and how `cargo test` starts it (but for the target's
/// runner, which is read where the archive is run).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Binary {
    pub id: String,
    /// [`crate::plan::Harness::name`].
    pub harness: String,
    pub exe: PathBuf,
    pub cwd: PathBuf,
    /// Set on top of the environment it inherits (as in
    /// [`crate::plan::Launch::env`]); the library search path holds only
    /// the directories cargo adds.
    pub env: Vec<(String, String)>,
    pub src_path: Option<String>,
    pub order: (String, u8, String),
}

/// A package's doctests, compiled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Doctests {
    pub package: String,
    /// The directory rustdoc runs them in (`--test-run-directory`).
    pub cwd: PathBuf,
    /// What cargo set for rustdoc on top of its own environment, which
    /// rustdoc's doctests inherit; the library search path holds only the
    /// directories cargo and rustdoc add.
    pub env: Vec<(String, String)>,
    pub tests: Vec<doctests::Doctest>,
}

/// Where the archive's paths are now: the workspace's root given to the
/// run, and the directory it was extracted to.
#[derive(Clone, Debug)]
pub struct Remap {
    /// (from, to), longest first.
    pairs: Vec<(PathBuf, PathBuf)>,
}

impl Remap {
    pub fn new(manifest: &Manifest, workspace: &Path, extracted: &Path) -> Remap {
        let mut pairs = vec![
            (manifest.target_dir.clone(), extracted.join("target")),
            (manifest.workspace_root.clone(), workspace.to_path_buf()),
        ];
        if let Some(sysroot) = &manifest.sysroot {
            pairs.push((sysroot.join("lib"), extracted.join("toolchain").join("lib")));
        }
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.as_os_str().len()));
        Remap { pairs }
    }

    /// A path moved to where it is now (unchanged when it is under none of
    /// the archive's directories).
    pub fn path(&self, p: &Path) -> PathBuf {
        PathBuf::from(self.text(&p.to_string_lossy()))
    }

    /// [`Remap::path`] on text: a prefix that is a whole directory moves.
    fn text(&self, p: &str) -> String {
        for (from, to) in &self.pairs {
            let from = from.to_string_lossy();
            if let Some(rest) = p.strip_prefix(from.as_ref()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return format!("{}{rest}", to.display());
                }
            }
        }
        p.to_string()
    }

    /// A value that may hold paths: a path, a `:`-separated list of paths,
    /// or `KIND=path` (rustc's `-L`), each part moved.
    pub fn value(&self, v: &str) -> String {
        v.split(':')
            .map(|part| match part.split_once('=') {
                Some((kind, p)) if p.starts_with('/') && !kind.contains('/') => {
                    format!("{kind}={}", self.text(p))
                }
                _ if part.starts_with('/') => self.text(part),
                _ => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Every string of a JSON document that is a path (or a value as in
    /// [`Remap::value`]), moved.
    pub fn json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s.contains('/') => *s = self.value(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }
}

/// An environment for a test process: `recorded` (moved by `remap`), with
/// the library search path's directories first and then the one this
/// process inherited, as cargo builds it.
pub fn environment(recorded: &[(String, String)], remap: &Remap) -> Vec<(String, String)> {
    let var = crate::cargo::dylib_path_var();
    let mut out = Vec::with_capacity(recorded.len());
    for (k, v) in recorded {
        let mut v = remap.value(v);
        if k == var {
            if let Some(inherited) = std::env::var_os(var).filter(|i| !i.is_empty()) {
                if !v.is_empty() {
                    v.push(':');
                }
                v.push_str(&inherited.to_string_lossy());
            }
        }
        out.push((k.clone(), v));
    }
    out
}

/// The library search path as cargo (or rustdoc) set it, less what it
/// inherited from this process: the directories it added.
fn added_search_path(value: &str) -> String {
    let inherited = std::env::var(crate::cargo::dylib_path_var()).unwrap_or_default();
    let value = match value.strip_suffix(inherited.as_str()) {
        Some(rest) if !inherited.is_empty() => rest.strip_suffix(':').unwrap_or(rest),
        _ => value,
    };
    value.to_string()
}

/// `--archive-file`, `--workspace-remap`, `--extract-to`.
#[derive(Clone, Debug)]
pub struct ArchiveRun {
    pub file: PathBuf,
    /// The checkout of the archived workspace [default: where it was].
    pub workspace_remap: Option<PathBuf>,
    /// Extract here and keep it (used again by a run of the same archive).
    pub extract_to: Option<PathBuf>,
}

/// An archive a run takes its tests from: extracted, its paths moved.
pub struct Source {
    pub extracted: Extracted,
    pub remap: Remap,
    /// The checkout the tests run in.
    pub workspace: PathBuf,
}

impl Source {
    /// Opens and extracts the archive, once the workspace given is known to
    /// be the one it was made for (before anything is extracted).
    pub fn open(a: &ArchiveRun, target: Option<&str>) -> Result<Source, Error> {
        let mut workspace = PathBuf::new();
        let check = |m: &Manifest| -> Result<(), Error> {
            if let Some(t) = target.filter(|t| *t != m.target) {
                return Err(Error::Usage(format!(
                    "--target {t}: the archive {} holds tests built for {}",
                    a.file.display(),
                    m.target
                )));
            }
            let root = a.workspace_remap.as_ref().unwrap_or(&m.workspace_root);
            check_workspace(m, root).map_err(|why| {
                Error::Usage(format!(
                    "{}: the archive was made for another workspace ({}, packages {}): {why}; \
                     give a checkout of its sources with --workspace-remap",
                    a.file.display(),
                    m.workspace_root.display(),
                    m.packages
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        let extracted = extract::open(&a.file, a.extract_to.as_deref(), &check)?;
        let m = &extracted.manifest;
        let given = a.workspace_remap.as_ref().unwrap_or(&m.workspace_root);
        workspace.push(
            std::path::absolute(given)
                .map_err(|e| Error::caused(format!("--workspace-remap {}", given.display()), e))?,
        );
        let dir = std::path::absolute(&extracted.dir)
            .map_err(|e| Error::caused(format!("{}", extracted.dir.display()), e))?;
        let remap = Remap::new(m, &workspace, &dir);
        Ok(Source {
            extracted,
            remap,
            workspace,
        })
    }

    fn manifest(&self) -> &Manifest {
        &self.extracted.manifest
    }

    /// The workspace's metadata, its paths moved.
    pub fn workspace(&self) -> Result<crate::cargo::Workspace, Error> {
        let mut v = self.manifest().metadata.clone();
        self.remap.json(&mut v);
        let metadata = serde_json::from_value(v)
            .map_err(|e| Error::caused("the archive's workspace metadata", e))?;
        let rust_versions = (self.manifest().rust_versions.iter())
            .map(|(id, v)| (cargo_metadata::PackageId { repr: id.clone() }, v.clone()))
            .collect();
        Ok(crate::cargo::Workspace {
            metadata,
            rust_versions,
        })
    }

    /// The toolchain the tests were built with.
    pub fn rustc(&self) -> crate::cargo::Rustc {
        let t = &self.manifest().rustc;
        crate::cargo::Rustc {
            version: t.version.clone(),
            release: t.release.clone(),
            host: t.host.clone(),
            sysroot: None,
        }
    }

    pub fn target(&self) -> String {
        self.manifest().target.clone()
    }

    /// The test binaries, started as `cargo test` starts them here.
    pub fn binaries(
        &self,
        platform: &crate::cargo::Platform,
        unlock: &crate::plan::unlock::Unlock,
    ) -> Vec<TestBinary> {
        let mut out: Vec<TestBinary> = (self.manifest().binaries.iter())
            .map(|b| {
                let harness = Harness::from_name(&b.harness).unwrap_or(Harness::Custom);
                let env = environment(&b.env, &self.remap)
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect();
                TestBinary {
                    id: b.id.clone(),
                    harness,
                    launch: crate::plan::launch(
                        &self.remap.path(&b.exe),
                        harness,
                        env,
                        &self.remap.path(&b.cwd),
                        platform.runner.as_ref(),
                        unlock,
                    ),
                    src_path: b.src_path.clone(),
                    order: b.order.clone(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.order.cmp(&b.order));
        out
    }

    /// Gives `cache` the listings the archive holds, for its executables
    /// where they are now (an archive without them gives none).
    pub fn seed_listings(&self, cache: &crate::plan::ListingCache) {
        let dir = &self.extracted.dir;
        let Ok(json) = std::fs::read(dir.join(LISTINGS)) else {
            return;
        };
        let Ok(stored) = serde_json::from_slice::<Vec<StoredListing>>(&json) else {
            return;
        };
        for l in stored {
            let Some(b) = self.manifest().binaries.iter().find(|b| b.id == l.binary) else {
                continue;
            };
            if let Ok(output) = std::fs::read(dir.join(&l.member)) {
                cache.store(&self.remap.path(&b.exe), &l.args, &output);
            }
        }
    }

    /// Whether the run has doctests to run, or to report missing.
    pub fn has_doctests(&self) -> bool {
        let docs = &self.manifest().docs;
        !docs.doctests.is_empty() || !docs.missing.is_empty()
    }

    /// The packages' doctests, listed for this run, and an ERROR for each
    /// part of the tests the archive could not hold.
    pub fn doctests(
        &self,
        flags: &TestFlags,
        platform: &crate::cargo::Platform,
    ) -> Vec<Discovered> {
        let mut out = Vec::new();
        let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("cargo-structlog"));
        let runner: Vec<String> = platform
            .runner
            .iter()
            .flat_map(|r| {
                std::iter::once(r.program.to_string_lossy().into_owned())
                    .chain(r.args.iter().map(|a| a.to_string_lossy().into_owned()))
            })
            .collect();
        for (i, d) in self.manifest().docs.doctests.iter().enumerate() {
            let mut tests = d.tests.clone();
            for t in &mut tests {
                if let doctests::Outcome::Run { exe } | doctests::Outcome::Merged { exe, .. } =
                    &mut t.outcome
                {
                    *exe = self.extracted.dir.join(&*exe);
                }
            }
            let plan = doctests::Plan {
                cwd: self.remap.path(&d.cwd),
                env: environment(&d.env, &self.remap),
                runner: runner.clone(),
                tests,
            };
            let path = self
                .extracted
                .dir
                .join("doctests")
                .join(format!("plan-{i}.json"));
            let written = serde_json::to_vec(&plan)
                .map_err(std::io::Error::other)
                .and_then(|json| std::fs::write(&path, json));
            let mut binary = TestBinary {
                id: format!("{}::doc", d.package),
                harness: Harness::Rustdoc,
                launch: crate::plan::Launch {
                    program: me.clone(),
                    base_args: Vec::new(),
                    cwd: plan.cwd.clone(),
                    env: vec![(DOCTEST_RUNNER_ENV.into(), path.clone().into())],
                    clear_env: false,
                    via_test_args: true,
                    unlock: crate::plan::unlock::Unlock::Nothing,
                    witness: false,
                    doc_merge: None,
                },
                src_path: None,
                order: (d.package.clone(), 9, String::new()),
            };
            let tests = match written {
                Ok(()) => {
                    let lines = doctests::list(&plan, &flags.list_args(Harness::Rustdoc));
                    crate::plan::discover(&mut binary, flags, &self.workspace, Some(&lines), None)
                }
                Err(e) => Err(crate::plan::ListingError::Other(format!(
                    "cannot write {}: {e}",
                    path.display()
                ))),
            };
            out.push(Discovered { binary, tests });
        }
        for m in &self.manifest().docs.missing {
            out.push(super::failed_doc_listing(format!(
                "not in the archive {}: {m}",
                self.extracted.manifest.id
            )));
        }
        out
    }
}

/// Whether `root` holds the archived workspace's packages (each manifest
/// where it was, naming the same package); why not.
fn check_workspace(m: &Manifest, root: &Path) -> Result<(), String> {
    for (name, rel) in &m.packages {
        let path = root.join(rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let found = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_string));
        if found.as_deref() != Some(name.as_str()) {
            return Err(format!(
                "{} is not the manifest of package {name}",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_move_to_the_checkout_and_the_extraction() {
        let manifest_paths = Remap {
            pairs: vec![
                (PathBuf::from("/w/target"), PathBuf::from("/x/target")),
                (PathBuf::from("/w"), PathBuf::from("/co")),
            ],
        };
        let r = &manifest_paths;
        assert_eq!(r.path(Path::new("/w/alpha")), Path::new("/co/alpha"));
        assert_eq!(
            r.path(Path::new("/w/target/debug/deps/a")),
            Path::new("/x/target/debug/deps/a")
        );
        assert_eq!(r.path(Path::new("/wx/a")), Path::new("/wx/a"));
        assert_eq!(
            r.value("/w/target/debug:/usr/lib:dependency=/w/target/debug/deps"),
            "/x/target/debug:/usr/lib:dependency=/x/target/debug/deps"
        );
        assert_eq!(r.value("plain text"), "plain text");
        let mut j = serde_json::json!({"a": ["/w/x", 3, {"b": "/w"}]});
        r.json(&mut j);
        assert_eq!(j, serde_json::json!({"a": ["/co/x", 3, {"b": "/co"}]}));
    }
}
