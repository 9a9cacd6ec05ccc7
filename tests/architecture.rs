//! The module layout docs/ARCHITECTURE.md draws, checked on the source: every module imports only
//! modules before it in the pipeline's order (no arrow pointing up, hence no circle between
//! modules), and no two files of one folder import each other, directly or in a ring.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's top-level modules in the order of docs/ARCHITECTURE.md: each may import only the
/// modules listed before it.
const LAYERS: &[&str] = &[
    "time",
    "objects",
    "store",
    "datafeed",
    "bucket",
    "model",
    "results",
    "exceptions",
    "rule",
    "output",
    "jobs",
    "state",
    "spark",
    "pipeline",
    "fixtures",
    "ingest",
    "triage",
    "report",
    "evaluate",
    "error",
    "cli",
];

/// The source of one file without its line comments and its `#[cfg(test)]` module (tests may
/// reach anywhere).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(&path) {
            out.push(path);
        }
    }
}

/// A file of unit tests (`tests.rs`, `*_tests.rs`), which may reach anywhere.
fn is_test_file(path: &Path) -> bool {
    path.file_stem()
        .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
}

/// The identifiers that follow `prefix` in `code`, including each first name of a `{…}` group
/// right after it (`use crate::{a, b::c}` gives `a` and `b`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '$')) {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at the group's top level: after its `{` and after each comma outside an
            // inner group.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            names.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_imports_only_the_modules_before_it() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let rank = LAYERS
            .iter()
            .position(|m| *m == module)
            .unwrap_or_else(|| panic!("{module} (src/{}) is not in LAYERS", relative.display()));
        for used in names_after(&code(path), "crate::") {
            // `crate::Error` is the one error of `error.rs`.
            let used = if used == "Error" {
                "error".to_string()
            } else {
                used
            };
            if used == module {
                continue;
            }
            match LAYERS.iter().position(|m| *m == used) {
                Some(r) if r < rank => {}
                _ => wrong.push(format!("src/{} uses crate::{used}", relative.display())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_files_of_one_folder_import_each_other() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Within each folder: file stem → the sibling files it names through `super::`.
    let mut folders: BTreeMap<PathBuf, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for path in &files {
        let stem = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .to_string();
        if stem == "mod" {
            continue;
        }
        let folder = path.parent().expect("a folder").to_path_buf();
        let siblings = |name: &String| {
            name != &stem
                && (folder.join(format!("{name}.rs")).is_file()
                    || folder.join(name).join("mod.rs").is_file())
        };
        let used = names_after(&code(path), "super::");
        let edges = used.into_iter().filter(siblings).collect();
        folders.entry(folder).or_default().insert(stem, edges);
    }
    let mut rings = Vec::new();
    for (folder, graph) in &folders {
        for start in graph.keys() {
            // A file that reaches itself through its siblings is in a ring.
            let mut seen = BTreeSet::new();
            let mut next: Vec<&String> = graph[start].iter().collect();
            while let Some(file) = next.pop() {
                if file == start {
                    rings.push(format!("{}/{start}.rs", folder.display()));
                    break;
                }
                if seen.insert(file) {
                    next.extend(graph.get(file).into_iter().flatten());
                }
            }
        }
    }
    assert!(
        rings.is_empty(),
        "files in an import ring with their siblings:\n{}",
        rings.join("\n")
    );
}
