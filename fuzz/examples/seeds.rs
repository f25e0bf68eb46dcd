//! Writes the seed inputs of `wsd_fuzz::seeds` to `seeds/<target>/seed-<n>`.
//!
//! Run from `fuzz/` after changing a target's input layout:
//! `cargo run --example seeds`. The files are committed; `cargo xtask fuzz` hands the
//! directory to libFuzzer as a read-only corpus next to the working one.

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for (target, seeds) in wsd_fuzz::seeds::all() {
        let dir = root.join(target);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        for (n, seed) in seeds.iter().enumerate() {
            fs::write(dir.join(format!("seed-{n}")), seed)?;
        }
        println!("{target}: {} seeds", seeds.len());
    }
    Ok(())
}
