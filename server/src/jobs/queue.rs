//! The `jobs` table: leasing a due job, renewing and ending the lease, and what administrators see.

use std::time::Duration;

use app::api::jobs::{Job, JobState};
use rand::Rng;

use crate::access::{self, AccessError, Actor};
use crate::db::{Backend, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::time::{format_ms, now_ms};

/// Finished jobs are kept this long, for the record.
const KEEP_FINISHED_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A job leased by this worker.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: String,
    pub kind: String,
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
    pub max_attempts: i64,
    /// This lease's owner: a new value per claim, so that a worker whose lease expired cannot end the job
    /// another worker has since claimed.
    pub lease_owner: String,
}

/// Leases a job whose lease expired (its replica died; there are at most as many as workers), else the most
/// overdue queued job that is due.
///
/// Two statements rather than one with `OR`: with `OR` neither database can walk the `(state, run_at, id)`
/// index in order, and sorted every due job on every claim (10,000 queued alerts cost 3 ms of CPU each).
pub async fn claim(db: &Db, lease: Duration, worker: &str) -> Result<Option<ClaimedJob>, DbError> {
    let now = now_ms();
    let owner = format!("{worker}:{}", new_id());
    // PostgreSQL: concurrent claimers skip each other's locked rows. SQLite: one writer at a time, and the
    // statement is atomic.
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    for claimable in [
        "state = 'running' AND lease_expires_at < $3",
        "state = 'queued' AND run_at <= $3",
    ] {
        let claimed = sqlx::query_as::<_, ClaimedJob>(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1,
                 updated_at = $3
             WHERE id = (SELECT id FROM jobs WHERE {claimable} ORDER BY run_at, id LIMIT 1 {lock})
             RETURNING id, kind, payload, attempts, max_attempts, lease_owner"
        ))
        .bind(&owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
        if claimed.is_some() {
            return Ok(claimed);
        }
    }
    Ok(None)
}

/// Extends a lease that is still ours; false when it is not (it expired and another worker took the job).
pub async fn renew(db: &Db, job: &ClaimedJob, lease: Duration) -> Result<bool, DbError> {
    let renewed = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind(now_ms() + lease.as_millis() as i64)
    .bind(&job.id)
    .bind(&job.lease_owner)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(renewed == 1)
}

/// The attempt succeeded.
pub async fn complete(db: &Db, job: &ClaimedJob) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL,
             updated_at = $1
         WHERE id = $2 AND lease_owner = $3",
    )
    .bind(now_ms())
    .bind(&job.id)
    .bind(&job.lease_owner)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The attempt failed: queued again after a backoff, or dead after the last attempt. Returns whether it died.
pub async fn fail(
    db: &Db,
    job: &ClaimedJob,
    error: &str,
    retry_base: Duration,
    retry_max: Duration,
) -> Result<bool, DbError> {
    let now = now_ms();
    let dead = job.attempts >= job.max_attempts;
    let run_at = if dead {
        now
    } else {
        now + backoff(job.attempts, retry_base, retry_max).as_millis() as i64
    };
    // Errors are ours (SMTP, the database); still, keep them short.
    let error: String = error.chars().take(1000).collect();
    sqlx::query(
        "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, lease_owner = NULL, lease_expires_at = NULL,
             updated_at = $4
         WHERE id = $5 AND lease_owner = $6",
    )
    .bind(if dead { "dead" } else { "queued" })
    .bind(run_at)
    .bind(&error)
    .bind(now)
    .bind(&job.id)
    .bind(&job.lease_owner)
    .execute(&db.pool)
    .await?;
    Ok(dead)
}

/// The wait before attempt `attempts + 1`: `base · 2^(attempts-1)`, at most `max`, less up to a tenth at random
/// so that jobs that failed together do not all retry at the same instant.
pub fn backoff(attempts: i64, base: Duration, max: Duration) -> Duration {
    let exponent = attempts.clamp(1, 32) as u32 - 1;
    let delay = base
        .checked_mul(2u32.saturating_pow(exponent))
        .unwrap_or(max)
        .min(max);
    let jitter = rand::thread_rng().gen_range(0.0..0.1);
    delay.mul_f64(1.0 - jitter)
}

/// Deletes finished jobs older than a week. Dead jobs stay until a person retries or they are the record.
pub async fn prune_finished(db: &Db) -> Result<u64, DbError> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE state = 'succeeded' AND updated_at < $1")
            .bind(now_ms() - KEEP_FINISHED_MS)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("job not found")]
    NotFound,
    #[error("only a dead job can be retried; this one is {0}")]
    NotDead(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(JobError);

impl DomainError for JobError {
    fn kind(&self) -> Kind {
        match self {
            JobError::Access(e) => e.kind(),
            JobError::Invalid(e) => e.kind(),
            JobError::NotFound => Kind::NotFound,
            JobError::NotDead(_) => Kind::Conflict,
            JobError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            JobError::Invalid(e) => e.field(),
            _ => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl JobRow {
    fn into_wire(self) -> Job {
        Job {
            id: self.id,
            kind: self.kind,
            state: JobState::parse(&self.state).unwrap_or(JobState::Queued),
            attempts: self.attempts.max(0) as u32,
            max_attempts: self.max_attempts.max(0) as u32,
            run_at: format_ms(self.run_at),
            last_error: self.last_error,
            created_at: format_ms(self.created_at),
            updated_at: format_ms(self.updated_at),
        }
    }
}

const JOB_COLUMNS: &str =
    "id, kind, state, attempts, max_attempts, run_at, last_error, created_at, updated_at";

/// Jobs in a state, most recently changed first (instance administrators).
pub async fn list(db: &Db, actor: &Actor, state: Option<&str>) -> Result<Vec<Job>, JobError> {
    access::require_instance_admin(db, actor).await?;
    let rows: Vec<JobRow> = match state {
        Some(state) => {
            let state = JobState::parse(state).ok_or_else(|| {
                Invalid::new("state", "state must be queued, running, succeeded or dead")
            })?;
            sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = $1 ORDER BY updated_at DESC, id DESC LIMIT 500"
            ))
            .bind(state.as_str())
            .fetch_all(&db.pool)
            .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs ORDER BY updated_at DESC, id DESC LIMIT 500"
            ))
            .fetch_all(&db.pool)
            .await?
        }
    };
    Ok(rows.into_iter().map(JobRow::into_wire).collect())
}

/// Queues a dead job again, with a fresh set of attempts (instance administrators).
pub async fn retry_dead(db: &Db, actor: &Actor, id: &str) -> Result<Job, JobError> {
    access::require_instance_admin(db, actor).await?;
    let now = now_ms();
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, updated_at = $1 WHERE id = $2 AND state = 'dead'",
    )
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?
    .rows_affected();
    let row: Option<JobRow> =
        sqlx::query_as(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    let row = row.ok_or(JobError::NotFound)?;
    if updated == 0 {
        return Err(JobError::NotDead(row.state));
    }
    Ok(row.into_wire())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        let around = |attempts, expected: u64| {
            let delay = backoff(attempts, base, max);
            let expected = Duration::from_secs(expected);
            assert!(
                delay <= expected && delay >= expected.mul_f64(0.9),
                "{attempts}: {delay:?}"
            );
        };
        around(1, 10);
        around(2, 20);
        around(3, 40);
        around(9, 2560);
        around(10, 3600);
        around(60, 3600);
    }
}
