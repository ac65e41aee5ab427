//! The UI: server-side rendered Leptos pages, hydrated in the browser, plus the built assets.

use std::path::PathBuf;

use app::api::client::InProcessApi;
use app::{shell, App};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// Where the built site lives and how it is named.
#[derive(Clone, Debug)]
pub struct Site {
    pub root: PathBuf,
    pub addr: std::net::SocketAddr,
}

pub fn options(site: &Site) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("wheelhouse")
        .site_root(site.root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(site.addr)
        .env(Env::PROD)
        .build()
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
    Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(
            context, shell,
        ))
        .with_state(options)
}
