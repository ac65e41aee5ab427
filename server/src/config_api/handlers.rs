//! The endpoints data planes and SDKs call, with the paths and shapes the real clients use
//! (`../shared/reference/rudderstack-protocol.md`). All answers come from the in-memory snapshot.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::{Document, NamespaceSnapshot, Snapshot, TokenEntry};
use crate::http::error::{ApiResult, AppError};
use crate::ids::hash_token;
use crate::state::AppState;

pub fn data_plane_routes() -> Router<AppState> {
    Router::new()
        .route("/workspaceConfig", get(workspace_config))
        .route(
            "/data-plane/v1/namespaces/{namespace}/config",
            get(namespace_config),
        )
        .route(
            "/data-plane/v1/workspaces/{workspace_id}/settings",
            post(workspace_settings),
        )
        .route(
            "/data-plane/v1/namespaces/{namespace}/settings",
            post(namespace_settings),
        )
        .route(
            "/sourceConfig",
            get(source_config).options(source_config_preflight),
        )
        .route(
            "/sourceConfig/",
            get(source_config).options(source_config_preflight),
        )
}

/// The username of `Authorization: Basic base64(username:)`.
fn basic_username(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = BASE64.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, _password) = text.split_once(':').unwrap_or((&text, ""));
    (!username.is_empty()).then(|| username.to_string())
}

fn unauthorized(what: &str) -> AppError {
    AppError::unauthorized(format!(
        "{what}: send it as HTTP Basic auth, username = the {what}, empty password"
    ))
}

fn data_plane_token(
    state: &AppState,
    snapshot: &Snapshot,
    headers: &HeaderMap,
) -> ApiResult<Arc<TokenEntry>> {
    let token = basic_username(headers).ok_or_else(|| unauthorized("data-plane token"))?;
    let entry = snapshot
        .token(&hash_token(&token))
        .cloned()
        .ok_or_else(|| {
            AppError::unauthorized("this data-plane token is not valid (revoked, or mistyped)")
        })?;
    state.snapshot.record_token_use(&entry);
    Ok(entry)
}

fn namespace<'a>(
    snapshot: &'a Snapshot,
    name: &str,
    headers: &HeaderMap,
) -> ApiResult<&'a Arc<NamespaceSnapshot>> {
    let secret = basic_username(headers).ok_or_else(|| unauthorized("namespace secret"))?;
    snapshot
        .namespace(name, &hash_token(&secret))
        .ok_or_else(|| AppError::unauthorized("unknown namespace, or wrong secret"))
}

/// rudder-server's single-tenant config poll (`DEPLOYMENT_TYPE=DEDICATED`, `WORKSPACE_TOKEN`).
async fn workspace_config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let snapshot = state.snapshot.current();
    let entry = data_plane_token(&state, &snapshot, &headers)?;
    let workspace = snapshot
        .workspaces
        .get(&entry.workspace_id)
        .ok_or_else(|| AppError::not_found("workspace"))?;
    Ok(workspace.config.serve(&headers))
}

/// The first value of a query parameter. Data planes and SDKs get no error for an odd query string: a
/// parameter we do not know, or one given twice, is simply not what decides the answer.
fn query_param(query: &Option<String>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_deref()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// rudder-server's multi-tenant config poll (`WORKSPACE_NAMESPACE`, `HOSTED_SERVICE_SECRET`): every
/// workspace of the namespace; with `updatedAfter`, the unchanged ones as `null`.
async fn namespace_config(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let snapshot = state.snapshot.current();
    let ns = self::namespace(&snapshot, &namespace, &headers)?;
    match query_param(&query, "updatedAfter") {
        None => Ok(ns.full.serve(&headers)),
        Some(after) => {
            let after_ms = crate::time::parse_rfc3339_ms(&after).ok_or_else(|| {
                AppError::bad_request_at(
                    "updatedAfter",
                    "updatedAfter must be an RFC 3339 time such as 2024-05-01T10:00:00.000Z",
                )
            })?;
            let document = Document::uncompressed(
                snapshot
                    .namespace_body(&ns.workspace_ids, after_ms)
                    .to_vec(),
            );
            Ok(document.serve(&headers))
        }
    }
}

/// rudder-server advertises its features at start-up and expects 204.
async fn workspace_settings(
    State(state): State<AppState>,
    Path(workspace_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let snapshot = state.snapshot.current();
    let entry = data_plane_token(&state, &snapshot, &headers)?;
    if entry.workspace_id != workspace_id {
        return Err(AppError::not_found("workspace"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn namespace_settings(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let snapshot = state.snapshot.current();
    self::namespace(&snapshot, &namespace, &headers)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The JavaScript SDK's config fetch. Called cross-origin from any site that embeds the SDK, without
/// credentials: `Access-Control-Allow-Origin: *` is right, and the body never holds a secret.
async fn source_config(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let write_key = basic_username(&headers)
            .or_else(|| query_param(&query, "writeKey"))
            .ok_or_else(|| {
                AppError::unauthorized(
                    "send the write key as HTTP Basic auth (username) or ?writeKey=",
                )
            })?;
        let snapshot = state.snapshot.current();
        let workspace = snapshot
            .write_keys
            .get(&write_key)
            .ok_or_else(|| AppError::unauthorized("this write key is not valid"))?;
        let document = workspace
            .source_configs
            .get(&write_key)
            .ok_or_else(|| AppError::not_found("source"))?;
        Ok::<_, AppError>(document.serve(&headers))
    })();
    with_cors(result.unwrap_or_else(IntoResponse::into_response))
}

async fn source_config_preflight() -> Response {
    with_cors(StatusCode::NO_CONTENT.into_response())
}

fn with_cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("Authorization, Content-Type, Accept"),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("ETag"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    response
}
