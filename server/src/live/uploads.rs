//! rudder-server's debugger uploads, in the shapes of `../shared/reference/rudderstack-protocol.md` §2.2–2.4,
//! turned into live events and fed to the same pipeline as our websocket's. rudder-server sends them only for
//! entities whose config carries the flag (`captures`), batched every 2 s, and drops a batch that is not
//! answered 200 (it never retries one), so a batch is taken whole where it can be: entries naming something
//! the credential does not serve are left out and counted in the answer.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use app::api::ErrorBody;

use super::protocol::{Event, LiveStage, Payload};
use crate::config_api::{authenticate, DataPlaneIdentity, Snapshot};
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::state::AppState;
use crate::time::{format_ms, now_ms, parse_rfc3339_ms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dataplane/v2/eventUploads", post(event_uploads))
        .route(
            "/dataplane/v2/eventDeliveryStatus",
            post(event_delivery_status),
        )
        .route(
            "/dataplane/eventTransformStatus",
            post(event_transform_status),
        )
}

/// What an upload did.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UploadOutcome {
    pub accepted: usize,
    /// Entries naming a write key, source or destination the credential does not serve.
    pub refused: usize,
}

/// §2.2: `{"version":"v2","<writeKey>":[{payload, receivedAt, eventName, eventType, errorResponse, errorCode}]}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SourceUpload {
    /// The event as received.
    #[schema(value_type = Value)]
    payload: Payload,
    #[serde(default)]
    received_at: String,
    #[serde(default)]
    event_name: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    error_response: Option<Payload>,
    /// An HTTP status (200).
    #[serde(default)]
    error_code: Option<i64>,
}

/// §2.3: `{"version":"v2","<destinationId>":[DeliveryStatusT…]}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeliveryStatus {
    destination_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    payload: Option<Payload>,
    #[serde(default)]
    attempt_num: Option<u32>,
    job_state: String,
    /// A string in rudder-server's struct (`"200"`).
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    error_response: Option<Payload>,
    #[serde(default)]
    sent_at: String,
    #[serde(default)]
    event_name: String,
    #[serde(default)]
    event_type: String,
}

/// §2.4: `{"payload":[TransformStatusT…]}`.
#[derive(Deserialize, utoipa::ToSchema)]
struct TransformUpload {
    payload: Vec<TransformStatus>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TransformStatus {
    transformation_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(default)]
    destination_id: String,
    #[serde(default)]
    error: bool,
    event_before: EventBefore,
    /// `{receivedAt, isDropped, error, statusCode, payload: [{eventName, eventType, payload}]}`.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    events_after: Option<Payload>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventBefore {
    #[serde(default)]
    event_name: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    received_at: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsAfter {
    #[serde(default)]
    is_dropped: bool,
    #[serde(default)]
    status_code: Option<u16>,
}

/// The schema of a body keyed like rudder-server's: `{"version": "v2", "<key>": [T…]}`.
fn keyed_schema<T: utoipa::ToSchema>(
    key: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ObjectBuilder::new()
        .property("version", ObjectBuilder::new().schema_type(Type::String))
        .additional_properties(Some(
            ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name(T::name())),
        ))
        .description(Some(format!(
            "\"version\": \"v2\", and one array of entries per {key}"
        )))
        .into()
}

/// `POST /dataplane/v2/eventUploads`'s body.
pub struct SourceUploads;
/// `POST /dataplane/v2/eventDeliveryStatus`'s body.
pub struct DeliveryStatuses;

impl utoipa::PartialSchema for SourceUploads {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        keyed_schema::<SourceUpload>("write key")
    }
}

impl utoipa::ToSchema for SourceUploads {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            SourceUpload::name().into(),
            <SourceUpload as utoipa::PartialSchema>::schema(),
        ));
    }
}

impl utoipa::PartialSchema for DeliveryStatuses {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        keyed_schema::<DeliveryStatus>("destination id")
    }
}

impl utoipa::ToSchema for DeliveryStatuses {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            DeliveryStatus::name().into(),
            <DeliveryStatus as utoipa::PartialSchema>::schema(),
        ));
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        AppError::bad_request(format!(
            "the body is not {shape}: at {}: {}",
            e.path(),
            e.inner()
        ))
    })
}

/// The body's entries by key (write key, destination id), without `"version"`.
fn keyed<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> ApiResult<Vec<(String, Vec<T>)>> {
    let all: BTreeMap<String, Box<RawValue>> = parse(body, shape)?;
    let mut out = Vec::new();
    for (key, value) in all {
        if key == "version" {
            continue;
        }
        let entries: Vec<T> = parse(value.get().as_bytes(), shape)
            .map_err(|e| AppError::bad_request(format!("{key}: {}", e.message())))?;
        out.push((key, entries));
    }
    Ok(out)
}

fn time_or_now(value: &str) -> String {
    match parse_rfc3339_ms(value) {
        Some(ms) => format_ms(ms),
        None => format_ms(now_ms()),
    }
}

/// The workspace (served by this credential) that has the destination.
fn workspace_of_destination(
    snapshot: &Snapshot,
    identity: &DataPlaneIdentity,
    destination_id: &str,
) -> Option<String> {
    identity.workspaces(snapshot).into_iter().find(|w| {
        snapshot
            .workspaces
            .get(w)
            .is_some_and(|ws| ws.live.destinations.contains_key(destination_id))
    })
}

fn workspace_of_source(
    snapshot: &Snapshot,
    identity: &DataPlaneIdentity,
    source_id: &str,
) -> Option<String> {
    identity.workspaces(snapshot).into_iter().find(|w| {
        snapshot
            .workspaces
            .get(w)
            .is_some_and(|ws| ws.live.sources.contains_key(source_id))
    })
}

/// An upload turned into events: by workspace, and how many entries named nothing the credential serves.
#[derive(Default)]
struct Converted {
    by_workspace: BTreeMap<String, Vec<Event>>,
    refused: usize,
}

/// What every upload does around reading its own shape: authenticates the data plane, has `convert` turn the
/// body into events, feeds them to the pipeline, and answers how many were taken.
fn take_upload(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    convert: impl FnOnce(&Snapshot, &DataPlaneIdentity) -> ApiResult<Converted>,
) -> ApiResult<Json<UploadOutcome>> {
    let snapshot = state.snapshot.current();
    let identity = authenticate(state, &snapshot, headers)?;
    let Converted {
        by_workspace,
        mut refused,
    } = convert(&snapshot, &identity)?;
    let data_plane = match ip {
        Some(ip) => format!("rudder-server {} @ {ip}", identity.credential_label()),
        None => format!("rudder-server {}", identity.credential_label()),
    };
    let mut accepted = 0;
    for (workspace_id, events) in by_workspace {
        let outcome = super::ingest(state, &snapshot, &workspace_id, &data_plane, events);
        accepted += outcome.accepted;
        refused += outcome.refused;
    }
    if accepted == 0 && refused > 0 {
        return Err(AppError::forbidden(format!(
            "none of the {refused} entries names a source or destination of a workspace this credential serves"
        )));
    }
    Ok(Json(UploadOutcome { accepted, refused }))
}

/// rudder-server's source debugger uploads (`../shared/reference/rudderstack-protocol.md` §2.2).
#[utoipa::path(post, path = "/dataplane/v2/eventUploads", tag = "live", security(("dataPlane" = [])),
    request_body(content = SourceUploads, description = "The body rudder-server sends"),
    responses((status = 200, body = UploadOutcome), (status = 400, body = ErrorBody, description = "Not the shape rudder-server sends"),
        (status = 403, body = ErrorBody, description = "No entry names something this credential serves")))]
pub async fn event_uploads(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<UploadOutcome>> {
    take_upload(&state, ip, &headers, |snapshot, identity| {
        let uploads: Vec<(String, Vec<SourceUpload>)> = keyed(
            &body,
            "{\"version\":\"v2\",\"<writeKey>\":[{payload, receivedAt, eventName, eventType, errorResponse, errorCode}]}",
        )?;
        let mut out = Converted::default();
        for (write_key, entries) in uploads {
            let found = snapshot.write_keys.get(&write_key).and_then(|ws| {
                let source_id = ws.live.write_keys.get(&write_key)?;
                identity
                    .serves(snapshot, &ws.workspace_id)
                    .then(|| (ws.workspace_id.clone(), source_id.clone()))
            });
            let Some((workspace_id, source_id)) = found else {
                out.refused += entries.len();
                continue;
            };
            let events = out.by_workspace.entry(workspace_id).or_default();
            for entry in entries {
                let code = entry
                    .error_code
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(200);
                events.push(Event {
                    stage: LiveStage::Source,
                    source_id: Some(source_id.clone()),
                    destination_id: None,
                    transformation_id: None,
                    event_name: entry.event_name,
                    event_type: entry.event_type,
                    status: if (200..300).contains(&code) {
                        "received"
                    } else {
                        "failed"
                    }
                    .into(),
                    status_code: Some(code),
                    time: time_or_now(&entry.received_at),
                    payload: Some(entry.payload),
                    response: entry.error_response.filter(|r| r.get() != "{}"),
                    attempt: None,
                    data_plane: None,
                });
            }
        }
        Ok(out)
    })
}

/// rudder-server's destination debugger uploads (`../shared/reference/rudderstack-protocol.md` §2.3).
#[utoipa::path(post, path = "/dataplane/v2/eventDeliveryStatus", tag = "live", security(("dataPlane" = [])),
    request_body(content = DeliveryStatuses, description = "The body rudder-server sends"),
    responses((status = 200, body = UploadOutcome), (status = 400, body = ErrorBody, description = "Not the shape rudder-server sends"),
        (status = 403, body = ErrorBody, description = "No entry names something this credential serves")))]
pub async fn event_delivery_status(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<UploadOutcome>> {
    take_upload(&state, ip, &headers, |snapshot, identity| {
        let uploads: Vec<(String, Vec<DeliveryStatus>)> = keyed(
            &body,
            "{\"version\":\"v2\",\"<destinationId>\":[{destinationId, sourceId, payload, attemptNum, jobState, errorCode, errorResponse, sentAt, eventName, eventType}]}",
        )?;
        let mut out = Converted::default();
        for (destination_id, entries) in uploads {
            let Some(workspace_id) = workspace_of_destination(snapshot, identity, &destination_id)
            else {
                out.refused += entries.len();
                continue;
            };
            let events = out.by_workspace.entry(workspace_id).or_default();
            for entry in entries {
                // A router batch names its sources comma-joined; the live debugger shows the first.
                let source_id = entry
                    .source_id
                    .split(',')
                    .map(str::trim)
                    .find(|s| !s.is_empty())
                    .map(String::from);
                events.push(Event {
                    stage: LiveStage::Destination,
                    source_id,
                    destination_id: Some(entry.destination_id),
                    transformation_id: None,
                    event_name: entry.event_name,
                    event_type: entry.event_type,
                    status: entry.job_state,
                    status_code: entry.error_code.trim().parse().ok(),
                    time: time_or_now(&entry.sent_at),
                    payload: entry.payload,
                    response: entry.error_response,
                    attempt: entry.attempt_num,
                    data_plane: None,
                });
            }
        }
        Ok(out)
    })
}

/// rudder-server's transformation debugger uploads (`../shared/reference/rudderstack-protocol.md` §2.4).
#[utoipa::path(post, path = "/dataplane/eventTransformStatus", tag = "live", security(("dataPlane" = [])),
    request_body(content = TransformUpload, description = "The body rudder-server sends"),
    responses((status = 200, body = UploadOutcome), (status = 400, body = ErrorBody, description = "Not the shape rudder-server sends"),
        (status = 403, body = ErrorBody, description = "No entry names something this credential serves")))]
pub async fn event_transform_status(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<UploadOutcome>> {
    take_upload(&state, ip, &headers, |snapshot, identity| {
        let upload: TransformUpload = parse(
            &body,
            "{\"payload\":[{transformationId, sourceId, destinationId, error, eventBefore, eventsAfter}]}",
        )?;
        let mut out = Converted::default();
        for entry in upload.payload {
            let workspace = workspace_of_destination(snapshot, identity, &entry.destination_id)
                .or_else(|| workspace_of_source(snapshot, identity, &entry.source_id));
            let Some(workspace_id) = workspace else {
                out.refused += 1;
                continue;
            };
            let after: Option<EventsAfter> = entry
                .events_after
                .as_ref()
                .and_then(|raw| serde_json::from_str(raw.get()).ok());
            let status = if entry.error {
                "failed"
            } else if after.as_ref().is_some_and(|a| a.is_dropped) {
                "dropped"
            } else {
                "transformed"
            };
            let non_empty = |id: String| (!id.is_empty()).then_some(id);
            out.by_workspace
                .entry(workspace_id)
                .or_default()
                .push(Event {
                    stage: LiveStage::Transformation,
                    source_id: non_empty(entry.source_id),
                    destination_id: non_empty(entry.destination_id),
                    transformation_id: Some(entry.transformation_id),
                    event_name: entry.event_before.event_name,
                    event_type: entry.event_before.event_type,
                    status: status.into(),
                    status_code: after.and_then(|a| a.status_code),
                    time: time_or_now(&entry.event_before.received_at),
                    payload: entry.event_before.payload,
                    response: entry.events_after,
                    attempt: None,
                    data_plane: None,
                });
        }
        Ok(out)
    })
}
