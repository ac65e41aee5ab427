//! A plan's draft (create, read, change, delete) and its published versions.

use app::api::tracking_plans::{
    CreateTrackingPlan, PlanEvent, Published, SourceTrackingPlan, TrackingPlan,
    TrackingPlanSummary, TrackingPlanVersion, UpdateTrackingPlan, VersionSummary,
};
use app::api::workspaces::Role;
use serde_json::Value;

use super::validation::CompiledPlan;
use super::{invalid, links, TrackingPlanError};
use crate::access::{self, Actor};
use crate::accounts::parse_name;
use crate::audit::{self, Changes};
use crate::db::{is_unique_violation, Db};
use crate::ids::new_id;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub const NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 2_000;
/// Far more than real plans have (a large one has a few hundred events), and few enough that one plan's
/// compile and diff stay quick.
pub const EVENTS_MAX: usize = 2_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    /// JSON: the draft's events.
    pub events: String,
    pub revision_id: String,
    pub latest_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PlanRow {
    const COLUMNS: &'static str = "id, workspace_id, name, description, events, revision_id, latest_version, created_at, updated_at";

    fn events(&self) -> Vec<PlanEvent> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub tracking_plan_id: String,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub events: String,
    pub published_at: i64,
    pub published_by: Option<String>,
}

impl VersionRow {
    const COLUMNS: &'static str =
        "tracking_plan_id, version, name, description, events, published_at, published_by";

    pub fn events(&self) -> Vec<PlanEvent> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    fn into_wire(self) -> TrackingPlanVersion {
        TrackingPlanVersion {
            events: self.events(),
            tracking_plan_id: self.tracking_plan_id,
            version: self.version,
            name: self.name,
            description: self.description,
            published_at: format_ms(self.published_at),
            published_by: self.published_by,
        }
    }
}

/// The draft's events, checked: every schema compiles, names fit their types, no event twice.
fn parse_events(events: Vec<PlanEvent>) -> Result<Vec<PlanEvent>, TrackingPlanError> {
    if events.len() > EVENTS_MAX {
        return Err(invalid(
            "events",
            format!("a tracking plan has at most {EVENTS_MAX} events"),
        ));
    }
    let mut events = events;
    for (i, event) in events.iter_mut().enumerate() {
        if let Some(description) = &event.description {
            if description.chars().count() > DESCRIPTION_MAX {
                return Err(invalid(
                    format!("events[{i}].description"),
                    format!("a description is at most {DESCRIPTION_MAX} characters long"),
                ));
            }
        }
        event.name = event.name.trim().to_string();
    }
    CompiledPlan::compile(&events)
        .map_err(|problem| invalid(problem.field(), problem.to_string()))?;
    Ok(events)
}

fn parse_description(description: Option<&str>) -> Result<String, TrackingPlanError> {
    let description = description.unwrap_or("").trim();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(invalid(
            "description",
            format!("description must be at most {DESCRIPTION_MAX} characters long"),
        ));
    }
    Ok(description.to_string())
}

fn events_json(events: &[PlanEvent]) -> String {
    serde_json::to_string(events).expect("plan events serialize")
}

pub(super) async fn load(
    db: &Db,
    workspace_id: &str,
    id: &str,
) -> Result<PlanRow, TrackingPlanError> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tracking_plans WHERE id = $1 AND workspace_id = $2",
        PlanRow::COLUMNS
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(TrackingPlanError::NotFound("tracking plan"))
}

/// A published version of a plan of the workspace.
pub async fn load_version(
    db: &Db,
    workspace_id: &str,
    id: &str,
    version: i64,
) -> Result<VersionRow, TrackingPlanError> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tracking_plan_versions WHERE tracking_plan_id = $1 AND workspace_id = $2 AND version = $3",
        VersionRow::COLUMNS
    ))
    .bind(id)
    .bind(workspace_id)
    .bind(version)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(TrackingPlanError::NotFound("tracking plan version"))
}

/// Whether the draft differs from the newest version (as data, not as text: key order does not count).
fn has_unpublished_changes(row: &PlanRow, latest: Option<&VersionRow>) -> bool {
    let Some(latest) = latest else {
        return true;
    };
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    row.name != latest.name
        || row.description != latest.description
        || parse(&row.events) != parse(&latest.events)
}

async fn latest_version_row(
    db: &Db,
    row: &PlanRow,
) -> Result<Option<VersionRow>, TrackingPlanError> {
    if row.latest_version == 0 {
        return Ok(None);
    }
    Ok(Some(
        load_version(db, &row.workspace_id, &row.id, row.latest_version).await?,
    ))
}

async fn to_wire(db: &Db, row: PlanRow) -> Result<TrackingPlan, TrackingPlanError> {
    let latest = latest_version_row(db, &row).await?;
    let links: Vec<SourceTrackingPlan> = links::of_plan(db, &row.id).await?;
    Ok(TrackingPlan {
        has_unpublished_changes: has_unpublished_changes(&row, latest.as_ref()),
        latest_version: (row.latest_version > 0).then_some(row.latest_version),
        events: row.events(),
        links,
        id: row.id,
        workspace_id: row.workspace_id,
        name: row.name,
        description: row.description,
        revision: row.revision_id,
        created_at: format_ms(row.created_at),
        updated_at: format_ms(row.updated_at),
    })
}

/// The workspace's plans, by name (viewer).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<TrackingPlanSummary>, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let rows: Vec<PlanRow> = sqlx::query_as(&format!(
        "SELECT {} FROM tracking_plans WHERE workspace_id = $1 ORDER BY name, id",
        PlanRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    let latest: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT {} FROM tracking_plan_versions v WHERE workspace_id = $1 AND version =
             (SELECT latest_version FROM tracking_plans p WHERE p.id = v.tracking_plan_id)",
        VersionRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    let linked: Vec<(String, String)> = sqlx::query_as(
        "SELECT tracking_plan_id, source_id FROM source_tracking_plans WHERE workspace_id = $1 ORDER BY source_id",
    )
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let latest = latest.iter().find(|v| v.tracking_plan_id == row.id);
            TrackingPlanSummary {
                event_count: row.events().len(),
                latest_version: (row.latest_version > 0).then_some(row.latest_version),
                has_unpublished_changes: has_unpublished_changes(&row, latest),
                source_ids: linked
                    .iter()
                    .filter(|(plan, _)| *plan == row.id)
                    .map(|(_, source)| source.clone())
                    .collect(),
                updated_at: format_ms(row.updated_at),
                id: row.id,
                name: row.name,
                description: row.description,
            }
        })
        .collect())
}

/// One plan's draft (viewer).
pub async fn get(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<TrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    to_wire(&state.db, load(&state.db, workspace_id, id).await?).await
}

/// A new plan (editor). Its events are checked like any draft's.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: CreateTrackingPlan,
) -> Result<TrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let name = parse_name("name", &input.name, NAME_MAX)?;
    let description = parse_description(input.description.as_deref())?;
    let events = parse_events(input.events)?;
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO tracking_plans (id, workspace_id, name, description, events, revision_id, latest_version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&name)
    .bind(&description)
    .bind(events_json(&events))
    .bind(new_id())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(TrackingPlanError::DuplicateName(name)),
        other => other?,
    };
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("tracking_plan.created", &id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(
                Changes::new()
                    .set("name", &name)
                    .set("events", events.len()),
            ),
    )
    .await?;
    tx.commit().await?;
    to_wire(&state.db, load(&state.db, workspace_id, &id).await?).await
}

/// Changes the draft (editor). Data planes see nothing of it until it is published and linked.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
    change: UpdateTrackingPlan,
    based_on: Option<String>,
) -> Result<TrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = load(&state.db, workspace_id, id).await?;
    let name = change
        .name
        .as_deref()
        .map(|n| parse_name("name", n, NAME_MAX))
        .transpose()?;
    let description = change
        .description
        .as_deref()
        .map(|d| parse_description(Some(d)))
        .transpose()?;
    let events = change.events.map(parse_events).transpose()?;
    let mut changes = Changes::new();
    if let Some(name) = &name {
        changes = changes.field("name", Some(&current.name), Some(name));
    }
    if let Some(description) = &description {
        changes = changes.field("description", Some(&current.description), Some(description));
    }
    if let Some(events) = &events {
        changes = changes.field("events", Some(current.events().len()), Some(events.len()));
    }
    let mut tx = state.db.begin().await?;
    // Only onto the revision the change was made on (or, without one, onto what was read above).
    let expected = based_on.unwrap_or_else(|| current.revision_id.clone());
    let updated = sqlx::query(
        "UPDATE tracking_plans SET name = $1, description = $2, events = $3, revision_id = $4, updated_at = $5
         WHERE id = $6 AND revision_id = $7",
    )
    .bind(name.as_deref().unwrap_or(&current.name))
    .bind(description.as_deref().unwrap_or(&current.description))
    .bind(
        events
            .as_deref()
            .map(events_json)
            .unwrap_or_else(|| current.events.clone()),
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(id)
    .bind(&expected)
    .execute(&mut *tx)
    .await;
    let updated = match updated {
        Err(e) if is_unique_violation(&e) => {
            return Err(TrackingPlanError::DuplicateName(name.unwrap_or_default()))
        }
        other => other?,
    };
    if updated.rows_affected() == 0 {
        tx.rollback().await?;
        let now = load(&state.db, workspace_id, id).await?;
        return Err(TrackingPlanError::Stale {
            current: now.revision_id,
        });
    }
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("tracking_plan.updated", id)
            .in_workspace(workspace_id)
            .named(name.as_deref().unwrap_or(&current.name))
            .with(changes),
    )
    .await?;
    tx.commit().await?;
    to_wire(&state.db, load(&state.db, workspace_id, id).await?).await
}

/// Deletes a plan and its versions (editor); refused while a source is linked to it.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = load(&state.db, workspace_id, id).await?;
    let mut tx = state.db.begin().await?;
    let linked: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.id, s.name FROM source_tracking_plans l JOIN sources s ON s.id = l.source_id
         WHERE l.tracking_plan_id = $1 ORDER BY s.name",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !linked.is_empty() {
        let names: Vec<String> = linked
            .iter()
            .map(|(id, name)| format!("{name:?} ({id})"))
            .collect();
        return Err(invalid(
            "id",
            format!(
                "this tracking plan is linked to the source(s) {}; unlink them first (DELETE …/sources/{{id}}/tracking-plan)",
                names.join(", ")
            ),
        ));
    }
    sqlx::query("DELETE FROM tracking_plans WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("tracking_plan.deleted", id)
            .in_workspace(workspace_id)
            .named(&current.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Publishes the draft as the next version (editor). Refused when nothing changed since the newest one:
/// a version is forever, and an identical one only adds noise.
pub async fn publish(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Published, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = load(&state.db, workspace_id, id).await?;
    let latest = latest_version_row(&state.db, &current).await?;
    if !has_unpublished_changes(&current, latest.as_ref()) {
        return Err(invalid(
            "id",
            format!(
                "nothing changed since version {}; change the draft, then publish",
                current.latest_version
            ),
        ));
    }
    if current.events().is_empty() {
        return Err(invalid(
            "events",
            "the draft has no events; add at least one before publishing",
        ));
    }
    let version = current.latest_version + 1;
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // The draft published is the one read above: a change or a publish meanwhile moves the revision or the
    // version, and this one is then refused rather than publishing something nobody reviewed.
    let claimed = sqlx::query(
        "UPDATE tracking_plans SET latest_version = $1, updated_at = $2
         WHERE id = $3 AND latest_version = $4 AND revision_id = $5",
    )
    .bind(version)
    .bind(now)
    .bind(id)
    .bind(current.latest_version)
    .bind(&current.revision_id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        let now = load(&state.db, workspace_id, id).await?;
        return Err(TrackingPlanError::Stale {
            current: now.revision_id,
        });
    }
    sqlx::query(
        "INSERT INTO tracking_plan_versions (tracking_plan_id, version, workspace_id, name, description, events, published_at, published_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(version)
    .bind(workspace_id)
    .bind(&current.name)
    .bind(&current.description)
    .bind(&current.events)
    .bind(now)
    .bind(&actor.label)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("tracking_plan.published", id)
            .in_workspace(workspace_id)
            .named(&current.name)
            .with(Changes::new().set("version", version)),
    )
    .await?;
    tx.commit().await?;
    Ok(Published { version })
}

/// The published versions, newest first (viewer).
pub async fn versions(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Vec<VersionSummary>, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    load(&state.db, workspace_id, id).await?;
    let rows: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT {} FROM tracking_plan_versions WHERE tracking_plan_id = $1 ORDER BY version DESC",
        VersionRow::COLUMNS
    ))
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| VersionSummary {
            event_count: row.events().len(),
            version: row.version,
            published_at: format_ms(row.published_at),
            published_by: row.published_by,
        })
        .collect())
}

/// One published version (viewer).
pub async fn version(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
    version: i64,
) -> Result<TrackingPlanVersion, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    Ok(load_version(&state.db, workspace_id, id, version)
        .await?
        .into_wire())
}

/// Which events to compare or validate against: the draft, or a published version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    Draft,
    Version(i64),
}

impl Revision {
    /// `draft` or a version number, as the diff's `from` and `to` say.
    pub fn parse(field: &str, text: &str) -> Result<Revision, TrackingPlanError> {
        if text == "draft" {
            return Ok(Revision::Draft);
        }
        match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(Revision::Version(n)),
            _ => Err(invalid(
                field,
                format!("{field} must be a published version number (1, 2, …) or \"draft\""),
            )),
        }
    }

    pub fn label(self) -> String {
        match self {
            Revision::Draft => "draft".into(),
            Revision::Version(n) => n.to_string(),
        }
    }
}

/// The events of the draft or of a version (the caller checked access).
pub async fn events_of(
    db: &Db,
    workspace_id: &str,
    id: &str,
    revision: Revision,
) -> Result<Vec<PlanEvent>, TrackingPlanError> {
    Ok(match revision {
        Revision::Draft => load(db, workspace_id, id).await?.events(),
        Revision::Version(n) => load_version(db, workspace_id, id, n).await?.events(),
    })
}
