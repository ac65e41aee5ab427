//! Password-guessing throttles, per account and per client address, kept in the database so that every
//! replica sees the same counts. After too many attempts in a window the key is locked for a while: 429.
//!
//! An attempt counts from *before* its password is checked: while in flight, and then as a failure if the
//! password was wrong. Checking takes a fraction of a second of argon2, so counting only the failures would let
//! a burst of concurrent guesses all pass a check that no failure had reached yet. A correct password is not
//! held against anyone; a burst of correct ones beyond the limit only waits (429 for a second, no lock).

use std::net::IpAddr;

use super::AccountError;
use crate::db::Db;
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

/// A password check in progress: counted against the account and the client's address while in flight, and
/// ended by `succeeded` or `failed`.
pub struct PasswordAttempt {
    db: Db,
    account: String,
    client: Option<String>,
    /// The keys the attempt is in flight under, until it ends.
    held: Vec<String>,
}

impl PasswordAttempt {
    /// Starts an attempt at `email`'s password from `client`; 429 while either is locked, or has as many
    /// attempts failed and in flight as its limit allows.
    pub async fn start(
        db: &Db,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<PasswordAttempt, AccountError> {
        let mut attempt = PasswordAttempt {
            db: db.clone(),
            account: account_key(email),
            client: client.as_ref().map(client_key),
            held: Vec::new(),
        };
        if let Some(key) = attempt.client.clone() {
            begin(db, &key, PER_CLIENT).await?;
            attempt.held.push(key);
        }
        // Refused here, the attempt is dropped and lets go of the address.
        begin(db, &attempt.account, PER_ACCOUNT).await?;
        attempt.held.push(attempt.account.clone());
        Ok(attempt)
    }

    /// The password was right: the account's failures are forgotten; the address keeps its own (many people
    /// may sign in from behind one).
    pub async fn succeeded(mut self) -> Result<(), AccountError> {
        self.held.clear();
        sqlx::query(&format!(
            "UPDATE auth_throttle SET failures = 0, {LEAVE_FLIGHT} WHERE key = $1"
        ))
        .bind(&self.account)
        .execute(&self.db.pool)
        .await?;
        if let Some(key) = &self.client {
            release(&self.db, key).await?;
        }
        Ok(())
    }

    /// The password was wrong: a failure for the account and the address, which locks either at its limit.
    pub async fn failed(mut self) -> Result<(), AccountError> {
        self.held.clear();
        record_failure(&self.db, &self.account, PER_ACCOUNT).await?;
        if let Some(key) = &self.client {
            record_failure(&self.db, key, PER_CLIENT).await?;
        }
        Ok(())
    }
}

/// Neither succeeded nor failed (an error, a client that hung up): no longer in flight.
impl Drop for PasswordAttempt {
    fn drop(&mut self) {
        let keys = std::mem::take(&mut self.held);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let db = self.db.clone();
        runtime.spawn(async move {
            for key in keys {
                if let Err(error) = release(&db, &key).await {
                    tracing::warn!(%error, "could not release a sign-in attempt");
                }
            }
        });
    }
}

/// `in_flight` one lower, never below zero.
const LEAVE_FLIGHT: &str = "in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END";

/// Puts one attempt in flight under `key`; 429 (and nothing in flight) while the key is locked or its
/// failures and attempts in flight already reach the limit. A window that has passed starts over, which
/// also forgets attempts a crashed server left in flight.
async fn begin(db: &Db, key: &str, limit: Limit) -> Result<(), AccountError> {
    let now = now_ms();
    // One statement, so that concurrent attempts each see their own count.
    let (failures, in_flight, locked_until): (i64, i64, i64) = sqlx::query_as(
        "INSERT INTO auth_throttle (key, failures, window_start, locked_until, in_flight) VALUES ($1, 0, $2, 0, 1)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN auth_throttle.window_start < $3 AND auth_throttle.locked_until <= $2
             THEN 0 ELSE auth_throttle.failures END,
           in_flight = CASE WHEN auth_throttle.window_start < $3 AND auth_throttle.locked_until <= $2
             THEN 1 ELSE auth_throttle.in_flight + 1 END,
           window_start = CASE WHEN auth_throttle.window_start < $3 AND auth_throttle.locked_until <= $2
             THEN $2 ELSE auth_throttle.window_start END
         RETURNING failures, in_flight, locked_until",
    )
    .bind(key)
    .bind(now)
    .bind(now - limit.window_ms)
    .fetch_one(&db.pool)
    .await?;
    if locked_until <= now && failures + in_flight <= limit.max_attempts {
        return Ok(());
    }
    release(db, key).await?;
    Err(AccountError::Throttled {
        // Locked: until the lock ends. Only busy: as soon as an attempt in flight ends.
        retry_after_secs: ((locked_until - now) / 1000).max(1) as u64,
    })
}

async fn release(db: &Db, key: &str) -> Result<(), AccountError> {
    sqlx::query(&format!(
        "UPDATE auth_throttle SET {LEAVE_FLIGHT} WHERE key = $1"
    ))
    .bind(key)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Ends an attempt in flight as a failure; at the limit, locks the key for the lockout period.
async fn record_failure(db: &Db, key: &str, limit: Limit) -> Result<(), AccountError> {
    let failures: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE auth_throttle SET failures = failures + 1, {LEAVE_FLIGHT} WHERE key = $1 RETURNING failures"
    ))
    .bind(key)
    .fetch_optional(&db.pool)
    .await?;
    if failures.is_some_and(|f| f >= limit.max_attempts) {
        let now = now_ms();
        sqlx::query(
            "UPDATE auth_throttle SET locked_until = $1, failures = 0, window_start = $2 WHERE key = $3",
        )
        .bind(now + limit.lockout_ms)
        .bind(now)
        .bind(key)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// Counts one request under `key` (a password-reset mail): 429 once the limit is used up in the window.
pub async fn count(db: &Db, key: &str, limit: Limit) -> Result<(), AccountError> {
    begin(db, key, limit).await?;
    record_failure(db, key, limit).await
}

/// The account starts over: its password was reset.
pub async fn clear_account(db: &Db, email: &str) -> Result<(), AccountError> {
    clear(db, &account_key(email)).await
}

async fn clear(db: &Db, key: &str) -> Result<(), AccountError> {
    sqlx::query("DELETE FROM auth_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets counts whose window and lockout are over (the cleanup job); random addresses would otherwise
/// leave rows behind for ever.
pub async fn purge_expired(db: &Db) -> Result<u64, crate::error::DbError> {
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
