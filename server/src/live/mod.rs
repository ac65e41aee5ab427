//! Data planes talk back: live events, which config each runs, metrics and sync runs.
//!
//! Two surfaces feed one pipeline: our websocket (`data_plane_ws`, protocol in `protocol` and
//! `docs/data-plane-protocol.md`) and rudder-server's debugger uploads (`uploads`). Both call [`ingest`],
//! which checks that each event belongs to a source or destination of a workspace the data plane serves,
//! drops payloads where the workspace keeps none, and hands the events to this process's [`hub::Hub`] and,
//! on PostgreSQL, to the other replicas' (`relay`). Browsers watch through `handlers::live_stream`, which opens
//! a capture (`captures`): the config flags that make rudder-server send samples at all.

pub mod captures;
pub mod data_plane_ws;
pub mod handlers;
pub mod hub;
pub mod protocol;
pub mod registry;
pub mod relay;
pub mod samples;
pub mod uploads;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use handlers::routes;

/// The data-plane endpoints of the live pipeline, which live outside `/api/v1` (no session, no CSRF: data
/// planes authenticate with their own credential) but belong in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    data_plane_ws::data_plane_socket,
    uploads::event_uploads,
    uploads::event_delivery_status,
    uploads::event_transform_status
))]
pub struct DataPlaneDoc;

use crate::config_api::Snapshot;
use crate::error::{DbError, DomainError, Kind};
use crate::state::AppState;
use captures::CaptureState;
use protocol::Event;

/// What the live pipeline needs to know of a workspace, kept in its config snapshot (built with it, so that
/// it never disagrees with the config the data planes are served).
#[derive(Debug, Clone, Default)]
pub struct WorkspaceLive {
    /// The config revision (`workspaces.config_revision`).
    pub revision: i64,
    /// Whether payloads are kept (the workspace's `livePayloads` setting).
    pub payloads: bool,
    /// Source id → name.
    pub sources: HashMap<String, String>,
    /// Write key → source id (rudder-server's source uploads name the write key).
    pub write_keys: HashMap<String, String>,
    /// Destination id → name.
    pub destinations: HashMap<String, String>,
    pub capture: CaptureState,
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Invalid(String, &'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A source or destination named that is not in the workspace (the message names it).
    #[error("{0}")]
    UnknownEntity(String),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(LiveError);

impl DomainError for LiveError {
    fn kind(&self) -> Kind {
        match self {
            LiveError::Invalid(..) => Kind::Invalid,
            LiveError::NotFound(_) | LiveError::UnknownEntity(_) => Kind::NotFound,
            LiveError::Access(e) => e.kind(),
            LiveError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            LiveError::Invalid(_, field) => Some(field),
            _ => None,
        }
    }
}

/// This process's share of the live pipeline.
#[derive(Default)]
pub struct Live {
    pub hub: Arc<hub::Hub>,
    pub relay: relay::Outbox,
    /// Frame ids each data plane sent lately, so that a frame sent again after a reconnect counts once.
    recent_ids: Mutex<HashMap<String, RecentIds>>,
    /// When each polling data plane was last recorded (`registry::polled`).
    pub polls: registry::PollLog,
    pub stats: Stats,
}

#[derive(Default)]
pub struct Stats {
    pub events_accepted: AtomicU64,
    pub events_refused: AtomicU64,
    pub frames_rejected: AtomicU64,
}

#[derive(Default)]
struct RecentIds {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

const RECENT_IDS_KEPT: usize = 4096;
const RECENT_IDS_DATA_PLANES: usize = 10_000;

impl Live {
    /// Whether this data plane's frame id is new (and now remembered).
    pub fn first_time(&self, data_plane: &str, id: &str) -> bool {
        let mut all = self.recent_ids.lock().expect("recent ids");
        if all.len() >= RECENT_IDS_DATA_PLANES && !all.contains_key(data_plane) {
            all.clear();
        }
        let recent = all.entry(data_plane.to_string()).or_default();
        if !recent.seen.insert(id.to_string()) {
            return false;
        }
        recent.order.push_back(id.to_string());
        if recent.order.len() > RECENT_IDS_KEPT {
            if let Some(old) = recent.order.pop_front() {
                recent.seen.remove(&old);
            }
        }
        true
    }
}

/// How a batch of events fared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub accepted: usize,
    /// Events naming a source or destination that is not in the workspace.
    pub refused: usize,
}

/// Takes a data plane's events for one workspace it serves (the caller checked that): keeps those of the
/// workspace's own sources and destinations, without payloads where the workspace keeps none, and fans them
/// out here and to the other replicas. Never waits for a watcher.
pub fn ingest(
    state: &AppState,
    snapshot: &Snapshot,
    workspace_id: &str,
    data_plane: &str,
    events: Vec<Event>,
) -> Ingested {
    let Some(workspace) = snapshot.workspaces.get(workspace_id) else {
        return Ingested {
            accepted: 0,
            refused: events.len(),
        };
    };
    let live = &workspace.live;
    let mut outcome = Ingested::default();
    let mut kept = Vec::with_capacity(events.len());
    for mut event in events {
        let known = event
            .source_id
            .as_ref()
            .is_none_or(|id| live.sources.contains_key(id))
            && event
                .destination_id
                .as_ref()
                .is_none_or(|id| live.destinations.contains_key(id));
        if !known {
            outcome.refused += 1;
            continue;
        }
        if !live.payloads {
            event.payload = None;
            event.response = None;
        }
        event.data_plane = Some(data_plane.to_string());
        kept.push(Arc::new(event));
    }
    outcome.accepted = kept.len();
    let stats = &state.live.stats;
    stats
        .events_accepted
        .fetch_add(outcome.accepted as u64, Ordering::Relaxed);
    stats
        .events_refused
        .fetch_add(outcome.refused as u64, Ordering::Relaxed);
    if kept.is_empty() {
        return outcome;
    }
    state.samples.keep(
        kept.iter()
            .filter_map(|event| samples::Sample::of(workspace_id, event))
            .collect(),
    );
    state.live.hub.publish(workspace_id, &kept);
    let elsewhere = live
        .capture
        .replicas
        .iter()
        .any(|replica| *replica != state.snapshot.instance_id);
    if elsewhere {
        state.live.relay.send(workspace_id, kept);
    }
    outcome
}
