//! Builds a workspace's data-plane documents: rudder-server's `ConfigT` (with secrets) and one JavaScript SDK
//! `sourceConfig` per write key (without). Runs when something changes, never per request: the rows are read
//! (`WorkspaceRows`), the secrets decrypted, then the documents serialized and compressed off the async
//! runtime (`build`, a plain function of its inputs).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::document::Document;
use super::resolve::DefinitionView;
use crate::catalog::Catalog;
use crate::connections::ConnectionRow;
use crate::consent::{ConsentRows, Served};
use crate::db::Db;
use crate::integrations::{DestinationRow, SourceRow, StoredRow};
use crate::live::captures::{CaptureRow, CaptureState};
use crate::live::WorkspaceLive;
use crate::secrets::fields::insert_secrets;
use crate::secrets::keys::KeyError;
use crate::secrets::store::{self, SecretRow};
use crate::secrets::Keyring;
use crate::time::{format_ms, now_ms};
use crate::tracking_plans::{self, links::LinkRow};

pub struct WorkspaceSnapshot {
    pub workspace_id: String,
    /// The config's `updatedAt`, stamped when the change was committed.
    pub updated_at_ms: i64,
    /// When this replica began serving this content (`updatedAt` aside, it may be later: see
    /// `Snapshot::namespace_body`).
    pub served_since_ms: i64,
    /// The `ConfigT` object `/workspaceConfig` serves (also spliced into namespace documents).
    pub config: Document,
    /// `sourceConfig` documents by write key (every source, enabled or not).
    pub source_configs: HashMap<String, Document>,
    /// (token id, token hash) of the workspace's data-plane tokens.
    pub tokens: Vec<(String, String)>,
    /// What the live pipeline needs: revision, payload setting, entities, open captures.
    pub live: WorkspaceLive,
}

/// Everything a workspace's documents are built from, as stored.
pub struct WorkspaceRows {
    pub workspace_id: String,
    pub config_updated_at: i64,
    pub config_revision: i64,
    pub live_payloads: bool,
    pub captures: Vec<CaptureRow>,
    pub sources: Vec<SourceRow>,
    pub destinations: Vec<DestinationRow>,
    pub connections: Vec<ConnectionRow>,
    pub tokens: Vec<(String, String)>,
    pub secrets: Vec<SecretRow>,
    pub consent: ConsentRows,
    /// Sources' links to tracking-plan versions.
    pub tracking_plan_links: Vec<LinkRow>,
}

impl WorkspaceRows {
    /// One workspace's rows; `None` when it no longer exists.
    pub async fn load(db: &Db, workspace_id: &str) -> sqlx::Result<Option<WorkspaceRows>> {
        let Some((config_updated_at, config_revision, live_payloads)): Option<(i64, i64, i64)> =
            sqlx::query_as(
                "SELECT config_updated_at, config_revision, live_payloads FROM workspaces WHERE id = $1",
            )
            .bind(workspace_id)
            .fetch_optional(&db.pool)
            .await?
        else {
            return Ok(None);
        };
        let by_workspace = |table: &str, columns: &str, order: &str| {
            format!("SELECT {columns} FROM {table} WHERE workspace_id = $1 ORDER BY {order}")
        };
        let sources_sql = by_workspace("sources", SourceRow::COLUMNS, "id");
        let destinations_sql = by_workspace("destinations", DestinationRow::COLUMNS, "id");
        let connections_sql = by_workspace("connections", ConnectionRow::COLUMNS, "created_at, id");
        // At once, on several connections: each row crosses from SQLite's thread to the runtime on its own,
        // and a large workspace's rows took longer in sequence than building its documents. (Not one
        // consistent read: a change committed meanwhile publishes again, and that build reads it all.)
        let (
            sources,
            destinations,
            connections,
            tokens,
            secrets,
            captures,
            consent,
            tracking_plan_links,
        ) =
            tokio::try_join!(
            sqlx::query_as(&sources_sql).bind(workspace_id).fetch_all(&db.pool),
            sqlx::query_as(&destinations_sql).bind(workspace_id).fetch_all(&db.pool),
            sqlx::query_as(&connections_sql).bind(workspace_id).fetch_all(&db.pool),
            sqlx::query_as(
                "SELECT id, token_hash FROM data_plane_tokens WHERE workspace_id = $1 ORDER BY id",
            )
            .bind(workspace_id)
            .fetch_all(&db.pool),
            store::rows_of_workspace(db, workspace_id),
            CaptureRow::open_in(db, workspace_id),
            ConsentRows::load(db, workspace_id),
            tracking_plans::links::of_workspace(db, workspace_id),
        )?;
        Ok(Some(WorkspaceRows {
            workspace_id: workspace_id.to_string(),
            config_updated_at,
            config_revision,
            live_payloads: live_payloads != 0,
            captures,
            sources,
            destinations,
            connections,
            tokens,
            secrets,
            consent,
            tracking_plan_links,
        }))
    }

    /// Every workspace's rows, one query per table (the first build of a large instance).
    pub async fn load_all(db: &Db) -> sqlx::Result<Vec<WorkspaceRows>> {
        let workspaces: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, config_updated_at, config_revision, live_payloads FROM workspaces ORDER BY id",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut by_id: HashMap<String, WorkspaceRows> = workspaces
            .into_iter()
            .map(|(id, config_updated_at, config_revision, live_payloads)| {
                (
                    id.clone(),
                    WorkspaceRows {
                        workspace_id: id,
                        config_updated_at,
                        config_revision,
                        live_payloads: live_payloads != 0,
                        captures: Vec::new(),
                        sources: Vec::new(),
                        destinations: Vec::new(),
                        connections: Vec::new(),
                        tokens: Vec::new(),
                        secrets: Vec::new(),
                        consent: ConsentRows::default(),
                        tracking_plan_links: Vec::new(),
                    },
                )
            })
            .collect();
        let all = |table: &str, columns: &str, order: &str| {
            format!("SELECT {columns} FROM {table} ORDER BY {order}")
        };
        for row in sqlx::query_as::<_, SourceRow>(&all("sources", SourceRow::COLUMNS, "id"))
            .fetch_all(&db.pool)
            .await?
        {
            if let Some(ws) = by_id.get_mut(&row.common.workspace_id) {
                ws.sources.push(row);
            }
        }
        for row in
            sqlx::query_as::<_, DestinationRow>(&all("destinations", DestinationRow::COLUMNS, "id"))
                .fetch_all(&db.pool)
                .await?
        {
            if let Some(ws) = by_id.get_mut(&row.common.workspace_id) {
                ws.destinations.push(row);
            }
        }
        for row in sqlx::query_as::<_, ConnectionRow>(&all(
            "connections",
            ConnectionRow::COLUMNS,
            "created_at, id",
        ))
        .fetch_all(&db.pool)
        .await?
        {
            if let Some(ws) = by_id.get_mut(&row.workspace_id) {
                ws.connections.push(row);
            }
        }
        let tokens: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT workspace_id, id, token_hash FROM data_plane_tokens ORDER BY id",
        )
        .fetch_all(&db.pool)
        .await?;
        for (workspace_id, id, hash) in tokens {
            if let Some(ws) = by_id.get_mut(&workspace_id) {
                ws.tokens.push((id, hash));
            }
        }
        for row in store::all_rows(db).await? {
            if let Some(ws) = by_id.get_mut(&row.workspace_id) {
                ws.secrets.push(row);
            }
        }
        for (workspace_id, row) in CaptureRow::all_open(db).await? {
            if let Some(ws) = by_id.get_mut(&workspace_id) {
                ws.captures.push(row);
            }
        }
        for (workspace_id, row) in tracking_plans::links::all(db).await? {
            if let Some(ws) = by_id.get_mut(&workspace_id) {
                ws.tracking_plan_links.push(row);
            }
        }
        for (workspace_id, rows) in ConsentRows::load_all(db).await? {
            if let Some(ws) = by_id.get_mut(&workspace_id) {
                ws.consent = rows;
            }
        }
        let mut out: Vec<WorkspaceRows> = by_id.into_values().collect();
        out.sort_by(|a, b| a.workspace_id.cmp(&b.workspace_id));
        Ok(out)
    }

    /// The decrypted secrets: (resource type, id) → field → value.
    pub async fn open_secrets(&self, keyring: &Keyring) -> Result<Secrets, KeyError> {
        store::open_rows(keyring, &self.workspace_id, &self.secrets).await
    }
}

pub type Secrets = HashMap<(String, String), BTreeMap<String, Value>>;

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
    /// The source's tracking plan, when it is linked to one (rudder-server validates only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    dg_source_tracking_plan_config: Option<Value>,
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
    /// Where the SDK reads each consent manager's resolution strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_management_metadata: Option<&'a Value>,
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

/// Serializes and compresses a workspace's documents: CPU work, run off the async runtime.
pub fn build(
    catalog: &Catalog,
    rows: WorkspaceRows,
    mut secrets: Secrets,
) -> Result<WorkspaceSnapshot, serde_json::Error> {
    let workspace_id = rows.workspace_id.as_str();
    let live = live_view(&rows);
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
    let consent = Served::new(&rows.consent);
    let tracking_plan_links: HashMap<&str, &LinkRow> = rows
        .tracking_plan_links
        .iter()
        .map(|link| (link.source_id.as_str(), link))
        .collect();
    for row in &rows.destinations {
        let common = &row.common;
        let Some(entry) = catalog.destination(&common.type_name) else {
            continue;
        };
        let mut config: Value = serde_json::from_str(&common.config).unwrap_or_else(|_| json!({}));
        insert_secrets(
            &mut config,
            &take_secrets("destination", &common.id),
            &entry.definition.secret_keys,
        );
        views
            .entry(entry.definition.name.as_str())
            .or_insert_with(|| DefinitionView::new(&entry.definition));
        destinations_by_id.insert(
            common.id.as_str(),
            Dest {
                row,
                config,
                updated_at: format_ms(common.updated_at),
            },
        );
    }
    // source id → (connection id, destination id)
    let mut connected: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for connection in &rows.connections {
        connected
            .entry(connection.source_id.as_str())
            .or_default()
            .push((connection.id.as_str(), connection.destination_id.as_str()));
    }
    // Only the connections whose destination the data plane gets, as it gets it.
    let mut connection_map = Map::new();

    let sdk_source_config =
        json!({"statsCollection": {"errors": {"enabled": false}, "metrics": {"enabled": false}}});
    let mut config_sources = Vec::new();
    let mut source_configs = HashMap::new();
    for source in &rows.sources {
        let common = &source.common;
        let Some(source_entry) = catalog.source(&common.type_name) else {
            continue;
        };
        let source_definition = &source_entry.definition;
        let enabled = common.is_enabled();
        let mut data_plane_destinations = Vec::new();
        let mut browser_destinations = Vec::new();
        for (connection_id, destination_id) in
            connected.get(common.id.as_str()).into_iter().flatten()
        {
            let Some(dest) = destinations_by_id.get(destination_id) else {
                continue;
            };
            let destination = &dest.row.common;
            let Some(view) = views
                .get(destination.type_name.as_str())
                .filter(|_| destination.is_enabled())
            else {
                continue;
            };
            let definition = view.definition;
            let mut resolved = view.resolve(&dest.config, &source_definition.source_type);
            if live.capture.destinations.contains(&destination.id) {
                // rudder-server uploads delivery samples while this is on (its destination debugger).
                resolved
                    .config
                    .insert("eventDelivery".into(), Value::Bool(true));
            }
            consent.apply(&destination.id, &mut resolved.config);
            // The JavaScript SDK loads the script of every destination listed here whose name it knows,
            // whatever its mode: a cloud-mode destination listed would get every event twice (from the
            // browser, and from the data plane). So only what the browser itself must deliver.
            let runs_in_browser = resolved.connection_mode != "cloud";
            if enabled {
                connection_map.insert(
                    connection_id.to_string(),
                    json!({"sourceId": common.id, "destinationId": destination.id, "enabled": true, "config": {}, "processorEnabled": resolved.is_processor_enabled()}),
                );
                if runs_in_browser {
                    let mut browser_config = view.browser_config(&resolved);
                    consent.apply(&destination.id, &mut browser_config);
                    browser_destinations.push(SdkDestination {
                        id: &destination.id,
                        name: &destination.name,
                        enabled: true,
                        deleted: false,
                        updated_at: dest.updated_at.clone(),
                        config: browser_config,
                        destination_definition: SdkDestinationDefinition {
                            name: &definition.name,
                            display_name: &definition.display_name,
                            updated_at: dest.updated_at.clone(),
                        },
                        should_apply_device_mode_transformation: false,
                        propagate_events_untransformed_on_error: false,
                    });
                }
            }
            data_plane_destinations.push(DestinationT {
                id: &destination.id,
                name: &destination.name,
                enabled: true,
                workspace_id,
                revision_id: &destination.revision_id,
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
                created_at: format_ms(destination.created_at),
                updated_at: dest.updated_at.clone(),
            });
        }

        // A disabled source stays known to the SDK (it then says "source disabled"), with no destination.
        let sdk_document = SdkConfig {
            is_hosted: false,
            consent_management_metadata: consent.metadata(),
            source: SdkSource {
                id: &common.id,
                name: &common.name,
                write_key: &source.write_key,
                workspace_id,
                enabled,
                updated_at: format_ms(common.updated_at),
                config: &sdk_source_config,
                destinations: browser_destinations,
            },
        };
        source_configs.insert(
            source.write_key.clone(),
            Document::new(serde_json::to_vec(&sdk_document)?),
        );

        if !enabled {
            continue;
        }
        let mut source_config: Value =
            serde_json::from_str(&common.config).unwrap_or_else(|_| json!({}));
        insert_secrets(
            &mut source_config,
            &take_secrets("source", &common.id),
            &source_definition.secret_keys,
        );
        if live.capture.sources.contains(&common.id) {
            // rudder-server uploads samples of what this source receives while this is on.
            if let Some(config) = source_config.as_object_mut() {
                config.insert("eventUpload".into(), Value::Bool(true));
            }
        }
        config_sources.push(SourceT {
            id: &common.id,
            name: &common.name,
            write_key: &source.write_key,
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
            dg_source_tracking_plan_config: tracking_plan_links
                .get(common.id.as_str())
                .map(|link| link.served()),
            transient: false,
            geo_enrichment: Enabled { enabled: false },
            deleted: false,
            created_at: format_ms(common.created_at),
            updated_at: format_ms(common.updated_at),
        });
    }

    let (settings, flags) = (settings(), json!({"url": "", "services": {}}));
    let config = ConfigT {
        workspace_id,
        enable_metrics: false,
        updated_at: format_ms(rows.config_updated_at),
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
    let config = Document::spliceable(serde_json::to_vec(&config)?);
    Ok(WorkspaceSnapshot {
        workspace_id: rows.workspace_id.clone(),
        updated_at_ms: rows.config_updated_at,
        served_since_ms: now_ms(),
        config,
        source_configs,
        tokens: rows.tokens,
        live,
    })
}

/// The live pipeline's view of the workspace: its entities, and what its open captures cover.
fn live_view(rows: &WorkspaceRows) -> WorkspaceLive {
    WorkspaceLive {
        revision: rows.config_revision,
        payloads: rows.live_payloads,
        sources: rows
            .sources
            .iter()
            .map(|s| (s.common.id.clone(), s.common.name.clone()))
            .collect(),
        write_keys: rows
            .sources
            .iter()
            .map(|s| (s.write_key.clone(), s.common.id.clone()))
            .collect(),
        destinations: rows
            .destinations
            .iter()
            .map(|d| (d.common.id.clone(), d.common.name.clone()))
            .collect(),
        capture: CaptureState::from_rows(
            &rows.captures,
            rows.sources.iter().map(|s| s.common.id.as_str()),
            rows.destinations.iter().map(|d| d.common.id.as_str()),
        ),
    }
}
