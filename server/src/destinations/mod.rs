//! Destinations: where events go (analytics and ad tools, streams, storage, warehouses), with their
//! credentials encrypted. What a destination shares with a source (create, change with secrets, delete) is
//! `integrations`; here is how the API shows one, with the sources that send to it.

mod handlers;

use app::api::destinations::Destination;
use serde_json::Value;

pub use handlers::routes;

use crate::access::Actor;
use crate::catalog::Catalog;
use crate::integrations::{self, DestinationRow, Destinations, IntegrationError, IntegrationKind};
use crate::secrets::fields::secret_status;
use crate::state::AppState;
use crate::time::format_ms;

fn to_wire(
    catalog: &Catalog,
    row: DestinationRow,
    source_ids: Vec<String>,
    secret_paths: &[String],
) -> Destination {
    let common = row.common;
    let secret_keys = catalog
        .destination(&common.type_name)
        .map(|e| e.definition.secret_keys.clone())
        .unwrap_or_default();
    Destination {
        enabled: common.is_enabled(),
        config: serde_json::from_str(&common.config).unwrap_or(Value::Null),
        secrets: secret_status(&secret_keys, secret_paths),
        source_ids,
        id: common.id,
        workspace_id: common.workspace_id,
        name: common.name,
        destination_type: common.type_name,
        revision: common.revision_id,
        created_at: format_ms(common.created_at),
        updated_at: format_ms(common.updated_at),
    }
}

async fn load(
    state: &AppState,
    workspace_id: &str,
    id: &str,
) -> Result<Destination, IntegrationError> {
    let row = DestinationRow {
        common: integrations::load_common::<Destinations>(&state.db, workspace_id, id).await?,
    };
    let source_ids = integrations::connected_to::<Destinations>(&state.db, id).await?;
    let paths = integrations::secret_paths(&state.db, Destinations::RESOURCE, id).await?;
    Ok(to_wire(state.catalog, row, source_ids, &paths))
}

/// A workspace's destinations (viewer).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<Destination>, IntegrationError> {
    integrations::require_reader(&state.db, actor, workspace_id).await?;
    let rows: Vec<DestinationRow> = sqlx::query_as(&format!(
        "SELECT {} FROM destinations WHERE workspace_id = $1 ORDER BY name, id",
        DestinationRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut sources_of =
        integrations::connected_in_workspace::<Destinations>(&state.db, workspace_id).await?;
    let mut paths = integrations::secret_paths_in_workspace(&state.db, workspace_id).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.common.id.clone();
            let key = (Destinations::RESOURCE.to_string(), id.clone());
            to_wire(
                state.catalog,
                row,
                sources_of.remove(&id).unwrap_or_default(),
                &paths.remove(&key).unwrap_or_default(),
            )
        })
        .collect())
}

/// One destination (viewer).
pub async fn get(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Destination, IntegrationError> {
    integrations::require_reader(&state.db, actor, workspace_id).await?;
    load(state, workspace_id, id).await
}

/// Adds a destination (editor): its secret fields are encrypted and never shown again.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: integrations::NewIntegration,
) -> Result<Destination, IntegrationError> {
    let id = integrations::create::<Destinations>(state, actor, workspace_id, input).await?;
    load(state, workspace_id, &id).await
}

/// Changes a destination (editor).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
    change: integrations::IntegrationChange,
) -> Result<Destination, IntegrationError> {
    integrations::update::<Destinations>(state, actor, workspace_id, id, change).await?;
    load(state, workspace_id, id).await
}

/// Deletes a destination, its connections and its stored credentials (editor).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), IntegrationError> {
    integrations::delete::<Destinations>(state, actor, workspace_id, id).await
}
