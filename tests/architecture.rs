//! The architecture, checked: the core (parse, aggregate, datums, batches, the metric catalogue
//! and its configuration, ...) names no AWS crate, no async runtime and no edge module, and the
//! `crate::` imports between the modules of src/ form no circle. Reads the sources as text (code
//! only: comments, string literals and unit tests are left out), so it needs nothing but the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core: plain functions over bytes, testable with a string, lowest stage first: a core
/// module imports only modules listed before it. Everything else in src/ is an edge (event
/// shapes, object stores, sinks, markers, settings, entry points).
const CORE: &[&str] = &[
    "hash",
    "catalogue",
    "parse",
    "columnar",
    "distribution",
    "error",
    "config",
    "decompress",
    "dimension_value",
    "aggregate",
    "datum",
    "batch",
    "pipeline",
    "shard_state",
    "report",
    "export",
    "traffic",
];

/// Names a core module may not contain.
const FORBIDDEN_IN_CORE: &[&str] = &["aws_", "tokio", "lambda_runtime", "async_compression"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library source file (binaries and unit-test files excluded), with its top-level module
/// ("" for lib.rs).
fn library_files() -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    files
        .into_iter()
        // Unit tests in their own files (`foo/tests.rs`) are left out like inline ones.
        .filter(|p| p.file_name().is_none_or(|n| n != "tests.rs"))
        .filter_map(|p| {
            let rel = p
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
            match top {
                "main" | "bin" => None,
                "lib" => Some((String::new(), p)),
                top => Some((top.to_owned(), p)),
            }
        })
        .collect()
}

/// The code a module is built from, without its unit tests (`#[cfg(test)] mod tests`, at the
/// end of a file: they may use the in-memory doubles of the edges).
fn production_code(path: &Path) -> String {
    let code = code_only(&std::fs::read_to_string(path).unwrap());
    match code.find("#[cfg(test)]\nmod ") {
        Some(at) => code[..at].to_owned(),
        None => code,
    }
}

/// The source with comments and the contents of string and char literals blanked.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if b.get(i + 1) == Some(&b'#') || (b.get(i + 1) == Some(&b'"')) => {
                // A raw string: r"..." or r#"..."#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"')
                    || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
                {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                out.push_str("\"\"");
                i = j + close.len();
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || (b.get(i + 1) == Some(&b'\\')) => {
                // A char literal ('x' or '\n', '\''); lifetimes ('a) are left alone.
                let mut j = i + 1;
                if b[j] == b'\\' {
                    j += 2;
                    while j < b.len() && b[j] != b'\'' {
                        j += 1;
                    }
                } else {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// The top-level modules a file's code names through `crate::` (grouped imports included).
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = code[at + 7..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ if depth == 1 => item.push(c),
                    _ => {}
                }
            }
            items.push(item);
            refs.extend(
                items
                    .iter()
                    .map(|i| ident(i.trim()))
                    .filter(|i| !i.is_empty()),
            );
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                refs.insert(name);
            }
        }
    }
    refs
}

/// Module → the other top-level modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in library_files() {
        let code = production_code(&path);
        let refs = crate_references(&code);
        let entry = g.entry(module.clone()).or_default();
        entry.extend(refs.into_iter().filter(|r| *r != module));
    }
    g
}

#[test]
fn the_core_names_no_aws_no_runtime_and_no_edge() {
    let modules: BTreeSet<String> = library_files().into_iter().map(|(m, _)| m).collect();
    let edges: BTreeSet<&String> = modules
        .iter()
        .filter(|m| !m.is_empty() && !CORE.contains(&m.as_str()))
        .collect();
    for core in CORE {
        assert!(modules.contains(*core), "core module {core} is not in src/");
    }
    let mut problems = Vec::new();
    for (module, path) in library_files() {
        if !CORE.contains(&module.as_str()) {
            continue;
        }
        let code = production_code(&path);
        for word in FORBIDDEN_IN_CORE {
            if code.contains(word) {
                problems.push(format!("{}: names {word}", path.display()));
            }
        }
        for r in crate_references(&code) {
            if edges.contains(&r) {
                problems.push(format!("{}: imports the edge crate::{r}", path.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the core depends on edges:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_core_stage_imports_a_higher_one() {
    let g = graph();
    let mut problems = Vec::new();
    for (rank, module) in CORE.iter().enumerate() {
        for r in g.get(*module).into_iter().flatten() {
            match CORE.iter().position(|c| c == r) {
                Some(other) if other >= rank => {
                    problems.push(format!("{module} imports the higher stage {r}"))
                }
                _ => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn crate_imports_form_no_circle() {
    let g = graph();
    // Depth-first search for a back edge; reports the first circle found.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            if !g.contains_key(m) {
                continue; // a re-export or an item of the crate root
            }
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut circle = stack[from..].to_vec();
                    circle.push(m.clone());
                    return Some(circle);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys().filter(|n| !n.is_empty()) {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(circle) = visit(n, &g, &mut state, &mut Vec::new())
        {
            panic!("an import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_what_it_must() {
    // The checks must be able to fail: a circle and a forbidden name are found in text.
    let code = code_only(
        "use crate::{config::Settings, sink::SinkKind};\n// crate::handler in a comment\nlet s = \"crate::event\"; let t = crate::idempotency::X; use tokio::io;",
    );
    let refs = crate_references(&code);
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["config", "idempotency", "sink"]
    );
    assert!(code.contains("tokio"));
    assert!(!code.contains("handler"));
}
