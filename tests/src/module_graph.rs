//! The module graph of a crate, read from its sources with `syn`, for the
//! layering test (`tests/tests/layering.rs`): which module uses which.
//!
//! The modules are found as rustc finds them: from the crate's root file,
//! through its `mod` items (`name.rs`, `name/mod.rs`, `#[path]`, inline
//! `mod name { … }`); items under `#[cfg(test)]` are left out.
//!
//! An edge A → B means that code in A names an item that B defines. Every
//! path in A's code (`use` trees, types, expressions, patterns, and the
//! tokens of macro calls such as `format!`) that starts with `crate`,
//! `super`, `self`, a child module of A or a name A imports is resolved to the
//! module that *defines* the item: imports and re-exports (`use`, `pub use`,
//! any visibility) are followed to their source. So a façade module that only
//! declares and re-exports its children is never a target, a re-export makes
//! no edge by itself, and naming `crate::Table` where the root re-exports
//! `store::table::Table` is an edge to `store::table`. A `mod` declaration is
//! no edge (the parent owns its child; it does not use it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module's path inside its crate (`["store", "clients"]`; the root is `[]`).
pub type ModPath = Vec<String>;

/// One crate's modules and the edges between them.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Every module, with the modules it uses (itself excluded).
    pub edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

/// The modules of a crate read from its files.
type Modules = BTreeMap<ModPath, Module>;

/// What one module declares and names, before resolution.
#[derive(Debug, Default)]
struct Module {
    /// The module whose file holds it: itself, or for an inline
    /// `mod name { … }` the file's module.
    file: ModPath,
    /// Names of the items it defines (functions, types, traits, consts…).
    defines: BTreeSet<String>,
    /// Its child modules.
    children: BTreeSet<String>,
    /// Names it brings into scope with `use` (any visibility) → the path.
    imports: BTreeMap<String, Vec<String>>,
    /// Sources of its glob imports (`use path::*`).
    globs: Vec<Vec<String>>,
    /// Paths its own code names (private `use` leaves, code, macro tokens).
    named: Vec<Vec<String>>,
}

impl ModuleGraph {
    /// Reads the crate whose root file is `root` (`src/lib.rs`, `src/main.rs`,
    /// a `tests/*.rs` file…): one node per file, named by its module. An
    /// inline module (`mod name { … }`) is part of the file that holds it,
    /// so a circle through one (a.rs uses `b`, b.rs uses `a::inline`) is a
    /// circle.
    pub fn read(root: &Path) -> Self {
        let modules = read_crate(root);
        let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (path, module) in &modules {
            let entry = edges.entry(module.file.clone()).or_default();
            for named in &module.named {
                let Some(target) = absolute(&modules, path, named, 0)
                    .and_then(|absolute| defining_module(&modules, &absolute, 0))
                else {
                    continue;
                };
                let target_file = &modules[&target].file;
                if *target_file != module.file {
                    entry.insert(target_file.clone());
                }
            }
        }
        Self { edges }
    }

    /// Each edge from a module to one of its ancestors (its parent, its
    /// parent's parent… up to the crate root), as `(module, ancestor)`.
    pub fn upward_edges(&self) -> Vec<(ModPath, ModPath)> {
        let mut upward = Vec::new();
        for (module, targets) in &self.edges {
            for target in targets {
                if target.len() < module.len() && module.starts_with(target) {
                    upward.push((module.clone(), target.clone()));
                }
            }
        }
        upward
    }

    /// Each import circle, once: the modules of every strongly connected
    /// group of more than one module, in order along one circle through them.
    pub fn circles(&self) -> Vec<Vec<ModPath>> {
        let mut circles = Vec::new();
        let mut reported = BTreeSet::new();
        for start in self.edges.keys() {
            if reported.contains(start) {
                continue;
            }
            if let Some(circle) = self.circle_through(start) {
                reported.extend(self.group_of(start));
                circles.push(circle);
            }
        }
        circles
    }

    /// A shortest circle from `start` back to itself (breadth-first).
    fn circle_through(&self, start: &ModPath) -> Option<Vec<ModPath>> {
        let mut previous: BTreeMap<&ModPath, &ModPath> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(module) = queue.pop_front() {
            for next in self.edges.get(module).into_iter().flatten() {
                if next == start {
                    let mut circle = vec![module.clone()];
                    let mut at = module;
                    while at != start {
                        at = previous[at];
                        circle.push(at.clone());
                    }
                    circle.reverse();
                    return Some(circle);
                }
                if !previous.contains_key(next) {
                    previous.insert(next, module);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// The modules on some circle with `start` (reachable both ways).
    fn group_of(&self, start: &ModPath) -> BTreeSet<ModPath> {
        let from = self.reachable(start, false);
        let to = self.reachable(start, true);
        from.intersection(&to).cloned().collect()
    }

    fn reachable(&self, start: &ModPath, reverse: bool) -> BTreeSet<ModPath> {
        let mut seen = BTreeSet::from([start.clone()]);
        let mut stack = vec![start.clone()];
        while let Some(module) = stack.pop() {
            let nexts: Vec<&ModPath> = if reverse {
                self.edges
                    .iter()
                    .filter(|(_, targets)| targets.contains(&module))
                    .map(|(source, _)| source)
                    .collect()
            } else {
                self.edges.get(&module).into_iter().flatten().collect()
            };
            for next in nexts {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    }
}

/// `store::clients` (the root is `crate`).
pub fn display(path: &ModPath) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

fn read_crate(root: &Path) -> Modules {
    let mut modules = Modules::new();
    read_file(root, Vec::new(), true, &mut modules);
    modules
}

/// Reads the module in `file` (at `path`) and, through its `mod` items, its
/// descendants. `owns_directory`: the file is a crate root or a `mod.rs`,
/// whose children live beside it rather than in a directory named after it.
fn read_file(file: &Path, path: ModPath, owns_directory: bool, modules: &mut Modules) {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
    let here = file.parent().expect("a file has a directory");
    let children_dir = if owns_directory {
        here.to_path_buf()
    } else {
        here.join(file.file_stem().expect("a file name"))
    };
    read_items(
        &parsed.items,
        path.clone(),
        &path,
        here,
        &children_dir,
        modules,
    );
}

/// Reads one module's items, those of its inline modules and, through its
/// `mod` items, its descendants' files.
fn read_items(
    items: &[syn::Item],
    path: ModPath,
    file: &ModPath,
    file_dir: &Path,
    children_dir: &Path,
    modules: &mut Modules,
) {
    let mut module = Module {
        file: file.clone(),
        ..Module::default()
    };
    let mut nested = Vec::new();
    for item in items.iter().filter(|item| !is_test_only(item_attrs(item))) {
        match item {
            syn::Item::Mod(declared) => {
                let name = declared.ident.to_string();
                module.children.insert(name.clone());
                nested.push((declared, name));
            }
            syn::Item::Use(used) => {
                let reexport = !matches!(used.vis, syn::Visibility::Inherited);
                let mut leaves = Vec::new();
                use_leaves(&used.tree, Vec::new(), &mut leaves);
                for leaf in leaves {
                    match leaf {
                        UseLeaf::Name(name, source) => {
                            module.imports.insert(name, source.clone());
                            if !reexport {
                                module.named.push(source);
                            }
                        }
                        UseLeaf::Glob(source) => {
                            module.globs.push(source.clone());
                            if !reexport {
                                module.named.push(source);
                            }
                        }
                    }
                }
            }
            other => {
                if let Some(name) = defined_name(other) {
                    module.defines.insert(name);
                }
                let mut paths = PathCollector::default();
                paths.visit_item(other);
                module.named.extend(paths.paths);
            }
        }
    }
    for (declared, name) in nested {
        let mut child = path.clone();
        child.push(name.clone());
        let explicit = path_attribute(&declared.attrs);
        match &declared.content {
            Some((_, items)) => {
                let dir = children_dir.join(&name);
                read_items(items, child, file, file_dir, &dir, modules);
            }
            None => {
                let (file, owns) = match explicit {
                    Some(relative) => {
                        let file = file_dir.join(relative);
                        let owns = file.file_name().is_some_and(|n| n == "mod.rs");
                        (file, owns)
                    }
                    None => {
                        let flat = children_dir.join(format!("{name}.rs"));
                        if flat.exists() {
                            (flat, false)
                        } else {
                            (children_dir.join(&name).join("mod.rs"), true)
                        }
                    }
                };
                read_file(&file, child, owns, modules);
            }
        }
    }
    modules.insert(path, module);
}

/// A `use` tree's leaf: a name brought into scope from a path, or a glob.
enum UseLeaf {
    Name(String, Vec<String>),
    Glob(Vec<String>),
}

fn use_leaves(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<UseLeaf>) {
    let extend = |name: &syn::Ident| {
        let mut path = prefix.clone();
        path.push(name.to_string());
        path
    };
    match tree {
        syn::UseTree::Path(p) => use_leaves(&p.tree, extend(&p.ident), out),
        syn::UseTree::Name(n) if n.ident == "self" => {
            if let Some(last) = prefix.last() {
                out.push(UseLeaf::Name(last.clone(), prefix.clone()));
            }
        }
        syn::UseTree::Name(n) => out.push(UseLeaf::Name(n.ident.to_string(), extend(&n.ident))),
        syn::UseTree::Rename(r) => {
            let source = if r.ident == "self" {
                prefix.clone()
            } else {
                extend(&r.ident)
            };
            if r.rename != "_" {
                out.push(UseLeaf::Name(r.rename.to_string(), source));
            } else {
                out.push(UseLeaf::Glob(source));
            }
        }
        syn::UseTree::Glob(_) => out.push(UseLeaf::Glob(prefix)),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                use_leaves(tree, prefix.clone(), out);
            }
        }
    }
}

/// The name an item defines, for the items other modules can name.
fn defined_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]`.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

/// `#[path = "…"]`.
fn path_attribute(attrs: &[syn::Attribute]) -> Option<PathBuf> {
    attrs.iter().find_map(|attr| match &attr.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(PathBuf::from(text.value())),
            _ => None,
        },
        _ => None,
    })
}

/// Every path of two or more segments in an item's code, and the `a::b`
/// paths in the tokens of the macro calls it makes (`format!`, `json!`…).
/// Single names are locals or imports, whose `use` counts already.
#[derive(Default)]
struct PathCollector {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() >= 2 {
            self.paths.push(
                path.segments
                    .iter()
                    .map(|segment| segment.ident.to_string())
                    .collect(),
            );
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        // A `macro_rules!` body is a template, not code of this module.
        if item.ident.is_none() {
            syn::visit::visit_item_macro(self, item);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        token_paths(mac.tokens.clone(), &mut self.paths);
    }
}

/// The `a::b::c` runs in a token stream, nested groups included.
fn token_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(group) => token_paths(group.stream(), out),
            TokenTree::Ident(first) => {
                let mut path = vec![first.to_string()];
                while let (true, Some(TokenTree::Ident(next))) = (
                    is_colon(tokens.get(i + 1)) && is_colon(tokens.get(i + 2)),
                    tokens.get(i + 3),
                ) {
                    path.push(next.to_string());
                    i += 3;
                }
                if path.len() >= 2 {
                    out.push(path);
                }
            }
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
        i += 1;
    }
}

fn is_colon(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == ':')
}

/// The absolute form (from the crate root) of `path` as written in module
/// `from`, or `None` when it leaves the crate (another crate, `std`) or is
/// a local name.
fn absolute(
    modules: &Modules,
    from: &ModPath,
    path: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    let module = modules.get(from)?;
    let (first, rest) = path.split_first()?;
    if depth > 16 {
        return None;
    }
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => {
            let mut base = from.clone();
            base.pop()?;
            let mut rest = rest;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        name if module.children.contains(name) => {
            let mut base = from.clone();
            base.push(name.to_owned());
            base
        }
        name => match module.imports.get(name) {
            // `use x;` of a child module (or of another crate) names itself.
            Some(source) if source.as_slice() != [name] => {
                absolute(modules, from, source, depth + 1)?
            }
            _ => return None,
        },
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module that defines what the absolute `path` names: the longest
/// module prefix, then through that module's imports to the source.
fn defining_module(modules: &Modules, path: &[String], depth: usize) -> Option<ModPath> {
    let (module_path, rest) = (0..=path.len())
        .rev()
        .map(|n| (path[..n].to_vec(), &path[n..]))
        .find(|(prefix, _)| modules.contains_key(prefix))?;
    let Some(name) = rest.first() else {
        return Some(module_path);
    };
    let module = &modules[&module_path];
    if module.defines.contains(name) || depth > 16 {
        return Some(module_path);
    }
    if let Some(source) = module.imports.get(name) {
        let mut through = absolute(modules, &module_path, source, 0)?;
        through.extend(rest[1..].iter().cloned());
        return defining_module(modules, &through, depth + 1);
    }
    for glob in &module.globs {
        let Some(mut through) = absolute(modules, &module_path, glob, 0) else {
            continue;
        };
        through.extend(rest.iter().cloned());
        if let Some(target) = defining_module(modules, &through, depth + 1) {
            if modules[&target].defines.contains(name) {
                return Some(target);
            }
        }
    }
    Some(module_path)
}
