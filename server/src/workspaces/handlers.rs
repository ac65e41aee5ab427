use app::api::workspaces::{
    CreateWorkspace, Member, Role, TransferOwnership, UpdateMember, UpdateWorkspace, Workspace,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::parse_name;
use crate::audit::{self, Event};
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(transfer_ownership))
        .merge(super::invites::routes())
}

pub const NAME_MAX: usize = 100;

async fn load(state: &AppState, workspace_id: &str, role: Role) -> ApiResult<Workspace> {
    let (id, name, created_at, updated_at): (String, String, i64, i64) =
        sqlx::query_as("SELECT id, name, created_at, updated_at FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| AppError::not_found("workspace"))?;
    Ok(Workspace {
        id,
        name,
        role,
        created_at: format_ms(created_at),
        updated_at: format_ms(updated_at),
    })
}

/// The workspaces you belong to (an API token: its workspace).
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "workspaces",
    responses((status = 200, body = Vec<Workspace>), (status = 401, body = ErrorBody)))]
async fn list_workspaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Workspace>>> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT w.id, w.name, m.role, w.created_at, w.updated_at FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY w.name, w.id",
    )
    .bind(&principal.user_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut out = Vec::new();
    for (id, name, _, created_at, updated_at) in rows {
        if let Some(role) = principal.role_in(&state, &id).await? {
            out.push(Workspace {
                id,
                name,
                role,
                created_at: format_ms(created_at),
                updated_at: format_ms(updated_at),
            });
        }
    }
    Ok(Json(out))
}

/// Create a workspace; you become its owner.
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "workspaces", request_body = CreateWorkspace,
    responses((status = 201, body = Workspace), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateWorkspace>,
) -> ApiResult<Response> {
    if principal.is_token() {
        return Err(AppError::Forbidden(
            "API tokens are scoped to one workspace and cannot create workspaces; sign in".into(),
        ));
    }
    let name = parse_name("name", &body.name, NAME_MAX)?;
    let mut tx = state.db.pool.begin().await?;
    let id = super::insert(&mut tx, &name, &principal.user_id).await?;
    tx.commit().await?;
    state.snapshots.refresh(&state, &id).await?;
    Ok(created(load(&state, &id, Role::Owner).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody)))]
async fn get_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Workspace>> {
    let access = principal.access(&state, &ws, Role::Viewer).await?;
    Ok(Json(load(&state, &ws, access.role).await?))
}

/// Rename a workspace (admin).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    request_body = UpdateWorkspace,
    responses((status = 200, body = Workspace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<UpdateWorkspace>,
) -> ApiResult<Json<Workspace>> {
    let access = principal.access(&state, &ws, Role::Admin).await?;
    if let Some(name) = body.name {
        let name = parse_name("name", &name, NAME_MAX)?;
        let mut tx = state.db.pool.begin().await?;
        sqlx::query("UPDATE workspaces SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(&name)
            .bind(now_ms())
            .bind(&ws)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Event {
                workspace_id: Some(&ws),
                actor_id: Some(&access.user_id),
                action: "workspace.renamed",
                target_type: "workspace",
                target_id: &ws,
                details: serde_json::json!({ "name": name }),
            },
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Json(load(&state, &ws, access.role).await?))
}

/// Delete a workspace and everything in it (owner).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_workspace(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Owner).await?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM workspaces WHERE id = $1")
        .bind(&ws)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: None,
            actor_id: Some(&access.user_id),
            action: "workspace.deleted",
            target_type: "workspace",
            target_id: &ws,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    state.keyring.forget(&ws);
    state.snapshots.refresh(&state, &ws).await?;
    tracing::info!(workspace_id = %ws, "workspace deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/members", tag = "workspaces", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 ORDER BY u.name, u.email",
    )
    .bind(&ws)
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .filter_map(|(user_id, email, name, role, joined)| {
                Some(Member {
                    user_id,
                    email,
                    name,
                    role: Role::parse(&role)?,
                    joined_at: format_ms(joined),
                })
            })
            .collect(),
    ))
}

async fn member_role(state: &AppState, ws: &str, user_id: &str) -> ApiResult<Role> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
            .bind(ws)
            .bind(user_id)
            .fetch_optional(&state.db.pool)
            .await?;
    role.as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| AppError::not_found("member"))
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
    let access = principal.access(&state, &ws, Role::Admin).await?;
    let current = member_role(&state, &ws, &user_id).await?;
    if body.role == Role::Owner {
        return Err(AppError::validation(
            "role",
            "a workspace has one owner; hand it over with POST /api/v1/workspaces/{ws}/transfer",
        ));
    }
    if current == Role::Owner {
        return Err(AppError::Forbidden(
            "the owner's role only changes by handing the workspace over".into(),
        ));
    }
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(body.role.as_str())
        .bind(&ws)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "member.role_changed",
            target_type: "user",
            target_id: &user_id,
            details: serde_json::json!({ "from": current, "to": body.role }),
        },
    )
    .await?;
    tx.commit().await?;
    let members = list_members(State(state.clone()), principal, Path(ws))
        .await?
        .0;
    members
        .into_iter()
        .find(|m| m.user_id == user_id)
        .map(Json)
        .ok_or_else(|| AppError::not_found("member"))
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
    let leaving = user_id == principal.user_id && !principal.is_token();
    let access = principal
        .access(
            &state,
            &ws,
            if leaving { Role::Viewer } else { Role::Admin },
        )
        .await?;
    if member_role(&state, &ws, &user_id).await? == Role::Owner {
        return Err(AppError::Forbidden(
            "the owner cannot be removed; hand the workspace over first".into(),
        ));
    }
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(&ws)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            target_type: "user",
            target_id: &user_id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
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
    let access = principal.access(&state, &ws, Role::Owner).await?;
    if body.user_id == access.user_id {
        return Err(AppError::validation(
            "userId",
            "userId is already the owner",
        ));
    }
    let mut tx = state.db.pool.begin().await?;
    // Conditional updates, so that of two concurrent handovers only the first finds an owner to step down.
    let stepped_down = sqlx::query(
        "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3 AND role = $4",
    )
    .bind(Role::Admin.as_str())
    .bind(&ws)
    .bind(&access.user_id)
    .bind(Role::Owner.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if stepped_down == 0 {
        return Err(AppError::Forbidden(
            "you are no longer the owner of this workspace".into(),
        ));
    }
    let promoted =
        sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
            .bind(Role::Owner.as_str())
            .bind(&ws)
            .bind(&body.user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if promoted == 0 {
        return Err(AppError::validation(
            "userId",
            "userId must be a member of this workspace",
        ));
    }
    audit::record(
        &mut tx,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "workspace.transferred",
            target_type: "user",
            target_id: &body.user_id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
