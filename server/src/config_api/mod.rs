//! The data-plane config API: what rudder-server (`/workspaceConfig`, namespace config) and the RudderStack
//! JavaScript SDK (`/sourceConfig`) pull, served from an in-memory snapshot that is rebuilt, per workspace,
//! when something changes. Namespaces (groups of workspaces for multi-tenant data planes) live here too.
//!
//! Every write that changes what a data plane sees ends with `commit_change`: the workspace's `updatedAt`
//! moves, the snapshot is rebuilt, and with PostgreSQL a NOTIFY tells the other replicas to rebuild too
//! (`jobs::config_listener`). A build that fails does not undo or fail the change: the workspace keeps its
//! previous snapshot and `retry_failed_builds` tries again until it succeeds.

mod assemble;
mod document;
mod handlers;
mod namespaces;
pub mod resolve;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::{BufMut, Bytes, BytesMut};
use sqlx::AnyConnection;

pub use assemble::WorkspaceSnapshot;
pub use document::Document;
pub use handlers::data_plane_routes;
pub use namespaces::routes as namespace_routes;

use crate::db::Backend;
use crate::http::error::ApiResult;
use crate::state::AppState;
use crate::time::now_ms;

/// The PostgreSQL channel that carries "this changed" between replicas.
pub const NOTIFY_CHANNEL: &str = "wheelhouse_config";

/// How long before a data plane's `updatedAfter` cursor a workspace must have been served for it to come
/// back as `null`: see `Index::namespace_body`.
const UPDATED_AFTER_GRACE_MS: i64 = 30_000;

/// The wait before retrying failed builds, doubled after each round that still fails, up to the longest.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_LONGEST: Duration = Duration::from_secs(60);

/// Finishes a change to what data planes see, inside its transaction: the workspace's config `updatedAt`
/// moves, the change is audited, the transaction commits, and the snapshot is rebuilt (so the next poll, on
/// any replica, gets it). Once committed, the change stands: a failed rebuild is retried, not reported.
pub async fn commit_change(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    workspace_id: &str,
    event: crate::audit::Event<'_>,
) -> ApiResult<()> {
    touch(&mut tx, workspace_id).await?;
    crate::audit::record(&mut tx, event).await?;
    tx.commit().await?;
    state.snapshots.refresh(state, workspace_id).await
}

/// Moves the workspace's config `updatedAt` forward (strictly, even within one millisecond).
async fn touch(conn: &mut AnyConnection, workspace_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE workspaces SET config_updated_at = CASE WHEN config_updated_at >= $1 THEN config_updated_at + 1 ELSE $1 END
         WHERE id = $2",
    )
    .bind(now_ms())
    .bind(workspace_id)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

pub struct TokenEntry {
    pub workspace_id: String,
    pub token_id: String,
    /// When `last_used_at` was last written, so that a data plane polling every 5 s costs one write a minute.
    last_recorded_ms: AtomicI64,
}

pub struct NamespaceSnapshot {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub workspace_ids: Vec<String>,
    /// The full namespace document (every workspace's config).
    pub full: Document,
}

#[derive(Clone)]
struct NamespaceDef {
    id: String,
    name: String,
    secret_hash: String,
    workspace_ids: Vec<String>,
}

/// An immutable view of everything the data-plane endpoints serve; replaced atomically.
#[derive(Default, Clone)]
pub struct Index {
    pub workspaces: HashMap<String, Arc<WorkspaceSnapshot>>,
    pub tokens: HashMap<String, Arc<TokenEntry>>,
    /// write key → the workspace whose snapshot holds its `sourceConfig`
    pub write_keys: HashMap<String, Arc<WorkspaceSnapshot>>,
    pub namespaces: HashMap<String, Arc<NamespaceSnapshot>>,
    namespace_defs: Vec<NamespaceDef>,
}

impl Index {
    fn install(&mut self, workspace_id: &str, snapshot: Option<Arc<WorkspaceSnapshot>>) {
        if let Some(old) = self.workspaces.remove(workspace_id) {
            for key in old.source_configs.keys() {
                self.write_keys.remove(key);
            }
            for (_, hash) in &old.tokens {
                self.tokens.remove(hash);
            }
        }
        if let Some(snapshot) = snapshot {
            for key in snapshot.source_configs.keys() {
                self.write_keys.insert(key.clone(), snapshot.clone());
            }
            for (token_id, hash) in &snapshot.tokens {
                self.tokens.insert(
                    hash.clone(),
                    Arc::new(TokenEntry {
                        workspace_id: workspace_id.to_string(),
                        token_id: token_id.clone(),
                        last_recorded_ms: AtomicI64::new(0),
                    }),
                );
            }
            self.workspaces.insert(workspace_id.to_string(), snapshot);
        }
        let affected: Vec<NamespaceDef> = self
            .namespace_defs
            .iter()
            .filter(|ns| ns.workspace_ids.iter().any(|w| w == workspace_id))
            .cloned()
            .collect();
        for ns in affected {
            self.build_namespace(&ns);
        }
    }

    fn set_namespaces(&mut self, defs: Vec<NamespaceDef>) {
        self.namespaces.clear();
        for ns in &defs {
            self.build_namespace(ns);
        }
        self.namespace_defs = defs;
    }

    fn build_namespace(&mut self, ns: &NamespaceDef) {
        let full = Document::new(self.namespace_body(&ns.workspace_ids, None).to_vec());
        self.namespaces.insert(
            ns.name.clone(),
            Arc::new(NamespaceSnapshot {
                id: ns.id.clone(),
                name: ns.name.clone(),
                secret_hash: ns.secret_hash.clone(),
                workspace_ids: ns.workspace_ids.clone(),
                full,
            }),
        );
    }

    /// `{"<workspaceId>": ConfigT, …}`, with `null` for workspaces the data plane polling with
    /// `updatedAfter = updated_after_ms` already has.
    ///
    /// Its cursor is the newest `updatedAt` it received, but `updatedAt` is stamped inside the change's
    /// transaction, before the snapshot is built and served (on each replica in turn; later still after a
    /// failed build). A workspace stamped before another yet served after it would be older than the cursor
    /// although the data plane never got it. So `null` only for a snapshot this replica has served since well
    /// before the cursor; the grace covers the replicas' clocks and the time a change takes to reach them
    /// all. Sending a workspace again costs bytes only: rudder-server compares what it gets with what it has.
    pub fn namespace_body(&self, workspace_ids: &[String], updated_after_ms: Option<i64>) -> Bytes {
        let mut out = BytesMut::with_capacity(
            workspace_ids
                .iter()
                .filter_map(|w| self.workspaces.get(w))
                .map(|s| s.config.identity.body.len() + 32)
                .sum::<usize>()
                + 2,
        );
        out.put_u8(b'{');
        let mut first = true;
        for workspace_id in workspace_ids {
            let Some(snapshot) = self.workspaces.get(workspace_id) else {
                continue;
            };
            if !first {
                out.put_u8(b',');
            }
            first = false;
            out.put_slice(
                serde_json::to_string(workspace_id)
                    .expect("string")
                    .as_bytes(),
            );
            out.put_u8(b':');
            match updated_after_ms {
                Some(after)
                    if snapshot.updated_at_ms.max(snapshot.served_since_ms)
                        < after - UPDATED_AFTER_GRACE_MS =>
                {
                    out.put_slice(b"null")
                }
                _ => out.put_slice(&snapshot.config.identity.body),
            }
        }
        out.put_u8(b'}');
        out.freeze()
    }
}

/// The serving snapshot and its rebuild bookkeeping.
pub struct Snapshots {
    index: ArcSwap<Index>,
    /// Per workspace: how many refresh requests the last completed build covers.
    generations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<u64>>>>,
    /// Per workspace: refresh requests so far.
    requested: Mutex<HashMap<String, u64>>,
    /// Workspaces whose last build failed (they serve their previous snapshot meanwhile).
    failed: Mutex<HashSet<String>>,
    /// Whether the last load of the namespace definitions failed.
    namespaces_failed: AtomicBool,
    /// Wakes `retry_failed_builds`.
    retry: tokio::sync::Notify,
    /// Tells the replica's own notifications apart from others'.
    pub instance_id: String,
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots {
            index: ArcSwap::from_pointee(Index::default()),
            generations: Mutex::new(HashMap::new()),
            requested: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashSet::new()),
            namespaces_failed: AtomicBool::new(false),
            retry: tokio::sync::Notify::new(),
            instance_id: crate::ids::new_id(),
        }
    }
}

impl Snapshots {
    pub fn current(&self) -> Arc<Index> {
        self.index.load_full()
    }

    /// Rebuilds one workspace after a committed change and tells the other replicas. It always succeeds: the
    /// change is stored, so a failed build is logged and retried in the background. (It returns a `Result` so
    /// that handlers keep calling it with `?`.)
    pub async fn refresh(&self, state: &AppState, workspace_id: &str) -> ApiResult<()> {
        if let Err(error) = self.rebuild(state, workspace_id).await {
            tracing::error!(workspace_id, %error, "could not rebuild the config snapshot after a change; retrying in the background");
        }
        // Even after a failure here: another replica may build it, and the change is stored either way.
        self.notify(state, &format!("ws:{workspace_id}")).await;
        Ok(())
    }

    /// Rebuilds one workspace. Concurrent requests for the same workspace coalesce: a build that started
    /// after a request's change was committed satisfies that request. A failure leaves the previous
    /// snapshot in place and the workspace to `retry_failed_builds`.
    pub async fn rebuild(&self, state: &AppState, workspace_id: &str) -> ApiResult<()> {
        let ticket = {
            let mut requested = self.requested.lock().expect("requested");
            let n = requested.entry(workspace_id.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let lock = self
            .generations
            .lock()
            .expect("generations")
            .entry(workspace_id.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(0)))
            .clone();
        let mut built = lock.lock().await;
        if *built >= ticket {
            return Ok(());
        }
        let covers = *self
            .requested
            .lock()
            .expect("requested")
            .get(workspace_id)
            .unwrap_or(&ticket);
        let started = std::time::Instant::now();
        let mut snapshot = match assemble::assemble(state, workspace_id).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.failed
                    .lock()
                    .expect("failed")
                    .insert(workspace_id.to_string());
                self.retry.notify_one();
                return Err(error);
            }
        };
        if let (Some(new), Some(old)) = (&mut snapshot, self.current().workspaces.get(workspace_id))
        {
            // The same content: still served since then, so that a rebuild without a change (a notification,
            // a reload) does not send it to incremental polls again.
            if new.config.identity.etag == old.config.identity.etag {
                new.served_since_ms = old.served_since_ms;
            }
        }
        let snapshot = snapshot.map(Arc::new);
        tracing::debug!(
            workspace_id,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "config snapshot rebuilt"
        );
        self.index.rcu(|index| {
            let mut next = Index::clone(index);
            next.install(workspace_id, snapshot.clone());
            next
        });
        *built = covers;
        self.failed.lock().expect("failed").remove(workspace_id);
        Ok(())
    }

    /// Reloads namespace definitions after an admin's committed change and tells the other replicas; a
    /// failure is logged and retried in the background, like a workspace's.
    pub async fn refresh_namespaces(&self, state: &AppState) {
        if let Err(error) = self.reload_namespaces(state).await {
            tracing::error!(%error, "could not reload the namespaces after a change; retrying in the background");
        }
        self.notify(state, "ns").await;
    }

    pub async fn reload_namespaces(&self, state: &AppState) -> ApiResult<()> {
        let defs = match namespaces::load_definitions(state).await {
            Ok(defs) => defs,
            Err(error) => {
                self.namespaces_failed.store(true, Ordering::SeqCst);
                self.retry.notify_one();
                return Err(error);
            }
        };
        self.index.rcu(|index| {
            let mut next = Index::clone(index);
            next.set_namespaces(defs.clone());
            next
        });
        self.namespaces_failed.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Builds everything (start-up, or after a lost notification connection). Each workspace on its own: one
    /// that fails is logged and retried in the background, and the others are served.
    pub async fn load_all(&self, state: &AppState) -> ApiResult<()> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM workspaces")
            .fetch_all(&state.db.pool)
            .await?;
        let known: Vec<String> = self.current().workspaces.keys().cloned().collect();
        for id in ids.iter().chain(known.iter().filter(|k| !ids.contains(k))) {
            if let Err(error) = self.rebuild(state, id).await {
                tracing::error!(workspace_id = %id, %error, "could not build a workspace's config snapshot; retrying in the background");
            }
        }
        if let Err(error) = self.reload_namespaces(state).await {
            tracing::error!(%error, "could not load the namespaces; retrying in the background");
        }
        Ok(())
    }

    /// One retry of everything whose last build failed; whether anything still fails.
    async fn retry_failed(&self, state: &AppState) -> bool {
        let failed: Vec<String> = self
            .failed
            .lock()
            .expect("failed")
            .iter()
            .cloned()
            .collect();
        for workspace_id in failed {
            match self.rebuild(state, &workspace_id).await {
                Ok(()) => tracing::info!(
                    workspace_id,
                    "config snapshot rebuilt after an earlier failure"
                ),
                Err(error) => {
                    tracing::warn!(workspace_id, %error, "config snapshot still cannot be built; will retry")
                }
            }
        }
        if self.namespaces_failed.load(Ordering::SeqCst) {
            if let Err(error) = self.reload_namespaces(state).await {
                tracing::warn!(%error, "namespaces still cannot be loaded; will retry");
            }
        }
        !self.failed.lock().expect("failed").is_empty()
            || self.namespaces_failed.load(Ordering::SeqCst)
    }

    async fn notify(&self, state: &AppState, what: &str) {
        if state.db.backend != Backend::Postgres {
            return;
        }
        let payload = format!("{}|{what}", self.instance_id);
        if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(payload)
            .execute(&state.db.pool)
            .await
        {
            // Other replicas then catch up at their next full reload; this one is already current.
            tracing::warn!(%error, "could not notify other replicas of a config change");
        }
    }

    /// Records that a data-plane token was used, at most once a minute per token, off the request path.
    pub fn record_token_use(&self, state: &AppState, entry: &Arc<TokenEntry>) {
        let now = now_ms();
        let last = entry.last_recorded_ms.load(Ordering::Relaxed);
        if now - last < 60_000
            || entry
                .last_recorded_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (db, token_id) = (state.db.clone(), entry.token_id.clone());
        tokio::spawn(async move {
            let _ = sqlx::query("UPDATE data_plane_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(&db.pool)
                .await;
        });
    }
}

/// The background job that retries failed builds, with a growing delay, until they succeed: a change is
/// stored before its snapshot is built, so giving up would leave data planes on the old config for good.
pub async fn retry_failed_builds(state: AppState) {
    loop {
        state.snapshots.retry.notified().await;
        let mut delay = RETRY_FIRST;
        loop {
            tokio::time::sleep(delay).await;
            if !state.snapshots.retry_failed(&state).await {
                break;
            }
            delay = (delay * 2).min(RETRY_LONGEST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(
        workspace_id: &str,
        updated_at_ms: i64,
        served_since_ms: i64,
    ) -> Arc<WorkspaceSnapshot> {
        Arc::new(WorkspaceSnapshot {
            workspace_id: workspace_id.into(),
            updated_at_ms,
            served_since_ms,
            config: Document::new(format!(r#"{{"workspaceId":"{workspace_id}"}}"#).into_bytes()),
            source_configs: HashMap::new(),
            tokens: Vec::new(),
        })
    }

    #[test]
    fn updated_after_is_null_only_for_what_was_served_well_before_the_cursor() {
        let cursor = 10_000_000;
        let mut index = Index::default();
        index.install("old", Some(snapshot("old", 1_000, 2_000)));
        // Stamped long before the cursor, served only after it (a slow or retried build, a late replica).
        index.install("late", Some(snapshot("late", 1_000, cursor + 5)));
        index.install("recent", Some(snapshot("recent", cursor - 10, cursor - 9)));
        index.install(
            "edge",
            Some(snapshot("edge", 1_000, cursor - UPDATED_AFTER_GRACE_MS)),
        );
        let ids: Vec<String> = ["old", "late", "recent", "edge", "gone"]
            .map(String::from)
            .to_vec();
        let body: serde_json::Value =
            serde_json::from_slice(&index.namespace_body(&ids, Some(cursor))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "old": null,
                "late": {"workspaceId": "late"},
                "recent": {"workspaceId": "recent"},
                "edge": {"workspaceId": "edge"},
            })
        );
        let full: serde_json::Value =
            serde_json::from_slice(&index.namespace_body(&ids, None)).unwrap();
        assert_eq!(full["old"], serde_json::json!({"workspaceId": "old"}));
    }
}
