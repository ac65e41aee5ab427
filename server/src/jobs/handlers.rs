use app::api::jobs::Job;
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::queue;
use crate::http::auth::Principal;
use crate::http::error::ApiResult;
use crate::http::json::ApiQuery;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// `queued`, `running`, `succeeded` or `dead` (the jobs that gave up); all when absent.
    #[param(value_type = Option<app::api::jobs::JobState>)]
    state: Option<String>,
}

/// Background jobs, most recently changed first (instance admin). `?state=dead` lists those that failed
/// as often as they may, with why.
#[utoipa::path(get, path = "/api/v1/instance/jobs", tag = "instance", security(("session" = [])), params(JobQuery),
    responses((status = 200, body = Vec<Job>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_jobs(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<JobQuery>,
) -> ApiResult<Json<Vec<Job>>> {
    Ok(Json(
        queue::list(&state.db, &principal.actor, query.state.as_deref()).await?,
    ))
}

/// Queue a dead job again, with a fresh set of attempts (instance admin).
#[utoipa::path(post, path = "/api/v1/instance/jobs/{id}/retry", tag = "instance", security(("session" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_job(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Job>> {
    let job = queue::retry_dead(&state.db, &principal.actor, &id).await?;
    state.jobs.wake();
    Ok(Json(job))
}
