//! The audit trail: who changed what, when. Details name fields, never values: no secret or password is
//! ever written here.

use serde_json::Value;
use sqlx::AnyConnection;

use crate::ids::new_id;
use crate::time::now_ms;

pub struct Event<'a> {
    pub workspace_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details: Value,
}

pub async fn record(conn: &mut AnyConnection, event: Event<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, target_id, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(event.workspace_id)
    .bind(event.actor_id)
    .bind(event.action)
    .bind(event.target_type)
    .bind(event.target_id)
    .bind(event.details.to_string())
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
