//! Builds a workspace's data-plane documents from the database: rudder-server's `ConfigT` (with secrets) and
//! one JavaScript SDK `sourceConfig` per write key (without). Runs when something changes, never per request.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::resolve::{browser_config, definition_config, resolve};
use crate::http::error::{ApiResult, AppError};
use crate::secrets::fields::insert_secrets;
use crate::secrets::store;
use crate::state::AppState;
use crate::time::format_ms;

/// A response body and its strong ETag.
pub struct Document {
    pub body: Bytes,
    pub etag: http::HeaderValue,
}

impl Document {
    pub fn new(body: Vec<u8>) -> Document {
        let digest = Sha256::digest(&body);
        let etag = http::HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16])))
            .expect("hex is a header value");
        Document {
            body: Bytes::from(body),
            etag,
        }
    }
}

pub struct WorkspaceSnapshot {
    pub workspace_id: String,
    pub updated_at_ms: i64,
    /// The `ConfigT` object `/workspaceConfig` serves.
    pub config: Document,
    /// `sourceConfig` documents by write key (every source, enabled or not).
    pub source_configs: HashMap<String, Document>,
    /// (token id, token hash) of the workspace's data-plane tokens.
    pub tokens: Vec<(String, String)>,
}

type SourceRow = (String, String, String, String, String, i64, i64, i64);
type DestinationRow = (String, String, String, String, i64, String, i64, i64);

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

    struct Dest<'a> {
        row: &'a DestinationRow,
        config: Value,
    }
    let mut destinations_by_id: HashMap<&str, Dest> = HashMap::new();
    for row in &destinations {
        let mut config: Value = serde_json::from_str(&row.3).unwrap_or_else(|_| json!({}));
        if let Some(entry) = state.catalog.destination(&row.2) {
            insert_secrets(
                &mut config,
                &take_secrets("destination", &row.0),
                &entry.definition.secret_keys,
            );
        }
        destinations_by_id.insert(row.0.as_str(), Dest { row, config });
    }
    let mut connected: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut connection_map = Map::new();
    for (id, source_id, destination_id) in &connections {
        connected
            .entry(source_id.as_str())
            .or_default()
            .push(destination_id.as_str());
        connection_map.insert(
            id.clone(),
            json!({"sourceId": source_id, "destinationId": destination_id, "enabled": true, "config": {}, "processorEnabled": true}),
        );
    }

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
        for destination_id in connected.get(id.as_str()).into_iter().flatten() {
            let Some(dest) = destinations_by_id.get(destination_id) else {
                continue;
            };
            let (
                dest_id,
                dest_name,
                dest_type,
                _,
                dest_enabled,
                revision_id,
                dest_created,
                dest_updated,
            ) = dest.row;
            if *dest_enabled != 1 {
                continue;
            }
            let Some(entry) = state.catalog.destination(dest_type) else {
                continue;
            };
            let definition = &entry.definition;
            let resolved = resolve(definition, &dest.config, &source_definition.source_type);
            browser_destinations.push(json!({
                "id": dest_id,
                "name": dest_name,
                "enabled": true,
                "deleted": false,
                "updatedAt": format_ms(*dest_updated),
                "config": browser_config(definition, &resolved),
                "destinationDefinition": {
                    "name": definition.name,
                    "displayName": definition.display_name,
                    "updatedAt": format_ms(*dest_updated),
                },
                "shouldApplyDeviceModeTransformation": false,
                "propagateEventsUntransformedOnError": false,
            }));
            data_plane_destinations.push(json!({
                "id": dest_id,
                "name": dest_name,
                "enabled": true,
                "workspaceId": workspace_id,
                "revisionId": revision_id,
                "isProcessorEnabled": resolved.is_processor_enabled(),
                "isConnectionEnabled": true,
                "config": Value::Object(resolved.config),
                "transformations": [],
                "secretConfig": {},
                "destinationDefinition": {
                    "id": definition.id,
                    "name": definition.name,
                    "displayName": definition.display_name,
                    "config": definition_config(definition),
                },
                "deleted": false,
                "createdAt": format_ms(*dest_created),
                "updatedAt": format_ms(*dest_updated),
            }));
        }

        let sdk_document = json!({
            "isHosted": false,
            "source": {
                "id": id,
                "name": name,
                "writeKey": write_key,
                "workspaceId": workspace_id,
                "enabled": enabled,
                "updatedAt": format_ms(*updated_at),
                "config": {"statsCollection": {"errors": {"enabled": false}, "metrics": {"enabled": false}}},
                "destinations": if enabled { browser_destinations } else { Vec::new() },
            }
        });
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
        config_sources.push(json!({
            "id": id,
            "name": name,
            "writeKey": write_key,
            "enabled": true,
            "workspaceId": workspace_id,
            "config": source_config,
            "sourceDefinitionId": source_definition.id,
            "sourceDefinition": {
                "id": source_definition.id,
                "name": source_definition.data_plane_name(),
                "displayName": source_definition.display_name,
                "category": source_definition.category,
                "type": source_definition.source_type,
            },
            "destinations": data_plane_destinations,
            "transient": false,
            "geoEnrichment": {"enabled": false},
            "deleted": false,
            "createdAt": format_ms(*created_at),
            "updatedAt": format_ms(*updated_at),
        }));
    }

    let config = json!({
        "workspaceId": workspace_id,
        "enableMetrics": false,
        "updatedAt": format_ms(updated_at_ms),
        "sources": config_sources,
        "libraries": [],
        "settings": {
            "dataRetention": {
                "disableReportingPii": false,
                "useSelfStorage": false,
                "storagePreferences": {"gatewayDumps": false},
                "retentionPeriod": "default",
            },
            "eventAuditEnabled": false,
            "eventBlocking": {"events": {}},
        },
        "flags": {"url": "", "services": {}},
        "eventReplays": {},
        "credentials": {},
        "connections": connection_map,
        "accounts": {},
        "accountDefinitions": {},
    });
    Ok(Some(WorkspaceSnapshot {
        workspace_id: workspace_id.to_string(),
        updated_at_ms,
        config: Document::new(serde_json::to_vec(&config).map_err(AppError::internal)?),
        source_configs,
        tokens,
    }))
}
