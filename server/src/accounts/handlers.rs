use app::api::auth::{
    ChangePasswordRequest, LoginRequest, Me, PasswordResetConfirm, PasswordResetRequest,
    SetupRequest, SetupStatus,
};
use app::api::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{AccountError, Setup};
use crate::access::{Actor, ActorKind, Origin};
use crate::http::auth::{Principal, SESSION_EPOCH, SESSION_USER_ID};
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::ApiJson;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(setup_status, setup))
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = Me, headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<Me>> {
    let user = super::sign_in(&state.db, &body.email, body.password, client).await?;
    start_session(&session, &user.id, user.session_epoch).await?;
    let actor = Actor {
        kind: ActorKind::Person {
            user_id: user.id.clone(),
        },
        label: user.email.clone(),
        origin: Origin::default(),
    };
    Ok(Json(super::me(&state.db, &actor).await?))
}

/// A new session id at every sign-in (no session fixation).
pub async fn start_session(session: &Session, user_id: &str, epoch: i64) -> ApiResult<()> {
    session.cycle_id().await.map_err(AppError::internal)?;
    session
        .insert(SESSION_USER_ID, user_id)
        .await
        .map_err(AppError::internal)?;
    session
        .insert(SESSION_EPOCH, epoch)
        .await
        .map_err(AppError::internal)?;
    Ok(())
}

/// Sign out: ends the session. Without one there is nothing to end, and the answer is the same.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(()), responses((status = 204)))]
async fn logout(session: Session) -> ApiResult<StatusCode> {
    session.flush().await.map_err(AppError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is calling, and the workspaces they can see (an API token sees its one workspace).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Me>> {
    match super::me(&state.db, &principal.actor).await {
        Ok(me) => Ok(Json(me)),
        Err(AccountError::NotFound(_)) => Err(AppError::unauthorized("sign in again")),
        Err(error) => Err(error.into()),
    }
}

/// Change your password. Ends your other sessions; keeps this one.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("session" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let epoch = super::change_password(
        &state.db,
        &principal.actor,
        body.current_password,
        body.new_password,
    )
    .await?;
    if let Some(session) = &principal.session {
        start_session(session, principal.user_id(), epoch).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset link by email. Always 202, whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", security(()), request_body = PasswordResetRequest,
    responses((status = 202), (status = 422, body = ErrorBody)))]
async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    super::request_password_reset(&state, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the link from a reset mail. The link works once.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", security(()), request_body = PasswordResetConfirm,
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    let origin = Origin {
        ip,
        user_agent: None,
    };
    super::confirm_password_reset(&state, &body.token, body.new_password, origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether this instance still needs its first owner.
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth", security(()), responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(state): State<AppState>) -> ApiResult<Json<SetupStatus>> {
    Ok(Json(SetupStatus {
        needs_setup: super::count(&state.db).await? == 0,
    }))
}

/// First run: create the instance owner and a first workspace, with the set-up token the server printed.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", security(()), request_body = SetupRequest,
    responses((status = 200, body = Me, headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    session: Session,
    ApiJson(body): ApiJson<SetupRequest>,
) -> ApiResult<Json<Me>> {
    let origin = Origin {
        ip,
        user_agent: None,
    };
    let user = super::create_first_owner(
        &state,
        Setup {
            token: body.token,
            email: body.email,
            name: body.name,
            password: body.password,
            workspace_name: body.workspace_name,
        },
        origin.clone(),
    )
    .await?;
    start_session(&session, &user.id, user.session_epoch).await?;
    let actor = Actor {
        kind: ActorKind::Person {
            user_id: user.id.clone(),
        },
        label: user.email.clone(),
        origin,
    };
    Ok(Json(super::me(&state.db, &actor).await?))
}
