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
