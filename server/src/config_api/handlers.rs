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
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::ids::hash_token;
use crate::live::registry::{self, Seen};
use crate::state::AppState;

pub fn data_plane_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/data-plane/v1/ws",
            get(crate::live::data_plane_ws::data_plane_socket),
        )
        .merge(crate::live::uploads::routes())
        .merge(crate::volume::handlers::routes())
        .merge(crate::tracking_plans::data_plane_routes())
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

/// The credential of `Authorization: Basic base64(credential:)` (what rudder-server sends: the credential as
/// the username, an empty password) or `Authorization: Bearer credential`.
fn credential(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        let token = token.trim();
        return (!token.is_empty()).then(|| token.to_string());
    }
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
    let token = credential(headers).ok_or_else(|| unauthorized("data-plane token"))?;
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
    let secret = credential(headers).ok_or_else(|| unauthorized("namespace secret"))?;
    snapshot
        .namespace(name, &hash_token(&secret))
        .ok_or_else(|| AppError::unauthorized("unknown namespace, or wrong secret"))
}

/// Who a data plane is: what its credential (a data-plane token, or a namespace's hosted secret) lets it
/// serve. The config endpoints, the debugger uploads and the data-plane websocket all ask this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataPlaneIdentity {
    Workspace {
        workspace_id: String,
        token_id: String,
    },
    Namespace {
        name: String,
    },
}

impl DataPlaneIdentity {
    /// The workspaces it serves now (a namespace's members may change while it is connected).
    pub fn workspaces(&self, snapshot: &Snapshot) -> Vec<String> {
        match self {
            DataPlaneIdentity::Workspace { workspace_id, .. } => vec![workspace_id.clone()],
            DataPlaneIdentity::Namespace { name } => snapshot
                .namespaces
                .get(name)
                .map(|ns| ns.workspace_ids.clone())
                .unwrap_or_default(),
        }
    }

    pub fn serves(&self, snapshot: &Snapshot, workspace_id: &str) -> bool {
        match self {
            DataPlaneIdentity::Workspace {
                workspace_id: own, ..
            } => own == workspace_id,
            DataPlaneIdentity::Namespace { name } => snapshot
                .namespaces
                .get(name)
                .is_some_and(|ns| ns.workspace_ids.iter().any(|w| w == workspace_id)),
        }
    }

    /// What names the credential in a data plane's derived id: the token's id, or the namespace's name.
    pub fn credential_label(&self) -> &str {
        match self {
            DataPlaneIdentity::Workspace { token_id, .. } => token_id,
            DataPlaneIdentity::Namespace { name } => name,
        }
    }
}

/// The data plane calling, from its credential: a data-plane token, or any namespace's hosted secret.
pub fn authenticate(
    state: &AppState,
    snapshot: &Snapshot,
    headers: &HeaderMap,
) -> ApiResult<DataPlaneIdentity> {
    let secret = credential(headers).ok_or_else(|| {
        AppError::unauthorized(
            "send a data-plane token or a namespace's hosted secret as HTTP Basic auth (username, empty password) or as Authorization: Bearer",
        )
    })?;
    let hash = hash_token(&secret);
    if let Some(entry) = snapshot.token(&hash) {
        state.snapshot.record_token_use(entry);
        return Ok(DataPlaneIdentity::Workspace {
            workspace_id: entry.workspace_id.clone(),
            token_id: entry.token_id.clone(),
        });
    }
    snapshot
        .namespace_by_secret(&hash)
        .map(|ns| DataPlaneIdentity::Namespace {
            name: ns.name.clone(),
        })
        .ok_or_else(|| {
            AppError::unauthorized(
                "this credential is not a valid data-plane token or namespace secret (revoked, or mistyped)",
            )
        })
}

/// rudder-server's single-tenant config poll (`DEPLOYMENT_TYPE=DEDICATED`, `WORKSPACE_TOKEN`).
async fn workspace_config(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let snapshot = state.snapshot.current();
    let entry = data_plane_token(&state, &snapshot, &headers)?;
    let workspace = snapshot
        .workspaces
        .get(&entry.workspace_id)
        .ok_or_else(|| AppError::not_found("workspace"))?;
    registry::polled(
        &state,
        &DataPlaneIdentity::Workspace {
            workspace_id: entry.workspace_id.clone(),
            token_id: entry.token_id.clone(),
        },
        poller(ip, &headers),
        vec![entry.workspace_id.clone()],
        vec![workspace.live.revision],
    );
    Ok(workspace.config.serve(&headers))
}

/// A polling data plane, as far as its request tells: its address and its `User-Agent`.
fn poller(ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> Seen {
    let address = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown");
    let (software, version) = agent
        .split_whitespace()
        .next()
        .and_then(|product| product.split_once('/'))
        .unwrap_or((agent, ""));
    let clip = |s: &str| s.chars().take(100).collect::<String>();
    let named = headers
        .get(registry::INSTANCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    Seen {
        instance_id: clip(&named.map_or_else(|| format!("{software} @ {address}"), String::from)),
        software: clip(software),
        version: clip(version),
        address,
    }
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
    ClientAddr(ip): ClientAddr,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let snapshot = state.snapshot.current();
    let ns = self::namespace(&snapshot, &namespace, &headers)?;
    let revisions = ns
        .workspace_ids
        .iter()
        .map(|id| snapshot.workspaces.get(id).map_or(0, |w| w.live.revision))
        .collect();
    registry::polled(
        &state,
        &DataPlaneIdentity::Namespace {
            name: ns.name.clone(),
        },
        poller(ip, &headers),
        ns.workspace_ids.clone(),
        revisions,
    );
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
        let write_key = credential(&headers)
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
