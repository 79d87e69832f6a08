//! Where the workspace is, for the files tests read from it (`template.yaml`,
//! the project's virtualenv).

use std::path::{Path, PathBuf};

/// The workspace root: two levels above this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}
