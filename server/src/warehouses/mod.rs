//! Warehouses: permission validation of warehouse destinations and reverse-ETL sources, the scheduled
//! re-checks that catch permission drift, and their sync history (`syncs`).
//!
//! A validation is a job (`warehouse.validate`): requested through the API, enqueued when a warehouse's
//! config is saved, and by the hourly drift check for each resource whose re-check is due. Its row holds
//! the steps, rewritten as each one finishes. How each engine checks is in its module; what they share (the
//! chain of steps, timeouts, scrubbing secrets from reasons) in `checks`; where they may connect in
//! `network`. A finished validation feeds the alert state machine (`crate::alerts`): a step that passed last
//! time and fails now is an incident, like a failed sync.
//!
//! Engines here: PostgreSQL and Redshift (`postgres`), ClickHouse (`clickhouse`, its HTTP interface),
//! Snowflake (`snowflake`, its SQL API) and BigQuery (`bigquery`, its REST API); reverse-ETL sources on
//! PostgreSQL, Redshift and Snowflake. BigQuery sources are answered with a clear 422 until their checks land.

mod bigquery;
pub mod checks;
mod clickhouse;
mod handlers;
mod http;
pub mod network;
mod object_storage;
mod postgres;
mod snowflake;
pub mod syncs;

use std::time::Duration;

use app::api::warehouses::{Validation, ValidationSchedule, ValidationStep, Validations};
use app::api::workspaces::Role;
use serde_json::Value;

pub use handlers::routes;

use crate::access::{self, AccessError, Actor};
use crate::db::Db;
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::jobs::{self, JobKind, NewJob};
use crate::secrets::{fields, store};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

/// How validation runs on this instance.
#[derive(Clone, Debug)]
pub struct ValidationSettings {
    pub policy: network::NetworkPolicy,
    pub step_timeout: Duration,
    /// Where Snowflake's SQL API is reached, `{account}` standing for the account identifier. Set only to
    /// test against a local server that speaks the API.
    pub snowflake_url: String,
    /// Where BigQuery's REST API is reached; likewise changed only for a local server.
    pub bigquery_url: String,
    /// Where every object-storage request goes instead of AWS, Google or Azure; likewise only for testing.
    pub object_storage_url: Option<String>,
}

/// Hours between two scheduled re-checks when a resource sets none.
pub const DEFAULT_RECHECK_HOURS: u32 = 24;
/// The longest interval one may choose: a month.
pub const MAX_RECHECK_HOURS: u32 = 720;
/// Validations kept per resource (older ones are deleted as new ones start).
const KEEP_PER_RESOURCE: i64 = 50;

/// Which checks a resource gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// PostgreSQL, and Redshift through the same wire protocol and privilege functions.
    Postgres,
    /// ClickHouse's HTTP interface.
    ClickHouse,
    /// Snowflake's SQL API v2 with key-pair authentication.
    Snowflake,
    /// BigQuery's REST API with a service account.
    BigQuery,
}

/// `destination` or `source`.
pub type ResourceType = &'static str;

fn engine(resource_type: &str, type_name: &str) -> Option<Engine> {
    match (resource_type, type_name) {
        ("destination", "POSTGRES" | "RS") | ("source", "postgres" | "redshift") => {
            Some(Engine::Postgres)
        }
        ("destination", "CLICKHOUSE") => Some(Engine::ClickHouse),
        ("destination", "SNOWFLAKE") | ("source", "snowflake") => Some(Engine::Snowflake),
        ("destination", "BQ") | ("source", "bigquery") => Some(Engine::BigQuery),
        _ => None,
    }
}

fn step_names(engine: Engine, resource_type: &str) -> &'static [&'static str] {
    match (engine, resource_type) {
        (Engine::Postgres, "destination") => &postgres::DESTINATION_STEPS,
        (Engine::Postgres, _) => &postgres::SOURCE_STEPS,
        (Engine::ClickHouse, _) => &clickhouse::DESTINATION_STEPS,
        (Engine::Snowflake, "destination") => &snowflake::DESTINATION_STEPS,
        (Engine::Snowflake, _) => &postgres::SOURCE_STEPS,
        (Engine::BigQuery, "destination") => &bigquery::DESTINATION_STEPS,
        (Engine::BigQuery, _) => &postgres::SOURCE_STEPS,
    }
}

/// What an engine validates: the resource's config with its secrets put back.
pub struct Target {
    pub config: Value,
}

/// A text setting of a config, when set and not blank.
pub fn config_str<'a>(config: &'a Value, key: &str) -> Option<&'a str> {
    config
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A random part of a probe table's name (two validations at once must not meet).
pub(crate) fn probe_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Now, in seconds since the epoch (for the JWTs Snowflake and Google read).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A reverse-ETL source's chosen tables (`tables`: `schema.table`, or `table` in `public`).
pub fn chosen_tables(config: &Value) -> Vec<(String, String)> {
    config
        .get("tables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| match name.split_once('.') {
            Some((schema, table)) => (schema.trim().to_string(), table.trim().to_string()),
            None => ("public".to_string(), name.trim().to_string()),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(WarehouseError);

impl DomainError for WarehouseError {
    fn kind(&self) -> Kind {
        match self {
            WarehouseError::Access(e) => e.kind(),
            WarehouseError::Invalid(e) => e.kind(),
            WarehouseError::NotFound(_) => Kind::NotFound,
            WarehouseError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            WarehouseError::Invalid(e) => e.field(),
            _ => None,
        }
    }
}

/// The parts of a source's or destination's row validation reads.
#[derive(sqlx::FromRow)]
struct ResourceRow {
    name: String,
    #[sqlx(rename = "type")]
    type_name: String,
    config: String,
}

fn table_of(resource_type: &str) -> &'static str {
    if resource_type == "source" {
        "sources"
    } else {
        "destinations"
    }
}

/// A source's or destination's name, when the workspace has it.
pub async fn resource_name(
    db: &Db,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<Option<String>, DbError> {
    match resource_row(db, workspace_id, resource_type, id).await {
        Ok(row) => Ok(Some(row.name)),
        Err(WarehouseError::Db(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

async fn resource_row(
    db: &Db,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<ResourceRow, WarehouseError> {
    sqlx::query_as(&format!(
        "SELECT name, type, config FROM {} WHERE id = $1 AND workspace_id = $2",
        table_of(resource_type)
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(WarehouseError::NotFound(resource_type))
}

/// Starts validating a warehouse destination or reverse-ETL source (editor); returns the job to poll.
pub async fn request(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<String, WarehouseError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let row = resource_row(&state.db, workspace_id, resource_type, id).await?;
    let not_a_warehouse = || {
        Invalid::new(
            "id",
            format!(
                "a {} of type {} is not a warehouse: only warehouse destinations and reverse-ETL warehouse sources are validated",
                resource_type, row.type_name
            ),
        )
    };
    if !app::api::warehouses::is_warehouse(resource_type, &row.type_name) {
        return Err(not_a_warehouse().into());
    }
    let mut tx = state.db.begin().await?;
    let id = enqueue(
        &mut tx,
        workspace_id,
        resource_type,
        id,
        &row.type_name,
        "requested",
        Some(&actor.label),
    )
    .await?
    .ok_or_else(not_a_warehouse)?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(id)
}

/// Enqueues a validation inside the caller's transaction, when the resource is a warehouse that can be
/// checked; returns its id. Call `Jobs::wake` after the commit.
pub async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &str,
    resource_type: ResourceType,
    resource_id: &str,
    type_name: &str,
    cause: &str,
    requested_by: Option<&str>,
) -> Result<Option<String>, DbError> {
    let Some(engine) = engine(resource_type, type_name) else {
        return Ok(None);
    };
    let id = new_id();
    let steps: Vec<ValidationStep> = step_names(engine, resource_type)
        .iter()
        .map(|n| ValidationStep::pending(n))
        .collect();
    sqlx::query(
        "INSERT INTO warehouse_validations
             (id, workspace_id, resource_type, resource_id, cause, status, steps, requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(resource_type)
    .bind(resource_id)
    .bind(cause)
    .bind(serde_json::to_string(&steps).unwrap_or_else(|_| "[]".into()))
    .bind(requested_by)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    jobs::enqueue(
        conn,
        NewJob::now(
            JobKind::WarehouseValidate,
            serde_json::json!({ "validationId": id }),
        ),
    )
    .await?;
    // Old runs go as new ones come: the history shows the last ones.
    sqlx::query(
        "DELETE FROM warehouse_validations WHERE resource_id = $1 AND created_at < (
             SELECT created_at FROM warehouse_validations WHERE resource_id = $1
             ORDER BY created_at DESC LIMIT 1 OFFSET $2)",
    )
    .bind(resource_id)
    .bind(KEEP_PER_RESOURCE)
    .execute(&mut *conn)
    .await?;
    Ok(Some(id))
}

#[derive(sqlx::FromRow)]
struct ValidationRow {
    id: String,
    workspace_id: String,
    resource_type: String,
    resource_id: String,
    cause: String,
    status: String,
    steps: String,
    created_at: i64,
    finished_at: Option<i64>,
}

const VALIDATION_COLUMNS: &str =
    "id, workspace_id, resource_type, resource_id, cause, status, steps, created_at, finished_at";

impl ValidationRow {
    fn into_wire(self) -> Validation {
        Validation {
            job_id: self.id,
            status: self.status,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            cause: self.cause,
            steps: serde_json::from_str(&self.steps).unwrap_or_default(),
            created_at: format_ms(self.created_at),
            finished_at: self.finished_at.map(format_ms),
        }
    }
}

/// One validation run (viewer).
pub async fn get(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    validation_id: &str,
) -> Result<Validation, WarehouseError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let row: ValidationRow = sqlx::query_as(&format!(
        "SELECT {VALIDATION_COLUMNS} FROM warehouse_validations WHERE id = $1 AND workspace_id = $2"
    ))
    .bind(validation_id)
    .bind(workspace_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(WarehouseError::NotFound("validation"))?;
    Ok(row.into_wire())
}

/// A resource's validations, newest first, and its re-check interval (viewer).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
) -> Result<Validations, WarehouseError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    resource_row(&state.db, workspace_id, resource_type, id).await?;
    let rows: Vec<ValidationRow> = sqlx::query_as(&format!(
        "SELECT {VALIDATION_COLUMNS} FROM warehouse_validations WHERE resource_id = $1 AND workspace_id = $2
         ORDER BY created_at DESC, id DESC LIMIT 20"
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Validations {
        validations: rows.into_iter().map(ValidationRow::into_wire).collect(),
        recheck_every_hours: recheck_hours(&state.db, id).await?,
    })
}

async fn recheck_hours(db: &Db, resource_id: &str) -> Result<u32, DbError> {
    let hours: Option<i64> =
        sqlx::query_scalar("SELECT every_hours FROM warehouse_schedules WHERE resource_id = $1")
            .bind(resource_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(hours.map_or(DEFAULT_RECHECK_HOURS, |h| {
        h.clamp(0, MAX_RECHECK_HOURS as i64) as u32
    }))
}

/// Sets how often a resource's permissions are checked again (editor).
pub async fn set_schedule(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    resource_type: ResourceType,
    id: &str,
    schedule: ValidationSchedule,
) -> Result<ValidationSchedule, WarehouseError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let row = resource_row(&state.db, workspace_id, resource_type, id).await?;
    if !app::api::warehouses::is_warehouse(resource_type, &row.type_name) {
        return Err(Invalid::new("id", "only warehouses are re-checked").into());
    }
    if schedule.recheck_every_hours > MAX_RECHECK_HOURS {
        return Err(Invalid::new(
            "recheckEveryHours",
            format!("recheckEveryHours must be 0 (never) to {MAX_RECHECK_HOURS}"),
        )
        .into());
    }
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO warehouse_schedules (resource_id, workspace_id, every_hours) VALUES ($1, $2, $3)
         ON CONFLICT (resource_id) DO UPDATE SET every_hours = excluded.every_hours",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(schedule.recheck_every_hours as i64)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Entry::new(&format!("{resource_type}.recheck_changed"), id)
            .in_workspace(workspace_id)
            .named(&row.name)
            .with(
                crate::audit::Changes::new()
                    .set("recheckEveryHours", schedule.recheck_every_hours as i64),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok(schedule)
}

/// Runs one validation (the `warehouse.validate` job). A run whose resource is gone ends as failed.
pub async fn run(state: &AppState, validation_id: &str) -> Result<(), String> {
    let row: Option<ValidationRow> = sqlx::query_as(&format!(
        "SELECT {VALIDATION_COLUMNS} FROM warehouse_validations WHERE id = $1"
    ))
    .bind(validation_id)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(|e| e.to_string())?;
    let Some(validation) = row else {
        return Ok(()); // deleted with its resource or workspace
    };
    if validation.finished_at.is_some() {
        return Ok(());
    }
    let resource_type: ResourceType = if validation.resource_type == "source" {
        "source"
    } else {
        "destination"
    };
    let resource = match resource_row(
        &state.db,
        &validation.workspace_id,
        resource_type,
        &validation.resource_id,
    )
    .await
    {
        Ok(resource) => resource,
        Err(WarehouseError::NotFound(_)) => {
            return finish(&state.db, validation_id, &[], "failed")
                .await
                .map_err(|e| e.to_string())
        }
        Err(e) => return Err(e.to_string()),
    };
    let Some(engine) = engine(resource_type, &resource.type_name) else {
        return finish(&state.db, validation_id, &[], "failed")
            .await
            .map_err(|e| e.to_string());
    };
    let mut config: Value = serde_json::from_str(&resource.config).unwrap_or(Value::Null);
    let secrets = store::open(
        &state.db,
        &state.keyring,
        store::Owner {
            workspace_id: &validation.workspace_id,
            resource_type,
            resource_id: &validation.resource_id,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let secret_keys: Vec<String> = secrets.keys().cloned().collect();
    let secret_values: Vec<String> = secrets
        .values()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    fields::insert_secrets(&mut config, &secrets, &secret_keys);
    let mut checks = checks::Checks::new(
        state.db.clone(),
        validation_id.to_string(),
        step_names(engine, resource_type),
        secret_values,
        state.validation.step_timeout,
    );
    let target = Target { config };
    if resource_type == "destination" {
        // Object storage comes first, as in rudder-server; the engine's own steps follow.
        let staged_in = match engine {
            Engine::BigQuery => object_storage::Provider::Gcs,
            _ => object_storage::Provider::S3,
        };
        let outcome = object_storage::verify(
            &target.config,
            &state.validation,
            state.validation.step_timeout,
            staged_in,
        )
        .await;
        checks.record(outcome).await;
    }
    match (engine, resource_type) {
        _ if checks.failed().is_some() => {}
        (Engine::Postgres, "destination") => {
            postgres::validate_destination(&target, &state.validation.policy, &mut checks).await
        }
        (Engine::Postgres, _) => {
            postgres::validate_source(&target, &state.validation.policy, &mut checks).await
        }
        (Engine::ClickHouse, _) => {
            clickhouse::validate_destination(&target, &state.validation.policy, &mut checks).await
        }
        (Engine::Snowflake, "destination") => {
            snowflake::validate_destination(&target, &state.validation, &mut checks).await
        }
        (Engine::Snowflake, _) => {
            snowflake::validate_source(&target, &state.validation, &mut checks).await
        }
        (Engine::BigQuery, "destination") => {
            bigquery::validate_destination(&target, &state.validation, &mut checks).await
        }
        (Engine::BigQuery, _) => {
            bigquery::validate_source(&target, &state.validation, &mut checks).await
        }
    }
    let status = if checks.failed().is_some() {
        "failed"
    } else {
        "passed"
    };
    finish(&state.db, validation_id, checks.steps(), status)
        .await
        .map_err(|e| e.to_string())?;
    crate::alerts::validation_finished(
        state,
        &crate::alerts::Subject {
            workspace_id: validation.workspace_id.clone(),
            resource_type,
            resource_id: validation.resource_id.clone(),
            resource_name: resource.name.clone(),
        },
        validation_id,
        checks.steps(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn finish(
    db: &Db,
    validation_id: &str,
    steps: &[ValidationStep],
    status: &str,
) -> Result<(), DbError> {
    let mut query = String::from("UPDATE warehouse_validations SET status = $1, finished_at = $2");
    if !steps.is_empty() {
        query.push_str(", steps = $4");
    }
    query.push_str(" WHERE id = $3");
    let mut update = sqlx::query(&query)
        .bind(status)
        .bind(now_ms())
        .bind(validation_id);
    if !steps.is_empty() {
        update = update.bind(serde_json::to_string(steps).unwrap_or_else(|_| "[]".into()));
    }
    update.execute(&db.pool).await?;
    Ok(())
}

/// The steps of the resource's last finished validation before `validation_id`, if any.
pub async fn previous_steps(
    db: &Db,
    resource_id: &str,
    validation_id: &str,
) -> Result<Option<Vec<ValidationStep>>, DbError> {
    let steps: Option<String> = sqlx::query_scalar(
        "SELECT steps FROM warehouse_validations
         WHERE resource_id = $1 AND id <> $2 AND finished_at IS NOT NULL
         ORDER BY finished_at DESC, id DESC LIMIT 1",
    )
    .bind(resource_id)
    .bind(validation_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(steps.map(|s| serde_json::from_str(&s).unwrap_or_default()))
}

/// The drift check (hourly job): enqueues a `scheduled` validation of every warehouse whose last one is
/// older than its interval. Returns how many.
pub async fn recheck_due(state: &AppState) -> Result<usize, DbError> {
    let now = now_ms();
    let mut enqueued = 0;
    for resource_type in ["destination", "source"] {
        #[derive(sqlx::FromRow)]
        struct Candidate {
            id: String,
            workspace_id: String,
            #[sqlx(rename = "type")]
            type_name: String,
            every_hours: Option<i64>,
            last: Option<i64>,
        }
        let candidates: Vec<Candidate> =
            sqlx::query_as(&format!(
                "SELECT r.id, r.workspace_id, r.type, s.every_hours,
                        (SELECT max(v.created_at) FROM warehouse_validations v WHERE v.resource_id = r.id) AS last
                 FROM {} r LEFT JOIN warehouse_schedules s ON s.resource_id = r.id
                 WHERE r.enabled = 1",
                table_of(resource_type)
            ))
            .fetch_all(&state.db.pool)
            .await?;
        for Candidate {
            id,
            workspace_id,
            type_name,
            every_hours: hours,
            last,
        } in candidates
        {
            if engine(resource_type, &type_name).is_none() {
                continue;
            }
            let hours = hours.unwrap_or(DEFAULT_RECHECK_HOURS as i64);
            if hours <= 0 || last.is_some_and(|last| now - last < hours * 3_600_000) {
                continue;
            }
            let mut tx = state.db.begin().await?;
            enqueue(
                &mut tx,
                &workspace_id,
                resource_type,
                &id,
                &type_name,
                "scheduled",
                None,
            )
            .await?;
            tx.commit().await?;
            enqueued += 1;
        }
    }
    if enqueued > 0 {
        state.jobs.wake();
    }
    Ok(enqueued)
}

/// Forgets a deleted resource's validations, schedule, runs and health (its alerts stay, as a record).
pub async fn forget(conn: &mut sqlx::AnyConnection, resource_id: &str) -> Result<(), DbError> {
    for table in [
        "warehouse_validations",
        "warehouse_schedules",
        "sync_runs",
        "resource_health",
        "alert_subscriptions",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE resource_id = $1"))
            .bind(resource_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_warehouse_type_is_validated() {
        for (resource_type, types) in [
            (
                "destination",
                &["POSTGRES", "RS", "SNOWFLAKE", "BQ", "CLICKHOUSE", "WEBHOOK"][..],
            ),
            (
                "source",
                &[
                    "postgres",
                    "redshift",
                    "snowflake",
                    "bigquery",
                    "javascript",
                ][..],
            ),
        ] {
            for type_name in types {
                assert_eq!(
                    engine(resource_type, type_name).is_some(),
                    app::api::warehouses::is_warehouse(resource_type, type_name),
                    "{resource_type} {type_name}"
                );
            }
        }
    }
}
