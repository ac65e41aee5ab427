//! Changes to what data planes see. Every write that changes a workspace's data-plane config ends here,
//! inside its transaction: the workspace's config `updatedAt` moves, the change is audited, the transaction
//! commits, and the config snapshot is rebuilt and published (to this replica's data-plane endpoints at once,
//! to the other replicas through PostgreSQL `NOTIFY`). Once committed, the change stands: a snapshot build
//! that fails is retried in the background, never reported as a failure of the change.

use sqlx::AnyConnection;

use crate::access::Actor;
use crate::audit;
use crate::error::DbError;
use crate::state::AppState;
use crate::time::now_ms;

pub async fn commit_config_change(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    entry: audit::Entry<'_>,
) -> Result<(), DbError> {
    let workspace_id = entry
        .workspace_id
        .expect("a config change belongs to a workspace")
        .to_string();
    touch(&mut tx, &workspace_id).await?;
    audit::record(&mut tx, actor, entry).await?;
    tx.commit().await?;
    state.snapshot.publish(&workspace_id).await;
    Ok(())
}

/// Moves the workspace's config `updatedAt` forward (strictly, even within one millisecond), so that data
/// planes polling with `updatedAfter` fetch it again, and its revision by one, which data planes report back.
pub async fn touch(conn: &mut AnyConnection, workspace_id: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE workspaces SET config_updated_at = CASE WHEN config_updated_at >= $1 THEN config_updated_at + 1 ELSE $1 END,
            config_revision = config_revision + 1
         WHERE id = $2",
    )
    .bind(now_ms())
    .bind(workspace_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
