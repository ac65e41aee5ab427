use app::api::tokens::{
    ApiToken, CreateApiToken, CreateDataPlaneToken, CreatedToken, DataPlaneToken,
};
use app::api::workspaces::Role;
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{API_TOKEN_KIND, DATA_PLANE_TOKEN_KIND, NAME_MAX};
use crate::accounts::parse_name;
use crate::audit::{self, Event};
use crate::http::auth::{Principal, Via};
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson, ApiQuery};
use crate::ids::{new_id, new_token};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_tokens, create_api_token))
        .routes(routes!(revoke_api_token))
        .routes(routes!(list_data_plane_tokens, create_data_plane_token))
        .routes(routes!(revoke_data_plane_token))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
struct TokenFilter {
    /// Only the tokens of this workspace.
    workspace_id: Option<String>,
}

type ApiTokenRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
);

/// API tokens of the workspaces where you are an admin.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenFilter),
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody)))]
async fn list_api_tokens(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(filter): ApiQuery<TokenFilter>,
) -> ApiResult<Json<Vec<ApiToken>>> {
    // Only the workspaces where the caller is an admin (an API token: its own workspace, if it is an admin).
    let rows: Vec<ApiTokenRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.workspace_id, t.role, t.prefix, u.email, t.created_at, t.last_used_at
         FROM api_tokens t
         JOIN users u ON u.id = t.user_id
         JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = $1 AND m.role IN ('admin', 'owner')
         ORDER BY t.created_at DESC",
    )
    .bind(&principal.user_id)
    .fetch_all(&state.db.pool)
    .await?;
    let token_scope = match &principal.via {
        Via::Token {
            workspace_id, role, ..
        } => Some((workspace_id.clone(), *role)),
        Via::Session(_) => None,
    };
    let mut out = Vec::new();
    for (id, name, workspace_id, role, prefix, created_by, created_at, last_used_at) in rows {
        if filter
            .workspace_id
            .as_ref()
            .is_some_and(|w| *w != workspace_id)
        {
            continue;
        }
        if let Some((scope, token_role)) = &token_scope {
            if *scope != workspace_id || *token_role < Role::Admin {
                continue;
            }
        }
        let Some(role) = Role::parse(&role) else {
            continue;
        };
        out.push(ApiToken {
            id,
            name,
            workspace_id,
            role,
            prefix,
            created_by,
            created_at: format_ms(created_at),
            last_used_at: last_used_at.map(format_ms),
        });
    }
    Ok(Json(out))
}

/// Create an API token for a workspace (admin). Its role cannot exceed yours. The token is shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateApiToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateApiToken>,
) -> ApiResult<Response> {
    let access = principal
        .access(&state, &body.workspace_id, Role::Admin)
        .await?;
    let name = parse_name("name", &body.name, NAME_MAX)?;
    if body.role > access.role {
        return Err(AppError::validation(
            "role",
            format!("role cannot exceed your own role ({})", access.role),
        ));
    }
    let id = new_id();
    let (token, hash, prefix) = new_token(API_TOKEN_KIND);
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, workspace_id, user_id, name, role, token_hash, prefix, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&body.workspace_id)
    .bind(&access.user_id)
    .bind(&name)
    .bind(body.role.as_str())
    .bind(&hash)
    .bind(&prefix)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&body.workspace_id),
            actor_id: Some(&access.user_id),
            action: "api_token.created",
            target_type: "api_token",
            target_id: &id,
            details: serde_json::json!({ "name": name, "role": body.role }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(created(CreatedToken { id, token }))
}

/// Revoke an API token: an admin of its workspace, or its creator.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_api_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT workspace_id, user_id FROM api_tokens WHERE id = $1")
            .bind(&id)
            .fetch_optional(&state.db.pool)
            .await?;
    let Some((workspace_id, creator)) = row else {
        return Err(AppError::not_found("API token"));
    };
    let role = principal
        .role_in(&state, &workspace_id)
        .await?
        .ok_or_else(|| AppError::not_found("API token"))?;
    // The creator's own exemption is for the person: a token acting for them stays within its role (a
    // viewer token must not revoke the tokens its creator made for other scripts).
    let own_token = creator == principal.user_id && !principal.is_token();
    if role < Role::Admin && !own_token {
        return Err(AppError::Forbidden(
            "only an admin or the token's creator can revoke it".into(),
        ));
    }
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&workspace_id),
            actor_id: Some(&principal.user_id),
            action: "api_token.revoked",
            target_type: "api_token",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Data-plane tokens of a workspace (admin).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data-plane-tokens", tag = "data planes", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<DataPlaneToken>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_data_plane_tokens(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<DataPlaneToken>>> {
    principal.access(&state, &ws, Role::Admin).await?;
    let rows: Vec<(String, String, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, prefix, created_by, created_at, last_used_at FROM data_plane_tokens
         WHERE workspace_id = $1 ORDER BY created_at DESC",
    )
    .bind(&ws)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(id, name, prefix, created_by, created_at, last_used_at)| DataPlaneToken {
                    id,
                    name,
                    prefix,
                    created_by,
                    created_at: format_ms(created_at),
                    last_used_at: last_used_at.map(format_ms),
                },
            )
            .collect(),
    ))
}

/// Create a data-plane token (admin): a rudder-server's `WORKSPACE_TOKEN`. Shown once.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/data-plane-tokens", tag = "data planes", params(("ws" = String, Path)),
    request_body = CreateDataPlaneToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_data_plane_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateDataPlaneToken>,
) -> ApiResult<Response> {
    let access = principal.access(&state, &ws, Role::Admin).await?;
    let name = parse_name("name", &body.name, NAME_MAX)?;
    let creator = crate::accounts::by_id(&state.db, &access.user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    let id = new_id();
    let (token, hash, prefix) = new_token(DATA_PLANE_TOKEN_KIND);
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO data_plane_tokens (id, workspace_id, name, token_hash, prefix, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&ws)
    .bind(&name)
    .bind(&hash)
    .bind(&prefix)
    .bind(&creator)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "data_plane_token.created",
            target_type: "data_plane_token",
            target_id: &id,
            details: serde_json::json!({ "name": name }),
        },
    )
    .await?;
    tx.commit().await?;
    state.snapshots.refresh(&state, &ws).await?;
    Ok(created(CreatedToken { id, token }))
}

/// Revoke a data-plane token (admin). Its data plane gets 401 from the next poll.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/data-plane-tokens/{id}", tag = "data planes",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_data_plane_token(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Admin).await?;
    let mut tx = state.db.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM data_plane_tokens WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(&ws)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("data-plane token"));
    }
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "data_plane_token.revoked",
            target_type: "data_plane_token",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    state.snapshots.refresh(&state, &ws).await?;
    Ok(StatusCode::NO_CONTENT)
}
