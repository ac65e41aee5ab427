use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A destination integration definition, as in `server/catalog/destinations/*.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationDefinition {
    pub id: String,
    /// RudderStack's definition name (`WEBHOOK`, `AM`, `GA4`…): the `type` of a destination.
    pub name: String,
    pub display_name: String,
    pub category: String,
    pub description: String,
    /// Where rudder-server transforms events (`processor`, `router`); none for device-mode-only integrations.
    #[serde(rename = "transformAtV1")]
    pub transform_at_v1: Option<String>,
    pub supported_source_types: Vec<String>,
    /// Source type → the connection modes (`cloud`, `device`, `hybrid`) this destination supports for it.
    pub supported_connection_modes: BTreeMap<String, Vec<String>>,
    /// Per connection mode, the message types it delivers (`{"cloud": ["track", …]}`); `null` when the
    /// definition does not restrict them.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub supported_message_types: Value,
    /// Source type → `{"messageType": [...]}`: in hybrid mode, the message types rudder-server still delivers
    /// from the cloud (the device-mode SDK sends the rest). Only for definitions with a hybrid mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub hybrid_mode_cloud_events_filter: Option<Value>,
    /// Config keys that are secret: write-only through the API, encrypted at rest.
    /// A dotted key (`headers.to`) names a field of every item of an array.
    pub secret_keys: Vec<String>,
    /// Config keys a browser SDK may see.
    pub include_keys: Vec<String>,
    pub exclude_keys: Vec<String>,
    /// `defaultConfig`: keys for every source type; `<sourceType>`: keys whose value is kept per source type.
    pub dest_config: BTreeMap<String, Vec<String>>,
    /// JSON Schema of `config`.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config_schema: Value,
}

/// A source integration definition, as in `server/catalog/sources/*.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceDefinition {
    pub id: String,
    /// The `type` of a source (`Javascript`, `webhook`, `watchOS`…).
    pub name: String,
    /// RudderStack's definition name told to data planes, when it differs from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_name: Option<String>,
    pub display_name: String,
    /// RudderStack's category: none for event-stream SDKs, `webhook`, `singer-protocol`, `warehouse`.
    pub category: Option<String>,
    /// RudderStack's source type (`web`, `ios`, `cloud`, `warehouse`…): which destinations may connect.
    #[serde(rename = "type")]
    pub source_type: String,
    /// UI grouping: `sdk`, `server`, `webhook`, `cloud`, `warehouse`.
    pub group: String,
    pub description: String,
    pub secret_keys: Vec<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config_schema: Value,
}

impl SourceDefinition {
    /// The definition name a data plane knows this source by.
    pub fn data_plane_name(&self) -> &str {
        self.definition_name.as_deref().unwrap_or(&self.name)
    }
}

impl DestinationDefinition {
    pub fn supports_source_type(&self, source_type: &str) -> bool {
        self.supported_source_types.iter().any(|t| t == source_type)
    }
}

/// What the catalog list shows of a destination definition (`GET /api/v1/catalog/destinations`): enough to
/// find one and to tell which sources it accepts; the whole definition, with its config schema, is
/// `GET /api/v1/catalog/destinations/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationSummary {
    pub name: String,
    pub display_name: String,
    pub category: String,
    pub description: String,
    pub supported_source_types: Vec<String>,
}

/// What the catalog list shows of a source definition (`GET /api/v1/catalog/sources`); the whole definition
/// is `GET /api/v1/catalog/sources/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceSummary {
    pub name: String,
    pub display_name: String,
    /// RudderStack's source type (`web`, `cloud`, …): which destinations may connect.
    #[serde(rename = "type")]
    pub source_type: String,
    /// UI grouping: `sdk`, `server`, `webhook`, `cloud`, `warehouse`.
    pub group: String,
    pub description: String,
}

impl DestinationSummary {
    pub fn supports_source_type(&self, source_type: &str) -> bool {
        self.supported_source_types.iter().any(|t| t == source_type)
    }
}

impl From<&DestinationDefinition> for DestinationSummary {
    fn from(d: &DestinationDefinition) -> Self {
        DestinationSummary {
            name: d.name.clone(),
            display_name: d.display_name.clone(),
            category: d.category.clone(),
            description: d.description.clone(),
            supported_source_types: d.supported_source_types.clone(),
        }
    }
}

impl From<&SourceDefinition> for SourceSummary {
    fn from(d: &SourceDefinition) -> Self {
        SourceSummary {
            name: d.name.clone(),
            display_name: d.display_name.clone(),
            source_type: d.source_type.clone(),
            group: d.group.clone(),
            description: d.description.clone(),
        }
    }
}
