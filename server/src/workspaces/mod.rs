//! Workspaces, their members and roles, ownership handover, settings, and invites (`invites`).
//!
//! Member changes are race-free on every database: the rule "a workspace has exactly one owner, whose role
//! only changes by a handover" is enforced by the statements that change roles (conditional on the role read
//! in the same statement), not by a read that a concurrent change could make stale.

mod handlers;
pub mod invites;

use app::api::workspaces::{Member, Role, Workspace};
use sqlx::AnyConnection;

pub use handlers::routes;

use crate::access::{self, AccessError, Actor, ActorKind};
use crate::accounts::{parse_name, AccountError};
use crate::audit::{self, Changes};
use crate::db::Db;
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

pub const NAME_MAX: usize = 100;
pub const RETENTION_DAYS_MAX: u32 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("this person is already a member")]
    AlreadyMember,
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(WorkspaceError);

impl DomainError for WorkspaceError {
    fn kind(&self) -> Kind {
        match self {
            WorkspaceError::Access(e) => e.kind(),
            WorkspaceError::Invalid(e) => e.kind(),
            WorkspaceError::NotFound(_) => Kind::NotFound,
            WorkspaceError::Forbidden(_) => Kind::Forbidden,
            WorkspaceError::AlreadyMember => Kind::Conflict,
            WorkspaceError::Account(e) => e.kind(),
            WorkspaceError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            WorkspaceError::Invalid(e) => e.field(),
            WorkspaceError::AlreadyMember => Some("email"),
            WorkspaceError::Account(e) => e.field(),
            _ => None,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            WorkspaceError::Account(e) => e.retry_after_secs(),
            _ => None,
        }
    }
}

/// A row of `workspaces`.
#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: String,
    name: String,
    audit_retention_days: i64,
    live_payloads: i64,
    disable_reporting_pii: i64,
    volume_minute_retention_hours: i64,
    volume_hour_retention_days: i64,
    volume_day_retention_days: i64,
    error_retention_days: i64,
    created_at: i64,
    updated_at: i64,
}

/// The numeric settings: (wire name, column, smallest, largest). The column names are ours, never input.
const NUMBERS: [(&str, &str, u32, u32); 5] = [
    (
        "auditRetentionDays",
        "audit_retention_days",
        1,
        RETENTION_DAYS_MAX,
    ),
    (
        "volumeMinuteRetentionHours",
        "volume_minute_retention_hours",
        1,
        168,
    ),
    (
        "volumeHourRetentionDays",
        "volume_hour_retention_days",
        1,
        90,
    ),
    (
        "volumeDayRetentionDays",
        "volume_day_retention_days",
        1,
        RETENTION_DAYS_MAX,
    ),
    ("errorRetentionDays", "error_retention_days", 1, 365),
];

fn as_u32(value: i64) -> u32 {
    value.clamp(0, u32::MAX as i64) as u32
}

impl WorkspaceRow {
    const COLUMNS: &'static str =
        "id, name, audit_retention_days, live_payloads, disable_reporting_pii, volume_minute_retention_hours,
         volume_hour_retention_days, volume_day_retention_days, error_retention_days, created_at, updated_at";

    fn into_wire(self, role: Role) -> Workspace {
        Workspace {
            id: self.id,
            name: self.name,
            role,
            audit_retention_days: as_u32(self.audit_retention_days),
            live_payloads: self.live_payloads != 0,
            disable_reporting_pii: self.disable_reporting_pii != 0,
            volume_minute_retention_hours: as_u32(self.volume_minute_retention_hours),
            volume_hour_retention_days: as_u32(self.volume_hour_retention_days),
            volume_day_retention_days: as_u32(self.volume_day_retention_days),
            error_retention_days: as_u32(self.error_retention_days),
            created_at: format_ms(self.created_at),
            updated_at: format_ms(self.updated_at),
        }
    }

    /// The numeric settings, in the order of `NUMBERS`.
    fn numbers(&self) -> [i64; 5] {
        [
            self.audit_retention_days,
            self.volume_minute_retention_hours,
            self.volume_hour_retention_days,
            self.volume_day_retention_days,
            self.error_retention_days,
        ]
    }
}

async fn load(db: &Db, workspace_id: &str) -> Result<WorkspaceRow, WorkspaceError> {
    sqlx::query_as(&format!(
        "SELECT {} FROM workspaces WHERE id = $1",
        WorkspaceRow::COLUMNS
    ))
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(WorkspaceError::NotFound("workspace"))
}

/// Creates a workspace owned by `owner_id`, inside the caller's transaction. Returns its id.
pub async fn insert(
    conn: &mut AnyConnection,
    actor: &Actor,
    name: &str,
    owner_id: &str,
) -> Result<String, DbError> {
    let id = new_id();
    let now = now_ms();
    sqlx::query("INSERT INTO workspaces (id, name, config_updated_at, created_at, updated_at) VALUES ($1, $2, $3, $3, $3)")
        .bind(&id)
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    upsert_member(conn, &id, owner_id, Role::Owner).await?;
    audit::record(
        conn,
        actor,
        audit::Entry::new("workspace.created", &id)
            .in_workspace(&id)
            .named(name)
            .with(Changes::new().set("name", name)),
    )
    .await?;
    Ok(id)
}

/// Adds a member, or sets the role of an existing one.
pub async fn upsert_member(
    conn: &mut AnyConnection,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The workspaces the actor belongs to (an API token: its own), with its role in each.
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Workspace>, WorkspaceError> {
    let Some(user_id) = actor.user_id() else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT w.id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY w.name, w.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(role) = access::role_in(db, actor, &id).await? {
            out.push(load(db, &id).await?.into_wire(role));
        }
    }
    Ok(out)
}

/// Creates a workspace; the person creating it becomes its owner. Not for API tokens, which are scoped to
/// one workspace.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    name: &str,
) -> Result<Workspace, WorkspaceError> {
    let user_id = match &actor.kind {
        ActorKind::Person { user_id } => user_id.clone(),
        _ => {
            return Err(AccessError::NeedsPerson(
                "API tokens are scoped to one workspace and cannot create workspaces; sign in"
                    .into(),
            )
            .into())
        }
    };
    let name = parse_name("name", name, NAME_MAX)?;
    let mut tx = state.db.begin().await?;
    let id = insert(&mut tx, actor, &name, &user_id).await?;
    tx.commit().await?;
    state.snapshot.publish(&id).await;
    Ok(load(&state.db, &id).await?.into_wire(Role::Owner))
}

pub async fn get(db: &Db, actor: &Actor, workspace_id: &str) -> Result<Workspace, WorkspaceError> {
    let access = access::require(db, actor, workspace_id, Role::Viewer).await?;
    Ok(load(db, workspace_id).await?.into_wire(access.role))
}

/// What a workspace's admins may change about it.
#[derive(Default)]
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub audit_retention_days: Option<u32>,
    pub live_payloads: Option<bool>,
    pub disable_reporting_pii: Option<bool>,
    pub volume_minute_retention_hours: Option<u32>,
    pub volume_hour_retention_days: Option<u32>,
    pub volume_day_retention_days: Option<u32>,
    pub error_retention_days: Option<u32>,
}

impl WorkspaceChange {
    /// The numeric settings asked for, in the order of `NUMBERS`.
    fn numbers(&self) -> [Option<u32>; 5] {
        [
            self.audit_retention_days,
            self.volume_minute_retention_hours,
            self.volume_hour_retention_days,
            self.volume_day_retention_days,
            self.error_retention_days,
        ]
    }
}

/// Renames a workspace or changes its settings: how long its audit log and its event volume are kept, whether
/// the live debugger keeps payloads, whether error reports keep samples (admin).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    change: WorkspaceChange,
) -> Result<Workspace, WorkspaceError> {
    let db = &state.db;
    let access = access::require(db, actor, workspace_id, Role::Admin).await?;
    let name = change
        .name
        .as_deref()
        .map(|n| parse_name("name", n, NAME_MAX))
        .transpose()?;
    for ((field, _, min, max), value) in NUMBERS.iter().zip(change.numbers()) {
        if value.is_some_and(|v| !(*min..=*max).contains(&v)) {
            return Err(
                Invalid::new(*field, format!("{field} must be between {min} and {max}")).into(),
            );
        }
    }
    let current = load(db, workspace_id).await?;
    let numbers: Vec<i64> = current
        .numbers()
        .into_iter()
        .zip(change.numbers())
        .map(|(now, asked)| asked.map_or(now, i64::from))
        .collect();
    let live_payloads = change
        .live_payloads
        .map_or(current.live_payloads, i64::from);
    let disable_reporting_pii = change
        .disable_reporting_pii
        .map_or(current.disable_reporting_pii, i64::from);
    let mut changes = Changes::new()
        .field(
            "name",
            Some(&current.name),
            name.as_ref().or(Some(&current.name)),
        )
        .field(
            "livePayloads",
            Some(current.live_payloads != 0),
            Some(live_payloads != 0),
        )
        .field(
            "disableReportingPii",
            Some(current.disable_reporting_pii != 0),
            Some(disable_reporting_pii != 0),
        );
    for (((field, ..), before), after) in NUMBERS.iter().zip(current.numbers()).zip(&numbers) {
        changes = changes.field(field, Some(before), Some(after));
    }
    if !changes.is_empty() {
        let mut tx = db.begin().await?;
        let assignments: Vec<String> = NUMBERS
            .iter()
            .enumerate()
            .map(|(i, (_, column, ..))| format!("{column} = ${}", i + 4))
            .collect();
        let sql = format!(
            "UPDATE workspaces SET name = $1, live_payloads = $2, disable_reporting_pii = $3, {},
                 updated_at = ${} WHERE id = ${}",
            assignments.join(", "),
            NUMBERS.len() + 4,
            NUMBERS.len() + 5
        );
        let mut query = sqlx::query(&sql)
            .bind(name.as_deref().unwrap_or(&current.name))
            .bind(live_payloads)
            .bind(disable_reporting_pii);
        for value in &numbers {
            query = query.bind(*value);
        }
        query
            .bind(now_ms())
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        if live_payloads == 0 && current.live_payloads != 0 {
            // Payloads are personal data: no longer captured means no longer kept either.
            sqlx::query("DELETE FROM captured_events WHERE workspace_id = $1")
                .bind(workspace_id)
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            actor,
            audit::Entry::new("workspace.updated", workspace_id)
                .in_workspace(workspace_id)
                .named(name.as_deref().unwrap_or(&current.name))
                .with(changes),
        )
        .await?;
        tx.commit().await?;
        if live_payloads != current.live_payloads {
            // Not in the data planes' config, but the live pipeline reads it from the snapshot.
            state.snapshot.publish(workspace_id).await;
        }
    }
    Ok(load(db, workspace_id).await?.into_wire(access.role))
}

/// Deletes a workspace and everything in it (owner). Its data-plane tokens stop working at once.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<(), WorkspaceError> {
    access::require(&state.db, actor, workspace_id, Role::Owner).await?;
    let current = load(&state.db, workspace_id).await?;
    let mut tx = state.db.begin().await?;
    let token_hashes: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM data_plane_tokens WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM workspaces WHERE id = $1")
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?;
    // Kept beyond the workspace (its entries go with it): who deleted it, and when.
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("workspace.deleted", workspace_id)
            .named(&current.name)
            .with(Changes::new().removed("name", &current.name)),
    )
    .await?;
    tx.commit().await?;
    for hash in token_hashes {
        state.snapshot.revoke_token(&hash).await;
    }
    state.keyring.forget(workspace_id);
    state.snapshot.publish(workspace_id).await;
    tracing::info!(workspace_id, "workspace deleted");
    Ok(())
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: String,
    email: String,
    name: String,
    role: String,
    created_at: i64,
}

impl MemberRow {
    fn into_wire(self) -> Option<Member> {
        Some(Member {
            user_id: self.user_id,
            email: self.email,
            name: self.name,
            role: Role::parse(&self.role)?,
            joined_at: format_ms(self.created_at),
        })
    }
}

const MEMBER_QUERY: &str = "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1";

pub async fn members(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<Member>, WorkspaceError> {
    access::require(db, actor, workspace_id, Role::Viewer).await?;
    let rows: Vec<MemberRow> = sqlx::query_as(&format!("{MEMBER_QUERY} ORDER BY u.name, u.email"))
        .bind(workspace_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().filter_map(MemberRow::into_wire).collect())
}

async fn member(db: &Db, workspace_id: &str, user_id: &str) -> Result<MemberRow, WorkspaceError> {
    sqlx::query_as(&format!("{MEMBER_QUERY} AND m.user_id = $2"))
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(WorkspaceError::NotFound("member"))
}

const OWNER_ONLY_BY_HANDOVER: &str = "the owner's role only changes by handing the workspace over";

/// Changes a member's role (admin). The owner's role only changes by a handover, and nobody becomes owner
/// but by one.
pub async fn change_role(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    user_id: &str,
    role: Role,
) -> Result<Member, WorkspaceError> {
    access::require(db, actor, workspace_id, Role::Admin).await?;
    if role == Role::Owner {
        return Err(Invalid::new(
            "role",
            "a workspace has one owner; hand it over with POST /api/v1/workspaces/{ws}/transfer",
        )
        .into());
    }
    let before = member(db, workspace_id, user_id).await?;
    let mut tx = db.begin().await?;
    // Conditional on the stored role not being owner: a handover that made this member owner meanwhile
    // wins, rather than being overwritten into a workspace without an owner.
    let changed = sqlx::query(
        "UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3 AND role <> 'owner'",
    )
    .bind(role.as_str())
    .bind(workspace_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(match member(db, workspace_id, user_id).await {
            Ok(_) => WorkspaceError::Forbidden(OWNER_ONLY_BY_HANDOVER),
            Err(e) => e,
        });
    }
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("member.role_changed", user_id)
            .in_workspace(workspace_id)
            .named(&before.email)
            .with(Changes::new().field("role", Some(&before.role), Some(role.as_str()))),
    )
    .await?;
    tx.commit().await?;
    member(db, workspace_id, user_id)
        .await?
        .into_wire()
        .ok_or(WorkspaceError::NotFound("member"))
}

/// Removes a member (admin), or lets a person leave. The owner cannot be removed, nor leave, before handing
/// the workspace over.
pub async fn remove_member(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    user_id: &str,
) -> Result<(), WorkspaceError> {
    let leaving = matches!(&actor.kind, ActorKind::Person { user_id: me } if me == user_id);
    access::require(
        db,
        actor,
        workspace_id,
        if leaving { Role::Viewer } else { Role::Admin },
    )
    .await?;
    let before = member(db, workspace_id, user_id).await?;
    let mut tx = db.begin().await?;
    let removed = sqlx::query(
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'",
    )
    .bind(workspace_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(match member(db, workspace_id, user_id).await {
            Ok(_) => WorkspaceError::Forbidden(
                "the owner cannot be removed; hand the workspace over first",
            ),
            Err(e) => e,
        });
    }
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new(
            if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            user_id,
        )
        .about("member")
        .in_workspace(workspace_id)
        .named(&before.email)
        .with(Changes::new().removed("role", &before.role)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Hands the workspace over to another member (owner); the former owner stays on as an admin. Of two
/// concurrent handovers only the first finds an owner to step down.
pub async fn transfer(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    new_owner: &str,
) -> Result<(), WorkspaceError> {
    access::require(db, actor, workspace_id, Role::Owner).await?;
    // A person, or an owner's API token acting for them.
    let owner_id = actor
        .user_id()
        .ok_or(WorkspaceError::Forbidden(
            "only the owner can hand a workspace over",
        ))?
        .to_string();
    if new_owner == owner_id {
        return Err(Invalid::new("userId", "userId is already the owner").into());
    }
    let mut tx = db.begin().await?;
    let stepped_down = sqlx::query(
        "UPDATE memberships SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2 AND role = 'owner'",
    )
    .bind(workspace_id)
    .bind(&owner_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if stepped_down == 0 {
        return Err(WorkspaceError::Forbidden(
            "you are no longer the owner of this workspace",
        ));
    }
    let promoted = sqlx::query(
        "UPDATE memberships SET role = 'owner' WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace_id)
    .bind(new_owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if promoted == 0 {
        return Err(Invalid::new("userId", "userId must be a member of this workspace").into());
    }
    let new_owner_email: Option<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(new_owner)
            .fetch_optional(&mut *tx)
            .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("workspace.transferred", workspace_id)
            .in_workspace(workspace_id)
            .with(Changes::new().field("owner", Some(&actor.label), new_owner_email.as_ref())),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
