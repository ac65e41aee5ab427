//! Captures: what somebody is watching in the live debugger, stored so that every replica's config build sees
//! it. While a capture is open, the sources and destinations it covers carry rudder-server's upload flags
//! (`eventUpload`, `eventDelivery`) in the data-plane config, and our own data planes get a `capture` frame.
//!
//! A capture is a row with two clocks: `until_at`, when it stops by itself (the person can extend it), and
//! `heartbeat_at`, renewed by the replica that holds the browser's stream. Closing the stream deletes the row;
//! a replica that dies stops renewing, and any replica's sweep removes the row within `STALE_AFTER_MS`. Each
//! start and end is a config change like any other (`changes::commit_config_change`).

use std::collections::BTreeSet;
use std::time::Duration;

use app::api::live::CAPTURE_MAX_MINUTES;

use super::LiveError;
use crate::access::Actor;
use crate::audit::{self, Changes};
use crate::db::Db;
use crate::state::AppState;
use crate::time::now_ms;

/// How often a replica renews its captures' heartbeat, and sweeps expired ones.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A capture whose heartbeat is older than this is over (its replica is gone). With the sweep's period, the
/// flags are off within 10 s of the last watcher leaving, whichever way it leaves.
pub const STALE_AFTER_MS: i64 = 8_000;

/// What one stream watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    pub sources: BTreeSet<String>,
    pub destinations: BTreeSet<String>,
}

impl Entities {
    /// No source and no destination named: the whole workspace.
    pub fn is_whole_workspace(&self) -> bool {
        self.sources.is_empty() && self.destinations.is_empty()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct CaptureRow {
    pub replica_id: String,
    pub whole_workspace: i64,
    pub source_ids: String,
    pub destination_ids: String,
    pub until_at: i64,
}

impl CaptureRow {
    pub const COLUMNS: &'static str =
        "replica_id, whole_workspace, source_ids, destination_ids, until_at";

    /// The open captures of a workspace, as a build reads them.
    pub async fn open_in(db: &Db, workspace_id: &str) -> sqlx::Result<Vec<CaptureRow>> {
        let now = now_ms();
        sqlx::query_as(&format!(
            "SELECT {} FROM live_captures WHERE workspace_id = $1 AND until_at > $2 AND heartbeat_at > $3",
            CaptureRow::COLUMNS
        ))
        .bind(workspace_id)
        .bind(now)
        .bind(now - STALE_AFTER_MS)
        .fetch_all(&db.pool)
        .await
    }

    /// Every workspace's open captures (a full build).
    pub async fn all_open(db: &Db) -> sqlx::Result<Vec<(String, CaptureRow)>> {
        let now = now_ms();
        #[derive(sqlx::FromRow)]
        struct WithWorkspace {
            workspace_id: String,
            #[sqlx(flatten)]
            row: CaptureRow,
        }
        let rows: Vec<WithWorkspace> = sqlx::query_as(&format!(
            "SELECT workspace_id, {} FROM live_captures WHERE until_at > $1 AND heartbeat_at > $2",
            CaptureRow::COLUMNS
        ))
        .bind(now)
        .bind(now - STALE_AFTER_MS)
        .fetch_all(&db.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.workspace_id, r.row)).collect())
    }
}

/// What a workspace's data planes are asked to sample: the union of its open captures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureState {
    pub sources: BTreeSet<String>,
    pub destinations: BTreeSet<String>,
    /// The latest end of the open captures.
    pub until_ms: Option<i64>,
    /// The replicas holding the streams (live events go to them).
    pub replicas: BTreeSet<String>,
}

impl CaptureState {
    /// The union of the rows; a whole-workspace capture covers every source and destination that exists.
    pub fn from_rows<'a>(
        rows: &[CaptureRow],
        all_sources: impl Iterator<Item = &'a str>,
        all_destinations: impl Iterator<Item = &'a str>,
    ) -> CaptureState {
        let mut state = CaptureState::default();
        if rows.is_empty() {
            return state;
        }
        let (all_sources, all_destinations): (BTreeSet<&str>, BTreeSet<&str>) =
            (all_sources.collect(), all_destinations.collect());
        for row in rows {
            state.replicas.insert(row.replica_id.clone());
            state.until_ms = state.until_ms.max(Some(row.until_at));
            if row.whole_workspace != 0 {
                state
                    .sources
                    .extend(all_sources.iter().map(|s| s.to_string()));
                state
                    .destinations
                    .extend(all_destinations.iter().map(|s| s.to_string()));
                continue;
            }
            let ids = |json: &str| serde_json::from_str::<Vec<String>>(json).unwrap_or_default();
            state.sources.extend(
                ids(&row.source_ids)
                    .into_iter()
                    .filter(|id| all_sources.contains(id.as_str())),
            );
            state.destinations.extend(
                ids(&row.destination_ids)
                    .into_iter()
                    .filter(|id| all_destinations.contains(id.as_str())),
            );
        }
        state
    }
}

/// An open capture, as its stream holds it.
#[derive(Debug, Clone)]
pub struct Capture {
    pub id: String,
    pub workspace_id: String,
    pub until_ms: i64,
}

fn audit_entities(entities: &Entities) -> Changes {
    Changes::new()
        .set("sources", &entities.sources)
        .set("destinations", &entities.destinations)
}

/// Opens a capture for `minutes`; the entities must exist in the workspace (the caller checked the role).
pub async fn start(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    entities: &Entities,
    minutes: u32,
) -> Result<Capture, LiveError> {
    let id = crate::ids::new_id();
    let now = now_ms();
    let until_ms = now + i64::from(minutes.clamp(1, CAPTURE_MAX_MINUTES)) * 60_000;
    let json = |ids: &BTreeSet<String>| serde_json::to_string(ids).expect("ids serialize");
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO live_captures (id, workspace_id, replica_id, whole_workspace, source_ids, destination_ids,
             until_at, heartbeat_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&state.snapshot.instance_id)
    .bind(i64::from(entities.is_whole_workspace()))
    .bind(json(&entities.sources))
    .bind(json(&entities.destinations))
    .bind(until_ms)
    .bind(now)
    .bind(actor.user_id())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("live_capture.started", &id)
            .in_workspace(workspace_id)
            .with(audit_entities(entities).set("minutes", minutes)),
    )
    .await?;
    Ok(Capture {
        id,
        workspace_id: workspace_id.to_string(),
        until_ms,
    })
}

/// Moves a capture's end to `minutes` from now. Not a change of the config document (the flags stay on), but
/// our data planes hear the new end in a `capture` frame.
pub async fn extend(
    state: &AppState,
    capture: &mut Capture,
    minutes: u32,
) -> Result<(), LiveError> {
    let until_ms = now_ms() + i64::from(minutes.clamp(1, CAPTURE_MAX_MINUTES)) * 60_000;
    sqlx::query("UPDATE live_captures SET until_at = $1 WHERE id = $2")
        .bind(until_ms)
        .bind(&capture.id)
        .execute(&state.db.pool)
        .await?;
    capture.until_ms = until_ms;
    state.snapshot.publish(&capture.workspace_id).await;
    Ok(())
}

/// Closes a capture (its stream ended). A capture already swept away is no change.
pub async fn stop(state: &AppState, actor: &Actor, capture: &Capture) -> Result<(), LiveError> {
    let mut tx = state.db.begin().await?;
    let deleted = sqlx::query("DELETE FROM live_captures WHERE id = $1")
        .bind(&capture.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(());
    }
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("live_capture.ended", &capture.id).in_workspace(&capture.workspace_id),
    )
    .await?;
    Ok(())
}

/// Keeps this replica's captures alive.
pub async fn heartbeat(state: &AppState) -> Result<(), LiveError> {
    sqlx::query("UPDATE live_captures SET heartbeat_at = $1 WHERE replica_id = $2")
        .bind(now_ms())
        .bind(&state.snapshot.instance_id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

/// Removes captures whose time is up or whose replica is gone, each removal a config change. Several replicas
/// may sweep at once: the one whose `DELETE` removes a row publishes it.
pub async fn sweep(state: &AppState) -> Result<usize, LiveError> {
    let now = now_ms();
    let expired: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, workspace_id FROM live_captures WHERE until_at <= $1 OR heartbeat_at <= $2",
    )
    .bind(now)
    .bind(now - STALE_AFTER_MS)
    .fetch_all(&state.db.pool)
    .await?;
    let actor = Actor::system("live capture sweep");
    for (id, workspace_id) in &expired {
        stop(
            state,
            &actor,
            &Capture {
                id: id.clone(),
                workspace_id: workspace_id.clone(),
                until_ms: now,
            },
        )
        .await?;
    }
    sqlx::query("DELETE FROM live_spill WHERE created_at < $1")
        .bind(now - 60_000)
        .execute(&state.db.pool)
        .await?;
    Ok(expired.len())
}

/// This replica's upkeep of captures, for as long as the process runs.
pub async fn run_upkeep(state: AppState) {
    let mut heartbeat_at = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if heartbeat_at.elapsed() >= HEARTBEAT_EVERY {
            heartbeat_at = tokio::time::Instant::now();
            if let Err(error) = heartbeat(&state).await {
                tracing::warn!(%error, "could not renew the live captures' heartbeat");
            }
        }
        if let Err(error) = sweep(&state).await {
            tracing::warn!(%error, "could not sweep expired live captures");
        }
    }
}
