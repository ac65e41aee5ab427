//! API tokens (for scripts and tools: `Authorization: Bearer` on `/api/v1`) and data-plane tokens (what a
//! rudder-server uses as its `WORKSPACE_TOKEN`). Both are random, shown once, stored as a SHA-256 hash.
//!
//! An API token acts for its creator within one workspace, at the lower of its own role and its creator's
//! current role there. It can never mint a token above its own role: a token made by a token is capped by
//! the role the making token acts with.

mod handlers;

use app::api::tokens::{ApiToken, CreatedToken, DataPlaneToken};
use app::api::workspaces::Role;

pub use handlers::routes;

use crate::access::{self, AccessError, Actor, ActorKind, Origin};
use crate::accounts::parse_name;
use crate::audit::{self, Changes};
use crate::db::Db;
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::{hash_token, new_id, new_token};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub const API_TOKEN_KIND: &str = "whk_api";
pub const DATA_PLANE_TOKEN_KIND: &str = "whk_dp";
pub const NAME_MAX: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("this API token is not valid (revoked, or mistyped)")]
    UnknownToken,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("only an admin or the token's creator can revoke it")]
    NotYours,
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(TokenError);

impl DomainError for TokenError {
    fn kind(&self) -> Kind {
        match self {
            TokenError::Access(e) => e.kind(),
            TokenError::Invalid(e) => e.kind(),
            TokenError::UnknownToken => Kind::Unauthenticated,
            TokenError::NotFound(_) => Kind::NotFound,
            TokenError::NotYours => Kind::Forbidden,
            TokenError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            TokenError::Invalid(e) => e.field(),
            _ => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ApiTokenRow {
    id: String,
    workspace_id: String,
    user_id: String,
    role: String,
    name: String,
    email: String,
}

/// The actor an API token stands for; `UnknownToken` when it is not (or no longer) valid.
pub async fn authenticate(db: &Db, token: &str, origin: Origin) -> Result<Actor, TokenError> {
    let row: Option<ApiTokenRow> = sqlx::query_as(
        "SELECT t.id, t.workspace_id, t.user_id, t.role, t.name, u.email
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(&db.pool)
    .await?;
    let row = row.ok_or(TokenError::UnknownToken)?;
    // Recorded at most once a minute: a busy script should not turn every read into a write.
    let now = now_ms();
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(now)
        .bind(&row.id)
        .bind(now - 60_000)
        .execute(&db.pool)
        .await?;
    let role = Role::parse(&row.role).ok_or(TokenError::UnknownToken)?;
    Ok(Actor {
        label: format!("API token \"{}\" ({})", row.name, row.email),
        kind: ActorKind::ApiToken {
            user_id: row.user_id,
            token_id: row.id,
            workspace_id: row.workspace_id,
            role,
        },
        origin,
    })
}

#[derive(sqlx::FromRow)]
struct ApiTokenListRow {
    id: String,
    name: String,
    workspace_id: String,
    role: String,
    prefix: String,
    email: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// API tokens of the workspaces where the actor is an admin (an API token: its own workspace, if it acts
/// as an admin there), optionally of one workspace.
pub async fn list_api_tokens(
    db: &Db,
    actor: &Actor,
    workspace_id: Option<&str>,
) -> Result<Vec<ApiToken>, TokenError> {
    let Some(user_id) = actor.user_id() else {
        return Ok(Vec::new());
    };
    let rows: Vec<ApiTokenListRow> = sqlx::query_as(
        "SELECT t.id, t.name, t.workspace_id, t.role, t.prefix, u.email, t.created_at, t.last_used_at
         FROM api_tokens t
         JOIN users u ON u.id = t.user_id
         JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = $1
         ORDER BY t.created_at DESC",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        if workspace_id.is_some_and(|w| w != row.workspace_id) {
            continue;
        }
        let admin = access::role_in(db, actor, &row.workspace_id)
            .await?
            .is_some_and(|role| role.at_least(Role::Admin));
        let Some(role) = Role::parse(&row.role).filter(|_| admin) else {
            continue;
        };
        out.push(ApiToken {
            id: row.id,
            name: row.name,
            workspace_id: row.workspace_id,
            role,
            prefix: row.prefix,
            created_by: row.email,
            created_at: format_ms(row.created_at),
            last_used_at: row.last_used_at.map(format_ms),
        });
    }
    Ok(out)
}

/// Creates an API token for a workspace (admin). Its role cannot exceed the role the actor acts with there:
/// a person's role, or for a token the lower of its own role and its creator's.
pub async fn create_api_token(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    name: &str,
    role: Role,
) -> Result<CreatedToken, TokenError> {
    let access = access::require(db, actor, workspace_id, Role::Admin).await?;
    let name = parse_name("name", name, NAME_MAX)?;
    if !access.role.at_least(role) {
        return Err(Invalid::new(
            "role",
            format!(
                "role cannot exceed {} ({})",
                if actor.is_token() {
                    "the role of the token that creates it"
                } else {
                    "your own role"
                },
                access.role
            ),
        )
        .into());
    }
    let user_id = actor.user_id().ok_or(TokenError::NotFound("user"))?;
    let id = new_id();
    let (token, hash, prefix) = new_token(API_TOKEN_KIND);
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO api_tokens (id, workspace_id, user_id, name, role, token_hash, prefix, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(user_id)
    .bind(&name)
    .bind(role.as_str())
    .bind(&hash)
    .bind(&prefix)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("api_token.created", &id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(Changes::new().set("name", &name).set("role", role)),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken { id, token })
}

/// Revokes an API token: an admin of its workspace, or the person who created it. It stops working at once
/// (every request looks its hash up).
pub async fn revoke_api_token(db: &Db, actor: &Actor, id: &str) -> Result<(), TokenError> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT workspace_id, user_id, name FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    let Some((workspace_id, creator, name)) = row else {
        return Err(TokenError::NotFound("API token"));
    };
    let role = access::role_in(db, actor, &workspace_id)
        .await?
        .ok_or(TokenError::NotFound("API token"))?;
    // The creator's own exemption is for the person: a token acting for them stays within its role (a
    // viewer token must not revoke the tokens its creator made for other scripts).
    let own_token = matches!(&actor.kind, ActorKind::Person { user_id } if *user_id == creator);
    if !role.at_least(Role::Admin) && !own_token {
        return Err(TokenError::NotYours);
    }
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM api_tokens WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("api_token.revoked", id)
            .in_workspace(&workspace_id)
            .named(&name)
            .with(Changes::new().removed("name", &name)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DataPlaneTokenRow {
    id: String,
    name: String,
    prefix: String,
    created_by: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

/// A workspace's data-plane tokens (admin).
pub async fn list_data_plane_tokens(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<DataPlaneToken>, TokenError> {
    access::require(db, actor, workspace_id, Role::Admin).await?;
    let rows: Vec<DataPlaneTokenRow> = sqlx::query_as(
        "SELECT id, name, prefix, created_by, created_at, last_used_at FROM data_plane_tokens
         WHERE workspace_id = $1 ORDER BY created_at DESC",
    )
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| DataPlaneToken {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: format_ms(row.created_at),
            last_used_at: row.last_used_at.map(format_ms),
        })
        .collect())
}

/// Creates a data-plane token (admin): usable as soon as this returns, on every replica.
pub async fn create_data_plane_token(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    name: &str,
) -> Result<CreatedToken, TokenError> {
    access::require(&state.db, actor, workspace_id, Role::Admin).await?;
    let name = parse_name("name", name, NAME_MAX)?;
    let id = new_id();
    let (token, hash, prefix) = new_token(DATA_PLANE_TOKEN_KIND);
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO data_plane_tokens (id, workspace_id, name, token_hash, prefix, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&name)
    .bind(&hash)
    .bind(&prefix)
    .bind(&actor.label)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("data_plane_token.created", &id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(Changes::new().set("name", &name)),
    )
    .await?;
    tx.commit().await?;
    state.snapshot.add_token(workspace_id, &id, &hash).await;
    if !state
        .snapshot
        .current()
        .workspaces
        .contains_key(workspace_id)
    {
        // The workspace's documents were never built here (a new workspace): build them now.
        state.snapshot.publish(workspace_id).await;
    }
    Ok(CreatedToken { id, token })
}

/// Revokes a data-plane token (admin). Its data plane gets 401 from its next poll, on every replica, even
/// when the workspace's config cannot be rebuilt.
pub async fn revoke_data_plane_token(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), TokenError> {
    access::require(&state.db, actor, workspace_id, Role::Admin).await?;
    let mut tx = state.db.begin().await?;
    let revoked: Option<(String, String)> = sqlx::query_as(
        "DELETE FROM data_plane_tokens WHERE id = $1 AND workspace_id = $2 RETURNING token_hash, name",
    )
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((hash, name)) = revoked else {
        return Err(TokenError::NotFound("data-plane token"));
    };
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("data_plane_token.revoked", id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(Changes::new().removed("name", &name)),
    )
    .await?;
    tx.commit().await?;
    state.snapshot.revoke_token(&hash).await;
    Ok(())
}
