//! The crate's architecture, checked: the layers `domain` → `store` → `http`
//! → `function` import only downwards (a layer uses the ones before it in
//! that list, never one after it), the domain uses no AWS or HTTP crate, the
//! store no HTTP crate, and no module imports another that imports it back,
//! directly or around a circle.
//!
//! The module graph is read from the sources: every `crate::…` and
//! `super::…` path of a file's code (its `#[cfg(test)]` module left out),
//! `use` trees expanded, resolved to the file that defines the module. A
//! layer's `mod.rs` that only declares and re-exports its modules is a
//! façade, not a dependency: `pub mod`/`pub use` lines make no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: [&str; 4] = ["domain", "store", "http", "function"];

/// External crates each layer must not use.
const FORBIDDEN_CRATES: [(&str, &[&str]); 2] = [
    (
        "domain",
        &[
            "aws_sdk_dynamodb",
            "aws_config",
            "aws_smithy",
            "lambda_http",
            "serde_dynamo",
        ],
    ),
    ("store", &["lambda_http"]),
];

/// A source file as a module: its path segments (`["store", "clients"]`) and code.
struct Module {
    path: Vec<String>,
    code: String,
}

fn source_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn modules() -> Vec<Module> {
    let mut files = Vec::new();
    collect_rs_files(&source_root(), &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(source_root()).unwrap().with_extension("");
            let mut path: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if path.last().is_some_and(|last| last == "mod") || path == ["lib"] {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            Module {
                path,
                code: strip_comments(&code),
            }
        })
        .collect()
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without `//` comments (doc comments name modules freely).
fn strip_comments(code: &str) -> String {
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::`/`super::` path a module's code names, `use` groups
/// expanded; `pub mod` and `pub use` lines are skipped.
fn referenced_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(start) = find_use_keyword(rest) {
        let (before, after) = rest.split_at(start);
        scan_inline_paths(before, &mut paths);
        let end = after.find(';').map_or(after.len(), |i| i + 1);
        let statement = &after[4..end.saturating_sub(1)];
        let is_reexport = before.trim_end().ends_with("pub");
        if !is_reexport {
            expand_use_tree("", statement.trim(), &mut paths);
        }
        rest = &after[end..];
    }
    scan_inline_paths(rest, &mut paths);
    paths
        .into_iter()
        .filter(|p| p.starts_with("crate::") || p.starts_with("super::"))
        .collect()
}

/// Where the next `use` keyword starts: "use " not inside a word (as in
/// `pause `, `because `).
fn find_use_keyword(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        let inside_word = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !inside_word {
            return Some(start);
        }
        from = start + 4;
    }
    None
}

/// Paths written in code (`crate::http::error::cause_chain(…)`).
fn scan_inline_paths(code: &str, out: &mut Vec<String>) {
    for prefix in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            let preceded_by_ident = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let len = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - start);
            if !preceded_by_ident {
                out.push(code[start..start + len].trim_end_matches(':').to_owned());
            }
            from = start + len.max(1);
        }
    }
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    match tree.find('{') {
        None => {
            let path = tree.split(" as ").next().unwrap().trim();
            out.push(format!("{prefix}{path}"));
        }
        Some(open) => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let mut depth = 0;
            let mut item = String::new();
            for c in inner.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if !item.trim().is_empty() {
                            expand_use_tree(&format!("{prefix}{head}"), &item, out);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        }
    }
}

/// The module (a known file's path) that `path`, named in `from`, lands in:
/// the longest known prefix of its absolute form. Each leading `super`
/// climbs one level from `from` (for `store/mod.rs`, whose path is `store`,
/// as for `store/clients.rs`, whose path is `store::clients`).
fn resolve(from: &Module, path: &str, known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segments = path.split("::").peekable();
    let mut absolute: Vec<String> = match segments.peek() {
        Some(&"crate") => {
            segments.next();
            Vec::new()
        }
        Some(&"super") => {
            let mut here = from.path.clone();
            while segments.peek() == Some(&"super") {
                segments.next();
                here.pop();
            }
            here
        }
        _ => return None,
    };
    absolute.extend(segments.map(str::to_owned));
    (0..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|candidate| known.contains(candidate))
}

/// Module → the modules it imports (itself and façades excluded).
fn module_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    modules
        .iter()
        .map(|module| {
            let targets = referenced_paths(&module.code)
                .iter()
                .filter_map(|path| resolve(module, path, &known))
                .filter(|target| *target != module.path)
                .collect();
            (module.path.clone(), targets)
        })
        .collect()
}

fn layer_rank(path: &[String]) -> Option<usize> {
    LAYERS
        .iter()
        .position(|layer| path.first().map(String::as_str) == Some(*layer))
}

#[test]
fn every_layer_imports_only_the_layers_below_it() {
    let graph = module_graph();
    let mut upward = Vec::new();

    for (module, targets) in &graph {
        let Some(rank) = layer_rank(module) else {
            continue;
        };
        for target in targets {
            if layer_rank(target).is_some_and(|target_rank| target_rank > rank) {
                upward.push(format!("{} -> {}", module.join("::"), target.join("::")));
            }
        }
    }

    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
    assert!(
        graph.len() >= 20,
        "the sources were read: {} modules",
        graph.len()
    );
}

#[test]
fn the_domain_uses_no_aws_or_http_crate_and_the_store_no_http_crate() {
    let mut offending = Vec::new();

    for module in modules() {
        for (layer, crates) in FORBIDDEN_CRATES {
            if module.path.first().map(String::as_str) != Some(layer) {
                continue;
            }
            for name in crates.iter().filter(|name| module.code.contains(*name)) {
                offending.push(format!("{} uses {name}", module.path.join("::")));
            }
        }
    }

    assert!(offending.is_empty(), "{}", offending.join("\n"));
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = module_graph();
    let mut cycles = Vec::new();

    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.join("::")])];
        let mut seen = BTreeSet::new();
        while let Some((module, trail)) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                if next == start {
                    cycles.push(format!("{} -> {}", trail.join(" -> "), start.join("::")));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.join("::"));
                    stack.push((next.clone(), longer));
                }
            }
        }
    }

    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}

#[test]
fn the_graph_reader_sees_grouped_relative_and_inline_imports() {
    let code = "use super::{counts, item::{self, Item}};\nuse crate::domain::model::OrgId;\npub use error::StoreError;\nfn f() { crate::http::error::cause_chain(x); }";

    let paths = referenced_paths(code);

    assert_eq!(
        paths,
        [
            "super::counts",
            "super::item::self",
            "super::item::Item",
            "crate::domain::model::OrgId",
            "crate::http::error::cause_chain",
        ]
    );
}

/// Prints each module's imports (`cargo test -p shared --test layering -- --nocapture`).
#[test]
fn print_the_module_graph() {
    for (module, targets) in module_graph() {
        let names: Vec<String> = targets.iter().map(|t| t.join("::")).collect();
        println!("{:<22} -> {}", module.join("::"), names.join(", "));
    }
}
