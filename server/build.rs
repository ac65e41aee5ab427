//! Embeds the integration catalog (`catalog/{sources,destinations}/*.json`) into the binary.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Paths relative to the package: a target directory shared by several checkouts of the repository
    // (worktrees) then rebuilds from, and embeds, the files of the checkout being built.
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("catalog");
    println!("cargo:rerun-if-changed=catalog");
    let mut out = String::new();
    for (kind, constant) in [
        ("sources", "SOURCE_FILES"),
        ("destinations", "DESTINATION_FILES"),
    ] {
        let dir = root.join(kind);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("catalog entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        writeln!(out, "pub static {constant}: &[(&str, &str)] = &[").unwrap();
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy();
            writeln!(
                out,
                "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),",
                format!("/catalog/{kind}/{name}")
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("catalog_files.rs");
    std::fs::write(dest, out).unwrap();
}
