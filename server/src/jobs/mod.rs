//! Background tasks: cleanup of expired sessions and sign-in throttles, and (on PostgreSQL) the listener that keeps this replica's
//! config snapshot current when another replica changes something.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use crate::accounts::sessions::DbSessionStore;
use crate::accounts::throttle;
use crate::config_api::NOTIFY_CHANNEL;
use crate::db::Backend;
use crate::state::AppState;

pub fn spawn_all(state: &AppState) -> Vec<JoinHandle<()>> {
    let mut jobs = vec![tokio::spawn(delete_expired_sessions(state.clone()))];
    if state.db.backend == Backend::Postgres {
        jobs.push(tokio::spawn(config_listener(state.clone())));
    }
    jobs
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

/// LISTENs for config changes made by other replicas. After a (re)connection it rebuilds everything, since
/// notifications sent while it was away are lost.
async fn config_listener(state: AppState) {
    let mut first = true;
    loop {
        let mut listener = match PgListener::connect(&state.db.url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "config listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(NOTIFY_CHANNEL).await {
            tracing::warn!(%error, "config listener cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        }
        if !first {
            reload_all(&state).await;
        }
        first = false;
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
