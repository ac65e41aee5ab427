//! The live debugger's stream (`GET /api/v1/workspaces/{ws}/live`, a websocket) and the data planes list
//! (`GET /api/v1/workspaces/{ws}/data-planes`). The frames between data planes and Wheelhouse are the
//! server's (`server/src/live/protocol.rs`); these are what a browser or an API client sees.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where in the pipeline a data plane saw the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LiveStage {
    /// Received at a source.
    Source,
    /// Delivered to, or failed at, a destination (with the destination's response).
    Destination,
    /// Before and after a transformation.
    Transformation,
}

impl LiveStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveStage::Source => "source",
            LiveStage::Destination => "destination",
            LiveStage::Transformation => "transformation",
        }
    }
}

/// One event as the live debugger shows it, and as a data plane sends it. `P` is how the payload is held:
/// parsed (`Value`, the browser) or as the data plane's own bytes (the server, which passes it through).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "P: Deserialize<'de>"))]
pub struct LiveEvent<P = Value> {
    pub stage: LiveStage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation_id: Option<String>,
    pub event_name: String,
    pub event_type: String,
    /// `received` at a source; `succeeded`, `failed` or `aborted` at a destination; `transformed`,
    /// `dropped` or `failed` at a transformation.
    pub status: String,
    /// The destination's HTTP status, or the transformation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// When the data plane saw it, RFC 3339 with milliseconds.
    pub time: String,
    /// The event as received or as sent (for a transformation: before). Absent for viewers, and when the
    /// workspace does not capture payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<P>,
    /// What the destination answered, or what the transformation produced. Absent like `payload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<P>,
    /// The delivery attempt (destinations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The data plane that sent it: its instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_plane: Option<String>,
}

impl<P> LiveEvent<P> {
    /// The same event without its payload and response (for viewers, or when the workspace keeps none).
    pub fn without_payload<Q>(&self) -> LiveEvent<Q> {
        LiveEvent {
            stage: self.stage,
            source_id: self.source_id.clone(),
            destination_id: self.destination_id.clone(),
            transformation_id: self.transformation_id.clone(),
            event_name: self.event_name.clone(),
            event_type: self.event_type.clone(),
            status: self.status.clone(),
            status_code: self.status_code,
            time: self.time.clone(),
            payload: None,
            response: None,
            attempt: self.attempt,
            data_plane: self.data_plane.clone(),
        }
    }
}

/// What the live stream sends to the browser: one JSON object per websocket message, told apart by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    bound(deserialize = "P: Deserialize<'de>")
)]
pub enum LiveFrame<P = Value> {
    /// The capture is running (sent first, and again after each extension).
    #[serde(rename_all = "camelCase")]
    Capture {
        /// When it stops by itself, RFC 3339.
        until: String,
        /// Whether this viewer gets payloads (editors and above, when the workspace captures them).
        payloads: bool,
        /// Why not, when not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payloads_hidden_because: Option<String>,
    },
    /// Events in the order they arrived, with how many this stream lost so far because the browser read too
    /// slowly (a running total).
    #[serde(rename_all = "camelCase")]
    Events {
        events: Vec<LiveEvent<P>>,
        dropped: u64,
    },
    /// The capture ended (its time was up); the server closes the stream after this frame.
    #[serde(rename_all = "camelCase")]
    Ended { reason: String },
    /// Something the browser sent was wrong.
    #[serde(rename_all = "camelCase")]
    Error { message: String },
}

/// What the browser may send on the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LiveCommand {
    /// Keeps the capture running for this many more minutes from now (1 to 60).
    #[serde(rename_all = "camelCase")]
    Extend { minutes: u32 },
}

/// How long a capture runs unless extended, and the longest one extension may ask for.
pub const CAPTURE_DEFAULT_MINUTES: u32 = 10;
pub const CAPTURE_MAX_MINUTES: u32 = 60;

/// A data plane that talked to Wheelhouse recently (connected over the websocket, or polled its config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DataPlane {
    /// The instance id it gave (websocket), or one derived from its credential and address (polling).
    pub instance_id: String,
    /// `websocket` or `polling`.
    pub transport: String,
    /// e.g. `rudder-server`, `wheelhouse-simulator`; `unknown` when a poller does not say.
    pub software: String,
    pub version: String,
    /// The address it connected from.
    pub address: String,
    /// Connected over the websocket right now.
    pub connected: bool,
    pub first_seen: String,
    pub last_seen: String,
    /// The config revision it runs (last applied, or last served to it).
    pub applied_revision: i64,
    pub applied_at: String,
    /// The workspace's current config revision, and when it was published.
    pub current_revision: i64,
    pub current_since: String,
    /// `current_revision - applied_revision`, never below 0.
    pub revisions_behind: i64,
    /// How long the config it lacks has been out (0 when current), in milliseconds.
    pub behind_ms: i64,
    /// Live events it sent, and frames of its that were refused (malformed, unknown, oversized).
    pub events_received: i64,
    pub frames_rejected: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DataPlaneList {
    pub data_planes: Vec<DataPlane>,
    pub current_revision: i64,
}
