//! Who is calling, and what they may do in a workspace.
//!
//! A caller is a signed-in person (session cookie) or an API token (`Authorization: Bearer`). A token is
//! scoped to one workspace and capped at its role and at its creator's current role there. Every workspace
//! route asks `Principal::access` for a minimum role: a workspace the caller is not in is a 404, never a 403.

use app::api::workspaces::Role;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::error::{ApiResult, AppError};
use crate::ids::hash_token;
use crate::state::AppState;
use crate::time::now_ms;

pub const SESSION_USER_ID: &str = "user_id";
pub const SESSION_EPOCH: &str = "epoch";

pub enum Via {
    Session(Session),
    Token {
        token_id: String,
        workspace_id: String,
        role: Role,
    },
}

pub struct Principal {
    pub user_id: String,
    pub via: Via,
}

/// A caller's standing in one workspace, after the role check passed.
#[derive(Clone, Debug)]
pub struct Access {
    pub workspace_id: String,
    pub user_id: String,
    pub role: Role,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match Option::<Principal>::from_request_parts(parts, state).await? {
            Some(principal) => Ok(principal),
            None => Err(AppError::Unauthorized(
                "sign in, or send an API token as Authorization: Bearer <token>".into(),
            )),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, AppError> {
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let header = header.to_str().unwrap_or_default();
            let Some(token) = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
            else {
                return Err(AppError::Unauthorized(
                    "the Authorization header must be Bearer <API token>".into(),
                ));
            };
            return token_principal(state, token.trim()).await.map(Some);
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| AppError::internal(message))?;
        session_principal(state, session).await
    }
}

async fn token_principal(state: &AppState, token: &str) -> ApiResult<Principal> {
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, workspace_id, user_id, role FROM api_tokens WHERE token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(&state.db.pool)
    .await?;
    let Some((token_id, workspace_id, user_id, role)) = row else {
        return Err(AppError::Unauthorized(
            "this API token is not valid (revoked, or mistyped)".into(),
        ));
    };
    // Recorded at most once a minute: a busy script should not turn every read into a write.
    let now = now_ms();
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(now)
        .bind(&token_id)
        .bind(now - 60_000)
        .execute(&state.db.pool)
        .await?;
    let role = Role::parse(&role).ok_or_else(|| AppError::internal("stored token role"))?;
    Ok(Principal {
        user_id,
        via: Via::Token {
            token_id,
            workspace_id,
            role,
        },
    })
}

async fn session_principal(state: &AppState, session: Session) -> ApiResult<Option<Principal>> {
    let user_id: Option<String> = session
        .get(SESSION_USER_ID)
        .await
        .map_err(AppError::internal)?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let epoch: Option<i64> = session
        .get(SESSION_EPOCH)
        .await
        .map_err(AppError::internal)?;
    let current: Option<i64> = sqlx::query_scalar("SELECT session_epoch FROM users WHERE id = $1")
        .bind(&user_id)
        .fetch_optional(&state.db.pool)
        .await?;
    if current.is_none() || current != epoch {
        // The user is gone or changed their password since: this session is over.
        session.flush().await.map_err(AppError::internal)?;
        return Ok(None);
    }
    Ok(Some(Principal {
        user_id,
        via: Via::Session(session),
    }))
}

impl Principal {
    pub fn is_token(&self) -> bool {
        matches!(self.via, Via::Token { .. })
    }

    /// The token's workspace when the caller is an API token.
    pub fn token_workspace(&self) -> Option<&str> {
        match &self.via {
            Via::Token { workspace_id, .. } => Some(workspace_id),
            Via::Session(_) => None,
        }
    }

    /// The caller's role in the workspace, or 404 when they are not in it (or their token is for another),
    /// or 403 when the role is below `min`.
    pub async fn access(
        &self,
        state: &AppState,
        workspace_id: &str,
        min: Role,
    ) -> ApiResult<Access> {
        let role = self
            .role_in(state, workspace_id)
            .await?
            .ok_or_else(|| AppError::not_found("workspace"))?;
        if role < min {
            return Err(AppError::Forbidden(format!(
                "this needs the {min} role in this workspace; {} {role}",
                if self.is_token() {
                    "this API token has"
                } else {
                    "you are"
                }
            )));
        }
        Ok(Access {
            workspace_id: workspace_id.to_string(),
            user_id: self.user_id.clone(),
            role,
        })
    }

    /// The effective role, if any.
    pub async fn role_in(&self, state: &AppState, workspace_id: &str) -> ApiResult<Option<Role>> {
        if let Via::Token {
            workspace_id: scoped,
            ..
        } = &self.via
        {
            if scoped != workspace_id {
                return Ok(None);
            }
        }
        let member_role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace_id)
        .bind(&self.user_id)
        .fetch_optional(&state.db.pool)
        .await?;
        let Some(member_role) = member_role.as_deref().and_then(Role::parse) else {
            return Ok(None);
        };
        Ok(Some(match &self.via {
            Via::Token { role, .. } => member_role.min(*role),
            Via::Session(_) => member_role,
        }))
    }

    /// Instance administration (namespaces) is for signed-in instance admins, not for tokens.
    pub async fn require_instance_admin(&self, state: &AppState) -> ApiResult<()> {
        if self.is_token() {
            return Err(AppError::Forbidden("API tokens are scoped to a workspace; instance administration needs a signed-in instance admin".into()));
        }
        let admin: Option<i64> =
            sqlx::query_scalar("SELECT is_instance_admin FROM users WHERE id = $1")
                .bind(&self.user_id)
                .fetch_optional(&state.db.pool)
                .await?;
        if admin != Some(1) {
            return Err(AppError::Forbidden(
                "this needs an instance administrator".into(),
            ));
        }
        Ok(())
    }
}
