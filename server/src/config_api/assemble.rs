//! Builds a workspace's data-plane documents from the database: rudder-server's `ConfigT` (with secrets) and
//! one JavaScript SDK `sourceConfig` per write key (without). Runs when something changes, never per request.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use serde::Serialize;

use super::document::Document;
use super::resolve::DefinitionView;
use crate::http::error::{ApiResult, AppError};
use crate::secrets::fields::insert_secrets;
use crate::secrets::store;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub struct WorkspaceSnapshot {
    pub workspace_id: String,
    /// The config's `updatedAt`, stamped when the change was committed.
    pub updated_at_ms: i64,
    /// When this replica began serving this content (`updatedAt` aside, it may be later: see
    /// `Index::namespace_body`).
    pub served_since_ms: i64,
    /// The `ConfigT` object `/workspaceConfig` serves.
    pub config: Document,
    /// `sourceConfig` documents by write key (every source, enabled or not).
    pub source_configs: HashMap<String, Document>,
    /// (token id, token hash) of the workspace's data-plane tokens.
    pub tokens: Vec<(String, String)>,
}

type SourceRow = (String, String, String, String, String, i64, i64, i64);
type DestinationRow = (String, String, String, String, i64, String, i64, i64);

// The documents, as the real clients read them (`../shared/reference/rudderstack-protocol.md` §1.5, §5.2).
// Typed and borrowing, so that a large workspace serializes without building a JSON tree first.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigT<'a> {
    workspace_id: &'a str,
    enable_metrics: bool,
    updated_at: String,
    sources: Vec<SourceT<'a>>,
    libraries: [(); 0],
    settings: &'a Value,
    flags: &'a Value,
    event_replays: Empty,
    credentials: Empty,
    connections: Map<String, Value>,
    accounts: Empty,
    account_definitions: Empty,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceT<'a> {
    id: &'a str,
    name: &'a str,
    write_key: &'a str,
    enabled: bool,
    workspace_id: &'a str,
    config: Value,
    source_definition_id: &'a str,
    source_definition: SourceDefinitionT<'a>,
    destinations: Vec<DestinationT<'a>>,
    transient: bool,
    geo_enrichment: Enabled,
    deleted: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceDefinitionT<'a> {
    id: &'a str,
    name: &'a str,
    display_name: &'a str,
    category: Option<&'a str>,
    #[serde(rename = "type")]
    source_type: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DestinationT<'a> {
    id: &'a str,
    name: &'a str,
    enabled: bool,
    workspace_id: &'a str,
    revision_id: &'a str,
    is_processor_enabled: bool,
    is_connection_enabled: bool,
    config: Map<String, Value>,
    transformations: [(); 0],
    secret_config: Empty,
    destination_definition: DestinationDefinitionT<'a>,
    deleted: bool,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DestinationDefinitionT<'a> {
    id: &'a str,
    name: &'a str,
    display_name: &'a str,
    config: &'a Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SdkConfig<'a> {
    is_hosted: bool,
    source: SdkSource<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SdkSource<'a> {
    id: &'a str,
    name: &'a str,
    write_key: &'a str,
    workspace_id: &'a str,
    enabled: bool,
    updated_at: String,
    config: &'a Value,
    destinations: Vec<SdkDestination<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SdkDestination<'a> {
    id: &'a str,
    name: &'a str,
    enabled: bool,
    deleted: bool,
    updated_at: String,
    config: Map<String, Value>,
    destination_definition: SdkDestinationDefinition<'a>,
    should_apply_device_mode_transformation: bool,
    propagate_events_untransformed_on_error: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SdkDestinationDefinition<'a> {
    name: &'a str,
    display_name: &'a str,
    updated_at: String,
}

fn settings() -> Value {
    json!({
        "dataRetention": {
            "disableReportingPii": false,
            "useSelfStorage": false,
            "storagePreferences": {"gatewayDumps": false},
            "retentionPeriod": "default",
        },
        "eventAuditEnabled": false,
        "eventBlocking": {"events": {}},
    })
}

/// `None` when the workspace no longer exists.
pub async fn assemble(
    state: &AppState,
    workspace_id: &str,
) -> ApiResult<Option<WorkspaceSnapshot>> {
    let db = &state.db;
    let Some(updated_at_ms): Option<i64> =
        sqlx::query_scalar("SELECT config_updated_at FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_optional(&db.pool)
            .await?
    else {
        return Ok(None);
    };
    let sources: Vec<SourceRow> = sqlx::query_as(
        "SELECT id, name, type, config, write_key, enabled, created_at, updated_at FROM sources WHERE workspace_id = $1 ORDER BY id",
    )
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let destinations: Vec<DestinationRow> = sqlx::query_as(
        "SELECT id, name, type, config, enabled, revision_id, created_at, updated_at FROM destinations WHERE workspace_id = $1 ORDER BY id",
    )
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let connections: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, source_id, destination_id FROM connections WHERE workspace_id = $1 ORDER BY created_at, id",
    )
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let tokens: Vec<(String, String)> =
        sqlx::query_as("SELECT id, token_hash FROM data_plane_tokens WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_all(&db.pool)
            .await?;
    let mut secrets = store::open_workspace(db, &state.keyring, workspace_id)
        .await
        .map_err(AppError::internal)?;
    let mut take_secrets = |resource_type: &str, id: &str| -> BTreeMap<String, Value> {
        secrets
            .remove(&(resource_type.to_string(), id.to_string()))
            .unwrap_or_default()
    };

    // Each definition's derived data once, however many destinations use it.
    let mut views: HashMap<&str, DefinitionView> = HashMap::new();
    struct Dest<'a> {
        row: &'a DestinationRow,
        config: Value,
        updated_at: String,
    }
    let mut destinations_by_id: HashMap<&str, Dest> = HashMap::new();
    for row in &destinations {
        let Some(entry) = state.catalog.destination(&row.2) else {
            continue;
        };
        let mut config: Value = serde_json::from_str(&row.3).unwrap_or_else(|_| json!({}));
        insert_secrets(
            &mut config,
            &take_secrets("destination", &row.0),
            &entry.definition.secret_keys,
        );
        views
            .entry(entry.definition.name.as_str())
            .or_insert_with(|| DefinitionView::new(&entry.definition));
        destinations_by_id.insert(
            row.0.as_str(),
            Dest {
                row,
                config,
                updated_at: format_ms(row.7),
            },
        );
    }
    // source id → (connection id, destination id)
    let mut connected: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for (id, source_id, destination_id) in &connections {
        connected
            .entry(source_id.as_str())
            .or_default()
            .push((id.as_str(), destination_id.as_str()));
    }
    // Only the connections whose destination the data plane gets, as it gets it.
    let mut connection_map = Map::new();

    let sdk_source_config =
        json!({"statsCollection": {"errors": {"enabled": false}, "metrics": {"enabled": false}}});
    let mut config_sources = Vec::new();
    let mut source_configs = HashMap::new();
    for (id, name, source_type, config, write_key, enabled, created_at, updated_at) in &sources {
        let Some(source_entry) = state.catalog.source(source_type) else {
            continue;
        };
        let source_definition = &source_entry.definition;
        let enabled = *enabled == 1;
        let mut data_plane_destinations = Vec::new();
        let mut browser_destinations = Vec::new();
        for (connection_id, destination_id) in connected.get(id.as_str()).into_iter().flatten() {
            let Some(dest) = destinations_by_id.get(destination_id) else {
                continue;
            };
            let (dest_id, dest_name, dest_type, _, dest_enabled, revision_id, dest_created, _) =
                dest.row;
            let Some(view) = views.get(dest_type.as_str()).filter(|_| *dest_enabled == 1) else {
                continue;
            };
            let definition = view.definition;
            let resolved = view.resolve(&dest.config, &source_definition.source_type);
            if enabled {
                connection_map.insert(
                    connection_id.to_string(),
                    json!({"sourceId": id, "destinationId": dest_id, "enabled": true, "config": {}, "processorEnabled": resolved.is_processor_enabled()}),
                );
                browser_destinations.push(SdkDestination {
                    id: dest_id,
                    name: dest_name,
                    enabled: true,
                    deleted: false,
                    updated_at: dest.updated_at.clone(),
                    config: view.browser_config(&resolved),
                    destination_definition: SdkDestinationDefinition {
                        name: &definition.name,
                        display_name: &definition.display_name,
                        updated_at: dest.updated_at.clone(),
                    },
                    should_apply_device_mode_transformation: false,
                    propagate_events_untransformed_on_error: false,
                });
            }
            data_plane_destinations.push(DestinationT {
                id: dest_id,
                name: dest_name,
                enabled: true,
                workspace_id,
                revision_id,
                is_processor_enabled: resolved.is_processor_enabled(),
                is_connection_enabled: true,
                config: resolved.config,
                transformations: [],
                secret_config: Empty {},
                destination_definition: DestinationDefinitionT {
                    id: &definition.id,
                    name: &definition.name,
                    display_name: &definition.display_name,
                    config: &view.data_plane_config,
                },
                deleted: false,
                created_at: format_ms(*dest_created),
                updated_at: dest.updated_at.clone(),
            });
        }

        // A disabled source stays known to the SDK (it then says "source disabled"), with no destination.
        let sdk_document = SdkConfig {
            is_hosted: false,
            source: SdkSource {
                id,
                name,
                write_key,
                workspace_id,
                enabled,
                updated_at: format_ms(*updated_at),
                config: &sdk_source_config,
                destinations: browser_destinations,
            },
        };
        source_configs.insert(
            write_key.clone(),
            Document::new(serde_json::to_vec(&sdk_document).map_err(AppError::internal)?),
        );

        if !enabled {
            continue;
        }
        let mut source_config: Value = serde_json::from_str(config).unwrap_or_else(|_| json!({}));
        insert_secrets(
            &mut source_config,
            &take_secrets("source", id),
            &source_definition.secret_keys,
        );
        config_sources.push(SourceT {
            id,
            name,
            write_key,
            enabled: true,
            workspace_id,
            config: source_config,
            source_definition_id: &source_definition.id,
            source_definition: SourceDefinitionT {
                id: &source_definition.id,
                name: source_definition.data_plane_name(),
                display_name: &source_definition.display_name,
                category: source_definition.category.as_deref(),
                source_type: &source_definition.source_type,
            },
            destinations: data_plane_destinations,
            transient: false,
            geo_enrichment: Enabled { enabled: false },
            deleted: false,
            created_at: format_ms(*created_at),
            updated_at: format_ms(*updated_at),
        });
    }

    let (settings, flags) = (settings(), json!({"url": "", "services": {}}));
    let config = ConfigT {
        workspace_id,
        enable_metrics: false,
        updated_at: format_ms(updated_at_ms),
        sources: config_sources,
        libraries: [],
        settings: &settings,
        flags: &flags,
        event_replays: Empty {},
        credentials: Empty {},
        connections: connection_map,
        accounts: Empty {},
        account_definitions: Empty {},
    };
    Ok(Some(WorkspaceSnapshot {
        workspace_id: workspace_id.to_string(),
        updated_at_ms,
        served_since_ms: now_ms(),
        config: Document::new(serde_json::to_vec(&config).map_err(AppError::internal)?),
        source_configs,
        tokens,
    }))
}
