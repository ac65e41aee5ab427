//! Invites: an admin invites an email address with a role; the person gets a signed, expiring link by mail
//! and joins with it (creating an account when they have none).
//!
//! The mail is a job enqueued with the invite: it goes out once the invite is committed, survives an SMTP
//! outage and a restart, and is built when it is sent (the link is never stored).

use app::api::workspaces::{Invite, InvitePreview, Role};
use secrecy::SecretString;

use super::WorkspaceError;
use crate::access::{self, Actor, ActorKind, Origin};
use crate::accounts::throttle::PasswordAttempt;
use crate::accounts::{self, password, SendError};
use crate::audit::{self, Changes};
use crate::db::Db;
use crate::error::Invalid;
use crate::ids::new_id;
use crate::jobs::{self, InvitePayload, JobKind, NewJob};
use crate::links::Purpose;
use crate::mail::Mail;
use crate::state::AppState;
use crate::time::{format_ms, now_ms};

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A row of `invites`.
#[derive(sqlx::FromRow)]
struct InviteRow {
    id: String,
    workspace_id: String,
    email: String,
    role: String,
    /// The inviter's name.
    invited_by: String,
    created_at: i64,
    expires_at: i64,
    accepted_at: Option<i64>,
}

impl InviteRow {
    const COLUMNS: &'static str =
        "id, workspace_id, email, role, invited_by, created_at, expires_at, accepted_at";

    fn into_wire(self) -> Option<Invite> {
        Some(Invite {
            id: self.id,
            email: self.email,
            role: Role::parse(&self.role)?,
            invited_by: self.invited_by,
            created_at: format_ms(self.created_at),
            expires_at: format_ms(self.expires_at),
        })
    }

    fn is_pending(&self, now: i64) -> bool {
        self.accepted_at.is_none() && self.expires_at > now
    }
}

/// Pending invites (admin).
pub async fn list(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<Invite>, WorkspaceError> {
    access::require(db, actor, workspace_id, Role::Admin).await?;
    let rows: Vec<InviteRow> = sqlx::query_as(&format!(
        "SELECT {} FROM invites WHERE workspace_id = $1 AND accepted_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC",
        InviteRow::COLUMNS
    ))
    .bind(workspace_id)
    .bind(now_ms())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().filter_map(InviteRow::into_wire).collect())
}

/// Invites someone by email (admin); inviting the same address again replaces the earlier invite. The mail is
/// queued with the invite.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    email: &str,
    role: Role,
) -> Result<Invite, WorkspaceError> {
    access::require(&state.db, actor, workspace_id, Role::Admin).await?;
    let email = accounts::parse_email("email", email)?;
    if role == Role::Owner {
        return Err(Invalid::new(
            "role",
            "role cannot be owner; invite, then hand the workspace over",
        )
        .into());
    }
    let already_member: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND u.email = $2",
    )
    .bind(workspace_id)
    .bind(&email)
    .fetch_optional(&state.db.pool)
    .await?;
    if already_member.is_some() {
        return Err(WorkspaceError::AlreadyMember);
    }
    let inviter_id = actor.user_id().ok_or(WorkspaceError::NotFound("user"))?;
    let inviter = accounts::by_id(&state.db, inviter_id)
        .await?
        .ok_or(WorkspaceError::NotFound("user"))?;
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "DELETE FROM invites WHERE workspace_id = $1 AND email = $2 AND accepted_at IS NULL",
    )
    .bind(workspace_id)
    .bind(&email)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO invites (id, workspace_id, email, role, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&email)
    .bind(role.as_str())
    .bind(&inviter.name)
    .bind(now)
    .bind(now + INVITE_TTL_MS)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("invite.created", &id)
            .in_workspace(workspace_id)
            .named(&email)
            .with(Changes::new().set("email", &email).set("role", role)),
    )
    .await?;
    jobs::enqueue(
        &mut tx,
        NewJob::now(
            JobKind::MailInvite,
            InvitePayload {
                invite_id: id.clone(),
                inviter_email: inviter.email.clone(),
            },
        ),
    )
    .await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(Invite {
        id,
        email,
        role,
        invited_by: inviter.name,
        created_at: format_ms(now),
        expires_at: format_ms(now + INVITE_TTL_MS),
    })
}

/// The job that mails an invite: nothing is sent for an invite revoked, used or expired meanwhile.
pub async fn send_invite_mail(
    state: &AppState,
    payload: &InvitePayload,
    message_id: &str,
) -> Result<(), SendError> {
    let row: Option<InviteRow> = sqlx::query_as(&format!(
        "SELECT {} FROM invites WHERE id = $1 AND accepted_at IS NULL",
        InviteRow::COLUMNS
    ))
    .bind(&payload.invite_id)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(crate::error::DbError::from)?;
    let Some(invite) = row else {
        return Ok(());
    };
    let workspace_name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
        .bind(&invite.workspace_id)
        .fetch_one(&state.db.pool)
        .await
        .map_err(crate::error::DbError::from)?;
    let remaining_secs = (invite.expires_at - now_ms()) / 1000;
    if remaining_secs <= 0 {
        return Ok(());
    }
    let token = state.links.sign(
        Purpose::Invite,
        &payload.invite_id,
        "",
        remaining_secs as u64,
    );
    let mut link = state
        .public_url
        .join("/invite")
        .map_err(|e| SendError::Link(e.to_string()))?;
    link.query_pairs_mut().append_pair("token", &token);
    let role = Role::parse(&invite.role).map_or(invite.role.clone(), |r| r.label().to_lowercase());
    let inviter_name = &invite.invited_by;
    state
        .mailer
        .send(Mail {
            to: invite.email,
            subject: format!("{inviter_name} invited you to {workspace_name} on Wheelhouse"),
            body: format!(
                "Hello,\n\n{inviter_name} ({}) invited you to join the workspace \"{workspace_name}\" on Wheelhouse as {role}.\n\n\
                 Accept the invitation within 7 days:\n\n{link}\n",
                payload.inviter_email,
            ),
            html: None,
            message_id: message_id.to_string(),
        })
        .await?;
    Ok(())
}

/// Revokes a pending invite (admin); its link stops working.
pub async fn revoke(
    db: &Db,
    actor: &Actor,
    workspace_id: &str,
    invite_id: &str,
) -> Result<(), WorkspaceError> {
    access::require(db, actor, workspace_id, Role::Admin).await?;
    let mut tx = db.begin().await?;
    let email: Option<String> = sqlx::query_scalar(
        "DELETE FROM invites WHERE id = $1 AND workspace_id = $2 AND accepted_at IS NULL RETURNING email",
    )
    .bind(invite_id)
    .bind(workspace_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(email) = email else {
        return Err(WorkspaceError::NotFound("invite"));
    };
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("invite.revoked", invite_id)
            .in_workspace(workspace_id)
            .named(&email)
            .with(Changes::new().removed("email", &email)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

struct PendingInvite {
    id: String,
    workspace_id: String,
    workspace_name: String,
    email: String,
    role: Role,
}

fn invalid_invite() -> WorkspaceError {
    Invalid::new(
        "token",
        "this invite has expired, was revoked or was already used; ask for a new one",
    )
    .into()
}

async fn pending(state: &AppState, token: &str) -> Result<PendingInvite, WorkspaceError> {
    let claims = state
        .links
        .verify(Purpose::Invite, token)
        .ok_or_else(invalid_invite)?;
    let row: Option<InviteRow> = sqlx::query_as(&format!(
        "SELECT {} FROM invites WHERE id = $1",
        InviteRow::COLUMNS
    ))
    .bind(&claims.sub)
    .fetch_optional(&state.db.pool)
    .await?;
    let row = row
        .filter(|row| row.is_pending(now_ms()))
        .ok_or_else(invalid_invite)?;
    let workspace_name: String = sqlx::query_scalar("SELECT name FROM workspaces WHERE id = $1")
        .bind(&row.workspace_id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(invalid_invite)?;
    Ok(PendingInvite {
        role: Role::parse(&row.role).ok_or_else(invalid_invite)?,
        id: row.id,
        workspace_id: row.workspace_id,
        workspace_name,
        email: row.email,
    })
}

/// What an invite link offers (no sign-in needed: the link is the credential).
pub async fn preview(state: &AppState, token: &str) -> Result<InvitePreview, WorkspaceError> {
    let invite = pending(state, token).await?;
    let account_exists = accounts::by_email(&state.db, &invite.email)
        .await?
        .is_some();
    Ok(InvitePreview {
        workspace_name: invite.workspace_name,
        email: invite.email,
        role: invite.role,
        account_exists,
    })
}

/// How the person accepting proves who they are.
pub enum Acceptor<'a> {
    /// Signed in (a session; an API token cannot accept).
    SignedIn(&'a Actor),
    /// Not signed in: the existing account's password, or a name and password for a new account.
    Anonymous {
        name: Option<String>,
        password: Option<String>,
        origin: Origin,
    },
}

/// Who joined which workspace.
pub struct Accepted {
    pub user_id: String,
    pub workspace_id: String,
}

/// Accepts an invite.
pub async fn accept(
    state: &AppState,
    token: &str,
    acceptor: Acceptor<'_>,
) -> Result<Accepted, WorkspaceError> {
    let invite = pending(state, token).await?;
    let existing = accounts::by_email(&state.db, &invite.email).await?;
    let mut new_account = None;
    let (user_id, origin) = match (&acceptor, &existing) {
        (Acceptor::SignedIn(actor), _) => {
            let ActorKind::Person { user_id } = &actor.kind else {
                return Err(WorkspaceError::Forbidden(
                    "an API token cannot accept an invite",
                ));
            };
            if existing.as_ref().map(|u| &u.id) != Some(user_id) {
                return Err(WorkspaceError::Forbidden(
                    "this invite is for another email address; sign out and open the link again",
                ));
            }
            (Some(user_id.clone()), actor.origin.clone())
        }
        (
            Acceptor::Anonymous {
                password, origin, ..
            },
            Some(user),
        ) => {
            let attempt = PasswordAttempt::start(&state.db, &user.email, origin.ip).await?;
            let password = password.clone().unwrap_or_default();
            if !password::verify(
                SecretString::from(password),
                Some(user.password_hash.clone()),
            )
            .await?
            {
                attempt.failed().await?;
                return Err(Invalid::new(
                    "password",
                    "password is not the password of this account",
                )
                .into());
            }
            attempt.succeeded().await?;
            (Some(user.id.clone()), origin.clone())
        }
        (
            Acceptor::Anonymous {
                name,
                password,
                origin,
            },
            None,
        ) => {
            let name = accounts::parse_name("name", name.as_deref().unwrap_or_default(), 100)?;
            let password = password
                .clone()
                .ok_or_else(|| Invalid::new("password", "password is required"))?;
            password::check_policy("password", &password)?;
            new_account = Some((name, password::hash(SecretString::from(password)).await?));
            (None, origin.clone())
        }
    };
    let mut tx = state.db.begin().await?;
    // Claim the invite first: two concurrent accepts cannot both use it.
    let claimed =
        sqlx::query("UPDATE invites SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL")
            .bind(now_ms())
            .bind(&invite.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if claimed == 0 {
        return Err(Invalid::new("token", "this invite was already used").into());
    }
    let user_id = match (user_id, new_account) {
        (Some(id), _) => id,
        (None, Some((name, hash))) => {
            accounts::insert(&mut tx, &invite.email, &name, &hash, false).await?
        }
        (None, None) => unreachable!("an acceptor is signed in, has an account, or makes one"),
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
        .map_or(invite.role, |r| r.higher(invite.role));
    super::upsert_member(&mut tx, &invite.workspace_id, &user_id, role).await?;
    let actor = Actor {
        kind: ActorKind::Person {
            user_id: user_id.clone(),
        },
        label: invite.email.clone(),
        origin,
    };
    audit::record(
        &mut tx,
        &actor,
        audit::Entry::new("invite.accepted", &user_id)
            .about("member")
            .in_workspace(&invite.workspace_id)
            .named(&invite.email)
            .with(Changes::new().field("role", current.as_deref(), Some(role.as_str()))),
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        user_id,
        workspace_id: invite.workspace_id,
    })
}
