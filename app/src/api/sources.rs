use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// The source definition's name (`Javascript`, `webhook`, `snowflake`…); see `GET /api/v1/catalog/sources`.
    #[serde(rename = "type")]
    pub source_type: String,
    pub enabled: bool,
    /// The key SDKs and webhooks send events with. Not a secret: it ships in web pages and apps.
    pub write_key: String,
    /// The config without its secret fields.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: Value,
    /// Each secret field of the definition (and each stored secret inside arrays): whether a value is set.
    pub secrets: BTreeMap<String, bool>,
    /// Ids of the destinations this source is connected to.
    pub destination_ids: Vec<String>,
    /// Changes with every change to this resource; also its `ETag`. Send it back (`If-Match`, or `revision` in
    /// a PATCH body) and a change made by someone else since you read it is a 409 instead of being undone.
    pub revision: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateSource {
    pub name: String,
    #[serde(rename = "type")]
    pub source_type: String,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: Option<Value>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PATCH …/sources/{id}`. `config`, when given, replaces the stored config; a secret field that is
/// absent keeps its stored value, a new value replaces it, `null` clears it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub config: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The `revision` the change was made on (like `If-Match`): when the stored one is no longer it, the
    /// answer is a 409 naming the current revision. Without it, the change applies to whatever is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

// `config` may hold secret fields (written in clear by the caller): never printed.
debug_without_secrets!(CreateSource { name, source_type, enabled; config });
debug_without_secrets!(UpdateSource { name, enabled, revision; config });
