//! Workspaces, their members and roles, ownership handover, and invites.

mod handlers;
mod invites;

use app::api::workspaces::Role;
use sqlx::AnyConnection;

pub use handlers::routes;

use crate::http::error::ApiResult;
use crate::ids::new_id;
use crate::time::now_ms;

/// Creates a workspace owned by `owner_id`.
pub async fn insert(conn: &mut AnyConnection, name: &str, owner_id: &str) -> ApiResult<String> {
    let id = new_id();
    let now = now_ms();
    sqlx::query("INSERT INTO workspaces (id, name, config_updated_at, created_at, updated_at) VALUES ($1, $2, $3, $3, $3)")
        .bind(&id)
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(owner_id)
    .bind(Role::Owner.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    crate::audit::record(
        conn,
        crate::audit::Event {
            workspace_id: Some(&id),
            actor_id: Some(owner_id),
            action: "workspace.created",
            target_type: "workspace",
            target_id: &id,
            details: serde_json::json!({ "name": name }),
        },
    )
    .await?;
    Ok(id)
}

/// Adds a member, or sets the role of an existing one.
pub async fn upsert_member(
    conn: &mut AnyConnection,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
