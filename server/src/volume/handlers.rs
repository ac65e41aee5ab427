//! rudder-server's reporting service, pointed at Wheelhouse (`REPORTING_URL=<Wheelhouse URL>`,
//! `REPORTING_USERNAME=<data-plane token or hosted secret>`, empty password): `POST /metrics?version=v1` (one
//! metric object per request) and `POST /recordErrors`, plain or `Content-Encoding: gzip`. rudder-server
//! retries anything but a 2xx, so a report is answered 200 only once stored (or stored before).

use std::io::Read;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header::CONTENT_ENCODING, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde::de::DeserializeOwned;

use super::{ErrorReport, MetricObject, Report, VolumeError};
use crate::config_api::authenticate;
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
    take(&state, &headers, object.into_report()?).await
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
