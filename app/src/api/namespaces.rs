use serde::{Deserialize, Serialize};

/// A namespace groups workspaces for a multi-tenant data plane (rudder-server with
/// `DEPLOYMENT_TYPE=MULTITENANT`, `WORKSPACE_NAMESPACE` and `HOSTED_SERVICE_SECRET`). Instance admins manage them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub id: String,
    /// The value a data plane sets as `WORKSPACE_NAMESPACE`.
    pub name: String,
    pub workspace_ids: Vec<String>,
    pub secret_prefix: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateNamespace {
    pub name: String,
    #[serde(default)]
    pub workspace_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateNamespace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_ids: Option<Vec<String>>,
}

/// The answer to a namespace creation or secret rotation: the hosted secret, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NamespaceWithSecret {
    pub namespace: Namespace,
    /// The value a data plane sets as `HOSTED_SERVICE_SECRET`.
    pub secret: String,
}

/// `GET /api/v1/instance/workspaces`: every workspace of this Wheelhouse, whoever its members are, so that an
/// instance admin can group them into namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstanceWorkspace {
    pub id: String,
    pub name: String,
    /// The namespace it is in (a workspace is in at most one).
    pub namespace_id: Option<String>,
}

debug_without_secrets!(NamespaceWithSecret { namespace; secret });
