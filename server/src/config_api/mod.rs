//! The data-plane config API: what rudder-server (`/workspaceConfig`, namespace config) and the RudderStack
//! JavaScript SDK (`/sourceConfig`) pull, served from an in-memory [`Snapshot`].
//!
//! The snapshot is a value: built by this module from the database, held by the application state behind
//! the [`Publisher`], replaced atomically. Its maps are persistent (structurally shared), so publishing one
//! workspace's change costs time in proportion to that workspace, not to the instance: the workspace's
//! documents are rebuilt and recompressed (off the async runtime), the namespaces that hold it are spliced
//! again from their workspaces' compressed parts, and everything else is shared with the previous snapshot.
//!
//! With PostgreSQL, replicas tell each other what changed with `NOTIFY` (`jobs::listen`). Credentials are
//! revoked at once, independently of any rebuild: a data-plane token or a namespace secret that is revoked
//! stops working even when the workspace's documents cannot be rebuilt.

mod assemble;
mod document;
mod handlers;
pub mod listener;
pub mod resolve;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::{BufMut, Bytes, BytesMut};

pub use assemble::{WorkspaceRows, WorkspaceSnapshot};
pub use document::{Document, NamespaceDocument};
pub use handlers::{authenticate, data_plane_routes, DataPlaneIdentity};

use crate::catalog::Catalog;
use crate::db::{Backend, Db};
use crate::error::{DbError, DomainError, Kind};
use crate::namespaces::NamespaceDef;
use crate::secrets::keys::KeyError;
use crate::secrets::Keyring;
use crate::time::now_ms;

/// The PostgreSQL channel that carries "this changed" between replicas.
pub const NOTIFY_CHANNEL: &str = "wheelhouse_config";

/// How long before a data plane's `updatedAfter` cursor a workspace must have been served for it to come
/// back as `null`: see `Snapshot::namespace_body`.
const UPDATED_AFTER_GRACE_MS: i64 = 30_000;

/// The wait before retrying failed builds, doubled after each round that still fails, up to the longest.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_LONGEST: Duration = Duration::from_secs(60);

/// Changes a connected data plane may fall behind by before it is sent everything again.
const CHANGES_BUFFERED: usize = 1024;

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
    pub full: NamespaceDocument,
}

/// An immutable view of everything the data-plane endpoints serve.
#[derive(Default, Clone)]
pub struct Snapshot {
    pub workspaces: imbl::HashMap<String, Arc<WorkspaceSnapshot>>,
    pub tokens: imbl::HashMap<String, Arc<TokenEntry>>,
    /// write key → the workspace whose snapshot holds its `sourceConfig`
    pub write_keys: imbl::HashMap<String, Arc<WorkspaceSnapshot>>,
    pub namespaces: imbl::HashMap<String, Arc<NamespaceSnapshot>>,
    namespace_defs: Arc<Vec<NamespaceDef>>,
    /// Hashes of revoked credentials (data-plane tokens, namespace secrets): refused even if a build that
    /// read them before their revocation installs them afterwards.
    revoked: imbl::HashSet<String>,
}

impl Snapshot {
    /// Puts a workspace's new snapshot in place of its old one (`None`: the workspace is gone).
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
                if self.revoked.contains(hash) {
                    continue;
                }
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
    }

    /// The data-plane token with this hash, unless it was revoked.
    pub fn token(&self, hash: &str) -> Option<&Arc<TokenEntry>> {
        self.tokens.get(hash)
    }

    /// The namespace whose name and secret hash these are, unless that secret was revoked.
    pub fn namespace(&self, name: &str, secret_hash: &str) -> Option<&Arc<NamespaceSnapshot>> {
        if self.revoked.contains(secret_hash) {
            return None;
        }
        self.namespaces.get(name).filter(|ns| {
            crate::ids::constant_time_eq(ns.secret_hash.as_bytes(), secret_hash.as_bytes())
        })
    }

    /// The namespace whose secret has this hash, unless it was revoked.
    pub fn namespace_by_secret(&self, secret_hash: &str) -> Option<&Arc<NamespaceSnapshot>> {
        if self.revoked.contains(secret_hash) {
            return None;
        }
        self.namespaces.values().find(|ns| {
            crate::ids::constant_time_eq(ns.secret_hash.as_bytes(), secret_hash.as_bytes())
        })
    }

    /// The namespace definitions that hold the workspace.
    fn namespaces_of(&self, workspace_id: &str) -> Vec<NamespaceDef> {
        self.namespace_defs
            .iter()
            .filter(|ns| ns.workspace_ids.iter().any(|w| w == workspace_id))
            .cloned()
            .collect()
    }

    /// A namespace's document, spliced from its workspaces' current documents.
    fn splice_namespace(&self, ns: &NamespaceDef) -> NamespaceSnapshot {
        let members: Vec<(String, Arc<WorkspaceSnapshot>)> = ns
            .workspace_ids
            .iter()
            .filter_map(|id| Some((id.clone(), self.workspaces.get(id)?.clone())))
            .collect();
        NamespaceSnapshot {
            id: ns.id.clone(),
            name: ns.name.clone(),
            secret_hash: ns.secret_hash.clone(),
            workspace_ids: ns.workspace_ids.clone(),
            full: NamespaceDocument::splice(
                members
                    .iter()
                    .map(|(id, snapshot)| (id.as_str(), &snapshot.config)),
            ),
        }
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
    pub fn namespace_body(&self, workspace_ids: &[String], updated_after_ms: i64) -> Bytes {
        let whole = |snapshot: &WorkspaceSnapshot| match &snapshot.config.identity.body {
            document::Payload::Whole(bytes) => bytes.clone(),
            other => Bytes::from(other.to_vec()),
        };
        let mut out = BytesMut::new();
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
                serde_json::Value::from(workspace_id.as_str())
                    .to_string()
                    .as_bytes(),
            );
            out.put_u8(b':');
            if snapshot.updated_at_ms.max(snapshot.served_since_ms)
                < updated_after_ms - UPDATED_AFTER_GRACE_MS
            {
                out.put_slice(b"null");
            } else {
                out.put_slice(&whole(snapshot));
            }
        }
        out.put_u8(b'}');
        out.freeze()
    }
}

/// Why a workspace's documents could not be built (it keeps its previous ones meanwhile).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("serializing the config: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("the build task failed: {0}")]
    Task(String),
}

crate::error::db_variant_from_sqlx!(BuildError);

impl DomainError for BuildError {
    fn kind(&self) -> Kind {
        match self {
            BuildError::Db(e) => e.kind(),
            BuildError::Keys(e) => e.kind(),
            BuildError::Serialize(_) | BuildError::Task(_) => Kind::Internal,
        }
    }
}

/// Builds the snapshot and keeps it current: holds the served snapshot, rebuilds workspaces after changes
/// (coalescing concurrent requests), retries failed builds, and tells other replicas.
pub struct Publisher {
    current: ArcSwap<Snapshot>,
    db: Db,
    keyring: Arc<Keyring>,
    catalog: &'static Catalog,
    /// Per workspace: how many refresh requests the last completed build covers.
    generations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<u64>>>>,
    /// Per workspace: refresh requests so far.
    requested: Mutex<HashMap<String, u64>>,
    /// Workspaces whose last build failed (they serve their previous snapshot meanwhile).
    failed: Mutex<HashSet<String>>,
    /// Whether the last load of the namespace definitions failed.
    namespaces_failed: AtomicBool,
    /// Namespace documents are spliced one change at a time, each from the latest snapshot, so that two
    /// concurrent changes to one namespace both end up in it.
    splicing: tokio::sync::Mutex<()>,
    /// Wakes `retry_failed_builds`.
    retry: tokio::sync::Notify,
    /// Tells the replica's own notifications apart from others'.
    pub instance_id: String,
    /// Each workspace snapshot installed with a new revision or new captures, for the connected data planes.
    changes: tokio::sync::broadcast::Sender<Arc<WorkspaceSnapshot>>,
}

impl Publisher {
    pub fn new(db: Db, keyring: Arc<Keyring>, catalog: &'static Catalog) -> Publisher {
        Publisher {
            current: ArcSwap::from_pointee(Snapshot::default()),
            db,
            keyring,
            catalog,
            generations: Mutex::new(HashMap::new()),
            requested: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashSet::new()),
            namespaces_failed: AtomicBool::new(false),
            splicing: tokio::sync::Mutex::new(()),
            retry: tokio::sync::Notify::new(),
            instance_id: crate::ids::new_id(),
            changes: tokio::sync::broadcast::channel(CHANGES_BUFFERED).0,
        }
    }

    /// Hears every workspace snapshot installed here with a new revision or new captures (a receiver that
    /// falls more than `CHANGES_BUFFERED` behind is told it lagged, and starts over from the snapshot).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<WorkspaceSnapshot>> {
        self.changes.subscribe()
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes a committed change to one workspace: rebuilds it here and tells the other replicas. It
    /// cannot fail: the change is stored, so a failed build is logged and retried in the background.
    pub async fn publish(&self, workspace_id: &str) {
        if let Err(error) = self.rebuild(workspace_id).await {
            tracing::error!(workspace_id, %error, "could not rebuild the config snapshot after a change; retrying in the background");
        }
        // Even after a failure here: another replica may build it, and the change is stored either way.
        self.notify(&format!("ws:{workspace_id}")).await;
    }

    /// Rebuilds one workspace. Concurrent requests for the same workspace coalesce: a build that started
    /// after a request's change was committed satisfies that request. A failure leaves the previous
    /// snapshot in place and the workspace to `retry_failed_builds`.
    pub async fn rebuild(&self, workspace_id: &str) -> Result<(), BuildError> {
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
        match self.build(workspace_id).await {
            Ok(snapshot) => {
                self.install(vec![(workspace_id.to_string(), snapshot)], false)
                    .await;
                *built = covers;
                self.failed.lock().expect("failed").remove(workspace_id);
                tracing::debug!(
                    workspace_id,
                    elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                    "config snapshot rebuilt"
                );
                Ok(())
            }
            Err(error) => {
                self.failed
                    .lock()
                    .expect("failed")
                    .insert(workspace_id.to_string());
                self.retry.notify_one();
                Err(error)
            }
        }
    }

    /// A workspace's new snapshot (`None` when it no longer exists), built off the async runtime.
    async fn build(&self, workspace_id: &str) -> Result<Option<WorkspaceSnapshot>, BuildError> {
        let started = std::time::Instant::now();
        let Some(rows) = WorkspaceRows::load(&self.db, workspace_id).await? else {
            return Ok(None);
        };
        let read = started.elapsed();
        let secrets = rows.open_secrets(&self.keyring).await?;
        let opened = started.elapsed();
        let catalog = self.catalog;
        let snapshot = tokio::task::spawn_blocking(move || assemble::build(catalog, rows, secrets))
            .await
            .map_err(|e| BuildError::Task(e.to_string()))??;
        tracing::debug!(
            workspace_id,
            read_ms = read.as_secs_f64() * 1e3,
            secrets_opened_ms = (opened - read).as_secs_f64() * 1e3,
            assembled_ms = (started.elapsed() - opened).as_secs_f64() * 1e3,
            "config snapshot built"
        );
        Ok(Some(snapshot))
    }

    /// Installs built workspace snapshots, then splices the namespaces that hold them again. With
    /// `only_newer` (a full reload, which may race a change's own rebuild), a snapshot built from older rows
    /// than the one served does not replace it.
    async fn install(&self, built: Vec<(String, Option<WorkspaceSnapshot>)>, only_newer: bool) {
        let current = self.current();
        let built: Vec<(String, Option<Arc<WorkspaceSnapshot>>)> = built
            .into_iter()
            .filter(|(id, new)| match (new, current.workspaces.get(id)) {
                (Some(new), Some(old)) if only_newer => new.updated_at_ms >= old.updated_at_ms,
                _ => true,
            })
            .map(|(id, mut new)| {
                if let (Some(new), Some(old)) = (&mut new, current.workspaces.get(&id)) {
                    // The same content: still served since then, so that a rebuild without a change (a
                    // notification, a reload) does not send it to incremental polls again.
                    if new.config.identity.etag == old.config.identity.etag {
                        new.served_since_ms = old.served_since_ms;
                    }
                }
                (id, new.map(Arc::new))
            })
            .collect();
        if built.is_empty() {
            return;
        }
        self.current.rcu(|snapshot| {
            let mut next = Snapshot::clone(snapshot);
            for (id, new) in &built {
                next.install(id, new.clone());
            }
            next
        });
        let ids: Vec<&str> = built.iter().map(|(id, _)| id.as_str()).collect();
        self.splice_namespaces_of(&ids).await;
        // After the namespace documents: a data plane told of a change must find it when it fetches.
        for (id, new) in &built {
            let Some(new) = new else { continue };
            let news = current.workspaces.get(id).is_none_or(|old| {
                old.live.revision != new.live.revision || old.live.capture != new.live.capture
            });
            if news {
                let _ = self.changes.send(new.clone());
            }
        }
    }

    /// Splices again every namespace that holds one of the workspaces.
    async fn splice_namespaces_of(&self, workspace_ids: &[&str]) {
        let _one_at_a_time = self.splicing.lock().await;
        let snapshot = self.current();
        let mut defs: Vec<NamespaceDef> = Vec::new();
        for id in workspace_ids {
            for def in snapshot.namespaces_of(id) {
                if !defs.iter().any(|d| d.id == def.id) {
                    defs.push(def);
                }
            }
        }
        if defs.is_empty() {
            return;
        }
        let spliced = splice_off_the_runtime(snapshot, defs).await;
        self.current.rcu(|snapshot| {
            let mut next = Snapshot::clone(snapshot);
            for ns in &spliced {
                next.namespaces.insert(ns.name.clone(), ns.clone());
            }
            next
        });
    }

    /// Publishes a committed change to the namespaces (an administrator's): reloads them here and tells the
    /// other replicas; a failure is logged and retried in the background, like a workspace's.
    pub async fn publish_namespaces(&self) {
        if let Err(error) = self.reload_namespaces().await {
            tracing::error!(%error, "could not reload the namespaces after a change; retrying in the background");
        }
        self.notify("ns").await;
    }

    pub async fn reload_namespaces(&self) -> Result<(), DbError> {
        let defs = match crate::namespaces::load_definitions(&self.db).await {
            Ok(defs) => defs,
            Err(error) => {
                self.namespaces_failed.store(true, Ordering::SeqCst);
                self.retry.notify_one();
                return Err(error);
            }
        };
        let _one_at_a_time = self.splicing.lock().await;
        let defs = Arc::new(defs);
        let spliced = splice_off_the_runtime(self.current(), defs.to_vec()).await;
        self.current.rcu(|snapshot| {
            let mut next = Snapshot::clone(snapshot);
            next.namespaces = spliced
                .iter()
                .map(|ns| (ns.name.clone(), ns.clone()))
                .collect();
            next.namespace_defs = defs.clone();
            next
        });
        self.namespaces_failed.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Builds everything (start-up, or after a lost notification connection), reading each table once. A
    /// workspace that cannot be built is logged and retried in the background, and the others are served.
    pub async fn load_all(&self) -> Result<(), BuildError> {
        let started = std::time::Instant::now();
        let all = WorkspaceRows::load_all(&self.db).await?;
        let count = all.len();
        let present: HashSet<String> = all.iter().map(|rows| rows.workspace_id.clone()).collect();
        let mut ready = Vec::with_capacity(all.len());
        for rows in all {
            match rows.open_secrets(&self.keyring).await {
                Ok(secrets) => ready.push((rows, secrets)),
                Err(error) => {
                    tracing::error!(workspace_id = %rows.workspace_id, %error, "could not build a workspace's config snapshot; retrying in the background");
                    self.failed
                        .lock()
                        .expect("failed")
                        .insert(rows.workspace_id.clone());
                    self.retry.notify_one();
                }
            }
        }
        let catalog = self.catalog;
        let built = tokio::task::spawn_blocking(move || {
            ready
                .into_iter()
                .map(|(rows, secrets)| {
                    let id = rows.workspace_id.clone();
                    (id, assemble::build(catalog, rows, secrets))
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| BuildError::Task(e.to_string()))?;
        let mut install = Vec::with_capacity(built.len());
        for (id, result) in built {
            match result {
                Ok(snapshot) => install.push((id, Some(snapshot))),
                Err(error) => {
                    tracing::error!(workspace_id = %id, %error, "could not build a workspace's config snapshot");
                }
            }
        }
        // Workspaces deleted while nobody listened.
        for id in self.current().workspaces.keys() {
            if !present.contains(id) {
                install.push((id.clone(), None));
            }
        }
        self.install(install, true).await;
        if let Err(error) = self.reload_namespaces().await {
            tracing::error!(%error, "could not load the namespaces; retrying in the background");
        }
        tracing::info!(
            workspaces = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "config snapshot built"
        );
        Ok(())
    }

    /// A data-plane token, usable at once (before, and whatever becomes of, the workspace's rebuild).
    pub async fn add_token(&self, workspace_id: &str, token_id: &str, hash: &str) {
        self.current.rcu(|snapshot| {
            let mut next = Snapshot::clone(snapshot);
            next.tokens.insert(
                hash.to_string(),
                Arc::new(TokenEntry {
                    workspace_id: workspace_id.to_string(),
                    token_id: token_id.to_string(),
                    last_recorded_ms: AtomicI64::new(0),
                }),
            );
            next
        });
        self.notify(&format!("ws:{workspace_id}")).await;
    }

    /// A revoked data-plane token stops working here at once and, through the notification, on the other
    /// replicas: no rebuild (which could fail) stands between the revocation and its effect.
    pub async fn revoke_token(&self, hash: &str) {
        self.forget_credential(hash);
        self.notify(&format!("revoke:{hash}")).await;
    }

    /// A namespace whose secret was rotated, or which was deleted: its old secret stops working here at once
    /// and, through the notification, on the other replicas.
    pub async fn revoke_namespace_secret(&self, secret_hash: &str) {
        self.forget_credential(secret_hash);
        self.notify(&format!("revoke:{secret_hash}")).await;
    }

    fn forget_credential(&self, hash: &str) {
        self.current.rcu(|snapshot| {
            let mut next = Snapshot::clone(snapshot);
            next.tokens.remove(hash);
            next.revoked.insert(hash.to_string());
            next
        });
    }

    /// Applies another replica's notification.
    pub async fn apply_notification(&self, payload: &str) {
        let Some((instance, what)) = payload.split_once('|') else {
            return;
        };
        if instance == self.instance_id {
            return;
        }
        let result = match what.split_once(':') {
            Some(("ws", workspace_id)) => {
                self.rebuild(workspace_id).await.map_err(|e| e.to_string())
            }
            Some(("revoke", hash)) => {
                self.forget_credential(hash);
                Ok(())
            }
            _ if what == "ns" => self.reload_namespaces().await.map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not apply a config change from another replica");
        }
    }

    /// One retry of everything whose last build failed; whether anything still fails.
    async fn retry_failed(&self) -> bool {
        let failed: Vec<String> = self
            .failed
            .lock()
            .expect("failed")
            .iter()
            .cloned()
            .collect();
        for workspace_id in failed {
            match self.rebuild(&workspace_id).await {
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
            if let Err(error) = self.reload_namespaces().await {
                tracing::warn!(%error, "namespaces still cannot be loaded; will retry");
            }
        }
        !self.failed.lock().expect("failed").is_empty()
            || self.namespaces_failed.load(Ordering::SeqCst)
    }

    async fn notify(&self, what: &str) {
        if self.db.backend != Backend::Postgres {
            return;
        }
        let payload = format!("{}|{what}", self.instance_id);
        if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(payload)
            .execute(&self.db.pool)
            .await
        {
            // Other replicas then catch up at their next full reload; this one is already current.
            tracing::warn!(%error, "could not notify other replicas of a config change");
        }
    }

    /// Records that a data-plane token was used, at most once a minute per token, off the request path.
    pub fn record_token_use(&self, entry: &Arc<TokenEntry>) {
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
        let (db, token_id) = (self.db.clone(), entry.token_id.clone());
        tokio::spawn(async move {
            let _ = sqlx::query("UPDATE data_plane_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token_id)
                .execute(&db.pool)
                .await;
        });
    }
}

/// Splices namespace documents: checksums over every member's bytes, so off the async runtime.
async fn splice_off_the_runtime(
    snapshot: Arc<Snapshot>,
    defs: Vec<NamespaceDef>,
) -> Vec<Arc<NamespaceSnapshot>> {
    tokio::task::spawn_blocking(move || {
        defs.iter()
            .map(|def| Arc::new(snapshot.splice_namespace(def)))
            .collect()
    })
    .await
    .expect("splicing namespace documents")
}

/// The background task that retries failed builds, with a growing delay, until they succeed: a change is
/// stored before its snapshot is built, so giving up would leave data planes on the old config for good.
pub async fn retry_failed_builds(publisher: Arc<Publisher>) {
    loop {
        publisher.retry.notified().await;
        let mut delay = RETRY_FIRST;
        loop {
            tokio::time::sleep(delay).await;
            if !publisher.retry_failed().await {
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
            config: Document::spliceable(
                format!(r#"{{"workspaceId":"{workspace_id}"}}"#).into_bytes(),
            ),
            source_configs: HashMap::new(),
            tokens: Vec::new(),
            live: Default::default(),
        })
    }

    #[test]
    fn updated_after_is_null_only_for_what_was_served_well_before_the_cursor() {
        let cursor = 10_000_000;
        let mut index = Snapshot::default();
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
            serde_json::from_slice(&index.namespace_body(&ids, cursor)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "old": null,
                "late": {"workspaceId": "late"},
                "recent": {"workspaceId": "recent"},
                "edge": {"workspaceId": "edge"},
            })
        );
        let full = index.splice_namespace(&NamespaceDef {
            id: "ns".into(),
            name: "ns".into(),
            secret_hash: String::new(),
            workspace_ids: ids,
        });
        let full: serde_json::Value =
            serde_json::from_slice(&full.full.identity.body.to_vec()).unwrap();
        assert_eq!(full["old"], serde_json::json!({"workspaceId": "old"}));
        assert_eq!(full.as_object().unwrap().len(), 4);
    }
}
