//! Where a test's data lives: a temporary directory (always), and for PostgreSQL a fresh database created for
//! the test and dropped when it ends.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

/// The database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests create their databases on (trust authentication).
pub fn postgres_admin_url() -> String {
    std::env::var("WHEELHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A directory removed (best effort) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join("wheelhouse-tests").join(format!(
            "{}-{}",
            std::process::id(),
            crate::random_suffix(12)
        ));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A database created for one test (`wh_test_<unix seconds>_<random>`), dropped when this is dropped, also when
/// the test failed. Databases left behind by a killed run are dropped by the next run once they are an hour old.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

const PREFIX: &str = "wh_test_";

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin_url = postgres_admin_url();
        static CLEANUP: Once = Once::new();
        CLEANUP.call_once(|| {
            let admin_url = admin_url.clone();
            run_blocking(async move { drop_stale_databases(&admin_url).await });
        });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let name = format!("{PREFIX}{now}_{}", crate::random_suffix(10));
        let mut admin = admin_connection(&admin_url).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("WHEELHOUSE_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        PgDatabase {
            name,
            url: url.to_string(),
            admin_url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        run_blocking(async move {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                // FORCE ends the server's pooled connections, which may still be open.
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(admin_url)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!(
            "PostgreSQL is not reachable at {admin_url} ({error}). The integration tests run every case on \
             PostgreSQL too: start it (trust authentication for user postgres on 127.0.0.1:5432), or point \
             WHEELHOUSE_TEST_POSTGRES_URL at an admin connection URL."
        ),
        Err(_) => panic!("PostgreSQL at {admin_url} did not answer within 10 s"),
    }
}

async fn drop_stale_databases(admin_url: &str) {
    // Unreachable: say nothing here; creating the test's database fails with the explanation.
    let Ok(mut admin) = PgConnection::connect(admin_url).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'wh\\_test\\_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > 3600) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await;
        }
    }
    let _ = admin.close().await;
}

/// Runs a future to completion on its own thread and runtime (usable from `Drop` and from inside a test's
/// runtime alike).
pub(crate) fn run_blocking<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}
