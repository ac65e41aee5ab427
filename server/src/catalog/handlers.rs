use app::api::catalog::{DestinationDefinition, SourceDefinition};
use app::api::ErrorBody;
use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(source_catalog))
        .routes(routes!(destination_catalog))
}

/// Every source definition, with the JSON Schema of its config.
#[utoipa::path(get, path = "/api/v1/catalog/sources", tag = "catalog",
    responses((status = 200, body = Vec<SourceDefinition>), (status = 401, body = ErrorBody)))]
async fn source_catalog(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<SourceDefinition>>> {
    Ok(Json(state.catalog.sources().cloned().collect()))
}

/// Every destination definition, with the JSON Schema of its config.
#[utoipa::path(get, path = "/api/v1/catalog/destinations", tag = "catalog",
    responses((status = 200, body = Vec<DestinationDefinition>), (status = 401, body = ErrorBody)))]
async fn destination_catalog(
    State(state): State<AppState>,
    _principal: Principal,
) -> ApiResult<Json<Vec<DestinationDefinition>>> {
    Ok(Json(state.catalog.destinations().cloned().collect()))
}
