//! The two faces of event volume. Data planes send reports: rudder-server's reporting service, pointed at Wheelhouse (`REPORTING_URL=<Wheelhouse URL>`,
//! `REPORTING_USERNAME=<data-plane token or hosted secret>`, empty password): `POST /metrics?version=v1` (one
//! metric object per request) and `POST /recordErrors`, plain or `Content-Encoding: gzip`. rudder-server
//! retries anything but a 2xx, so a report is answered 200 only once stored (or stored before).
//!
//! People read them back under `/api/v1` (`api_routes`): a source's or destination's volume, a destination's
//! errors grouped, and the workspace's totals.

use std::io::Read;

use app::api::volume::{ErrorGroups, Granularity, VolumeDimension, VolumeSeries, VolumeSummary};
use app::api::ErrorBody;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header::CONTENT_ENCODING, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{self, Entity, VolumeQuery};
use super::{ErrorReport, MetricObject, Report, VolumeError};
use crate::config_api::authenticate;
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::state::AppState;

/// The most a (decompressed) report may hold.
const MAX_REPORT_BYTES: u64 = 4 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", post(metrics))
        .route("/recordErrors", post(record_errors))
}

/// The body as JSON, gunzipped first when it says so.
fn read_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8], shape: &str) -> ApiResult<T> {
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let plain: Vec<u8> = match encoding.as_str() {
        "identity" | "" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_REPORT_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| AppError::bad_request(format!("the gzip body cannot be read: {e}")))?;
            if out.len() as u64 > MAX_REPORT_BYTES {
                return Err(AppError::payload_too_large(format!(
                    "a report may hold at most {MAX_REPORT_BYTES} bytes decompressed"
                )));
            }
            out
        }
        other => {
            return Err(AppError::unsupported_media_type(format!(
                "Content-Encoding {other:?} is not read here; send gzip or nothing"
            )))
        }
    };
    let mut deserializer = serde_json::Deserializer::from_slice(&plain);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        AppError::bad_request_at(
            e.path().to_string(),
            format!("the body is not {shape}: at {}: {}", e.path(), e.inner()),
        )
    })
}

/// Refuses a report for a workspace the credential does not serve, then stores it.
async fn take(state: &AppState, headers: &HeaderMap, report: Report) -> ApiResult<StatusCode> {
    let snapshot = state.snapshot.current();
    let identity = authenticate(state, &snapshot, headers)?;
    if !identity.serves(&snapshot, &report.workspace_id) {
        return Err(VolumeError::NotServed(format!(
            "workspace {:?} is not one this credential serves",
            report.workspace_id
        ))
        .into());
    }
    state.volume.store(report).await?;
    Ok(StatusCode::OK)
}

async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    // The credential first: an unauthenticated caller learns nothing of what it sent.
    authenticate(&state, &state.snapshot.current(), &headers)?;
    let object: MetricObject = read_body(
        &headers,
        &body,
        "a metric object {workspaceId, instanceId, sourceId, destinationId, reportedBy, terminalState, reportedAt, reports: [...]}",
    )?;
    let sync = crate::warehouses::syncs::RunReport::from_metric(&object);
    let status = take(&state, &headers, object.into_report()?).await?;
    if let Some(sync) = sync {
        // The report is stored: a sync run that cannot be (its destination is unknown) is not worth a retry.
        if let Err(error) = crate::warehouses::syncs::record(&state, sync).await {
            tracing::info!(%error, "a warehouse report's run was not recorded");
        }
    }
    Ok(status)
}

async fn record_errors(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    authenticate(&state, &state.snapshot.current(), &headers)?;
    let report: ErrorReport = read_body(
        &headers,
        &body,
        "an error report {workspaceId, sourceId, destinationId, reportedAt, errors: [...]}",
    )?;
    take(&state, &headers, report.into_report()?).await
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(source_volume))
        .routes(routes!(destination_volume))
        .routes(routes!(destination_errors))
        .routes(routes!(volume_summary))
}

/// The query string of a volume series; parsed by hand (`groupBy` repeats).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string
struct SeriesQuery {
    /// RFC 3339; 24 hours before `to` unless given. Rounded down to a whole bucket.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339; now unless given. Rounded up to a whole bucket.
    #[param(format = DateTime)]
    to: Option<String>,
    /// `minute`, `hour` or `day`. Unless given: minutes up to 6 hours, hours up to 31 days, days beyond (and
    /// never one no longer kept for `from`).
    #[param(inline)]
    granularity: Option<Granularity>,
    /// Split the counts by `status`, `eventName`, `eventType` or `statusCode`; repeatable.
    #[param(rename = "groupBy", inline, explode = true, style = Form)]
    group_by: Option<Vec<VolumeDimension>>,
}

/// The query string of a range: `from` and `to`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string
struct RangeQuery {
    /// RFC 3339; 24 hours before `to` unless given.
    #[param(format = DateTime)]
    from: Option<String>,
    /// RFC 3339; now unless given.
    #[param(format = DateTime)]
    to: Option<String>,
}

const SERIES_PARAMETERS: &[&str] = &["from", "to", "granularity", "groupBy"];
const RANGE_PARAMETERS: &[&str] = &["from", "to"];

async fn series(
    state: &AppState,
    principal: &Principal,
    entity: Entity,
    ws: &str,
    id: &str,
    query: Option<&str>,
) -> ApiResult<Json<VolumeSeries>> {
    let query = VolumeQuery::parse(query, SERIES_PARAMETERS)?;
    Ok(Json(
        views::series(&state.db, &principal.actor, ws, entity, id, &query).await?,
    ))
}

/// A source's volume over time: events received, per bucket (viewer).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}/volume", tag = "volume",
    params(("ws" = String, Path), ("id" = String, Path), SeriesQuery),
    responses((status = 200, body = VolumeSeries), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn source_volume(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<VolumeSeries>> {
    series(
        &state,
        &principal,
        Entity::Source,
        &ws,
        &id,
        query.as_deref(),
    )
    .await
}

/// A destination's volume over time: events delivered (`succeeded`) and failed (`failed`, `aborted`), per
/// bucket (viewer).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/volume", tag = "volume",
    params(("ws" = String, Path), ("id" = String, Path), SeriesQuery),
    responses((status = 200, body = VolumeSeries), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn destination_volume(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<VolumeSeries>> {
    series(
        &state,
        &principal,
        Entity::Destination,
        &ws,
        &id,
        query.as_deref(),
    )
    .await
}

/// A destination's failures, grouped by status code and message (ids, numbers, emails and timestamps taken
/// out), most failed first; samples for editors and admins (viewer).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}/errors", tag = "volume",
    params(("ws" = String, Path), ("id" = String, Path), RangeQuery),
    responses((status = 200, body = ErrorGroups), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn destination_errors(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<ErrorGroups>> {
    let query = VolumeQuery::parse(query.as_deref(), RANGE_PARAMETERS)?;
    Ok(Json(
        views::error_groups(&state.db, &principal.actor, &ws, &id, &query).await?,
    ))
}

/// Every destination's delivered and failed events and every source's received events over a range,
/// busiest first (viewer).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/volume/summary", tag = "volume",
    params(("ws" = String, Path), RangeQuery),
    responses((status = 200, body = VolumeSummary), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn volume_summary(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<VolumeSummary>> {
    let query = VolumeQuery::parse(query.as_deref(), RANGE_PARAMETERS)?;
    Ok(Json(
        views::summary(&state.db, &principal.actor, &ws, &query).await?,
    ))
}
