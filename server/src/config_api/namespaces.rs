//! Namespaces: instance administrators group workspaces for multi-tenant data planes. A data plane sets the
//! namespace's name as `WORKSPACE_NAMESPACE` and its secret (shown once) as `HOSTED_SERVICE_SECRET`.

use app::api::namespaces::{
    CreateNamespace, InstanceWorkspace, Namespace, NamespaceWithSecret, UpdateNamespace,
};
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use sqlx::AnyConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::NamespaceDef;
use crate::audit::{self, Event};
use crate::db::is_unique_violation;
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson};
use crate::ids::{new_id, new_token};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

const SECRET_KIND: &str = "whk_ns";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_namespaces, create_namespace))
        .routes(routes!(update_namespace, delete_namespace))
        .routes(routes!(rotate_namespace_secret))
        .routes(routes!(list_instance_workspaces))
}

pub(super) async fn load_definitions(state: &AppState) -> ApiResult<Vec<NamespaceDef>> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, secret_hash FROM namespaces ORDER BY name")
            .fetch_all(&state.db.pool)
            .await?;
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT namespace_id, workspace_id FROM namespace_workspaces ORDER BY workspace_id",
    )
    .fetch_all(&state.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, secret_hash)| NamespaceDef {
            workspace_ids: members
                .iter()
                .filter(|(ns, _)| *ns == id)
                .map(|(_, ws)| ws.clone())
                .collect(),
            id,
            name,
            secret_hash,
        })
        .collect())
}

async fn load_one(state: &AppState, id: &str) -> ApiResult<Namespace> {
    let (name, prefix, created_at, updated_at): (String, String, i64, i64) =
        sqlx::query_as("SELECT name, prefix, created_at, updated_at FROM namespaces WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| AppError::not_found("namespace"))?;
    let workspace_ids =
        sqlx::query_scalar("SELECT workspace_id FROM namespace_workspaces WHERE namespace_id = $1 ORDER BY workspace_id")
            .bind(id)
            .fetch_all(&state.db.pool)
            .await?;
    Ok(Namespace {
        id: id.to_string(),
        name,
        workspace_ids,
        secret_prefix: prefix,
        created_at: format_ms(created_at),
        updated_at: format_ms(updated_at),
    })
}

/// Namespace names go into rudder-server's URL path: lower-case letters, digits, `-` and `_`.
fn parse_namespace_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(AppError::validation(
            "name",
            "name must be 1 to 63 characters of a-z, 0-9, - and _",
        ));
    }
    Ok(name.to_string())
}

/// Sets the namespace's workspaces; returns those that joined or left it, their config `updatedAt` moved.
async fn set_members(
    conn: &mut AnyConnection,
    namespace_id: &str,
    workspace_ids: &[String],
) -> ApiResult<Vec<String>> {
    let before = members(conn, namespace_id).await?;
    sqlx::query("DELETE FROM namespace_workspaces WHERE namespace_id = $1")
        .bind(namespace_id)
        .execute(&mut *conn)
        .await?;
    for (i, workspace_id) in workspace_ids.iter().enumerate() {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Err(AppError::validation(
                format!("workspaceIds.{i}"),
                format!("workspaceIds.{i} is not a workspace"),
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO namespace_workspaces (namespace_id, workspace_id) VALUES ($1, $2)",
        )
        .bind(namespace_id)
        .bind(workspace_id)
        .execute(&mut *conn)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::conflict(
                    format!("workspaceIds.{i}"),
                    format!("workspaceIds.{i} is already in a namespace (or listed twice)"),
                ))
            }
            other => other?,
        };
    }
    let changed: Vec<String> = before
        .iter()
        .filter(|w| !workspace_ids.contains(w))
        .chain(workspace_ids.iter().filter(|w| !before.contains(w)))
        .cloned()
        .collect();
    touch_all(conn, &changed).await?;
    Ok(changed)
}

async fn members(conn: &mut AnyConnection, namespace_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT workspace_id FROM namespace_workspaces WHERE namespace_id = $1")
        .bind(namespace_id)
        .fetch_all(&mut *conn)
        .await
}

/// A workspace joining a namespace is new to its data planes, and one leaving may join another: either
/// way its `updatedAt` moves, so that an incremental poll (`updatedAfter`) sends it in full, not as `null`.
async fn touch_all(conn: &mut AnyConnection, workspace_ids: &[String]) -> sqlx::Result<()> {
    for workspace_id in workspace_ids {
        super::touch(conn, workspace_id).await?;
    }
    Ok(())
}

/// After the commit: the moved workspaces' snapshots first, so that a namespace never lists a new member
/// with its snapshot from before the move.
async fn refresh(state: &AppState, changed: &[String]) {
    for workspace_id in changed {
        let _ = state.snapshots.refresh(state, workspace_id).await;
    }
    state.snapshots.refresh_namespaces(state).await;
}

#[utoipa::path(get, path = "/api/v1/namespaces", tag = "data planes",
    responses((status = 200, body = Vec<Namespace>), (status = 403, body = ErrorBody)))]
async fn list_namespaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<Namespace>>> {
    principal.require_instance_admin(&state).await?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM namespaces ORDER BY name")
        .fetch_all(&state.db.pool)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load_one(&state, &id).await?);
    }
    Ok(Json(out))
}

/// Create a namespace (instance admin). Its secret is shown once.
#[utoipa::path(post, path = "/api/v1/namespaces", tag = "data planes", request_body = CreateNamespace,
    responses((status = 201, body = NamespaceWithSecret), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_namespace(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CreateNamespace>,
) -> ApiResult<Response> {
    principal.require_instance_admin(&state).await?;
    let name = parse_namespace_name(&body.name)?;
    let id = new_id();
    let (secret, hash, prefix) = new_token(SECRET_KIND);
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO namespaces (id, name, secret_hash, prefix, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&hash)
    .bind(&prefix)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "name",
                "a namespace with this name exists",
            ))
        }
        other => other?,
    };
    let changed = set_members(&mut tx, &id, &body.workspace_ids).await?;
    audit::record(
        &mut tx,
        Event {
            workspace_id: None,
            actor_id: Some(&principal.user_id),
            action: "namespace.created",
            target_type: "namespace",
            target_id: &id,
            details: serde_json::json!({ "name": name, "workspaceIds": body.workspace_ids }),
        },
    )
    .await?;
    tx.commit().await?;
    refresh(&state, &changed).await;
    Ok(created(NamespaceWithSecret {
        namespace: load_one(&state, &id).await?,
        secret,
    }))
}

/// Set a namespace's workspaces (instance admin).
#[utoipa::path(patch, path = "/api/v1/namespaces/{id}", tag = "data planes", params(("id" = String, Path)),
    request_body = UpdateNamespace,
    responses((status = 200, body = Namespace), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_namespace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateNamespace>,
) -> ApiResult<Json<Namespace>> {
    principal.require_instance_admin(&state).await?;
    load_one(&state, &id).await?;
    if let Some(workspace_ids) = &body.workspace_ids {
        let mut tx = state.db.pool.begin().await?;
        let changed = set_members(&mut tx, &id, workspace_ids).await?;
        sqlx::query("UPDATE namespaces SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            Event {
                workspace_id: None,
                actor_id: Some(&principal.user_id),
                action: "namespace.updated",
                target_type: "namespace",
                target_id: &id,
                details: serde_json::json!({ "workspaceIds": workspace_ids }),
            },
        )
        .await?;
        tx.commit().await?;
        refresh(&state, &changed).await;
    }
    Ok(Json(load_one(&state, &id).await?))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{id}", tag = "data planes", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_namespace(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_instance_admin(&state).await?;
    let mut tx = state.db.pool.begin().await?;
    let left = members(&mut tx, &id).await?;
    touch_all(&mut tx, &left).await?;
    let deleted = sqlx::query("DELETE FROM namespaces WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("namespace"));
    }
    audit::record(
        &mut tx,
        Event {
            workspace_id: None,
            actor_id: Some(&principal.user_id),
            action: "namespace.deleted",
            target_type: "namespace",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    refresh(&state, &left).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for the namespace (instance admin); the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/namespaces/{id}/rotate-secret", tag = "data planes", params(("id" = String, Path)),
    responses((status = 200, body = NamespaceWithSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_namespace_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<NamespaceWithSecret>> {
    principal.require_instance_admin(&state).await?;
    let (secret, hash, prefix) = new_token(SECRET_KIND);
    let mut tx = state.db.pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE namespaces SET secret_hash = $1, prefix = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(&hash)
    .bind(&prefix)
    .bind(now_ms())
    .bind(&id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(AppError::not_found("namespace"));
    }
    audit::record(
        &mut tx,
        Event {
            workspace_id: None,
            actor_id: Some(&principal.user_id),
            action: "namespace.secret_rotated",
            target_type: "namespace",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    state.snapshots.refresh_namespaces(&state).await;
    Ok(Json(NamespaceWithSecret {
        namespace: load_one(&state, &id).await?,
        secret,
    }))
}

/// Every workspace of the instance and its namespace (instance admin): what a namespace can hold.
#[utoipa::path(get, path = "/api/v1/instance/workspaces", tag = "data planes",
    responses((status = 200, body = Vec<InstanceWorkspace>), (status = 403, body = ErrorBody)))]
async fn list_instance_workspaces(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Vec<InstanceWorkspace>>> {
    principal.require_instance_admin(&state).await?;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT w.id, w.name, nw.namespace_id FROM workspaces w \
         LEFT JOIN namespace_workspaces nw ON nw.workspace_id = w.id ORDER BY w.name, w.id",
    )
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(id, name, namespace_id)| InstanceWorkspace {
                id,
                name,
                namespace_id,
            })
            .collect(),
    ))
}
