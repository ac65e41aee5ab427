//! Invites: an admin invites an email address with a role; the person gets a signed, expiring link by mail
//! and joins with it (creating an account when they have none).

use app::api::workspaces::{
    AcceptInvite, CreateInvite, Invite, InviteAccepted, InvitePreview, Role,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use secrecy::SecretString;
use serde::Deserialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::throttle::PasswordAttempt;
use crate::accounts::{self, password};
use crate::audit::{self, Event};
use crate::http::auth::{Principal, Via};
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson, ApiQuery};
use crate::ids::new_id;
use crate::links::Purpose;
use crate::mail::Mail;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(preview_invite))
        .routes(routes!(accept_invite))
}

type InviteRow = (String, String, String, String, i64, i64);

fn to_wire((id, email, role, invited_by, created_at, expires_at): InviteRow) -> Option<Invite> {
    Some(Invite {
        id,
        email,
        role: Role::parse(&role)?,
        invited_by,
        created_at: format_ms(created_at),
        expires_at: format_ms(expires_at),
    })
}

/// Pending invites (admin).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/invites", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Invite>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_invites(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    principal.access(&state, &ws, Role::Admin).await?;
    let rows: Vec<InviteRow> = sqlx::query_as(
        "SELECT id, email, role, invited_by, created_at, expires_at FROM invites
         WHERE workspace_id = $1 AND accepted_at IS NULL AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(&ws)
    .bind(now_ms())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(rows.into_iter().filter_map(to_wire).collect()))
}

/// Invite someone by email (admin). Inviting the same address again replaces the earlier invite.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/invites", tag = "workspaces", params(("ws" = String, Path)),
    request_body = CreateInvite,
    responses((status = 201, body = Invite), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_invite(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateInvite>,
) -> ApiResult<Response> {
    let access = principal.access(&state, &ws, Role::Admin).await?;
    let email = accounts::parse_email("email", &body.email)?;
    if body.role == Role::Owner {
        return Err(AppError::validation(
            "role",
            "role cannot be owner; invite, then hand the workspace over",
        ));
    }
    let already_member: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.email = $2",
    )
    .bind(&ws)
    .bind(&email)
    .fetch_optional(&state.db.pool)
    .await?;
    if already_member.is_some() {
        return Err(AppError::conflict(
            "email",
            "this person is already a member",
        ));
    }
    let inviter = accounts::by_id(&state.db, &access.user_id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let workspace_name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
        .bind(&ws)
        .fetch_one(&state.db.pool)
        .await?;
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "DELETE FROM invites WHERE workspace_id = $1 AND email = $2 AND accepted_at IS NULL",
    )
    .bind(&ws)
    .bind(&email)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO invites (id, workspace_id, email, role, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&ws)
    .bind(&email)
    .bind(body.role.as_str())
    .bind(&inviter.name)
    .bind(now)
    .bind(now + INVITE_TTL_MS)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "invite.created",
            target_type: "invite",
            target_id: &id,
            details: serde_json::json!({ "email": email, "role": body.role }),
        },
    )
    .await?;
    tx.commit().await?;

    let token = state
        .links
        .sign(Purpose::Invite, &id, "", (INVITE_TTL_MS / 1000) as u64);
    let mut link = state
        .public_url
        .join("/invite")
        .map_err(AppError::internal)?;
    link.query_pairs_mut().append_pair("token", &token);
    state.mailer.send_later(Mail {
        to: email.clone(),
        subject: format!(
            "{} invited you to {} on Wheelhouse",
            inviter.name, workspace_name
        ),
        body: format!(
            "Hello,\n\n{} ({}) invited you to join the workspace \"{}\" on Wheelhouse as {}.\n\n\
             Accept the invitation within 7 days:\n\n{link}\n",
            inviter.name,
            inviter.email,
            workspace_name,
            body.role.label().to_lowercase()
        ),
    });
    let row: InviteRow = (
        id,
        email,
        body.role.as_str().into(),
        inviter.name,
        now,
        now + INVITE_TTL_MS,
    );
    Ok(created(to_wire(row)))
}

/// Revoke a pending invite (admin).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/invites/{invite_id}", tag = "workspaces",
    params(("ws" = String, Path), ("invite_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_invite(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, invite_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Admin).await?;
    let mut tx = state.db.pool.begin().await?;
    let deleted = sqlx::query(
        "DELETE FROM invites WHERE id = $1 AND workspace_id = $2 AND accepted_at IS NULL",
    )
    .bind(&invite_id)
    .bind(&ws)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("invite"));
    }
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "invite.revoked",
            target_type: "invite",
            target_id: &invite_id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct TokenQuery {
    token: String,
}

struct PendingInvite {
    id: String,
    workspace_id: String,
    workspace_name: String,
    email: String,
    role: Role,
}

async fn pending_invite(state: &AppState, token: &str) -> ApiResult<PendingInvite> {
    let invalid = || {
        AppError::validation(
            "token",
            "this invite has expired, was revoked or was already used; ask for a new one",
        )
    };
    let claims = state
        .links
        .verify(Purpose::Invite, token)
        .ok_or_else(invalid)?;
    let row: Option<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT i.id, i.workspace_id, w.name, i.email, i.role FROM invites i JOIN workspaces w ON w.id = i.workspace_id
         WHERE i.id = $1 AND i.accepted_at IS NULL AND i.expires_at > $2",
    )
    .bind(&claims.sub)
    .bind(now_ms())
    .fetch_optional(&state.db.pool)
    .await?;
    let (id, workspace_id, workspace_name, email, role) = row.ok_or_else(invalid)?;
    Ok(PendingInvite {
        id,
        workspace_id,
        workspace_name,
        email,
        role: Role::parse(&role).ok_or_else(invalid)?,
    })
}

/// What an invite link offers (no sign-in needed: the link is the credential).
#[utoipa::path(get, path = "/api/v1/invites/preview", tag = "workspaces", security(()), params(TokenQuery),
    responses((status = 200, body = InvitePreview), (status = 422, body = ErrorBody)))]
async fn preview_invite(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> ApiResult<Json<InvitePreview>> {
    let invite = pending_invite(&state, &query.token).await?;
    let account_exists = accounts::by_email(&state.db, &invite.email)
        .await?
        .is_some();
    Ok(Json(InvitePreview {
        workspace_name: invite.workspace_name,
        email: invite.email,
        role: invite.role,
        account_exists,
    }))
}

/// Accept an invite: signed in as the invited address, or with that account's password, or by creating
/// the account (name and password). Signs you in.
#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "workspaces", security(()), request_body = AcceptInvite,
    responses((status = 200, body = InviteAccepted), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    principal: Option<Principal>,
    session: Session,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> ApiResult<Json<InviteAccepted>> {
    let invite = pending_invite(&state, &body.token).await?;
    let existing = accounts::by_email(&state.db, &invite.email).await?;
    let mut new_password_hash = None;
    let user_id = match (&principal, &existing) {
        (
            Some(
                principal @ Principal {
                    via: Via::Session(_),
                    ..
                },
            ),
            _,
        ) => {
            if existing.as_ref().map(|u| &u.id) != Some(&principal.user_id) {
                return Err(AppError::Forbidden(
                    "this invite is for another email address; sign out and open the link again"
                        .into(),
                ));
            }
            Some(principal.user_id.clone())
        }
        (Some(_), _) => {
            return Err(AppError::Forbidden(
                "an API token cannot accept an invite".into(),
            ))
        }
        (None, Some(user)) => {
            let attempt = PasswordAttempt::start(&state.db, &user.email, client).await?;
            let password = body.password.clone().unwrap_or_default();
            if !password::verify(
                SecretString::from(password),
                Some(user.password_hash.clone()),
            )
            .await?
            {
                attempt.failed().await?;
                return Err(AppError::validation(
                    "password",
                    "password is not the password of this account",
                ));
            }
            attempt.succeeded().await?;
            Some(user.id.clone())
        }
        (None, None) => {
            accounts::parse_name("name", body.name.as_deref().unwrap_or_default(), 100)?;
            let password = body
                .password
                .clone()
                .ok_or_else(|| AppError::validation("password", "password is required"))?;
            password::check_policy("password", &password)?;
            new_password_hash = Some(password::hash(SecretString::from(password)).await?);
            None
        }
    };
    let mut tx = state.db.pool.begin().await?;
    // Claim the invite first: two concurrent accepts cannot both use it.
    let claimed =
        sqlx::query("UPDATE invites SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL")
            .bind(now_ms())
            .bind(&invite.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if claimed == 0 {
        return Err(AppError::validation(
            "token",
            "this invite was already used",
        ));
    }
    let user_id = match (user_id, new_password_hash) {
        (Some(id), _) => id,
        (None, Some(hash)) => {
            let name = accounts::parse_name("name", body.name.as_deref().unwrap_or_default(), 100)?;
            accounts::insert(&mut tx, &invite.email, &name, &hash, false).await?
        }
        (None, None) => return Err(AppError::internal("invite acceptance without an account")),
    };
    // Accepting never lowers a role someone already has.
    let current: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(&invite.workspace_id)
            .bind(&user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let role = current
        .as_deref()
        .and_then(Role::parse)
        .map_or(invite.role, |r| r.max(invite.role));
    super::upsert_member(&mut tx, &invite.workspace_id, &user_id, role).await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&invite.workspace_id),
            actor_id: Some(&user_id),
            action: "invite.accepted",
            target_type: "invite",
            target_id: &invite.id,
            details: serde_json::json!({ "role": role }),
        },
    )
    .await?;
    tx.commit().await?;
    if principal.is_none() {
        let user = accounts::by_id(&state.db, &user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        crate::accounts::start_session(&session, &user.id, user.session_epoch).await?;
    }
    Ok(Json(InviteAccepted {
        workspace_id: invite.workspace_id,
    }))
}
