use std::collections::HashMap;

use app::api::destinations::{CreateDestination, Destination, UpdateDestination};
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
use crate::ids::new_id;
use crate::secrets::fields::secret_status;
use crate::secrets::store::{self, Owner};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_destinations, create_destination))
        .routes(routes!(
            get_destination,
            update_destination,
            delete_destination
        ))
}

type DestinationRow = (String, String, String, String, String, i64, i64, i64);
const COLUMNS: &str = "id, workspace_id, name, type, config, enabled, created_at, updated_at";

struct Loaded {
    row: DestinationRow,
    source_ids: Vec<String>,
    secret_paths: Vec<String>,
}

fn to_wire(state: &AppState, loaded: Loaded) -> Destination {
    let (id, workspace_id, name, destination_type, config, enabled, created_at, updated_at) =
        loaded.row;
    let secret_keys = state
        .catalog
        .destination(&destination_type)
        .map(|e| e.definition.secret_keys.clone())
        .unwrap_or_default();
    Destination {
        id,
        workspace_id,
        name,
        destination_type,
        enabled: enabled == 1,
        config: serde_json::from_str(&config).unwrap_or(Value::Null),
        secrets: secret_status(&secret_keys, &loaded.secret_paths),
        source_ids: loaded.source_ids,
        created_at: format_ms(created_at),
        updated_at: format_ms(updated_at),
    }
}

async fn load_one(state: &AppState, ws: &str, id: &str) -> ApiResult<Destination> {
    let row: DestinationRow = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM destinations WHERE id = $1 AND workspace_id = $2"
    ))
    .bind(id)
    .bind(ws)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(|| AppError::not_found("destination"))?;
    let source_ids = sqlx::query_scalar(
        "SELECT source_id FROM connections WHERE destination_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&state.db.pool)
    .await?;
    let secret_paths = store::stored_paths(&state.db, RESOURCE_TYPE, id).await?;
    Ok(to_wire(
        state,
        Loaded {
            row,
            source_ids,
            secret_paths,
        },
    ))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations", tag = "destinations", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<Destination>), (status = 404, body = ErrorBody)))]
async fn list_destinations(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<Destination>>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    let rows: Vec<DestinationRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM destinations WHERE workspace_id = $1 ORDER BY name, id"
    ))
    .bind(&ws)
    .fetch_all(&state.db.pool)
    .await?;
    let connections: Vec<(String, String)> =
        sqlx::query_as("SELECT destination_id, source_id FROM connections WHERE workspace_id = $1 ORDER BY created_at")
            .bind(&ws)
            .fetch_all(&state.db.pool)
            .await?;
    let mut sources_of: HashMap<String, Vec<String>> = HashMap::new();
    for (destination_id, source_id) in connections {
        sources_of
            .entry(destination_id)
            .or_default()
            .push(source_id);
    }
    let mut secret_paths = store::stored_paths_in_workspace(&state.db, &ws).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| {
                let id = row.0.clone();
                to_wire(
                    &state,
                    Loaded {
                        source_ids: sources_of.remove(&id).unwrap_or_default(),
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

/// Add a destination (editor). `type` is a destination definition's name; `config` is checked against its
/// schema; its secret fields are encrypted and never shown again.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/destinations", tag = "destinations", params(("ws" = String, Path)),
    request_body = CreateDestination,
    responses((status = 201, body = Destination), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path(ws): Path<String>,
    ApiJson(body): ApiJson<CreateDestination>,
) -> ApiResult<Response> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let name = parse_name("name", &body.name, NAME_MAX)?;
    let entry = state.catalog.require_destination(&body.destination_type)?;
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
        "INSERT INTO destinations ({COLUMNS}, revision_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)"
    ))
    .bind(&id)
    .bind(&ws)
    .bind(&name)
    .bind(&entry.definition.name)
    .bind(prepared.public.to_string())
    .bind(flag(body.enabled.unwrap_or(true)))
    .bind(now)
    .bind(new_id())
    .execute(&mut *tx)
    .await?;
    store::replace(&mut tx, owner, &prepared.sealed).await?;
    config_api::commit_change(&state, tx, &ws, Event {
        workspace_id: Some(&ws),
        actor_id: Some(&access.user_id),
        action: "destination.created",
        target_type: "destination",
        target_id: &id,
        details: serde_json::json!({ "name": name, "type": entry.definition.name, "secretFields": prepared.secret_fields }),
    }).await?;
    Ok(created(load_one(&state, &ws, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Destination), (status = 404, body = ErrorBody)))]
async fn get_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<Destination>> {
    principal.access(&state, &ws, Role::Viewer).await?;
    Ok(Json(load_one(&state, &ws, &id).await?))
}

/// Rename, reconfigure, enable or disable a destination (editor). A secret field left out of `config` keeps
/// its stored value; `null` clears it.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path)), request_body = UpdateDestination,
    responses((status = 200, body = Destination), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateDestination>,
) -> ApiResult<Json<Destination>> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    // Read before the config the change merges onto: the claim below then covers both.
    let revision = revisions::current(&state.db, Revised::Destinations, &id).await?;
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
            let entry = state
                .catalog
                .require_destination(&current.destination_type)?;
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
    revisions::advance(&mut tx, &state.db, Revised::Destinations, &id, based_on).await?;
    if let Some(name) = &name {
        sqlx::query("UPDATE destinations SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        changed_fields.push("name");
    }
    if let Some(enabled) = body.enabled {
        sqlx::query("UPDATE destinations SET enabled = $1 WHERE id = $2")
            .bind(flag(enabled))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        changed_fields.push("enabled");
    }
    if let Some(prepared) = &prepared {
        sqlx::query("UPDATE destinations SET config = $1 WHERE id = $2")
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
            action: "destination.updated",
            target_type: "destination",
            target_id: &id,
            details: serde_json::json!({ "changed": changed_fields, "enabled": body.enabled }),
        },
    )
    .await?;
    Ok(Json(load_one(&state, &ws, &id).await?))
}

/// Delete a destination and its connections (editor).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/destinations/{id}", tag = "destinations",
    params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = principal.access(&state, &ws, Role::Editor).await?;
    let mut tx = state.db.pool.begin().await?;
    let deleted = sqlx::query("DELETE FROM destinations WHERE id = $1 AND workspace_id = $2")
        .bind(&id)
        .bind(&ws)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(AppError::not_found("destination"));
    }
    store::delete(&mut tx, RESOURCE_TYPE, &id).await?;
    config_api::commit_change(
        &state,
        tx,
        &ws,
        Event {
            workspace_id: Some(&ws),
            actor_id: Some(&access.user_id),
            action: "destination.deleted",
            target_type: "destination",
            target_id: &id,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
