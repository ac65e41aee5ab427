//! Splits the UI's wasm, as rustc wrote it (before wasm-bindgen), at its split points: each `#[lazy]` function
//! and `#[lazy_route]` view of the app goes, with the code only it reaches, into a wasm chunk of its own that the
//! browser fetches the first time it is called; code several of them share goes into shared chunks. Called by
//! `scripts/build-site`, which then runs wasm-bindgen over the main module and wasm-opt over every module:
//!
//!   wasm-split <app.wasm> <pkg dir> <main module out.wasm> <output name>
//!
//! Writes into the pkg dir each chunk (`split_<name>.wasm`, `chunk_<n>.wasm`), the loader the main module
//! imports them through (`__wasm_split.______________________.js`: the 22 underscores are the placeholder of the
//! content hash `scripts/precompress-assets.mjs` gives it, the name Leptos' `HydrationScripts` expects) and
//! `__wasm_split_manifest.json`, which names, for each split point, the chunks it needs (the server reads it to
//! preload the chunks of the page it renders). The loader imports the main module's glue, `./<output name>.js`.

use std::path::Path;
use std::process::ExitCode;

/// The loader's name, as the main module imports it; Leptos expects `__wasm_split.<hash>.js` (22 characters).
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, main_out, output_name] = args.as_slice() else {
        eprintln!("usage: wasm-split <app.wasm> <pkg dir> <main module out.wasm> <output name>");
        return ExitCode::from(2);
    };
    match split(
        Path::new(input),
        Path::new(out_dir),
        Path::new(main_out),
        output_name,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wasm-split: {error}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, out_dir: &Path, main_out: &Path, output_name: &str) -> Result<(), String> {
    let wasm = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let main_module = format!("./{output_name}.js");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = out_dir;
    options.main_out_path = main_out;
    options.main_module = &main_module;
    options.link_name = LINK_NAME;
    let split = wasm_split_cli_support::transform(options).map_err(|e| format!("{e:?}"))?;

    // Sorted, so that the same input gives the same manifest (and hash).
    let manifest: std::collections::BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    let manifest_path = out_dir.join(MANIFEST);
    std::fs::write(&manifest_path, json)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;

    let mut chunks = split.split_modules;
    chunks.sort();
    for chunk in &chunks {
        let size = std::fs::metadata(chunk).map(|m| m.len()).unwrap_or(0);
        eprintln!("wasm-split: {} ({size} bytes)", chunk.display());
    }
    eprintln!(
        "wasm-split: {} split point(s), {} chunk file(s)",
        manifest.len(),
        chunks.len()
    );
    Ok(())
}
