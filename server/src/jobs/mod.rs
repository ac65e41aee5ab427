//! Background tasks: cleanup of expired sessions and sign-in throttles, retries of config snapshot builds
//! that failed, and (on PostgreSQL) the listener that keeps this replica's config snapshot current when
//! another replica changes something.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use crate::accounts::sessions::DbSessionStore;
use crate::accounts::throttle;
use crate::config_api::{self, NOTIFY_CHANNEL};
use crate::db::Backend;
use crate::state::AppState;

/// `listener`: from `listen_for_config_changes`, called before the snapshot was first built.
pub fn spawn_all(state: &AppState, listener: Option<PgListener>) -> Vec<JoinHandle<()>> {
    let mut jobs = vec![
        tokio::spawn(delete_expired_sessions(state.clone())),
        tokio::spawn(config_api::retry_failed_builds(state.clone())),
    ];
    if state.db.backend == Backend::Postgres {
        jobs.push(tokio::spawn(config_listener(state.clone(), listener)));
    }
    jobs
}

/// On PostgreSQL, LISTENs for other replicas' config changes. Called before the first build of the snapshot,
/// so that a change committed while it is being built is heard rather than lost. `None` on SQLite, or when
/// the database refuses (the listener job then connects by itself, and rebuilds everything once it has).
pub async fn listen_for_config_changes(state: &AppState) -> Option<PgListener> {
    if state.db.backend != Backend::Postgres {
        return None;
    }
    match listen(state).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "config listener cannot LISTEN yet; retrying in the background");
            None
        }
    }
}

async fn listen(state: &AppState) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(&state.db.url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

async fn delete_expired_sessions(state: AppState) {
    let store = DbSessionStore::new(state.db.clone());
    let mut interval = tokio::time::interval(Duration::from_secs(3600));
    loop {
        interval.tick().await;
        match store.delete_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired sessions deleted"),
            Err(error) => tracing::warn!(%error, "could not delete expired sessions"),
        }
        if let Err(error) = throttle::purge_expired(&state.db).await {
            tracing::warn!(%error, "could not delete expired sign-in throttles");
        }
    }
}

/// Applies config changes made by other replicas. A listener it connects itself (not the one from start-up,
/// which predates the first build) is followed by a full rebuild: notifications sent while nobody listened
/// are lost.
async fn config_listener(state: AppState, mut listening_since_start: Option<PgListener>) {
    loop {
        let mut listener = match listening_since_start.take() {
            Some(listener) => listener,
            None => match listen(&state).await {
                Ok(listener) => {
                    reload_all(&state).await;
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
                Ok(Some(notification)) => apply(&state, notification.payload()).await,
                // The connection dropped and sqlx reconnected: anything may have been missed.
                Ok(None) => reload_all(&state).await,
                Err(error) => {
                    tracing::warn!(%error, "config listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn apply(state: &AppState, payload: &str) {
    let Some((instance, what)) = payload.split_once('|') else {
        return;
    };
    if instance == state.snapshots.instance_id {
        return;
    }
    let result = match what.split_once(':') {
        Some(("ws", workspace_id)) => state.snapshots.rebuild(state, workspace_id).await,
        _ if what == "ns" => state.snapshots.reload_namespaces(state).await,
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(%error, "could not apply a config change from another replica");
    }
}

async fn reload_all(state: &AppState) {
    if let Err(error) = state.snapshots.load_all(state).await {
        tracing::warn!(%error, "could not rebuild the config snapshot");
    }
}
