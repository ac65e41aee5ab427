//! Namespaces: instance administrators group workspaces for multi-tenant data planes. A data plane sets the
//! namespace's name as `WORKSPACE_NAMESPACE` and its secret (shown once) as `HOSTED_SERVICE_SECRET`, and
//! polls the namespace's config (`config_api`).

mod handlers;

use app::api::namespaces::{InstanceWorkspace, Namespace, NamespaceWithSecret};
use sqlx::AnyConnection;

pub use handlers::routes;

use crate::access::{self, AccessError, Actor};
use crate::audit::{self, Changes};
use crate::db::{is_unique_violation, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::{new_id, new_token};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

const SECRET_KIND: &str = "whk_ns";

/// A namespace as the config snapshot needs it.
#[derive(Clone, Debug)]
pub struct NamespaceDef {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub workspace_ids: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("a namespace with this name exists")]
    NameTaken,
    #[error("{field} is already in a namespace (or listed twice)")]
    WorkspaceTaken { field: String },
    #[error("namespace not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(NamespaceError);

impl DomainError for NamespaceError {
    fn kind(&self) -> Kind {
        match self {
            NamespaceError::Access(e) => e.kind(),
            NamespaceError::Invalid(e) => e.kind(),
            NamespaceError::NameTaken | NamespaceError::WorkspaceTaken { .. } => Kind::Conflict,
            NamespaceError::NotFound => Kind::NotFound,
            NamespaceError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            NamespaceError::Invalid(e) => e.field(),
            NamespaceError::NameTaken => Some("name"),
            NamespaceError::WorkspaceTaken { field } => Some(field),
            _ => None,
        }
    }
}

/// A row of `namespaces`.
#[derive(sqlx::FromRow)]
struct NamespaceRow {
    id: String,
    name: String,
    /// SHA-256 of the secret; the secret itself is shown once.
    secret_hash: String,
    /// The secret's first characters, to recognise it.
    prefix: String,
    created_at: i64,
    updated_at: i64,
}

impl NamespaceRow {
    const COLUMNS: &'static str = "id, name, secret_hash, prefix, created_at, updated_at";
}

/// Every namespace with its workspaces (the config snapshot's view).
pub async fn load_definitions(db: &Db) -> Result<Vec<NamespaceDef>, DbError> {
    let rows: Vec<NamespaceRow> = sqlx::query_as(&format!(
        "SELECT {} FROM namespaces ORDER BY name",
        NamespaceRow::COLUMNS
    ))
    .fetch_all(&db.pool)
    .await?;
    let members: Vec<(String, String)> = sqlx::query_as(
        "SELECT namespace_id, workspace_id FROM namespace_workspaces ORDER BY workspace_id",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut by_namespace: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (namespace_id, workspace_id) in members {
        by_namespace
            .entry(namespace_id)
            .or_default()
            .push(workspace_id);
    }
    Ok(rows
        .into_iter()
        .map(|row| NamespaceDef {
            workspace_ids: by_namespace.remove(&row.id).unwrap_or_default(),
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
        })
        .collect())
}

async fn load_row(conn: &mut AnyConnection, id: &str) -> Result<NamespaceRow, NamespaceError> {
    sqlx::query_as(&format!(
        "SELECT {} FROM namespaces WHERE id = $1",
        NamespaceRow::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(NamespaceError::NotFound)
}

async fn load(db: &Db, id: &str) -> Result<Namespace, NamespaceError> {
    let row = load_row(&mut *db.pool.acquire().await?, id).await?;
    let workspace_ids = sqlx::query_scalar(
        "SELECT workspace_id FROM namespace_workspaces WHERE namespace_id = $1 ORDER BY workspace_id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(Namespace {
        id: row.id,
        name: row.name,
        workspace_ids,
        secret_prefix: row.prefix,
        created_at: format_ms(row.created_at),
        updated_at: format_ms(row.updated_at),
    })
}

/// Namespace names go into rudder-server's URL path: lower-case letters, digits, `-` and `_`.
fn parse_namespace_name(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(Invalid::new(
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
) -> Result<Vec<String>, NamespaceError> {
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
            return Err(Invalid::new(
                format!("workspaceIds.{i}"),
                format!("workspaceIds.{i} is not a workspace"),
            )
            .into());
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
                return Err(NamespaceError::WorkspaceTaken {
                    field: format!("workspaceIds.{i}"),
                })
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

async fn members(conn: &mut AnyConnection, namespace_id: &str) -> Result<Vec<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT workspace_id FROM namespace_workspaces WHERE namespace_id = $1")
            .bind(namespace_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// A workspace joining a namespace is new to its data planes, and one leaving may join another: either
/// way its `updatedAt` moves, so that an incremental poll (`updatedAfter`) sends it in full, not as `null`.
async fn touch_all(conn: &mut AnyConnection, workspace_ids: &[String]) -> Result<(), DbError> {
    for workspace_id in workspace_ids {
        crate::changes::touch(conn, workspace_id).await?;
    }
    Ok(())
}

/// After the commit: the moved workspaces' snapshots first, so that a namespace never lists a new member
/// with its snapshot from before the move.
async fn publish(state: &AppState, changed: &[String]) {
    for workspace_id in changed {
        state.snapshot.publish(workspace_id).await;
    }
    state.snapshot.publish_namespaces().await;
}

pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Namespace>, NamespaceError> {
    access::require_instance_admin(db, actor).await?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM namespaces ORDER BY name")
        .fetch_all(&db.pool)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load(db, &id).await?);
    }
    Ok(out)
}

/// Creates a namespace (instance admin). Its secret is in the answer, and nowhere else, ever.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    name: &str,
    workspace_ids: &[String],
) -> Result<NamespaceWithSecret, NamespaceError> {
    access::require_instance_admin(&state.db, actor).await?;
    let name = parse_namespace_name(name)?;
    let id = new_id();
    let (secret, hash, prefix) = new_token(SECRET_KIND);
    let now = now_ms();
    let mut tx = state.db.begin().await?;
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
        Err(e) if is_unique_violation(&e) => return Err(NamespaceError::NameTaken),
        other => other?,
    };
    let changed = set_members(&mut tx, &id, workspace_ids).await?;
    let changes = Changes::new()
        .set("name", &name)
        .set("workspaceIds", workspace_ids);
    let entry = audit::Entry::new("namespace.created", &id).named(&name);
    audit::record(&mut tx, actor, entry.with(changes)).await?;
    tx.commit().await?;
    publish(state, &changed).await;
    Ok(NamespaceWithSecret {
        namespace: load(&state.db, &id).await?,
        secret,
    })
}

/// Sets a namespace's workspaces (instance admin).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    workspace_ids: Option<Vec<String>>,
) -> Result<Namespace, NamespaceError> {
    access::require_instance_admin(&state.db, actor).await?;
    let before = load(&state.db, id).await?;
    if let Some(workspace_ids) = workspace_ids {
        let mut tx = state.db.begin().await?;
        let changed = set_members(&mut tx, id, &workspace_ids).await?;
        sqlx::query("UPDATE namespaces SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let changes = Changes::new().field(
            "workspaceIds",
            Some(&before.workspace_ids),
            Some(&workspace_ids),
        );
        audit::record(
            &mut tx,
            actor,
            audit::Entry::new("namespace.updated", id)
                .named(&before.name)
                .with(changes),
        )
        .await?;
        tx.commit().await?;
        publish(state, &changed).await;
    }
    load(&state.db, id).await
}

/// Deletes a namespace (instance admin): its secret stops working at once.
pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<(), NamespaceError> {
    access::require_instance_admin(&state.db, actor).await?;
    let mut tx = state.db.begin().await?;
    let gone = load_row(&mut tx, id).await?;
    let left = members(&mut tx, id).await?;
    touch_all(&mut tx, &left).await?;
    sqlx::query("DELETE FROM namespaces WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let changes = Changes::new().removed("name", &gone.name);
    let entry = audit::Entry::new("namespace.deleted", id).named(&gone.name);
    audit::record(&mut tx, actor, entry.with(changes)).await?;
    tx.commit().await?;
    state
        .snapshot
        .revoke_namespace_secret(&gone.secret_hash)
        .await;
    publish(state, &left).await;
    Ok(())
}

/// A new secret for the namespace (instance admin); the old one stops working at once.
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<NamespaceWithSecret, NamespaceError> {
    access::require_instance_admin(&state.db, actor).await?;
    let (secret, hash, prefix) = new_token(SECRET_KIND);
    let mut tx = state.db.begin().await?;
    let old = load_row(&mut tx, id).await?;
    sqlx::query(
        "UPDATE namespaces SET secret_hash = $1, prefix = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(&hash)
    .bind(&prefix)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // The prefixes (what the API shows to recognise a secret), never the secrets.
    let changes = Changes::new().field("secretPrefix", Some(&old.prefix), Some(&prefix));
    let entry = audit::Entry::new("namespace.secret_rotated", id).named(&old.name);
    audit::record(&mut tx, actor, entry.with(changes)).await?;
    tx.commit().await?;
    state
        .snapshot
        .revoke_namespace_secret(&old.secret_hash)
        .await;
    state.snapshot.publish_namespaces().await;
    Ok(NamespaceWithSecret {
        namespace: load(&state.db, id).await?,
        secret,
    })
}

/// Every workspace of the instance and its namespace (instance admin): what a namespace can hold.
pub async fn instance_workspaces(
    db: &Db,
    actor: &Actor,
) -> Result<Vec<InstanceWorkspace>, NamespaceError> {
    access::require_instance_admin(db, actor).await?;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT w.id, w.name, nw.namespace_id FROM workspaces w \
         LEFT JOIN namespace_workspaces nw ON nw.workspace_id = w.id ORDER BY w.name, w.id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, namespace_id)| InstanceWorkspace {
            id,
            name,
            namespace_id,
        })
        .collect())
}
