//! `GET /data-plane/v1/ws`: a data plane's connection. It authenticates like the config API, says `hello`,
//! and from then on hears each config change (`configChanged`) and what to sample (`capture`) the moment
//! this replica publishes them, while it sends live events, applied revisions, metrics and sync runs.
//!
//! A bad frame is answered with an `error` frame and counted; the connection is closed (1008) only when a
//! data plane keeps sending them (`BAD_FRAMES_TOLERATED` within `BAD_FRAMES_WINDOW`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::captures::CaptureState;
use super::protocol::{
    FrameError, Hello, Inbound, Outbound, Revision, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use super::registry::{self, Counted, Seen};
use crate::config_api::{authenticate, DataPlaneIdentity, Snapshot, WorkspaceSnapshot};
use crate::http::client_addr::ClientAddr;
use crate::http::error::AppError;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

const PING_EVERY: Duration = Duration::from_secs(20);
const HELLO_WITHIN: Duration = Duration::from_secs(10);
const BAD_FRAMES_TOLERATED: usize = 20;
const BAD_FRAMES_WINDOW: Duration = Duration::from_secs(60);
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The data-plane websocket: `hello`, then live events, applied revisions, metrics and sync runs one way,
/// config pushes and capture requests the other (`docs/data-plane-protocol.md`).
#[utoipa::path(get, path = "/data-plane/v1/ws", tag = "live", security(("dataPlane" = [])),
    responses((status = 101, description = "Switching Protocols: the data-plane protocol, JSON text frames"),
        (status = 400, body = app::api::ErrorBody, description = "Not a websocket request")))]
pub async fn data_plane_socket(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let snapshot = state.snapshot.current();
    let identity = match authenticate(&state, &snapshot, &headers) {
        Ok(identity) => identity,
        Err(error) => return error.into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return AppError::bad_request(
            "this is the data-plane websocket: connect with a websocket client (Upgrade: websocket); the protocol is in docs/data-plane-protocol.md",
        )
        .into_response();
    };
    let address = ip.map(|ip| ip.to_string()).unwrap_or_default();
    // Larger than our own limit, so that an oversized frame gets our `error` frame rather than a dropped
    // connection.
    upgrade
        .max_message_size(MAX_FRAME_BYTES * 16)
        // tungstenite allocates its read buffer up front (128 KiB by default): with a thousand idle data
        // planes that is most of their memory. It grows for a large frame when one comes.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            Connection {
                state,
                identity,
                address,
                seen: None,
                workspaces: Vec::new(),
                sent: HashMap::new(),
                counted: Counted::default(),
                bad_frames: VecDeque::new(),
            }
            .run(socket)
        })
}

struct Connection {
    state: AppState,
    identity: DataPlaneIdentity,
    address: String,
    /// Set by `hello`.
    seen: Option<Seen>,
    /// The workspaces this connection serves (from `hello`).
    workspaces: Vec<String>,
    /// Per workspace: the revision and capture last told.
    sent: HashMap<String, (i64, CaptureState)>,
    counted: Counted,
    bad_frames: VecDeque<Instant>,
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, frames: Vec<Outbound>) -> Result<(), axum::Error> {
    for frame in frames {
        let text = serde_json::to_string(&frame).expect("frames serialize");
        sink.feed(Message::Text(text.into())).await?;
    }
    sink.flush().await
}

impl Connection {
    async fn run(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let mut changes = self.state.snapshot.subscribe();
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut record = tokio::time::interval_at(
            tokio::time::Instant::now() + registry::CONNECTED_RECORD_EVERY,
            registry::CONNECTED_RECORD_EVERY,
        );
        let hello_deadline = tokio::time::sleep(HELLO_WITHIN);
        tokio::pin!(hello_deadline);
        loop {
            let frames = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => self.receive(text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => self.refuse(FrameError {
                        code: "malformed",
                        message: "frames are JSON text messages, not binary".into(),
                        frame_type: None,
                    }, None),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => Vec::new(),
                },
                change = changes.recv(), if self.seen.is_some() => match change {
                    Ok(workspace) => self.changed(&workspace),
                    Err(RecvError::Lagged(_)) => self.everything(&self.state.snapshot.current()),
                    Err(RecvError::Closed) => break,
                },
                _ = ping.tick() => vec![Outbound::Ping { time: format_ms(now_ms()) }],
                _ = record.tick() => {
                    self.record(true).await;
                    Vec::new()
                }
                _ = &mut hello_deadline, if self.seen.is_none() => {
                    let _ = send(&mut sink, vec![Outbound::Error {
                        code: "hello_first".into(),
                        message: format!("say hello within {} s of connecting", HELLO_WITHIN.as_secs()),
                        frame_type: None,
                        id: None,
                    }]).await;
                    let _ = sink.send(close(1008, "no hello")).await;
                    break;
                }
            };
            if send(&mut sink, frames).await.is_err() {
                break;
            }
            if self.bad_frames.len() > BAD_FRAMES_TOLERATED {
                let _ = sink.send(close(1008, "too many bad frames")).await;
                break;
            }
        }
        self.record(false).await;
    }

    /// Writes what was counted, and whether the data plane is still here.
    async fn record(&mut self, still_connected: bool) {
        let Some(seen) = &self.seen else { return };
        let counted = std::mem::take(&mut self.counted);
        if let Err(error) = registry::refresh(
            &self.state,
            &seen.instance_id,
            &self.workspaces,
            counted,
            still_connected,
        )
        .await
        {
            tracing::warn!(%error, "could not record a connected data plane");
        }
    }

    fn refuse(&mut self, error: FrameError, id: Option<String>) -> Vec<Outbound> {
        let now = Instant::now();
        self.bad_frames.push_back(now);
        while self
            .bad_frames
            .front()
            .is_some_and(|at| now.duration_since(*at) > BAD_FRAMES_WINDOW)
        {
            self.bad_frames.pop_front();
        }
        self.counted.rejected += 1;
        self.state
            .live
            .stats
            .frames_rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        vec![error.to_outbound(id)]
    }

    fn not_served(&mut self, kind: &str, workspace_id: &str, id: Option<&str>) -> Vec<Outbound> {
        self.refuse(
            FrameError {
                code: "not_served",
                message: format!(
                    "workspace {workspace_id:?} is not one this data plane serves (its credential and hello decide which)"
                ),
                frame_type: Some(kind.to_string()),
            },
            id.map(str::to_string),
        )
    }

    async fn receive(&mut self, text: &str) -> Vec<Outbound> {
        let frame = match Inbound::parse(text) {
            Ok(frame) => frame,
            Err(error) => return self.refuse(error, None),
        };
        let kind = frame.kind();
        let id = frame.id().map(str::to_string);
        if let Inbound::Hello(hello) = frame {
            return self.hello(hello).await;
        }
        let Some(seen) = self.seen.clone() else {
            return self.refuse(
                FrameError {
                    code: "hello_first",
                    message: "the first frame must be hello".into(),
                    frame_type: Some(kind.into()),
                },
                id,
            );
        };
        let snapshot = self.state.snapshot.current();
        let workspace_id = match &frame {
            Inbound::ConfigApplied(f) => f.workspace_id.as_str(),
            Inbound::LiveEvents(f) => f.workspace_id.as_str(),
            Inbound::Metrics(f) => f.workspace_id.as_str(),
            Inbound::SyncRun(f) => f.workspace_id.as_str(),
            Inbound::Hello(_) | Inbound::Pong(_) => return Vec::new(),
        };
        if !self.workspaces.iter().any(|w| w == workspace_id)
            || !self.identity.serves(&snapshot, workspace_id)
        {
            let workspace_id = workspace_id.to_string();
            return self.not_served(kind, &workspace_id, id.as_deref());
        }
        // Metrics are kept once by their stored digest (which also holds across replicas); the rest by the
        // ids this process saw.
        if let (Some(id), false) = (&id, matches!(frame, Inbound::Metrics(_))) {
            let dedup_key = format!("{}|{}", self.identity.credential_label(), seen.instance_id);
            if !self.state.live.first_time(&dedup_key, id) {
                return vec![Outbound::Ack { id: id.clone() }];
            }
        }
        let mut out = Vec::new();
        match frame {
            Inbound::ConfigApplied(applied) => {
                if let Err(error) = registry::applied(
                    &self.state,
                    &seen.instance_id,
                    &applied.workspace_id,
                    applied.revision,
                )
                .await
                {
                    tracing::warn!(%error, "could not record an applied config revision");
                }
            }
            Inbound::LiveEvents(batch) => {
                let total = batch.events.len();
                let outcome = super::ingest(
                    &self.state,
                    &snapshot,
                    &batch.workspace_id,
                    &seen.instance_id,
                    batch.events,
                );
                self.counted.events += outcome.accepted as i64;
                if outcome.refused > 0 {
                    out.extend(self.refuse(
                        FrameError {
                            code: "unknown_entity",
                            message: format!(
                                "{} of {total} events name a source or destination that is not in workspace {:?}; the others were taken",
                                outcome.refused, batch.workspace_id
                            ),
                            frame_type: Some(kind.into()),
                        },
                        id.clone(),
                    ));
                }
            }
            Inbound::Metrics(metrics) => {
                let dedup_key =
                    format!("{}|{}", self.identity.credential_label(), seen.instance_id);
                let stored = match crate::volume::Report::from_frame(metrics, &dedup_key) {
                    Ok(report) => self.state.volume.store(report).await.map(|_| ()),
                    Err(error) => Err(error),
                };
                match stored {
                    Ok(()) => {}
                    Err(crate::volume::VolumeError::Invalid(message, field)) => {
                        return self.refuse(
                            FrameError {
                                code: "invalid",
                                message: format!("metrics.{field}: {message}"),
                                frame_type: Some(kind.into()),
                            },
                            id,
                        );
                    }
                    // Not acknowledged: the data plane sends it again.
                    Err(error) => {
                        tracing::warn!(%error, "could not store a metrics report");
                        return vec![FrameError {
                            code: "unavailable",
                            message: "the report could not be stored now; send it again".into(),
                            frame_type: Some(kind.into()),
                        }
                        .to_outbound(id)];
                    }
                }
            }
            Inbound::SyncRun(run) => {
                let stored = match crate::warehouses::syncs::RunReport::from_frame(&run) {
                    Ok(report) => crate::warehouses::syncs::record(&self.state, report).await,
                    Err(invalid) => Err(invalid.into()),
                };
                match stored {
                    Ok(()) => {}
                    Err(crate::warehouses::WarehouseError::Invalid(invalid)) => {
                        return self.refuse(
                            FrameError {
                                code: "invalid",
                                message: format!("syncRun.{}: {}", invalid.field, invalid.message),
                                frame_type: Some(kind.into()),
                            },
                            id,
                        );
                    }
                    // Not acknowledged: the data plane sends it again.
                    Err(error) => {
                        tracing::warn!(%error, "could not store a sync run");
                        return vec![FrameError {
                            code: "unavailable",
                            message: "the run could not be stored now; send it again".into(),
                            frame_type: Some(kind.into()),
                        }
                        .to_outbound(id)];
                    }
                }
            }
            Inbound::Hello(_) | Inbound::Pong(_) => {}
        }
        if let Some(id) = id {
            out.push(Outbound::Ack { id });
        }
        out
    }

    async fn hello(&mut self, hello: Hello) -> Vec<Outbound> {
        let snapshot = self.state.snapshot.current();
        if let (Some(asked), DataPlaneIdentity::Namespace { name }) =
            (&hello.namespace, &self.identity)
        {
            if asked != name {
                return self.refuse(
                    FrameError {
                        code: "not_served",
                        message: format!(
                            "this credential is namespace {name:?}'s, not {asked:?}'s"
                        ),
                        frame_type: Some("hello".into()),
                    },
                    None,
                );
            }
        }
        let served = self.identity.workspaces(&snapshot);
        let (workspaces, refused): (Vec<String>, Vec<String>) = if hello.workspaces.is_empty() {
            (served, Vec::new())
        } else {
            hello
                .workspaces
                .iter()
                .cloned()
                .partition(|w| served.contains(w))
        };
        let seen = Seen {
            instance_id: hello.instance_id.clone(),
            software: hello.software.clone(),
            version: hello.version.clone(),
            address: self.address.clone(),
        };
        if let Err(error) = registry::connected(&self.state, &seen, &workspaces).await {
            tracing::warn!(%error, "could not record a connected data plane");
        }
        self.seen = Some(seen);
        self.workspaces = workspaces;
        self.sent.clear();
        let mut out = Vec::new();
        if !refused.is_empty() {
            out.extend(self.refuse(
                FrameError {
                    code: "not_served",
                    message: format!(
                        "this credential does not serve {refused:?}; connected for the others"
                    ),
                    frame_type: Some("hello".into()),
                },
                None,
            ));
        }
        out.extend(self.everything(&snapshot));
        out
    }

    /// The welcome: every workspace's revision, and the captures that are open.
    fn everything(&mut self, snapshot: &Snapshot) -> Vec<Outbound> {
        let mut revisions = Vec::new();
        let mut captures = Vec::new();
        for workspace_id in &self.workspaces {
            let Some(workspace) = snapshot.workspaces.get(workspace_id) else {
                continue;
            };
            revisions.push(revision_of(workspace));
            if !workspace.live.capture.sources.is_empty()
                || !workspace.live.capture.destinations.is_empty()
            {
                captures.push(capture_of(workspace));
            }
            self.sent.insert(
                workspace_id.clone(),
                (workspace.live.revision, workspace.live.capture.clone()),
            );
        }
        let mut out = vec![Outbound::Welcome {
            protocol: PROTOCOL_VERSION,
            workspaces: revisions,
        }];
        out.extend(captures);
        out
    }

    /// A workspace's new snapshot was published here.
    fn changed(&mut self, workspace: &WorkspaceSnapshot) -> Vec<Outbound> {
        if !self.workspaces.contains(&workspace.workspace_id) {
            return Vec::new();
        }
        let live = &workspace.live;
        let mut out = Vec::new();
        let sent = self
            .sent
            .entry(workspace.workspace_id.clone())
            .or_insert((-1, CaptureState::default()));
        if sent.0 != live.revision {
            out.push(Outbound::ConfigChanged(revision_of(workspace)));
        }
        if sent.1 != live.capture {
            out.push(capture_of(workspace));
        }
        *sent = (live.revision, live.capture.clone());
        out
    }
}

fn revision_of(workspace: &WorkspaceSnapshot) -> Revision {
    Revision {
        workspace_id: workspace.workspace_id.clone(),
        revision: workspace.live.revision,
        updated_at: format_ms(workspace.updated_at_ms),
    }
}

fn capture_of(workspace: &WorkspaceSnapshot) -> Outbound {
    let capture = &workspace.live.capture;
    Outbound::Capture {
        workspace_id: workspace.workspace_id.clone(),
        sources: capture.sources.iter().cloned().collect(),
        destinations: capture.destinations.iter().cloned().collect(),
        transformations: Vec::new(),
        until: capture.until_ms.map(format_ms),
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
