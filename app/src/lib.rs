#![recursion_limit = "256"]
//! The Wheelhouse UI (Leptos, rendered on the server and hydrated in the browser), the wire types of
//! `/api/v1` and the typed client the pages call it with.

pub mod api;
pub mod components;
pub mod pages;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

use components::layout::WorkspaceLayout;
use pages::alerts::AlertsRoute;
use pages::audit::SettingsAuditRoute;
use pages::auth::{AcceptInvite, ForgotPassword, Login, ResetPassword, Setup};
use pages::consent::ConsentRoute;
use pages::data_planes::DataPlanesRoute;
use pages::destination_consent::DestinationConsentRoute;
use pages::destinations::{DestinationDetail, DestinationsList, NewDestination};
use pages::home::{Account, Home, NewWorkspace, NotFound};
use pages::instance::InstanceNamespacesRoute;
use pages::live::LiveRoute;
use pages::overview::OverviewRoute;
use pages::settings::{
    SettingsApiTokens, SettingsDataPlanes, SettingsGeneralRoute, SettingsMembers,
};
use pages::sources::{NewSource, SourceDetail, SourcesList};
use pages::tracking_plans::{TrackingPlanRoute, TrackingPlansRoute};
use pages::volume::{ErrorsRoute, VolumeRoute};
use pages::warehouse::WarehouseRoute;

/// The page around the app (server only): the hashed stylesheet and scripts, and the Content-Security-Policy
/// that lets only this page's own scripts run.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    let (chart_script, chart_style) = chart_assets(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <meta name=components::chart::SCRIPT_META content=chart_script/>
                <meta name=components::chart::STYLE_META content=chart_style/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Where uPlot's script and stylesheet are (the charts insert them when they first draw): their
/// content-hashed names from `hash.txt` (`uplot-js:` and `uplot-css:`, written by
/// `scripts/precompress-assets.mjs`), or the plain names of an unhashed build.
fn chart_assets(options: &LeptosOptions) -> (String, String) {
    #[cfg_attr(not(feature = "ssr"), allow(unused_mut))]
    let mut names = ("uplot.js".to_owned(), "uplot.css".to_owned());
    #[cfg(feature = "ssr")]
    if options.hash_files {
        // As Leptos finds it: beside the executable, unless the path is absolute.
        let hash_file = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())))
            .unwrap_or_else(|| options.hash_file.as_ref().into());
        for line in std::fs::read_to_string(hash_file)
            .unwrap_or_default()
            .lines()
        {
            match line.split_once(':') {
                Some(("uplot-js", hash)) => names.0 = format!("uplot.{}.js", hash.trim()),
                Some(("uplot-css", hash)) => names.1 = format!("uplot.{}.css", hash.trim()),
                _ => {}
            }
        }
    }
    let pkg = &options.site_pkg_dir;
    (format!("/{pkg}/{}", names.0), format!("/{pkg}/{}", names.1))
}

/// Scripts run only from this origin, and inline only with this render's nonce (Leptos puts it on its
/// hydration and resource scripts); the wasm is compiled by the browser (`wasm-unsafe-eval`), never `eval`.
/// Styles only from the stylesheet: the pages carry no inline style. No plugins, no framing, no other base,
/// forms post here.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();
    components::provide_toast();
    // Pages wait for their API calls before the first byte (SsrMode::Async): a redirect to sign-in is a
    // real 302, and the HTML that arrives is complete.
    let ssr = SsrMode::Async;
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Wheelhouse: the control plane for customer-data pipelines."/>
        <Title formatter=|text: String| if text.is_empty() { "Wheelhouse".to_string() } else { format!("{text} · Wheelhouse") }/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home ssr=ssr.clone()/>
                <Route path=path!("/login") view=Login ssr=ssr.clone()/>
                <Route path=path!("/setup") view=Setup ssr=ssr.clone()/>
                <Route path=path!("/invite") view=AcceptInvite ssr=ssr.clone()/>
                <Route path=path!("/forgot-password") view=ForgotPassword ssr=ssr.clone()/>
                <Route path=path!("/reset-password") view=ResetPassword ssr=ssr.clone()/>
                <Route path=path!("/account") view=Account ssr=ssr.clone()/>
                <Route path=path!("/workspaces/new") view=NewWorkspace ssr=ssr.clone()/>
                <Route path=path!("/instance/namespaces") view={Lazy::<InstanceNamespacesRoute>::new()} ssr=ssr.clone()/>
                <ParentRoute path=path!("/w/:ws") view=WorkspaceLayout ssr=ssr.clone()>
                    <Route path=path!("") view={Lazy::<OverviewRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("sources") view=SourcesList ssr=ssr.clone()/>
                    <Route path=path!("sources/new") view=NewSource ssr=ssr.clone()/>
                    <Route path=path!("sources/:id") view=SourceDetail ssr=ssr.clone()/>
                    <Route path=path!("sources/:id/live") view={Lazy::<LiveRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("sources/:id/volume") view={Lazy::<VolumeRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("sources/:id/warehouse") view={Lazy::<WarehouseRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("destinations") view=DestinationsList ssr=ssr.clone()/>
                    <Route path=path!("destinations/new") view=NewDestination ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id") view=DestinationDetail ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id/live") view={Lazy::<LiveRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id/volume") view={Lazy::<VolumeRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id/errors") view={Lazy::<ErrorsRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id/consent") view={Lazy::<DestinationConsentRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("destinations/:id/warehouse") view={Lazy::<WarehouseRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("live") view={Lazy::<LiveRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("data-planes") view={Lazy::<DataPlanesRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("tracking-plans") view={Lazy::<TrackingPlansRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("tracking-plans/:tp") view={Lazy::<TrackingPlanRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("consent") view={Lazy::<ConsentRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("alerts") view={Lazy::<AlertsRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("settings") view={Lazy::<SettingsGeneralRoute>::new()} ssr=ssr.clone()/>
                    <Route path=path!("settings/members") view=SettingsMembers ssr=ssr.clone()/>
                    <Route path=path!("settings/api-tokens") view=SettingsApiTokens ssr=ssr.clone()/>
                    <Route path=path!("settings/data-planes") view=SettingsDataPlanes ssr=ssr.clone()/>
                    <Route path=path!("settings/audit") view={Lazy::<SettingsAuditRoute>::new()} ssr=ssr.clone()/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Hydrates asynchronously: a lazy route (`#[lazy_route]`) hydrates once its wasm chunk has arrived.
    wasm_bindgen_futures::spawn_local(async {
        let body = document().body().expect("the page has a body");
        leptos::mount::hydrate_from_async(body, App).await.forget();
        // Marks the page as alive once hydration (and the tasks it queued) has run: the browser tests wait
        // for `html[data-hydrated]` before they interact.
        set_timeout(
            || {
                if let Some(root) = document().document_element() {
                    let _ = root.set_attribute("data-hydrated", "");
                }
            },
            std::time::Duration::ZERO,
        );
    });
}
