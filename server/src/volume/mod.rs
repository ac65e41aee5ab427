//! Event volume and errors: the counts data planes report, stored in minute buckets (`volume_counts`, rolled
//! up into hour and day buckets by `roll_up`), each source's and destination's hourly totals
//! (`volume_totals`, for the overview), and the failures with their samples (`volume_errors`). Two surfaces
//! feed it: rudder-server's reporting service
//! (`handlers`: `POST /metrics?version=v1`, `POST /recordErrors`, shapes of
//! `../shared/reference/rudderstack-protocol.md` §2.5) and the data-plane websocket's `metrics` frames.
//!
//! Each event is counted once per stage: a source's volume comes from `gateway` reports, a destination's from
//! the terminal reports of `router`, `batch_router` and `warehouse`; tracking-plan states are kept under
//! their own stage. A report sent again counts once: its digest is stored with the counts, in one
//! transaction.

pub mod handlers;
pub mod views;

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::error::{DbError, DomainError, Kind};
use crate::time::now_ms;

/// What a count is of.
pub const SOURCE: &str = "source";
pub const DESTINATION: &str = "destination";
pub const TRACKING_PLAN: &str = "tracking_plan";

/// States a report may carry (jobsdb's, rudder-server's extra ones, the tracking plan's).
const STATES: &[&str] = &[
    "succeeded",
    "failed",
    "aborted",
    "filtered",
    "waiting",
    "executing",
    "migrated",
    "diff",
    "bot_flagged",
    "bot_detected",
    "succeeded_with_violations",
    "succeeded_without_violations",
];

/// How far ahead of our clock a report's bucket may be (clocks differ; a day ahead is a mistake).
const FUTURE_SLACK_MS: i64 = 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("{0}")]
    Invalid(String, String),
    #[error("{0}")]
    NotServed(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(VolumeError);

impl DomainError for VolumeError {
    fn kind(&self) -> Kind {
        match self {
            VolumeError::Invalid(..) => Kind::Invalid,
            VolumeError::NotServed(_) => Kind::Forbidden,
            VolumeError::NotFound(_) => Kind::NotFound,
            VolumeError::Access(e) => e.kind(),
            VolumeError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            VolumeError::Invalid(_, field) => Some(field),
            _ => None,
        }
    }
}

pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> VolumeError {
    VolumeError::Invalid(message.into(), field.into())
}

/// rudder-server's metric object: one per request, at most 10 reports (§2.5).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricObject {
    pub workspace_id: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub source_id: String,
    #[serde(default)]
    pub destination_id: String,
    #[serde(default)]
    pub in_reported_by: String,
    pub reported_by: String,
    #[serde(default)]
    pub terminal_state: bool,
    /// The minute bucket, epoch ms.
    pub reported_at: i64,
    /// The plan the `tracking_plan_validator` validated against (empty otherwise).
    #[serde(default)]
    pub tracking_plan_id: String,
    #[serde(default)]
    pub tracking_plan_version: i64,
    pub reports: Vec<ReportEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportEntry {
    pub state: String,
    pub count: i64,
    #[serde(default)]
    pub status_code: i64,
    #[serde(default)]
    pub sample_response: Option<Box<RawValue>>,
    #[serde(default)]
    pub sample_event: Option<Box<RawValue>>,
    #[serde(default)]
    pub event_name: String,
    #[serde(default)]
    pub event_type: String,
    /// The violation type, in the tracking plan's reports: one entry per type, besides the event's own.
    #[serde(default)]
    pub error_type: String,
    #[serde(default)]
    pub violation_count: i64,
}

/// rudder-server's error detail report (`/recordErrors`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    pub workspace_id: String,
    #[serde(default)]
    pub source_id: String,
    #[serde(default)]
    pub destination_id: String,
    pub reported_at: i64,
    pub errors: Vec<ErrorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry {
    #[serde(default)]
    pub status_code: i64,
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_message: String,
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub event_name: String,
    #[serde(default)]
    pub sample_response: Option<Box<RawValue>>,
    #[serde(default)]
    pub sample_event: Option<Box<RawValue>>,
    pub count: i64,
}

/// One count to add (its fields but `count` say which row it adds to).
#[derive(Debug, Clone)]
pub struct Count {
    pub stage: &'static str,
    pub entity_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub event_name: String,
    pub event_type: String,
    pub status: String,
    pub status_code: i64,
    pub count: i64,
}

impl Count {
    fn key(&self) -> (&str, &str, &str, &str, &str, &str, &str, i64) {
        (
            self.stage,
            &self.entity_id,
            &self.source_id,
            &self.destination_id,
            &self.event_name,
            &self.event_type,
            &self.status,
            self.status_code,
        )
    }
}

impl PartialEq for Count {
    fn eq(&self, other: &Count) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Count {}

impl std::hash::Hash for Count {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

/// One failure to keep.
#[derive(Debug, Clone)]
pub struct Failure {
    pub source_id: String,
    pub destination_id: String,
    pub status_code: i64,
    pub error_code: String,
    pub message: String,
    pub event_name: String,
    pub event_type: String,
    pub count: i64,
    pub sample_event: Option<String>,
    pub sample_response: Option<String>,
}

/// What the tracking-plan validator reported for one source, plan version and event (kept per hour for
/// the plan's violation counts).
#[derive(Debug, Clone)]
pub struct ViolationCount {
    pub tracking_plan_id: String,
    pub version: i64,
    pub source_id: String,
    /// `succeeded_with_violations` or `succeeded_without_violations`.
    pub status: String,
    /// Empty for the event's own entry; a violation type otherwise.
    pub error_type: String,
    pub event_type: String,
    pub event_name: String,
    pub events: i64,
    pub violations: i64,
}

/// The row a violation count adds to (besides workspace and hour).
type ViolationKey<'a> = (&'a str, i64, &'a str, &'a str, &'a str, &'a str, &'a str);

impl ViolationCount {
    fn key(&self) -> ViolationKey<'_> {
        (
            &self.tracking_plan_id,
            self.version,
            &self.source_id,
            &self.status,
            &self.error_type,
            &self.event_type,
            &self.event_name,
        )
    }
}

/// A report, read and checked: what it adds, for which workspace and minute, and what makes it the same
/// report when sent again.
#[derive(Debug)]
pub struct Report {
    pub workspace_id: String,
    pub bucket: i64,
    pub counts: Vec<Count>,
    pub failures: Vec<Failure>,
    pub violations: Vec<ViolationCount>,
    pub digest: String,
}

/// The stage a report counts under, and whose volume it is: `None` for the stages in between, which are
/// not volume (an event passes through several; counting them all would count it several times).
pub fn stage_of(reported_by: &str, terminal: bool, state: &str) -> Option<&'static str> {
    match reported_by {
        "gateway" => Some(SOURCE),
        "router" | "batch_router" | "warehouse" if terminal => Some(DESTINATION),
        "tracking_plan_validator"
            if matches!(
                state,
                "succeeded_with_violations" | "succeeded_without_violations"
            ) =>
        {
            Some(TRACKING_PLAN)
        }
        _ => None,
    }
}

/// A destination's events are delivered when `succeeded`, failed for good when `failed` or `aborted` (in a
/// terminal report); other states (`filtered`, …) are neither.
pub const DELIVERED_STATES: &[&str] = &["succeeded"];
pub const FAILED_STATES: &[&str] = &["failed", "aborted"];

/// (delivered, failed) of a state.
pub fn outcome(status: &str) -> (bool, bool) {
    (
        DELIVERED_STATES.contains(&status),
        FAILED_STATES.contains(&status),
    )
}

fn minute_of(reported_at: i64, field: &str) -> Result<i64, VolumeError> {
    // 2020-01-01: anything earlier is not an epoch-ms minute of a report.
    if reported_at < 1_577_836_800_000 {
        return Err(invalid(
            field,
            format!(
                "{field} must be the minute's start in epoch milliseconds; {reported_at} is not"
            ),
        ));
    }
    if reported_at > now_ms() + FUTURE_SLACK_MS {
        return Err(invalid(field, format!("{field} is in the future")));
    }
    Ok(reported_at - reported_at.rem_euclid(60_000))
}

fn digest_of(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn check_count(count: i64, field: String) -> Result<(), VolumeError> {
    if count < 0 {
        return Err(invalid(field, "a count cannot be negative"));
    }
    Ok(())
}

fn check_code(code: i64, field: String) -> Result<(), VolumeError> {
    if !(0..=999).contains(&code) {
        return Err(invalid(field, "a status code is 0 to 999"));
    }
    Ok(())
}

impl MetricObject {
    /// Checks the object and turns it into counts.
    pub fn into_report(self) -> Result<Report, VolumeError> {
        let bucket = minute_of(self.reported_at, "reportedAt")?;
        if self.reports.len() > 1000 {
            return Err(invalid(
                "reports",
                "at most 1,000 reports per metric object",
            ));
        }
        let mut counts = Vec::new();
        let mut failures = Vec::new();
        let mut digest_parts = vec![
            self.workspace_id.clone(),
            self.instance_id.clone(),
            bucket.to_string(),
            self.reported_by.clone(),
            self.in_reported_by.clone(),
            self.source_id.clone(),
            self.destination_id.clone(),
            self.terminal_state.to_string(),
            self.tracking_plan_id.clone(),
            self.tracking_plan_version.to_string(),
        ];
        let mut violations = Vec::new();
        for (i, entry) in self.reports.into_iter().enumerate() {
            if !STATES.contains(&entry.state.as_str()) {
                return Err(invalid(
                    format!("reports[{i}].state"),
                    format!(
                        "unknown state {:?}; one of {}",
                        entry.state,
                        STATES.join(", ")
                    ),
                ));
            }
            check_count(entry.count, format!("reports[{i}].count"))?;
            check_count(
                entry.violation_count,
                format!("reports[{i}].violationCount"),
            )?;
            check_code(entry.status_code, format!("reports[{i}].statusCode"))?;
            digest_parts.extend([
                entry.state.clone(),
                entry.status_code.to_string(),
                entry.event_name.clone(),
                entry.event_type.clone(),
                entry.error_type.clone(),
                entry.count.to_string(),
                entry.violation_count.to_string(),
            ]);
            let Some(stage) = stage_of(&self.reported_by, self.terminal_state, &entry.state) else {
                continue;
            };
            if stage == TRACKING_PLAN {
                if !self.tracking_plan_id.is_empty() {
                    violations.push(ViolationCount {
                        tracking_plan_id: self.tracking_plan_id.clone(),
                        version: self.tracking_plan_version,
                        source_id: self.source_id.clone(),
                        status: entry.state.clone(),
                        error_type: entry.error_type.clone(),
                        event_type: entry.event_type.clone(),
                        event_name: entry.event_name.clone(),
                        events: entry.count,
                        violations: entry.violation_count,
                    });
                }
                // rudder-server adds an entry per violation type besides the event's own: the event is
                // counted once, by its own entry.
                if !entry.error_type.is_empty() {
                    continue;
                }
            }
            let entity_id = if stage == DESTINATION {
                self.destination_id.clone()
            } else {
                self.source_id.clone()
            };
            if stage == DESTINATION && matches!(entry.state.as_str(), "failed" | "aborted") {
                let message = entry
                    .sample_response
                    .as_ref()
                    .map(|r| {
                        serde_json::from_str::<String>(r.get())
                            .unwrap_or_else(|_| r.get().to_string())
                    })
                    .unwrap_or_default();
                failures.push(Failure {
                    source_id: self.source_id.clone(),
                    destination_id: self.destination_id.clone(),
                    status_code: entry.status_code,
                    error_code: String::new(),
                    message,
                    event_name: entry.event_name.clone(),
                    event_type: entry.event_type.clone(),
                    count: entry.count,
                    sample_event: entry.sample_event.map(|e| e.get().to_string()),
                    sample_response: entry.sample_response.map(|r| r.get().to_string()),
                });
            }
            counts.push(Count {
                stage,
                entity_id,
                source_id: self.source_id.clone(),
                destination_id: self.destination_id.clone(),
                event_name: entry.event_name,
                event_type: entry.event_type,
                status: entry.state,
                status_code: entry.status_code,
                count: entry.count,
            });
        }
        let parts: Vec<&str> = digest_parts.iter().map(String::as_str).collect();
        Ok(Report {
            workspace_id: self.workspace_id,
            bucket,
            counts,
            failures,
            violations,
            digest: digest_of(&parts),
        })
    }
}

impl ErrorReport {
    pub fn into_report(self) -> Result<Report, VolumeError> {
        let bucket = minute_of(self.reported_at, "reportedAt")?;
        if self.errors.len() > 1000 {
            return Err(invalid("errors", "at most 1,000 errors per report"));
        }
        let mut digest_parts = vec![
            "errors".to_string(),
            self.workspace_id.clone(),
            bucket.to_string(),
            self.source_id.clone(),
            self.destination_id.clone(),
        ];
        let mut failures = Vec::new();
        for (i, entry) in self.errors.into_iter().enumerate() {
            check_count(entry.count, format!("errors[{i}].count"))?;
            check_code(entry.status_code, format!("errors[{i}].statusCode"))?;
            digest_parts.extend([
                entry.status_code.to_string(),
                entry.error_code.clone(),
                entry.error_message.clone(),
                entry.event_name.clone(),
                entry.event_type.clone(),
                entry.count.to_string(),
            ]);
            failures.push(Failure {
                source_id: self.source_id.clone(),
                destination_id: self.destination_id.clone(),
                status_code: entry.status_code,
                error_code: entry.error_code,
                message: entry.error_message,
                event_name: entry.event_name,
                event_type: entry.event_type,
                count: entry.count,
                sample_event: entry.sample_event.map(|e| e.get().to_string()),
                sample_response: entry.sample_response.map(|r| r.get().to_string()),
            });
        }
        let parts: Vec<&str> = digest_parts.iter().map(String::as_str).collect();
        Ok(Report {
            workspace_id: self.workspace_id,
            bucket,
            counts: Vec::new(),
            failures,
            violations: Vec::new(),
            digest: digest_of(&parts),
        })
    }
}

impl Report {
    /// A `metrics` frame of the data-plane websocket (the frame's id makes it the same report when sent again).
    pub fn from_frame(
        frame: crate::live::protocol::Metrics,
        data_plane: &str,
    ) -> Result<Report, VolumeError> {
        let reported_at = crate::time::parse_rfc3339_ms(&frame.bucket)
            .ok_or_else(|| invalid("bucket", "bucket must be an RFC 3339 time"))?;
        let bucket = minute_of(reported_at, "bucket")?;
        let mut counts = Vec::new();
        let mut failures = Vec::new();
        for (i, report) in frame.reports.into_iter().enumerate() {
            if !STATES.contains(&report.status.as_str()) {
                return Err(invalid(
                    format!("reports[{i}].status"),
                    format!("unknown status {:?}", report.status),
                ));
            }
            let count = i64::try_from(report.count)
                .map_err(|_| invalid(format!("reports[{i}].count"), "count too large"))?;
            let Some(stage) = stage_of(&report.stage, report.terminal, &report.status) else {
                continue;
            };
            let source_id = report.source_id.unwrap_or_default();
            let destination_id = report.destination_id.unwrap_or_default();
            let entity_id = if stage == DESTINATION {
                destination_id.clone()
            } else {
                source_id.clone()
            };
            let sampled: u64 = report.error_samples.iter().map(|s| s.count).sum();
            if sampled > report.count {
                return Err(invalid(
                    format!("reports[{i}].errorSamples"),
                    format!("the errorSamples' counts add up to {sampled}, more than the report's count"),
                ));
            }
            for sample in report.error_samples {
                failures.push(Failure {
                    source_id: source_id.clone(),
                    destination_id: destination_id.clone(),
                    status_code: i64::from(report.status_code),
                    error_code: String::new(),
                    message: sample.message,
                    event_name: report.event_name.clone(),
                    event_type: report.event_type.clone(),
                    count: i64::try_from(sample.count).unwrap_or(i64::MAX),
                    sample_event: sample.event.map(|e| e.get().to_string()),
                    sample_response: sample.response.map(|r| r.get().to_string()),
                });
            }
            counts.push(Count {
                stage,
                entity_id,
                source_id,
                destination_id,
                event_name: report.event_name,
                event_type: report.event_type,
                status: report.status,
                status_code: i64::from(report.status_code),
                count,
            });
        }
        let digest = match &frame.id {
            Some(id) => digest_of(&["frame", &frame.workspace_id, data_plane, id]),
            // Without an id nothing tells a resent frame from a new one.
            None => digest_of(&[
                "frame",
                &frame.workspace_id,
                data_plane,
                &crate::ids::new_id(),
            ]),
        };
        Ok(Report {
            workspace_id: frame.workspace_id,
            bucket,
            counts,
            failures,
            violations: Vec::new(),
            digest,
        })
    }
}

/// Whether a report was stored, or had been already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    AlreadyCounted,
}

/// Reports waiting to be written, beyond which callers wait for room (rudder-server sends at most 32 at once
/// per data plane).
const QUEUE: usize = 8192;
/// The most reports one transaction writes.
const BATCH: usize = 1000;
/// Rows per multi-row statement (12 binds each: within SQLite's and PostgreSQL's limits).
const ROWS_PER_STATEMENT: usize = 400;

type Waiting = (Report, tokio::sync::oneshot::Sender<Result<Stored, String>>);

/// Writes reports in batches: each caller's report joins the next transaction, and the caller hears once it
/// is committed. One transaction for many reports, with their counts summed per row first, is what lets a
/// single SQLite writer take thousands of reports a second.
#[derive(Clone)]
pub struct Writer(tokio::sync::mpsc::Sender<Waiting>);

impl Writer {
    /// Starts the writer task on `db`.
    pub fn start(db: Db) -> (Writer, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(QUEUE);
        (Writer(sender), tokio::spawn(write_loop(db, receiver)))
    }

    /// Stores a report's counts in its minute bucket and its failures, once: a report whose digest is
    /// already stored changes nothing. Answers when the report is committed.
    pub async fn store(&self, report: Report) -> Result<Stored, VolumeError> {
        let (done, heard) = tokio::sync::oneshot::channel();
        let unavailable = || VolumeError::Db(DbError::from(sqlx::Error::PoolClosed));
        self.0
            .send((report, done))
            .await
            .map_err(|_| unavailable())?;
        match heard.await {
            Ok(Ok(stored)) => Ok(stored),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not store volume reports");
                Err(unavailable())
            }
            Err(_) => Err(unavailable()),
        }
    }
}

async fn write_loop(db: Db, mut receiver: tokio::sync::mpsc::Receiver<Waiting>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let (reports, waiting): (Vec<Report>, Vec<_>) = batch.into_iter().unzip();
        match write_batch(&db, &reports).await {
            Ok(outcomes) => {
                for (done, outcome) in waiting.into_iter().zip(outcomes) {
                    let _ = done.send(Ok(outcome));
                }
            }
            Err(error) => {
                for done in waiting {
                    let _ = done.send(Err(error.to_string()));
                }
            }
        }
    }
}

/// `($1, $2, …), (…)` for `rows` rows of `columns` values.
fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let binds: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            format!("({})", binds.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One transaction: the reports not seen before add their counts (summed per row first) and failures.
async fn write_batch(db: &Db, reports: &[Report]) -> Result<Vec<Stored>, VolumeError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    // Which digests are new: the first of a batch's duplicates, and only if not stored before.
    let mut first_in_batch = std::collections::HashSet::new();
    let candidates: Vec<&str> = reports
        .iter()
        .map(|r| r.digest.as_str())
        .filter(|d| first_in_batch.insert(*d))
        .collect();
    let mut fresh = std::collections::HashSet::new();
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO volume_reports (digest, received_at) VALUES {} ON CONFLICT (digest) DO NOTHING RETURNING digest",
            values(chunk.len(), 2)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for digest in chunk {
            query = query.bind(*digest).bind(now);
        }
        fresh.extend(query.fetch_all(&mut *tx).await?);
    }
    let (hours_until, days_until) = watermarks(db, &mut tx, Lock::Share).await?;
    let mut outcomes = Vec::with_capacity(reports.len());
    let mut summed: std::collections::HashMap<(&str, &str, i64, &Count), i64> =
        std::collections::HashMap::new();
    let mut totals: std::collections::HashMap<(&str, &str, &str, i64), [i64; 3]> =
        std::collections::HashMap::new();
    let mut failures: Vec<(&Report, &Failure)> = Vec::new();
    #[allow(clippy::type_complexity)]
    let mut violations: std::collections::HashMap<(&str, i64, ViolationKey), (i64, i64)> =
        std::collections::HashMap::new();
    for report in reports {
        // `remove`: a digest twice in one batch counts once.
        if !fresh.remove(&report.digest) {
            outcomes.push(Stored::AlreadyCounted);
            continue;
        }
        outcomes.push(Stored::New);
        for count in &report.counts {
            // A minute already rolled up (a late report) adds to the coarser rows as well.
            let hour = report.bucket - report.bucket % HOUR_MS;
            let day = report.bucket - report.bucket % DAY_MS;
            let rows = [
                Some(("minute", report.bucket)),
                (report.bucket < hours_until).then_some(("hour", hour)),
                (hour < days_until).then_some(("day", day)),
            ];
            for (granularity, bucket) in rows.into_iter().flatten() {
                *summed
                    .entry((report.workspace_id.as_str(), granularity, bucket, count))
                    .or_insert(0) += count.count;
            }
            if count.stage != TRACKING_PLAN {
                let (delivered, failed) = outcome(&count.status);
                let slot = totals
                    .entry((&report.workspace_id, count.stage, &count.entity_id, hour))
                    .or_default();
                slot[0] += if delivered { count.count } else { 0 };
                slot[1] += if failed { count.count } else { 0 };
                slot[2] += count.count;
            }
        }
        failures.extend(report.failures.iter().map(|f| (report, f)));
        for violation in &report.violations {
            let hour = report.bucket - report.bucket % HOUR_MS;
            let slot = violations
                .entry((report.workspace_id.as_str(), hour, violation.key()))
                .or_default();
            slot.0 += violation.events;
            slot.1 += violation.violations;
        }
    }
    let rows: Vec<_> = summed.into_iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO volume_counts (workspace_id, granularity, stage, entity_id, bucket, source_id, destination_id,
                 event_name, event_type, status, status_code, count)
             VALUES {}
             ON CONFLICT (workspace_id, granularity, stage, entity_id, bucket, source_id, destination_id, event_name,
                 event_type, status, status_code)
             DO UPDATE SET count = volume_counts.count + excluded.count",
            values(chunk.len(), 12)
        );
        let mut query = sqlx::query(&sql);
        for ((workspace_id, granularity, bucket, count), total) in chunk {
            query = query
                .bind(*workspace_id)
                .bind(*granularity)
                .bind(count.stage)
                .bind(&count.entity_id)
                .bind(*bucket)
                .bind(&count.source_id)
                .bind(&count.destination_id)
                .bind(&count.event_name)
                .bind(&count.event_type)
                .bind(&count.status)
                .bind(count.status_code)
                .bind(*total);
        }
        query.execute(&mut *tx).await?;
    }
    let totals: Vec<_> = totals.into_iter().collect();
    for chunk in totals.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO volume_totals (workspace_id, stage, entity_id, bucket, delivered, failed, total)
             VALUES {}
             ON CONFLICT (workspace_id, stage, bucket, entity_id) DO UPDATE SET
                 delivered = volume_totals.delivered + excluded.delivered,
                 failed = volume_totals.failed + excluded.failed,
                 total = volume_totals.total + excluded.total",
            values(chunk.len(), 7)
        );
        let mut query = sqlx::query(&sql);
        for ((workspace_id, stage, entity_id, bucket), [delivered, failed, total]) in chunk {
            query = query
                .bind(*workspace_id)
                .bind(*stage)
                .bind(*entity_id)
                .bind(*bucket)
                .bind(*delivered)
                .bind(*failed)
                .bind(*total);
        }
        query.execute(&mut *tx).await?;
    }
    let violations: Vec<_> = violations.into_iter().collect();
    for chunk in violations.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO tracking_plan_violations (workspace_id, bucket, tracking_plan_id, version, source_id, status,
                 error_type, event_type, event_name, events, violations)
             VALUES {}
             ON CONFLICT (workspace_id, tracking_plan_id, bucket, source_id, version, status, error_type, event_type,
                 event_name)
             DO UPDATE SET events = tracking_plan_violations.events + excluded.events,
                 violations = tracking_plan_violations.violations + excluded.violations",
            values(chunk.len(), 11)
        );
        let mut query = sqlx::query(&sql);
        for ((workspace_id, bucket, key), (events, found)) in chunk {
            let (plan, version, source, status, error_type, event_type, event_name) = key;
            query = query
                .bind(*workspace_id)
                .bind(*bucket)
                .bind(*plan)
                .bind(*version)
                .bind(*source)
                .bind(*status)
                .bind(*error_type)
                .bind(*event_type)
                .bind(*event_name)
                .bind(*events)
                .bind(*found);
        }
        query.execute(&mut *tx).await?;
    }
    if !failures.is_empty() {
        // Samples only from workspaces that keep them (`disable_reporting_pii`).
        let mut keeps: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
        for (report, _) in &failures {
            if keeps.contains_key(report.workspace_id.as_str()) {
                continue;
            }
            let disabled: Option<i64> =
                sqlx::query_scalar("SELECT disable_reporting_pii FROM workspaces WHERE id = $1")
                    .bind(&report.workspace_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            keeps.insert(report.workspace_id.as_str(), disabled == Some(0));
        }
        for chunk in failures.chunks(ROWS_PER_STATEMENT / 2) {
            let sql = format!(
                "INSERT INTO volume_errors (id, workspace_id, destination_id, source_id, bucket, status_code, error_code,
                     message, event_name, event_type, count, sample_event, sample_response, created_at)
                 VALUES {}",
                values(chunk.len(), 14)
            );
            let mut query = sqlx::query(&sql);
            for (report, failure) in chunk {
                let keep = keeps[report.workspace_id.as_str()];
                query = query
                    .bind(crate::ids::new_id())
                    .bind(&report.workspace_id)
                    .bind(&failure.destination_id)
                    .bind(&failure.source_id)
                    .bind(report.bucket)
                    .bind(failure.status_code)
                    .bind(&failure.error_code)
                    .bind(&failure.message)
                    .bind(&failure.event_name)
                    .bind(&failure.event_type)
                    .bind(failure.count)
                    .bind(failure.sample_event.clone().filter(|_| keep))
                    .bind(failure.sample_response.clone().filter(|_| keep))
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

pub(crate) const MINUTE_MS: i64 = 60_000;
pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;
/// A minute is rolled up once it has been over for this long (most reports for it are in by then; a later
/// one adds to the hour row itself).
const ROLLUP_LAG_MS: i64 = 5 * MINUTE_MS;
/// How long a report's digest is kept: a report retried after this would count again; rudder-server gives
/// up long before.
const DIGESTS_KEPT_MS: i64 = 48 * HOUR_MS;

/// The hour and day watermarks. With `Lock::Share`, locked against a rollup for the rest of the transaction:
/// a report and a rollup never both miss (or both add) a count. A reader's snapshot needs no lock.
pub(crate) async fn watermarks(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    lock: Lock,
) -> Result<(i64, i64), VolumeError> {
    // SQLite's `BEGIN IMMEDIATE` already holds the one write lock.
    let lock = match (db.backend, lock) {
        (crate::db::Backend::Postgres, Lock::Share) => " FOR SHARE",
        _ => "",
    };
    let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT granularity, rolled_until FROM volume_rollups{lock}"
    ))
    .fetch_all(&mut **tx)
    .await?;
    let of = |g: &str| rows.iter().find(|(name, _)| name == g).map_or(0, |r| r.1);
    Ok((of("hour"), of("day")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    Share,
    None,
}

/// What a rollup did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RolledUp {
    pub hours_until: i64,
    pub days_until: i64,
    pub pruned: u64,
}

/// Rolls minutes into hour rows and finished days' hours into day rows, each once (the watermarks move in
/// the same transaction), then deletes what is past each workspace's retention, never a minute or an hour not
/// yet rolled up. The hour watermark follows the clock by minutes, not hours: the current hour's row holds
/// its minutes up to the watermark, so reading an hour is its row plus the few minutes after the watermark.
/// `now` is a parameter for the tests.
pub async fn roll_up(db: &Db, now: i64) -> Result<RolledUp, VolumeError> {
    let mut tx = db.begin().await?;
    if db.backend == crate::db::Backend::Postgres {
        // Reports wait (their `FOR SHARE`) while the watermarks move.
        sqlx::query("SELECT granularity FROM volume_rollups FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
    }
    let (hours_from, days_from) = watermarks(db, &mut tx, Lock::Share).await?;
    let lagged = now - ROLLUP_LAG_MS;
    let hours_until = lagged - lagged.rem_euclid(MINUTE_MS);
    let days_until = hours_until - hours_until.rem_euclid(DAY_MS);
    let workspaces: Vec<Retention> = sqlx::query_as(&format!(
        "SELECT id, {} FROM workspaces",
        Retention::COLUMNS
    ))
    .fetch_all(&mut *tx)
    .await?;
    let columns =
        "stage, entity_id, source_id, destination_id, event_name, event_type, status, status_code";
    for (from, until, finer, coarser, size) in [
        (hours_from, hours_until, "minute", "hour", HOUR_MS),
        (days_from, days_until, "hour", "day", DAY_MS),
    ] {
        if until <= from {
            continue;
        }
        // One workspace at a time: each walks its own rows by time (`volume_counts_by_time`).
        for workspace in &workspaces {
            // `WHERE` before `ON CONFLICT`: SQLite reads an upsert after a SELECT only with one.
            sqlx::query(&format!(
                "INSERT INTO volume_counts (workspace_id, granularity, bucket, {columns}, count)
                 SELECT workspace_id, '{coarser}', bucket - (bucket % {size}), {columns}, SUM(count)
                 FROM volume_counts
                 WHERE workspace_id = $1 AND granularity = '{finer}' AND bucket >= $2 AND bucket < $3
                 GROUP BY workspace_id, bucket - (bucket % {size}), {columns}
                 ON CONFLICT (workspace_id, granularity, stage, entity_id, bucket, source_id, destination_id,
                     event_name, event_type, status, status_code)
                 DO UPDATE SET count = volume_counts.count + excluded.count"
            ))
            .bind(&workspace.id)
            .bind(from)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE volume_rollups SET rolled_until = $1 WHERE granularity = $2")
            .bind(until)
            .bind(coarser)
            .execute(&mut *tx)
            .await?;
    }
    let mut pruned = 0;
    for workspace in &workspaces {
        for (granularity, before) in [
            ("minute", (now - workspace.minutes_kept()).min(hours_until)),
            ("hour", (now - workspace.hours_kept()).min(days_until)),
            ("day", now - workspace.days_kept()),
        ] {
            pruned += sqlx::query(
                "DELETE FROM volume_counts WHERE workspace_id = $1 AND granularity = $2 AND bucket < $3",
            )
            .bind(&workspace.id)
            .bind(granularity)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        pruned += sqlx::query("DELETE FROM volume_totals WHERE workspace_id = $1 AND bucket < $2")
            .bind(&workspace.id)
            .bind(now - workspace.hours_kept())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        pruned += sqlx::query(
            "DELETE FROM tracking_plan_violations WHERE workspace_id = $1 AND bucket < $2",
        )
        .bind(&workspace.id)
        .bind(now - workspace.hours_kept())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        pruned += sqlx::query("DELETE FROM volume_errors WHERE workspace_id = $1 AND bucket < $2")
            .bind(&workspace.id)
            .bind(now - workspace.errors_kept())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    sqlx::query("DELETE FROM volume_reports WHERE received_at < $1")
        .bind(now - DIGESTS_KEPT_MS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RolledUp {
        hours_until,
        days_until,
        pruned,
    })
}

/// A workspace's retention settings (`PATCH /api/v1/workspaces/{ws}`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Retention {
    pub id: String,
    pub volume_minute_retention_hours: i64,
    pub volume_hour_retention_days: i64,
    pub volume_day_retention_days: i64,
    pub error_retention_days: i64,
}

impl Retention {
    pub const COLUMNS: &'static str = "volume_minute_retention_hours, volume_hour_retention_days, \
        volume_day_retention_days, error_retention_days";

    pub fn minutes_kept(&self) -> i64 {
        self.volume_minute_retention_hours * HOUR_MS
    }

    pub fn hours_kept(&self) -> i64 {
        self.volume_hour_retention_days * DAY_MS
    }

    pub fn days_kept(&self) -> i64 {
        self.volume_day_retention_days * DAY_MS
    }

    pub fn errors_kept(&self) -> i64 {
        self.error_retention_days * DAY_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_counts_once_per_stage() {
        assert_eq!(stage_of("gateway", false, "succeeded"), Some(SOURCE));
        assert_eq!(stage_of("router", true, "failed"), Some(DESTINATION));
        assert_eq!(
            stage_of("batch_router", true, "succeeded"),
            Some(DESTINATION)
        );
        assert_eq!(stage_of("warehouse", true, "aborted"), Some(DESTINATION));
        // Not terminal: the event goes on, and is counted where it ends.
        assert_eq!(stage_of("router", false, "failed"), None);
        assert_eq!(stage_of("dest_transformer", true, "succeeded"), None);
        assert_eq!(
            stage_of(
                "tracking_plan_validator",
                false,
                "succeeded_with_violations"
            ),
            Some(TRACKING_PLAN)
        );
        assert_eq!(
            stage_of("tracking_plan_validator", false, "succeeded"),
            None
        );
    }

    #[test]
    fn the_same_report_has_the_same_digest() {
        let object = || MetricObject {
            workspace_id: "w".into(),
            instance_id: "i".into(),
            source_id: "s".into(),
            destination_id: "d".into(),
            in_reported_by: "dest_transformer".into(),
            reported_by: "router".into(),
            terminal_state: true,
            reported_at: 1_780_000_020_000,
            tracking_plan_id: String::new(),
            tracking_plan_version: 0,
            reports: vec![ReportEntry {
                state: "succeeded".into(),
                count: 3,
                status_code: 200,
                sample_response: None,
                sample_event: None,
                event_name: "e".into(),
                event_type: "track".into(),
                error_type: String::new(),
                violation_count: 0,
            }],
        };
        let (a, b) = (
            object().into_report().unwrap(),
            object().into_report().unwrap(),
        );
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.bucket, 1_780_000_020_000);
        let mut other = object();
        other.reports[0].count = 4;
        assert_ne!(other.into_report().unwrap().digest, a.digest);
    }
}
