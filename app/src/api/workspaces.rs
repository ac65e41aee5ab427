use serde::{Deserialize, Serialize};

/// A member's role in a workspace. Each role can do everything the roles of a lower rank can.
///
/// Roles compare by `rank` only: the enum deliberately has no ordering, so that reordering its variants (or
/// adding one) cannot silently change who may do what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but secrets.
    Viewer,
    /// Also edits sources, destinations and connections.
    Editor,
    /// Also manages members, invites, API tokens and data-plane tokens.
    Admin,
    /// Also deletes the workspace or hands it over.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Editor, Role::Admin, Role::Owner];

    /// What a role may do, as a number: a role may do everything a role of a lower rank may.
    pub const fn rank(self) -> u8 {
        match self {
            Role::Viewer => 10,
            Role::Editor => 20,
            Role::Admin => 30,
            Role::Owner => 40,
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn at_least(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// The lower of two roles (an API token acts with the lower of its own role and its creator's).
    pub fn lower(self, other: Role) -> Role {
        if self.rank() <= other.rank() {
            self
        } else {
            other
        }
    }

    /// The higher of two roles.
    pub fn higher(self, other: Role) -> Role {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Editor => "Editor",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: String,
    pub name: String,
    /// The caller's role in this workspace.
    pub role: Role,
    /// How long the audit log keeps an entry, in days (400 unless changed).
    pub audit_retention_days: u32,
    /// Whether the live debugger captures event payloads (true unless turned off). When off, payloads and
    /// destination responses are dropped as they arrive, for everyone.
    pub live_payloads: bool,
    /// Whether event samples in volume and error reports are dropped as they arrive (rudder-server's
    /// `disableReportingPii`; false unless set).
    pub disable_reporting_pii: bool,
    /// How long event volume is kept per minute, in hours (48 unless changed); then it is kept per hour.
    pub volume_minute_retention_hours: u32,
    /// How long event volume is kept per hour, in days (30 unless changed); then it is kept per day.
    pub volume_hour_retention_days: u32,
    /// How long event volume is kept per day, in days (400 unless changed).
    pub volume_day_retention_days: u32,
    /// How long failed events' error reports and samples are kept, in days (30 unless changed).
    pub error_retention_days: u32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkspace {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateWorkspace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 1 to 3650 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub audit_retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_payloads: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_reporting_pii: Option<bool>,
    /// 1 to 168 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 168))]
    pub volume_minute_retention_hours: Option<u32>,
    /// 1 to 90 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 90))]
    pub volume_hour_retention_days: Option<u32>,
    /// 1 to 3650 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 3650))]
    pub volume_day_retention_days: Option<u32>,
    /// 1 to 365 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 365))]
    pub error_retention_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateMember {
    pub role: Role,
}

/// `POST /api/v1/workspaces/{ws}/transfer`: the owner hands the workspace over to another member,
/// and stays on as an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TransferOwnership {
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateInvite {
    pub email: String,
    pub role: Role,
}

/// `GET /api/v1/invites/preview?token=…`: what an invite link offers, before accepting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitePreview {
    pub workspace_name: String,
    pub email: String,
    pub role: Role,
    /// An account with this email exists: accepting needs its password (or a session), not a new one.
    pub account_exists: bool,
}

/// `POST /api/v1/invites/accept`. A new account gives `name` and `password`; an existing account
/// accepts while signed in, or gives its `password`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AcceptInvite {
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InviteAccepted {
    pub workspace_id: String,
}

debug_without_secrets!(AcceptInvite { name; token, password });
