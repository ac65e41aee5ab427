//! Tracking plans over HTTP: `/api/v1/workspaces/{ws}/tracking-plans…` and a source's link, and the plan as
//! rudder-transformer fetches it (`/workspaces/{ws}/tracking-plans/{tp}?version=N`).

use app::api::tracking_plans::{
    CreateTrackingPlan, Impact, ImpactRequest, ImportTrackingPlan, LinkTrackingPlan, PlanDiff,
    Published, SourceTrackingPlan, TrackingPlan, TrackingPlanSummary, TrackingPlanVersion,
    UpdateTrackingPlan, ValidateRequest, ValidationResult, VersionSummary, ViolationCounts,
};
use app::api::ErrorBody;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::plans::{self, Revision};
use super::{counts, diff, invalid, links, traffic, TrackingPlanError};
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::ApiJson;
use crate::http::revision::{with_etag, IfMatch};
use crate::state::AppState;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(import_plan))
        .routes(routes!(get_plan, update_plan, delete_plan))
        .routes(routes!(publish_plan))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(diff_plan))
        .routes(routes!(validate_event))
        .routes(routes!(impact_preview))
        .routes(routes!(violation_counts))
        .routes(routes!(
            get_source_plan,
            link_source_plan,
            unlink_source_plan
        ))
}

/// The endpoint rudder-transformer calls, outside `/api/v1` (data-plane credentials, no session).
pub fn data_plane_routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/workspaces/{workspace_id}/tracking-plans/{plan_id}",
        get(transformer_plan),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(transformer_plan))]
pub struct DataPlaneDoc;

/// The query's parameters by name; one not in `allowed` is refused, so that a misspelt one is not silently
/// ignored.
fn query_params(
    query: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, TrackingPlanError> {
    let mut out = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&key.as_ref()) {
            return Err(invalid(
                key.as_ref(),
                format!(
                    "unknown parameter {key:?}; this takes {}",
                    allowed.join(", ")
                ),
            ));
        }
        out.push((key.into_owned(), value.into_owned()));
    }
    Ok(out)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans", tag = "tracking plans",
    params(("ws" = String, Path)),
    responses((status = 200, body = Vec<TrackingPlanSummary>), (status = 404, body = ErrorBody)))]
async fn list_plans(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<TrackingPlanSummary>>> {
    Ok(Json(plans::list(&state, &principal.actor, &ws).await?))
}

/// Create a plan (editor). Each event's `rules` is a JSON Schema over the whole message; an invalid one is a
/// 422 naming the event and the path of the problem.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/tracking-plans", tag = "tracking plans",
    params(("ws" = String, Path)), request_body = CreateTrackingPlan,
    responses((status = 201, body = TrackingPlan, headers(("ETag" = String, description = "The draft's revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateTrackingPlan>,
) -> ApiResult<Response> {
    let plan = plans::create(&state, &principal.actor, &ws, body).await?;
    let revision = plan.revision.clone();
    Ok(with_etag(StatusCode::CREATED, plan, &revision))
}

/// Create a plan learnt from the events the live debugger captured lately (editor): event names, property
/// names and types, required where always present. A 422 when nothing was captured.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/tracking-plans/import", tag = "tracking plans",
    params(("ws" = String, Path)), request_body = ImportTrackingPlan,
    responses((status = 201, body = TrackingPlan, headers(("ETag" = String, description = "The draft's revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn import_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<ImportTrackingPlan>,
) -> ApiResult<Response> {
    let plan = traffic::import(&state, &principal.actor, &ws, body).await?;
    let revision = plan.revision.clone();
    Ok(with_etag(StatusCode::CREATED, plan, &revision))
}

/// A plan's draft, with its newest version and the sources linked to it.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)),
    responses((status = 200, body = TrackingPlan, headers(("ETag" = String, description = "The draft's revision"))),
        (status = 404, body = ErrorBody)))]
async fn get_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
) -> ApiResult<Response> {
    let plan = plans::get(&state, &principal.actor, &ws, &tp).await?;
    let revision = plan.revision.clone();
    Ok(with_etag(StatusCode::OK, plan, &revision))
}

/// Change the draft (editor): name, description, or its events (replaced as a whole). Data planes see
/// nothing until a version is published and linked.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path),
        ("If-Match" = Option<String>, Header, pattern = r#"^(\*|"[!#-~]+")$"#,
            description = "The revision (ETag) the change is made on, as the `ETag` header gave it, or `*`")),
    request_body = UpdateTrackingPlan,
    responses((status = 200, body = TrackingPlan, headers(("ETag" = String, description = "The draft's new revision"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Changed by someone else since that revision, or the name is taken"),
        (status = 422, body = ErrorBody)))]
async fn update_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UpdateTrackingPlan>,
) -> ApiResult<Response> {
    let based_on = if_match.or_body(body.revision.clone())?;
    let plan = plans::update(&state, &principal.actor, &ws, &tp, body, based_on).await?;
    let revision = plan.revision.clone();
    Ok(with_etag(StatusCode::OK, plan, &revision))
}

/// Delete a plan and its versions (editor); a 422 while a source is linked to it.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn delete_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    plans::delete(&state, &principal.actor, &ws, &tp).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish the draft as the next version (editor). Versions never change; a 422 when nothing changed
/// since the newest one.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/publish", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)),
    responses((status = 200, body = Published), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The draft changed, or was published, meanwhile"),
        (status = 422, body = ErrorBody)))]
async fn publish_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
) -> ApiResult<Json<Published>> {
    Ok(Json(
        plans::publish(&state, &principal.actor, &ws, &tp).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/versions", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)),
    responses((status = 200, body = Vec<VersionSummary>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
) -> ApiResult<Json<Vec<VersionSummary>>> {
    Ok(Json(
        plans::versions(&state, &principal.actor, &ws, &tp).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/versions/{n}", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path), ("n" = i64, Path, minimum = 1)),
    responses((status = 200, body = TrackingPlanVersion), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp, n)): Path<(String, String, String)>,
) -> ApiResult<Json<TrackingPlanVersion>> {
    let Revision::Version(n) = Revision::parse("n", &n)? else {
        return Err(invalid("n", "n must be a published version number").into());
    };
    Ok(Json(
        plans::version(&state, &principal.actor, &ws, &tp, n).await?,
    ))
}

/// What changed between two versions, or a version and the draft (`from` and `to`: a version number or
/// `draft`; by default the newest version and the draft).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/diff", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path),
        ("from" = Option<String>, Query, pattern = r"^(draft|[1-9][0-9]{0,17})$", description = "A version number, or `draft`"),
        ("to" = Option<String>, Query, pattern = r"^(draft|[1-9][0-9]{0,17})$", description = "A version number, or `draft`")),
    responses((status = 200, body = PlanDiff), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn diff_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<PlanDiff>> {
    let params = query_params(query.as_deref(), &["from", "to"])?;
    let plan = plans::get(&state, &principal.actor, &ws, &tp).await?;
    let from = match param(&params, "from") {
        Some(text) => Revision::parse("from", text)?,
        None => match plan.latest_version {
            Some(n) => Revision::Version(n),
            None => Revision::Draft,
        },
    };
    let to = match param(&params, "to") {
        Some(text) => Revision::parse("to", text)?,
        None => Revision::Draft,
    };
    let before = plans::events_of(&state.db, &ws, &tp, from).await?;
    let after = plans::events_of(&state.db, &ws, &tp, to).await?;
    Ok(Json(PlanDiff {
        from: from.label(),
        to: to.label(),
        events: diff::diff(&before, &after),
    }))
}

/// An event's violations against the draft or a published version (`version`), classified as the data
/// plane's validator classifies them.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/validate", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)), request_body = ValidateRequest,
    responses((status = 200, body = ValidationResult), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn validate_event(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
    ApiJson(body): ApiJson<ValidateRequest>,
) -> ApiResult<Json<ValidationResult>> {
    Ok(Json(
        traffic::validate(&state, &principal.actor, &ws, &tp, body).await?,
    ))
}

/// What the draft (or a version) would make of the events captured lately: how many would violate, and
/// how, per event.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/impact", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path)), request_body = ImpactRequest,
    responses((status = 200, body = Impact), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn impact_preview(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
    ApiJson(body): ApiJson<ImpactRequest>,
) -> ApiResult<Json<Impact>> {
    Ok(Json(
        traffic::impact(&state, &principal.actor, &ws, &tp, body).await?,
    ))
}

/// The violations the data planes reported for this plan, hourly, per source and version (`from`, `to`:
/// RFC 3339, the last 24 hours by default; `sourceId` to narrow).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/tracking-plans/{tp}/violations", tag = "tracking plans",
    params(("ws" = String, Path), ("tp" = String, Path),
        ("from" = Option<String>, Query, format = DateTime), ("to" = Option<String>, Query, format = DateTime),
        ("sourceId" = Option<String>, Query)),
    responses((status = 200, body = ViolationCounts), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn violation_counts(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, tp)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ViolationCounts>> {
    let params = query_params(query.as_deref(), &["from", "to", "sourceId"])?;
    let range = counts::parse_range(param(&params, "from"), param(&params, "to"))?;
    Ok(Json(
        counts::violation_counts(
            &state,
            &principal.actor,
            &ws,
            &tp,
            range,
            param(&params, "sourceId"),
        )
        .await?,
    ))
}

/// The source's tracking plan: which version it is validated against, with which settings.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan", tag = "tracking plans",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SourceTrackingPlan), (status = 404, body = ErrorBody, description = "No such source, or it has no tracking plan")))]
async fn get_source_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<SourceTrackingPlan>> {
    Ok(Json(links::get(&state, &principal.actor, &ws, &id).await?))
}

/// Link the source to a published version with its settings per event type (editor): served to data
/// planes as the source's `dgSourceTrackingPlanConfig` at once.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan", tag = "tracking plans",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = LinkTrackingPlan,
    responses((status = 200, body = SourceTrackingPlan), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn link_source_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<LinkTrackingPlan>,
) -> ApiResult<Json<SourceTrackingPlan>> {
    Ok(Json(
        links::link(&state, &principal.actor, &ws, &id, body).await?,
    ))
}

/// Unlink the source (editor): data planes stop validating its events.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/sources/{id}/tracking-plan", tag = "tracking plans",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unlink_source_plan(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    links::unlink(&state, &principal.actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A published version in the shape rudder-transformer fetches (`{"events": [{name, eventType, rules}]}`),
/// for a data plane serving the workspace (a data-plane token, or a namespace's hosted secret, as HTTP
/// Basic username). The transformer caches a version forever: a version's answer never changes.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/tracking-plans/{plan_id}", tag = "tracking plans",
    security(("dataPlane" = [])),
    params(("workspace_id" = String, Path), ("plan_id" = String, Path),
        ("version" = i64, Query, minimum = 1, description = "The published version")),
    responses((status = 200, description = "The version's events", content_type = "application/json"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn transformer_plan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((workspace_id, plan_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<serde_json::Value>> {
    let snapshot = state.snapshot.current();
    let identity = crate::config_api::authenticate(&state, &snapshot, &headers)?;
    if !identity.serves(&snapshot, &workspace_id) {
        return Err(AppError::not_found("tracking plan"));
    }
    let params = query_params(query.as_deref(), &["version"])?;
    let version = match param(&params, "version").map(|v| Revision::parse("version", v)) {
        Some(Ok(Revision::Version(n))) => n,
        Some(Err(e)) => return Err(e.into()),
        _ => {
            return Err(
                invalid("version", "version is required: a published version number").into(),
            )
        }
    };
    let row = plans::load_version(&state.db, &workspace_id, &plan_id, version).await?;
    Ok(Json(json!({
        "id": row.tracking_plan_id,
        "version": row.version,
        "name": row.name,
        "events": row.events(),
    })))
}
