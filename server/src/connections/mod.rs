//! Connections: a source's events go to a destination. Only when the destination accepts that source's type.

use app::api::destinations::{Connection, CreateConnection};
use app::api::workspaces::Role;
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Event;
use crate::config_api;
use crate::db::is_unique_violation;
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson};
use crate::ids::new_id;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(delete_connection))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/connections", tag = "connections", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Connection>), (status = 404, body = ErrorBody)))]
async fn list_connections(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Connection>>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, source_id, destination_id, created_at FROM connections WHERE workspace_id = $1 ORDER BY created_at",
    )
    .bind(&ws)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, source_id, destination_id, created_at)| Connection {
                id,
                source_id,
                destination_id,
                created_at: format_ms(created_at),
            })
            .collect(),
    ))
}

/// Connect a source to a destination (editor).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/connections", tag = "connections", params(("ws" = String, Path)),
    request_body = CreateConnection,
    responses((status = 201, body = Connection), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_connection(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateConnection>,
) -> ApiResult<Response> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let source_type: String =
        sqlx::query_scalar("SELECT type FROM sources WHERE id = $1 AND workspace_id = $2")
            .bind(&body.source_id)
            .bind(&ws)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| {
                AppError::validation("sourceId", "sourceId is not a source of this workspace")
            })?;
    let destination_type: String =
        sqlx::query_scalar("SELECT type FROM destinations WHERE id = $1 AND workspace_id = $2")
            .bind(&body.destination_id)
            .bind(&ws)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| {
                AppError::validation(
                    "destinationId",
                    "destinationId is not a destination of this workspace",
                )
            })?;
    if let (Some(source), Some(destination)) = (
        state.catalog.source(&source_type),
        state.catalog.destination(&destination_type),
    ) {
        if !destination
            .definition
            .supports_source_type(&source.definition.source_type)
        {
            return Err(AppError::validation(
                "destinationId",
                format!(
                    "{} does not accept events from {} sources",
                    destination.definition.display_name, source.definition.display_name
                ),
            ));
        }
    }
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO connections (id, workspace_id, source_id, destination_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&ws)
    .bind(&body.source_id)
    .bind(&body.destination_id)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "destinationId",
                "this source is already connected to this destination",
            ))
        }
        other => other?,
    };
    config_api::commit_change(&state, tx, &ws, Event {
        workspace_id: Some(&ws),
        actor_id: Some(&access.user_id),
        action: "connection.created",
        target_type: "connection",
        target_id: &id,
        details: serde_json::json!({ "sourceId": body.source_id, "destinationId": body.destination_id }),
    }).await?;
    Ok(created(Connection {
        id,
        source_id: body.source_id,
        destination_id: body.destination_id,
        created_at: format_ms(now),
    }))
}

/// Disconnect (editor).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/connections/{id}", tag = "connections",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_connection(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let mut tx = state.db.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM connections WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(&ws)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("connection"));
    }
    config_api::commit_change(
        &state,
        tx,
        &ws,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "connection.deleted",
            target_type: "connection",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
