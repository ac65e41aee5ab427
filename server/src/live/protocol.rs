//! The data-plane websocket protocol (`GET /data-plane/v1/ws`), version 1: every frame either side sends, as
//! one Rust type each. `docs/data-plane-protocol.md` is its description for people writing a data plane.
//!
//! Frames are JSON text messages told apart by `type`. Fields a version does not know are ignored, so a newer
//! data plane can talk to an older Wheelhouse. Payloads (events, destination responses) are kept as the data
//! plane's own bytes (`RawValue`): Wheelhouse passes them to browsers without reading them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use app::api::live::{LiveEvent, LiveStage};

pub const PROTOCOL_VERSION: u32 = 1;
/// The largest frame accepted; a larger one is answered with an `error` frame.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// The most live events one `liveEvents` frame may carry.
pub const MAX_EVENTS_PER_FRAME: usize = 1000;

/// A payload as the data plane sent it.
pub type Payload = Box<RawValue>;
/// A live event as a data plane sends it and Wheelhouse forwards it.
pub type Event = LiveEvent<Payload>;

/// Data plane → Wheelhouse.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Inbound {
    Hello(Hello),
    ConfigApplied(ConfigApplied),
    LiveEvents(LiveEvents),
    Metrics(Metrics),
    SyncRun(SyncRun),
    Pong(Pong),
}

/// The first frame of every connection, again after a reconnect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    /// The protocol version the data plane speaks (1).
    pub protocol: u32,
    /// Stable across restarts and reconnects of the same data plane.
    pub instance_id: String,
    /// e.g. `rudder-server`, `wheelhouse-simulator`.
    pub software: String,
    pub version: String,
    /// The workspaces it serves (a data-plane token serves one; a namespace's secret, the namespace's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The config revision the data plane now runs for a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigApplied {
    pub workspace_id: String,
    pub revision: i64,
}

/// Samples of events, from any of the three stages. With an `id`, a frame sent twice (after a reconnect) is
/// delivered once.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEvents {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub workspace_id: String,
    pub events: Vec<Event>,
}

/// Counts of a minute, as rudder-server's reporting aggregates them (the volume views store them).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub workspace_id: String,
    /// The minute the counts belong to, RFC 3339.
    pub bucket: String,
    pub reports: Vec<MetricReport>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricReport {
    /// The stage that counted (rudder-server's `reportedBy`: `gateway`, `router`, `batch_router`,
    /// `warehouse`, …).
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<String>,
    #[serde(default)]
    pub event_name: String,
    #[serde(default)]
    pub event_type: String,
    /// `succeeded`, `failed`, `aborted`, `filtered`, …
    pub status: String,
    pub status_code: u16,
    pub count: u64,
    /// Whether the event ends its journey at this stage (a destination's delivered or failed count).
    #[serde(default)]
    pub terminal: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<ErrorSample>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorSample {
    pub message: String,
    /// How many of the report's events failed with this message (1 unless given). The errors view counts
    /// these, so a sender that tallies messages gets exact counts per problem.
    #[serde(default = "one")]
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Payload>,
}

fn one() -> u64 {
    1
}

/// A warehouse upload or a reverse-ETL sync: reported when it starts and when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub workspace_id: String,
    /// The run, the same in its `started` and its final report.
    pub run_id: String,
    pub kind: SyncKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_id: Option<String>,
    pub status: SyncStatus,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncKind {
    WarehouseUpload,
    ReverseEtl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncStatus {
    Started,
    Succeeded,
    Failed,
}

/// The answer to a `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pong {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// Wheelhouse → data plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Outbound {
    /// The answer to `hello`: the current revision of every workspace the data plane serves.
    #[serde(rename_all = "camelCase")]
    Welcome {
        protocol: u32,
        workspaces: Vec<Revision>,
    },
    /// A workspace's config changed: fetch it (`/workspaceConfig` or the namespace config) and report
    /// `configApplied`.
    ConfigChanged(Revision),
    /// What to sample for a workspace, replacing what was asked before (empty lists: nothing).
    #[serde(rename_all = "camelCase")]
    Capture {
        workspace_id: String,
        sources: Vec<String>,
        destinations: Vec<String>,
        transformations: Vec<String>,
        /// When the capture ends unless renewed, RFC 3339.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    Ping {
        time: String,
    },
    /// A frame with an `id` was received (it is not counted again if sent again).
    Ack {
        id: String,
    },
    /// What was wrong with a frame; the connection stays up.
    #[serde(rename_all = "camelCase")]
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub workspace_id: String,
    pub revision: i64,
    /// The config's `updatedAt`.
    pub updated_at: String,
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    /// `too_large`, `malformed`, `unknown_type` or `invalid`.
    pub code: &'static str,
    pub message: String,
    pub frame_type: Option<String>,
}

impl FrameError {
    pub fn to_outbound(&self, id: Option<String>) -> Outbound {
        Outbound::Error {
            code: self.code.to_string(),
            message: self.message.clone(),
            frame_type: self.frame_type.clone(),
            id,
        }
    }
}

impl Inbound {
    /// Parses a text frame. The type is read first, then the frame as that type, so that the error names
    /// the field that is wrong (a tagged enum would only say that no variant matched).
    pub fn parse(text: &str) -> Result<Inbound, FrameError> {
        if text.len() > MAX_FRAME_BYTES {
            return Err(FrameError {
                code: "too_large",
                message: format!(
                    "a frame may hold at most {MAX_FRAME_BYTES} bytes; this one holds {}",
                    text.len()
                ),
                frame_type: None,
            });
        }
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let tag: Tag = serde_json::from_str(text).map_err(|e| FrameError {
            code: "malformed",
            message: format!("a frame must be a JSON object: {e}"),
            frame_type: None,
        })?;
        let Some(kind) = tag.kind else {
            return Err(FrameError {
                code: "malformed",
                message: "a frame must have a \"type\"".into(),
                frame_type: None,
            });
        };
        fn typed<T: serde::de::DeserializeOwned>(text: &str, kind: &str) -> Result<T, FrameError> {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let path = e.path().to_string();
                FrameError {
                    code: "invalid",
                    message: if path == "." {
                        format!("{kind}: {}", e.inner())
                    } else {
                        format!("{kind}.{path}: {}", e.inner())
                    },
                    frame_type: Some(kind.to_string()),
                }
            })
        }
        let frame = match kind.as_str() {
            "hello" => Inbound::Hello(typed(text, &kind)?),
            "configApplied" => Inbound::ConfigApplied(typed(text, &kind)?),
            "liveEvents" => Inbound::LiveEvents(typed(text, &kind)?),
            "metrics" => Inbound::Metrics(typed(text, &kind)?),
            "syncRun" => Inbound::SyncRun(typed(text, &kind)?),
            "pong" => Inbound::Pong(typed(text, &kind)?),
            _ => {
                return Err(FrameError {
                    code: "unknown_type",
                    message: format!(
                        "unknown frame type {kind:?}; protocol {PROTOCOL_VERSION} knows hello, configApplied, liveEvents, metrics, syncRun and pong"
                    ),
                    frame_type: Some(kind),
                })
            }
        };
        frame.check()?;
        Ok(frame)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Hello(_) => "hello",
            Inbound::ConfigApplied(_) => "configApplied",
            Inbound::LiveEvents(_) => "liveEvents",
            Inbound::Metrics(_) => "metrics",
            Inbound::SyncRun(_) => "syncRun",
            Inbound::Pong(_) => "pong",
        }
    }

    /// The frame's id, for frames that carry one.
    pub fn id(&self) -> Option<&str> {
        match self {
            Inbound::LiveEvents(f) => f.id.as_deref(),
            Inbound::Metrics(f) => f.id.as_deref(),
            Inbound::SyncRun(f) => f.id.as_deref(),
            _ => None,
        }
    }

    /// What the types alone do not say.
    fn check(&self) -> Result<(), FrameError> {
        let invalid = |message: String| FrameError {
            code: "invalid",
            message: format!("{}: {message}", self.kind()),
            frame_type: Some(self.kind().to_string()),
        };
        let bounded = |field: &str, value: &str, max: usize| {
            if value.is_empty() || value.len() > max {
                Err(invalid(format!("{field} must be 1 to {max} characters")))
            } else {
                Ok(())
            }
        };
        match self {
            Inbound::Hello(hello) => {
                if hello.protocol != PROTOCOL_VERSION {
                    return Err(invalid(format!(
                        "protocol {} is not spoken here; this Wheelhouse speaks {PROTOCOL_VERSION}",
                        hello.protocol
                    )));
                }
                bounded("instanceId", &hello.instance_id, 200)?;
                bounded("software", &hello.software, 100)?;
                bounded("version", &hello.version, 100)?;
            }
            Inbound::LiveEvents(frame) => {
                if frame.events.len() > MAX_EVENTS_PER_FRAME {
                    return Err(invalid(format!(
                        "at most {MAX_EVENTS_PER_FRAME} events per frame; this one has {}",
                        frame.events.len()
                    )));
                }
                for (i, event) in frame.events.iter().enumerate() {
                    if crate::time::parse_rfc3339_ms(&event.time).is_none() {
                        return Err(invalid(format!(
                            "events[{i}].time must be an RFC 3339 time, not {:?}",
                            event.time
                        )));
                    }
                    if event.source_id.is_none() && event.destination_id.is_none() {
                        return Err(invalid(format!(
                            "events[{i}] names neither a sourceId nor a destinationId"
                        )));
                    }
                }
            }
            Inbound::Metrics(frame) => {
                if crate::time::parse_rfc3339_ms(&frame.bucket).is_none() {
                    return Err(invalid("bucket must be an RFC 3339 time".into()));
                }
            }
            Inbound::SyncRun(run) => {
                bounded("runId", &run.run_id, 200)?;
                if crate::time::parse_rfc3339_ms(&run.started_at).is_none() {
                    return Err(invalid("startedAt must be an RFC 3339 time".into()));
                }
                if run.source_id.is_none() && run.destination_id.is_none() {
                    return Err(invalid(
                        "a sync run names a sourceId or a destinationId".into(),
                    ));
                }
            }
            Inbound::ConfigApplied(_) | Inbound::Pong(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) {
        let frame = Inbound::parse(json).unwrap_or_else(|e| panic!("{json}: {e:?}"));
        let again = serde_json::to_string(&frame).unwrap();
        let expected: serde_json::Value = serde_json::from_str(json).unwrap();
        let actual: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(actual, expected, "{json}");
        // And once more, from what we wrote.
        assert_eq!(
            serde_json::to_string(&Inbound::parse(&again).unwrap()).unwrap(),
            again
        );
    }

    #[test]
    fn every_inbound_frame_round_trips() {
        round_trip(
            r#"{"type":"hello","protocol":1,"instanceId":"dp-1","software":"rudder-server","version":"1.50.0","workspaces":["ws1"]}"#,
        );
        round_trip(
            r#"{"type":"hello","protocol":1,"instanceId":"dp-1","software":"rudder-server","version":"1.50.0","namespace":"eu"}"#,
        );
        round_trip(r#"{"type":"configApplied","workspaceId":"ws1","revision":7}"#);
        round_trip(
            r#"{"type":"liveEvents","id":"b1","workspaceId":"ws1","events":[
                {"stage":"source","sourceId":"s1","eventName":"Order Completed","eventType":"track","status":"received","time":"2026-11-27T10:00:00.123Z","payload":{"type":"track","event":"Order Completed","properties":{"total":9.5}}},
                {"stage":"destination","sourceId":"s1","destinationId":"d1","eventName":"Order Completed","eventType":"track","status":"failed","statusCode":500,"time":"2026-11-27T10:00:00.200Z","payload":{"a":[1,2]},"response":"upstream timed out","attempt":2},
                {"stage":"transformation","sourceId":"s1","destinationId":"d1","transformationId":"t1","eventName":"x","eventType":"track","status":"dropped","time":"2026-11-27T10:00:00.300Z"}]}"#,
        );
        round_trip(
            r#"{"type":"metrics","id":"m1","workspaceId":"ws1","bucket":"2026-11-27T10:00:00Z","reports":[
                {"stage":"router","sourceId":"s1","destinationId":"d1","eventName":"Order Completed","eventType":"track","status":"failed","statusCode":400,"count":3,"terminal":true,
                 "errorSamples":[{"message":"bad api key","count":2,"event":{"a":1},"response":{"error":"bad api key"}}]}]}"#,
        );
        round_trip(
            r#"{"type":"syncRun","id":"r1","workspaceId":"ws1","runId":"u-1","kind":"warehouseUpload","destinationId":"d9","status":"failed","startedAt":"2026-11-27T10:00:00Z","finishedAt":"2026-11-27T10:01:00Z","rows":10,"error":"permission denied for schema analytics"}"#,
        );
        round_trip(r#"{"type":"pong","time":"2026-11-27T10:00:00Z"}"#);
    }

    #[test]
    fn every_outbound_frame_round_trips() {
        let frames = [
            Outbound::Welcome {
                protocol: 1,
                workspaces: vec![Revision {
                    workspace_id: "ws1".into(),
                    revision: 3,
                    updated_at: "2026-11-27T10:00:00.000Z".into(),
                }],
            },
            Outbound::ConfigChanged(Revision {
                workspace_id: "ws1".into(),
                revision: 4,
                updated_at: "2026-11-27T10:00:01.000Z".into(),
            }),
            Outbound::Capture {
                workspace_id: "ws1".into(),
                sources: vec!["s1".into()],
                destinations: vec![],
                transformations: vec![],
                until: Some("2026-11-27T10:10:00.000Z".into()),
            },
            Outbound::Ping {
                time: "2026-11-27T10:00:00.000Z".into(),
            },
            Outbound::Ack { id: "b1".into() },
            FrameError {
                code: "invalid",
                message: "m".into(),
                frame_type: Some("hello".into()),
            }
            .to_outbound(Some("x".into())),
        ];
        for frame in frames {
            let text = serde_json::to_string(&frame).unwrap();
            assert_eq!(serde_json::from_str::<Outbound>(&text).unwrap(), frame);
        }
        assert_eq!(
            serde_json::to_string(&Outbound::ConfigChanged(Revision {
                workspace_id: "w".into(),
                revision: 1,
                updated_at: "t".into()
            }))
            .unwrap(),
            r#"{"type":"configChanged","workspaceId":"w","revision":1,"updatedAt":"t"}"#
        );
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        let cases = [
            ("not json", "malformed", "JSON object"),
            ("[1,2]", "malformed", "JSON object"),
            (r#"{"protocol":1}"#, "malformed", "\"type\""),
            (r#"{"type":"teleport"}"#, "unknown_type", "teleport"),
            (
                r#"{"type":"hello","protocol":1,"software":"x","version":"1"}"#,
                "invalid",
                "instanceId",
            ),
            (
                r#"{"type":"hello","protocol":2,"instanceId":"i","software":"x","version":"1"}"#,
                "invalid",
                "protocol 2",
            ),
            (
                r#"{"type":"configApplied","workspaceId":"w","revision":"seven"}"#,
                "invalid",
                "configApplied.revision",
            ),
            (
                r#"{"type":"liveEvents","workspaceId":"w","events":[{"stage":"moon","eventName":"a","eventType":"t","status":"s","time":"2026-11-27T10:00:00Z","sourceId":"s"}]}"#,
                "invalid",
                "events[0].stage",
            ),
            (
                r#"{"type":"liveEvents","workspaceId":"w","events":[{"stage":"source","eventName":"a","eventType":"t","status":"s","time":"yesterday","sourceId":"s"}]}"#,
                "invalid",
                "RFC 3339",
            ),
        ];
        for (text, code, needle) in cases {
            let error = Inbound::parse(text).expect_err(text);
            assert_eq!(error.code, code, "{text}: {error:?}");
            assert!(error.message.contains(needle), "{text}: {}", error.message);
        }
        let huge = format!(
            r#"{{"type":"pong","time":"{}"}}"#,
            "x".repeat(MAX_FRAME_BYTES)
        );
        assert_eq!(Inbound::parse(&huge).unwrap_err().code, "too_large");
    }
}
