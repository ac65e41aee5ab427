//! Optimistic concurrency for sources and destinations: every change gives the row a new revision id, and a
//! change computed from what was read commits only if that revision is still the stored one.

use sqlx::AnyConnection;

use super::{IntegrationError, IntegrationKind};
use crate::db::Db;
use crate::ids::new_id;
use crate::time::now_ms;

/// The row's revision now; `NotFound` when it is gone.
pub async fn current<K: IntegrationKind>(db: &Db, id: &str) -> Result<String, IntegrationError> {
    sqlx::query_scalar(&format!(
        "SELECT revision_id FROM {} WHERE id = $1",
        K::TABLE
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(IntegrationError::NotFound(K::RESOURCE))
}

/// Gives the row a new revision (and `updated_at`) inside the change's transaction. With `based_on`, only if
/// the stored revision is still that one: otherwise someone else changed the row meanwhile, `Stale` (or
/// `NotFound` when they deleted it).
pub async fn advance<K: IntegrationKind>(
    conn: &mut AnyConnection,
    db: &Db,
    id: &str,
    based_on: Option<&str>,
) -> Result<(), IntegrationError> {
    let table = K::TABLE;
    let query = match based_on {
        Some(_) => format!(
            "UPDATE {table} SET revision_id = $1, updated_at = $2 WHERE id = $3 AND revision_id = $4"
        ),
        None => format!("UPDATE {table} SET revision_id = $1, updated_at = $2 WHERE id = $3"),
    };
    let mut update = sqlx::query(&query).bind(new_id()).bind(now_ms()).bind(id);
    if let Some(revision) = based_on {
        update = update.bind(revision);
    }
    if update.execute(conn).await?.rows_affected() == 1 {
        return Ok(());
    }
    Err(IntegrationError::Stale {
        resource: K::RESOURCE,
        current: current::<K>(db, id).await?,
    })
}
