//! `cargo structlog archive`: build the tests, compile the doctests, and
//! write the archive (see the module above for what it holds).

use super::doctests;
use super::{
    Binary, Docs, Doctests, Manifest, StoredListing, Toolchain, DOCS, FORMAT, LISTINGS, MANIFEST,
    SUMS, VERSION,
};
use crate::cargo::{self, Build};
use crate::error::{exit, Error};
use crate::plan::{self, flags::TestFlags, Harness};
use crate::run::Settings;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Builds the tests as a run with these settings would, and writes the
/// archive to `file`; the exit status.
pub fn create(args: Settings, file: &Path) -> Result<i32, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::caused("no current directory", e))?;
    let manifest_dir = args
        .cargo
        .manifest_path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| cwd.clone());
    let cargo_args = args.cargo.clone();
    let metadata = std::thread::spawn(move || cargo::metadata(&cargo_args));
    let rustc = cargo::rustc_info(&manifest_dir);
    let platform = cargo::platform(&cwd, args.cargo.target.as_deref(), &rustc.host)?;
    let doc_only = args.targets.doc;
    let build = if doc_only {
        Build {
            success: true,
            ..Default::default()
        }
    } else {
        let mut cmd = cargo::cargo_command("test", &args.cargo);
        args.targets.apply(&mut cmd);
        cargo::build(&mut cmd, args.cargo.color.as_deref())?
    };
    let workspace = metadata
        .join()
        .map_err(|_| Error::Setup("cargo metadata panicked".into()))??;
    if !build.success {
        for e in &build.errors {
            eprintln!("{e}");
        }
        eprintln!("cargo-structlog: the build failed: no archive was written");
        return Ok(exit::BUILD_FAILED);
    }
    let metadata = &workspace.metadata;
    let root = metadata.workspace_root.as_std_path().to_path_buf();
    let target_dir = metadata.target_directory.as_std_path().to_path_buf();
    let structlog_dir = target_dir.join("structlog");
    // The runner is read where the archive is run: the launches here start
    // the executables themselves.
    let here = cargo::Platform {
        triple: platform.triple.clone(),
        runner: None,
    };
    let ctx = plan::Context {
        metadata,
        rust_versions: &workspace.rust_versions,
        build: &build,
        rustc: &rustc,
        config_env: cargo::config_env(&cwd),
        platform: &here,
        // As a run here would list them (the unlocking is not recorded: a
        // run chooses its own).
        unlock: plan::unlock::choose(rustc.is_nightly(), &structlog_dir),
    };
    let planned = plan::binaries(&ctx);
    let mut binaries = Vec::new();
    for b in &planned {
        let env = b
            .launch
            .env
            .iter()
            .map(|(k, v)| {
                let (k, v) = (k.to_string_lossy().into_owned(), v.to_string_lossy());
                let v = if k == cargo::dylib_path_var() {
                    super::added_search_path(&v)
                } else {
                    v.into_owned()
                };
                (k, v)
            })
            .collect();
        binaries.push(Binary {
            id: b.id.clone(),
            harness: b.harness.name().to_string(),
            exe: b.launch.program.clone(),
            cwd: b.launch.cwd.clone(),
            env,
            src_path: b.src_path.clone(),
            order: b.order.clone(),
        });
    }

    // The doctests, as a run with no filter would run them: listed and
    // compiled on a thread of their own while the executables are written.
    let want_docs = doc_only || (!args.targets.any_selected() && args.filter.is_none());
    let has_docs = metadata
        .workspace_packages()
        .iter()
        .any(|p| p.targets.iter().any(|t| t.doctest));
    let scratch = Scratch::new(&structlog_dir)?;
    // The executables' listings, on a thread of their own too.
    let listings = {
        let (flags, root, dir) = (args.flags.clone(), root.clone(), scratch.0.join("listings"));
        std::thread::spawn(move || list_binaries(planned, &flags, &root, &dir))
    };
    let docs = (want_docs && has_docs).then(|| {
        let (cargo_args, cwd, rustc, root, dir) = (
            args.cargo.clone(),
            cwd.clone(),
            rustc.clone(),
            root.clone(),
            scratch.0.clone(),
        );
        std::thread::spawn(move || compile_docs(&cargo_args, &cwd, &rustc, &root, &dir))
    });

    // What goes in, by member name.
    let name_of = |p: &Path| member_name(p, &target_dir, rustc.sysroot.as_deref());
    let mut members: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut loaded: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for b in &binaries {
        let Some(name) = name_of(&b.exe) else {
            return Err(Error::Setup(format!(
                "{} is outside the target directory {}",
                b.exe.display(),
                target_dir.display()
            )));
        };
        members.insert(name, b.exe.clone());
        let mut search = Vec::new();
        for (k, v) in &b.env {
            if k.starts_with("CARGO_BIN_EXE_") {
                let p = PathBuf::from(v);
                if let (Some(name), true) = (name_of(&p), p.is_file()) {
                    members.insert(name, p.clone());
                    loaded.push((p, Vec::new()));
                }
            } else if k == cargo::dylib_path_var() {
                search.extend(std::env::split_paths(v));
            }
        }
        loaded.push((b.exe.clone(), search));
    }
    for p in metadata.workspace_packages() {
        if let Some(script) = build.build_scripts.get(&p.id) {
            add_tree(&script.out_dir, &name_of, &mut members)?;
        }
    }
    let libs = Libraries {
        sysroot: rustc.sysroot.as_deref(),
        triple: &platform.triple,
        name_of: &name_of,
    };
    let mut seen = BTreeSet::new();
    libs.add(loaded, &mut members, &mut seen);

    let rust_versions = workspace
        .rust_versions
        .iter()
        .map(|(id, v)| (id.repr.clone(), v.clone()))
        .collect();
    let packages = metadata
        .workspace_packages()
        .iter()
        .map(|p| {
            let m = p.manifest_path.as_std_path();
            (
                p.name.to_string(),
                m.strip_prefix(&root).unwrap_or(m).to_path_buf(),
            )
        })
        .collect();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        id: archive_id(&root),
        workspace_root: root.clone(),
        target_dir: target_dir.clone(),
        sysroot: rustc.sysroot.clone(),
        target: platform.triple.clone(),
        rustc: Toolchain {
            version: rustc.version.clone(),
            release: rustc.release.clone(),
            host: rustc.host.clone(),
        },
        profile: args.cargo.profile_name().to_string(),
        metadata: serde_json::to_value(metadata)
            .map_err(|e| Error::caused("cannot write the workspace's metadata", e))?,
        rust_versions,
        packages,
        binaries,
        docs: Docs::default(),
    };
    let partial = {
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".partial-{}", std::process::id()));
        file.with_file_name(name)
    };
    let written = (|| -> Result<Docs, Error> {
        let mut out = Writer::start(&partial, &manifest, &members)?;
        for (name, source) in &members {
            out.add_file(name, source)?;
        }
        let compiled = match docs {
            Some(handle) => handle
                .join()
                .map_err(|_| Error::Setup("compiling the doctests panicked".into()))?,
            None => Compiled::default(),
        };
        let mut more = BTreeMap::new();
        for (name, source) in &compiled.members {
            more.insert(name.clone(), source.clone());
        }
        libs.add(compiled.loaded, &mut more, &mut seen);
        more.retain(|name, _| !members.contains_key(name));
        out.grow(&more)?;
        for (name, source) in &more {
            out.add_file(name, source)?;
        }
        let json = serde_json::to_vec(&compiled.docs)
            .map_err(|e| Error::caused("cannot write the doctests' manifest", e))?;
        out.add_data(DOCS, &json)?;
        let listed = listings
            .join()
            .map_err(|_| Error::Setup("listing the tests panicked".into()))?;
        let mut stored = Vec::new();
        for (i, (program, args, output)) in listed.into_iter().enumerate() {
            let Some(b) = manifest.binaries.iter().find(|b| b.exe == program) else {
                continue;
            };
            let member = format!("listings/{i}");
            out.add_data(&member, &output)?;
            stored.push(StoredListing {
                binary: b.id.clone(),
                args,
                member,
            });
        }
        let json = serde_json::to_vec(&stored)
            .map_err(|e| Error::caused("cannot write the listings' manifest", e))?;
        out.add_data(LISTINGS, &json)?;
        out.finish()?;
        Ok(compiled.docs)
    })();
    let docs = match written {
        Ok(d) => d,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, file).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        Error::caused(format!("cannot write {}", file.display()), e)
    })?;
    drop(scratch);
    for m in &docs.missing {
        eprintln!("cargo-structlog: error: {m}");
    }
    Ok(if docs.missing.is_empty() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    })
}

/// The doctests, compiled; the members they add, and the executables whose
/// libraries are to be found.
#[derive(Default)]
struct Compiled {
    docs: Docs,
    members: BTreeMap<String, PathBuf>,
    loaded: Vec<(PathBuf, Vec<PathBuf>)>,
}

/// Has cargo start rustdoc for the doctests as a run would (with this
/// binary as rustdoc, which records how and runs nothing), and rustdoc
/// compile them into `dir`, each package's under a directory of its own.
fn compile_docs(
    cargo_args: &cargo::Options,
    cwd: &Path,
    rustc: &cargo::Rustc,
    root: &Path,
    dir: &Path,
) -> Compiled {
    let mut out = Compiled::default();
    let mut cmd = cargo::cargo_command("test", cargo_args);
    cmd.current_dir(cwd);
    let listing = match cargo::record_doctests(cmd) {
        Ok(l) => l,
        Err(e) => {
            out.docs.missing.push(format!(
                "the doctests are not in the archive: {}",
                e.report()
            ));
            return out;
        }
    };
    if !listing.success && !listing.stderr.contains("no library targets found") {
        eprint!("{}", listing.stderr);
        out.docs.missing.push(format!(
            "the doctests are not in the archive: listing them failed: {}",
            listing.stderr.lines().last().unwrap_or("")
        ));
    }
    for (i, (inv, _)) in listing.invocations.iter().enumerate() {
        let package = inv
            .env
            .iter()
            .find(|(k, _)| k == "CARGO_PKG_NAME")
            .map(|(_, v)| v.clone())
            .or_else(|| inv.crate_name().map(str::to_string))
            .unwrap_or_else(|| format!("doc{i}"));
        let at = dir.join(format!("{i}"));
        let mut tests = match doctests::compile(inv, &at, rustc.rustdoc_merges(), root) {
            Ok(tests) => tests,
            Err(e) => {
                out.docs.missing.push(format!(
                    "the doctests of {package} are not in the archive: {}",
                    e.report()
                ));
                continue;
            }
        };
        let env = doc_env(inv);
        let search: Vec<PathBuf> = env
            .iter()
            .filter(|(k, _)| k == cargo::dylib_path_var())
            .flat_map(|(_, v)| std::env::split_paths(v).collect::<Vec<_>>())
            .collect();
        for t in &mut tests {
            if let doctests::Outcome::Run { exe } | doctests::Outcome::Merged { exe, .. } =
                &mut t.outcome
            {
                let rel = exe.strip_prefix(&at).unwrap_or(exe).to_path_buf();
                let name = format!("doctests/{package}/{}", rel.display());
                if out.members.insert(name.clone(), exe.clone()).is_none() {
                    out.loaded.push((exe.clone(), search.clone()));
                }
                *exe = PathBuf::from(name);
            }
        }
        out.docs.doctests.push(Doctests {
            package,
            cwd: test_run_directory(&inv.args).unwrap_or_else(|| inv.cwd.clone()),
            env,
            tests,
        });
    }
    out
}

/// Lists the libtest executables started directly as a run with `flags`
/// lists them, a few at once; the listings (executable, arguments,
/// output). One that cannot be listed is left to the run.
fn list_binaries(
    planned: Vec<plan::TestBinary>,
    flags: &TestFlags,
    root: &Path,
    dir: &Path,
) -> Vec<(PathBuf, Vec<String>, Vec<u8>)> {
    let cache = plan::ListingCache::new(dir.to_path_buf());
    let queue = std::sync::Mutex::new(
        planned
            .into_iter()
            .filter(|b| b.harness == Harness::Libtest && b.launch.base_args.is_empty())
            .collect::<Vec<_>>(),
    );
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(mut b) = next else { break };
                let _ = plan::discover(&mut b, flags, root, None, Some(&cache));
            });
        }
    });
    cache.entries()
}

/// A file's member name: under `target/` (relative to the target
/// directory) or `toolchain/lib/` (relative to the sysroot's `lib`); none
/// for a file elsewhere.
fn member_name(p: &Path, target_dir: &Path, sysroot: Option<&Path>) -> Option<String> {
    if let Ok(rest) = p.strip_prefix(target_dir) {
        return Some(format!("target/{}", rest.display()));
    }
    let rest = p.strip_prefix(sysroot?.join("lib")).ok()?;
    Some(format!("toolchain/lib/{}", rest.display()))
}

/// Finds the dynamic libraries executables load, from the target directory
/// and the toolchain (the system's own are the system's).
struct Libraries<'a> {
    sysroot: Option<&'a Path>,
    triple: &'a str,
    name_of: &'a dyn Fn(&Path) -> Option<String>,
}

impl Libraries<'_> {
    /// Adds to `members` the libraries each of `loaded` (an executable and
    /// its library search path) loads, and theirs, once each.
    fn add(
        &self,
        mut loaded: Vec<(PathBuf, Vec<PathBuf>)>,
        members: &mut BTreeMap<String, PathBuf>,
        seen: &mut BTreeSet<PathBuf>,
    ) {
        while let Some((exe, search)) = loaded.pop() {
            for lib in needed(&exe) {
                let mut dirs = search.clone();
                if let Some(s) = self.sysroot {
                    dirs.push(s.join("lib").join("rustlib").join(self.triple).join("lib"));
                }
                let Some(found) = dirs.iter().map(|d| d.join(&lib)).find(|p| p.is_file()) else {
                    continue;
                };
                if let Some(name) = (self.name_of)(&found) {
                    if seen.insert(found.clone()) {
                        members.insert(name, found.clone());
                        loaded.push((found, search.clone()));
                    }
                }
            }
        }
    }
}

/// rustdoc's `--test-run-directory`.
fn test_run_directory(args: &[String]) -> Option<PathBuf> {
    let i = args.iter().position(|a| a == "--test-run-directory")?;
    args.get(i + 1).map(PathBuf::from)
}

/// What cargo set for rustdoc, less what rustdoc inherited from this
/// process as it was; the library search path with rustdoc's `-L`
/// directories first, as rustdoc gives its doctests.
fn doc_env(inv: &cargo::RustdocInvocation) -> Vec<(String, String)> {
    let var = cargo::dylib_path_var();
    let mut env: Vec<(String, String)> = inv
        .env
        .iter()
        .filter(|(k, v)| k != var && std::env::var(k).ok().as_ref() != Some(v))
        .cloned()
        .collect();
    let mut dirs: Vec<String> = Vec::new();
    let mut it = inv.args.iter();
    while let Some(a) = it.next() {
        let value = if a == "-L" {
            it.next().cloned()
        } else {
            a.strip_prefix("-L").map(str::to_string)
        };
        if let Some(v) = value {
            let path = v.split_once('=').map_or(v.as_str(), |(_, p)| p).to_string();
            dirs.insert(0, path);
        }
    }
    if let Some((_, v)) = inv.env.iter().find(|(k, _)| k == var) {
        let added = super::added_search_path(v);
        if !added.is_empty() {
            dirs.push(added);
        }
    }
    env.push((var.to_string(), dirs.join(":")));
    env
}

/// A unique id: the workspace, the time, the process.
fn archive_id(root: &Path) -> String {
    let mut h = Sha256::new();
    h.update(root.as_os_str().as_encoded_bytes());
    h.update(format!("{:?}", std::time::SystemTime::now()));
    h.update(std::process::id().to_le_bytes());
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir`, by member name.
fn add_tree(
    dir: &Path,
    name_of: &dyn Fn(&Path) -> Option<String>,
    members: &mut BTreeMap<String, PathBuf>,
) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            add_tree(&path, name_of, members)?;
        } else if path.is_file() {
            if let Some(name) = name_of(&path) {
                members.insert(name, path);
            }
        }
    }
    Ok(())
}

/// The libraries an ELF executable names (`DT_NEEDED`); none for another
/// format (a Mach-O's are not read: see the README's Limitations).
fn needed(exe: &Path) -> Vec<String> {
    use object::read::elf::{Dyn, FileHeader};
    fn of<E: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Option<Vec<String>> {
        let header = E::parse(data).ok()?;
        let endian = header.endian().ok()?;
        let sections = header.sections(endian, data).ok()?;
        let (dynamic, link) = sections.dynamic(endian, data).ok()??;
        let strings = sections.strings(endian, data, link).ok()?;
        Some(
            dynamic
                .iter()
                .filter(|d| d.tag(endian) == object::elf::DT_NEEDED)
                .filter_map(|d| d.string(endian, strings).ok())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        )
    }
    let Ok(file) = std::fs::File::open(exe) else {
        return Vec::new();
    };
    // SAFETY: the file is only read; the build that wrote it is over.
    let Ok(data) = (unsafe { memmap2::Mmap::map(&file) }) else {
        return Vec::new();
    };
    of::<object::elf::FileHeader64<object::Endianness>>(&data)
        .or_else(|| of::<object::elf::FileHeader32<object::Endianness>>(&data))
        .unwrap_or_default()
}

/// A directory of this run's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> Result<Scratch, Error> {
        let dir = parent.join(format!("archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::caused(format!("cannot create {}", dir.display()), e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A reader that hashes what it reads and moves a progress bar.
struct Hashing<'a, R> {
    inner: R,
    hash: xxhash_rust::xxh3::Xxh3,
    bar: &'a indicatif::ProgressBar,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// The zstd level: 1, with long-distance matching over a window of
/// 2^[`WINDOW_LOG`] bytes. Test executables share most of their bytes (the
/// standard library, libtest, the crate under test), a file apart: the long
/// window finds them. Measured on the benchmark workspace's archive (87 MB
/// of tar, 2 CPUs): level 3 without the long window 20.9 MB in 0.26 s;
/// with it, level 1 8.2 MB in 0.21 s, level 3 7.6 MB in 0.28 s; level 19
/// (on a smaller archive) a third smaller again, 70 times slower. Level 1
/// keeps the archive's making close to the build's time.
const LEVEL: i32 = 1;

/// The long-distance window (128 MiB); the reader allows it
/// (`window_log_max`), and needs that much memory at most.
pub(super) const WINDOW_LOG: u32 = 27;

type Encoder = zstd::stream::write::Encoder<'static, io::BufWriter<std::fs::File>>;

/// The archive being written: the tar stream through zstd, each member's
/// size and hash noted for the sums, a progress bar on a terminal.
struct Writer {
    tar: tar::Builder<Encoder>,
    sums: BTreeMap<String, super::extract::Sum>,
    bar: indicatif::ProgressBar,
    path: PathBuf,
}

impl Writer {
    /// Starts the archive at `path` with the manifest; `members` are the
    /// files to come (for the progress bar).
    fn start(
        path: &Path,
        manifest: &Manifest,
        members: &BTreeMap<String, PathBuf>,
    ) -> Result<Writer, Error> {
        let at = |e: io::Error| Error::caused(format!("cannot write {}", path.display()), e);
        let out = std::fs::File::create(path).map_err(at)?;
        let mut encoder = zstd::Encoder::new(io::BufWriter::new(out), LEVEL).map_err(at)?;
        encoder.include_checksum(true).map_err(at)?;
        encoder.long_distance_matching(true).map_err(at)?;
        encoder.window_log(WINDOW_LOG).map_err(at)?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        encoder.multithread(workers).map_err(at)?;
        let bar = if crate::sink::progress::wanted() {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} archiving [{bar:30}] {bytes}/{total_bytes}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut w = Writer {
            tar: tar::Builder::new(encoder),
            sums: BTreeMap::new(),
            bar,
            path: path.to_path_buf(),
        };
        w.grow(members)?;
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::caused("cannot write the manifest", e))?;
        // The manifest is read before the sums: it is not among them.
        append(&mut w.tar, MANIFEST, 0o644, &json[..]).map_err(at)?;
        Ok(w)
    }

    fn at(&self) -> impl Fn(io::Error) -> Error + '_ {
        |e| Error::caused(format!("cannot write {}", self.path.display()), e)
    }

    /// More files to come.
    fn grow(&mut self, members: &BTreeMap<String, PathBuf>) -> Result<(), Error> {
        for source in members.values() {
            let size = std::fs::metadata(source)
                .map_err(|e| Error::caused(format!("cannot read {}", source.display()), e))?
                .len();
            self.bar.inc_length(size);
        }
        Ok(())
    }

    fn add_file(&mut self, name: &str, source: &Path) -> Result<(), Error> {
        let read = |e: io::Error| Error::caused(format!("cannot read {}", source.display()), e);
        let f = std::fs::File::open(source).map_err(read)?;
        let meta = f.metadata().map_err(read)?;
        use std::os::unix::fs::PermissionsExt;
        self.add(name, meta.permissions().mode() & 0o777, meta.len(), f)
    }

    fn add_data(&mut self, name: &str, data: &[u8]) -> Result<(), Error> {
        self.add(name, 0o644, data.len() as u64, data)
    }

    fn add(&mut self, name: &str, mode: u32, size: u64, from: impl Read) -> Result<(), Error> {
        let mut reader = Hashing {
            inner: from.take(size),
            hash: xxhash_rust::xxh3::Xxh3::new(),
            bar: &self.bar,
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        let result = self.tar.append_data(&mut header, name, &mut reader);
        let xxh3 = format!("{:032x}", reader.hash.digest128());
        result.map_err(self.at())?;
        self.sums
            .insert(name.to_string(), super::extract::Sum { size, xxh3 });
        Ok(())
    }

    /// Writes the sums and ends the stream, on disk.
    fn finish(mut self) -> Result<(), Error> {
        self.bar.finish_and_clear();
        let sums = serde_json::to_vec(&self.sums)
            .map_err(|e| Error::caused("cannot write the sums", e))?;
        let path = self.path.clone();
        let at = |e: io::Error| Error::caused(format!("cannot write {}", path.display()), e);
        append(&mut self.tar, SUMS, 0o644, &sums[..]).map_err(at)?;
        let encoder = self.tar.into_inner().map_err(at)?;
        let mut out = encoder.finish().map_err(at)?;
        out.flush().map_err(at)?;
        out.into_inner()
            .map_err(|e| at(e.into_error()))?
            .sync_all()
            .map_err(at)
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    mode: u32,
    data: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
}
