//! Warehouses: permission validation of warehouse destinations and reverse-ETL sources, their sync history,
//! and the alert mail that follows failures.
//!
//! `POST /api/v1/workspaces/{ws}/destinations/{id}/validate`, `POST …/sources/{id}/validate`,
//! `GET /api/v1/workspaces/{ws}/validations/{jobId}`, `GET …/destinations/{id}/validations`,
//! `GET …/destinations/{id}/syncs`, `GET …/sources/{id}/syncs`, `GET|PUT …/{destinations|sources}/{id}/alerts`,
//! `GET /api/v1/workspaces/{ws}/alerts`, `GET|PUT /api/v1/me/notifications`.

use serde::{Deserialize, Serialize};

/// The warehouse destinations and reverse-ETL warehouse sources, by definition name: they are validated, report
/// syncs and alert, and have a Warehouse tab. `resource_type`: `destination(s)` or `source(s)`.
pub fn is_warehouse(resource_type: &str, type_name: &str) -> bool {
    match resource_type.trim_end_matches('s') {
        "destination" => matches!(
            type_name,
            "POSTGRES" | "RS" | "SNOWFLAKE" | "BQ" | "CLICKHOUSE"
        ),
        "source" => matches!(
            type_name,
            "postgres" | "redshift" | "snowflake" | "bigquery"
        ),
        _ => false,
    }
}

/// What `POST …/validate` answers: the job to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationStarted {
    pub job_id: String,
}

/// A validation run, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    pub job_id: String,
    /// `running` until every step has an outcome; then `failed` if any step failed, else `passed`.
    #[cfg_attr(feature = "ssr", schema(value_type = ValidationStatus, inline))]
    pub status: String,
    /// `destination` or `source`.
    pub resource_type: String,
    pub resource_id: String,
    /// `requested` (someone asked), `saved` (the credentials changed) or `scheduled` (the daily re-check).
    pub cause: String,
    pub steps: Vec<ValidationStep>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// One check, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationStep {
    pub name: String,
    /// `pending` (not run yet), `passed`, `failed`, `warning` (works, with a caveat) or `skipped`.
    #[cfg_attr(feature = "ssr", schema(value_type = StepStatus, inline))]
    pub status: String,
    /// Why it failed, warned or was skipped; what it found when it passed.
    pub reason: Option<String>,
    /// The statement that fixes a missing privilege (`GRANT CREATE ON DATABASE "analytics" TO "loader";`).
    pub remediation: Option<String>,
    /// For a skipped step: the step whose failure kept it from running.
    pub blocked_by: Option<String>,
    pub duration_ms: Option<u64>,
}

impl ValidationStep {
    pub fn pending(name: &str) -> ValidationStep {
        ValidationStep {
            name: name.into(),
            status: "pending".into(),
            reason: None,
            remediation: None,
            blocked_by: None,
            duration_ms: None,
        }
    }
}

#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
enum ValidationStatus {
    Running,
    Passed,
    Failed,
}

#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
enum StepStatus {
    Pending,
    Passed,
    Failed,
    Warning,
    Skipped,
}

/// A resource's validations, newest first, and how often it is re-checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Validations {
    pub validations: Vec<Validation>,
    /// Hours between two scheduled re-checks of the permissions (0: never).
    pub recheck_every_hours: u32,
}

/// How often a resource's permissions are checked again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationSchedule {
    /// Hours between two re-checks, 1 to 720 (0: never). Default 24.
    pub recheck_every_hours: u32,
}

/// A warehouse upload or reverse-ETL sync, as the data plane reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub run_id: String,
    /// `warehouseUpload` or `reverseEtl`.
    pub kind: String,
    /// `started`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub rows: Option<u64>,
    pub error: Option<String>,
}

/// A resource's runs, newest first, and their tally per hour for the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncHistory {
    pub runs: Vec<SyncRun>,
    /// Runs started per hour over the range asked for (oldest first), by outcome.
    pub hours: Vec<SyncHour>,
    /// `healthy`, `failing` or `unknown` (no run has ended yet).
    pub health: String,
    pub failing_since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SyncHour {
    pub hour: String,
    pub succeeded: u64,
    pub failed: u64,
    pub running: u64,
}

/// Whether the person asking gets this resource's alerts, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertSubscription {
    pub subscribed: bool,
    /// `default` (admins and owners are subscribed, others not) or `chosen`.
    pub source: String,
    /// True when the person muted every alert (then nothing is sent, subscribed or not).
    pub muted: bool,
}

/// Subscribe to (or unsubscribe from) a resource's alerts; `null` returns to the default for one's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChangeSubscription {
    pub subscribed: Option<bool>,
}

/// The signed-in person's notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    /// No alert mail at all, whatever one subscribed to.
    pub mute_all: bool,
    /// Resources one chose for (subscribed or not); the others follow the default for one's role.
    pub subscriptions: Vec<ResourceSubscription>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceSubscription {
    pub workspace_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: String,
    pub subscribed: bool,
}

/// `PUT /api/v1/me/notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateNotificationSettings {
    pub mute_all: bool,
}

/// One alert mail: what was sent to whom and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: String,
    /// `sync` or `validation`.
    pub cause: String,
    /// `failing`, `reminder` or `recovered`.
    pub event: String,
    pub error: Option<String>,
    pub email: String,
    /// `queued` (not delivered yet, retried with backoff), `sent` or `failed` (gave up).
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    pub alerts: Vec<Alert>,
}
