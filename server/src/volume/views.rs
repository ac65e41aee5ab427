//! What people read back: a source's or a destination's volume over time, a destination's failures grouped
//! into the few problems behind them, and every source's and destination's totals.
//!
//! Counts live at three granularities (`roll_up`): day rows hold the hours before the day watermark, hour
//! rows the minutes before the hour watermark, minute rows everything. A bucket of granularity G is therefore
//! read as G's own rows plus the finer rows past the watermarks, all in one snapshot, so that nothing is
//! counted twice or missed, however recently the rollup ran.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use app::api::volume::{
    DestinationVolume, ErrorGroup, ErrorGroups, ErrorSample, Granularity, SourceVolume, TrendPoint,
    VolumeDimension, VolumeRow, VolumeSeries, VolumeSummary,
};
use app::api::workspaces::Role;
use sha2::{Digest, Sha256};

use super::{
    invalid, watermarks, Lock, Retention, VolumeError, DAY_MS, DELIVERED_STATES, FAILED_STATES,
    HOUR_MS,
};
use crate::access::{self, Actor};
use crate::db::Db;
use crate::time::{format_ms, now_ms, parse_rfc3339_ms};

/// Whose volume: a source (what it received) or a destination (what was delivered to it, or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Source,
    Destination,
}

impl Entity {
    fn stage(self) -> &'static str {
        match self {
            Entity::Source => super::SOURCE,
            Entity::Destination => super::DESTINATION,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Entity::Source => "sources",
            Entity::Destination => "destinations",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Entity::Source => "source",
            Entity::Destination => "destination",
        }
    }
}

/// The longest range a query may cover, and the most buckets a series may have.
const RANGE_MAX_MS: i64 = 800 * DAY_MS;
const BUCKETS_MAX: i64 = 20_000;
/// How many groups of errors are shown, and samples per group.
const GROUPS_MAX: usize = 100;
const SAMPLES_PER_GROUP: usize = 3;
const EVENT_NAMES_PER_GROUP: usize = 10;

/// A query's range and how to cut it, as asked (`from`, `to`, `granularity`, `groupBy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeQuery {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub granularity: Option<Granularity>,
    pub group_by: Vec<VolumeDimension>,
}

impl VolumeQuery {
    /// Reads a query string; `allowed` names the parameters the operation takes (the others are refused,
    /// so that a misspelt `groupby` is not silently ignored).
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<VolumeQuery, VolumeError> {
        let mut out = VolumeQuery::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let key = key.as_ref();
            if !allowed.contains(&key) {
                return Err(invalid(
                    key,
                    format!(
                        "unknown parameter {key:?}; this takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            let time = |field: &str| {
                parse_rfc3339_ms(&value).ok_or_else(|| {
                    invalid(
                        field,
                        format!("{field} must be an RFC 3339 time, such as 2026-11-27T10:00:00Z"),
                    )
                })
            };
            match key {
                "from" => out.from = Some(time("from")?),
                "to" => out.to = Some(time("to")?),
                "granularity" => {
                    out.granularity = Some(Granularity::parse(&value).ok_or_else(|| {
                        invalid("granularity", "granularity must be minute, hour or day")
                    })?)
                }
                "groupBy" => {
                    let dimension = VolumeDimension::parse(&value).ok_or_else(|| {
                        invalid(
                            "groupBy",
                            "groupBy must be status, eventName, eventType or statusCode",
                        )
                    })?;
                    if !out.group_by.contains(&dimension) {
                        out.group_by.push(dimension);
                    }
                }
                _ => unreachable!("allowed parameters are matched above"),
            }
        }
        Ok(out)
    }

    /// The range (the last 24 hours unless given), checked.
    fn range(&self, now: i64) -> Result<(i64, i64), VolumeError> {
        let to = self.to.unwrap_or(now);
        let from = self.from.unwrap_or(to - DAY_MS);
        if from >= to {
            return Err(invalid("from", "from must be before to"));
        }
        if to - from > RANGE_MAX_MS {
            return Err(invalid(
                "from",
                format!("a range covers at most {} days", RANGE_MAX_MS / DAY_MS),
            ));
        }
        Ok((from, to))
    }
}

/// The granularity of a chart of this range: fine enough for a readable line, and one still kept for the
/// range's start (minutes for 48 hours, hours for 30 days, unless the workspace changed that).
fn chart_granularity(from: i64, to: i64, now: i64, retention: &Retention) -> Granularity {
    let span = to - from;
    if span <= 6 * HOUR_MS && from >= now - retention.minutes_kept() {
        Granularity::Minute
    } else if span <= 31 * DAY_MS && from >= now - retention.hours_kept() {
        Granularity::Hour
    } else {
        Granularity::Day
    }
}

/// The range widened to whole buckets: `from` rounded down, `to` up.
fn whole_buckets(from: i64, to: i64, granularity: Granularity) -> (i64, i64) {
    let size = granularity.millis();
    let from = from - from.rem_euclid(size);
    let to = to + (size - to.rem_euclid(size)) % size;
    (from, to)
}

fn check_buckets(from: i64, to: i64, granularity: Granularity) -> Result<(), VolumeError> {
    let buckets = (to - from) / granularity.millis();
    if buckets > BUCKETS_MAX {
        return Err(invalid(
            "granularity",
            format!(
                "the range holds {buckets} {} buckets, at most {BUCKETS_MAX}: ask for a coarser granularity",
                granularity.as_str()
            ),
        ));
    }
    Ok(())
}

/// Which rows make up buckets of `granularity` in `[from, to)`: (granularity of the rows, from, to). The
/// coarser rows hold the finer ones before the watermarks, so each finer level is read only past its
/// watermark.
fn levels(
    granularity: Granularity,
    from: i64,
    to: i64,
    hours_until: i64,
    days_until: i64,
) -> Vec<(&'static str, i64, i64)> {
    let minutes = ("minute", from.max(hours_until), to);
    match granularity {
        Granularity::Minute => vec![("minute", from, to)],
        Granularity::Hour => vec![("hour", from, to), minutes],
        Granularity::Day => vec![
            ("day", from, to),
            ("hour", from.max(days_until), to),
            minutes,
        ],
    }
    .into_iter()
    .filter(|(_, from, to)| from < to)
    .collect()
}

async fn retention_of(db: &Db, workspace_id: &str) -> Result<Retention, VolumeError> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, {} FROM workspaces WHERE id = $1",
        Retention::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_one(&db.pool)
    .await?)
}

/// Not found unless the entity is one of this workspace's.
async fn entity_exists(
    db: &Db,
    entity: Entity,
    workspace_id: &str,
    id: &str,
) -> Result<(), VolumeError> {
    let found: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {} WHERE id = $1 AND workspace_id = $2",
        entity.table()
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| VolumeError::NotFound(entity.noun()))
}

/// A row as read: (bucket, status, event name, event type, status code) and its count. The dimensions not
/// grouped by are read as constants.
type Keyed = ((i64, String, String, String, i64), i64);

/// A source's or a destination's volume over time, one row per non-empty bucket and group (viewer).
pub async fn series(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    entity: Entity,
    id: &str,
    query: &VolumeQuery,
) -> Result<VolumeSeries, VolumeError> {
    access::require(db, actor, workspace_id, Role::Viewer).await?;
    entity_exists(db, entity, workspace_id, id).await?;
    let now = now_ms();
    let (from, to) = query.range(now)?;
    let retention = retention_of(db, workspace_id).await?;
    let granularity = query
        .granularity
        .unwrap_or_else(|| chart_granularity(from, to, now, &retention));
    let (from, to) = whole_buckets(from, to, granularity);
    check_buckets(from, to, granularity)?;
    let grouped = |d: VolumeDimension, column: &str, none: &str| {
        if query.group_by.contains(&d) {
            column.to_string()
        } else {
            none.to_string()
        }
    };
    let dimensions = [
        grouped(VolumeDimension::Status, "status", "CAST('' AS TEXT)"),
        grouped(VolumeDimension::EventName, "event_name", "CAST('' AS TEXT)"),
        grouped(VolumeDimension::EventType, "event_type", "CAST('' AS TEXT)"),
        grouped(
            VolumeDimension::StatusCode,
            "status_code",
            "CAST(0 AS BIGINT)",
        ),
    ];
    let group_columns: Vec<&str> = dimensions
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with("CAST"))
        .collect();
    let size = granularity.millis();
    let time = format!("bucket - (bucket % {size})");
    let sql = format!(
        "SELECT {time}, {}, CAST(SUM(count) AS BIGINT) FROM volume_counts
         WHERE workspace_id = $1 AND granularity = $2 AND stage = $3 AND entity_id = $4
             AND bucket >= $5 AND bucket < $6
         GROUP BY {}",
        dimensions.join(", "),
        std::iter::once(time.as_str())
            .chain(group_columns.iter().copied())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut tx = db.begin_read().await?;
    let (hours_until, days_until) = watermarks(db, &mut tx, Lock::None).await?;
    let mut summed: BTreeMap<(i64, String, String, String, i64), i64> = BTreeMap::new();
    for (level, level_from, level_to) in levels(granularity, from, to, hours_until, days_until) {
        let rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(&sql)
            .bind(workspace_id)
            .bind(level)
            .bind(entity.stage())
            .bind(id)
            .bind(level_from)
            .bind(level_to)
            .fetch_all(&mut *tx)
            .await?;
        for (bucket, status, name, kind, code, count) in rows {
            *summed
                .entry((bucket, status, name, kind, code))
                .or_insert(0) += count;
        }
    }
    tx.commit().await?;
    let has = |d| query.group_by.contains(&d);
    let rows = summed
        .into_iter()
        .filter(|(_, count)| *count != 0)
        .map(
            |((bucket, status, event_name, event_type, code), count): Keyed| VolumeRow {
                time: format_ms(bucket),
                count,
                status: has(VolumeDimension::Status).then_some(status),
                event_name: has(VolumeDimension::EventName).then_some(event_name),
                event_type: has(VolumeDimension::EventType).then_some(event_type),
                status_code: has(VolumeDimension::StatusCode)
                    .then(|| u16::try_from(code).unwrap_or_default()),
            },
        )
        .collect();
    Ok(VolumeSeries {
        granularity,
        from: format_ms(from),
        to: format_ms(to),
        rows,
    })
}

/// Every source's and destination's totals over the range, busiest first (viewer). Within the hour rows'
/// retention (30 days unless changed) they come from the hourly totals (`from` and `to` widened to whole
/// hours); an older range is read from the day rows (whole days).
pub async fn summary(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    query: &VolumeQuery,
) -> Result<VolumeSummary, VolumeError> {
    access::require(db, actor, workspace_id, Role::Viewer).await?;
    let now = now_ms();
    let (from, to) = query.range(now)?;
    let retention = retention_of(db, workspace_id).await?;
    let hourly = from - from.rem_euclid(HOUR_MS) >= now - retention.hours_kept();
    let (from, to) = whole_buckets(
        from,
        to,
        if hourly {
            Granularity::Hour
        } else {
            Granularity::Day
        },
    );
    let states = |list: &[&str]| {
        list.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (delivered, failed) = (states(DELIVERED_STATES), states(FAILED_STATES));
    let mut tx = db.begin_read().await?;
    let (hours_until, days_until) = watermarks(db, &mut tx, Lock::None).await?;
    // Per entity: (delivered, failed, all).
    let mut totals: HashMap<(Entity, String), (i64, i64, i64)> = HashMap::new();
    let mut named: Vec<(Entity, String, String, String)> = Vec::new();
    for entity in [Entity::Destination, Entity::Source] {
        let table = entity.table();
        let entities: Vec<(String, String, String)> = sqlx::query_as(&format!(
            "SELECT id, name, type FROM {table} WHERE workspace_id = $1"
        ))
        .bind(workspace_id)
        .fetch_all(&mut *tx)
        .await?;
        named.extend(
            entities
                .into_iter()
                .map(|(id, name, kind)| (entity, id, name, kind)),
        );
        // Only the entities that still exist. The hourly totals are one stretch of their key (time, then
        // entity); in the day rows `entity_id IN (…)` makes one index range per entity rather than every
        // bucket of the stage.
        let entities = format!("entity_id IN (SELECT id FROM {table} WHERE workspace_id = $1)");
        let reads: Vec<(String, Option<&str>, i64, i64)> = if hourly {
            vec![(
                format!(
                    "SELECT entity_id, CAST(SUM(delivered) AS BIGINT), CAST(SUM(failed) AS BIGINT),
                         CAST(SUM(total) AS BIGINT)
                     FROM volume_totals
                     WHERE workspace_id = $1 AND stage = $2 AND {entities} AND bucket >= $3 AND bucket < $4
                     GROUP BY entity_id"
                ),
                None,
                from,
                to,
            )]
        } else {
            let sql = format!(
                "SELECT entity_id, CAST(SUM(CASE WHEN status IN ({delivered}) THEN count ELSE 0 END) AS BIGINT),
                     CAST(SUM(CASE WHEN status IN ({failed}) THEN count ELSE 0 END) AS BIGINT),
                     CAST(SUM(count) AS BIGINT)
                 FROM volume_counts
                 WHERE workspace_id = $1 AND stage = $2 AND {entities} AND bucket >= $3 AND bucket < $4
                     AND granularity = $5
                 GROUP BY entity_id"
            );
            levels(Granularity::Day, from, to, hours_until, days_until)
                .into_iter()
                .map(|(level, from, to)| (sql.clone(), Some(level), from, to))
                .collect()
        };
        for (sql, level, level_from, level_to) in reads {
            let mut read = sqlx::query_as::<_, (String, i64, i64, i64)>(&sql)
                .bind(workspace_id)
                .bind(entity.stage())
                .bind(level_from)
                .bind(level_to);
            if let Some(level) = level {
                read = read.bind(level);
            }
            for (id, delivered, failed, all) in read.fetch_all(&mut *tx).await? {
                let slot = totals.entry((entity, id)).or_default();
                *slot = (slot.0 + delivered, slot.1 + failed, slot.2 + all);
            }
        }
    }
    tx.commit().await?;
    let (mut destinations, mut sources) = (Vec::new(), Vec::new());
    for (entity, id, name, definition_name) in named {
        let (delivered, failed, all) = totals.remove(&(entity, id.clone())).unwrap_or_default();
        match entity {
            Entity::Destination => destinations.push(DestinationVolume {
                id,
                name,
                definition_name,
                delivered,
                failed,
                failure_rate: if delivered + failed == 0 {
                    0.0
                } else {
                    failed as f64 / (delivered + failed) as f64
                },
            }),
            Entity::Source => sources.push(SourceVolume {
                id,
                name,
                definition_name,
                received: all,
            }),
        }
    }
    destinations.sort_by(|a, b| {
        (b.delivered + b.failed)
            .cmp(&(a.delivered + a.failed))
            .then_with(|| a.name.cmp(&b.name))
    });
    sources.sort_by(|a, b| {
        b.received
            .cmp(&a.received)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(VolumeSummary {
        from: format_ms(from),
        to: format_ms(to),
        destinations,
        sources,
    })
}

/// The variable parts of an error message, which must not split a group: emails, timestamps, UUIDs, ids
/// (runs of letters and digits mixed, 8 or more) and numbers.
static VARIABLE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(concat!(
        r"(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
        r"|(?P<time>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)",
        r"|(?P<uuid>\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)",
        r"|(?P<token>\b[A-Za-z0-9_]{8,}\b)",
        r"|(?P<number>\b\d+(?:\.\d+)?\b)",
    ))
    .expect("the pattern compiles")
});

/// The message with its variable parts replaced by `<email>`, `<time>`, `<id>` and `<number>`.
pub fn normalize_message(message: &str) -> String {
    VARIABLE
        .replace_all(message.trim(), |caps: &regex::Captures| {
            if caps.name("email").is_some() {
                "<email>".to_string()
            } else if caps.name("time").is_some() {
                "<time>".to_string()
            } else if caps.name("uuid").is_some() {
                "<id>".to_string()
            } else if let Some(token) = caps.name("token") {
                let text = token.as_str();
                // A word is a word; only runs with digits in them are ids or numbers.
                if text.bytes().all(|b| b.is_ascii_digit()) {
                    "<number>".to_string()
                } else if text.bytes().any(|b| b.is_ascii_digit()) {
                    "<id>".to_string()
                } else {
                    text.to_string()
                }
            } else {
                "<number>".to_string()
            }
        })
        .into_owned()
}

/// A group of failures, as it is summed.
struct Group {
    status_code: i64,
    message: String,
    error_code: (i64, String),
    count: i64,
    first: i64,
    last: i64,
    event_names: HashMap<String, i64>,
    trend: BTreeMap<i64, i64>,
    /// (bucket, id) of the newest reports.
    latest: Vec<(i64, String)>,
}

/// A destination's failures over the range, grouped by status code and normalized message, most failed
/// first (viewer; samples for editors and admins, and only where the workspace keeps them).
pub async fn error_groups(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    destination_id: &str,
    query: &VolumeQuery,
) -> Result<ErrorGroups, VolumeError> {
    let access = access::require(db, actor, workspace_id, Role::Viewer).await?;
    entity_exists(db, Entity::Destination, workspace_id, destination_id).await?;
    let now = now_ms();
    let (from, to) = query.range(now)?;
    let span = to - from;
    // Errors are kept by the minute: the trend's granularity depends on the range alone.
    let granularity = if span <= 6 * HOUR_MS {
        Granularity::Minute
    } else if span <= 7 * DAY_MS {
        Granularity::Hour
    } else {
        Granularity::Day
    };
    let (from, to) = whole_buckets(from, to, granularity);
    let rows: Vec<(String, i64, i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT id, bucket, status_code, error_code, message, event_name, count FROM volume_errors
         WHERE workspace_id = $1 AND destination_id = $2 AND bucket >= $3 AND bucket < $4",
    )
    .bind(workspace_id)
    .bind(destination_id)
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?;
    // The same messages come again and again: each is normalized once.
    let mut normalized: HashMap<String, String> = HashMap::new();
    let mut groups: HashMap<(i64, String), Group> = HashMap::new();
    for (id, bucket, status_code, error_code, message, event_name, count) in rows {
        let pattern = normalized
            .entry(message)
            .or_insert_with_key(|m| normalize_message(m))
            .clone();
        let group = groups
            .entry((status_code, pattern.clone()))
            .or_insert_with(|| Group {
                status_code,
                message: pattern,
                error_code: (i64::MIN, String::new()),
                count: 0,
                first: bucket,
                last: bucket,
                event_names: HashMap::new(),
                trend: BTreeMap::new(),
                latest: Vec::new(),
            });
        group.count += count;
        group.first = group.first.min(bucket);
        group.last = group.last.max(bucket);
        if !error_code.is_empty() && bucket >= group.error_code.0 {
            group.error_code = (bucket, error_code);
        }
        *group.event_names.entry(event_name).or_insert(0) += count;
        *group
            .trend
            .entry(bucket - bucket.rem_euclid(granularity.millis()))
            .or_insert(0) += count;
        group.latest.push((bucket, id));
        if group.latest.len() > 4 * SAMPLES_PER_GROUP {
            group.latest.sort_by(|a, b| b.cmp(a));
            group.latest.truncate(SAMPLES_PER_GROUP);
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| b.last.cmp(&a.last))
            .then_with(|| a.message.cmp(&b.message))
    });
    groups.truncate(GROUPS_MAX);
    for group in &mut groups {
        group.latest.sort_by(|a, b| b.cmp(a));
        group.latest.truncate(SAMPLES_PER_GROUP);
    }
    // Every group's samples in one query, for those who may see them.
    let mut samples = if access.role.at_least(Role::Editor) {
        let ids: Vec<&str> = groups
            .iter()
            .flat_map(|g| g.latest.iter().map(|(_, id)| id.as_str()))
            .collect();
        samples_by_id(db, workspace_id, &ids).await?
    } else {
        HashMap::new()
    };
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let samples: Vec<ErrorSample> = group
            .latest
            .iter()
            .filter_map(|(_, id)| samples.remove(id))
            .collect();
        let mut event_names: Vec<(String, i64)> = group.event_names.into_iter().collect();
        event_names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.push(ErrorGroup {
            key: group_key(group.status_code, &group.message),
            status_code: u16::try_from(group.status_code).unwrap_or_default(),
            error_code: group.error_code.1,
            message: group.message,
            count: group.count,
            first_seen: format_ms(group.first),
            last_seen: format_ms(group.last),
            event_names: event_names
                .into_iter()
                .take(EVENT_NAMES_PER_GROUP)
                .map(|(name, _)| name)
                .collect(),
            trend: group
                .trend
                .into_iter()
                .map(|(time, count)| TrendPoint {
                    time: format_ms(time),
                    count,
                })
                .collect(),
            samples,
        });
    }
    Ok(ErrorGroups {
        granularity,
        from: format_ms(from),
        to: format_ms(to),
        groups: out,
    })
}

fn group_key(status_code: i64, message: &str) -> String {
    let digest = Sha256::digest(format!("{status_code}\n{message}").as_bytes());
    hex::encode(&digest[..8])
}

/// (id, bucket, event name, event type, message, event sent, response) of a stored failure.
type SampleRow = (
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The samples of these reports, by report id: those that kept one.
async fn samples_by_id(
    db: &Db,
    workspace_id: &str,
    ids: &[&str],
) -> Result<HashMap<String, ErrorSample>, VolumeError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let binds: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT id, bucket, event_name, event_type, message, sample_event, sample_response
         FROM volume_errors WHERE workspace_id = $1 AND id IN ({})",
        binds.join(", ")
    );
    let mut query = sqlx::query_as::<_, SampleRow>(&sql).bind(workspace_id);
    for id in ids {
        query = query.bind(*id);
    }
    // Stored as sent. rudder-server sends the destination's answer as a string: when that string is itself
    // JSON (most APIs answer JSON), it is shown as the JSON it is.
    let parse = |text: String| match serde_json::from_str(&text) {
        Ok(serde_json::Value::String(inner)) => {
            serde_json::from_str(&inner).unwrap_or(serde_json::Value::String(inner))
        }
        Ok(value) => value,
        Err(_) => serde_json::Value::String(text),
    };
    Ok(query
        .fetch_all(&db.pool)
        .await?
        .into_iter()
        .filter(|(.., event, response)| event.is_some() || response.is_some())
        .map(
            |(id, bucket, event_name, event_type, message, event, response)| {
                let sample = ErrorSample {
                    time: format_ms(bucket),
                    event_name,
                    event_type,
                    message,
                    event: event.map(parse),
                    response: response.map(parse),
                };
                (id, sample)
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_do_not_split_a_group() {
        let cases = [
            (
                "user ada@example.com not found (id 3MhylqFYEN1k6tR68MT30QR9DH1) at 2026-11-27T10:00:00.123Z",
                "user <email> not found (id <id>) at <time>",
            ),
            (
                "user bob@example.org not found (id 2Zx9TTa0aa1k6tR68MT30QR9DH1) at 2026-11-28T11:30:00Z",
                "user <email> not found (id <id>) at <time>",
            ),
            (
                "rate limit: retry after 30 seconds, 1200 requests",
                "rate limit: retry after <number> seconds, <number> requests",
            ),
            (
                "order 123e4567-e89b-12d3-a456-426614174000 rejected: amount 12.50 too low",
                "order <id> rejected: amount <number> too low",
            ),
            ("Invalid API key", "Invalid API key"),
            ("unauthorized_client", "unauthorized_client"),
        ];
        for (message, expected) in cases {
            assert_eq!(normalize_message(message), expected, "{message}");
        }
    }

    #[test]
    fn a_bucket_reads_the_finer_rows_only_past_the_watermarks() {
        let hour = HOUR_MS;
        let day = DAY_MS;
        // Hours rolled up until 10:35 of day 2, days until day 2.
        let (hours_until, days_until) = (2 * day + 10 * hour + 35 * 60_000, 2 * day);
        assert_eq!(
            levels(Granularity::Day, 0, 3 * day, hours_until, days_until),
            vec![
                ("day", 0, 3 * day),
                ("hour", 2 * day, 3 * day),
                ("minute", hours_until, 3 * day)
            ]
        );
        assert_eq!(
            levels(Granularity::Hour, 0, day, hours_until, days_until),
            vec![("hour", 0, day)],
            "all of day 0 is in the hour rows"
        );
        assert_eq!(
            whole_buckets(hour + 1, 2 * hour + 1, Granularity::Hour),
            (hour, 3 * hour)
        );
        assert_eq!(
            whole_buckets(hour, 2 * hour, Granularity::Hour),
            (hour, 2 * hour)
        );
    }
}
