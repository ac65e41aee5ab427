//! Alerts: when a warehouse destination or reverse-ETL source goes from healthy to failing (a failed sync, or
//! a validation step that passed before and fails now), its subscribers get one mail; while it stays failing,
//! one reminder a day; when it recovers, one mail again.
//!
//! Health is a row per resource and cause (`resource_health`), changed in a transaction that also writes
//! the mail: one `alerts` row per recipient and a `mail.alert` job for each (the outbox). The job sends the
//! mail (Message-ID: the alert's id) and marks the row sent, so an SMTP outage or a restart delays mail but
//! loses none, and the job queue's lease gives each alert to one replica. The one window left: the SMTP
//! server accepted the mail and we died before marking it sent; the job then runs again and the mail is sent
//! twice, with the same Message-ID (which lets a mail server or client drop the copy).
//!
//! Subscribers: a workspace's admins and owners, unless they unsubscribed from the resource; any other
//! member who subscribed to it; never someone who muted all alerts.

mod handlers;
mod mail;

use app::api::warehouses::{
    Alert, AlertSubscription, Alerts, ChangeSubscription, NotificationSettings,
    ResourceSubscription, UpdateNotificationSettings, ValidationStep,
};
use app::api::workspaces::Role;

pub use handlers::routes;
pub use mail::send;

use crate::access::{self, AccessError, Actor};
use crate::db::{Backend, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::jobs::{self, JobKind, NewJob};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};
use crate::warehouses::ResourceType;

/// A day: how often a failing resource's subscribers are reminded.
const REMIND_EVERY_MS: i64 = 24 * 3_600_000;
/// Alerts listed per page of the history.
const LIST_MAX: i64 = 500;

/// The resource an alert is about.
#[derive(Clone, Debug)]
pub struct Subject {
    pub workspace_id: String,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub resource_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(AlertError);

impl DomainError for AlertError {
    fn kind(&self) -> Kind {
        match self {
            AlertError::Access(e) => e.kind(),
            AlertError::Invalid(e) => e.kind(),
            AlertError::NotFound(_) => Kind::NotFound,
            AlertError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AlertError::Invalid(e) => e.field(),
            _ => None,
        }
    }
}

/// A resource's health for one cause.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Health {
    pub state: String,
    pub incident_id: Option<String>,
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
    /// When the outcome that set this state happened (older outcomes arriving late change nothing).
    pub updated_at: i64,
}

pub async fn health(db: &Db, resource_id: &str, cause: &str) -> Result<Option<Health>, DbError> {
    Ok(sqlx::query_as(
        "SELECT state, incident_id, failing_since, last_error, updated_at FROM resource_health
         WHERE resource_id = $1 AND cause = $2",
    )
    .bind(resource_id)
    .bind(cause)
    .fetch_optional(&db.pool)
    .await?)
}

/// A sync ended.
pub async fn sync_finished(
    state: &AppState,
    subject: &Subject,
    succeeded: bool,
    at: i64,
    error: Option<&str>,
) -> Result<(), DbError> {
    let error = error.unwrap_or("the sync failed without saying why");
    transition(
        state,
        subject,
        "sync",
        (!succeeded).then_some(error),
        at,
        true,
    )
    .await
}

/// A validation finished: a step that passed (or warned) in the previous validation and fails now opens an
/// incident; a validation without failures ends one. A first validation that fails alerts no one (the
/// person who saved the credentials is looking at it).
pub async fn validation_finished(
    state: &AppState,
    subject: &Subject,
    validation_id: &str,
    steps: &[ValidationStep],
) -> Result<(), DbError> {
    let failed = steps.iter().find(|s| s.status == "failed");
    let Some(failed) = failed else {
        return transition(state, subject, "validation", None, now_ms(), false).await;
    };
    let previous =
        crate::warehouses::previous_steps(&state.db, &subject.resource_id, validation_id).await?;
    let newly = previous.is_some_and(|previous| {
        previous
            .iter()
            .any(|p| p.name == failed.name && matches!(p.status.as_str(), "passed" | "warning"))
    });
    let error = format!(
        "{}: {}{}",
        failed.name,
        failed.reason.as_deref().unwrap_or("failed"),
        failed
            .remediation
            .as_deref()
            .map(|r| format!("\nTo fix it, run:\n{r}"))
            .unwrap_or_default()
    );
    transition(state, subject, "validation", Some(&error), now_ms(), newly).await
}

/// Moves a resource's health for a cause. `failure`: the error when the outcome failed, `None` when it
/// succeeded. `may_open`: whether this failure may open an incident (a healthy resource becomes failing).
async fn transition(
    state: &AppState,
    subject: &Subject,
    cause: &str,
    failure: Option<&str>,
    at: i64,
    may_open: bool,
) -> Result<(), DbError> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // Written first, so that the transaction holds the row (PostgreSQL) or the database (SQLite) before it
    // reads: two replicas told of two runs at once cannot both open an incident.
    sqlx::query(
        "INSERT INTO resource_health (resource_id, cause, workspace_id, resource_type, state, updated_at)
         VALUES ($1, $2, $3, $4, 'healthy', 0)
         ON CONFLICT (resource_id, cause) DO NOTHING",
    )
    .bind(&subject.resource_id)
    .bind(cause)
    .bind(&subject.workspace_id)
    .bind(subject.resource_type)
    .execute(&mut *tx)
    .await?;
    let lock = match state.db.backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let current: Health = sqlx::query_as(&format!(
        "SELECT state, incident_id, failing_since, last_error, updated_at FROM resource_health
         WHERE resource_id = $1 AND cause = $2{lock}"
    ))
    .bind(&subject.resource_id)
    .bind(cause)
    .fetch_one(&mut *tx)
    .await?;
    if at < current.updated_at {
        return Ok(()); // an older outcome, reported late
    }
    let failing = current.state == "failing";
    match (failure, failing) {
        (Some(error), false) if may_open => {
            let incident = new_id();
            sqlx::query(
                "UPDATE resource_health SET state = 'failing', incident_id = $1, failing_since = $2,
                     last_error = $3, last_reminded_at = $4, updated_at = $2
                 WHERE resource_id = $5 AND cause = $6",
            )
            .bind(&incident)
            .bind(at)
            .bind(error)
            .bind(now)
            .bind(&subject.resource_id)
            .bind(cause)
            .execute(&mut *tx)
            .await?;
            enqueue_alerts(
                &mut tx,
                subject,
                cause,
                &incident,
                "failing",
                Some(error),
                at,
            )
            .await?;
        }
        (Some(error), _) => {
            sqlx::query(
                "UPDATE resource_health SET last_error = $1, updated_at = $2 WHERE resource_id = $3 AND cause = $4",
            )
            .bind(error)
            .bind(at)
            .bind(&subject.resource_id)
            .bind(cause)
            .execute(&mut *tx)
            .await?;
        }
        (None, true) => {
            sqlx::query(
                "UPDATE resource_health SET state = 'healthy', incident_id = NULL, failing_since = NULL,
                     last_reminded_at = NULL, updated_at = $1
                 WHERE resource_id = $2 AND cause = $3",
            )
            .bind(at)
            .bind(&subject.resource_id)
            .bind(cause)
            .execute(&mut *tx)
            .await?;
            let incident = current.incident_id.unwrap_or_else(new_id);
            let since = current.failing_since.unwrap_or(at);
            enqueue_alerts(&mut tx, subject, cause, &incident, "recovered", None, since).await?;
        }
        (None, false) => {
            sqlx::query(
                "UPDATE resource_health SET updated_at = $1 WHERE resource_id = $2 AND cause = $3",
            )
            .bind(at)
            .bind(&subject.resource_id)
            .bind(cause)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    state.jobs.wake();
    Ok(())
}

/// Who gets a resource's alerts: (user id, email).
async fn recipients(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &str,
    resource_id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email FROM memberships m
         JOIN users u ON u.id = m.user_id
         LEFT JOIN alert_subscriptions s ON s.user_id = m.user_id AND s.resource_id = $2
         LEFT JOIN notification_settings n ON n.user_id = m.user_id
         WHERE m.workspace_id = $1
           AND COALESCE(n.mute_all, 0) = 0
           AND (s.subscribed = 1 OR (s.subscribed IS NULL AND m.role IN ('admin', 'owner')))
         ORDER BY u.email",
    )
    .bind(workspace_id)
    .bind(resource_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Writes one alert per recipient and the job that mails it (the outbox), in the caller's transaction.
async fn enqueue_alerts(
    conn: &mut sqlx::AnyConnection,
    subject: &Subject,
    cause: &str,
    incident_id: &str,
    event: &str,
    error: Option<&str>,
    failing_since: i64,
) -> Result<usize, DbError> {
    let recipients = recipients(conn, &subject.workspace_id, &subject.resource_id).await?;
    let now = now_ms();
    for (user_id, email) in &recipients {
        let id = new_id();
        sqlx::query(
            "INSERT INTO alerts (id, workspace_id, resource_type, resource_id, resource_name, incident_id, cause,
                 event, error, failing_since, user_id, email, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'queued', $13)",
        )
        .bind(&id)
        .bind(&subject.workspace_id)
        .bind(subject.resource_type)
        .bind(&subject.resource_id)
        .bind(&subject.resource_name)
        .bind(incident_id)
        .bind(cause)
        .bind(event)
        .bind(error)
        .bind(failing_since)
        .bind(user_id)
        .bind(email)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        jobs::enqueue(
            conn,
            NewJob::now(JobKind::MailAlert, serde_json::json!({ "alertId": id })),
        )
        .await?;
    }
    if !recipients.is_empty() {
        tracing::info!(
            resource_id = %subject.resource_id, cause, event, recipients = recipients.len(),
            "alert mail queued"
        );
    }
    Ok(recipients.len())
}

/// The daily reminder (an hourly job): each incident whose last mail is a day old gets a reminder.
pub async fn remind_due(state: &AppState) -> Result<usize, DbError> {
    let now = now_ms();
    #[derive(sqlx::FromRow)]
    struct Due {
        resource_id: String,
        cause: String,
        workspace_id: String,
        resource_type: String,
        last_error: Option<String>,
        failing_since: i64,
        last_reminded_at: i64,
    }
    let due: Vec<Due> = sqlx::query_as(
        "SELECT resource_id, cause, workspace_id, resource_type, last_error, failing_since, last_reminded_at
         FROM resource_health WHERE state = 'failing' AND last_reminded_at <= $1",
    )
    .bind(now - REMIND_EVERY_MS)
    .fetch_all(&state.db.pool)
    .await?;
    let mut reminded = 0;
    for Due {
        resource_id,
        cause,
        workspace_id,
        resource_type,
        last_error: error,
        failing_since: since,
        last_reminded_at: last,
    } in due
    {
        let resource_type: ResourceType = if resource_type == "source" {
            "source"
        } else {
            "destination"
        };
        let name =
            crate::warehouses::resource_name(&state.db, &workspace_id, resource_type, &resource_id)
                .await?;
        let Some(name) = name else { continue };
        let mut tx = state.db.begin().await?;
        // Only if no one reminded meanwhile (another replica, or a recovery).
        let claimed = sqlx::query(
            "UPDATE resource_health SET last_reminded_at = $1
             WHERE resource_id = $2 AND cause = $3 AND state = 'failing' AND last_reminded_at = $4",
        )
        .bind(now)
        .bind(&resource_id)
        .bind(&cause)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        let incident: Option<String> = sqlx::query_scalar(
            "SELECT incident_id FROM resource_health WHERE resource_id = $1 AND cause = $2",
        )
        .bind(&resource_id)
        .bind(&cause)
        .fetch_one(&mut *tx)
        .await?;
        let subject = Subject {
            workspace_id,
            resource_type,
            resource_id,
            resource_name: name,
        };
        enqueue_alerts(
            &mut tx,
            &subject,
            &cause,
            &incident.unwrap_or_else(new_id),
            "reminder",
            error.as_deref(),
            since,
        )
        .await?;
        tx.commit().await?;
        reminded += 1;
    }
    if reminded > 0 {
        state.jobs.wake();
    }
    Ok(reminded)
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: String,
    resource_type: String,
    resource_id: String,
    resource_name: String,
    cause: String,
    event: String,
    error: Option<String>,
    email: String,
    status: String,
    created_at: i64,
    sent_at: Option<i64>,
}

/// What was mailed to whom and when, newest first (admin: it lists members' addresses and errors).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Alerts, AlertError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT id, resource_type, resource_id, resource_name, cause, event, error, email, status, created_at,
             sent_at
         FROM alerts WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(workspace_id)
    .bind(LIST_MAX)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Alerts {
        alerts: rows
            .into_iter()
            .map(|r| Alert {
                id: r.id,
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                resource_name: r.resource_name,
                cause: r.cause,
                event: r.event,
                error: r.error,
                email: r.email,
                status: r.status,
                created_at: format_ms(r.created_at),
                sent_at: r.sent_at.map(format_ms),
            })
            .collect(),
    })
}

async fn require_resource(
    db: &Db,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<String, AlertError> {
    crate::warehouses::resource_name(db, workspace_id, resource_type, id)
        .await?
        .ok_or(AlertError::NotFound(resource_type))
}

/// Whose subscription: the person's, or the person an API token acts for.
fn subscriber(actor: &Actor) -> Result<&str, AccessError> {
    actor
        .user_id()
        .ok_or_else(|| AccessError::NeedsPerson("only a person subscribes to alerts".into()))
}

async fn muted(db: &Db, user_id: &str) -> Result<bool, DbError> {
    let muted: Option<i64> =
        sqlx::query_scalar("SELECT mute_all FROM notification_settings WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(muted == Some(1))
}

/// Whether the person asking gets a resource's alerts (any member).
pub async fn subscription(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<AlertSubscription, AlertError> {
    let role = access::require(&state.db, actor, workspace_id, Role::Viewer)
        .await?
        .role;
    let user_id = subscriber(actor)?;
    require_resource(&state.db, workspace_id, resource_type, id).await?;
    let chosen: Option<i64> = sqlx::query_scalar(
        "SELECT subscribed FROM alert_subscriptions WHERE user_id = $1 AND resource_id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    Ok(AlertSubscription {
        subscribed: chosen.map_or(role.at_least(Role::Admin), |s| s == 1),
        source: if chosen.is_some() {
            "chosen"
        } else {
            "default"
        }
        .into(),
        muted: muted(&state.db, user_id).await?,
    })
}

/// Subscribes to or unsubscribes from a resource's alerts, or returns to the default (any member).
pub async fn set_subscription(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
    change: ChangeSubscription,
) -> Result<AlertSubscription, AlertError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let user_id = subscriber(actor)?;
    require_resource(&state.db, workspace_id, resource_type, id).await?;
    match change.subscribed {
        Some(subscribed) => {
            sqlx::query(
                "INSERT INTO alert_subscriptions (user_id, resource_id, workspace_id, subscribed, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id, resource_id) DO UPDATE SET subscribed = excluded.subscribed,
                     updated_at = excluded.updated_at",
            )
            .bind(user_id)
            .bind(id)
            .bind(workspace_id)
            .bind(i64::from(subscribed))
            .bind(now_ms())
            .execute(&state.db.pool)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM alert_subscriptions WHERE user_id = $1 AND resource_id = $2")
                .bind(user_id)
                .bind(id)
                .execute(&state.db.pool)
                .await?;
        }
    }
    subscription(state, actor, workspace_id, resource_type, id).await
}

/// The signed-in person's notification settings.
pub async fn settings(state: &AppState, actor: &Actor) -> Result<NotificationSettings, AlertError> {
    let user_id = subscriber(actor)?;
    #[derive(sqlx::FromRow)]
    struct Chosen {
        workspace_id: String,
        resource_id: String,
        resource_type: String,
        subscribed: i64,
        destination_name: Option<String>,
        source_name: Option<String>,
    }
    let rows: Vec<Chosen> = sqlx::query_as(
        "SELECT s.workspace_id, s.resource_id,
             CASE WHEN d.id IS NOT NULL THEN 'destination' ELSE 'source' END AS resource_type,
             s.subscribed, d.name AS destination_name, src.name AS source_name
         FROM alert_subscriptions s
         JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id
         LEFT JOIN destinations d ON d.id = s.resource_id
         LEFT JOIN sources src ON src.id = s.resource_id
         WHERE s.user_id = $1
         ORDER BY s.workspace_id, s.resource_id",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(NotificationSettings {
        mute_all: muted(&state.db, user_id).await?,
        subscriptions: rows
            .into_iter()
            .filter_map(|row| {
                Some(ResourceSubscription {
                    resource_name: row.destination_name.or(row.source_name)?,
                    workspace_id: row.workspace_id,
                    resource_type: row.resource_type,
                    resource_id: row.resource_id,
                    subscribed: row.subscribed == 1,
                })
            })
            .collect(),
    })
}

pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    change: UpdateNotificationSettings,
) -> Result<NotificationSettings, AlertError> {
    let user_id = subscriber(actor)?;
    sqlx::query(
        "INSERT INTO notification_settings (user_id, mute_all, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET mute_all = excluded.mute_all, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(i64::from(change.mute_all))
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?;
    settings(state, actor).await
}
