//! Violation counts per source and plan version over time, from what the data planes' tracking-plan
//! validator reported (`volume` stores them, per hour, in `tracking_plan_violations`).

use std::collections::BTreeMap;

use app::api::tracking_plans::{ViolationCounts, ViolationSeries, ViolationTally};
use app::api::workspaces::Role;

use super::{invalid, plans, TrackingPlanError};
use crate::access::{self, Actor};
use crate::state::AppState;
use crate::time::{format_ms, now_ms, parse_rfc3339_ms};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Hourly buckets over at most this long (the rows are kept as long as the volume's hour rows, 90 days at
/// most).
const RANGE_MAX_MS: i64 = 90 * DAY_MS;
const STATUS_WITH: &str = "succeeded_with_violations";

/// The range asked for: RFC 3339 times, the last 24 hours unless given.
pub fn parse_range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), TrackingPlanError> {
    let time = |field: &str, value: &str| {
        parse_rfc3339_ms(value).ok_or_else(|| {
            invalid(
                field,
                format!("{field} must be an RFC 3339 time, such as 2026-11-27T10:00:00Z"),
            )
        })
    };
    let to = to
        .map(|t| time("to", t))
        .transpose()?
        .unwrap_or_else(now_ms);
    let from = from
        .map(|f| time("from", f))
        .transpose()?
        .unwrap_or(to - DAY_MS);
    if from >= to {
        return Err(invalid("from", "from must be before to"));
    }
    if to - from > RANGE_MAX_MS {
        return Err(invalid("from", "a range covers at most 90 days"));
    }
    // Whole hours: from rounded down, to up.
    Ok((
        from - from.rem_euclid(HOUR_MS),
        to + (HOUR_MS - to.rem_euclid(HOUR_MS)) % HOUR_MS,
    ))
}

/// The plan's counts over `range`, per source and version (viewer).
pub async fn violation_counts(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    plan_id: &str,
    range: (i64, i64),
    source_id: Option<&str>,
) -> Result<ViolationCounts, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    plans::load(&state.db, workspace_id, plan_id).await?;
    let (from, to) = range;
    let rows: Vec<(i64, String, i64, String, String, i64, i64)> = sqlx::query_as(
        "SELECT bucket, source_id, version, status, error_type, CAST(SUM(events) AS BIGINT),
             CAST(SUM(violations) AS BIGINT)
         FROM tracking_plan_violations
         WHERE workspace_id = $1 AND tracking_plan_id = $2 AND bucket >= $3 AND bucket < $4
             AND ($5 = '' OR source_id = $5)
         GROUP BY bucket, source_id, version, status, error_type",
    )
    .bind(workspace_id)
    .bind(plan_id)
    .bind(from)
    .bind(to)
    .bind(source_id.unwrap_or(""))
    .fetch_all(&state.db.pool)
    .await?;
    let buckets: Vec<i64> = (0..(to - from) / HOUR_MS)
        .map(|i| from + i * HOUR_MS)
        .collect();
    let width = buckets.len();
    let mut series: BTreeMap<(String, i64), ViolationSeries> = BTreeMap::new();
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    for (bucket, source, version, status, error_type, events, violations) in rows {
        let index = ((bucket - from) / HOUR_MS) as usize;
        if index >= width {
            continue;
        }
        let line = series
            .entry((source.clone(), version))
            .or_insert_with(|| ViolationSeries {
                source_id: source,
                version,
                with_violations: vec![0; width],
                without_violations: vec![0; width],
                violations: vec![0; width],
            });
        let (events, violations) = (events.max(0) as u64, violations.max(0) as u64);
        if error_type.is_empty() {
            // The event's own entry: one per event validated.
            if status == STATUS_WITH {
                line.with_violations[index] += events;
            } else {
                line.without_violations[index] += events;
            }
        } else {
            line.violations[index] += violations;
            *by_type.entry(error_type).or_default() += violations;
        }
    }
    let mut by_type: Vec<ViolationTally> = by_type
        .into_iter()
        .map(|(violation_type, count)| ViolationTally {
            violation_type,
            property: None,
            count,
        })
        .collect();
    by_type.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.violation_type.cmp(&b.violation_type))
    });
    Ok(ViolationCounts {
        buckets: buckets.into_iter().map(format_ms).collect(),
        series: series.into_values().collect(),
        by_type,
    })
}
