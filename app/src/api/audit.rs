//! The audit log: who changed what in a workspace, when, from where, and what the change was.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stands in for a secret's value in an entry's changes: the log says that a secret changed, never what to.
pub const SECRET_MARKER: &str = "[secret]";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    /// When the change was committed (RFC 3339, UTC).
    pub at: String,
    pub actor: AuditActor,
    /// The client address the change came from; none for Wheelhouse's own jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `source.updated`, `member.role_changed`, …
    pub action: String,
    /// `source`, `destination`, `connection`, `workspace`, `member`, `invite`, `api_token`, …
    pub resource_type: String,
    pub resource_id: String,
    /// The resource's name at the time, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Each changed field (dotted path, `config.apiKey`) with its value before and after. A secret's values
    /// are `"[secret]"`.
    pub changes: BTreeMap<String, Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    /// `user` (signed in), `apiToken` or `system` (Wheelhouse's own jobs).
    pub kind: String,
    /// The user id, the API token id, or the system task's name.
    pub id: String,
    /// What people recognise: an email address, a token's name and creator, a task.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The field's value before the change, any JSON value (text, number, object…); absent when the field
    /// had no value (a creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The field's value after the change, any JSON value; absent when the field has no value any more (a
    /// deletion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
