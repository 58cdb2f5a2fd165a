//! A test binary's harness: the protocol it speaks, told by what the binary
//! is (its manifest entry, then the entry point its symbol table defines).

use crate::cargo::TestArtifact;
use cargo_metadata::Package;
use std::path::Path;

/// The protocol a test binary speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Harness {
    /// libtest (`harness = true`): JSON with `--report-time`.
    #[default]
    Libtest,
    /// libtest-mimic: JSON, but rejects `--report-time`, `--ensure-time`, `--shuffle`.
    Mimic,
    /// `tester` (a libtest fork): JSON on stable without `RUSTC_BOOTSTRAP`.
    Tester,
    /// Any other `harness = false` binary: run as `cargo test` would, one
    /// result from its exit status.
    Custom,
    /// rustdoc running a package's doctests (libtest inside rustdoc).
    Rustdoc,
}

impl Harness {
    /// Whether the binary takes libtest's flags and writes its JSON.
    pub fn speaks_libtest(self) -> bool {
        !matches!(self, Harness::Custom)
    }

    /// Whether a run can be narrowed to tests chosen by exact name. Not for
    /// rustdoc (it splits `--test-args` at whitespace, and doctest names have
    /// spaces) nor for a custom harness (one test: the binary).
    pub fn selects_by_name(self) -> bool {
        !matches!(self, Harness::Custom | Harness::Rustdoc)
    }

    /// Whether several positional filters may be given (libtest-mimic and
    /// `tester` take one).
    pub fn takes_many_filters(self) -> bool {
        matches!(self, Harness::Libtest | Harness::Rustdoc)
    }

    /// The harness of a name given by [`Harness::name`].
    pub fn from_name(name: &str) -> Option<Harness> {
        [
            Harness::Libtest,
            Harness::Mimic,
            Harness::Tester,
            Harness::Custom,
            Harness::Rustdoc,
        ]
        .into_iter()
        .find(|h| h.name() == name)
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Harness::Libtest => "libtest",
            Harness::Mimic => "libtest-mimic",
            Harness::Tester => "tester",
            Harness::Custom => "custom",
            Harness::Rustdoc => "rustdoc",
        }
    }
}

/// The harness of a target: libtest unless the manifest says `harness = false`;
/// then whatever the executable itself links to run its tests (see
/// [`linked_harness`]), and failing that (an executable without symbols), a
/// guess from the package's dependencies and the target's root source; else
/// a custom harness.
pub(super) fn of(pkg: &Package, art: &TestArtifact, no_harness: &[(String, String)]) -> Harness {
    let kind = if art.kind == "lib" || art.kind.contains("lib") || art.kind == "proc-macro" {
        "lib"
    } else {
        art.kind.as_str()
    };
    let off = no_harness
        .iter()
        .any(|(k, n)| k == kind && (kind == "lib" || n == &art.target_name));
    if !off {
        return Harness::Libtest;
    }
    match linked_harness(&art.executable) {
        Some(Linked::Harness(h)) => h,
        Some(Linked::None) => Harness::Custom,
        None => {
            let source = std::fs::read_to_string(&art.src_path).unwrap_or_default();
            let depends = |krate: &str| pkg.dependencies.iter().any(|d| d.name == krate);
            if depends("libtest-mimic") && source.contains("libtest_mimic") {
                Harness::Mimic
            } else if depends("tester") && source.contains("tester") {
                Harness::Tester
            } else {
                Harness::Custom
            }
        }
    }
}

/// What an executable's symbol table says about its harness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Linked {
    Harness(Harness),
    /// It has symbols, and none of a known harness's entry points.
    None,
}

/// The entry points of the harnesses that speak libtest's protocol, as they
/// appear in mangled symbol names (legacy `_ZN13libtest_mimic3run17h..E` and
/// v0 `_RNv..13libtest_mimic3run` both hold these runs of length-prefixed
/// names). An executable that defines one of these calls it: the linker
/// keeps no function that nothing calls, so a binary that merely depends on
/// the crate, or one whose macro from another crate (`harness!` of a
/// data-driven test crate) calls it, is told apart by what it runs.
const HARNESS_SYMBOLS: &[(&[u8], Harness)] = &[
    (b"13libtest_mimic3run", Harness::Mimic),
    (b"6tester9test_main", Harness::Tester),
    (b"6tester16test_main_static", Harness::Tester),
];

/// Reads an executable's symbol table (ELF or Mach-O) for a known harness's
/// entry point. `None` when it cannot be read or has no symbols (stripped).
fn linked_harness(exe: &Path) -> Option<Linked> {
    use object::{Object, ObjectSymbol};
    let file = std::fs::File::open(exe).ok()?;
    // SAFETY: the executable is only read, and cargo does not rewrite it
    // while this run holds it (a concurrent rebuild would replace the file,
    // leaving this mapping on the old one).
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let obj = object::File::parse(&*map).ok()?;
    let mut any = false;
    for sym in obj.symbols() {
        any = true;
        if !sym.is_definition() {
            continue;
        }
        let Ok(name) = sym.name_bytes() else { continue };
        for (needle, harness) in HARNESS_SYMBOLS {
            if memchr::memmem::find(name, needle).is_some() {
                return Some(Linked::Harness(*harness));
            }
        }
    }
    any.then_some(Linked::None)
}

/// Reads a package's manifest for what `cargo metadata` leaves out: which
/// targets say `harness = false`. Keys are `(kind, name)` with kind one of
/// `lib`, `bin`, `test`, `bench`, `example`.
pub(crate) fn harness_false_targets(manifest: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return Vec::new();
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let no_harness = |t: &toml::Table| t.get("harness").and_then(|h| h.as_bool()) == Some(false);
    if let Some(lib) = doc.get("lib").and_then(|l| l.as_table()) {
        if no_harness(lib) {
            let name = lib
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_default();
            out.push(("lib".to_string(), name));
        }
    }
    for kind in ["bin", "test", "bench", "example"] {
        if let Some(arr) = doc.get(kind).and_then(|v| v.as_array()) {
            for t in arr.iter().filter_map(|t| t.as_table()) {
                if no_harness(t) {
                    if let Some(n) = t.get("name").and_then(|n| n.as_str()) {
                        out.push((kind.to_string(), n.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_false_is_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("Cargo.toml");
        std::fs::write(
            &m,
            "[package]\nname='x'\n[lib]\nharness=false\n[[test]]\nname='a'\nharness=false\n[[test]]\nname='b'\n",
        )
        .unwrap();
        assert_eq!(
            harness_false_targets(&m),
            vec![("lib".into(), "".into()), ("test".into(), "a".into())]
        );
    }
}
