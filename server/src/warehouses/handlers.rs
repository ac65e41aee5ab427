use app::api::warehouses::{
    SyncHistory, Validation, ValidationSchedule, ValidationStarted, Validations,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{syncs, ResourceType};
use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::{ApiJson, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(validate_destination))
        .routes(routes!(validate_source))
        .routes(routes!(get_validation))
        .routes(routes!(destination_validations))
        .routes(routes!(source_validations))
        .routes(routes!(destination_schedule))
        .routes(routes!(source_schedule))
        .routes(routes!(destination_syncs))
        .routes(routes!(source_syncs))
}

async fn start(
    state: &AppState,
    principal: &Principal,
    ws: &str,
    resource_type: ResourceType,
    id: &str,
) -> ApiResult<(StatusCode, Json<ValidationStarted>)> {
    let job_id = super::request(state, &principal.actor, ws, resource_type, id).await?;
    Ok((StatusCode::ACCEPTED, Json(ValidationStarted { job_id })))
}

/// Check a warehouse destination's permissions (editor), as rudder-server's validation steps do: object
/// storage, connection, create schema, create and alter table, fetch schema, load table. Runs in the
/// background; poll `GET …/validations/{jobId}`. Introspection first, then probes only inside the
/// destination's own schema, rolled back.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/destinations/{id}/validate", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 202, body = ValidationStarted), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Not a warehouse, or one not validated yet")))]
async fn validate_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<ValidationStarted>)> {
    start(&state, &principal, &ws, "destination", &id).await
}

/// Check a reverse-ETL warehouse source's permissions (editor): connection, listing schemas and tables,
/// reading the chosen tables (its `tables` setting), and creating, altering and dropping tables in the
/// dedicated `_rudderstack` schema (rolled back).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/sources/{id}/validate", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 202, body = ValidationStarted), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Not a warehouse, or one not validated yet")))]
async fn validate_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<ValidationStarted>)> {
    start(&state, &principal, &ws, "source", &id).await
}

/// A validation as it stands: `running` while steps are `pending`; each finished step with its outcome, the
/// reason, and for a missing privilege the statement that grants it.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/validations/{jobId}", tag = "warehouses",
    params(("ws" = String, Path), ("jobId" = String, Path)),
    responses((status = 200, body = Validation), (status = 404, body = ErrorBody)))]
async fn get_validation(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, job_id)): Path<(String, String)>,
) -> ApiResult<Json<Validation>> {
    Ok(Json(
        super::get(&state, &principal.actor, &ws, &job_id).await?,
    ))
}

/// A warehouse destination's last validations, newest first, and how often it is re-checked.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/validations", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Validations), (status = 404, body = ErrorBody)))]
async fn destination_validations(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<Validations>> {
    Ok(Json(
        super::list(&state, &principal.actor, &ws, "destination", &id).await?,
    ))
}

/// A reverse-ETL source's last validations, newest first, and how often it is re-checked.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}/validations", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Validations), (status = 404, body = ErrorBody)))]
async fn source_validations(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<Validations>> {
    Ok(Json(
        super::list(&state, &principal.actor, &ws, "source", &id).await?,
    ))
}

/// How often a warehouse destination's permissions are checked again (editor): `recheckEveryHours` 1 to
/// 720, or 0 for never. A step that passed before and fails on a re-check alerts like a failed sync.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/destinations/{id}/validation-schedule", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = ValidationSchedule,
    responses((status = 200, body = ValidationSchedule), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn destination_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ValidationSchedule>,
) -> ApiResult<Json<ValidationSchedule>> {
    Ok(Json(
        super::set_schedule(&state, &principal.actor, &ws, "destination", &id, body).await?,
    ))
}

/// How often a reverse-ETL source's permissions are checked again (editor).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/sources/{id}/validation-schedule", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = ValidationSchedule,
    responses((status = 200, body = ValidationSchedule), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn source_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ValidationSchedule>,
) -> ApiResult<Json<ValidationSchedule>> {
    Ok(Json(
        super::set_schedule(&state, &principal.actor, &ws, "source", &id, body).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// RFC 3339; 7 days before `to` unless given.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339; now unless given. The range is at most 90 days.
    #[param(format = DateTime)]
    to: Option<String>,
}

/// A warehouse destination's uploads, newest first (at most 200), their tally per hour, and whether it is
/// failing now.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/syncs", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path), RangeQuery),
    responses((status = 200, body = SyncHistory), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn destination_syncs(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiQuery(range): ApiQuery<RangeQuery>,
) -> ApiResult<Json<SyncHistory>> {
    Ok(Json(
        syncs::history(
            &state,
            &principal.actor,
            &ws,
            "destination",
            &id,
            range.from.as_deref(),
            range.to.as_deref(),
        )
        .await?,
    ))
}

/// A reverse-ETL source's syncs, newest first (at most 200), their tally per hour, and whether it is
/// failing now.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}/syncs", tag = "warehouses",
    params(("ws" = String, Path), ("id" = String, Path), RangeQuery),
    responses((status = 200, body = SyncHistory), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn source_syncs(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiQuery(range): ApiQuery<RangeQuery>,
) -> ApiResult<Json<SyncHistory>> {
    Ok(Json(
        syncs::history(
            &state,
            &principal.actor,
            &ws,
            "source",
            &id,
            range.from.as_deref(),
            range.to.as_deref(),
        )
        .await?,
    ))
}
