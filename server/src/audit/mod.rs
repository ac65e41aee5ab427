//! The audit log: every change made through the domain records who made it (a person, an API token or
//! Wheelhouse itself), when, from where, and what changed, field by field. A secret's values are replaced by
//! a marker before anything is written: the log says that a secret changed, never what to.
//!
//! Entries are written inside the transaction of the change they describe, so a change is never stored
//! without its entry (nor an entry without its change). Admins read them (`list`); a scheduled job deletes
//! those older than the workspace's retention (`prune`).

mod changes;
mod handlers;

use app::api::audit::{AuditActor, AuditEntry, AuditPage};
use app::api::workspaces::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use base64::Engine;
use sqlx::AnyConnection;

pub use changes::Changes;
pub use handlers::routes;

use crate::access::{self, AccessError, Actor};
use crate::db::Db;
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::time::{format_ms, now_ms, parse_rfc3339_ms};

/// How long entries are kept unless a workspace says otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 400;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// One change, as the domain describes it:
/// `Entry::new("source.updated", id).in_workspace(ws).named(name).with(changes)`.
pub struct Entry<'a> {
    /// `None` for changes outside any workspace (namespaces, a deleted workspace's last entry).
    pub workspace_id: Option<&'a str>,
    /// `source.updated`, `member.removed`, …: `<resource type>.<what happened>`.
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub resource_name: Option<&'a str>,
    pub changes: Changes,
}

impl<'a> Entry<'a> {
    /// A change to the resource `resource_id`, whose type is the action's first word (`source.updated` is
    /// about a `source`), outside any workspace until `in_workspace`.
    pub fn new(action: &'a str, resource_id: &'a str) -> Entry<'a> {
        Entry {
            workspace_id: None,
            action,
            resource_type: action.split('.').next().unwrap_or(action),
            resource_id,
            resource_name: None,
            changes: Changes::new(),
        }
    }

    /// The resource's type, when it is not the action's first word (`invite.accepted` makes a `member`).
    pub fn about(mut self, resource_type: &'a str) -> Entry<'a> {
        self.resource_type = resource_type;
        self
    }

    pub fn in_workspace(mut self, workspace_id: &'a str) -> Entry<'a> {
        self.workspace_id = Some(workspace_id);
        self
    }

    /// The resource's name at the time.
    pub fn named(mut self, name: &'a str) -> Entry<'a> {
        self.resource_name = Some(name);
        self
    }

    pub fn with(mut self, changes: Changes) -> Entry<'a> {
        self.changes = changes;
        self
    }
}

/// Records an entry inside the transaction of the change it describes.
pub async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    entry: Entry<'_>,
) -> Result<(), DbError> {
    let (actor_type, actor_id) = actor.audit_identity();
    sqlx::query(
        "INSERT INTO audit_events (id, workspace_id, actor_type, actor_id, actor_label, ip, user_agent, action,
             resource_type, resource_id, resource_name, changes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(new_id())
    .bind(entry.workspace_id)
    .bind(actor_type)
    .bind(actor_id)
    .bind(&actor.label)
    .bind(actor.origin.ip.map(|ip| ip.to_string()))
    .bind(actor.origin.user_agent.as_deref())
    .bind(entry.action)
    .bind(entry.resource_type)
    .bind(entry.resource_id)
    .bind(entry.resource_name)
    .bind(entry.changes.to_json())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What to list: every filter is optional.
#[derive(Debug, Default)]
pub struct Filter {
    /// An actor's id (user, API token, system task) or label (an email address).
    pub actor: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// An action (`source.updated`), or every action of a resource type (`source.*`).
    pub action: Option<String>,
    /// RFC 3339 bounds: `from` inclusive, `to` exclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(AuditError);

impl DomainError for AuditError {
    fn kind(&self) -> Kind {
        match self {
            AuditError::Access(e) => e.kind(),
            AuditError::Invalid(e) => e.kind(),
            AuditError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AuditError::Invalid(e) => e.field(),
            _ => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    actor_type: String,
    actor_id: Option<String>,
    actor_label: String,
    ip: Option<String>,
    user_agent: Option<String>,
    action: String,
    resource_type: String,
    resource_id: String,
    resource_name: Option<String>,
    changes: String,
    created_at: i64,
}

impl AuditRow {
    fn into_wire(self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            at: format_ms(self.created_at),
            actor: AuditActor {
                kind: self.actor_type,
                id: self.actor_id.unwrap_or_default(),
                label: self.actor_label,
            },
            ip: self.ip,
            user_agent: self.user_agent,
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            resource_name: self.resource_name,
            changes: changes::parse_stored(&self.changes),
        }
    }
}

/// A workspace's entries, newest first, one page at a time (workspace admins).
pub async fn list(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    filter: Filter,
) -> Result<AuditPage, AuditError> {
    access::require(db, actor, workspace_id, Role::Admin).await?;
    let limit = filter.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(
            Invalid::new("limit", format!("limit must be between 1 and {PAGE_MAX}")).into(),
        );
    }
    let time = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| {
                parse_rfc3339_ms(v).ok_or_else(|| {
                    Invalid::new(
                        field,
                        format!("{field} must be an RFC 3339 time such as 2026-11-27T10:00:00Z"),
                    )
                })
            })
            .transpose()
    };
    let from = time("from", &filter.from)?;
    let to = time("to", &filter.to)?;
    let cursor = filter.cursor.as_deref().map(parse_cursor).transpose()?;

    // Portable SQL built from fixed fragments; every value is bound.
    let mut sql = String::from(
        "SELECT id, actor_type, actor_id, actor_label, ip, user_agent, action, resource_type, resource_id,
                resource_name, changes, created_at
         FROM audit_events WHERE workspace_id = $1",
    );
    let mut binds: Vec<BindValue> = vec![BindValue::Text(workspace_id.to_string())];
    let param = |binds: &mut Vec<BindValue>, value: BindValue| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if let Some(actor_filter) = &filter.actor {
        let p = param(&mut binds, BindValue::Text(actor_filter.clone()));
        sql.push_str(&format!(" AND (actor_id = {p} OR actor_label = {p})"));
    }
    if let Some(resource_type) = &filter.resource_type {
        let p = param(&mut binds, BindValue::Text(resource_type.clone()));
        sql.push_str(&format!(" AND resource_type = {p}"));
    }
    if let Some(resource_id) = &filter.resource_id {
        let p = param(&mut binds, BindValue::Text(resource_id.clone()));
        sql.push_str(&format!(" AND resource_id = {p}"));
    }
    if let Some(action) = &filter.action {
        match action.strip_suffix(".*") {
            Some(resource_type) => {
                let p = param(&mut binds, BindValue::Text(format!("{resource_type}.")));
                // A prefix match without LIKE, whose wildcards the text could contain.
                sql.push_str(&format!(" AND substr(action, 1, length({p})) = {p}"));
            }
            None => {
                let p = param(&mut binds, BindValue::Text(action.clone()));
                sql.push_str(&format!(" AND action = {p}"));
            }
        }
    }
    if let Some(from) = from {
        let p = param(&mut binds, BindValue::Int(from));
        sql.push_str(&format!(" AND created_at >= {p}"));
    }
    if let Some(to) = to {
        let p = param(&mut binds, BindValue::Int(to));
        sql.push_str(&format!(" AND created_at < {p}"));
    }
    if let Some((at, id)) = cursor {
        let p_at = param(&mut binds, BindValue::Int(at));
        let p_id = param(&mut binds, BindValue::Text(id));
        sql.push_str(&format!(
            " AND (created_at < {p_at} OR (created_at = {p_at} AND id < {p_id}))"
        ));
    }
    let p_limit = param(&mut binds, BindValue::Int(limit as i64 + 1));
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT {p_limit}"
    ));

    let mut query = sqlx::query_as::<_, AuditRow>(&sql);
    for value in binds {
        query = match value {
            BindValue::Text(text) => query.bind(text),
            BindValue::Int(number) => query.bind(number),
        };
    }
    let mut rows = query.fetch_all(&db.pool).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| cursor_for(row.created_at, &row.id))
    } else {
        None
    };
    Ok(AuditPage {
        entries: rows.into_iter().map(AuditRow::into_wire).collect(),
        next_cursor,
    })
}

enum BindValue {
    Text(String),
    Int(i64),
}

fn cursor_for(at: i64, id: &str) -> String {
    BASE64.encode(format!("{at}:{id}"))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), Invalid> {
    let invalid = || Invalid::new("cursor", "cursor is not one this API handed out");
    let decoded = BASE64.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (at, id) = text.split_once(':').ok_or_else(invalid)?;
    let at = at.parse().map_err(|_| invalid())?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    Ok((at, id.to_string()))
}

/// Deletes entries older than their workspace's retention (the default for entries of no workspace).
pub async fn prune(db: &Db) -> Result<u64, DbError> {
    let deleted = sqlx::query(
        "DELETE FROM audit_events WHERE created_at < $1 - $2 * COALESCE(
             (SELECT w.audit_retention_days FROM workspaces w WHERE w.id = audit_events.workspace_id), $3)",
    )
    .bind(now_ms())
    .bind(DAY_MS)
    .bind(DEFAULT_RETENTION_DAYS)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let cursor = cursor_for(1_700_000_000_000, "2abcXYZ");
        assert_eq!(
            parse_cursor(&cursor).unwrap(),
            (1_700_000_000_000, "2abcXYZ".to_string())
        );
        for bad in ["", "%%%", &BASE64.encode("x:y"), &BASE64.encode("1:a'b")] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
