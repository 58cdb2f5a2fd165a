//! The environment `cargo test` gives a test process, and what cargo's
//! configuration adds to it.

use cargo_metadata::Package;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::*;

/// The name of the variable the dynamic linker searches.
pub fn dylib_path_var() -> &'static str {
    if cfg!(windows) {
        "PATH"
    } else if cfg!(target_os = "macos") {
        "DYLD_FALLBACK_LIBRARY_PATH"
    } else {
        "LD_LIBRARY_PATH"
    }
}

/// What the runtime environment of one test executable is made from.
pub struct TestEnvInput<'a> {
    pub pkg: &'a Package,
    /// The package's `rust-version` as written (see [`Workspace`]).
    pub rust_version: Option<&'a str>,
    /// The target's kind (`lib`, `bin`, `test`, `bench`, `example`, ...).
    pub kind: &'a str,
    pub exe: &'a Path,
    /// The package's build script's output, if it has one.
    pub build_script: Option<&'a BuildScript>,
    /// Every build script's library search paths (cargo puts those inside
    /// the profile's output directory on the library path of every test).
    pub native_dirs: &'a [PathBuf],
    /// The `[env]` table of cargo's configuration (see [`config_env`]).
    pub config_env: &'a [ConfigEnv],
    /// The target's triple (the host's when not cross-compiling).
    pub target: &'a str,
    pub rustc: &'a Rustc,
}

/// The environment `cargo test` gives a package's test executable on top of
/// its own, in the order cargo sets it (a later one wins): the library
/// search path (the build scripts' library paths inside the profile's
/// output directory, that directory, its `deps`, the toolchain's libraries
/// for the target, then the inherited path), the build script's `OUT_DIR`
/// and `rustc-env` variables, `CARGO`, `CARGO_MANIFEST_*`, `CARGO_PKG_*`,
/// the `[env]` table of cargo's configuration, and for integration tests and
/// benchmarks `CARGO_BIN_EXE_<name>` for each of the package's binaries
/// (cargo 1.94 and later set it at run time too).
pub fn test_env(input: &TestEnvInput) -> Vec<(OsString, OsString)> {
    let TestEnvInput { pkg, kind, exe, .. } = *input;
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    let profile_dir = exe.parent().and_then(Path::parent);
    let mut search: Vec<PathBuf> = Vec::new();
    if let Some(profile_dir) = profile_dir {
        let mut native: Vec<&PathBuf> = input
            .native_dirs
            .iter()
            .filter(|p| p.starts_with(profile_dir))
            .collect();
        native.sort();
        native.dedup();
        search.extend(native.into_iter().cloned());
        search.push(profile_dir.to_path_buf());
    }
    if let Some(deps) = exe.parent() {
        search.push(deps.to_path_buf());
    }
    if let Some(sysroot) = &input.rustc.sysroot {
        search.push(
            sysroot
                .join("lib")
                .join("rustlib")
                .join(input.target)
                .join("lib"),
        );
    }
    let var = dylib_path_var();
    if let Some(existing) = std::env::var_os(var) {
        search.extend(std::env::split_paths(&existing));
    }
    if let Ok(joined) = std::env::join_paths(search) {
        env.push((var.into(), joined));
    }
    let mut set = |k: &str, v: &OsStr| env.push((k.into(), v.to_owned()));
    if let Some(b) = input.build_script {
        set("OUT_DIR", b.out_dir.as_os_str());
        for (k, v) in &b.env {
            set(k, OsStr::new(v));
        }
    }
    set("CARGO", &cargo_program());
    let manifest = pkg.manifest_path.as_std_path();
    set(
        "CARGO_MANIFEST_DIR",
        manifest.parent().unwrap_or(manifest).as_os_str(),
    );
    set("CARGO_MANIFEST_PATH", manifest.as_os_str());
    let v = &pkg.version;
    let s = |x: &str| OsString::from(x);
    set("CARGO_PKG_VERSION_MAJOR", &s(&v.major.to_string()));
    set("CARGO_PKG_VERSION_MINOR", &s(&v.minor.to_string()));
    set("CARGO_PKG_VERSION_PATCH", &s(&v.patch.to_string()));
    set("CARGO_PKG_VERSION_PRE", &s(v.pre.as_str()));
    set("CARGO_PKG_VERSION", &s(&v.to_string()));
    set("CARGO_PKG_NAME", &s(&pkg.name));
    set(
        "CARGO_PKG_DESCRIPTION",
        &s(pkg.description.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_HOMEPAGE",
        &s(pkg.homepage.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_REPOSITORY",
        &s(pkg.repository.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_LICENSE",
        &s(pkg.license.as_deref().unwrap_or("")),
    );
    set(
        "CARGO_PKG_LICENSE_FILE",
        &s(pkg.license_file.as_ref().map(|p| p.as_str()).unwrap_or("")),
    );
    set("CARGO_PKG_AUTHORS", &s(&pkg.authors.join(":")));
    set(
        "CARGO_PKG_RUST_VERSION",
        &s(input.rust_version.unwrap_or("")),
    );
    set(
        "CARGO_PKG_README",
        &s(pkg.readme.as_ref().map(|p| p.as_str()).unwrap_or("")),
    );
    // `[env]` fills what neither the environment nor cargo set, unless forced.
    for c in input.config_env {
        let taken =
            || std::env::var_os(&c.key).is_some() || env.iter().any(|(k, _)| k == c.key.as_str());
        if c.force || !taken() {
            env.push((c.key.clone().into(), c.value.clone().into()));
        }
    }
    if matches!(kind, "test" | "bench") {
        if let Some(profile_dir) = profile_dir {
            for t in pkg.targets.iter().filter(|t| t.is_bin()) {
                let file = format!("{}{}", t.name, std::env::consts::EXE_SUFFIX);
                env.push((
                    format!("CARGO_BIN_EXE_{}", t.name).into(),
                    profile_dir.join(file).into(),
                ));
            }
        }
    }
    env
}

/// One entry of the `[env]` table of cargo's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEnv {
    pub key: String,
    pub value: String,
    /// `force = true`: it overrides the environment and cargo's own variables.
    pub force: bool,
}

/// The `[env]` entries of cargo's configuration files that apply when cargo
/// runs in `cwd`: `.cargo/config.toml` (or `.cargo/config`) in `cwd` and every
/// ancestor, then `$CARGO_HOME/config.toml`; closer files win. Values may be
/// strings or `{ value, force, relative }` tables. Forced entries override
/// the environment; the others only fill gaps (see [`test_env`]).
pub fn config_env(cwd: &Path) -> Vec<ConfigEnv> {
    let files = config_files(cwd);
    let mut out: BTreeMap<String, ConfigEnv> = BTreeMap::new();
    // Farthest first, so closer files overwrite.
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(value) = text.parse::<toml::Table>() else {
            continue;
        };
        let Some(env) = value.get("env").and_then(|e| e.as_table()) else {
            continue;
        };
        let base = file
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"));
        for (k, v) in env {
            let (val, force, relative) = match v {
                toml::Value::String(s) => (s.clone(), false, false),
                toml::Value::Table(t) => (
                    t.get("value")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    t.get("force").and_then(|v| v.as_bool()).unwrap_or(false),
                    t.get("relative").and_then(|v| v.as_bool()).unwrap_or(false),
                ),
                _ => continue,
            };
            let value = if relative {
                base.join(val).to_string_lossy().into_owned()
            } else {
                val
            };
            out.insert(
                k.clone(),
                ConfigEnv {
                    key: k.clone(),
                    value,
                    force,
                },
            );
        }
    }
    out.into_values().collect()
}

/// Cargo's configuration files for a run in `cwd`, closest first:
/// `.cargo/config.toml` (or `.cargo/config`) in `cwd` and every ancestor,
/// then `$CARGO_HOME/config.toml` (or `config`).
pub fn config_files(cwd: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in cwd.ancestors() {
        for name in ["config.toml", "config"] {
            let f = dir.join(".cargo").join(name);
            if f.is_file() {
                files.push(f);
                break;
            }
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        for name in ["config.toml", "config"] {
            let f = home.join(name);
            if f.is_file() && !files.contains(&f) {
                files.push(f);
                break;
            }
        }
    }
    files
}
