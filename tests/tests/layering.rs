//! The whole repository's structure, checked: no import circle and no upward
//! import in any crate of the workspace (`shared`, the functions, every crate
//! in `tools/`, `tests/`: each library, binary and test target), and
//! workspace crates that depend only downwards.
//!
//! Rules (the module graph is read from the sources, one node per file: see
//! `tests/src/module_graph.rs` for what counts as an edge; `#[cfg(test)]`
//! code is left out, since a unit test module uses its parent by design):
//!
//! - **No circle**: no module uses, directly or around a circle, a module
//!   that uses it. An inline module (`mod name { … }`) counts as part of its
//!   file, so it cannot hide a circle between two files.
//! - **No upward import**: a module never uses an item defined in one of its
//!   ancestors (its parent, its parent's parent… up to the crate root). A
//!   parent declares, assembles and uses its children; a child that reached
//!   back into the module that owns it would be a circle through the module
//!   tree. A child may use its siblings and their descendants (through
//!   `super::sibling::…`): that is sideways. Re-exports are followed to the
//!   module that defines the item, so naming `crate::Table` when the root
//!   only re-exports `store::table::Table` is an edge to `store::table`, not
//!   to the root: a façade's re-exports are not upward.
//! - **Crates depend downwards**: `shared` (layer 0) ← `functions/*` (1) ←
//!   `tools/*` (2) ← `tests` (3). A crate depends (normal, dev or build
//!   dependency) only on workspace crates of its own layer or below, and the
//!   crates depend on each other without a circle (Cargo refuses circles of
//!   normal dependencies only; a dev-dependency can close one).
//!
//! `shared`'s own layers (`domain` → `store` → `http` → `function`) and the
//! crates each layer may use are `shared/tests/layering.rs`'s.
//! `cargo test -p integration-tests --test layering -- --nocapture print`
//! prints every crate's module graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use integration_tests::module_graph::{display, ModPath, ModuleGraph};
use integration_tests::repo_root;
use serde_json::Value;

/// The workspace's directories, lowest layer first.
const CRATE_LAYERS: [&str; 4] = ["shared", "functions", "tools", "tests"];

/// One crate root of a workspace package.
struct Target {
    package: String,
    /// `lib`, `bin`, `test`…
    kind: String,
    name: String,
    root: PathBuf,
}

impl Target {
    fn label(&self) -> String {
        format!("{} ({} {})", self.package, self.kind, self.name)
    }
}

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON")
}

fn packages(metadata: &Value) -> &[Value] {
    metadata["packages"].as_array().expect("packages")
}

/// Every library, binary, test, bench and example target (build scripts left out).
fn targets() -> Vec<Target> {
    let metadata = metadata();
    let mut targets = Vec::new();
    for package in packages(&metadata) {
        for target in package["targets"].as_array().expect("targets") {
            let kind = target["kind"][0].as_str().expect("a target kind");
            if kind == "custom-build" {
                continue;
            }
            targets.push(Target {
                package: package["name"].as_str().expect("a name").to_owned(),
                kind: kind.to_owned(),
                name: target["name"].as_str().expect("a name").to_owned(),
                root: PathBuf::from(target["src_path"].as_str().expect("a path")),
            });
        }
    }
    targets
}

/// The workspace directory a package lives in (`tools` for `tools/admin`).
fn layer_of(manifest: &Path) -> Option<usize> {
    let relative = manifest.strip_prefix(repo_root()).ok()?;
    let top = relative.iter().next()?.to_str()?;
    CRATE_LAYERS.iter().position(|layer| *layer == top)
}

#[test]
fn no_module_of_any_crate_imports_from_its_own_ancestors() {
    let targets = targets();
    let mut upward = Vec::new();

    for target in &targets {
        for (module, ancestor) in ModuleGraph::read(&target.root).upward_edges() {
            upward.push(format!(
                "{}: {} -> {}",
                target.label(),
                display(&module),
                display(&ancestor)
            ));
        }
    }

    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
    assert!(
        targets
            .iter()
            .any(|t| t.package == "bench" && t.kind == "bin"),
        "the workspace's targets were read: {}",
        targets.len()
    );
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut circles = Vec::new();

    for target in targets() {
        for circle in ModuleGraph::read(&target.root).circles() {
            let mut names: Vec<String> = circle.iter().map(display).collect();
            names.push(display(&circle[0]));
            circles.push(format!("{}: {}", target.label(), names.join(" -> ")));
        }
    }

    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn workspace_crates_depend_only_on_their_own_layer_or_below_and_without_a_circle() {
    let metadata = metadata();
    let mut layers = BTreeMap::new();
    for package in packages(&metadata) {
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("a manifest"));
        let name = package["name"].as_str().expect("a name").to_owned();
        let layer =
            layer_of(&manifest).unwrap_or_else(|| panic!("{name} lives outside {CRATE_LAYERS:?}"));
        layers.insert(name, layer);
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();

    for package in packages(&metadata) {
        let name = package["name"].as_str().expect("a name").to_owned();
        let dependencies = package["dependencies"].as_array().expect("dependencies");
        for dependency in dependencies {
            let target = dependency["name"].as_str().expect("a name");
            let Some(&target_layer) = layers.get(target) else {
                continue;
            };
            if target_layer > layers[&name] {
                upward.push(format!(
                    "{name} ({}) depends on {target} ({})",
                    CRATE_LAYERS[layers[&name]], CRATE_LAYERS[target_layer]
                ));
            }
            graph
                .entry(name.clone())
                .or_default()
                .insert(target.to_owned());
        }
    }
    let as_modules = ModuleGraph {
        edges: layers
            .keys()
            .map(|name| {
                let targets = graph.get(name).into_iter().flatten();
                (
                    vec![name.clone()],
                    targets.map(|t| vec![t.clone()]).collect(),
                )
            })
            .collect(),
    };
    let circles: Vec<String> = as_modules
        .circles()
        .iter()
        .map(|circle| circle.iter().map(display).collect::<Vec<_>>().join(" -> "))
        .collect();

    assert!(
        upward.is_empty(),
        "upward dependencies:\n{}",
        upward.join("\n")
    );
    assert!(
        circles.is_empty(),
        "dependency circles:\n{}",
        circles.join("\n")
    );
    assert!(layers.len() >= 12, "the packages were read: {layers:?}");
}

/// A small crate written to a fresh directory: `(relative path, code)`.
fn scratch_crate(files: &[(&str, &str)]) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("layering-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, code) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, code).unwrap();
    }
    dir.join(files[0].0)
}

fn edges_of(graph: &ModuleGraph, module: &str) -> Vec<String> {
    let path: ModPath = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    graph.edges[&path].iter().map(display).collect()
}

#[test]
fn the_reader_follows_reexports_and_sees_relative_inline_and_macro_paths() {
    let root = scratch_crate(&[
        (
            "main.rs",
            "mod store; mod http; mod report;\npub use store::table::Table;\nfn main() { http::serve(); }",
        ),
        (
            "store.rs",
            "pub mod table; pub mod item;\npub use item::Item;",
        ),
        ("store/table.rs", "pub struct Table;"),
        (
            "store/item.rs",
            "use super::table;\npub struct Item;\nfn f() -> table::Table { table::Table }",
        ),
        (
            "http.rs",
            "pub fn serve() { let _ = crate::store::Item; }\n#[cfg(test)]\nmod tests { use crate::report::*; }",
        ),
        (
            "report.rs",
            "pub fn line() -> String { format!(\"{:?}\", crate::Table) }",
        ),
    ]);

    let graph = ModuleGraph::read(&root);

    assert_eq!(edges_of(&graph, ""), ["http"]);
    assert_eq!(edges_of(&graph, "store"), Vec::<String>::new());
    assert_eq!(edges_of(&graph, "store::item"), ["store::table"]);
    assert_eq!(edges_of(&graph, "http"), ["store::item"]);
    assert_eq!(edges_of(&graph, "report"), ["store::table"]);
    assert!(graph.upward_edges().is_empty());
    assert!(graph.circles().is_empty());
}

/// The circle here goes through an inline module (`cost::words`, in cost.rs).
#[test]
fn the_reader_reports_a_circle_and_an_import_from_an_ancestor() {
    let root = scratch_crate(&[
        ("lib.rs", "mod cost; mod seed;\npub fn say() {}"),
        (
            "cost.rs",
            "mod search;\nuse crate::seed::Org;\npub struct Run;\npub const WORD: &str = \"w\";",
        ),
        ("cost/search.rs", "use super::Run;"),
        (
            "seed.rs",
            "pub struct Org;\nfn f() { let _ = crate::cost::WORD; crate::say(); }",
        ),
    ]);

    let graph = ModuleGraph::read(&root);
    let upward: Vec<String> = graph
        .upward_edges()
        .iter()
        .map(|(from, to)| format!("{} -> {}", display(from), display(to)))
        .collect();
    let circles: Vec<Vec<String>> = graph
        .circles()
        .iter()
        .map(|c| c.iter().map(display).collect())
        .collect();

    assert_eq!(upward, ["cost::search -> cost", "seed -> crate"]);
    assert_eq!(circles, [["cost", "seed"]]);
}

/// Prints each crate's module graph (`-- --nocapture print`).
#[test]
fn print_the_module_graphs() {
    for target in targets() {
        let graph = ModuleGraph::read(&target.root);
        if graph.edges.len() < 2 {
            continue;
        }
        println!("{}", target.label());
        for (module, targets) in &graph.edges {
            let names: Vec<String> = targets.iter().map(display).collect();
            println!("  {:<28} -> {}", display(module), names.join(", "));
        }
    }
}
