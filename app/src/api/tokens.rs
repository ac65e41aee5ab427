use serde::{Deserialize, Serialize};

use super::workspaces::Role;

/// An API token: `Authorization: Bearer <token>` on any `/api/v1` route, limited to one workspace and
/// to a role (never more than its creator's current role there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub workspace_id: String,
    pub role: Role,
    /// The first characters of the token, to recognise it; the token itself is shown once.
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateApiToken {
    pub name: String,
    pub workspace_id: String,
    pub role: Role,
}

/// The answer to a token creation: the only time the token is ever shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
}

/// A data-plane token: what a rudder-server uses as its `WORKSPACE_TOKEN` to pull this workspace's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DataPlaneToken {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateDataPlaneToken {
    pub name: String,
}

debug_without_secrets!(CreatedToken { id; token });
