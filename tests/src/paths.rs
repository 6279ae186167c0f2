//! Where the tests find the repository's files (`template.yaml`,
//! `openapi.yaml`, `events/`, the docs page, the Python environment).

use std::path::{Path, PathBuf};

/// The workspace root: the directory holding `tests/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

/// The project virtual environment's Python (`PYTHON`, set by `scripts/test`),
/// else `.tools/venv/bin/python`.
pub fn python() -> PathBuf {
    std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/venv/bin/python"))
}
