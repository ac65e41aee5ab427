//! The database: one connection pool over sqlx's `Any` driver, SQLite (the embedded default) or PostgreSQL.
//! Queries are portable SQL with `$n` placeholders over TEXT, BIGINT and JSON-as-TEXT columns; the dialect
//! differences live in `migrations/sqlite` and `migrations/postgres`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub url: String,
}

/// Without the URL: it may hold the database's password.
impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite:// or postgres://".into(),
            ));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_creating_the_file(url)?,
            Backend::Postgres => url.to_string(),
        };
        // Statement logging would put SQL text (never bound values) in the log at info level: keep it at debug.
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let max_connections = match backend {
            // SQLite has one writer; a few readers are enough and keep lock contention low.
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // Persistent in the file: readers no longer block the writer.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Db { pool, backend, url })
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads first would fail, without waiting, when another connection wrote in
    /// between (its snapshot is stale), where an immediate one waits its turn.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.pool
            .begin_with(match self.backend {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                Backend::Postgres => "BEGIN",
            })
            .await
    }

    /// Begins a transaction that only reads, and sees one snapshot throughout: several queries that must agree
    /// (rows and the watermark that says which of them to read) read the same state.
    pub async fn begin_read(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.pool
            .begin_with(match self.backend {
                // WAL: a deferred transaction's snapshot is taken at its first read and kept.
                Backend::Sqlite => "BEGIN",
                Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            })
            .await
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// `sqlite://path/to/new.db` opens the file read-write and creates it (and its folder) when missing, as
/// someone who sets `DATABASE_URL` expects; SQLite's own default would refuse a file that does not exist. An
/// explicit `mode=` is left as it is.
fn sqlite_creating_the_file(url: &str) -> Result<String, sqlx::Error> {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    if query.split('&').any(|pair| pair.starts_with("mode=")) {
        return Ok(url.to_string());
    }
    let path = location
        .trim_start_matches("sqlite:")
        .trim_start_matches("//");
    if !path.is_empty() && !path.starts_with(':') {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    sqlx::Error::Configuration(
                        format!("creating the folder of the SQLite file {path}: {e}").into(),
                    )
                })?;
            }
        }
    }
    let separator = if query.is_empty() { "?" } else { "&" };
    Ok(format!("{url}{separator}mode=rwc"))
}

/// True when the error is a UNIQUE constraint violation (both dialects).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// True when the error is a FOREIGN KEY violation (both dialects).
pub fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

pub fn flag(value: bool) -> i64 {
    value as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_creates_its_file_unless_it_says_otherwise() {
        let dir = std::env::temp_dir().join(format!("wh-db-{}", crate::ids::new_id()));
        let url = format!("sqlite://{}/nested/new.db", dir.display());
        assert_eq!(
            sqlite_creating_the_file(&url).unwrap(),
            format!("{url}?mode=rwc")
        );
        assert!(dir.join("nested").is_dir());
        assert_eq!(
            sqlite_creating_the_file("sqlite://x.db?mode=ro").unwrap(),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            sqlite_creating_the_file("sqlite::memory:?cache=shared").unwrap(),
            "sqlite::memory:?cache=shared&mode=rwc"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
