//! Tracking plans: what events must look like, per workspace. A plan is edited as a draft and published as
//! immutable versions (rudder-transformer caches a version forever); sources are linked to one version with
//! the settings the data plane reads (`dgSourceTrackingPlanConfig`, `../shared/reference/rudderstack-protocol.md`
//! §3).
//!
//! `GET|POST /api/v1/workspaces/{ws}/tracking-plans`, `GET|PATCH|DELETE …/tracking-plans/{tp}` (the draft),
//! `POST …/{tp}/publish`, `GET …/{tp}/versions`, `GET …/{tp}/versions/{n}`, `GET …/{tp}/diff`,
//! `POST …/{tp}/validate`, `POST …/{tp}/impact`, `GET …/{tp}/violations`, `POST …/tracking-plans/import`,
//! `GET|PUT|DELETE …/sources/{id}/tracking-plan`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The message types a plan has rules for. `alias` is never validated by the data plane.
pub const EVENT_TYPES: [&str; 5] = ["track", "identify", "page", "screen", "group"];

/// One event of a plan, in the shape rudder-transformer fetches: `name` is the event name for `track` and
/// empty for the other types; `rules` is a JSON Schema over the whole message (properties under
/// `properties.properties`, traits under `properties.traits`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanEvent {
    #[serde(default)]
    pub name: String,
    /// `track`, `identify`, `page`, `screen` or `group`.
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub rules: Value,
}

/// A plan as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrackingPlanSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub event_count: usize,
    /// The newest published version; `None` before the first publish.
    pub latest_version: Option<i64>,
    /// Whether the draft differs from the newest published version.
    pub has_unpublished_changes: bool,
    /// The sources linked to a version of this plan.
    pub source_ids: Vec<String>,
    pub updated_at: String,
}

/// A plan's draft, with what was published of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrackingPlan {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    /// The draft's events.
    pub events: Vec<PlanEvent>,
    pub latest_version: Option<i64>,
    pub has_unpublished_changes: bool,
    /// The sources linked to a version of this plan, with the version.
    pub links: Vec<SourceTrackingPlan>,
    /// Changes with every change to the draft; also its `ETag`. Send it back (`If-Match`, or `revision` in a
    /// PATCH body) and a change made by someone else since you read it is a 409 instead of being undone.
    pub revision: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `POST …/tracking-plans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateTrackingPlan {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub events: Vec<PlanEvent>,
}

/// `PATCH …/tracking-plans/{tp}`: changes the draft; every part optional; `events` replaces the draft's
/// events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateTrackingPlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<PlanEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// `POST …/tracking-plans/{tp}/publish`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub version: i64,
}

/// A published version: immutable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrackingPlanVersion {
    pub tracking_plan_id: String,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub events: Vec<PlanEvent>,
    pub published_at: String,
    /// Who published it (their email), when known.
    pub published_by: Option<String>,
}

/// A version as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub version: i64,
    pub event_count: usize,
    pub published_at: String,
    pub published_by: Option<String>,
}

/// `GET …/tracking-plans/{tp}/diff?from=…&to=…`: what changed from one version (or the draft) to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanDiff {
    /// The version number, or `draft`.
    pub from: String,
    pub to: String,
    /// Only the events that changed, by event type and name.
    pub events: Vec<EventDiff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventDiff {
    pub name: String,
    pub event_type: String,
    pub change: DiffChange,
    /// For a changed event: each rule that changed, by its JSON pointer in `rules`.
    pub changes: Vec<RuleChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum DiffChange {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleChange {
    /// A JSON pointer into the event's `rules` (`/properties/properties/properties/price/type`), or
    /// `/description` for the event's description.
    pub path: String,
    pub change: DiffChange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
}

/// `POST …/tracking-plans/{tp}/validate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidateRequest {
    /// The message, as an SDK sends it (`type`, `event`, `properties`, `traits`, `context`…).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub event: Value,
    /// A published version; without it, the draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The violations of one event, classified as rudder-transformer classifies them (§3.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationResult {
    /// The version validated against; `None` for the draft.
    pub version: Option<i64>,
    pub violations: Vec<Violation>,
}

/// `{type, message, property?, meta: {instancePath, schemaPath}}`, as rudder-server puts it into
/// `context.violationErrors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// `Unplanned-Event`, `Required-Missing`, `Datatype-Mismatch`, `Additional-Properties`,
    /// `Advance-Rules-Violation` or `Unknown-Violation`.
    #[serde(rename = "type")]
    pub violation_type: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub meta: BTreeMap<String, String>,
}

/// `POST …/tracking-plans/import`: a new plan built from the events the live debugger captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportTrackingPlan {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The sources whose captured events to learn from; none means every source of the workspace.
    #[serde(default)]
    pub source_ids: Vec<String>,
}

/// `POST …/tracking-plans/{tp}/impact`: run the draft (or a version) against recently captured events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImpactRequest {
    /// The sources whose captured events to check; none means the sources linked to the plan (or, when
    /// none is linked, every source of the workspace).
    #[serde(default)]
    pub source_ids: Vec<String>,
    /// A published version; without it, the draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    pub source_ids: Vec<String>,
    /// Captured events of those sources that a plan applies to (`alias` and the like are not validated).
    pub checked: u64,
    /// Of those, how many have at least one violation.
    pub violating: u64,
    /// Per event (type and name), most violating first.
    pub events: Vec<EventImpact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventImpact {
    pub name: String,
    pub event_type: String,
    pub checked: u64,
    pub violating: u64,
    /// How many violations of each type and property, most frequent first.
    pub violations: Vec<ViolationTally>,
    /// One violating event's violations, as an example.
    pub example: Vec<Violation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ViolationTally {
    #[serde(rename = "type")]
    pub violation_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub count: u64,
}

/// The settings rudder-server and rudder-transformer read for one event type (or `global`). The readers
/// compare strings: booleans are accepted and stored as `"true"`/`"false"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
// Unknown keys are refused: names like `dropUnplannedEvents` exist in neither reader, and a setting that
// silently does nothing is worse than an error.
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackingPlanSettings {
    /// `"true"` or `"false"`: with `"false"`, a `track` event the plan does not name is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub allow_unplanned_events: Option<Value>,
    /// `"forward"` or `"drop"`: what happens to an event with properties the plan does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplanned_properties: Option<String>,
    /// `"forward"` or `"drop"`: what happens to an event with any other violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_other_violation: Option<String>,
    /// `"procerrors"`: dropped events go to the data plane's processor errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_violated_events_to: Option<String>,
    /// `"true"` or `"false"`: whether violations are added to the event's `context.violationErrors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub propagate_validation_errors: Option<Value>,
    /// Ajv options merged over the transformer's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub ajv_options: Option<Value>,
}

/// `PUT …/sources/{id}/tracking-plan`: link a source to a published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LinkTrackingPlan {
    pub tracking_plan_id: String,
    pub version: i64,
    /// Settings by event type (`global`, `track`, `identify`, `page`, `screen`, `group`); `global` applies
    /// to every type, a type's own settings override it.
    #[serde(default)]
    pub config: BTreeMap<String, TrackingPlanSettings>,
}

/// A source's link to a plan version, as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceTrackingPlan {
    pub source_id: String,
    pub tracking_plan_id: String,
    pub version: i64,
    pub config: BTreeMap<String, TrackingPlanSettings>,
    /// Counts the changes to this link (`dgSourceTrackingPlanConfig.version`).
    pub link_version: i64,
    pub updated_at: String,
}

/// `GET …/tracking-plans/{tp}/violations`: what the data planes reported, per source and plan version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ViolationCounts {
    /// Bucket starts (RFC 3339), hourly.
    pub buckets: Vec<String>,
    pub series: Vec<ViolationSeries>,
    /// Violations by type over the whole range, most first.
    pub by_type: Vec<ViolationTally>,
}

/// One source and plan version over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ViolationSeries {
    pub source_id: String,
    pub version: i64,
    /// Events validated with at least one violation, per bucket.
    pub with_violations: Vec<u64>,
    /// Events validated without one, per bucket.
    pub without_violations: Vec<u64>,
    /// Violations found, per bucket (an event may have several).
    pub violations: Vec<u64>,
}
