//! A source's link to a published plan version, with the settings the data plane reads per event type
//! (§3.1, §3.2), and how it is served: `dgSourceTrackingPlanConfig` in the source's entry of the config.

use std::collections::BTreeMap;

use app::api::tracking_plans::{
    LinkTrackingPlan, SourceTrackingPlan, TrackingPlanSettings, EVENT_TYPES,
};
use app::api::workspaces::Role;
use serde_json::{json, Map, Value};

use super::{invalid, TrackingPlanError};
use crate::access::{self, Actor};
use crate::audit::{self, Changes};
use crate::db::Db;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

/// `global` applies to every event type; a type's own settings override it.
pub const GLOBAL: &str = "global";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub source_id: String,
    pub tracking_plan_id: String,
    pub version: i64,
    /// JSON: event type → settings, as served.
    pub config: String,
    pub link_version: i64,
    pub updated_at: i64,
}

impl LinkRow {
    pub const COLUMNS: &'static str =
        "source_id, tracking_plan_id, version, config, link_version, updated_at";

    fn into_wire(self) -> SourceTrackingPlan {
        SourceTrackingPlan {
            config: serde_json::from_str(&self.config).unwrap_or_default(),
            source_id: self.source_id,
            tracking_plan_id: self.tracking_plan_id,
            version: self.version,
            link_version: self.link_version,
            updated_at: format_ms(self.updated_at),
        }
    }

    /// `dgSourceTrackingPlanConfig` as rudder-server decodes it (`DgSourceTrackingPlanConfigT`): the data
    /// plane computes `mergedConfig` itself.
    pub fn served(&self) -> Value {
        let config: Value = serde_json::from_str(&self.config).unwrap_or_else(|_| json!({}));
        json!({
            "sourceId": self.source_id,
            "version": self.link_version,
            "config": config,
            "mergedConfig": null,
            "deleted": false,
            "trackingPlan": {"id": self.tracking_plan_id, "version": self.version},
        })
    }
}

/// `"true"`/`"false"` from a boolean or a string: the readers compare strings (rudder-server's
/// `propagateValidationErrors == "false"` would not match a JSON `false`).
fn boolean_string(field: &str, value: &Value) -> Result<String, TrackingPlanError> {
    match value {
        Value::Bool(b) => Ok(b.to_string()),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            Ok(s.to_ascii_lowercase())
        }
        _ => Err(invalid(
            field,
            format!("{field} must be \"true\" or \"false\""),
        )),
    }
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, TrackingPlanError> {
    // The transformer lower-cases what it compares.
    let lower = value.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(invalid(
            field,
            format!("{field} must be one of {}", allowed.join(", ")),
        ))
    }
}

/// The settings of one event type, as stored and served: only the keys set, strings where the readers
/// compare strings.
fn parse_settings(
    prefix: &str,
    settings: &TrackingPlanSettings,
) -> Result<Map<String, Value>, TrackingPlanError> {
    let mut out = Map::new();
    let field = |key: &str| format!("{prefix}.{key}");
    if let Some(value) = &settings.allow_unplanned_events {
        let key = "allowUnplannedEvents";
        out.insert(key.into(), boolean_string(&field(key), value)?.into());
    }
    if let Some(value) = &settings.unplanned_properties {
        let key = "unplannedProperties";
        out.insert(
            key.into(),
            one_of(&field(key), value, &["forward", "drop"])?.into(),
        );
    }
    if let Some(value) = &settings.any_other_violation {
        let key = "anyOtherViolation";
        out.insert(
            key.into(),
            one_of(&field(key), value, &["forward", "drop"])?.into(),
        );
    }
    if let Some(value) = &settings.send_violated_events_to {
        let key = "sendViolatedEventsTo";
        out.insert(
            key.into(),
            one_of(&field(key), value, &["procerrors"])?.into(),
        );
    }
    if let Some(value) = &settings.propagate_validation_errors {
        let key = "propagateValidationErrors";
        out.insert(key.into(), boolean_string(&field(key), value)?.into());
    }
    if let Some(value) = &settings.ajv_options {
        let key = "ajvOptions";
        if !value.is_object() || value.to_string().len() > 4_096 {
            return Err(invalid(
                field(key),
                format!(
                    "{} must be an object of Ajv options (at most 4 KB)",
                    field(key)
                ),
            ));
        }
        out.insert(key.into(), value.clone());
    }
    Ok(out)
}

fn parse_config(
    config: &BTreeMap<String, TrackingPlanSettings>,
) -> Result<Map<String, Value>, TrackingPlanError> {
    let mut out = Map::new();
    for (event_type, settings) in config {
        let prefix = format!("config.{event_type}");
        if event_type != GLOBAL && !EVENT_TYPES.contains(&event_type.as_str()) {
            return Err(invalid(
                prefix,
                format!(
                    "settings are per event type: {GLOBAL}, {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        out.insert(
            event_type.clone(),
            Value::Object(parse_settings(&prefix, settings)?),
        );
    }
    Ok(out)
}

async fn source_name(
    db: &Db,
    workspace_id: &str,
    source_id: &str,
) -> Result<String, TrackingPlanError> {
    sqlx::query_scalar("SELECT name FROM sources WHERE id = $1 AND workspace_id = $2")
        .bind(source_id)
        .bind(workspace_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(TrackingPlanError::NotFound("source"))
}

async fn load(db: &Db, source_id: &str) -> Result<Option<LinkRow>, TrackingPlanError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {} FROM source_tracking_plans WHERE source_id = $1",
        LinkRow::COLUMNS
    ))
    .bind(source_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// The source's link (viewer); `NotFound` when it has none.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    source_id: &str,
) -> Result<SourceTrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    source_name(&state.db, workspace_id, source_id).await?;
    load(&state.db, source_id)
        .await?
        .map(LinkRow::into_wire)
        .ok_or(TrackingPlanError::NotFound("tracking plan link"))
}

/// Links the source to a published version, or changes its link (editor): a config change, served to data
/// planes at once.
pub async fn link(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    source_id: &str,
    input: LinkTrackingPlan,
) -> Result<SourceTrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let name = source_name(&state.db, workspace_id, source_id).await?;
    let latest: Option<i64> = sqlx::query_scalar(
        "SELECT latest_version FROM tracking_plans WHERE id = $1 AND workspace_id = $2",
    )
    .bind(&input.tracking_plan_id)
    .bind(workspace_id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some(latest) = latest else {
        return Err(invalid(
            "trackingPlanId",
            "no tracking plan of this workspace has this id; GET …/tracking-plans lists them",
        ));
    };
    if input.version < 1 || input.version > latest {
        return Err(invalid(
            "version",
            match latest {
                0 => {
                    "this tracking plan has no published version yet; publish it first".to_string()
                }
                n => format!(
                    "version {} is not published; the versions are 1 to {n}",
                    input.version
                ),
            },
        ));
    }
    let config = Value::Object(parse_config(&input.config)?).to_string();
    let before = load(&state.db, source_id).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO source_tracking_plans (source_id, workspace_id, tracking_plan_id, version, config, link_version, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6)
         ON CONFLICT (source_id) DO UPDATE SET tracking_plan_id = excluded.tracking_plan_id,
             version = excluded.version, config = excluded.config,
             link_version = source_tracking_plans.link_version + 1, updated_at = excluded.updated_at",
    )
    .bind(source_id)
    .bind(workspace_id)
    .bind(&input.tracking_plan_id)
    .bind(input.version)
    .bind(&config)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let changes = Changes::new()
        .field(
            "trackingPlanId",
            before.as_ref().map(|b| &b.tracking_plan_id),
            Some(&input.tracking_plan_id),
        )
        .field(
            "trackingPlanVersion",
            before.as_ref().map(|b| b.version),
            Some(input.version),
        )
        .field(
            "trackingPlanConfig",
            before
                .as_ref()
                .and_then(|b| serde_json::from_str::<Value>(&b.config).ok()),
            serde_json::from_str::<Value>(&config).ok(),
        );
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("source.tracking_plan_linked", source_id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(changes),
    )
    .await?;
    load(&state.db, source_id)
        .await?
        .map(LinkRow::into_wire)
        .ok_or(TrackingPlanError::NotFound("tracking plan link"))
}

/// Unlinks the source (editor): the data planes stop validating its events.
pub async fn unlink(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    source_id: &str,
) -> Result<(), TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let name = source_name(&state.db, workspace_id, source_id).await?;
    let mut tx = state.db.begin().await?;
    let removed: Option<(String, i64)> = sqlx::query_as(
        "DELETE FROM source_tracking_plans WHERE source_id = $1 RETURNING tracking_plan_id, version",
    )
    .bind(source_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((plan, version)) = removed else {
        return Err(TrackingPlanError::NotFound("tracking plan link"));
    };
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("source.tracking_plan_unlinked", source_id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(
                Changes::new()
                    .removed("trackingPlanId", plan)
                    .removed("trackingPlanVersion", version),
            ),
    )
    .await?;
    Ok(())
}

/// The links to a plan (the caller checked access).
pub async fn of_plan(db: &Db, plan_id: &str) -> Result<Vec<SourceTrackingPlan>, TrackingPlanError> {
    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
        "SELECT {} FROM source_tracking_plans WHERE tracking_plan_id = $1 ORDER BY source_id",
        LinkRow::COLUMNS
    ))
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(LinkRow::into_wire).collect())
}

/// A workspace's links, for its config (see `config_api::assemble`).
pub async fn of_workspace(db: &Db, workspace_id: &str) -> sqlx::Result<Vec<LinkRow>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM source_tracking_plans WHERE workspace_id = $1 ORDER BY source_id",
        LinkRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await
}

/// Every workspace's links, with their workspace (the first build of a large instance).
pub async fn all(db: &Db) -> sqlx::Result<Vec<(String, LinkRow)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        workspace_id: String,
        #[sqlx(flatten)]
        link: LinkRow,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT workspace_id, {} FROM source_tracking_plans ORDER BY source_id",
        LinkRow::COLUMNS
    ))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.workspace_id, r.link)).collect())
}
