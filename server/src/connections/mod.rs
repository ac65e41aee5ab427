//! Connections: a source's events go to a destination. Only when the destination accepts that source's type.

mod handlers;

use app::api::destinations::Connection;
use app::api::workspaces::Role;

pub use handlers::routes;

use crate::access::{self, AccessError, Actor};
use crate::audit::{self, Changes};
use crate::db::{is_unique_violation, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

/// A row of `connections`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: String,
    pub workspace_id: String,
    pub source_id: String,
    pub destination_id: String,
    pub created_at: i64,
}

impl ConnectionRow {
    pub const COLUMNS: &'static str = "id, workspace_id, source_id, destination_id, created_at";

    fn into_wire(self) -> Connection {
        Connection {
            id: self.id,
            source_id: self.source_id,
            destination_id: self.destination_id,
            created_at: format_ms(self.created_at),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("this source is already connected to this destination")]
    Exists,
    #[error("connection not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(ConnectionError);

impl DomainError for ConnectionError {
    fn kind(&self) -> Kind {
        match self {
            ConnectionError::Access(e) => e.kind(),
            ConnectionError::Invalid(e) => e.kind(),
            ConnectionError::Exists => Kind::Conflict,
            ConnectionError::NotFound => Kind::NotFound,
            ConnectionError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ConnectionError::Invalid(e) => e.field(),
            ConnectionError::Exists => Some("destinationId"),
            _ => None,
        }
    }
}

/// A workspace's connections (viewer).
pub async fn list(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<Connection>, ConnectionError> {
    access::require(db, actor, workspace_id, Role::Viewer).await?;
    let rows: Vec<ConnectionRow> = sqlx::query_as(&format!(
        "SELECT {} FROM connections WHERE workspace_id = $1 ORDER BY created_at",
        ConnectionRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(ConnectionRow::into_wire).collect())
}

/// Connects a source to a destination of the same workspace that accepts its type (editor).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    source_id: &str,
    destination_id: &str,
) -> Result<Connection, ConnectionError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let (source_name, source_type): (String, String) =
        sqlx::query_as("SELECT name, type FROM sources WHERE id = $1 AND workspace_id = $2")
            .bind(source_id)
            .bind(workspace_id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| {
                Invalid::new("sourceId", "sourceId is not a source of this workspace")
            })?;
    let (destination_name, destination_type): (String, String) =
        sqlx::query_as("SELECT name, type FROM destinations WHERE id = $1 AND workspace_id = $2")
            .bind(destination_id)
            .bind(workspace_id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| {
                Invalid::new(
                    "destinationId",
                    "destinationId is not a destination of this workspace",
                )
            })?;
    if let (Some(source), Some(destination)) = (
        state.catalog.source(&source_type),
        state.catalog.destination(&destination_type),
    ) {
        if !destination
            .definition
            .supports_source_type(&source.definition.source_type)
        {
            return Err(Invalid::new(
                "destinationId",
                format!(
                    "{} does not accept events from {} sources",
                    destination.definition.display_name, source.definition.display_name
                ),
            )
            .into());
        }
    }
    let row = ConnectionRow {
        id: new_id(),
        workspace_id: workspace_id.to_string(),
        source_id: source_id.to_string(),
        destination_id: destination_id.to_string(),
        created_at: now_ms(),
    };
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO connections ({}) VALUES ($1, $2, $3, $4, $5)",
        ConnectionRow::COLUMNS
    ))
    .bind(&row.id)
    .bind(&row.workspace_id)
    .bind(&row.source_id)
    .bind(&row.destination_id)
    .bind(row.created_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(ConnectionError::Exists),
        other => other?,
    };
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("connection.created", &row.id)
            .in_workspace(workspace_id)
            .named(&format!("{source_name} → {destination_name}"))
            .with(
                Changes::new()
                    .set("sourceId", source_id)
                    .set("destinationId", destination_id),
            ),
    )
    .await?;
    Ok(row.into_wire())
}

/// Disconnects (editor).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), ConnectionError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let mut tx = state.db.begin().await?;
    let deleted: Option<(String, String)> = sqlx::query_as(
        "DELETE FROM connections WHERE id = $1 AND workspace_id = $2 RETURNING source_id, destination_id",
    )
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((source_id, destination_id)) = deleted else {
        return Err(ConnectionError::NotFound);
    };
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("connection.deleted", id)
            .in_workspace(workspace_id)
            .with(
                Changes::new()
                    .removed("sourceId", source_id)
                    .removed("destinationId", destination_id),
            ),
    )
    .await?;
    Ok(())
}
