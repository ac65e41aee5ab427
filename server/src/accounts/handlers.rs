use app::api::auth::{
    AuthMethod, ChangePasswordRequest, LoginRequest, Me, PasswordResetConfirm,
    PasswordResetRequest, SetupRequest, SetupStatus, WorkspaceSummary,
};
use app::api::workspaces::Role;
use app::api::ErrorBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use secrecy::SecretString;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::password;
use super::throttle::{self, PasswordAttempt};
use crate::http::auth::{Principal, Via, SESSION_EPOCH, SESSION_USER_ID};
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::ApiJson;
use crate::links::Purpose;
use crate::mail::Mail;
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

const RESET_LINK_TTL_SECS: u64 = 60 * 60;

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = Me), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    session: Session,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<Me>> {
    let email = body.email.trim().to_lowercase();
    let attempt = PasswordAttempt::start(&state.db, &email, client).await?;
    let user = super::by_email(&state.db, &email).await?;
    let ok = password::verify(
        SecretString::from(body.password),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let Some(user) = user.as_ref().filter(|_| ok) else {
        attempt.failed().await?;
        // Not the typed email: people sometimes type their password into it.
        tracing::info!(
            user_id = user.as_ref().map(|u| u.id.as_str()),
            "sign-in failed"
        );
        return Err(AppError::Unauthorized(
            "the email or the password is wrong".into(),
        ));
    };
    attempt.succeeded().await?;
    start_session(&session, &user.id, user.session_epoch).await?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(Json(me_for(&state, &user.id, None).await?))
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

/// Sign out: ends the session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
async fn logout(session: Session) -> ApiResult<StatusCode> {
    session.flush().await.map_err(AppError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is calling, and the workspaces they can see (an API token sees its one workspace).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Me>> {
    Ok(Json(
        me_for(&state, &principal.user_id, Some(&principal)).await?,
    ))
}

async fn me_for(state: &AppState, user_id: &str, principal: Option<&Principal>) -> ApiResult<Me> {
    let user = super::by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("sign in again".into()))?;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY w.name, w.id",
    )
    .bind(user_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut workspaces = Vec::new();
    for (id, name, role) in rows {
        let Some(mut role) = Role::parse(&role) else {
            continue;
        };
        if let Some(Principal {
            via:
                Via::Token {
                    workspace_id,
                    role: token_role,
                    ..
                },
            ..
        }) = principal
        {
            if *workspace_id != id {
                continue;
            }
            role = role.min(*token_role);
        }
        workspaces.push(WorkspaceSummary { id, name, role });
    }
    let auth_method = match principal {
        Some(p) if p.is_token() => AuthMethod::ApiToken,
        _ => AuthMethod::Session,
    };
    Ok(Me {
        user: user.to_wire(),
        auth_method,
        workspaces,
    })
}

/// Change your password. Ends your other sessions; keeps this one.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    principal: Principal,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let Via::Session(session) = &principal.via else {
        return Err(AppError::Forbidden(
            "an API token cannot change a password; sign in".into(),
        ));
    };
    let user = super::by_id(&state.db, &principal.user_id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    // Throttled like a sign-in: a stolen session cookie must not buy unlimited guesses at the password.
    let attempt = PasswordAttempt::start(&state.db, &user.email, client).await?;
    if !password::verify(
        SecretString::from(body.current_password),
        Some(user.password_hash),
    )
    .await?
    {
        attempt.failed().await?;
        return Err(AppError::validation(
            "currentPassword",
            "currentPassword is not your current password",
        ));
    }
    attempt.succeeded().await?;
    password::check_policy("newPassword", &body.new_password)?;
    let epoch =
        super::set_password(&state.db, &user.id, SecretString::from(body.new_password)).await?;
    start_session(session, &user.id, epoch).await?;
    tracing::info!(user_id = %user.id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset link by email. Always 202, whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", security(()), request_body = PasswordResetRequest,
    responses((status = 202), (status = 422, body = ErrorBody)))]
async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    let email = super::parse_email("email", &body.email)?;
    // Over the limit, the answer stays 202: it must not tell whether the account exists.
    if throttle::count(
        &state.db,
        &throttle::reset_mail_key(&email),
        throttle::RESET_MAILS,
    )
    .await
    .is_err()
    {
        return Ok(StatusCode::ACCEPTED);
    }
    if let Some(user) = super::by_email(&state.db, &email).await? {
        let token = state.links.sign(
            Purpose::PasswordReset,
            &user.id,
            &super::password_fingerprint(&user.password_hash),
            RESET_LINK_TTL_SECS,
        );
        let mut link = state
            .public_url
            .join("/reset-password")
            .map_err(AppError::internal)?;
        // The address rides along only so that the page can tell password managers whose password changes;
        // the token alone decides whose it is.
        link.query_pairs_mut()
            .append_pair("token", &token)
            .append_pair("email", &user.email);
        state.mailer.send_later(Mail {
            to: user.email.clone(),
            subject: "Reset your Wheelhouse password".into(),
            body: format!(
                "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Wheelhouse account.\n\
                 Choose a new password here within the next hour:\n\n{link}\n\n\
                 If you did not ask for this, ignore this mail: your password stays as it is.\n",
                user.name
            ),
        });
    }
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the link from a reset mail. The link works once.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", security(()), request_body = PasswordResetConfirm,
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    let invalid = || {
        AppError::validation(
            "token",
            "this reset link has expired or was already used; ask for a new one",
        )
    };
    let claims = state
        .links
        .verify(Purpose::PasswordReset, &body.token)
        .ok_or_else(invalid)?;
    let user = super::by_id(&state.db, &claims.sub)
        .await?
        .ok_or_else(invalid)?;
    if super::password_fingerprint(&user.password_hash) != claims.bind {
        return Err(invalid());
    }
    password::check_policy("newPassword", &body.new_password)?;
    super::set_password(&state.db, &user.id, SecretString::from(body.new_password)).await?;
    throttle::clear_account(&state.db, &user.email).await?;
    tracing::info!(user_id = %user.id, "password reset");
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
    responses((status = 200, body = Me), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn setup(
    State(state): State<AppState>,
    session: Session,
    ApiJson(body): ApiJson<SetupRequest>,
) -> ApiResult<Json<Me>> {
    let email = super::parse_email("email", &body.email)?;
    let name = super::parse_name("name", &body.name, 100)?;
    let workspace_name = super::parse_name("workspaceName", &body.workspace_name, 100)?;
    password::check_policy("password", &body.password)?;
    {
        let expected = state.setup_token.lock().expect("setup token");
        let matches = expected
            .as_deref()
            .is_some_and(|t| crate::ids::constant_time_eq(t.as_bytes(), body.token.as_bytes()));
        if expected.is_none() {
            return Err(AppError::conflict(
                "token",
                "this instance is already set up; sign in",
            ));
        }
        if !matches {
            return Err(AppError::validation(
                "token",
                "token is not this instance's set-up token (see the server's log)",
            ));
        }
    }
    let hash = password::hash(SecretString::from(body.password)).await?;
    let mut tx = state.db.pool.begin().await?;
    // Checked inside the transaction: two concurrent set-ups cannot both create an owner.
    if sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *tx)
        .await?
        > 0
    {
        return Err(AppError::conflict(
            "token",
            "this instance is already set up; sign in",
        ));
    }
    let user_id = super::insert(&mut tx, &email, &name, &hash, true).await?;
    crate::workspaces::insert(&mut tx, &workspace_name, &user_id).await?;
    tx.commit().await?;
    state.setup_token.lock().expect("setup token").take();
    start_session(&session, &user_id, 0).await?;
    tracing::info!(%user_id, "instance set up");
    Ok(Json(me_for(&state, &user_id, None).await?))
}
