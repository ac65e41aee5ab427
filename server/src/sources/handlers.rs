use std::collections::HashMap;

use app::api::sources::{CreateSource, Source, UpdateSource};
use app::api::workspaces::Role;
use app::api::ErrorBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{NAME_MAX, RESOURCE_TYPE};
use crate::accounts::parse_name;
use crate::audit::Event;
use crate::config_api;
use crate::db::flag;
use crate::db::revisions::{self, Revised};
use crate::http::auth::Principal;
use crate::http::error::{ApiResult, AppError};
use crate::http::json::{created, ApiJson};
use crate::ids::{new_id, new_write_key};
use crate::secrets::fields::secret_status;
use crate::secrets::store::{self, Owner};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(rotate_write_key))
}

type SourceRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);
const COLUMNS: &str =
    "id, workspace_id, name, type, config, write_key, enabled, created_at, updated_at";

struct Loaded {
    row: SourceRow,
    destination_ids: Vec<String>,
    secret_paths: Vec<String>,
}

fn to_wire(state: &AppState, loaded: Loaded) -> Source {
    let (id, workspace_id, name, source_type, config, write_key, enabled, created_at, updated_at) =
        loaded.row;
    let secret_keys = state
        .catalog
        .source(&source_type)
        .map(|e| e.definition.secret_keys.clone())
        .unwrap_or_default();
    Source {
        id,
        workspace_id,
        name,
        source_type,
        enabled: enabled == 1,
        write_key,
        config: serde_json::from_str(&config).unwrap_or(Value::Null),
        secrets: secret_status(&secret_keys, &loaded.secret_paths),
        destination_ids: loaded.destination_ids,
        created_at: format_ms(created_at),
        updated_at: format_ms(updated_at),
    }
}

async fn load_one(state: &AppState, ws: &str, id: &str) -> ApiResult<Source> {
    let row: SourceRow = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sources WHERE id = $1 AND workspace_id = $2"
    ))
    .bind(id)
    .bind(ws)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| AppError::not_found("source"))?;
    let destination_ids = sqlx::query_scalar(
        "SELECT destination_id FROM connections WHERE source_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let secret_paths = store::stored_paths(&state.db, RESOURCE_TYPE, id).await?;
    Ok(to_wire(
        state,
        Loaded {
            row,
            destination_ids,
            secret_paths,
        },
    ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources", tag = "sources", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Source>), (status = 404, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Source>>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    let rows: Vec<SourceRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sources WHERE workspace_id = $1 ORDER BY name, id"
    ))
    .bind(&ws)
    .fetch_all(&state.db.pool)
    .await?;
    let connections: Vec<(String, String)> =
        sqlx::query_as("SELECT source_id, destination_id FROM connections WHERE workspace_id = $1 ORDER BY created_at")
            .bind(&ws)
            .fetch_all(&state.db.pool)
            .await?;
    let mut destinations_of: HashMap<String, Vec<String>> = HashMap::new();
    for (source_id, destination_id) in connections {
        destinations_of
            .entry(source_id)
            .or_default()
            .push(destination_id);
    }
    let mut secret_paths = store::stored_paths_in_workspace(&state.db, &ws).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| {
                let id = row.0.clone();
                to_wire(
                    &state,
                    Loaded {
                        destination_ids: destinations_of.remove(&id).unwrap_or_default(),
                        secret_paths: secret_paths
                            .remove(&(RESOURCE_TYPE.to_string(), id))
                            .unwrap_or_default(),
                        row,
                    },
                )
            })
            .collect(),
    ))
}

/// Add a source (editor). `type` is a source definition's name; `config` is checked against its schema.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/sources", tag = "sources", params(("ws" = String, Path)),
    request_body = CreateSource,
    responses((status = 201, body = Source), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_source(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<Response> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let name = parse_name("name", &body.name, NAME_MAX)?;
    let entry = state.catalog.require_source(&body.source_type)?;
    let id = new_id();
    let owner = Owner {
        workspace_id: &ws,
        resource_type: RESOURCE_TYPE,
        resource_id: &id,
    };
    let prepared = entry
        .prepare_new(&state.keyring, owner, body.config)
        .await?;
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO sources ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
    ))
    .bind(&id)
    .bind(&ws)
    .bind(&name)
    .bind(&entry.definition.name)
    .bind(prepared.public.to_string())
    .bind(new_write_key())
    .bind(flag(body.enabled.unwrap_or(true)))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    store::replace(&mut tx, owner, &prepared.sealed).await?;
    config_api::commit_change(&state, tx, &ws, Event {
        workspace_id: Some(&ws),
        actor_id: Some(&access.user_id),
        action: "source.created",
        target_type: "source",
        target_id: &id,
        details: serde_json::json!({ "name": name, "type": entry.definition.name, "secretFields": prepared.secret_fields }),
    }).await?;
    Ok(created(load_one(&state, &ws, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Source), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<Source>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    Ok(Json(load_one(&state, &ws, &id).await?))
}

/// Rename, reconfigure, enable or disable a source (editor). A secret field left out of `config` keeps its
/// stored value; `null` clears it.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = UpdateSource,
    responses((status = 200, body = Source), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateSource>,
) -> ApiResult<Json<Source>> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    // Read before the config the change merges onto: the claim below then covers both.
    let revision = revisions::current(&state.db, Revised::Sources, &id).await?;
    let current = load_one(&state, &ws, &id).await?;
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, NAME_MAX))
        .transpose()?;
    let owner = Owner {
        workspace_id: &ws,
        resource_type: RESOURCE_TYPE,
        resource_id: &id,
    };
    let mut changed_fields = Vec::new();
    let prepared = match body.config {
        Some(config) => {
            let entry = state.catalog.require_source(&current.source_type)?;
            changed_fields.push("config");
            Some(
                entry
                    .prepare_update(&state.db, &state.keyring, owner, &current.config, config)
                    .await?,
            )
        }
        None => None,
    };
    let mut tx = state.db.pool.begin().await?;
    // A config change merged onto what was read above (stored secrets kept): it must not undo a change
    // that committed in between, nor bring back a secret that one cleared.
    let based_on = prepared.as_ref().map(|_| revision.as_str());
    revisions::advance(&mut tx, &state.db, Revised::Sources, &id, based_on).await?;
    if let Some(name) = &name {
        sqlx::query("UPDATE sources SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        changed_fields.push("name");
    }
    if let Some(enabled) = body.enabled {
        sqlx::query("UPDATE sources SET enabled = $1 WHERE id = $2")
            .bind(flag(enabled))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        changed_fields.push("enabled");
    }
    if let Some(prepared) = &prepared {
        sqlx::query("UPDATE sources SET config = $1 WHERE id = $2")
            .bind(prepared.public.to_string())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        store::replace(&mut tx, owner, &prepared.sealed).await?;
    }
    config_api::commit_change(
        &state,
        tx,
        &ws,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "source.updated",
            target_type: "source",
            target_id: &id,
            details: serde_json::json!({ "changed": changed_fields, "enabled": body.enabled }),
        },
    )
    .await?;
    Ok(Json(load_one(&state, &ws, &id).await?))
}

/// Delete a source and its connections (editor). Its write key stops working at once.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/sources/{id}", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let mut tx = state.db.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM sources WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(&ws)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("source"));
    }
    store::delete(&mut tx, RESOURCE_TYPE, &id).await?;
    config_api::commit_change(
        &state,
        tx,
        &ws,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "source.deleted",
            target_type: "source",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a source a new write key (editor). The old one stops working at once.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/sources/{id}/rotate-write-key", tag = "sources",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Source), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_write_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<Source>> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let mut tx = state.db.pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE sources SET write_key = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4",
    )
    .bind(new_write_key())
    .bind(now_ms())
    .bind(&id)
    .bind(&ws)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(AppError::not_found("source"));
    }
    config_api::commit_change(
        &state,
        tx,
        &ws,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "source.write_key_rotated",
            target_type: "source",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(Json(load_one(&state, &ws, &id).await?))
}
