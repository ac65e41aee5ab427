//! Sources: where events come from (SDKs, webhooks, cloud apps, warehouse tables for reverse ETL). What a
//! source shares with a destination (list, create, change with secrets, delete) is `integrations`; here is
//! what only a source has: its write key, and the destinations it sends to.

mod handlers;

use app::api::catalog::SourceDefinition;
use app::api::sources::Source;
use app::api::workspaces::Role;
use serde_json::Value;

pub use handlers::routes;

use crate::access::{self, Actor};
use crate::audit::{self, Changes};
use crate::catalog::{self, Catalog};
use crate::ids::new_write_key;
use crate::integrations::{self, IntegrationError, IntegrationKind, SourceRow};
use crate::secrets::fields::secret_status;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub enum Sources {}

impl IntegrationKind for Sources {
    const RESOURCE: &'static str = "source";
    const TABLE: &'static str = "sources";
    const CONNECTED_AS: &'static str = "source_id";
    const CONNECTED_TO: &'static str = "destination_id";
    type Definition = SourceDefinition;
    type Row = SourceRow;
    type Wire = Source;

    fn entry<'c>(catalog: &'c Catalog, name: &str) -> Option<&'c catalog::Entry<Self::Definition>> {
        catalog.source(name)
    }

    fn new_columns() -> Vec<(&'static str, String)> {
        vec![("write_key", new_write_key())]
    }

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
}

/// Gives a source a new write key (editor). The old one stops working at once.
pub async fn rotate_write_key(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<Source, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = integrations::load_common::<Sources>(&state.db, workspace_id, id).await?;
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
            .named(&current.name)
            .with(Changes::new().set("writeKey", "rotated")),
    )
    .await?;
    integrations::load::<Sources>(state, workspace_id, id).await
}
