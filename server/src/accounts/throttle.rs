//! Sign-in throttling, per account and per client address, kept in the database so that every replica
//! sees the same counts. After too many failures in a window the key is locked for a while: 429.

use crate::db::Db;
use crate::http::error::AppError;
use crate::time::now_ms;

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max_failures: i64,
    pub window_ms: i64,
    pub lockout_ms: i64,
}

pub const PER_ACCOUNT: Limit = Limit {
    max_failures: 5,
    window_ms: 15 * 60_000,
    lockout_ms: 15 * 60_000,
};
pub const PER_CLIENT: Limit = Limit {
    max_failures: 20,
    window_ms: 15 * 60_000,
    lockout_ms: 15 * 60_000,
};

pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn client_key(address: &std::net::IpAddr) -> String {
    format!("client:{address}")
}

/// 429 while the key is locked.
pub async fn check(db: &Db, key: &str) -> Result<(), AppError> {
    let locked_until: Option<i64> =
        sqlx::query_scalar("SELECT locked_until FROM auth_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&db.pool)
            .await?;
    let now = now_ms();
    match locked_until {
        Some(until) if until > now => Err(AppError::TooManyRequests {
            message: "Too many failed sign-in attempts. Try again later.".into(),
            retry_after_secs: ((until - now) / 1000).max(1) as u64,
        }),
        _ => Ok(()),
    }
}

/// Counts a failure; locks the key when it reaches the limit.
pub async fn record_failure(db: &Db, key: &str, limit: Limit) -> Result<(), AppError> {
    let now = now_ms();
    let window_floor = now - limit.window_ms;
    sqlx::query(
        "INSERT INTO auth_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN auth_throttle.window_start < $3 THEN 1 ELSE auth_throttle.failures + 1 END,
           window_start = CASE WHEN auth_throttle.window_start < $3 THEN $2 ELSE auth_throttle.window_start END",
    )
    .bind(key)
    .bind(now)
    .bind(window_floor)
    .execute(&db.pool)
    .await?;
    sqlx::query("UPDATE auth_throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3 AND failures >= $4")
        .bind(now + limit.lockout_ms)
        .bind(now)
        .bind(key)
        .bind(limit.max_failures)
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn clear(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM auth_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}
