use app::api::workspaces::{
    AcceptInvite, CreateInvite, CreateWorkspace, Invite, InviteAccepted, InvitePreview, Member,
    TransferOwnership, UpdateMember, UpdateWorkspace, Workspace,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::invites::{self, Acceptor};
use super::WorkspaceChange;
use crate::access::Origin;
use crate::accounts;
use crate::http::auth::Principal;
use crate::http::client_addr::ClientAddr;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson, ApiQuery};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(transfer_ownership))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(revoke_invite))
        .routes(routes!(preview_invite))
        .routes(routes!(accept_invite))
}

/// The workspaces you belong to (an API token: its workspace).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    responses((status = 200, body = Vec<Workspace>), (status = 401, body = ErrorBody)))]
async fn list_workspaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Workspace>>> {
    Ok(Json(super::list(&state.db, &principal.actor).await?))
}

/// Create a workspace; you become its owner.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", security(("session" = [])), request_body = CreateWorkspace,
    responses((status = 201, body = Workspace), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> ApiResult<Response> {
    Ok(created(
        super::create(&state, &principal.actor, &body.name).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody)))]
async fn get_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Workspace>> {
    Ok(Json(super::get(&state.db, &principal.actor, &ws).await?))
}

/// Rename a workspace or change its settings: retention of the audit log and of event volume, live payloads,
/// samples in error reports (admin).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    request_body = UpdateWorkspace,
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<UpdateWorkspace>,
) -> ApiResult<Json<Workspace>> {
    let change = WorkspaceChange {
        name: body.name,
        audit_retention_days: body.audit_retention_days,
        live_payloads: body.live_payloads,
        disable_reporting_pii: body.disable_reporting_pii,
        volume_minute_retention_hours: body.volume_minute_retention_hours,
        volume_hour_retention_days: body.volume_hour_retention_days,
        volume_day_retention_days: body.volume_day_retention_days,
        error_retention_days: body.error_retention_days,
    };
    Ok(Json(
        super::update(&state, &principal.actor, &ws, change).await?,
    ))
}

/// Delete a workspace and everything in it (owner).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<StatusCode> {
    super::delete(&state, &principal.actor, &ws).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/members", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(
        super::members(&state.db, &principal.actor, &ws).await?,
    ))
}

/// Change a member's role (admin). The owner's role only changes by a handover.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/members/{user_id}", tag = "workspaces",
    params(("ws" = String, Path), ("user_id" = String, Path)), request_body = UpdateMember,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        super::change_role(&state.db, &principal.actor, &ws, &user_id, body.role).await?,
    ))
}

/// Remove a member (admin), or leave a workspace yourself. The owner cannot be removed.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/members/{user_id}", tag = "workspaces",
    params(("ws" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    super::remove_member(&state.db, &principal.actor, &ws, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hand the workspace over to another member (owner). You stay on as an admin.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/transfer", tag = "workspaces", params(("ws" = String, Path)),
    request_body = TransferOwnership,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn transfer_ownership(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<TransferOwnership>,
) -> ApiResult<StatusCode> {
    super::transfer(&state.db, &principal.actor, &ws, &body.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pending invites (admin).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/invites", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Invite>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_invites(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    Ok(Json(invites::list(&state.db, &principal.actor, &ws).await?))
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
    Ok(created(
        invites::create(&state, &principal.actor, &ws, &body.email, body.role).await?,
    ))
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
    invites::revoke(&state.db, &principal.actor, &ws, &invite_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The token of the invite link.
    token: String,
}

/// What an invite link offers (no sign-in needed: the link is the credential).
#[utoipa::path(get, path = "/api/v1/invites/preview", tag = "workspaces", security(()), params(TokenQuery),
    responses((status = 200, body = InvitePreview), (status = 422, body = ErrorBody)))]
async fn preview_invite(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> ApiResult<Json<InvitePreview>> {
    Ok(Json(invites::preview(&state, &query.token).await?))
}

/// Accept an invite: signed in as the invited address, or with that account's password, or by creating
/// the account (name and password). Signs you in.
#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "workspaces",
    security((), ("apiToken" = []), ("session" = [])), request_body = AcceptInvite,
    responses((status = 200, body = InviteAccepted,
            headers(("Set-Cookie" = String, description = "The session cookie, when the call was not signed in"))),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn accept_invite(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    principal: Option<Principal>,
    session: Session,
    ApiJson(body): ApiJson<AcceptInvite>,
) -> ApiResult<Json<InviteAccepted>> {
    let acceptor = match &principal {
        Some(principal) => Acceptor::SignedIn(&principal.actor),
        None => Acceptor::Anonymous {
            name: body.name,
            password: body.password,
            origin: Origin {
                ip,
                user_agent: None,
            },
        },
    };
    let accepted = invites::accept(&state, &body.token, acceptor).await?;
    if principal.is_none() {
        let user = accounts::by_id(&state.db, &accepted.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        accounts::start_session(&session, &user.id, user.session_epoch).await?;
    }
    Ok(Json(InviteAccepted {
        workspace_id: accepted.workspace_id,
    }))
}
