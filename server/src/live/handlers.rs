//! `/api/v1` routes of the live pipeline: the live debugger's stream (a websocket) and the data planes list.

use std::collections::BTreeSet;
use std::sync::Arc;

use app::api::live::{
    DataPlaneList, LiveCommand, LiveFrame, CAPTURE_DEFAULT_MINUTES, CAPTURE_MAX_MINUTES,
};
use app::api::workspaces::Role;
use app::api::ErrorBody;
use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use futures::{SinkExt, StreamExt};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::captures::{self, Capture, Entities};
use super::hub::Filter;
use super::protocol::Event;
use super::{registry, LiveError};
use crate::access::{self, Actor};
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live_stream))
        .routes(routes!(list_data_planes))
}

/// The most events one frame to the browser carries.
const EVENTS_PER_FRAME: usize = 500;

/// What a stream asks for (the query string).
#[derive(Debug, Default)]
struct StreamRequest {
    filter: Filter,
    minutes: u32,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query string, which is parsed by hand (repeatable parameters)
struct StreamQuery {
    /// A source to watch; repeatable. With no `sourceId` and no `destinationId`, the whole workspace.
    #[param(rename = "sourceId")]
    source_id: Option<Vec<String>>,
    /// A destination to watch; repeatable.
    #[param(rename = "destinationId")]
    destination_id: Option<Vec<String>>,
    /// Only events of this type (`track`, `identify`, …).
    #[param(rename = "eventType", min_length = 1, max_length = 200)]
    event_type: Option<String>,
    /// Only events of this name.
    #[param(rename = "eventName", min_length = 1, max_length = 200)]
    event_name: Option<String>,
    /// Only events with this status (`received`, `succeeded`, `failed`, …).
    #[param(min_length = 1, max_length = 200)]
    status: Option<String>,
    /// How long the capture runs before it stops by itself, 1 to 60 minutes (10 unless given).
    #[param(minimum = 1, maximum = 60)]
    minutes: Option<u32>,
}

fn parse_stream_request(
    query: Option<&str>,
    workspace: &super::WorkspaceLive,
) -> Result<StreamRequest, LiveError> {
    let mut request = StreamRequest {
        minutes: CAPTURE_DEFAULT_MINUTES,
        ..Default::default()
    };
    let (mut sources, mut destinations) = (BTreeSet::new(), BTreeSet::new());
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = value.into_owned();
        let nonempty = |field: &'static str| {
            if value.is_empty() || value.len() > 200 {
                Err(LiveError::Invalid(
                    format!("{field} must be 1 to 200 characters"),
                    field,
                ))
            } else {
                Ok(value.clone())
            }
        };
        match key.as_ref() {
            "sourceId" => {
                if !workspace.sources.contains_key(&value) {
                    return Err(LiveError::UnknownEntity(format!(
                        "source {value:?} not found in this workspace"
                    )));
                }
                sources.insert(value);
            }
            "destinationId" => {
                if !workspace.destinations.contains_key(&value) {
                    return Err(LiveError::UnknownEntity(format!(
                        "destination {value:?} not found in this workspace"
                    )));
                }
                destinations.insert(value);
            }
            "eventType" => request.filter.event_type = Some(nonempty("eventType")?),
            "eventName" => request.filter.event_name = Some(nonempty("eventName")?),
            "status" => request.filter.status = Some(nonempty("status")?),
            "minutes" => {
                request.minutes = value
                    .parse()
                    .ok()
                    .filter(|m| (1..=CAPTURE_MAX_MINUTES).contains(m))
                    .ok_or_else(|| {
                        LiveError::Invalid(
                            format!("minutes must be a whole number from 1 to {CAPTURE_MAX_MINUTES}"),
                            "minutes",
                        )
                    })?
            }
            other => {
                return Err(LiveError::Invalid(
                    format!("unknown parameter {other:?}; the live stream takes sourceId, destinationId, eventType, eventName, status and minutes"),
                    "query",
                ))
            }
        }
    }
    request.filter.entities = Entities {
        sources,
        destinations,
    };
    Ok(request)
}

/// The live debugger's stream: a websocket of `LiveFrame`s (`docs/data-plane-protocol.md`, "The live
/// debugger's stream"). Opening it starts a capture of what the query names (the whole workspace when it
/// names no source and no destination), which turns on the data planes' sampling; closing it ends the
/// capture. Viewers see events without payloads; editors and above with them, unless the workspace keeps
/// none. With the session cookie, only from our own origin.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/live", tag = "live", params(("ws" = String, Path), StreamQuery),
    responses(
        (status = 101, description = "Switching Protocols: the stream of live events, as JSON text frames"),
        (status = 400, body = ErrorBody, description = "Not a websocket request"),
        (status = 403, body = ErrorBody, description = "A session-cookie request from another origin"),
        (status = 404, body = ErrorBody, description = "No such workspace, or a source or destination not in it"),
        (status = 422, body = ErrorBody, description = "A bad filter")))]
async fn live_stream(
    State(state): State<AppState>,
    principal: Principal,
    Path(workspace_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let access = access::require(&state.db, &principal.actor, &workspace_id, Role::Viewer)
        .await
        .map_err(LiveError::from)?;
    // A websocket is not bound by the same-origin policy: another site's page could open one with our
    // cookie, so a cookie is only good from our own pages.
    if principal.session.is_some()
        && crate::http::csrf::same_origin(&headers, &state.public_url) != Some(true)
    {
        return Err(AppError::forbidden(
            "the live stream accepts a session cookie only from this site's own pages; use an API token from elsewhere",
        ));
    }
    let snapshot = state.snapshot.current();
    let workspace = snapshot
        .workspaces
        .get(&workspace_id)
        .cloned()
        .ok_or(LiveError::NotFound("workspace"))?;
    let request = parse_stream_request(query.as_deref(), &workspace.live)?;
    let upgrade = upgrade.map_err(|_| {
        AppError::bad_request(
            "this is a websocket: connect with Upgrade: websocket (the live debugger page does)",
        )
    })?;
    let payloads_hidden_because = if !workspace.live.payloads {
        Some("this workspace does not capture payloads (Settings → General)".to_string())
    } else if !access.role.at_least(Role::Editor) {
        Some("payloads are shown to editors and above".to_string())
    } else {
        None
    };
    let actor = principal.actor;
    Ok(upgrade.on_upgrade(move |socket| async move {
        Stream {
            state,
            actor,
            workspace_id,
            payloads_hidden_because,
        }
        .run(socket, request)
        .await
    }))
}

struct Stream {
    state: AppState,
    actor: Actor,
    workspace_id: String,
    payloads_hidden_because: Option<String>,
}

impl Stream {
    async fn run(self, socket: WebSocket, request: StreamRequest) {
        let (mut sink, mut incoming) = socket.split();
        // Watching before the capture starts, so that nothing sent once the flags are on is missed.
        let watching = self
            .state
            .live
            .hub
            .watch(&self.workspace_id, request.filter.clone());
        let mut capture = match captures::start(
            &self.state,
            &self.actor,
            &self.workspace_id,
            &request.filter.entities,
            request.minutes,
        )
        .await
        {
            Ok(capture) => capture,
            Err(error) => {
                tracing::warn!(%error, "could not start a live capture");
                let _ = sink
                    .send(frame(&LiveFrame::<()>::Error {
                        message: "the capture could not be started; try again".into(),
                    }))
                    .await;
                return;
            }
        };
        let mut result = sink.send(self.capture_frame(&capture)).await;
        while result.is_ok() {
            let until = tokio::time::Instant::now()
                + std::time::Duration::from_millis((capture.until_ms - now_ms()).max(0) as u64);
            result = tokio::select! {
                (events, dropped) = watching.watcher.next_batch(EVENTS_PER_FRAME) => {
                    let text = events_frame(&events, dropped, self.payloads_hidden_because.is_none());
                    sink.send(Message::Text(text.into())).await
                }
                message = incoming.next() => match message {
                    Some(Ok(Message::Text(text))) => match self.command(text.as_str(), &mut capture).await {
                        Some(reply) => sink.send(reply).await,
                        None => Ok(()),
                    },
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => Ok(()),
                },
                _ = tokio::time::sleep_until(until) => {
                    let _ = sink.send(frame(&LiveFrame::<()>::Ended {
                        reason: "the capture's time is up".into(),
                    })).await;
                    let _ = sink.close().await;
                    break;
                }
            };
        }
        drop(watching);
        if let Err(error) = captures::stop(&self.state, &self.actor, &capture).await {
            // The sweep removes it once its heartbeat is stale.
            tracing::warn!(%error, "could not end a live capture");
        }
    }

    async fn command(&self, text: &str, capture: &mut Capture) -> Option<Message> {
        match serde_json::from_str::<LiveCommand>(text) {
            Ok(LiveCommand::Extend { minutes }) if (1..=CAPTURE_MAX_MINUTES).contains(&minutes) => {
                match captures::extend(&self.state, capture, minutes).await {
                    Ok(()) => Some(self.capture_frame(capture)),
                    Err(error) => {
                        tracing::warn!(%error, "could not extend a live capture");
                        Some(frame(&LiveFrame::<()>::Error {
                            message: "the capture could not be extended; try again".into(),
                        }))
                    }
                }
            }
            Ok(LiveCommand::Extend { .. }) => Some(frame(&LiveFrame::<()>::Error {
                message: format!("extend by 1 to {CAPTURE_MAX_MINUTES} minutes"),
            })),
            Err(error) => Some(frame(&LiveFrame::<()>::Error {
                message: format!("not a command of the live stream ({{\"type\":\"extend\",\"minutes\":10}}): {error}"),
            })),
        }
    }

    fn capture_frame(&self, capture: &Capture) -> Message {
        frame(&LiveFrame::<()>::Capture {
            until: format_ms(capture.until_ms),
            payloads: self.payloads_hidden_because.is_none(),
            payloads_hidden_because: self.payloads_hidden_because.clone(),
        })
    }
}

/// `{"type":"events","dropped":N,"events":[…]}`, written event by event: payloads are copied as the data plane
/// sent them, or left out.
fn events_frame(events: &[Arc<Event>], dropped: u64, with_payloads: bool) -> String {
    let mut out = format!(r#"{{"type":"events","dropped":{dropped},"events":["#);
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let json = if with_payloads {
            serde_json::to_string(event.as_ref())
        } else {
            serde_json::to_string(&event.without_payload::<()>())
        };
        out.push_str(&json.expect("events serialize"));
    }
    out.push_str("]}");
    out
}

fn frame<P: serde::Serialize>(frame: &LiveFrame<P>) -> Message {
    Message::Text(
        serde_json::to_string(frame)
            .expect("frames serialize")
            .into(),
    )
}

/// The data planes that connected or polled their config lately: what each runs, how far behind the current
/// config, what it sent.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data-planes", tag = "live", params(("ws" = String, Path)),
    responses((status = 200, body = DataPlaneList), (status = 404, body = ErrorBody)))]
async fn list_data_planes(
    State(state): State<AppState>,
    principal: Principal,
    Path(workspace_id): Path<String>,
) -> ApiResult<Json<DataPlaneList>> {
    Ok(Json(
        registry::list(&state, &principal.actor, &workspace_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_frame_is_what_the_browser_reads() {
        let event: Event = serde_json::from_str(
            r#"{"stage":"destination","sourceId":"s","destinationId":"d","eventName":"Order Completed","eventType":"track","status":"failed","statusCode":500,"time":"2026-11-27T10:00:00.000Z","payload":{"email":"ada@example.com"},"response":"boom"}"#,
        )
        .unwrap();
        let events = [Arc::new(event)];
        let parse = |text: String| match serde_json::from_str::<LiveFrame>(&text).unwrap() {
            LiveFrame::Events { events, dropped } => (events, dropped),
            other => panic!("{other:?}"),
        };
        let (shown, dropped) = parse(events_frame(&events, 3, true));
        assert_eq!(dropped, 3);
        assert_eq!(
            shown[0].payload.as_ref().unwrap()["email"],
            "ada@example.com"
        );
        assert_eq!(shown[0].response, Some(serde_json::json!("boom")));
        assert_eq!(shown[0].status_code, Some(500));
        let (hidden, _) = parse(events_frame(&events, 0, false));
        assert_eq!(hidden[0].payload, None);
        assert_eq!(hidden[0].response, None);
        assert_eq!(hidden[0].event_name, "Order Completed");
    }
}
