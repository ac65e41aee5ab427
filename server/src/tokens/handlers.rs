use app::api::tokens::{
    ApiToken, CreateApiToken, CreateDataPlaneToken, CreatedToken, DataPlaneToken,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::{created, ApiJson, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_tokens, create_api_token))
        .routes(routes!(revoke_api_token))
        .routes(routes!(list_data_plane_tokens, create_data_plane_token))
        .routes(routes!(revoke_data_plane_token))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct TokenFilter {
    /// Only the tokens of this workspace.
    workspace_id: Option<String>,
}

/// API tokens of the workspaces where you are an admin.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenFilter),
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody)))]
async fn list_api_tokens(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(filter): ApiQuery<TokenFilter>,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(
        super::list_api_tokens(&state.db, &principal.actor, filter.workspace_id.as_deref()).await?,
    ))
}

/// Create an API token for a workspace (admin). Its role cannot exceed yours (a token's: its own). The
/// token is shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateApiToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateApiToken>,
) -> ApiResult<Response> {
    Ok(created(
        super::create_api_token(
            &state.db,
            &principal.actor,
            &body.workspace_id,
            &body.name,
            body.role,
        )
        .await?,
    ))
}

/// Revoke an API token: an admin of its workspace, or its creator.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_api_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    super::revoke_api_token(&state.db, &principal.actor, &id).await?;
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
    Ok(Json(
        super::list_data_plane_tokens(&state.db, &principal.actor, &ws).await?,
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
    Ok(created(
        super::create_data_plane_token(&state, &principal.actor, &ws, &body.name).await?,
    ))
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
    super::revoke_data_plane_token(&state, &principal.actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
