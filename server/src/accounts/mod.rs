//! People: accounts, passwords, sessions, sign-in throttling, password change and reset, first-run set-up.

mod handlers;
pub mod password;
pub mod sessions;
pub mod throttle;

use app::api::auth::User;
use secrecy::SecretString;
use sqlx::AnyConnection;

pub use handlers::{routes, start_session};

use crate::db::{self, Db};
use crate::http::error::{ApiResult, AppError};
use crate::ids::new_id;
use crate::time::{format_ms, now_ms};

/// A normalized, plausible email address (trimmed, lower-cased).
pub fn parse_email(field: &str, raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if !valid {
        return Err(AppError::validation(
            field,
            format!("{field} must be an email address"),
        ));
    }
    Ok(email)
}

pub fn parse_name(field: &str, raw: &str, max: usize) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if name.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!("{field} must be at most {max} characters long"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_string())
}

pub struct StoredUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_instance_admin: bool,
    pub session_epoch: i64,
    pub created_at: i64,
}

type UserRow = (String, String, String, String, i64, i64, i64);
const USER_COLUMNS: &str =
    "id, email, name, password_hash, is_instance_admin, session_epoch, created_at";

fn from_row(row: UserRow) -> StoredUser {
    let (id, email, name, password_hash, admin, session_epoch, created_at) = row;
    StoredUser {
        id,
        email,
        name,
        password_hash,
        is_instance_admin: admin == 1,
        session_epoch,
        created_at,
    }
}

impl StoredUser {
    pub fn to_wire(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            is_instance_admin: self.is_instance_admin,
            created_at: format_ms(self.created_at),
        }
    }
}

pub async fn by_email(db: &Db, email: &str) -> sqlx::Result<Option<StoredUser>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(from_row))
}

pub async fn by_id(db: &Db, id: &str) -> sqlx::Result<Option<StoredUser>> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(from_row))
}

pub async fn count(db: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await
}

/// Inserts a user (password already hashed). A taken email is a 409 on `email`.
pub async fn insert(
    conn: &mut AnyConnection,
    email: &str,
    name: &str,
    password_hash: &str,
    is_instance_admin: bool,
) -> ApiResult<String> {
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
        Err(e) if db::is_unique_violation(&e) => Err(AppError::conflict(
            "email",
            "an account with this email exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Sets a new password and ends every session of the user (their epoch changes).
pub async fn set_password(db: &Db, user_id: &str, new_password: SecretString) -> ApiResult<i64> {
    let hash = password::hash(new_password).await?;
    sqlx::query("UPDATE users SET password_hash = $1, session_epoch = session_epoch + 1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_ms())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    let epoch: i64 = sqlx::query_scalar("SELECT session_epoch FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(epoch)
}

/// A fingerprint of the password hash: a reset link bound to it stops working once the password changes.
pub fn password_fingerprint(password_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..12])
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
