//! Writes the HTTP API's contract to `openapi.json` at the workspace root:
//! `cargo run -p tessera-openapi` after changing a route or a type.

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(tessera_openapi::PATH);
    std::fs::write(&path, tessera_openapi::rendered())?;
    println!("wrote {}", path.display());
    Ok(())
}
