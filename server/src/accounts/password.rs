//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), off the async runtime.
//!
//! Hashing is deliberately expensive, so it is also bounded: at most one hash per spare core runs at a time,
//! which keeps a core free for serving (a burst of sign-ins must not slow the data planes' config polls);
//! further sign-ins wait their turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::AccountError;
use crate::error::Invalid;

pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 256;

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters"),
    )
}

/// Checks a new password's length; the field name goes into the 422.
pub fn check_policy(field: &str, password: &str) -> Result<(), Invalid> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Invalid::new(
            field,
            format!("{field} must be at least {MIN_LENGTH} characters long"),
        ));
    }
    if password.len() > MAX_LENGTH {
        return Err(Invalid::new(
            field,
            format!("{field} must be at most {MAX_LENGTH} bytes long"),
        ));
    }
    Ok(())
}

/// Beyond this many waiting for their turn, a password check is refused with 503 rather than queued: a flood
/// of sign-ins from many addresses would otherwise grow the queue without bound while people wait behind it.
const MAX_WAITING: usize = 64;

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// One place in the queue; given back however the wait ends (a client that hangs up cancels it).
struct InQueue;

impl Drop for InQueue {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A turn at hashing: one of the spare cores, when fewer than `MAX_WAITING` are already waiting.
async fn turn() -> Result<SemaphorePermit<'static>, AccountError> {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores.saturating_sub(1).max(1))
    });
    if let Ok(permit) = permits.try_acquire() {
        return Ok(permit);
    }
    let already_waiting = WAITING.fetch_add(1, Ordering::SeqCst);
    let _in_queue = InQueue;
    if already_waiting >= MAX_WAITING {
        return Err(AccountError::Busy);
    }
    permits
        .acquire()
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

pub async fn hash(password: SecretString) -> Result<String, AccountError> {
    let _turn = turn().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hashing(format!("argon2: {e}")))
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}

/// Verifies a password against a stored PHC string. With no stored hash (unknown account) it verifies
/// against a fixed dummy hash, so that the answer takes as long either way.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, AccountError> {
    let _turn = turn().await?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| AccountError::Hashing(format!("stored hash: {e}")))?;
        let ok = argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"no account has this password", &salt)
            .expect("argon2")
            .to_string()
    })
}
