//! Recurring jobs, by cron pattern. Every replica looks at the schedules regularly and enqueues each one's
//! latest slot under a unique key (`schedule:<kind>:<slot>`): whichever replica gets there first enqueues it,
//! the others find it exists, and the job runs once per slot across all of them. A replica that was down over
//! a slot enqueues it when it comes back (only the latest one: maintenance need not catch up slot by slot).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use tokio_util::sync::CancellationToken;

use super::{enqueue, JobKind, NewJob};
use crate::error::DbError;
use crate::state::AppState;

/// (kind, cron pattern in UTC: minute hour day-of-month month day-of-week).
pub const SCHEDULES: &[(JobKind, &str)] = &[
    (JobKind::SessionsCleanup, "17 * * * *"),
    (JobKind::AuditPrune, "23 3 * * *"),
    (JobKind::JobsPrune, "41 3 * * *"),
    (JobKind::VolumeRollup, "* * * * *"),
    (JobKind::WarehouseRecheck, "7 * * * *"),
    (JobKind::AlertReminders, "37 * * * *"),
];

/// How often each replica looks.
const LOOK_EVERY: Duration = Duration::from_secs(30);

pub async fn run(state: AppState, stop: CancellationToken) {
    let schedules: Vec<(JobKind, Cron)> = SCHEDULES
        .iter()
        .map(|(kind, pattern)| {
            (
                *kind,
                Cron::from_str(pattern).expect("the schedules are valid cron patterns"),
            )
        })
        .collect();
    loop {
        if let Err(error) = enqueue_due(&state, &schedules, Utc::now()).await {
            tracing::warn!(%error, "could not enqueue scheduled jobs");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(LOOK_EVERY) => {}
        }
    }
}

/// Enqueues each schedule's latest slot at or before `now`, unless it already is.
pub async fn enqueue_due(
    state: &AppState,
    schedules: &[(JobKind, Cron)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let mut enqueued = false;
    for (kind, cron) in schedules {
        let Ok(slot) = cron.find_previous_occurrence(&now, true) else {
            continue;
        };
        let mut conn = state.db.pool.acquire().await?;
        let job = NewJob {
            unique_key: Some(format!(
                "schedule:{}:{}",
                kind.as_str(),
                slot.timestamp_millis()
            )),
            ..NewJob::now(*kind, serde_json::json!({}))
        };
        enqueued |= enqueue(&mut conn, job).await?.is_some();
    }
    if enqueued {
        state.jobs.wake();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_parses_and_has_a_previous_slot() {
        let now = Utc::now();
        for (kind, pattern) in SCHEDULES {
            let cron = Cron::from_str(pattern).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            let slot = cron.find_previous_occurrence(&now, true).unwrap();
            assert!(slot <= now);
            assert!(now - slot <= chrono::Duration::days(1));
        }
    }
}
