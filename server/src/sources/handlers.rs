use app::api::sources::{CreateSource, Source, UpdateSource};
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

use super::Sources;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(rotate_write_key))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources", tag = "sources", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Source>), (status = 404, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Source>>> {
    Ok(Json(
        integrations::list::<Sources>(&state, &principal.actor, &ws).await?,
    ))
}

/// Add a source (editor). `type` is a source definition's name; `config` is checked against its schema.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/sources", tag = "sources", params(("ws" = String, Path)),
    request_body = CreateSource,
    responses((status = 201, body = Source, headers(("ETag" = String, description = "The source's revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<Response> {
    let input = NewIntegration {
        name: body.name,
        type_name: body.source_type,
        config: body.config,
        enabled: body.enabled,
    };
    let source = integrations::create::<Sources>(&state, &principal.actor, &ws, input).await?;
    let revision = source.revision.clone();
    Ok(with_etag(StatusCode::CREATED, source, &revision))
}

/// A source, with its revision as `ETag`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Source, headers(("ETag" = String, description = "The source's revision"))),
        (status = 404, body = ErrorBody)))]
async fn get_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let source = integrations::get::<Sources>(&state, &principal.actor, &ws, &id).await?;
    let revision = source.revision.clone();
    Ok(with_etag(StatusCode::OK, source, &revision))
}

/// Rename, reconfigure, enable or disable a source (editor). A secret field left out of `config` keeps its
/// stored value; `null` clears it. With `If-Match` (or `revision`), a source changed meanwhile by someone
/// else is a 409 naming its current revision.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|"[!#-~]+")$"#,
            description = "The revision (ETag) the change is made on, as the `ETag` header gave it, or `*`")),
    request_body = UpdateSource,
    responses((status = 200, body = Source, headers(("ETag" = String, description = "The source's new revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Changed by someone else since that revision"),
        (status = 422, body = ErrorBody)))]
async fn update_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateSource>,
) -> ApiResult<Response> {
    let change = IntegrationChange {
        based_on: if_match.or_body(body.revision)?,
        name: body.name,
        config: body.config,
        enabled: body.enabled,
    };
    let source =
        integrations::update::<Sources>(&state, &principal.actor, &ws, &id, change).await?;
    let revision = source.revision.clone();
    Ok(with_etag(StatusCode::OK, source, &revision))
}

/// Delete a source and its connections (editor). Its write key stops working at once.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    integrations::delete::<Sources>(&state, &principal.actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a source a new write key (editor). The old one stops working at once.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/sources/{id}/rotate-write-key", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Source, headers(("ETag" = String, description = "The source's new revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_write_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let source = super::rotate_write_key(&state, &principal.actor, &ws, &id).await?;
    let revision = source.revision.clone();
    Ok(with_etag(StatusCode::OK, source, &revision))
}
