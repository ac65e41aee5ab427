//! People: accounts, passwords, sessions, sign-in throttling, password change and reset, first-run set-up.

mod handlers;
pub mod password;
pub mod sessions;
pub mod throttle;

use std::net::IpAddr;

use app::api::auth::{AuthMethod, Me, User, WorkspaceSummary};
use app::api::workspaces::Role;
use secrecy::SecretString;
use sqlx::AnyConnection;

pub use handlers::{routes, start_session};

use crate::access::{AccessError, Actor, ActorKind, Origin};
use crate::audit::{self, Changes};
use crate::db::{self, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::jobs::{self, JobKind, NewJob, ResetPayload};
use crate::links::Purpose;
use crate::mail::{Mail, MailError};
use crate::state::AppState;
use crate::time::{format_ms, now_ms};
use throttle::PasswordAttempt;

const RESET_LINK_TTL_SECS: u64 = 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("the email or the password is wrong")]
    WrongPassword,
    #[error("an account with this email exists")]
    EmailTaken,
    #[error("Too many attempts. Try again later.")]
    Throttled { retry_after_secs: u64 },
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
    #[error("this instance is already set up; sign in")]
    AlreadySetUp,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("password hashing: {0}")]
    Hashing(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(AccountError);

impl DomainError for AccountError {
    fn kind(&self) -> Kind {
        match self {
            AccountError::Invalid(e) => e.kind(),
            AccountError::WrongPassword => Kind::Unauthenticated,
            AccountError::EmailTaken | AccountError::AlreadySetUp => Kind::Conflict,
            AccountError::Throttled { .. } => Kind::RateLimited,
            AccountError::Busy => Kind::Unavailable,
            AccountError::NotFound(_) => Kind::NotFound,
            AccountError::Access(e) => e.kind(),
            AccountError::Hashing(_) => Kind::Internal,
            AccountError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AccountError::Invalid(e) => e.field(),
            AccountError::EmailTaken => Some("email"),
            AccountError::AlreadySetUp => Some("token"),
            _ => None,
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AccountError::Throttled { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// A normalized, plausible email address (trimmed, lower-cased).
pub fn parse_email(field: &str, raw: &str) -> Result<String, Invalid> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if !valid {
        return Err(Invalid::new(
            field,
            format!("{field} must be an email address"),
        ));
    }
    Ok(email)
}

/// A name people type: trimmed, not empty, at most `max` characters, no control characters.
pub fn parse_name(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Invalid::new(field, format!("{field} must not be empty")));
    }
    if name.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("{field} must be at most {max} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_string())
}

/// A row of `users`.
#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_instance_admin: i64,
    pub session_epoch: i64,
    pub created_at: i64,
}

impl UserRow {
    const COLUMNS: &'static str =
        "id, email, name, password_hash, is_instance_admin, session_epoch, created_at";

    pub fn to_wire(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            is_instance_admin: self.is_instance_admin == 1,
            created_at: format_ms(self.created_at),
        }
    }
}

pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE email = $1",
        UserRow::COLUMNS
    ))
    .bind(email)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<UserRow>, DbError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE id = $1",
        UserRow::COLUMNS
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn count(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await?)
}

/// Inserts a user (password already hashed). A taken email is `EmailTaken`.
pub async fn insert(
    conn: &mut AnyConnection,
    email: &str,
    name: &str,
    password_hash: &str,
    is_instance_admin: bool,
) -> Result<String, AccountError> {
    let id = new_id();
    let now = now_ms();
    let result = sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, is_instance_admin, session_epoch, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(&id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(db::flag(is_instance_admin))
    .bind(now)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(id),
        Err(e) if db::is_unique_violation(&e) => Err(AccountError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

/// The person a session belongs to, while the session is still good: its user exists and has not changed
/// their password since (which moves `session_epoch`).
pub async fn session_actor(
    db: &Db,
    user_id: &str,
    epoch: Option<i64>,
    origin: Origin,
) -> Result<Option<Actor>, DbError> {
    let current: Option<(i64, String)> =
        sqlx::query_as("SELECT session_epoch, email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(match current {
        Some((current, email)) if Some(current) == epoch => Some(Actor {
            kind: ActorKind::Person {
                user_id: user_id.to_string(),
            },
            label: email,
            origin,
        }),
        _ => None,
    })
}

/// Checks an email and password, throttled per account and per client address. The user, to start a
/// session for.
pub async fn sign_in(
    db: &Db,
    email: &str,
    password: String,
    client: Option<IpAddr>,
) -> Result<UserRow, AccountError> {
    let email = email.trim().to_lowercase();
    let attempt = PasswordAttempt::start(db, &email, client).await?;
    let user = by_email(db, &email).await?;
    let ok = password::verify(
        SecretString::from(password),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match user.filter(|_| ok) {
        Some(user) => {
            attempt.succeeded().await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok(user)
        }
        None => {
            attempt.failed().await?;
            // Not the typed email: people sometimes type their password into it.
            tracing::info!("sign-in failed");
            Err(AccountError::WrongPassword)
        }
    }
}

/// Who is calling, and the workspaces they can see (an API token sees its one workspace, at its role).
pub async fn me(db: &Db, actor: &Actor) -> Result<Me, AccountError> {
    let user_id = actor.user_id().ok_or(AccountError::NotFound("user"))?;
    let user = by_id(db, user_id)
        .await?
        .ok_or(AccountError::NotFound("user"))?;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY w.name, w.id",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    let mut workspaces = Vec::new();
    for (id, name, role) in rows {
        let Some(mut role) = Role::parse(&role) else {
            continue;
        };
        if let ActorKind::ApiToken {
            workspace_id,
            role: token_role,
            ..
        } = &actor.kind
        {
            if *workspace_id != id {
                continue;
            }
            role = role.lower(*token_role);
        }
        workspaces.push(WorkspaceSummary { id, name, role });
    }
    Ok(Me {
        user: user.to_wire(),
        auth_method: if actor.is_token() {
            AuthMethod::ApiToken
        } else {
            AuthMethod::Session
        },
        workspaces,
    })
}

/// Changes the signed-in person's password (throttled like a sign-in: a stolen session cookie must not buy
/// unlimited guesses at it). Ends their other sessions; returns the new session epoch for this one.
pub async fn change_password(
    db: &Db,
    actor: &Actor,
    current_password: String,
    new_password: String,
) -> Result<i64, AccountError> {
    let user_id = actor.person("change a password")?;
    let user = by_id(db, user_id)
        .await?
        .ok_or(AccountError::NotFound("user"))?;
    let attempt = PasswordAttempt::start(db, &user.email, actor.origin.ip).await?;
    if !password::verify(
        SecretString::from(current_password),
        Some(user.password_hash),
    )
    .await?
    {
        attempt.failed().await?;
        return Err(Invalid::new(
            "currentPassword",
            "currentPassword is not your current password",
        )
        .into());
    }
    attempt.succeeded().await?;
    password::check_policy("newPassword", &new_password)?;
    let epoch = set_password(db, actor, &user.id, SecretString::from(new_password)).await?;
    tracing::info!(user_id = %user.id, "password changed");
    Ok(epoch)
}

/// Sets a new password and ends every session of the user (their epoch changes); audited.
async fn set_password(
    db: &Db,
    actor: &Actor,
    user_id: &str,
    new_password: SecretString,
) -> Result<i64, AccountError> {
    let hash = password::hash(new_password).await?;
    let mut tx = db.begin().await?;
    let epoch: i64 = sqlx::query_scalar(
        "UPDATE users SET password_hash = $1, session_epoch = session_epoch + 1, updated_at = $2 WHERE id = $3
         RETURNING session_epoch",
    )
    .bind(hash)
    .bind(now_ms())
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        audit::Entry::new("user.password_changed", user_id)
            .with(Changes::new().set("password", app::api::audit::SECRET_MARKER)),
    )
    .await?;
    tx.commit().await?;
    Ok(epoch)
}

/// A fingerprint of the password hash: a reset link bound to it stops working once the password changes.
pub fn password_fingerprint(password_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..12])
}

/// Asks for a password-reset mail. Says nothing of whether the account exists (nor, over the limit, that
/// it was refused): the mail is queued only for an existing account, within the limit.
pub async fn request_password_reset(state: &AppState, email: &str) -> Result<(), AccountError> {
    let email = parse_email("email", email)?;
    if throttle::count(
        &state.db,
        &throttle::reset_mail_key(&email),
        throttle::RESET_MAILS,
    )
    .await
    .is_err()
    {
        return Ok(());
    }
    let Some(user) = by_email(&state.db, &email).await? else {
        return Ok(());
    };
    let mut tx = state.db.begin().await?;
    jobs::enqueue(
        &mut tx,
        NewJob::now(
            JobKind::MailPasswordReset,
            ResetPayload {
                user_id: user.id.clone(),
            },
        ),
    )
    .await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(())
}

/// The job that sends a reset mail: the link is signed when the mail is sent, bound to the password as it is
/// then, and never stored.
pub async fn send_reset_mail(
    state: &AppState,
    user_id: &str,
    message_id: &str,
) -> Result<(), SendError> {
    let Some(user) = by_id(&state.db, user_id).await? else {
        // The account is gone: nothing to send.
        return Ok(());
    };
    let token = state.links.sign(
        Purpose::PasswordReset,
        &user.id,
        &password_fingerprint(&user.password_hash),
        RESET_LINK_TTL_SECS,
    );
    let mut link = state
        .public_url
        .join("/reset-password")
        .map_err(|e| SendError::Link(e.to_string()))?;
    // The address rides along only so that the page can tell password managers whose password changes; the
    // token alone decides whose it is.
    link.query_pairs_mut()
        .append_pair("token", &token)
        .append_pair("email", &user.email);
    state
        .mailer
        .send(Mail {
            to: user.email.clone(),
            subject: "Reset your Wheelhouse password".into(),
            body: format!(
                "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Wheelhouse account.\n\
                 Choose a new password here within the next hour:\n\n{link}\n\n\
                 If you did not ask for this, ignore this mail: your password stays as it is.\n",
                user.name
            ),
            html: None,
            message_id: message_id.to_string(),
        })
        .await?;
    Ok(())
}

/// Why a mail job's attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("building the link: {0}")]
    Link(String),
}

/// Sets a new password with the link from a reset mail. The link works once.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    new_password: String,
    origin: Origin,
) -> Result<(), AccountError> {
    let invalid = || {
        AccountError::from(Invalid::new(
            "token",
            "this reset link has expired or was already used; ask for a new one",
        ))
    };
    let claims = state
        .links
        .verify(Purpose::PasswordReset, token)
        .ok_or_else(invalid)?;
    let db = &state.db;
    let user = by_id(db, &claims.sub).await?.ok_or_else(invalid)?;
    if password_fingerprint(&user.password_hash) != claims.bind {
        return Err(invalid());
    }
    password::check_policy("newPassword", &new_password)?;
    let actor = Actor {
        kind: ActorKind::Person {
            user_id: user.id.clone(),
        },
        label: user.email.clone(),
        origin,
    };
    set_password(db, &actor, &user.id, SecretString::from(new_password)).await?;
    throttle::clear_account(db, &user.email).await?;
    tracing::info!(user_id = %user.id, "password reset");
    Ok(())
}

/// What first-run set-up asks for.
pub struct Setup {
    /// The one-time token the server printed at start.
    pub token: String,
    pub email: String,
    pub name: String,
    pub password: String,
    pub workspace_name: String,
}

/// Creates the instance's first owner and a first workspace, with the set-up token the server printed.
/// Race-free on every database: the transaction claims the `first_owner` fact, so of two concurrent set-ups
/// one fails with `AlreadySetUp`.
pub async fn create_first_owner(
    state: &AppState,
    setup: Setup,
    origin: Origin,
) -> Result<UserRow, AccountError> {
    let db = &state.db;
    let email = parse_email("email", &setup.email)?;
    let name = parse_name("name", &setup.name, 100)?;
    let workspace_name = parse_name("workspaceName", &setup.workspace_name, 100)?;
    password::check_policy("password", &setup.password)?;
    {
        let expected = state.setup_token.lock().expect("setup token");
        let Some(expected) = expected.as_deref() else {
            return Err(AccountError::AlreadySetUp);
        };
        if !crate::ids::constant_time_eq(expected.as_bytes(), setup.token.as_bytes()) {
            return Err(Invalid::new(
                "token",
                "token is not this instance's set-up token (see the server's log)",
            )
            .into());
        }
    }
    if count(db).await? > 0 {
        return Err(AccountError::AlreadySetUp);
    }
    let hash = password::hash(SecretString::from(setup.password)).await?;
    let mut tx = db.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO instance_facts (key, value, created_at) VALUES ('first_owner', $1, $2)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&email)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Err(AccountError::AlreadySetUp);
    }
    let user_id = insert(&mut tx, &email, &name, &hash, true).await?;
    sqlx::query("UPDATE instance_facts SET value = $1 WHERE key = 'first_owner'")
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let actor = Actor {
        kind: ActorKind::Person {
            user_id: user_id.clone(),
        },
        label: email.clone(),
        origin,
    };
    let workspace_id =
        crate::workspaces::insert(&mut tx, &actor, &workspace_name, &user_id).await?;
    tx.commit().await?;
    state.setup_token.lock().expect("setup token").take();
    state.snapshot.publish(&workspace_id).await;
    tracing::info!(%user_id, "instance set up");
    by_id(db, &user_id)
        .await?
        .ok_or(AccountError::NotFound("user"))
}

/// Deletes expired sessions and sign-in throttles (a scheduled job).
pub async fn delete_expired(db: &Db) -> Result<(), DbError> {
    let sessions = sessions::DbSessionStore::new(db.clone())
        .delete_expired()
        .await?;
    if sessions > 0 {
        tracing::info!(deleted = sessions, "expired sessions deleted");
    }
    throttle::purge_expired(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            parse_email("email", "  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@.com",
        ] {
            assert!(parse_email("email", bad).is_err(), "{bad}");
        }
    }
}
