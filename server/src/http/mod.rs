//! The HTTP surface: router assembly, authentication, CSRF, errors, and the operational endpoints.

pub mod auth;
pub mod client_addr;
pub mod csrf;
pub mod error;
pub mod json;
pub mod openapi;
pub mod revision;
mod site;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::accounts::sessions::DbSessionStore;
use crate::state::AppState;
use error::error_response;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Wheelhouse API",
        description = "The control plane of a customer-data platform. Authenticate with the session cookie of \
            POST /api/v1/auth/login, or with `Authorization: Bearer <API token>`. Errors are \
            `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    modifiers(&Authentication),
    security(("apiToken" = []), ("session" = [])),
    tags(
        (name = "auth", description = "Sign-in, sessions, passwords, first-run set-up"),
        (name = "workspaces", description = "Workspaces, members, roles and invites"),
        (name = "tokens", description = "API tokens"),
        (name = "catalog", description = "Integration definitions"),
        (name = "sources"), (name = "destinations"), (name = "connections"),
        (name = "data planes", description = "Data-plane tokens and namespaces"),
        (name = "instance", description = "Instance administration: background jobs"),
        (name = "live", description = "The live debugger's stream and the data planes that talk back. The \
            data-plane websocket (`GET /data-plane/v1/ws`), rudder-server's debugger uploads and the live \
            stream's frames are described in the protocol document.",
            external_docs(url = "/docs/data-plane-protocol.md", description = "The data-plane protocol")),
        (name = "volume", description = "Event volume and errors, as data planes report them (rudder-server's \
            `POST /metrics` and `POST /recordErrors`, and the data-plane websocket's `metrics` frames)"),
        (name = "consent", description = "Consent managers, the consents each destination requires, and what an \
            event with given consents reaches"),
        (name = "warehouses", description = "Permission validation of warehouse destinations and reverse-ETL \
            sources, and their sync history"),
        (name = "alerts", description = "Alert mail when a warehouse sync or permission check starts failing and \
            when it recovers: subscriptions, notification settings, what was sent")
    )
)]
struct ApiDoc;

/// The two ways to call the API; operations that need neither say `security(())`.
struct Authentication;

impl utoipa::Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer whk_api_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "dataPlane",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A data plane: a data-plane token or a namespace's hosted secret as the username, an empty password (or as Bearer)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                csrf::SESSION_COOKIE,
                "The cookie POST /api/v1/auth/login sets; state-changing requests must also come from our origin",
            ))),
        );
    }
}

/// `/api/v1`: the public API, also what the UI calls (in-process during server-side rendering).
pub fn api_router(state: AppState) -> Router {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::accounts::routes())
        .merge(crate::workspaces::routes())
        .merge(crate::tokens::routes())
        .merge(crate::catalog::routes())
        .merge(crate::sources::routes())
        .merge(crate::destinations::routes())
        .merge(crate::connections::routes())
        .merge(crate::namespaces::routes())
        .merge(crate::audit::routes())
        .merge(crate::jobs::handlers::routes())
        .merge(crate::live::routes())
        .merge(crate::volume::handlers::api_routes())
        .merge(crate::tracking_plans::api_routes())
        .merge(crate::consent::routes())
        .merge(crate::warehouses::routes())
        .merge(crate::alerts::routes())
        .split_for_parts();
    openapi.merge(crate::live::DataPlaneDoc::openapi());
    openapi.merge(crate::tracking_plans::handlers::DataPlaneDoc::openapi());
    // The error answers every operation shares, once the routers have listed the operations.
    openapi::complete(&mut openapi);
    let openapi = std::sync::Arc::new(openapi);
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(csrf::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.public_url.scheme() == "https")
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));
    router
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/api/v1", any(api_not_found))
        .route("/api/v1/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(api_method_not_allowed)
        .layer(axum::middleware::from_fn(reject_impossible_ids))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::same_origin_only,
        ))
        .layer(sessions)
        .layer(DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

async fn api_not_found(request: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!(
            "no such API route: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn api_method_not_allowed(request: Request) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!(
            "{} is not a method of {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// An id with a NUL character or bytes that are not UTF-8 names nothing: 404, before a handler sends it to the
/// database (PostgreSQL refuses to even compare a NUL, which would fail as a 500, and differently on SQLite)
/// or the path extractor answers a bare 400 of its own.
async fn reject_impossible_ids(request: Request, next: axum::middleware::Next) -> Response {
    let path: Vec<u8> = percent_encoding::percent_decode_str(request.uri().path()).collect();
    if path.contains(&0) || std::str::from_utf8(&path).is_err() {
        return api_not_found(request).await;
    }
    next.run(request).await
}

/// Some errors are answered by layers and extractors that know nothing of `{"error": {…}}`: a path that is
/// not UTF-8, a request that timed out. On the API they are rewritten into it, keeping their status and
/// (short) explanation.
async fn api_errors_in_our_shape(request: Request, next: axum::middleware::Next) -> Response {
    let on_api = request.uri().path().starts_with("/api/v1");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !on_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .map(|body| String::from_utf8_lossy(&body).trim().to_string())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long".to_string()),
        _ if status.is_server_error() => (
            "internal_error",
            "Something went wrong on our side.".to_string(),
        ),
        _ if text.is_empty() => (
            "bad_request",
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_lowercase(),
        ),
        _ => ("bad_request", text),
    };
    error_response(status, code, &message)
}

/// Everything: API, data-plane endpoints, health checks and the UI.
pub fn app(state: AppState, site: site::Site) -> Router {
    let api = api_router(state.clone());
    let people = Router::new()
        .merge(api.clone())
        .route("/healthz", get(|| async { "ok" }))
        .route("/docs/data-plane-protocol.md", get(protocol_document))
        .route("/readyz", get(readyz).with_state(state.clone()))
        .merge(site::router(site, api))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            // Method and path only: headers and query strings may carry credentials.
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(axum::middleware::from_fn(api_errors_in_our_shape))
        // Pages and API answers, in the encoding the client prefers. The built assets are already
        // compressed (and are left as they are); the data-plane routes, outside this router, serve their own
        // snapshot's gzip.
        .layer(tower_http::compression::CompressionLayer::new());
    // The data-plane endpoints answer from memory, polled every few seconds by every data plane: no per-request
    // span or timer.
    Router::new()
        .merge(crate::config_api::data_plane_routes().with_state(state))
        .merge(people)
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// The data-plane protocol, which the OpenAPI document links to (websockets have no place in OpenAPI).
async fn protocol_document() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/markdown; charset=utf-8",
        )],
        include_str!("../../../docs/data-plane-protocol.md"),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        _ => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is not reachable",
        ),
    }
}

pub use site::Site;
