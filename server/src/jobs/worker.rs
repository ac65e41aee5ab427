//! This replica's worker: leases due jobs, runs them with their lease renewed, records the outcome.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::queue::{self, ClaimedJob};
use super::{kinds, schedule};
use crate::state::AppState;

/// The longest one attempt may run before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The running worker and scheduler.
pub struct Worker {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Worker {
    pub fn spawn(state: &AppState) -> Worker {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let worker_id = state.snapshot.instance_id.clone();
        for _ in 0..state.jobs.settings.concurrency.max(1) {
            tasks.spawn(work(state.clone(), worker_id.clone(), stop.clone()));
        }
        tasks.spawn(schedule::run(state.clone(), stop.clone()));
        Worker { stop, tasks }
    }

    /// Stops claiming jobs and waits (a while) for those running to finish; one still running after that
    /// is abandoned, and its lease expiring hands it to another worker.
    pub async fn stop(mut self, within: Duration) {
        self.stop.cancel();
        let finished = tokio::time::timeout(within, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!("stopping with jobs still running; their leases will expire and another worker will run them");
            self.tasks.abort_all();
        }
    }
}

async fn work(state: AppState, worker_id: String, stop: CancellationToken) {
    let settings = state.jobs.settings.clone();
    let woken = state.jobs.woken();
    while !stop.is_cancelled() {
        match queue::claim(&state.db, settings.lease, &worker_id).await {
            Ok(Some(job)) => run_one(&state, job).await,
            Ok(None) => {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = woken.notified() => {}
                    _ = tokio::time::sleep(settings.poll) => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not look for due jobs");
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(settings.poll) => {}
                }
            }
        }
    }
}

async fn run_one(state: &AppState, job: ClaimedJob) {
    let settings = &state.jobs.settings;
    let outcome = if job.attempts > job.max_attempts {
        // Its last attempt's worker died: that counts as a failure like any other.
        Err(
            "its lease expired during its last attempt (the replica running it stopped)"
                .to_string(),
        )
    } else {
        let renewing = async {
            let mut every = tokio::time::interval(settings.lease / 3);
            every.tick().await;
            loop {
                every.tick().await;
                match queue::renew(&state.db, &job, settings.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job_id = %job.id, kind = %job.kind, "lost the lease of a running job");
                    }
                    Err(error) => {
                        tracing::warn!(job_id = %job.id, %error, "could not renew a job's lease")
                    }
                }
            }
        };
        tokio::select! {
            result = tokio::time::timeout(ATTEMPT_TIMEOUT, kinds::run(state, &job)) => {
                result.unwrap_or_else(|_| Err(format!("took longer than {} s", ATTEMPT_TIMEOUT.as_secs())))
            }
            _ = renewing => unreachable!("renewing never ends"),
        }
    };
    let recorded = match &outcome {
        Ok(()) => queue::complete(&state.db, &job).await.map(|_| false),
        Err(error) => {
            queue::fail(
                &state.db,
                &job,
                error,
                settings.retry_base,
                settings.retry_max,
            )
            .await
        }
    };
    match (outcome, recorded) {
        (Ok(()), Ok(_)) => {
            tracing::debug!(job_id = %job.id, kind = %job.kind, attempt = job.attempts, "job done")
        }
        (Err(error), Ok(true)) => tracing::error!(
            job_id = %job.id, kind = %job.kind, attempts = job.attempts, %error,
            "job failed for the last time: it is dead (GET /api/v1/instance/jobs?state=dead)"
        ),
        (Err(error), Ok(false)) => tracing::warn!(
            job_id = %job.id, kind = %job.kind, attempt = job.attempts, %error, "job failed; it will be retried"
        ),
        (_, Err(error)) => tracing::warn!(
            job_id = %job.id, %error,
            "could not record a job's outcome; its lease will expire and it will run again"
        ),
    }
}
