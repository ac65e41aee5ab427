use app::api::namespaces::{
    CreateNamespace, InstanceWorkspace, Namespace, NamespaceWithSecret, UpdateNamespace,
};
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
        .routes(routes!(list_namespaces, create_namespace))
        .routes(routes!(update_namespace, delete_namespace))
        .routes(routes!(rotate_namespace_secret))
        .routes(routes!(list_instance_workspaces))
}

#[utoipa::path(get, path = "/api/v1/namespaces", tag = "data planes", security(("session" = [])),
    responses((status = 200, body = Vec<Namespace>), (status = 403, body = ErrorBody)))]
async fn list_namespaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Namespace>>> {
    Ok(Json(super::list(&state.db, &principal.actor).await?))
}

/// Create a namespace (instance admin). Its secret is shown once.
#[utoipa::path(post, path = "/api/v1/namespaces", tag = "data planes", security(("session" = [])), request_body = CreateNamespace,
    responses((status = 201, body = NamespaceWithSecret), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_namespace(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateNamespace>,
) -> ApiResult<Response> {
    Ok(created(
        super::create(&state, &principal.actor, &body.name, &body.workspace_ids).await?,
    ))
}

/// Set a namespace's workspaces (instance admin).
#[utoipa::path(patch, path = "/api/v1/namespaces/{id}", tag = "data planes", security(("session" = [])), params(("id" = String, Path)),
    request_body = UpdateNamespace,
    responses((status = 200, body = Namespace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_namespace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateNamespace>,
) -> ApiResult<Json<Namespace>> {
    Ok(Json(
        super::update(&state, &principal.actor, &id, body.workspace_ids).await?,
    ))
}

/// Delete a namespace (instance admin); its secret stops working at once.
#[utoipa::path(delete, path = "/api/v1/namespaces/{id}", tag = "data planes", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_namespace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    super::delete(&state, &principal.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for the namespace (instance admin); the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/namespaces/{id}/rotate-secret", tag = "data planes", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = NamespaceWithSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_namespace_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<NamespaceWithSecret>> {
    Ok(Json(
        super::rotate_secret(&state, &principal.actor, &id).await?,
    ))
}

/// Every workspace of the instance and its namespace (instance admin): what a namespace can hold.
#[utoipa::path(get, path = "/api/v1/instance/workspaces", tag = "data planes", security(("session" = [])),
    responses((status = 200, body = Vec<InstanceWorkspace>), (status = 403, body = ErrorBody)))]
async fn list_instance_workspaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<InstanceWorkspace>>> {
    Ok(Json(
        super::instance_workspaces(&state.db, &principal.actor).await?,
    ))
}
