//! On PostgreSQL, replicas hear each other's config changes: a `LISTEN` on `NOTIFY_CHANNEL` applies them to
//! this replica's snapshot (`Publisher::apply_notification`). The listener is this replica's own business, not
//! durable work: when its connection drops, anything may have been missed, so it rebuilds everything.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;

use super::{Publisher, NOTIFY_CHANNEL};
use crate::db::{Backend, Db};

/// Starts listening before the snapshot is first built, so that a change committed while it is being built
/// is heard rather than lost. `None` on SQLite, or when the database refuses (the task then connects by
/// itself, and rebuilds everything once it has).
pub async fn listen_early(db: &Db) -> Option<PgListener> {
    if db.backend != Backend::Postgres {
        return None;
    }
    match listen(db).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "config listener cannot LISTEN yet; retrying in the background");
            None
        }
    }
}

async fn listen(db: &Db) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(&db.url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

/// Applies other replicas' changes, for as long as the process runs.
pub async fn run(publisher: Arc<Publisher>, db: Db, mut listening_since_start: Option<PgListener>) {
    loop {
        let mut listener = match listening_since_start.take() {
            Some(listener) => listener,
            None => match listen(&db).await {
                Ok(listener) => {
                    reload_all(&publisher).await;
                    listener
                }
                Err(error) => {
                    tracing::warn!(%error, "config listener cannot LISTEN; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            },
        };
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    publisher.apply_notification(notification.payload()).await
                }
                // The connection dropped and sqlx reconnected: anything may have been missed.
                Ok(None) => reload_all(&publisher).await,
                Err(error) => {
                    tracing::warn!(%error, "config listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn reload_all(publisher: &Publisher) {
    if let Err(error) = publisher.load_all().await {
        tracing::warn!(%error, "could not rebuild the config snapshot");
    }
}
