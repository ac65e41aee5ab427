use app::api::destinations::{CreateDestination, Destination, UpdateDestination};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::ApiJson;
use crate::http::revision::{with_etag, IfMatch};
use crate::integrations::{self, IntegrationChange, NewIntegration};
use crate::state::AppState;

use super::Destinations;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_destinations, create_destination))
        .routes(routes!(
            get_destination,
            update_destination,
            delete_destination
        ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations", tag = "destinations", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Destination>), (status = 404, body = ErrorBody)))]
async fn list_destinations(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Destination>>> {
    Ok(Json(
        integrations::list::<Destinations>(&state, &principal.actor, &ws).await?,
    ))
}

/// Add a destination (editor). `type` is a destination definition's name; `config` is checked against its
/// schema; its secret fields are encrypted and never shown again.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/destinations", tag = "destinations", params(("ws" = String, Path)),
    request_body = CreateDestination,
    responses((status = 201, body = Destination, headers(("ETag" = String, description = "The destination's revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateDestination>,
) -> ApiResult<Response> {
    let input = NewIntegration {
        name: body.name,
        type_name: body.destination_type,
        config: body.config,
        enabled: body.enabled,
    };
    let destination =
        integrations::create::<Destinations>(&state, &principal.actor, &ws, input).await?;
    let revision = destination.revision.clone();
    Ok(with_etag(StatusCode::CREATED, destination, &revision))
}

/// A destination, with its revision as `ETag`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Destination, headers(("ETag" = String, description = "The destination's revision"))),
        (status = 404, body = ErrorBody)))]
async fn get_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let destination = integrations::get::<Destinations>(&state, &principal.actor, &ws, &id).await?;
    let revision = destination.revision.clone();
    Ok(with_etag(StatusCode::OK, destination, &revision))
}

/// Rename, reconfigure, enable or disable a destination (editor). A secret field left out of `config` keeps
/// its stored value; `null` clears it. With `If-Match` (or `revision`), a destination changed meanwhile by
/// someone else is a 409 naming its current revision.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|"[!#-~]+")$"#,
            description = "The revision (ETag) the change is made on, as the `ETag` header gave it, or `*`")),
    request_body = UpdateDestination,
    responses((status = 200, body = Destination, headers(("ETag" = String, description = "The destination's new revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Changed by someone else since that revision"),
        (status = 422, body = ErrorBody)))]
async fn update_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateDestination>,
) -> ApiResult<Response> {
    let change = IntegrationChange {
        based_on: if_match.or_body(body.revision)?,
        name: body.name,
        config: body.config,
        enabled: body.enabled,
    };
    let destination =
        integrations::update::<Destinations>(&state, &principal.actor, &ws, &id, change).await?;
    let revision = destination.revision.clone();
    Ok(with_etag(StatusCode::OK, destination, &revision))
}

/// Delete a destination, its connections and its stored credentials (editor).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    integrations::delete::<Destinations>(&state, &principal.actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
