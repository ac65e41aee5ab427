//! Every kind of job, and which domain function runs it. Adding a kind: a variant here, its name, its retry
//! limit, and a line in `run`; a schedule in `schedule::SCHEDULES` if it recurs.

use serde::de::DeserializeOwned;

use super::queue::ClaimedJob;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Mail an invite link (payload: `{"inviteId", "inviterEmail"}`).
    MailInvite,
    /// Mail a password-reset link (payload: `{"userId"}`).
    MailPasswordReset,
    /// Delete expired sessions and sign-in throttles.
    SessionsCleanup,
    /// Delete audit entries older than their workspace's retention.
    AuditPrune,
    /// Delete finished jobs after a week.
    JobsPrune,
    /// Roll event volume up into hour and day buckets, and delete what is past its retention.
    VolumeRollup,
    /// Validate a warehouse's permissions (payload: `{"validationId"}`).
    WarehouseValidate,
    /// Enqueue the validations of warehouses whose scheduled re-check is due (permission drift).
    WarehouseRecheck,
    /// Mail one alert (payload: `{"alertId"}`).
    MailAlert,
    /// Enqueue the daily reminders of incidents that go on.
    AlertReminders,
}

impl JobKind {
    pub const ALL: [JobKind; 10] = [
        JobKind::MailInvite,
        JobKind::MailPasswordReset,
        JobKind::SessionsCleanup,
        JobKind::AuditPrune,
        JobKind::JobsPrune,
        JobKind::VolumeRollup,
        JobKind::WarehouseValidate,
        JobKind::WarehouseRecheck,
        JobKind::MailAlert,
        JobKind::AlertReminders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MailInvite => "mail.invite",
            JobKind::MailPasswordReset => "mail.password_reset",
            JobKind::SessionsCleanup => "sessions.cleanup",
            JobKind::AuditPrune => "audit.prune",
            JobKind::JobsPrune => "jobs.prune",
            JobKind::VolumeRollup => "volume.rollup",
            JobKind::WarehouseValidate => "warehouse.validate",
            JobKind::WarehouseRecheck => "warehouse.recheck",
            JobKind::MailAlert => "mail.alert",
            JobKind::AlertReminders => "alerts.remind",
        }
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// How often it is tried before it is dead. Mail keeps trying for about a day of SMTP outage (with the
    /// default backoff: 10 s doubling, at most an hour apart); maintenance runs again at its next slot anyway.
    pub fn max_attempts(self) -> i64 {
        match self {
            JobKind::MailInvite | JobKind::MailPasswordReset | JobKind::MailAlert => 30,
            // A validation that cannot finish (its replica keeps dying) is not worth many tries: it can be
            // asked for again.
            JobKind::WarehouseValidate => 2,
            JobKind::SessionsCleanup
            | JobKind::AuditPrune
            | JobKind::JobsPrune
            | JobKind::VolumeRollup
            | JobKind::WarehouseRecheck
            | JobKind::AlertReminders => 3,
        }
    }
}

/// Why an attempt failed (recorded on the job, retried unless it was the last attempt).
pub type Failure = String;

/// Runs one attempt of a job.
pub async fn run(state: &AppState, job: &ClaimedJob) -> Result<(), Failure> {
    let Some(kind) = JobKind::parse(&job.kind) else {
        return Err(format!("unknown job kind {:?}", job.kind));
    };
    match kind {
        JobKind::MailInvite => {
            let payload: InvitePayload = payload(job)?;
            crate::workspaces::invites::send_invite_mail(state, &payload, &job.id)
                .await
                .map_err(|e| e.to_string())
        }
        JobKind::MailPasswordReset => {
            let payload: ResetPayload = payload(job)?;
            crate::accounts::send_reset_mail(state, &payload.user_id, &job.id)
                .await
                .map_err(|e| e.to_string())
        }
        JobKind::SessionsCleanup => crate::accounts::delete_expired(&state.db)
            .await
            .map_err(|e| e.to_string()),
        JobKind::AuditPrune => match crate::audit::prune(&state.db).await {
            Ok(0) => Ok(()),
            Ok(deleted) => {
                tracing::info!(deleted, "audit entries past their retention deleted");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        },
        JobKind::JobsPrune => super::queue::prune_finished(&state.db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        JobKind::VolumeRollup => crate::volume::roll_up(&state.db, crate::time::now_ms())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        JobKind::WarehouseValidate => {
            let payload: ValidatePayload = payload(job)?;
            crate::warehouses::run(state, &payload.validation_id).await
        }
        JobKind::WarehouseRecheck => crate::warehouses::recheck_due(state)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        JobKind::MailAlert => {
            let payload: AlertPayload = payload(job)?;
            crate::alerts::send(state, &payload.alert_id, job.attempts >= job.max_attempts).await
        }
        JobKind::AlertReminders => crate::alerts::remind_due(state)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitePayload {
    pub invite_id: String,
    /// Named in the mail (the invite row keeps only the inviter's name).
    pub inviter_email: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetPayload {
    pub user_id: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidatePayload {
    validation_id: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertPayload {
    alert_id: String,
}

fn payload<T: DeserializeOwned>(job: &ClaimedJob) -> Result<T, Failure> {
    serde_json::from_str(&job.payload).map_err(|e| format!("unreadable payload: {e}"))
}
