//! Destinations: where events go (analytics and ad tools, streams, storage, warehouses), with their
//! credentials encrypted. What a destination shares with a source (list, create, change with secrets, delete)
//! is `integrations`; here is how the API shows one, with the sources that send to it.

mod handlers;

use app::api::catalog::DestinationDefinition;
use app::api::destinations::Destination;
use serde_json::Value;

pub use handlers::routes;

use crate::catalog::{self, Catalog};
use crate::integrations::{DestinationRow, IntegrationKind};
use crate::secrets::fields::secret_status;
use crate::time::format_ms;

pub enum Destinations {}

impl IntegrationKind for Destinations {
    const RESOURCE: &'static str = "destination";
    const TABLE: &'static str = "destinations";
    const CONNECTED_AS: &'static str = "destination_id";
    const CONNECTED_TO: &'static str = "source_id";
    type Definition = DestinationDefinition;
    type Row = DestinationRow;
    type Wire = Destination;

    fn entry<'c>(catalog: &'c Catalog, name: &str) -> Option<&'c catalog::Entry<Self::Definition>> {
        catalog.destination(name)
    }

    fn new_columns() -> Vec<(&'static str, String)> {
        Vec::new()
    }

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
}
