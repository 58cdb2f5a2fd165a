//! The source layout keeps the shape the README's map describes: top-level
//! modules depend on each other one way (no cycle), no file grows past
//! 1000 lines of code (its tests aside), few files sit loose at the top of
//! `src/`, and the library's public surface stays small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's text before its test module, without comment lines.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules (`src/NAME.rs` or `src/NAME/`), but `lib` and `main`.
fn top_modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|n| n != "lib" && n != "main")
        .collect()
}

/// The top-level modules a text names through `crate::` paths, plain
/// (`crate::plan::Harness`) or grouped (`use crate::{model, sink::Sink}`).
fn named(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for part in group.split(',') {
                out.insert(ident(part.trim()));
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| modules.contains(m));
    out
}

#[test]
fn top_level_modules_depend_one_way() {
    let modules = top_modules();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let dir = src().join(module);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src().join(format!("{module}.rs")));
        }
        let mut used = BTreeSet::new();
        for f in files {
            used.extend(named(&code(&f), &modules));
        }
        used.remove(module);
        deps.insert(module.clone(), used);
    }
    // A depth-first walk; a module met again on the current path closes a
    // cycle.
    fn walk(
        m: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            cycles.push(format!("{} -> {m}", path[at..].join(" -> ")));
            return;
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        for d in &deps[m] {
            walk(d, deps, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    for m in &modules {
        let mut done = BTreeSet::new();
        walk(m, &deps, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "{cycles:#?}\n{deps:#?}");
    // The check sees real dependencies: the run uses the plan.
    assert!(deps["run"].contains("plan"), "{deps:#?}");
}

#[test]
fn files_stay_small_and_the_public_surface_narrow() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let big: Vec<String> = files
        .iter()
        .map(|f| {
            let lines = code(f).lines().filter(|l| !l.trim().is_empty()).count();
            (f, lines)
        })
        .filter(|(_, n)| *n > 1000)
        .map(|(f, n)| format!("{}: {n} lines", f.display()))
        .collect();
    assert!(big.is_empty(), "{big:#?}");

    let loose: Vec<_> = std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(loose.len() <= 8, "{loose:#?}");

    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let public: Vec<&str> = lib.lines().filter(|l| l.starts_with("pub mod ")).collect();
    assert!(!public.is_empty() && public.len() <= 6, "{public:#?}");
}
