//! Doctest listings remembered between runs.
//!
//! Listing a workspace's doctests takes a `cargo test --doc` (cargo checks
//! the whole build again) and a rustdoc parse of every library: on a warm
//! run, more than all the rest this tool adds to `cargo test`. What cargo
//! then runs, and what rustdoc lists, is remembered in the listings
//! directory and used again while nothing it depends on has changed:
//!
//! - what decides cargo's rustdoc command line: the cargo command and the
//!   listing's arguments, the directory, the toolchain, the environment
//!   cargo and rustdoc read (every `CARGO*` and `RUST*` variable, `PATH`,
//!   `HOME` and the library paths), the workspace's manifests and lock file
//!   and cargo's configuration files;
//! - the files that command reads: rustdoc, and every `--extern` crate
//!   (the library itself among them), each of which this run's build must
//!   have reported as up to date. The library is rebuilt when any of its
//!   sources changes, so its file stands for them. Their stamps are taken
//!   after the listing, so a listing is remembered only when they were
//!   written a while (`SETTLED`, two seconds) before it started.
//!
//! A library's doctests can come from files its own build does not read:
//! `#[cfg(doctest)]` is set for rustdoc alone (as in
//! `#[cfg(doctest)] #[doc = include_str!("../README.md")]`). For a library
//! whose sources (as its build's dep-info names them) use `doctest` in a
//! `cfg`, the files those sources name (string literals naming files, and
//! modules the build did not read) are part of the key too; when that cannot
//! be told (an `include!` of anything but a literal path, a `#[path]`
//! module), the listing is not remembered: it is listed on every run.

use crate::cargo::{self, DocListing, Rustc, RustdocInvocation};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The format of a remembered doctest listing; part of its key.
const FORMAT: &str = "doctests 1";

/// Files above this size are not read for `cfg(doctest)`: a library that
/// includes one is listed on every run.
const MAX_SCANNED: u64 = 16 << 20;

/// A remembered doctest listing, in its file of the listings directory.
pub struct DocCache {
    file: PathBuf,
    context: String,
}

/// What is kept: the key's context, the files whose stamps must still
/// hold, and each rustdoc invocation with its listing.
#[derive(Serialize, Deserialize)]
struct Stored {
    context: String,
    /// `(path, stamp)`: rustdoc and the `--extern` crates.
    files: Vec<(PathBuf, String)>,
    invocations: Vec<StoredInvocation>,
}

#[derive(Serialize, Deserialize)]
struct StoredInvocation {
    program: String,
    args: Vec<String>,
    cwd: PathBuf,
    /// What cargo's environment for rustdoc had that ours did not (or had
    /// otherwise)...
    env_set: Vec<(String, String)>,
    /// ... and what it did not have.
    env_unset: Vec<String>,
    lines: Vec<String>,
}

/// What the key is made of, beyond the files named in the listing itself.
pub struct Context<'a> {
    /// The listing command: `cargo test ...` as it would be started.
    pub command: &'a std::process::Command,
    pub list_args: &'a [String],
    pub bootstrap: Option<&'a str>,
    pub rustc: &'a Rustc,
    /// The workspace's manifests (its root's and every member's).
    pub manifests: Vec<PathBuf>,
    pub workspace_root: &'a Path,
}

impl DocCache {
    /// The remembered listing for this context lives in `dir`, in a file
    /// named after the command and the directory.
    pub fn new(dir: &Path, cx: &Context) -> Self {
        let cmd = cx.command;
        let mut text = String::from(FORMAT);
        let mut line = |label: &str, value: &str| {
            text.push('\n');
            text.push_str(label);
            text.push(' ');
            text.push_str(&serde_json::to_string(value).unwrap_or_default());
        };
        let cwd = cmd
            .get_current_dir()
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let program = cmd.get_program().to_string_lossy().into_owned();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let command = serde_json::to_string(&(&program, &args, cx.list_args, cx.bootstrap))
            .unwrap_or_default();
        line("command", &command);
        line("cwd", &cwd.to_string_lossy());
        line("rustc", &cx.rustc.version);
        line("host", &cx.rustc.host);
        line(
            "sysroot",
            &cx.rustc
                .sysroot
                .as_deref()
                .map(|p| p.to_string_lossy())
                .unwrap_or_default(),
        );
        for (k, v) in relevant_env(std::env::vars_os()) {
            line(&format!("env {k}"), &v);
        }
        let mut files: Vec<PathBuf> = cx.manifests.clone();
        files.push(cx.workspace_root.join("Cargo.toml"));
        files.push(cx.workspace_root.join("Cargo.lock"));
        files.extend(cargo::config_files(&cwd));
        files.sort();
        files.dedup();
        for f in &files {
            line(&format!("file {}", f.display()), &stamp(f));
        }
        let slot = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&cwd, &command).hash(&mut h);
            format!("doctests-{:016x}", h.finish())
        };
        Self {
            file: dir.join(slot),
            context: text,
        }
    }

    /// The remembered listing, if its key still holds: the same context,
    /// the same files, and every `--extern` crate among what this run's
    /// build reported (`outputs`).
    pub fn get(&self, outputs: &HashSet<PathBuf>) -> Option<DocListing> {
        let bytes = std::fs::read(&self.file).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        if stored.context != self.context {
            return None;
        }
        for inv in &stored.invocations {
            if externs(&inv.args).any(|p| !outputs.contains(p)) {
                return None;
            }
        }
        if stored.files.iter().any(|(p, s)| stamp(p) != *s) {
            return None;
        }
        let ours: BTreeMap<String, String> = env_strings(std::env::vars_os()).collect();
        let invocations = stored
            .invocations
            .into_iter()
            .map(|inv| {
                let mut env = ours.clone();
                for k in &inv.env_unset {
                    env.remove(k);
                }
                env.extend(inv.env_set);
                let lines = inv.lines.into_iter().map(String::into_bytes).collect();
                let inv = RustdocInvocation {
                    program: inv.program,
                    args: inv.args,
                    cwd: inv.cwd,
                    env: env.into_iter().collect(),
                };
                (inv, lines)
            })
            .collect();
        Some(DocListing {
            invocations,
            success: true,
            stderr: String::new(),
        })
    }

    /// Remembers a listing cargo just made (started at `started`), when it
    /// can be: a successful one, of libraries none of whose sources use
    /// `cfg(doctest)`, none of whose files changed shortly before or while
    /// it was made (their stamps, taken now, must be of what was listed).
    /// Else what was remembered goes.
    pub fn put(&self, listing: &DocListing, started: SystemTime) {
        match self.stored(listing, started) {
            Some(stored) => {
                let Ok(bytes) = serde_json::to_vec(&stored) else {
                    return;
                };
                if cargo::write_atomically(&self.file, &bytes).is_ok() {
                    if let Some(dir) = self.file.parent() {
                        crate::plan::prune_listings(dir);
                    }
                }
            }
            None => {
                let _ = std::fs::remove_file(&self.file);
            }
        }
    }

    fn stored(&self, listing: &DocListing, started: SystemTime) -> Option<Stored> {
        // Files whose times are this close to the listing's start may have
        // changed during it (file times can be coarse, or whole seconds).
        let settled = started.checked_sub(SETTLED)?;
        if !listing.success || listing.invocations.is_empty() {
            return None;
        }
        let ours: BTreeMap<String, String> = env_strings(std::env::vars_os()).collect();
        let mut files = Vec::new();
        let mut invocations = Vec::new();
        for (inv, lines) in &listing.invocations {
            for path in doctest_only_files(inv)? {
                let meta = std::fs::metadata(&path).ok();
                if meta
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|t| t > settled)
                {
                    return None;
                }
                files.push((path.clone(), stamp(&path)));
            }
            let program = resolve(Path::new(&inv.program))?;
            for path in std::iter::once(program.as_path()).chain(externs(&inv.args)) {
                let meta = std::fs::metadata(path).ok()?;
                if meta.modified().ok()? > settled {
                    return None;
                }
                files.push((path.to_path_buf(), cargo::file_stamp(&meta)?));
            }
            let theirs: BTreeMap<&str, &str> = inv
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let env_set = inv
                .env
                .iter()
                .filter(|(k, v)| ours.get(k) != Some(v))
                .cloned()
                .collect();
            let env_unset = ours
                .keys()
                .filter(|k| !theirs.contains_key(k.as_str()))
                .cloned()
                .collect();
            let lines = lines
                .iter()
                .map(|l| String::from_utf8(l.clone()).ok())
                .collect::<Option<Vec<_>>>()?;
            invocations.push(StoredInvocation {
                program: inv.program.clone(),
                args: inv.args.clone(),
                cwd: inv.cwd.clone(),
                env_set,
                env_unset,
                lines,
            });
        }
        Some(Stored {
            context: self.context.clone(),
            files,
            invocations,
        })
    }
}

const MISSING: &str = "missing";

/// A program as the system finds it: a bare name (`rustdoc`, when no
/// toolchain was named) is looked up on the PATH.
fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// How long before a listing its files must have been written last for it
/// to be remembered.
const SETTLED: Duration = Duration::from_secs(2);

/// A file's stamp (size, times, device, inode), or `missing`.
fn stamp(path: &Path) -> String {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| cargo::file_stamp(&m))
        .unwrap_or_else(|| MISSING.into())
}

/// The environment as strings (what is not Unicode is left out, as the
/// rustdoc wrapper leaves it out of what it records).
fn env_strings(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> impl Iterator<Item = (String, String)> {
    vars.filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// The variables that can change what cargo runs or rustdoc lists, sorted.
fn relevant_env(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> BTreeMap<String, String> {
    vars.filter_map(|(k, v)| {
        let k = k.to_string_lossy().into_owned();
        let wanted = k.starts_with("CARGO")
            || k.starts_with("RUST")
            || matches!(
                k.as_str(),
                "PATH"
                    | "HOME"
                    | "LD_LIBRARY_PATH"
                    | "DYLD_LIBRARY_PATH"
                    | "DYLD_FALLBACK_LIBRARY_PATH"
                    | "LIBPATH"
            );
        wanted.then(|| (k, v.to_string_lossy().into_owned()))
    })
    .collect()
}

/// A rustdoc command line's `--extern name=path` crates, as `(name, path)`.
fn extern_crates(args: &[String]) -> impl Iterator<Item = (&str, &Path)> {
    let mut it = args.iter();
    std::iter::from_fn(move || loop {
        let a = it.next()?;
        let spec = if a == "--extern" {
            it.next()?.as_str()
        } else if let Some(s) = a.strip_prefix("--extern=") {
            s
        } else {
            continue;
        };
        if let Some((name, path)) = spec.split_once('=') {
            return Some((name, Path::new(path)));
        }
    })
}

/// The paths of a rustdoc command line's `--extern` crates.
fn externs(args: &[String]) -> impl Iterator<Item = &Path> {
    extern_crates(args).map(|(_, path)| path)
}

/// The files rustdoc reads for the invocation's own library that its build
/// did not (and so that the library's file does not stand for): what its
/// `cfg(doctest)` code includes. Every string literal of a source that uses
/// `cfg(doctest)` naming a file (from the source's folder, or from the
/// package's with `concat!(env!("CARGO_MANIFEST_DIR"), ...)`) is one, and
/// so are the files of its `mod` declarations that the build did not read
/// (both candidates, present or not), which are read in turn. `None` when
/// that cannot be told: a source cannot be read, or an `include!` family
/// macro takes anything but a literal path.
fn doctest_only_files(inv: &RustdocInvocation) -> Option<Vec<PathBuf>> {
    let name = inv.crate_name()?;
    let lib = externs_named(&inv.args, name)?;
    let stem = lib.file_stem()?.to_str()?;
    let dep_info = lib.with_file_name(format!("{}.d", stem.strip_prefix("lib").unwrap_or(stem)));
    let text = std::fs::read_to_string(dep_info).ok()?;
    let built: HashSet<PathBuf> = dep_info_sources(&text)
        .into_iter()
        .map(|s| inv.cwd.join(s))
        .collect();
    let manifest_dir = inv
        .env
        .iter()
        .find(|(k, _)| k == "CARGO_MANIFEST_DIR")
        .map(|(_, v)| PathBuf::from(v));
    let mut extra = Vec::new();
    let mut todo: Vec<(PathBuf, bool)> = built.iter().map(|p| (p.clone(), false)).collect();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    while let Some((path, doctest_only)) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        if std::fs::metadata(&path).ok()?.len() > MAX_SCANNED {
            return None;
        }
        let source = std::fs::read(&path).ok()?;
        if !doctest_only && !uses_cfg_doctest(&source) {
            continue;
        }
        let dir = path.parent()?;
        let refs = source_references(&source)?;
        for literal in refs.literals {
            let candidates = [
                Some(dir.join(&literal)),
                manifest_dir
                    .as_ref()
                    .map(|m| m.join(literal.trim_start_matches('/'))),
            ];
            extra.extend(candidates.into_iter().flatten().filter(|p| p.is_file()));
        }
        // `mod name;` in `lib.rs`, `main.rs` or `mod.rs` is `name.rs` or
        // `name/mod.rs` beside it; elsewhere, in the folder of its name.
        let owner = path.file_stem()?.to_str()?;
        let base = match owner {
            "lib" | "main" | "mod" => dir.to_path_buf(),
            _ => dir.join(owner),
        };
        for module in refs.modules {
            for file in [
                base.join(format!("{module}.rs")),
                base.join(&module).join("mod.rs"),
            ] {
                if !built.contains(&file) {
                    extra.push(file.clone());
                    if file.is_file() {
                        todo.push((file, true));
                    }
                }
            }
        }
    }
    extra.sort();
    extra.dedup();
    Some(extra)
}

/// What a source names: its string literals, and the modules it declares
/// without a body (`mod name;`). `None` when an `include!`,
/// `include_str!` or `include_bytes!` takes anything but a literal
/// (possibly after `concat!(env!("CARGO_MANIFEST_DIR"),`), or a module
/// has a `#[path]` of its own.
struct References {
    literals: Vec<String>,
    modules: Vec<String>,
}

fn source_references(text: &[u8]) -> Option<References> {
    let text = String::from_utf8_lossy(text);
    let mut literals = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '"' {
            let mut lit = String::new();
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    c => lit.push(c),
                }
            }
            if !lit.is_empty() && lit.len() < 4096 && !lit.contains('\n') {
                literals.push(lit);
            }
        }
    }
    for mac in ["include!", "include_str!", "include_bytes!"] {
        for (i, _) in text.match_indices(mac) {
            let rest: String = text[i + mac.len()..]
                .chars()
                .filter(|c| !c.is_whitespace())
                .take(48)
                .collect();
            let rest = rest.trim_start_matches(['(', '[', '{']);
            if !(rest.starts_with('"')
                || rest.starts_with("concat!(env!(\"CARGO_MANIFEST_DIR\"),\""))
            {
                return None;
            }
        }
    }
    if text.contains("#[path") {
        return None;
    }
    let mut modules = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for pair in words.windows(2) {
        if pair[0] == "mod" {
            if let Some(name) = pair[1].strip_suffix(';') {
                let name = name.strip_prefix("r#").unwrap_or(name);
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    modules.push(name.to_string());
                }
            }
        }
    }
    Some(References { literals, modules })
}

/// The path of the `--extern` crate called `name`.
fn externs_named<'a>(args: &'a [String], name: &str) -> Option<&'a Path> {
    extern_crates(args)
        .find(|(n, _)| *n == name)
        .map(|(_, path)| path)
}

/// The files a rustc dep-info (Makefile) file names as dependencies.
fn dep_info_sources(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        // `target: dep dep ...`, spaces in paths escaped with a backslash.
        let Some(colon) = find_rule_colon(line) else {
            continue;
        };
        let mut word = String::new();
        let mut chars = line[colon + 1..].chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    word.push(' ');
                    chars.next();
                }
                ' ' | '\t' => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The colon that ends a rule's target: the first `": "` or a final `:`
/// (a Windows drive's `C:\` is not one).
fn find_rule_colon(line: &str) -> Option<usize> {
    if let Some(i) = line.find(": ") {
        return Some(i);
    }
    line.strip_suffix(':').map(str::len)
}

/// Whether Rust source text uses `doctest` as a `cfg` name: `doctest`
/// between `(` or `,` and `)` or `,` (spaces aside), as in `cfg(doctest)`,
/// `cfg_attr(doctest, ...)`, `cfg(any(test, doctest))` or `cfg!(doctest)`.
/// Prose ("the doctests (below)") does not match.
pub fn uses_cfg_doctest(text: &[u8]) -> bool {
    const WORD: &[u8] = b"doctest";
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&text[from..], WORD) {
        let start = from + i;
        let end = start + WORD.len();
        from = end;
        let before = text[..start]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace());
        let after = text[end..].iter().find(|b| !b.is_ascii_whitespace());
        if matches!(before, Some(b'(' | b',')) && matches!(after, Some(b')' | b',')) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_doctest_is_told_from_prose() {
        for yes in [
            "#[cfg(doctest)]\nstruct R;",
            "#[cfg_attr(doctest, doc = include_str!(\"../README.md\"))]",
            "#[cfg(any(test, doctest))]",
            "#[cfg( not( doctest ) )]",
            "if cfg!(doctest) {}",
        ] {
            assert!(uses_cfg_doctest(yes.as_bytes()), "{yes}");
        }
        for no in [
            "/// A doctest that fails:",
            "//! doctests (edition 2021), and more",
            "fn my_doctest() {}",
            "call(doctests)",
            "(doctest_helper)",
            "",
        ] {
            assert!(!uses_cfg_doctest(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn sources_name_their_files_or_say_they_cannot() {
        let refs = source_references(
            br#"#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct A;
#[cfg(doctest)]
#[doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/GUIDE.md"))]
struct B;
doc_comment::doctest!("../CHANGES.md");
#[cfg(doctest)]
mod readme_tests;
mod inline { }
"#,
        )
        .unwrap();
        for lit in ["../README.md", "/GUIDE.md", "../CHANGES.md"] {
            assert!(refs.literals.iter().any(|l| l == lit), "{lit}");
        }
        assert_eq!(refs.modules, ["readme_tests"]);
        for opaque in [
            &b"#[doc = include_str!(readme!())]"[..],
            b"include!(concat!(env!(\"OUT_DIR\"), \"/gen.rs\"));",
            b"#[cfg(doctest)] #[path = \"x.rs\"] mod y;",
        ] {
            assert!(
                source_references(opaque).is_none(),
                "{}",
                String::from_utf8_lossy(opaque)
            );
        }
    }

    #[test]
    fn dep_info_names_every_source_once() {
        let text = "/t/deps/a-1.d: src/lib.rs src/my\\ mod.rs ../README.md\n\n\
                    /t/deps/liba-1.rlib: src/lib.rs src/my\\ mod.rs ../README.md\n\n\
                    src/lib.rs:\nsrc/my\\ mod.rs:\n../README.md:\n\n# env-dep:X=1\n";
        assert_eq!(
            dep_info_sources(text),
            ["../README.md", "src/lib.rs", "src/my mod.rs"]
        );
    }

    #[test]
    fn externs_are_read_in_both_spellings() {
        let args: Vec<String> = [
            "--crate-name",
            "a",
            "--extern",
            "a=/t/liba.rlib",
            "--extern=b=/t/libb.rlib",
            "--extern",
            "proc_macro",
            "-L",
            "dependency=/t",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let found: Vec<&Path> = externs(&args).collect();
        assert_eq!(
            found,
            [Path::new("/t/liba.rlib"), Path::new("/t/libb.rlib")]
        );
        assert_eq!(externs_named(&args, "b"), Some(Path::new("/t/libb.rlib")));
        assert_eq!(externs_named(&args, "c"), None);
    }

    #[test]
    fn the_environment_that_counts() {
        let vars = [
            ("RUSTDOCFLAGS", "--cfg x"),
            ("CARGO_TARGET_DIR", "/t"),
            ("PATH", "/bin"),
            ("TERM", "xterm"),
            ("OLDPWD", "/"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let env = relevant_env(vars.into_iter());
        assert_eq!(
            env.keys().collect::<Vec<_>>(),
            ["CARGO_TARGET_DIR", "PATH", "RUSTDOCFLAGS"]
        );
    }
}
