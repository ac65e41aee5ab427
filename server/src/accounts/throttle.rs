//! Password-guessing throttles, per account and per client address, kept in the database so that every
//! replica sees the same counts. After too many attempts in a window the key is locked for a while: 429.
//!
//! An attempt is counted *before* its password is checked. Checking takes a quarter of a second of argon2,
//! so counting only the failures would let a burst of concurrent guesses all pass a check that no failure
//! had reached yet.

use std::net::IpAddr;

use crate::db::Db;
use crate::http::error::AppError;
use crate::time::now_ms;

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max_attempts: i64,
    pub window_ms: i64,
    pub lockout_ms: i64,
}

pub const PER_ACCOUNT: Limit = Limit {
    max_attempts: 5,
    window_ms: 15 * 60_000,
    lockout_ms: 15 * 60_000,
};
pub const PER_CLIENT: Limit = Limit {
    max_attempts: 20,
    window_ms: 15 * 60_000,
    lockout_ms: 15 * 60_000,
};
/// Password-reset mails: a few per address per window, so nobody can mail-bomb through us.
pub const RESET_MAILS: Limit = Limit {
    max_attempts: 3,
    ..PER_ACCOUNT
};

fn account_key(email: &str) -> String {
    format!("account:{email}")
}

pub fn reset_mail_key(email: &str) -> String {
    format!("reset:{email}")
}

/// An IPv6 client usually holds a whole /64, so that is what one client is; an IPv4-mapped address is the
/// IPv4 client it stands for.
fn client_key(address: &IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("client:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("client:{v4}"),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                format!("client:{}/64", std::net::Ipv6Addr::from(octets))
            }
        },
    }
}

/// A password check in progress, already counted against the account and the client's address.
pub struct PasswordAttempt {
    account: String,
    client: Option<String>,
}

impl PasswordAttempt {
    /// Counts an attempt at `email`'s password from `client`; 429 when either is over its limit.
    pub async fn start(
        db: &Db,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<PasswordAttempt, AppError> {
        let attempt = PasswordAttempt {
            account: account_key(email),
            client: client.as_ref().map(client_key),
        };
        if let Some(key) = &attempt.client {
            count(db, key, PER_CLIENT).await?;
        }
        count(db, &attempt.account, PER_ACCOUNT).await?;
        Ok(attempt)
    }

    /// The password was right: the account starts over, and the attempt does not count against the address
    /// (many people may sign in from behind one).
    pub async fn succeeded(self, db: &Db) -> Result<(), AppError> {
        clear(db, &self.account).await?;
        if let Some(key) = &self.client {
            sqlx::query(
                "UPDATE auth_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
            )
            .bind(key)
            .execute(&db.pool)
            .await?;
        }
        Ok(())
    }
}

/// Counts one attempt under `key`; 429 once there have been more than the limit allows in the window, which
/// also locks the key for the lockout period.
pub async fn count(db: &Db, key: &str, limit: Limit) -> Result<(), AppError> {
    let now = now_ms();
    // One statement, so that concurrent attempts each see their own count.
    let (attempts, locked_until): (i64, i64) = sqlx::query_as(
        "INSERT INTO auth_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE
             WHEN auth_throttle.locked_until > $2 THEN auth_throttle.failures
             WHEN auth_throttle.window_start < $3 THEN 1
             ELSE auth_throttle.failures + 1 END,
           window_start = CASE
             WHEN auth_throttle.locked_until <= $2 AND auth_throttle.window_start < $3 THEN $2
             ELSE auth_throttle.window_start END
         RETURNING failures, locked_until",
    )
    .bind(key)
    .bind(now)
    .bind(now - limit.window_ms)
    .fetch_one(&db.pool)
    .await?;
    let locked_until = if locked_until > now {
        locked_until
    } else if attempts > limit.max_attempts {
        let until = now + limit.lockout_ms;
        sqlx::query(
            "UPDATE auth_throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3",
        )
        .bind(until)
        .bind(now)
        .bind(key)
        .execute(&db.pool)
        .await?;
        until
    } else {
        return Ok(());
    };
    Err(AppError::TooManyRequests {
        message: "Too many attempts. Try again later.".into(),
        retry_after_secs: ((locked_until - now) / 1000).max(1) as u64,
    })
}

/// The account starts over: its password was reset.
pub async fn clear_account(db: &Db, email: &str) -> Result<(), AppError> {
    clear(db, &account_key(email)).await
}

async fn clear(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM auth_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets counts whose window and lockout are over (the cleanup job); random addresses would otherwise
/// leave rows behind for ever.
pub async fn purge_expired(db: &Db) -> Result<u64, AppError> {
    let now = now_ms();
    let longest_window = PER_ACCOUNT.window_ms.max(PER_CLIENT.window_ms);
    Ok(
        sqlx::query("DELETE FROM auth_throttle WHERE locked_until <= $1 AND window_start < $2")
            .bind(now)
            .bind(now - longest_window)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
