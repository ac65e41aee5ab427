//! The events sources received lately, as the live debugger captured them: what a tracking plan is imported
//! from and previewed against (`tracking_plans`). Kept in the database, not in this replica's memory, so that
//! any replica answers with what every replica captured.
//!
//! Only events received at a source, with their payload (so only where the workspace keeps payloads), and at
//! most `KEPT_PER_SOURCE` per source for at most `KEPT_MS`. Writing never holds up the live pipeline: a full
//! queue drops the batch (these are samples).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::live::protocol::{Event, LiveStage};
use crate::time::now_ms;

/// Per source: enough for an impact preview over 10,000 events.
pub const KEPT_PER_SOURCE: i64 = 10_000;
const KEPT_MS: i64 = 7 * 24 * 3_600_000;
/// A payload larger than this is not a sample worth keeping (the debugger still shows it live).
const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
const QUEUE: usize = 256;
const ROWS_PER_STATEMENT: usize = 200;
/// How often one source's overflow is deleted: counting its rows on every write would cost more than
/// keeping a few thousand extra for a minute.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// One captured event.
#[derive(Debug, Clone)]
pub struct Sample {
    pub workspace_id: String,
    pub source_id: String,
    pub event_type: String,
    pub event_name: String,
    pub payload: String,
}

impl Sample {
    /// The sample an event makes, if it is one: received at a source, with a payload.
    pub fn of(workspace_id: &str, event: &Event) -> Option<Sample> {
        if event.stage != LiveStage::Source {
            return None;
        }
        let source_id = event.source_id.as_ref()?;
        let payload = event.payload.as_ref()?.get();
        (payload.len() <= MAX_PAYLOAD_BYTES).then(|| Sample {
            workspace_id: workspace_id.to_string(),
            source_id: source_id.clone(),
            event_type: event.event_type.clone(),
            event_name: event.event_name.clone(),
            payload: payload.to_string(),
        })
    }
}

#[derive(Clone)]
pub struct Writer(tokio::sync::mpsc::Sender<Vec<Sample>>);

impl Writer {
    pub fn start(db: Db) -> (Writer, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(QUEUE);
        (Writer(sender), tokio::spawn(write_loop(db, receiver)))
    }

    /// Queues samples to be written; never waits.
    pub fn keep(&self, samples: Vec<Sample>) {
        if !samples.is_empty() {
            let _ = self.0.try_send(samples);
        }
    }
}

async fn write_loop(db: Db, mut receiver: tokio::sync::mpsc::Receiver<Vec<Sample>>) {
    let mut pruned_at: HashMap<(String, String), Instant> = HashMap::new();
    let mut aged_at = Instant::now();
    while let Some(mut batch) = receiver.recv().await {
        while let Ok(more) = receiver.try_recv() {
            batch.extend(more);
            if batch.len() >= 5_000 {
                break;
            }
        }
        if let Err(error) = write(&db, &batch).await {
            tracing::warn!(%error, "could not keep captured events");
            continue;
        }
        let now = Instant::now();
        for sample in &batch {
            let key = (sample.workspace_id.clone(), sample.source_id.clone());
            if pruned_at
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < PRUNE_EVERY)
            {
                continue;
            }
            if let Err(error) = prune_source(&db, &key.0, &key.1).await {
                tracing::warn!(%error, "could not prune captured events");
            }
            pruned_at.insert(key, now);
        }
        if now.duration_since(aged_at) > PRUNE_EVERY {
            aged_at = now;
            pruned_at.retain(|_, at| now.duration_since(*at) < PRUNE_EVERY);
            let _ = sqlx::query("DELETE FROM captured_events WHERE captured_at < $1")
                .bind(now_ms() - KEPT_MS)
                .execute(&db.pool)
                .await;
        }
    }
}

async fn write(db: &Db, samples: &[Sample]) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    for chunk in samples.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| {
                let binds: Vec<String> = (1..=6).map(|c| format!("${}", row * 6 + c)).collect();
                format!("({})", binds.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO captured_events (workspace_id, source_id, event_type, event_name, payload, captured_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for sample in chunk {
            query = query
                .bind(&sample.workspace_id)
                .bind(&sample.source_id)
                .bind(&sample.event_type)
                .bind(&sample.event_name)
                .bind(&sample.payload)
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Deletes a source's samples beyond the newest `KEPT_PER_SOURCE`.
async fn prune_source(db: &Db, workspace_id: &str, source_id: &str) -> Result<(), sqlx::Error> {
    let oldest_kept: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM captured_events WHERE workspace_id = $1 AND source_id = $2 ORDER BY id DESC LIMIT 1 OFFSET $3",
    )
    .bind(workspace_id)
    .bind(source_id)
    .bind(KEPT_PER_SOURCE - 1)
    .fetch_optional(&db.pool)
    .await?;
    if let Some(oldest_kept) = oldest_kept {
        sqlx::query(
            "DELETE FROM captured_events WHERE workspace_id = $1 AND source_id = $2 AND id < $3",
        )
        .bind(workspace_id)
        .bind(source_id)
        .bind(oldest_kept)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// The newest samples of these sources (each source's newest `per_source` at most), newest first: the
/// payloads, parsed.
pub async fn recent(
    db: &Db,
    workspace_id: &str,
    source_ids: &[String],
    per_source: i64,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let mut out = Vec::new();
    for source_id in source_ids {
        let payloads: Vec<String> = sqlx::query_scalar(
            "SELECT payload FROM captured_events WHERE workspace_id = $1 AND source_id = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(source_id)
        .bind(per_source)
        .fetch_all(&db.pool)
        .await?;
        out.extend(
            payloads
                .iter()
                .filter_map(|p| serde_json::from_str::<serde_json::Value>(p).ok()),
        );
    }
    Ok(out)
}
