//! Sync history: warehouse uploads and reverse-ETL syncs as data planes report them, through two channels:
//! the websocket's `syncRun` frames (a run when it starts and when it ends), and rudder-server's reporting
//! rows with `reportedBy: "warehouse"` (`../shared/reference/rudderstack-protocol.md` §2.6: a terminal
//! `succeeded` carries the row count, `failed`/`aborted` with status code 400 the error in `sampleResponse`;
//! such a row has no run id, so its run is named after its minute bucket). A run's end feeds the alert
//! state machine.

use app::api::warehouses::{SyncHistory, SyncHour, SyncRun};
use app::api::workspaces::Role;

use super::{resource_row, ResourceType, WarehouseError};
use crate::access::{self, Actor};
use crate::error::Invalid;
use crate::live::protocol::{self, SyncKind, SyncStatus};
use crate::state::AppState;
use crate::time::{format_ms, now_ms, parse_rfc3339_ms};
use crate::volume::MetricObject;

/// The longest error kept of a run.
const ERROR_MAX: usize = 4000;
/// Runs shown per resource.
const LIST_MAX: i64 = 200;
const HOUR_MS: i64 = 3_600_000;

/// One report of a run, from either channel.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub workspace_id: String,
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub run_id: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub rows: Option<i64>,
    pub error: Option<String>,
}

impl RunReport {
    /// A websocket frame's run; `Invalid` names the field that is wrong.
    pub fn from_frame(run: &protocol::SyncRun) -> Result<RunReport, Invalid> {
        let (resource_type, resource_id): (ResourceType, &str) =
            match (&run.destination_id, &run.source_id, run.kind) {
                (Some(d), _, SyncKind::WarehouseUpload) => ("destination", d),
                (_, Some(s), SyncKind::ReverseEtl) => ("source", s),
                (None, _, SyncKind::WarehouseUpload) => {
                    return Err(Invalid::new(
                        "destinationId",
                        "a warehouse upload names its destinationId",
                    ))
                }
                (_, None, SyncKind::ReverseEtl) => {
                    return Err(Invalid::new(
                        "sourceId",
                        "a reverse-ETL sync names its sourceId",
                    ))
                }
            };
        let started_at = parse_rfc3339_ms(&run.started_at)
            .ok_or_else(|| Invalid::new("startedAt", "startedAt is not an RFC 3339 time"))?;
        let finished_at = run
            .finished_at
            .as_deref()
            .map(|t| {
                parse_rfc3339_ms(t)
                    .ok_or_else(|| Invalid::new("finishedAt", "finishedAt is not an RFC 3339 time"))
            })
            .transpose()?;
        if run.run_id.is_empty() || run.run_id.len() > 200 {
            return Err(Invalid::new("runId", "runId is 1 to 200 characters"));
        }
        let status = match run.status {
            SyncStatus::Started => "started",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
        };
        Ok(RunReport {
            workspace_id: run.workspace_id.clone(),
            resource_type,
            resource_id: resource_id.to_string(),
            run_id: run.run_id.clone(),
            kind: match run.kind {
                SyncKind::WarehouseUpload => "warehouseUpload",
                SyncKind::ReverseEtl => "reverseEtl",
            },
            status,
            started_at,
            finished_at: finished_at.or((status != "started").then(now_ms)),
            rows: run.rows.map(|r| r.min(i64::MAX as u64) as i64),
            error: run.error.as_deref().map(truncate),
        })
    }

    /// The warehouse's terminal reporting rows of one metric object: one run per object, failed if any row
    /// failed or aborted.
    pub fn from_metric(object: &MetricObject) -> Option<RunReport> {
        if object.reported_by != "warehouse"
            || !object.terminal_state
            || object.destination_id.is_empty()
        {
            return None;
        }
        let mut rows = 0i64;
        let mut error = None;
        let mut finished = false;
        for entry in &object.reports {
            match entry.state.as_str() {
                "succeeded" => {
                    rows = rows.saturating_add(entry.count);
                    finished = true;
                }
                "failed" | "aborted" => {
                    finished = true;
                    if error.is_none() {
                        error = Some(
                            entry
                                .sample_response
                                .as_deref()
                                .map(|raw| {
                                    serde_json::from_str::<String>(raw.get())
                                        .unwrap_or_else(|_| raw.get().to_string())
                                })
                                .filter(|e| !e.is_empty())
                                .map(|e| truncate(&e))
                                .unwrap_or_else(|| {
                                    format!(
                                        "the upload {} (status {})",
                                        entry.state, entry.status_code
                                    )
                                }),
                        );
                    }
                }
                _ => {}
            }
        }
        if !finished {
            return None;
        }
        Some(RunReport {
            workspace_id: object.workspace_id.clone(),
            resource_type: "destination",
            resource_id: object.destination_id.clone(),
            run_id: format!("report-{}-{}", object.reported_at, object.source_id),
            kind: "warehouseUpload",
            status: if error.is_some() {
                "failed"
            } else {
                "succeeded"
            },
            started_at: object.reported_at,
            finished_at: Some(object.reported_at),
            rows: Some(rows),
            error,
        })
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(ERROR_MAX).collect()
}

/// Stores a run's report (a late `started` never undoes its end) and, when it ended, tells the alerts.
/// A run of a resource the workspace does not have is `Invalid`.
pub async fn record(state: &AppState, report: RunReport) -> Result<(), WarehouseError> {
    let resource = match resource_row(
        &state.db,
        &report.workspace_id,
        report.resource_type,
        &report.resource_id,
    )
    .await
    {
        Ok(resource) => resource,
        Err(WarehouseError::NotFound(what)) => {
            return Err(Invalid::new(
                if what == "source" {
                    "sourceId"
                } else {
                    "destinationId"
                },
                format!("the workspace has no {what} with this id"),
            )
            .into())
        }
        Err(e) => return Err(e),
    };
    sqlx::query(
        "INSERT INTO sync_runs (workspace_id, resource_type, resource_id, run_id, kind, status, started_at,
             finished_at, rows, error, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (resource_id, run_id) DO UPDATE SET
             status = CASE WHEN excluded.status = 'started' THEN sync_runs.status ELSE excluded.status END,
             finished_at = COALESCE(excluded.finished_at, sync_runs.finished_at),
             rows = COALESCE(excluded.rows, sync_runs.rows),
             error = CASE WHEN excluded.status = 'started' THEN sync_runs.error ELSE excluded.error END,
             received_at = excluded.received_at",
    )
    .bind(&report.workspace_id)
    .bind(report.resource_type)
    .bind(&report.resource_id)
    .bind(&report.run_id)
    .bind(report.kind)
    .bind(report.status)
    .bind(report.started_at)
    .bind(report.finished_at)
    .bind(report.rows)
    .bind(&report.error)
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?;
    if report.status != "started" {
        crate::alerts::sync_finished(
            state,
            &crate::alerts::Subject {
                workspace_id: report.workspace_id.clone(),
                resource_type: report.resource_type,
                resource_id: report.resource_id.clone(),
                resource_name: resource.name,
            },
            report.status == "succeeded",
            report.finished_at.unwrap_or_else(now_ms),
            report.error.as_deref(),
        )
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RunRow {
    run_id: String,
    kind: String,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    rows: Option<i64>,
    error: Option<String>,
}

/// A resource's runs, newest first, with their tally per hour over `[from, to)` (viewer). Default range:
/// the last 7 days.
pub async fn history(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<SyncHistory, WarehouseError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    resource_row(&state.db, workspace_id, resource_type, id).await?;
    let parse = |value: Option<&str>, field: &str| {
        value
            .map(|v| {
                parse_rfc3339_ms(v)
                    .ok_or_else(|| Invalid::new(field, format!("{field} is not an RFC 3339 time")))
            })
            .transpose()
    };
    let to = parse(to, "to")?.unwrap_or_else(now_ms);
    let from = parse(from, "from")?.unwrap_or(to - 7 * 24 * HOUR_MS);
    if from >= to {
        return Err(Invalid::new("from", "from must be before to").into());
    }
    if to - from > 90 * 24 * HOUR_MS {
        return Err(Invalid::new("from", "the range is at most 90 days").into());
    }
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT run_id, kind, status, started_at, finished_at, rows, error FROM sync_runs
         WHERE resource_id = $1 AND workspace_id = $2 AND started_at >= $3 AND started_at < $4
         ORDER BY started_at DESC, run_id DESC LIMIT $5",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(from)
    .bind(to)
    .bind(LIST_MAX)
    .fetch_all(&state.db.pool)
    .await?;
    let first_hour = from - from.rem_euclid(HOUR_MS);
    let mut hours: Vec<SyncHour> = (0..)
        .map(|i| first_hour + i * HOUR_MS)
        .take_while(|h| *h < to)
        .map(|h| SyncHour {
            hour: format_ms(h),
            succeeded: 0,
            failed: 0,
            running: 0,
        })
        .collect();
    for row in &rows {
        let index = ((row.started_at - first_hour) / HOUR_MS) as usize;
        if let Some(hour) = hours.get_mut(index) {
            match row.status.as_str() {
                "succeeded" => hour.succeeded += 1,
                "failed" => hour.failed += 1,
                _ => hour.running += 1,
            }
        }
    }
    let health = crate::alerts::health(&state.db, id, "sync").await?;
    Ok(SyncHistory {
        runs: rows
            .into_iter()
            .map(|r| SyncRun {
                run_id: r.run_id,
                kind: r.kind,
                status: r.status,
                started_at: format_ms(r.started_at),
                finished_at: r.finished_at.map(format_ms),
                rows: r.rows.map(|n| n.max(0) as u64),
                error: r.error,
            })
            .collect(),
        hours,
        health: health
            .as_ref()
            .map_or("unknown".to_string(), |h| h.state.clone()),
        failing_since: health.and_then(|h| h.failing_since).map(format_ms),
    })
}
