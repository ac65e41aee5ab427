//! The integration-test harness: starts the real Wheelhouse server (`server::start`) on `127.0.0.1:0` with a
//! fresh data directory and a fresh database, SQLite or PostgreSQL, and drives it over HTTP with a real client.
//!
//! ```ignore
//! both_backends!(a_viewer_cannot_add_a_source);
//!
//! async fn a_viewer_cannot_add_a_source(backend: Backend) {
//!     let app = TestApp::start(backend).await;
//!     let owner = app.user("owner@example.com").await;
//!     let ws = app.workspace(&owner, "Acme").await;
//!     let viewer = app.member(&ws, "viewer@example.com", Role::Viewer).await;
//!     viewer.post(&sources_path(&ws), json!({"name": "Site", "type": "Javascript"})).await.expect(403);
//! }
//! ```
//!
//! - [`TestApp`]: one server, its data directory, its database (dropped at the end), optionally an SMTP
//!   server process; users, workspaces, members and tokens in one line each.
//! - [`Client`]: a signed-in browser (cookie jar, `Origin` on state-changing requests), an API token
//!   (`Bearer`), a data plane or SDK (`Basic`), or nobody. Every exchange is kept in the app's transcript,
//!   so that tests can search every response they received (for a canary secret, for a 500).
//! - [`logs`]: one global tracing subscriber at DEBUG for every target, writing into memory.
//! - [`mail`]: the SMTP sink (`tests/smtp/sink.py`, aiosmtpd) and a mailbox that waits for a message.
//! - [`warehouse`], [`fake_warehouses`], [`object_storage`]: a real PostgreSQL warehouse, local servers that
//!   speak the APIs of the warehouses this machine cannot run, and real S3 (moto) and Azure (Azurite) servers.

pub mod client;
pub mod db;
pub mod fake_warehouses;
pub mod fixtures;
pub mod logs;
pub mod mail;
pub mod object_storage;
pub mod test_app;
pub mod warehouse;
pub mod ws;

pub use ::app::api::workspaces::Role;
pub use client::{Client, Exchange, Req, Resp};
pub use db::Backend;
pub use fixtures::*;
pub use mail::{Mail, Mailbox};
pub use test_app::{TestApp, TestAppBuilder};
pub use ws::Ws;

/// Runs each listed test on both backends. A test is an `async fn name(backend: Backend)`; for each, this
/// generates a module `name` holding the tests `sqlite` and `postgres`, so `cargo test sqlite` or
/// `cargo test postgres` picks one backend and `cargo test name` runs one case on both.
///
/// ```ignore
/// both_backends!(login_sets_the_session_cookie, logout_ends_the_session);
///
/// /// What the test shows.
/// async fn login_sets_the_session_cookie(backend: Backend) {
///     let app = TestApp::start(backend).await;
///     …
/// }
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

/// A random lower-case alphanumeric string, for unique names, emails, canaries.
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` saying what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
