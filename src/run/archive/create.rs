//! `cargo structlog archive`: build the tests, compile the doctests, and
//! write the archive (see the module above for what it holds).

use super::doctests;
use super::{Binary, Doctests, Manifest, Toolchain, FORMAT, MANIFEST, SUMS, VERSION};
use crate::cargo::{self, Build};
use crate::error::{exit, Error};
use crate::plan::{self, flags::TestFlags, Harness};
use crate::run::Settings;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
        unlock: plan::unlock::Unlock::Nothing,
    };
    let mut binaries = Vec::new();
    for b in plan::binaries(&ctx) {
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
            id: b.id,
            harness: b.harness.name().to_string(),
            exe: b.launch.program,
            cwd: b.launch.cwd,
            env,
            src_path: b.src_path,
            order: b.order,
        });
    }

    // The doctests, as a run with no filter would run them.
    let mut missing = Vec::new();
    let want_docs = doc_only || (!args.targets.any_selected() && args.filter.is_none());
    let has_docs = metadata
        .workspace_packages()
        .iter()
        .any(|p| p.targets.iter().any(|t| t.doctest));
    let scratch = Scratch::new(&structlog_dir)?;
    let mut docs = Vec::new();
    let mut doc_dirs = Vec::new();
    if want_docs && has_docs {
        eprintln!("cargo-structlog: compiling the doctests for the archive");
        let mut cmd = cargo::cargo_command("test", &args.cargo);
        cmd.current_dir(&cwd);
        let list_args = TestFlags::default().list_args(Harness::Rustdoc);
        let bootstrap = (!rustc.is_nightly()).then_some("-1");
        let listing = cargo::list_doctests(cmd, &list_args, bootstrap, rustc.rustdoc_merges())?;
        if !listing.success && !listing.stderr.contains("no library targets found") {
            eprint!("{}", listing.stderr);
            missing.push(format!(
                "listing the doctests failed where the archive was made: {}",
                listing.stderr.lines().last().unwrap_or("")
            ));
        }
        for (i, (inv, lines)) in listing.invocations.iter().enumerate() {
            let package = inv
                .env
                .iter()
                .find(|(k, _)| k == "CARGO_PKG_NAME")
                .map(|(_, v)| v.clone())
                .or_else(|| inv.crate_name().map(str::to_string))
                .unwrap_or_else(|| format!("doc{i}"));
            let dir = scratch.0.join(format!("{i}"));
            match doctests::compile(inv, lines, &dir, rustc.rustdoc_merges(), &root) {
                Ok(compiled) => {
                    let cwd = test_run_directory(&inv.args).unwrap_or_else(|| inv.cwd.clone());
                    docs.push((package, cwd, doc_env(inv), compiled.tests));
                    doc_dirs.push(compiled.dir);
                }
                Err(e) => missing.push(format!(
                    "the doctests of {package} are not in the archive: {}",
                    e.report()
                )),
            }
        }
    }

    // What goes in, by member name.
    let mut members: BTreeMap<String, PathBuf> = BTreeMap::new();
    let sysroot = rustc.sysroot.clone();
    let name_of = |p: &Path| -> Option<String> {
        if let Ok(rest) = p.strip_prefix(&target_dir) {
            return Some(format!("target/{}", rest.display()));
        }
        let sysroot = sysroot.as_ref()?;
        let rest = p.strip_prefix(sysroot.join("lib")).ok()?;
        Some(format!("toolchain/lib/{}", rest.display()))
    };
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
    let mut doctest_sets = Vec::new();
    for ((package, cwd, env, mut tests), dir) in docs.into_iter().zip(&doc_dirs) {
        let at = format!("doctests/{package}");
        let search: Vec<PathBuf> = env
            .iter()
            .filter(|(k, _)| k == cargo::dylib_path_var())
            .flat_map(|(_, v)| std::env::split_paths(v).collect::<Vec<_>>())
            .collect();
        for t in &mut tests {
            if let doctests::Outcome::Run { exe } = &mut t.outcome {
                let rel = exe.strip_prefix(dir).unwrap_or(exe).to_path_buf();
                loaded.push((exe.clone(), search.clone()));
                let name = format!("{at}/{}", rel.display());
                members.insert(name.clone(), exe.clone());
                *exe = PathBuf::from(name);
            }
        }
        doctest_sets.push(Doctests {
            package,
            cwd,
            env,
            tests,
        });
    }
    // The dynamic libraries they load, from the target directory and the
    // toolchain (the system's own are the system's).
    let mut seen = BTreeSet::new();
    while let Some((exe, search)) = loaded.pop() {
        for lib in needed(&exe) {
            let mut dirs = search.clone();
            if let Some(s) = &rustc.sysroot {
                dirs.push(
                    s.join("lib")
                        .join("rustlib")
                        .join(&platform.triple)
                        .join("lib"),
                );
            }
            let Some(found) = dirs.iter().map(|d| d.join(&lib)).find(|p| p.is_file()) else {
                continue;
            };
            if let Some(name) = name_of(&found) {
                if seen.insert(found.clone()) {
                    members.insert(name, found.clone());
                    loaded.push((found, search.clone()));
                }
            }
        }
    }

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
        doctests: doctest_sets,
        missing,
    };
    for m in &manifest.missing {
        eprintln!("cargo-structlog: error: {m}");
    }
    write(file, &manifest, &members)?;
    drop(scratch);
    Ok(if manifest.missing.is_empty() {
        exit::OK
    } else {
        exit::TESTS_FAILED
    })
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
    let Ok(data) = std::fs::read(exe) else {
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
    hash: Sha256,
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

/// The zstd level: 3, zstd's default, with long-distance matching over a
/// window of 2^[`WINDOW_LOG`] bytes. Test executables share most of their
/// bytes (the standard library, libtest, the crate under test), a file
/// apart: the long window finds them. Measured on the benchmark's smoke
/// archive (22.7 MB of tar): level 3 5.48 MB in 0.09 s; level 3 with the
/// long window 3.06 MB in 0.08 s; level 9 with it 2.63 MB in 0.23 s; level
/// 19 1.92 MB in 6.7 s.
const LEVEL: i32 = 3;

/// The long-distance window (128 MiB); the reader allows it
/// (`window_log_max`), and needs that much memory at most.
pub(super) const WINDOW_LOG: u32 = 27;

/// Writes the archive: to a file beside `file`, renamed to it once whole.
fn write(
    file: &Path,
    manifest: &Manifest,
    members: &BTreeMap<String, PathBuf>,
) -> Result<(), Error> {
    let partial = {
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".partial-{}", std::process::id()));
        file.with_file_name(name)
    };
    let result = write_to(&partial, manifest, members);
    match result {
        Ok(()) => std::fs::rename(&partial, file).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::caused(format!("cannot write {}", file.display()), e)
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_to(
    path: &Path,
    manifest: &Manifest,
    members: &BTreeMap<String, PathBuf>,
) -> Result<(), Error> {
    let at = |e: io::Error| Error::caused(format!("cannot write {}", path.display()), e);
    let out = std::fs::File::create(path).map_err(at)?;
    let mut encoder = zstd::Encoder::new(io::BufWriter::new(out), LEVEL).map_err(at)?;
    encoder.include_checksum(true).map_err(at)?;
    encoder.long_distance_matching(true).map_err(at)?;
    encoder.window_log(WINDOW_LOG).map_err(at)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    encoder.multithread(workers).map_err(at)?;
    let mut tar = tar::Builder::new(encoder);
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::caused("cannot write the manifest", e))?;
    append(&mut tar, MANIFEST, 0o644, &json[..]).map_err(at)?;
    let mut sizes = HashMap::new();
    for (name, source) in members {
        let size = std::fs::metadata(source)
            .map_err(|e| Error::caused(format!("cannot read {}", source.display()), e))?
            .len();
        sizes.insert(name, size);
    }
    let bar = if crate::sink::progress::wanted() {
        let bar = indicatif::ProgressBar::new(sizes.values().sum());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} archiving [{bar:30}] {bytes}/{total_bytes} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut sums = BTreeMap::new();
    for (name, source) in members {
        let f = std::fs::File::open(source)
            .map_err(|e| Error::caused(format!("cannot read {}", source.display()), e))?;
        let meta = f
            .metadata()
            .map_err(|e| Error::caused(format!("cannot read {}", source.display()), e))?;
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        let mut reader = Hashing {
            inner: f.take(sizes[name]),
            hash: Sha256::new(),
            bar: &bar,
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(sizes[name]);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, &mut reader)
            .map_err(at)?;
        sums.insert(
            name.clone(),
            super::extract::Sum {
                size: sizes[name],
                sha256: hex(&reader.hash.finalize()),
            },
        );
    }
    bar.finish_and_clear();
    let sums = serde_json::to_vec(&sums).map_err(|e| Error::caused("cannot write the sums", e))?;
    append(&mut tar, SUMS, 0o644, &sums[..]).map_err(at)?;
    let encoder = tar.into_inner().map_err(at)?;
    let mut out = encoder.finish().map_err(at)?;
    out.flush().map_err(at)?;
    out.into_inner()
        .map_err(|e| at(e.into_error()))?
        .sync_all()
        .map_err(at)?;
    Ok(())
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
