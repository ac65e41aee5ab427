use app::api::catalog::{
    DestinationDefinition, DestinationSummary, SourceDefinition, SourceSummary,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(source_catalog))
        .routes(routes!(source_definition))
        .routes(routes!(destination_catalog))
        .routes(routes!(destination_definition))
}

/// Every source definition, by display name: names, types and groups (the list a picker shows). The whole
/// definition, with its config schema, is `GET /api/v1/catalog/sources/{name}`.
#[utoipa::path(get, path = "/api/v1/catalog/sources", tag = "catalog",
    responses((status = 200, body = Vec<SourceSummary>), (status = 401, body = ErrorBody)))]
async fn source_catalog(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<SourceSummary>>> {
    Ok(Json(
        state.catalog.sources().map(SourceSummary::from).collect(),
    ))
}

/// One source definition, with the JSON Schema of its config.
#[utoipa::path(get, path = "/api/v1/catalog/sources/{name}", tag = "catalog", params(("name" = String, Path)),
    responses((status = 200, body = SourceDefinition), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn source_definition(
    State(state): State<AppState>,
    _principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<SourceDefinition>> {
    state
        .catalog
        .source(&name)
        .map(|entry| Json(entry.definition.clone()))
        .ok_or_else(|| AppError::not_found("source definition"))
}

/// Every destination definition, by display name: names, categories and the source types each accepts. The
/// whole definition, with its config schema, is `GET /api/v1/catalog/destinations/{name}`.
#[utoipa::path(get, path = "/api/v1/catalog/destinations", tag = "catalog",
    responses((status = 200, body = Vec<DestinationSummary>), (status = 401, body = ErrorBody)))]
async fn destination_catalog(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<DestinationSummary>>> {
    Ok(Json(
        state
            .catalog
            .destinations()
            .map(DestinationSummary::from)
            .collect(),
    ))
}

/// One destination definition, with the JSON Schema of its config.
#[utoipa::path(get, path = "/api/v1/catalog/destinations/{name}", tag = "catalog", params(("name" = String, Path)),
    responses((status = 200, body = DestinationDefinition), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn destination_definition(
    State(state): State<AppState>,
    _principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<Json<DestinationDefinition>> {
    state
        .catalog
        .destination(&name)
        .map(|entry| Json(entry.definition.clone()))
        .ok_or_else(|| AppError::not_found("destination definition"))
}
