//! Sources: where events come from (SDKs, webhooks, cloud apps, warehouse tables for reverse ETL). What a
//! source shares with a destination (create, change with secrets, delete) is `integrations`; here is what only
//! a source has: its write key, and the destinations it sends to.

mod handlers;

use app::api::sources::Source;
use app::api::workspaces::Role;
use serde_json::Value;

pub use handlers::routes;

use crate::access::{self, Actor};
use crate::audit::{self, Changes};
use crate::catalog::Catalog;
use crate::db::Db;
use crate::ids::new_write_key;
use crate::integrations::{self, IntegrationError, IntegrationKind, SourceRow, Sources};
use crate::secrets::fields::secret_status;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

fn to_wire(
    catalog: &Catalog,
    row: SourceRow,
    destination_ids: Vec<String>,
    secret_paths: &[String],
) -> Source {
    let common = row.common;
    let secret_keys = catalog
        .source(&common.type_name)
        .map(|e| e.definition.secret_keys.clone())
        .unwrap_or_default();
    Source {
        enabled: common.is_enabled(),
        config: serde_json::from_str(&common.config).unwrap_or(Value::Null),
        secrets: secret_status(&secret_keys, secret_paths),
        destination_ids,
        id: common.id,
        workspace_id: common.workspace_id,
        name: common.name,
        source_type: common.type_name,
        write_key: row.write_key,
        revision: common.revision_id,
        created_at: format_ms(common.created_at),
        updated_at: format_ms(common.updated_at),
    }
}

async fn load_row(db: &Db, workspace_id: &str, id: &str) -> Result<SourceRow, IntegrationError> {
    sqlx::query_as::<_, SourceRow>(&format!(
        "SELECT {} FROM sources WHERE id = $1 AND workspace_id = $2",
        SourceRow::COLUMNS
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(IntegrationError::NotFound(Sources::RESOURCE))
}

/// One source as the API shows it (no access check: the caller did it).
async fn load(state: &AppState, workspace_id: &str, id: &str) -> Result<Source, IntegrationError> {
    let row = load_row(&state.db, workspace_id, id).await?;
    let destination_ids = integrations::connected_to::<Sources>(&state.db, id).await?;
    let paths = integrations::secret_paths(&state.db, Sources::RESOURCE, id).await?;
    Ok(to_wire(state.catalog, row, destination_ids, &paths))
}

/// A workspace's sources (viewer).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<Source>, IntegrationError> {
    integrations::require_reader(&state.db, actor, workspace_id).await?;
    let rows: Vec<SourceRow> = sqlx::query_as(&format!(
        "SELECT {} FROM sources WHERE workspace_id = $1 ORDER BY name, id",
        SourceRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut destinations_of =
        integrations::connected_in_workspace::<Sources>(&state.db, workspace_id).await?;
    let mut paths = integrations::secret_paths_in_workspace(&state.db, workspace_id).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.common.id.clone();
            let key = (Sources::RESOURCE.to_string(), id.clone());
            to_wire(
                state.catalog,
                row,
                destinations_of.remove(&id).unwrap_or_default(),
                &paths.remove(&key).unwrap_or_default(),
            )
        })
        .collect())
}

/// One source (viewer).
pub async fn get(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Source, IntegrationError> {
    integrations::require_reader(&state.db, actor, workspace_id).await?;
    load(state, workspace_id, id).await
}

/// Adds a source (editor).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: integrations::NewIntegration,
) -> Result<Source, IntegrationError> {
    let id = integrations::create::<Sources>(state, actor, workspace_id, input).await?;
    load(state, workspace_id, &id).await
}

/// Changes a source (editor).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
    change: integrations::IntegrationChange,
) -> Result<Source, IntegrationError> {
    integrations::update::<Sources>(state, actor, workspace_id, id, change).await?;
    load(state, workspace_id, id).await
}

/// Deletes a source and its connections (editor). Its write key stops working at once.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), IntegrationError> {
    integrations::delete::<Sources>(state, actor, workspace_id, id).await
}

/// Gives a source a new write key (editor). The old one stops working at once.
pub async fn rotate_write_key(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Source, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = load_row(&state.db, workspace_id, id).await?;
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE sources SET write_key = $1, updated_at = $2, revision_id = $3 WHERE id = $4 AND workspace_id = $5",
    )
    .bind(new_write_key())
    .bind(now_ms())
    .bind(crate::ids::new_id())
    .bind(id)
    .bind(workspace_id)
    .execute(&mut *tx)
    .await?;
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        // The write key is not a secret (it ships in web pages), but the old one stops working: no reason to
        // keep either in the log.
        audit::Entry::new("source.write_key_rotated", id)
            .in_workspace(workspace_id)
            .named(&current.common.name)
            .with(Changes::new().set("writeKey", "rotated")),
    )
    .await?;
    load(state, workspace_id, id).await
}
