//! The UI: server-side rendered Leptos pages, hydrated in the browser, plus the built assets.
//!
//! The wasm, JS and CSS carry a content hash in their names (`scripts/build-site` writes them, and
//! `hash.txt` which names them in every page): they are served with a year's `immutable` cache, in the
//! encoding the browser prefers of the copies compressed at build time (brotli, gzip). So are the lazy
//! routes' wasm chunks and their loader (`__wasm_split.<hash>.js`, which the main module's glue imports): the
//! browser fetches a chunk from `/pkg` the first time its page is shown, with `fetch` (`connect-src 'self'`)
//! and `WebAssembly.instantiateStreaming` (`'wasm-unsafe-eval'`), so the Content-Security-Policy needs nothing
//! more. A lazy page rendered here preloads its chunks: Leptos reads which from the manifest beside them
//! (`__wasm_split_manifest.<hash>.json`, named in `hash.txt`). Pages are never cached: they hold the
//! visitor's data.

use std::path::PathBuf;

use app::api::client::InProcessApi;
use app::{shell, App};
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::HeaderValue;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Where the built site lives and how it is named.
#[derive(Clone, Debug)]
pub struct Site {
    pub root: PathBuf,
    pub addr: std::net::SocketAddr,
}

/// The file that names the hashed assets, beside them.
const HASH_FILE: &str = "hash.txt";

impl Site {
    /// Whether the assets have hashed names (a build by `scripts/build-site`; `cargo leptos watch` makes
    /// plain ones, which must then not be cached).
    fn hashed(&self) -> bool {
        self.root.join(HASH_FILE).exists()
    }
}

pub fn options(site: &Site) -> LeptosOptions {
    let mut options = LeptosOptions::builder()
        .output_name("wheelhouse")
        .site_root(site.root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(site.addr)
        .env(Env::PROD)
        .build();
    if site.hashed() {
        options.hash_files = true;
        // Absolute: Leptos joins it onto the executable's folder, which an absolute path replaces.
        let hash_file = std::path::absolute(site.root.join(HASH_FILE))
            .unwrap_or_else(|_| site.root.join(HASH_FILE));
        options.hash_file = hash_file.to_string_lossy().to_string().into();
    }
    options
}

/// The UI's routes, generated once per process. Generating them renders the app with resource loading
/// switched off by a process-wide flag (leptos' `SuppressResourceLoad`): a second server started in the same
/// process (the integration tests start many) would otherwise stall every page another server is rendering
/// at that moment, waiting forever for resources that never load.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(site: Site, api: Router) -> Router {
    let options = options(&site);
    let routes = route_list();
    let context = move || {
        provide_context(InProcessApi {
            router: api.clone(),
        })
    };
    let pages = Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let assets_cache = if site.hashed() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let assets = Router::new()
        .nest_service(
            "/pkg",
            ServeDir::new(site.root.join("pkg"))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static(assets_cache),
        ))
        .layer(SetResponseHeaderLayer::appending(
            VARY,
            HeaderValue::from_static("accept-encoding"),
        ));
    pages
        .merge(assets)
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
}
