//! The data planes a workspace has: every one that connected over the websocket or polled its config lately,
//! what it runs, and how far behind the current config it is. Rows are written when something changes (a
//! connection, an applied revision) and otherwise at most every `POLL_RECORD_EVERY_MS` per data plane, so
//! that a data plane polling every 5 s does not write every 5 s.

use std::collections::HashMap;
use std::sync::Mutex;

use app::api::live::{DataPlane, DataPlaneList};
use app::api::workspaces::Role;

use super::LiveError;
use crate::access::{self, Actor};
use crate::config_api::DataPlaneIdentity;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

/// The header a data plane of ours sends with its config polls: the instance id of its `hello`.
pub const INSTANCE_HEADER: &str = "x-wheelhouse-instance-id";

/// How often a polling data plane's row is refreshed when nothing else changed.
const POLL_RECORD_EVERY_MS: i64 = 15_000;
/// How often a connected data plane's row is refreshed (its `last_seen` and counters).
pub const CONNECTED_RECORD_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// A websocket row whose replica has not refreshed it for this long is not connected any more (that replica
/// died without saying so).
const CONNECTED_STALE_MS: i64 = 90_000;
/// The page lists data planes seen within this long.
const LISTED_FOR_MS: i64 = 7 * 24 * 3_600_000;

/// Who a data plane says it is.
#[derive(Debug, Clone)]
pub struct Seen {
    pub instance_id: String,
    pub software: String,
    pub version: String,
    pub address: String,
}

/// Each workspace a poll was served, with its revision.
type Served = Vec<(String, i64)>;

/// When each polling data plane's rows were last all written, and what it was served since.
#[derive(Default)]
pub struct PollLog(Mutex<HashMap<String, (i64, Served)>>);

/// A polling data plane was served `revisions` (one per workspace, in `workspace_ids`' order). Written in the
/// background when due; never slows the poll. A data plane that also holds a websocket names itself in
/// `INSTANCE_HEADER`, so that its polls land on the same row.
///
/// Between the periodic writes of every row, only the workspaces whose revision moved are written: a
/// namespace's data plane is served a thousand workspaces, and writing them all after each change held
/// SQLite's write lock long enough to delay the next change.
pub fn polled(
    state: &AppState,
    identity: &DataPlaneIdentity,
    seen: Seen,
    workspace_ids: Vec<String>,
    revisions: Vec<i64>,
) {
    let now = now_ms();
    let key = format!("{}|{}", identity.credential_label(), seen.instance_id);
    let served: Served = workspace_ids.into_iter().zip(revisions).collect();
    let due: Served = {
        let mut log = state.live.polls.0.lock().expect("poll log");
        let moved = match log.get(&key) {
            Some((at, before)) if now - at < POLL_RECORD_EVERY_MS => {
                let same_workspaces = before.len() == served.len()
                    && before.iter().zip(&served).all(|(b, s)| b.0 == s.0);
                same_workspaces.then(|| {
                    let moved: Served = served
                        .iter()
                        .zip(before)
                        .filter(|(s, b)| s.1 != b.1)
                        .map(|(s, _)| s.clone())
                        .collect();
                    (*at, moved)
                })
            }
            _ => None,
        };
        if log.len() > 100_000 {
            log.clear();
        }
        match moved {
            Some((_, moved)) if moved.is_empty() => return,
            // The last full write stays the clock for the next one.
            Some((at, moved)) => {
                log.insert(key, (at, served));
                moved
            }
            None => {
                log.insert(key, (now, served.clone()));
                served
            }
        }
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = record_poll(&state, &seen, &due, now).await {
            tracing::warn!(%error, "could not record a polling data plane");
        }
    });
}

async fn record_poll(
    state: &AppState,
    seen: &Seen,
    served: &[(String, i64)],
    now: i64,
) -> Result<(), LiveError> {
    let mut tx = state.db.begin().await?;
    for (workspace_id, revision) in served {
        sqlx::query(
            "INSERT INTO data_planes (workspace_id, instance_id, transport, software, version, address,
                 connected_replica, applied_revision, applied_at, first_seen, last_seen)
             VALUES ($1, $2, 'polling', $3, $4, $5, NULL, $6, $7, $7, $7)
             ON CONFLICT (workspace_id, instance_id) DO UPDATE SET
                 last_seen = excluded.last_seen,
                 applied_at = CASE WHEN data_planes.applied_revision = excluded.applied_revision
                     THEN data_planes.applied_at ELSE excluded.applied_at END,
                 applied_revision = excluded.applied_revision",
        )
        .bind(workspace_id)
        .bind(&seen.instance_id)
        .bind(&seen.software)
        .bind(&seen.version)
        .bind(&seen.address)
        .bind(revision)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A data plane said hello over the websocket: it is connected to this replica.
pub async fn connected(
    state: &AppState,
    seen: &Seen,
    workspace_ids: &[String],
) -> Result<(), LiveError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    for workspace_id in workspace_ids {
        sqlx::query(
            "INSERT INTO data_planes (workspace_id, instance_id, transport, software, version, address,
                 connected_replica, applied_revision, applied_at, first_seen, last_seen)
             VALUES ($1, $2, 'websocket', $3, $4, $5, $6, 0, $7, $7, $7)
             ON CONFLICT (workspace_id, instance_id) DO UPDATE SET
                 transport = 'websocket', software = excluded.software, version = excluded.version,
                 address = excluded.address, connected_replica = excluded.connected_replica,
                 last_seen = excluded.last_seen",
        )
        .bind(workspace_id)
        .bind(&seen.instance_id)
        .bind(&seen.software)
        .bind(&seen.version)
        .bind(&seen.address)
        .bind(&state.snapshot.instance_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The data plane runs `revision` of the workspace's config now.
pub async fn applied(
    state: &AppState,
    instance_id: &str,
    workspace_id: &str,
    revision: i64,
) -> Result<(), LiveError> {
    let now = now_ms();
    sqlx::query(
        "UPDATE data_planes SET applied_revision = $1, applied_at = $2, last_seen = $2
         WHERE workspace_id = $3 AND instance_id = $4",
    )
    .bind(revision)
    .bind(now)
    .bind(workspace_id)
    .bind(instance_id)
    .execute(&state.db.pool)
    .await?;
    Ok(())
}

/// What a connection counted since its row was last written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counted {
    pub events: i64,
    pub rejected: i64,
}

/// Refreshes a connected data plane's row (`still_connected`), or marks it gone.
pub async fn refresh(
    state: &AppState,
    instance_id: &str,
    workspace_ids: &[String],
    counted: Counted,
    still_connected: bool,
) -> Result<(), LiveError> {
    let now = now_ms();
    let replica = still_connected.then(|| state.snapshot.instance_id.clone());
    let mut tx = state.db.begin().await?;
    for workspace_id in workspace_ids {
        sqlx::query(
            "UPDATE data_planes SET last_seen = $1, connected_replica = $2,
                 events_received = events_received + $3, frames_rejected = frames_rejected + $4
             WHERE workspace_id = $5 AND instance_id = $6",
        )
        .bind(now)
        .bind(&replica)
        .bind(counted.events)
        .bind(counted.rejected)
        .bind(workspace_id)
        .bind(instance_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DataPlaneRow {
    instance_id: String,
    transport: String,
    software: String,
    version: String,
    address: String,
    connected_replica: Option<String>,
    applied_revision: i64,
    applied_at: i64,
    first_seen: i64,
    last_seen: i64,
    events_received: i64,
    frames_rejected: i64,
}

/// The workspace's data planes seen lately, most recently seen first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<DataPlaneList, LiveError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let now = now_ms();
    let rows: Vec<DataPlaneRow> = sqlx::query_as(
        "SELECT instance_id, transport, software, version, address, connected_replica, applied_revision,
             applied_at, first_seen, last_seen, events_received, frames_rejected
         FROM data_planes WHERE workspace_id = $1 AND last_seen > $2
         ORDER BY last_seen DESC, instance_id LIMIT 500",
    )
    .bind(workspace_id)
    .bind(now - LISTED_FOR_MS)
    .fetch_all(&state.db.pool)
    .await?;
    let snapshot = state.snapshot.current();
    let (current_revision, current_since) = snapshot
        .workspaces
        .get(workspace_id)
        .map(|w| (w.live.revision, w.updated_at_ms))
        .unwrap_or((0, now));
    let data_planes = rows
        .into_iter()
        .map(|row| {
            let revisions_behind = (current_revision - row.applied_revision).max(0);
            DataPlane {
                connected: row.connected_replica.is_some()
                    && now - row.last_seen < CONNECTED_STALE_MS,
                instance_id: row.instance_id,
                transport: row.transport,
                software: row.software,
                version: row.version,
                address: row.address,
                first_seen: format_ms(row.first_seen),
                last_seen: format_ms(row.last_seen),
                applied_revision: row.applied_revision,
                applied_at: format_ms(row.applied_at),
                current_revision,
                current_since: format_ms(current_since),
                revisions_behind,
                behind_ms: if revisions_behind > 0 {
                    (now - current_since).max(0)
                } else {
                    0
                },
                events_received: row.events_received,
                frames_rejected: row.frames_rejected,
            }
        })
        .collect();
    Ok(DataPlaneList {
        data_planes,
        current_revision,
    })
}
