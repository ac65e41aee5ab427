use app::api::destinations::{Connection, CreateConnection};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::{created, ApiJson};
use crate::state::AppState;

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
    Ok(Json(super::list(&state.db, &principal.actor, &ws).await?))
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
    Ok(created(
        super::create(
            &state,
            &principal.actor,
            &ws,
            &body.source_id,
            &body.destination_id,
        )
        .await?,
    ))
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
    super::delete(&state, &principal.actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
