//! What a plan makes of events: one pasted event (validate), the traffic captured lately (a plan learnt
//! from it, and the impact of a draft on it).

use std::sync::Arc;

use app::api::tracking_plans::{
    CreateTrackingPlan, Impact, ImpactRequest, ImportTrackingPlan, TrackingPlan, ValidateRequest,
    ValidationResult,
};
use app::api::workspaces::Role;

use super::plans::{self, Revision};
use super::validation::CompiledPlan;
use super::{impact, infer, invalid, links, TrackingPlanError};
use crate::access::{self, Actor};
use crate::live::samples;
use crate::state::AppState;

/// The newest captured events of each source an import or impact preview reads.
const EVENTS_PER_SOURCE: i64 = samples::KEPT_PER_SOURCE;
/// And of all sources together: an answer within a couple of seconds.
const EVENTS_MAX: usize = 50_000;

/// A published version, compiled once and cached (it never changes); the draft, compiled each time.
pub async fn compiled(
    state: &AppState,
    workspace_id: &str,
    plan_id: &str,
    revision: Revision,
) -> Result<Arc<CompiledPlan>, TrackingPlanError> {
    if let Revision::Version(version) = revision {
        if let Some(plan) = state.tracking_plans.get(plan_id, version) {
            return Ok(plan);
        }
    }
    let events = plans::events_of(&state.db, workspace_id, plan_id, revision).await?;
    let plan = tokio::task::spawn_blocking(move || CompiledPlan::compile(&events))
        .await
        .map_err(|e| TrackingPlanError::Internal(e.to_string()))?
        // Stored events were checked when saved; this is only reached if a schema rule changed since.
        .map_err(|problem| invalid(problem.field(), problem.to_string()))?;
    let plan = Arc::new(plan);
    if let Revision::Version(version) = revision {
        state.tracking_plans.insert(plan_id, version, plan.clone());
    }
    Ok(plan)
}

/// One event's violations (viewer), against a version or the draft.
pub async fn validate(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    plan_id: &str,
    request: ValidateRequest,
) -> Result<ValidationResult, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    if !request.event.is_object() {
        return Err(invalid(
            "event",
            "event must be a message object, as an SDK sends it ({\"type\": \"track\", \"event\": …, \"properties\": {…}})",
        ));
    }
    let revision = match request.version {
        Some(n) if n >= 1 => Revision::Version(n),
        Some(_) => return Err(invalid("version", "version must be 1 or more")),
        None => Revision::Draft,
    };
    let plan = compiled(state, workspace_id, plan_id, revision).await?;
    Ok(ValidationResult {
        version: request.version,
        violations: plan.validate(&request.event),
    })
}

/// The sources asked for, each checked to be the workspace's.
async fn sources_of(
    state: &AppState,
    workspace_id: &str,
    asked: &[String],
) -> Result<Vec<String>, TrackingPlanError> {
    let all: Vec<String> =
        sqlx::query_scalar("SELECT id FROM sources WHERE workspace_id = $1 ORDER BY id")
            .bind(workspace_id)
            .fetch_all(&state.db.pool)
            .await?;
    for (i, id) in asked.iter().enumerate() {
        if !all.contains(id) {
            return Err(invalid(
                format!("sourceIds[{i}]"),
                "no source of this workspace has this id",
            ));
        }
    }
    Ok(all)
}

async fn captured(
    state: &AppState,
    workspace_id: &str,
    source_ids: &[String],
) -> Result<Vec<serde_json::Value>, TrackingPlanError> {
    let mut events =
        samples::recent(&state.db, workspace_id, source_ids, EVENTS_PER_SOURCE).await?;
    events.truncate(EVENTS_MAX);
    Ok(events)
}

/// A new plan learnt from the events the live debugger captured (editor).
pub async fn import(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: ImportTrackingPlan,
) -> Result<TrackingPlan, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let all = sources_of(state, workspace_id, &input.source_ids).await?;
    let sources = if input.source_ids.is_empty() {
        all
    } else {
        input.source_ids.clone()
    };
    let messages = captured(state, workspace_id, &sources).await?;
    let events = tokio::task::spawn_blocking(move || infer::infer_events(&messages))
        .await
        .map_err(|e| TrackingPlanError::Internal(e.to_string()))?;
    if events.is_empty() {
        return Err(invalid(
            "sourceIds",
            "no events of these sources were captured lately: open the live debugger on a source while it receives events (its payloads must be kept: the workspace's livePayloads setting), then import",
        ));
    }
    plans::create(
        state,
        actor,
        workspace_id,
        CreateTrackingPlan {
            name: input.name,
            description: input.description,
            events,
        },
    )
    .await
}

/// What the draft (or a version) would make of the traffic captured lately (viewer): of the linked
/// sources, unless others are named; of every source when none is linked.
pub async fn impact(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    plan_id: &str,
    request: ImpactRequest,
) -> Result<Impact, TrackingPlanError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let all = sources_of(state, workspace_id, &request.source_ids).await?;
    let revision = match request.version {
        Some(n) if n >= 1 => Revision::Version(n),
        Some(_) => return Err(invalid("version", "version must be 1 or more")),
        None => Revision::Draft,
    };
    let plan = compiled(state, workspace_id, plan_id, revision).await?;
    let source_ids = if !request.source_ids.is_empty() {
        request.source_ids.clone()
    } else {
        let linked: Vec<String> = links::of_plan(&state.db, plan_id)
            .await?
            .into_iter()
            .map(|l| l.source_id)
            .collect();
        if linked.is_empty() {
            all
        } else {
            linked
        }
    };
    let messages = captured(state, workspace_id, &source_ids).await?;
    let summary = tokio::task::spawn_blocking(move || impact::impact(&plan, &messages))
        .await
        .map_err(|e| TrackingPlanError::Internal(e.to_string()))?;
    Ok(Impact {
        source_ids,
        checked: summary.checked,
        violating: summary.violating,
        events: summary.events,
    })
}
