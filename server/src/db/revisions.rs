//! Optimistic concurrency for configurable resources (sources, destinations): every change gives the row a
//! new revision id, and a change computed from what was read commits only if that revision is still stored.

use sqlx::AnyConnection;

use crate::db::Db;
use crate::http::error::AppError;
use crate::ids::new_id;
use crate::time::now_ms;

/// A table whose rows carry `revision_id` and `updated_at`.
#[derive(Clone, Copy, Debug)]
pub enum Revised {
    Sources,
    Destinations,
}

impl Revised {
    fn table(self) -> &'static str {
        match self {
            Revised::Sources => "sources",
            Revised::Destinations => "destinations",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Revised::Sources => "source",
            Revised::Destinations => "destination",
        }
    }
}

/// The row's revision now; 404 when it is gone.
pub async fn current(db: &Db, table: Revised, id: &str) -> Result<String, AppError> {
    sqlx::query_scalar(&format!(
        "SELECT revision_id FROM {} WHERE id = $1",
        table.table()
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or_else(|| AppError::not_found(table.singular()))
}

/// Gives the row a new revision (and `updated_at`) inside the change's transaction. With `based_on`, only if
/// the stored revision is still that one: otherwise someone else changed the row meanwhile, a 409 (or a 404
/// when they deleted it).
pub async fn advance(
    conn: &mut AnyConnection,
    db: &Db,
    table: Revised,
    id: &str,
    based_on: Option<&str>,
) -> Result<(), AppError> {
    let name = table.table();
    let query = match based_on {
        Some(_) => format!(
            "UPDATE {name} SET revision_id = $1, updated_at = $2 WHERE id = $3 AND revision_id = $4"
        ),
        None => format!("UPDATE {name} SET revision_id = $1, updated_at = $2 WHERE id = $3"),
    };
    let mut update = sqlx::query(&query).bind(new_id()).bind(now_ms()).bind(id);
    if let Some(revision) = based_on {
        update = update.bind(revision);
    }
    if update.execute(conn).await?.rows_affected() == 1 {
        return Ok(());
    }
    current(db, table, id).await?;
    Err(AppError::Conflict {
        message: format!(
            "this {} was changed by someone else meanwhile; reload it and make your change again",
            table.singular()
        ),
        field: None,
    })
}
