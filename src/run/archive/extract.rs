//! Reading an archive: every member checked (zstd's checksum of the whole
//! stream, then each member's size and XXH3-128 hash against the sums written
//! last), into a directory that is only put in place once all of it is
//! whole: an archive cut short, changed, missing a member or not ours
//! leaves nothing behind.

use super::{Docs, Manifest, DOCS, FORMAT, MANIFEST, SUMS, VERSION};
use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// A member's size and XXH3-128 hash (hex), in the sums. They find damage
/// (a member cut, changed or missing), not tampering: whoever can change a
/// member can change the sums beside it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sum {
    pub size: u64,
    pub xxh3: String,
}

/// The file that says which archive a kept extraction holds.
const MARKER: &str = ".structlog-archive-id";

/// An archive, extracted.
pub struct Extracted {
    pub manifest: Manifest,
    pub dir: PathBuf,
    /// Removed when dropped (no `--extract-to`).
    temporary: bool,
}

impl Drop for Extracted {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A directory being extracted into, removed unless kept.
struct Staging {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn damaged(file: &Path, why: impl std::fmt::Display) -> Error {
    Error::Setup(format!(
        "{}: not a whole cargo-structlog archive: {why}",
        file.display()
    ))
}

/// Reads the manifest at the archive's start.
fn manifest_of<R: Read>(file: &Path, entry: &mut tar::Entry<R>) -> Result<Manifest, Error> {
    let name = entry.path().map_err(|e| damaged(file, e))?.into_owned();
    if name != Path::new(MANIFEST) {
        return Err(damaged(
            file,
            format!("it starts with {} rather than {MANIFEST}", name.display()),
        ));
    }
    let mut text = Vec::new();
    entry.read_to_end(&mut text).map_err(|e| damaged(file, e))?;
    #[derive(Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head = serde_json::from_slice(&text).map_err(|e| damaged(file, e))?;
    if head.format != FORMAT || head.version != VERSION {
        return Err(damaged(
            file,
            format!(
                "its format is {} version {}; this tool reads {FORMAT} version {VERSION}",
                head.format, head.version
            ),
        ));
    }
    serde_json::from_slice(&text).map_err(|e| damaged(file, e))
}

/// Opens and extracts `file`: into `extract_to` when given (used again when
/// it already holds this archive), else into a temporary directory removed
/// when the result is dropped.
/// `check` is asked whether the manifest is what the caller can run,
/// before anything is extracted.
pub fn open(
    file: &Path,
    extract_to: Option<&Path>,
    check: &dyn Fn(&Manifest) -> Result<(), Error>,
) -> Result<Extracted, Error> {
    let reader = || -> Result<_, Error> {
        let f = std::fs::File::open(file)
            .map_err(|e| Error::caused(format!("cannot open {}", file.display()), e))?;
        let mut decoder = zstd::Decoder::new(f).map_err(|e| damaged(file, e))?;
        decoder
            .window_log_max(super::create::WINDOW_LOG)
            .map_err(|e| damaged(file, e))?;
        Ok(tar::Archive::new(decoder))
    };
    if let Some(dir) = extract_to {
        let mut archive = reader()?;
        let mut entries = archive.entries().map_err(|e| damaged(file, e))?;
        let mut first = entries
            .next()
            .ok_or_else(|| damaged(file, "it is empty"))?
            .map_err(|e| damaged(file, e))?;
        let manifest = manifest_of(file, &mut first)?;
        check(&manifest)?;
        let kept = std::fs::read_to_string(dir.join(MARKER)).unwrap_or_default();
        let docs = read_docs(&dir.join(DOCS));
        if let (true, Some(docs)) = (kept.trim() == manifest.id, docs) {
            let mut manifest = manifest;
            manifest.docs = docs;
            return Ok(Extracted {
                manifest,
                dir: dir.to_path_buf(),
                temporary: false,
            });
        }
        let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        if !empty && kept.is_empty() {
            return Err(Error::Usage(format!(
                "--extract-to {}: the directory is not empty and holds no extracted archive",
                dir.display()
            )));
        }
    }
    let parent = match extract_to {
        Some(dir) => dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        None => std::env::temp_dir(),
    };
    let staging = Staging {
        dir: parent.join(format!(
            ".structlog-extract-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )),
        keep: false,
    };
    std::fs::create_dir_all(&staging.dir)
        .map_err(|e| Error::caused(format!("cannot create {}", staging.dir.display()), e))?;
    let manifest = extract(file, reader()?, &staging.dir, check)?;
    let mut staging = staging;
    let dir = match extract_to {
        Some(dir) => {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::rename(&staging.dir, dir).map_err(|e| {
                Error::caused(
                    format!("cannot move the extraction to {}", dir.display()),
                    e,
                )
            })?;
            staging.keep = true;
            std::fs::write(dir.join(MARKER), &manifest.id)
                .map_err(|e| Error::caused(format!("cannot write in {}", dir.display()), e))?;
            dir.to_path_buf()
        }
        None => {
            staging.keep = true;
            staging.dir.clone()
        }
    };
    Ok(Extracted {
        manifest,
        dir,
        temporary: extract_to.is_none(),
    })
}

/// The doctests' member, as extracted.
fn read_docs(path: &Path) -> Option<Docs> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Writes every member under `dir`, checking each; the manifest.
fn extract<R: io::BufRead>(
    file: &Path,
    mut archive: tar::Archive<zstd::Decoder<'static, R>>,
    dir: &Path,
    check: &dyn Fn(&Manifest) -> Result<(), Error>,
) -> Result<Manifest, Error> {
    let mut entries = archive.entries().map_err(|e| damaged(file, e))?;
    let mut first = entries
        .next()
        .ok_or_else(|| damaged(file, "it is empty"))?
        .map_err(|e| damaged(file, e))?;
    let mut manifest = manifest_of(file, &mut first)?;
    check(&manifest)?;
    drop(first);
    let mut written: BTreeMap<String, Sum> = BTreeMap::new();
    let mut sums: Option<BTreeMap<String, Sum>> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(file, e))?;
        let name = entry
            .path()
            .map_err(|e| damaged(file, e))?
            .to_string_lossy()
            .into_owned();
        if sums.is_some() {
            return Err(damaged(file, format!("{name} follows {SUMS}")));
        }
        if name == SUMS {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(|e| damaged(file, e))?;
            sums = Some(serde_json::from_slice(&text).map_err(|e| damaged(file, e))?);
            continue;
        }
        let rel = Path::new(&name);
        let top = rel.components().next();
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        let known = matches!(top, Some(Component::Normal(t)) if ["target", "toolchain", "doctests", "listings"].contains(&t.to_str().unwrap_or("")));
        if !plain || !known || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(damaged(file, format!("unexpected member {name}")));
        }
        let to = dir.join(rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)
                .map_err(|e| Error::caused(format!("cannot create {}", p.display()), e))?;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let mut out = std::fs::File::create(&to)
            .map_err(|e| Error::caused(format!("cannot write {}", to.display()), e))?;
        let mut hash = xxhash_rust::xxh3::Xxh3::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry.read(&mut buf).map_err(|e| damaged(file, e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            size += n as u64;
            out.write_all(&buf[..n])
                .map_err(|e| Error::caused(format!("cannot write {}", to.display()), e))?;
        }
        use std::os::unix::fs::PermissionsExt;
        out.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::caused(format!("cannot write {}", to.display()), e))?;
        let xxh3 = format!("{:032x}", hash.digest128());
        written.insert(name, Sum { size, xxh3 });
    }
    // The rest of the stream, to its end: zstd checks its checksum there.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| damaged(file, e))?;
    let Some(sums) = sums else {
        return Err(damaged(file, format!("{SUMS} is missing (cut short?)")));
    };
    for (name, sum) in &sums {
        match written.get(name) {
            None => return Err(damaged(file, format!("member {name} is missing"))),
            Some(w) if w != sum => {
                return Err(damaged(
                    file,
                    format!("member {name} differs from what was archived"),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = written.keys().find(|k| !sums.contains_key(*k)) {
        return Err(damaged(file, format!("member {extra} was not archived")));
    }
    manifest.docs = read_docs(&dir.join(DOCS))
        .ok_or_else(|| damaged(file, format!("{DOCS} cannot be read")))?;
    Ok(manifest)
}
