//! Who acts, and what they may do in a workspace.
//!
//! Every domain function takes the [`Actor`]: a signed-in person, an API token acting for its creator, or
//! Wheelhouse itself (a job). The HTTP layer builds it from a session cookie or a Bearer token; a job builds a
//! system actor. [`require`] answers whether the actor may act in a workspace with at least a role: a
//! workspace the actor is not in is `NotFound` (it may not even learn that it exists), a role too low is
//! `Forbidden`.

use std::net::IpAddr;

use app::api::workspaces::Role;

use crate::db::Db;
use crate::error::{DbError, DomainError, Kind};

/// Who acts.
#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    /// What people recognise the actor by in the audit log (an email address, a token's name).
    pub label: String,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub enum ActorKind {
    /// A person, signed in.
    Person { user_id: String },
    /// A script with an API token: acts for the user who created it, within one workspace and the lower of
    /// the token's role and the creator's current role there.
    ApiToken {
        user_id: String,
        token_id: String,
        workspace_id: String,
        role: Role,
    },
    /// Wheelhouse itself: a background job or a command run by the operator.
    System { task: &'static str },
}

/// Where a change came from, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn system(task: &'static str) -> Actor {
        Actor {
            kind: ActorKind::System { task },
            label: format!("Wheelhouse ({task})"),
            origin: Origin::default(),
        }
    }

    /// The person acting, or the person an API token acts for; none for the system.
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            ActorKind::Person { user_id } | ActorKind::ApiToken { user_id, .. } => Some(user_id),
            ActorKind::System { .. } => None,
        }
    }

    /// The person acting; `Forbidden` for a token or the system (`what` says what needs a person).
    pub fn person(&self, what: &str) -> Result<&str, AccessError> {
        match &self.kind {
            ActorKind::Person { user_id } => Ok(user_id),
            ActorKind::ApiToken { .. } => Err(AccessError::NeedsPerson(format!(
                "an API token cannot {what}; sign in"
            ))),
            ActorKind::System { .. } => Err(AccessError::NeedsPerson(format!(
                "only a person can {what}"
            ))),
        }
    }

    pub fn is_token(&self) -> bool {
        matches!(self.kind, ActorKind::ApiToken { .. })
    }

    /// `(type, id)` as the audit log records the actor.
    pub fn audit_identity(&self) -> (&'static str, &str) {
        match &self.kind {
            ActorKind::Person { user_id } => ("user", user_id),
            ActorKind::ApiToken { token_id, .. } => ("apiToken", token_id),
            ActorKind::System { task } => ("system", task),
        }
    }
}

/// An actor's standing in one workspace, once a role check passed.
#[derive(Clone, Debug)]
pub struct Access {
    pub workspace_id: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("workspace not found")]
    NoSuchWorkspace,
    #[error("this needs the {needed} role in this workspace; {} {have}", if *.via_token { "this API token has" } else { "you are" })]
    RoleTooLow {
        needed: Role,
        have: Role,
        via_token: bool,
    },
    #[error("{0}")]
    NeedsPerson(String),
    #[error("this needs an instance administrator")]
    NotInstanceAdmin,
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(AccessError);

impl DomainError for AccessError {
    fn kind(&self) -> Kind {
        match self {
            AccessError::NoSuchWorkspace => Kind::NotFound,
            AccessError::RoleTooLow { .. }
            | AccessError::NeedsPerson(_)
            | AccessError::NotInstanceAdmin => Kind::Forbidden,
            AccessError::Db(e) => e.kind(),
        }
    }
}

/// The actor's role in the workspace, when it has one there.
pub async fn role_in(db: &Db, actor: &Actor, workspace_id: &str) -> Result<Option<Role>, DbError> {
    let (user_id, token_role) = match &actor.kind {
        ActorKind::System { .. } => {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM workspaces WHERE id = $1")
                .bind(workspace_id)
                .fetch_optional(&db.pool)
                .await?;
            return Ok(exists.map(|_| Role::Owner));
        }
        ActorKind::Person { user_id } => (user_id, None),
        ActorKind::ApiToken {
            user_id,
            workspace_id: scope,
            role,
            ..
        } => {
            if scope != workspace_id {
                return Ok(None);
            }
            (user_id, Some(*role))
        }
    };
    let member_role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    let Some(member_role) = member_role.as_deref().and_then(Role::parse) else {
        return Ok(None);
    };
    Ok(Some(match token_role {
        Some(token_role) => member_role.lower(token_role),
        None => member_role,
    }))
}

/// The actor's access to the workspace with at least the role `needed`.
pub async fn require(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    needed: Role,
) -> Result<Access, AccessError> {
    let role = role_in(db, actor, workspace_id)
        .await?
        .ok_or(AccessError::NoSuchWorkspace)?;
    if !role.at_least(needed) {
        return Err(AccessError::RoleTooLow {
            needed,
            have: role,
            via_token: actor.is_token(),
        });
    }
    Ok(Access {
        workspace_id: workspace_id.to_string(),
        role,
    })
}

/// Instance administration (namespaces, background jobs) is for signed-in instance administrators and the
/// system, never for API tokens, which are scoped to one workspace.
pub async fn require_instance_admin(db: &Db, actor: &Actor) -> Result<(), AccessError> {
    let user_id = match &actor.kind {
        ActorKind::System { .. } => return Ok(()),
        ActorKind::ApiToken { .. } => {
            return Err(AccessError::NeedsPerson(
                "API tokens are scoped to a workspace; instance administration needs a signed-in instance admin"
                    .into(),
            ))
        }
        ActorKind::Person { user_id } => user_id,
    };
    let admin: Option<i64> =
        sqlx::query_scalar("SELECT is_instance_admin FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    if admin != Some(1) {
        return Err(AccessError::NotInstanceAdmin);
    }
    Ok(())
}
