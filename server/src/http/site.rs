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

pub fn router(site: Site, api: Router) -> Router {
    let options = options(&site);
    let routes = generate_route_list(App);
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
