//! Durable background jobs, in the database and shared by every replica.
//!
//! Work that must happen later, again, or exactly once across replicas (mail, retention, cleanups) is a
//! row of `jobs`, enqueued inside the transaction of the change that caused it ([`enqueue`]), so that it
//! exists exactly when the change does. Each replica runs a worker ([`worker`]) that leases due jobs one at a
//! time per job: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite through its single writer. A lease is
//! renewed while the job runs and expires when its replica dies, making the job claimable again. A failure
//! is retried after an exponential backoff, up to the job's limit; then the job is dead: kept, visible to
//! instance administrators (`GET /api/v1/instance/jobs?state=dead`), retried only when a person says so.
//! Scheduled jobs ([`schedule`]) are enqueued once per slot across replicas, by a unique key.
//!
//! Why not a crate: apalis (the obvious candidate) stores SQLite and PostgreSQL jobs through two separate
//! typed pools on sqlx 0.9, cannot enqueue inside our `Any` transaction, and keeps its retry backoff in the
//! worker's memory; its cron scheduler fires on every replica. The queue here is a table and four statements.

pub mod handlers;
mod kinds;
pub mod queue;
pub mod schedule;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::AnyConnection;
use tokio::sync::Notify;

pub use kinds::{InvitePayload, JobKind, ResetPayload};
pub use queue::{ClaimedJob, JobError};

use crate::error::DbError;
use crate::ids::new_id;
use crate::time::now_ms;

/// How the queue runs on this replica.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// How often an idle worker looks for due jobs (it is also woken when this replica enqueues one).
    pub poll: Duration,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// The first retry's delay; each further retry waits twice as long, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Jobs run at once on this replica.
    pub concurrency: usize,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(60 * 60),
            // Validations wait on warehouses (seconds each): mail must not queue behind a few of them.
            concurrency: 4,
        }
    }
}

/// This replica's handle on the queue.
#[derive(Clone)]
pub struct Jobs {
    pub settings: JobSettings,
    wake: Arc<Notify>,
}

impl Jobs {
    pub fn new(settings: JobSettings) -> Jobs {
        Jobs {
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Tells this replica's worker that a job was committed: it runs now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    pub(crate) fn woken(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// A job to enqueue.
pub struct NewJob {
    pub kind: JobKind,
    /// Whatever the job needs to find its work; never a credential (a mail job names the invite, the mail
    /// is built when it is sent).
    pub payload: serde_json::Value,
    /// Not before (epoch ms); now when `None`.
    pub run_at: Option<i64>,
    /// At most one job with this key ever exists (a scheduled run's slot).
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn now(kind: JobKind, payload: impl Serialize) -> NewJob {
        NewJob {
            kind,
            payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            run_at: None,
            unique_key: None,
        }
    }
}

/// Enqueues a job inside the caller's transaction: it exists if and only if the transaction commits. Call
/// `Jobs::wake` after the commit. Returns the job's id, or `None` when a job with its unique key exists.
pub async fn enqueue(conn: &mut AnyConnection, job: NewJob) -> Result<Option<String>, DbError> {
    let id = new_id();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, unique_key, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $7)
         ON CONFLICT (unique_key) DO NOTHING",
    )
    .bind(&id)
    .bind(job.kind.as_str())
    .bind(job.payload.to_string())
    .bind(job.kind.max_attempts())
    .bind(job.run_at.unwrap_or(now))
    .bind(job.unique_key)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(id))
}
