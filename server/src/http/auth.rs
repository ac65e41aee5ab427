//! Who is calling: a signed-in person (session cookie) or an API token (`Authorization: Bearer`), turned into
//! the domain's [`Actor`], with where the request came from. What the actor may do is the domain's business
//! (`access`); this only establishes who it is.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use tower_sessions::Session;

use super::client_addr::ClientAddr;
use super::error::{ApiResult, AppError};
use crate::access::{Actor, Origin};
use crate::state::AppState;

pub const SESSION_USER_ID: &str = "user_id";
pub const SESSION_EPOCH: &str = "epoch";

/// The caller: the domain's actor, and the session when it signed in with one (sign-out, password change).
pub struct Principal {
    pub actor: Actor,
    pub session: Option<Session>,
}

impl Principal {
    pub fn user_id(&self) -> &str {
        self.actor.user_id().unwrap_or_default()
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match Option::<Principal>::from_request_parts(parts, state).await? {
            Some(principal) => Ok(principal),
            None => Err(AppError::unauthorized(
                "sign in, or send an API token as Authorization: Bearer <token>",
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
        let origin = origin(parts, state).await;
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let header = header.to_str().unwrap_or_default();
            let Some(token) = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
            else {
                return Err(AppError::unauthorized(
                    "the Authorization header must be Bearer <API token>",
                ));
            };
            let actor = crate::tokens::authenticate(&state.db, token.trim(), origin).await?;
            return Ok(Some(Principal {
                actor,
                session: None,
            }));
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| AppError::internal(message))?;
        session_principal(state, session, origin).await
    }
}

/// Where the request came from, for the audit log.
async fn origin(parts: &mut Parts, state: &AppState) -> Origin {
    let ClientAddr(ip) = match ClientAddr::from_request_parts(parts, state).await {
        Ok(addr) => addr,
        Err(never) => match never {},
    };
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect());
    Origin { ip, user_agent }
}

async fn session_principal(
    state: &AppState,
    session: Session,
    origin: Origin,
) -> ApiResult<Option<Principal>> {
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
    match crate::accounts::session_actor(&state.db, &user_id, epoch, origin).await? {
        Some(actor) => Ok(Some(Principal {
            actor,
            session: Some(session),
        })),
        // The user is gone or changed their password since: this session is over.
        None => {
            session.flush().await.map_err(AppError::internal)?;
            Ok(None)
        }
    }
}
